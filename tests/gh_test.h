/* SPDX-License-Identifier: MIT */
/* Minimal test harness: CHECK records a failure and goes on; GH_TEST_MAIN runs the cases and
 * exits non-zero if any check failed, printing "N passed, N failed" for the case count. */
#ifndef GH_TEST_H
#define GH_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int gh_test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            gh_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,    \
                    a_, #b, b_);                                                                   \
            gh_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                       \
            gh_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

struct gh_test_case {
    const char *name;
    void (*fn)(void);
};

static inline int gh_test_run(const struct gh_test_case *cases, size_t n)
{
    int failed_cases = 0;

    for (size_t i = 0; i < n; i++) {
        int before = gh_test_failures;

        cases[i].fn();
        if (gh_test_failures != before) {
            failed_cases++;
            fprintf(stderr, "FAIL %s\n", cases[i].name);
        } else {
            printf("ok   %s\n", cases[i].name);
        }
    }
    printf("%zu passed, %d failed\n", n - (size_t)failed_cases, failed_cases);
    return failed_cases ? 1 : 0;
}

#define GH_TEST(fn)                                                                                \
    {                                                                                              \
#fn, fn                                                                                    \
    }
#define GH_TEST_MAIN(...)                                                                          \
    int main(void)                                                                                 \
    {                                                                                              \
        static const struct gh_test_case cases_[] = {__VA_ARGS__};                                 \
        return gh_test_run(cases_, sizeof cases_ / sizeof cases_[0]);                              \
    }

#endif
