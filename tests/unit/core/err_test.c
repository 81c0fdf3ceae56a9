/* SPDX-License-Identifier: MIT */
#include "gh/err.h"
#include "../../gh_test.h"

#include <stdint.h>

static void first_failure_wins(void)
{
    struct gh_err err = {0};

    CHECK_INT(gh_err_set(&err, GH_EDECODE, "bad %s", "header"), GH_EDECODE);
    CHECK_INT(gh_err_set(&err, GH_EIO, "later"), GH_EIO);
    CHECK_INT(err.code, GH_EDECODE);
    CHECK_STR(err.msg, "bad header");
    gh_err_clear(&err);
    CHECK_INT(err.code, GH_OK);
    CHECK_STR(err.msg, "");
}

static void null_err_is_allowed(void)
{
    CHECK_INT(gh_err_set(NULL, GH_EINVAL, "x"), GH_EINVAL);
    gh_err_clear(NULL);
}

static void long_message_is_truncated(void)
{
    struct gh_err err = {0};
    char big[1000];

    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    gh_err_set(&err, GH_EINVAL, "%s", big);
    CHECK_INT(strlen(err.msg), GH_ERR_MSG_CAP - 1);
}

static void names_are_stable(void)
{
    static const struct {
        int code;
        const char *name;
    } cases[] = {
        {GH_OK, "ok"},
        {GH_EINVAL, "invalid"},
        {GH_ENOMEM, "out_of_memory"},
        {GH_EIO, "io_error"},
        {GH_ETOOBIG, "too_large"},
        {GH_EDECODE, "undecodable"},
        {GH_EUNSUPPORTED, "unsupported_type"},
        {GH_EMISMATCH, "type_mismatch"},
        {GH_ERANGE, "out_of_range"},
        {GH_EBACKEND, "backend"},
        {GH_ENOTFOUND, "not_found"},
        {GH_EPROVIDER, "provider_error"},
        {GH_ETIMEOUT, "provider_timeout"},
        {GH_EUNAVAILABLE, "unavailable"},
        {GH_ECONFLICT, "conflict"},
        {GH_ELIMITED, "rate_limited"},
        {GH_EWOULDBLOCK, "would_block"},
        {-999, "unknown"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(gh_err_name(cases[i].code), cases[i].name);
}

static void checked_arithmetic(void)
{
    size_t r = 0;

    CHECK(gh_mul_ok(3, 4, &r) && r == 12);
    CHECK(gh_mul_ok(0, SIZE_MAX, &r) && r == 0);
    CHECK(!gh_mul_ok(SIZE_MAX / 2 + 1, 2, &r));
    CHECK(gh_add_ok(SIZE_MAX - 1, 1, &r) && r == SIZE_MAX);
    CHECK(!gh_add_ok(SIZE_MAX, 1, &r));
}

GH_TEST_MAIN(GH_TEST(first_failure_wins), GH_TEST(null_err_is_allowed),
             GH_TEST(long_message_is_truncated), GH_TEST(names_are_stable),
             GH_TEST(checked_arithmetic))
