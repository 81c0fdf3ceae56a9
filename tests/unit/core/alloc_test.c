/* SPDX-License-Identifier: MIT */
/* The failure injector: GH_FAIL_ALLOC=N fails exactly the Nth allocation. */
#include "gh/alloc.h"
#include "../../gh_test.h"

#include <stdint.h>
#include <stdlib.h>

static void nth_allocation_fails(void)
{
    void *a, *b, *c, *d;

    /* Read once, at the first allocation of the process: set before any. */
    a = gh_malloc(8);
    b = gh_malloc(8);
    c = gh_realloc(NULL, 8); /* third: fails */
    d = gh_malloc(8);
    CHECK(a != NULL);
    CHECK(b != NULL);
    CHECK(c == NULL);
    CHECK(d != NULL);
    gh_free(a);
    gh_free(b);
    gh_free(c);
    gh_free(d);
}

static void overflowing_array_fails(void)
{
    CHECK(gh_malloc_array(SIZE_MAX / 2, 4) == NULL);
    gh_free(NULL);
}

int main(void)
{
    static const struct gh_test_case cases[] = {GH_TEST(nth_allocation_fails),
                                                GH_TEST(overflowing_array_fails)};

    setenv("GH_FAIL_ALLOC", "3", 1);
    return gh_test_run(cases, sizeof cases / sizeof cases[0]);
}
