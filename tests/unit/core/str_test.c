/* SPDX-License-Identifier: MIT */
#include "gh/str.h"

#include <stdint.h>
#include "../../gh_test.h"

static void keeps_valid_replaces_invalid(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain ascii", "plain ascii"},
        {"caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x92\xAA", "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x92\xAA"},
        {"/x/\xff", "/x/?"},
        {"\xC3\x28", "?("},           /* bad continuation */
        {"\xC0\xAF", "??"},           /* overlong */
        {"\xED\xA0\x80", "???"},      /* surrogate */
        {"\xF4\x90\x80\x80", "????"}, /* past U+10FFFF */
        {"end\xE2\x9C", "end??"},     /* cut sequence at the end */
    };
    char out[64];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gh_utf8_sanitize(out, sizeof out, cases[i].in);
        CHECK_STR(out, cases[i].out);
    }
}

static void never_splits_a_sequence(void)
{
    char out[5];

    /* "ab" + U+2713 (3 bytes) needs 6 bytes with the NUL: the check mark is dropped whole */
    CHECK_INT(gh_utf8_sanitize(out, sizeof out, "ab\xE2\x9C\x93"), 2);
    CHECK_STR(out, "ab");
    CHECK_INT(gh_utf8_sanitize(out, 1, "abc"), 0);
    CHECK_STR(out, "");
}

/* Numbers from URLs: digits only, within range; nothing else is one. */
static void whole_numbers_are_digits_within_range(void)
{
    long long v = -1;

    CHECK(gh_str_all_digits("0123"));
    CHECK(!gh_str_all_digits(""));
    CHECK(!gh_str_all_digits(NULL));
    CHECK(!gh_str_all_digits("12a"));
    CHECK_INT(gh_str_to_whole("42", 1, 100, &v), 0);
    CHECK_INT(v, 42);
    CHECK_INT(gh_str_to_whole("007", 1, 100, &v), 0);
    CHECK_INT(v, 7);
    CHECK_INT(gh_str_to_whole("+4", 1, 100, &v), -1);
    CHECK_INT(gh_str_to_whole(" 4", 1, 100, &v), -1);
    CHECK_INT(gh_str_to_whole("0", 1, 100, &v), -1);
    CHECK_INT(gh_str_to_whole("101", 1, 100, &v), -1);
    CHECK_INT(gh_str_to_whole("99999999999999999999", 1, INT64_MAX, &v), -1);
    CHECK_INT(v, 7);
}

GH_TEST_MAIN(GH_TEST(keeps_valid_replaces_invalid), GH_TEST(never_splits_a_sequence),
             GH_TEST(whole_numbers_are_digits_within_range))
