/* SPDX-License-Identifier: MIT */
/* GH_FAIL_ALLOC sweep over the cache: for each N a child process fails its Nth allocation and
 * must get clean error codes and, under ASan, exit without leaks. The injector reads the
 * variable once per process, hence a child per N. The allocator is compiled in (its counter
 * is visible) so that each child also reports whether the injector fired: it must for every N
 * up to the scenario's allocation count, counted in this process, and never past it. */
#include "../../../src/core/alloc.c" /* for alloc_count and fail_at */
#include "gh/lru.h"
#include "../../gh_test.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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

enum { CHILD_CLEAN = 0, CHILD_BAD = 1, CHILD_FIRED = 3 };

/* The child's exit status: did every call behave, and did the Nth allocation happen? */
static int child(void)
{
    int bad = scenario();
    long at = atomic_load(&fail_at);

    if (bad)
        return CHILD_BAD;
    return at > 0 && atomic_load(&alloc_count) >= at ? CHILD_FIRED : CHILD_CLEAN;
}

static void every_allocation_can_fail(void)
{
    long total;

    /* The allocations of one clean run, counted here with an injector that never fires: 2 for
     * the cache, 80 puts, 2 for growth. */
    atomic_store(&fail_at, LONG_MAX);
    CHECK_INT(scenario(), 0);
    total = atomic_load(&alloc_count);
    CHECK(total >= 2 * N_KEYS + 2);
    for (long n = 1; n <= total + 10; n++) {
        char val[24];
        int status = 0;
        pid_t pid;

        fflush(stdout); /* or the child's exit prints our buffered lines again */
        pid = fork();
        if (pid == 0) {
            snprintf(val, sizeof val, "%ld", n);
            setenv("GH_FAIL_ALLOC", val, 1);
            atomic_store(&alloc_count, 0);
            atomic_store(&fail_at, -1); /* read the variable again, as a fresh process does */
            exit(child());
        }
        CHECK(pid > 0);
        if (pid <= 0)
            return;
        CHECK(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != (n <= total ? CHILD_FIRED : CHILD_CLEAN)) {
            fprintf(stderr, "GH_FAIL_ALLOC=%ld of %ld allocations: child status %d\n", n, total,
                    status);
            gh_test_failures++;
        }
    }
}

GH_TEST_MAIN(GH_TEST(every_allocation_can_fail))
