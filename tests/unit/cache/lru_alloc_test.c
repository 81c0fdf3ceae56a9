/* SPDX-License-Identifier: MIT */
/* GH_FAIL_ALLOC sweep over the cache: for each N a child process fails its Nth allocation and
 * must get clean error codes and, under ASan, exit without leaks. The injector reads the
 * variable once per process, hence a child per N (this process itself never allocates). */
#include "gh/lru.h"
#include "../../gh_test.h"

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

static void every_allocation_can_fail(void)
{
    /* 2 for the cache, 80 puts, 2 for growth: 90 covers them all and a few past. */
    for (int n = 1; n <= 2 * N_KEYS + 10; n++) {
        char val[16];
        int status = 0;
        pid_t pid;

        fflush(stdout); /* or the child's exit prints our buffered lines again */
        pid = fork();
        if (pid == 0) {
            snprintf(val, sizeof val, "%d", n);
            setenv("GH_FAIL_ALLOC", val, 1);
            exit(scenario());
        }
        CHECK(pid > 0);
        if (pid <= 0)
            return;
        CHECK(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "GH_FAIL_ALLOC=%d: child status %d\n", n, status);
            gh_test_failures++;
        }
    }
}

GH_TEST_MAIN(GH_TEST(every_allocation_can_fail))
