/* SPDX-License-Identifier: MIT */
/* The GH_FAIL_ALLOC sweep of the *_alloc_test.c files: for each N a child process fails its Nth
 * allocation and must get clean error codes and, under ASan, exit without leaks. The injector
 * reads the variable once per process, hence a child per N. The test compiles the allocator in
 * before this header (#include ".../src/core/alloc.c") so that alloc_count and fail_at are
 * visible: each child also reports whether the injector fired, which it must for every N up to
 * the scenario's allocation count, counted in this process, and never past it. */
#ifndef GH_ALLOC_SWEEP_H
#define GH_ALLOC_SWEEP_H

#include "gh_test.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct gh_alloc_sweep {
    /* The calls under test, run in this process once and in each child: 0 when every call
     * behaved (GH_OK or a clean GH_ENOMEM), 1 when one did not. */
    int (*scenario)(void);
    /* The fewest allocations one clean run makes: the sweep checks it covers them. */
    long min_total;
    /* 1 for an N not worth a child (allocations like their neighbours'); NULL: none skipped.
     * total is the clean run's allocation count. */
    int (*skip)(long n, long total);
};

enum { GH_SWEEP_CLEAN = 0, GH_SWEEP_BAD = 1, GH_SWEEP_FIRED = 3 };

/* The child's exit status: did every call behave, and did the Nth allocation happen? */
static int gh_alloc_sweep_child(int (*scenario)(void))
{
    int bad = scenario();
    long at = atomic_load(&fail_at);

    if (bad)
        return GH_SWEEP_BAD;
    return at > 0 && atomic_load(&alloc_count) >= at ? GH_SWEEP_FIRED : GH_SWEEP_CLEAN;
}

/* Counts one clean run's allocations with an injector that never fires, then runs a child per
 * N from 1 to that count + 10 (less the skipped); failures are CHECKs of the calling test. */
static void gh_alloc_sweep_run(const struct gh_alloc_sweep *s)
{
    long total;

    atomic_store(&fail_at, LONG_MAX);
    CHECK_INT(s->scenario(), 0);
    total = atomic_load(&alloc_count);
    CHECK(total >= s->min_total);
    for (long n = 1; n <= total + 10; n++) {
        char val[24];
        int status = 0;
        pid_t pid;

        if (s->skip && s->skip(n, total))
            continue;
        fflush(stdout); /* or the child's exit prints our buffered lines again */
        pid = fork();
        if (pid == 0) {
            snprintf(val, sizeof val, "%ld", n);
            setenv("GH_FAIL_ALLOC", val, 1);
            atomic_store(&alloc_count, 0);
            atomic_store(&fail_at, -1); /* read the variable again, as a fresh process does */
            exit(gh_alloc_sweep_child(s->scenario));
        }
        CHECK(pid > 0);
        if (pid <= 0)
            return;
        CHECK(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) ||
            WEXITSTATUS(status) != (n <= total ? GH_SWEEP_FIRED : GH_SWEEP_CLEAN)) {
            fprintf(stderr, "GH_FAIL_ALLOC=%ld of %ld allocations: child status %d\n", n, total,
                    status);
            gh_test_failures++;
        }
    }
}

#endif
