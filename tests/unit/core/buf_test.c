/* SPDX-License-Identifier: MIT */
#include "gh/buf.h"
#include "gh/alloc.h"
#include "../../gh_test.h"

#include <string.h>

static void grows_and_takes(void)
{
    struct gh_buf b;
    char *text;
    size_t len;

    gh_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(gh_buf_printf(&b, "%03d,", i), GH_OK);
    CHECK_INT((int)b.len, 4000);
    CHECK(strncmp(b.data, "000,001,", 8) == 0);
    CHECK_INT(gh_buf_puts(&b, "end"), GH_OK);
    text = gh_buf_take(&b, &len);
    CHECK_INT((int)len, 4003);
    CHECK(strcmp(text + 3996, "999,end") == 0);
    CHECK(b.data == NULL && b.len == 0);
    gh_free(text);
    gh_buf_fini(&b);
}

/* Past the cap: GH_ETOOBIG, the buffer empty but valid, later writes fail the same way. */
static void cap_empties_and_sticks(void)
{
    struct gh_buf b;
    size_t len = 7;

    gh_buf_init(&b, 10);
    CHECK_INT(gh_buf_append(&b, "0123456789", 10), GH_OK); /* exactly the cap */
    CHECK_INT(gh_buf_append(&b, "x", 1), GH_ETOOBIG);
    CHECK(b.data == NULL && b.len == 0);
    CHECK_INT(gh_buf_puts(&b, ""), GH_ETOOBIG);
    CHECK(gh_buf_take(&b, &len) == NULL);
    CHECK_INT((int)len, 0);
    gh_buf_clear(&b); /* forgets the failure */
    CHECK_INT(gh_buf_puts(&b, "ok"), GH_OK);
    CHECK(strcmp(b.data, "ok") == 0);
    gh_buf_fini(&b);
}

static void overflowing_size_is_too_big(void)
{
    struct gh_buf b;

    gh_buf_init(&b, (size_t)-1);
    CHECK_INT(gh_buf_puts(&b, "a"), GH_OK);
    CHECK_INT(gh_buf_reserve(&b, (size_t)-1), GH_ETOOBIG);
    gh_buf_fini(&b);
}

GH_TEST_MAIN(GH_TEST(grows_and_takes), GH_TEST(cap_empties_and_sticks),
             GH_TEST(overflowing_size_is_too_big))
