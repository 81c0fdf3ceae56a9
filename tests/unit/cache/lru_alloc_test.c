/* SPDX-License-Identifier: MIT */
/* GH_FAIL_ALLOC sweep over the cache (tests/gh_alloc_sweep.h): for each N a child process fails
 * its Nth allocation while keys are put and read back, and must get clean error codes and,
 * under ASan, exit without leaks. */
#include "../../../src/core/alloc.c" /* for alloc_count and fail_at */
#include "gh/lru.h"
#include "../../gh_test.h"
#include "../../gh_alloc_sweep.h"

#define N_KEYS 40 /* enough to grow the table twice: two more allocations to fail */

/* In the child: 0 when every call behaved, 1 when one did not. */
static int scenario(void)
{
    struct gh_lru *lru = gh_lru_new(64, 1 << 20);
    char key[16];
    int bad = 0;

    if (!lru)
        return 0; /* a constructor fails with NULL, and that is clean */
    for (unsigned i = 0; i < 2 * N_KEYS; i++) {
        const struct gh_lru_value *v;
        int rc;

        snprintf(key, sizeof key, "k%u", i % N_KEYS);
        rc = gh_lru_put(lru, key, "{}", 2, "s", "openai", i, 100);
        v = gh_lru_get(lru, key, 0);
        if (rc == GH_OK)
            bad |= !v || v->phash != i;
        else
            bad |= rc != GH_ENOMEM || v != NULL; /* a failed put drops the old value */
        gh_lru_value_release(v);
    }
    gh_lru_free(lru);
    return bad;
}

/* The allocations of one clean run: 2 for the cache, 80 puts, 2 for growth. */
static const struct gh_alloc_sweep sweep = {scenario, 2 * N_KEYS + 2, NULL};

static void every_allocation_can_fail(void)
{
    gh_alloc_sweep_run(&sweep);
}

GH_TEST_MAIN(GH_TEST(every_allocation_can_fail))
