/* SPDX-License-Identifier: MIT */
/* Request ids never look like history numbers: an analysis's request id is the id its answer
 * is corrected by, and an all-digit one was looked up as a history number (404; one generated
 * id in about 1,850 before this). */
#include "../../../src/http/internal.h"
#include "../../gh_test.h"

#include <stdlib.h>

/* The xorshift64 step the generator takes, to find states whose next id is all digits. */
static uint64_t step(uint64_t s)
{
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

static int all_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

static void a_generated_id_is_never_all_digits(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    int found = 0;

    /* States whose next id would print as 16 decimal digits: the generator must skip them. */
    for (long tries = 0; found < 20 && tries < 10000000; tries++) {
        char plain[17], made[17];
        uint64_t state;

        seed = step(seed);
        snprintf(plain, sizeof plain, "%016llx", (unsigned long long)step(seed));
        if (!all_digits(plain))
            continue;
        found++;
        state = seed;
        gh_http_request_id_make(&state, made);
        CHECK(!all_digits(made));
        CHECK_INT(strlen(made), 16);
        CHECK(strspn(made, "0123456789abcdef") == 16);
        CHECK(state != seed);
    }
    CHECK_INT(found, 20);
}

static void ids_are_distinct_hex(void)
{
    uint64_t state = 12345;
    char a[17], b[17];

    gh_http_request_id_make(&state, a);
    gh_http_request_id_make(&state, b);
    CHECK(strcmp(a, b) != 0);
    CHECK(strspn(a, "0123456789abcdef") == 16);
}

static void a_clients_id_is_kept_only_when_plain_and_not_a_number(void)
{
    char long_id[GH_HTTP_REQUEST_ID_MAX + 2];

    CHECK(gh_http_request_id_usable("trace-0b1c:2.x_Y"));
    CHECK(gh_http_request_id_usable("1e5"));
    CHECK(!gh_http_request_id_usable(NULL));
    CHECK(!gh_http_request_id_usable(""));
    CHECK(!gh_http_request_id_usable("42")); /* history number 42 */
    CHECK(!gh_http_request_id_usable("0123456789012345"));
    CHECK(!gh_http_request_id_usable("a b"));
    CHECK(!gh_http_request_id_usable("a\"b"));
    CHECK(!gh_http_request_id_usable("a\nb"));
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    CHECK(!gh_http_request_id_usable(long_id)); /* 65 bytes */
    long_id[GH_HTTP_REQUEST_ID_MAX] = '\0';
    CHECK(gh_http_request_id_usable(long_id)); /* 64 */
}

GH_TEST_MAIN(GH_TEST(a_generated_id_is_never_all_digits), GH_TEST(ids_are_distinct_hex),
             GH_TEST(a_clients_id_is_kept_only_when_plain_and_not_a_number))
