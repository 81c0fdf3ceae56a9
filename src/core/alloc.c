/* SPDX-License-Identifier: MIT */
/* Heap wrappers with a failure injector for the GH_FAIL_ALLOC sweep in tests. */
#include "gh/alloc.h"
#include "gh/err.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_long alloc_count;
static atomic_long fail_at = -1; /* -1: not read yet; 0: never fail */

static long parse_fail_at(void)
{
    const char *s = getenv("GH_FAIL_ALLOC");
    char *end = NULL;
    long n;

    if (!s || !*s)
        return 0;
    n = strtol(s, &end, 10);
    return (*end == '\0' && n > 0) ? n : 0;
}

static int should_fail(void)
{
    long at = atomic_load(&fail_at);

    if (at < 0) {
        at = parse_fail_at();
        atomic_store(&fail_at, at);
    }
    if (at == 0)
        return 0;
    return atomic_fetch_add(&alloc_count, 1) + 1 == at;
}

void *gh_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *gh_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void gh_free(void *p)
{
    free(p);
}

void *gh_malloc_array(size_t a, size_t b)
{
    size_t n;

    if (!gh_mul_ok(a, b, &n))
        return NULL;
    return gh_malloc(n);
}
