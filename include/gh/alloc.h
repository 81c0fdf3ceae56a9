/* SPDX-License-Identifier: MIT */
/* The one door to the heap, so tests can make the Nth allocation fail (GH_FAIL_ALLOC=N). */
#ifndef GH_ALLOC_H
#define GH_ALLOC_H

#include <stddef.h>

/* Like malloc/realloc/free. Return NULL on failure, or when the failure injector says so:
 * with GH_FAIL_ALLOC=N in the environment the Nth call (counting gh_malloc and gh_realloc
 * together, from 1) fails. gh_free(NULL) is a no-op. Thread-safe. */
void *gh_malloc(size_t n);
void *gh_realloc(void *p, size_t n);
void gh_free(void *p);

/* gh_malloc(a * b) that also fails when the product overflows. */
void *gh_malloc_array(size_t a, size_t b);

#endif
