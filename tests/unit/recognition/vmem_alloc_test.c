/* SPDX-License-Identifier: MIT */
/* GH_FAIL_ALLOC sweep over the visual memory without a store: for each N (the first adds, the
 * growth and the searches) a child process fails its Nth allocation while photos are added
 * (past one growth, which recentres the codes) and searched in two stages; every call must return
 * GH_OK or GH_ENOMEM, a failed search no hits, and under ASan the child must exit without leaks. As
 * in cache/lru_alloc_test.c, the allocator is compiled in so that each child reports whether the
 * injector fired. */
#include "../../../src/core/alloc.c" /* for alloc_count and fail_at */
#include "gh/recognition.h"
#include "../../gh_test.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIM    64
#define N_ROWS 1100 /* past the first 1024 rows: the arrays grow and the codes are recentred */
#define GROWS  1024

static long g_grow; /* allocations before the add that grows the arrays */

static void vec(float *v, int seed)
{
    double n = 0;

    for (int i = 0; i < DIM; i++) {
        v[i] = (float)sin(seed * 12.9898 + i * 78.233);
        n += (double)v[i] * v[i];
    }
    for (int i = 0; i < DIM; i++)
        v[i] = (float)(v[i] / sqrt(n));
}

/* In the child: 0 when every call behaved, 1 when one did not. */
static int scenario(void)
{
    struct gh_vmem_opts o = {"alloc-model", DIM, 0, 0, 0, 2, 50, 0};
    struct gh_vmem *vm = NULL;
    struct gh_vmem_hit hits[8];
    struct gh_vmem_stats st;
    float v[DIM];
    int bad = 0, n, rc;

    if (gh_vmem_new(NULL, &o, &vm, NULL) != GH_OK)
        return vm != NULL; /* a constructor that fails leaves NULL */
    for (int i = 0; i < N_ROWS; i++) {
        if (i == GROWS)
            g_grow = atomic_load(&alloc_count);
        vec(v, i);
        rc = gh_vmem_add(vm, "", v, "barbell", GH_VMEM_SOURCE_PROVIDER, 1, NULL);
        bad |= rc != GH_OK && rc != GH_ENOMEM;
    }
    gh_vmem_stats(vm, &st);
    for (int i = 0; i < 3; i++) {
        vec(v, 7 * i);
        n = -1;
        rc = gh_vmem_search(vm, v, 8, 1, hits, &n, NULL);
        if (rc == GH_OK)
            bad |= n != (st.entries < 8 ? (int)st.entries : 8);
        else
            bad |= rc != GH_ENOMEM || n != 0;
    }
    gh_vmem_free(vm);
    return bad;
}

enum { CHILD_CLEAN = 0, CHILD_BAD = 1, CHILD_FIRED = 3 };

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

    /* one clean run, counted with an injector that never fires: a row per add, the arrays
     * and the centre, the arrays again at GROWS rows, four per search */
    atomic_store(&fail_at, LONG_MAX);
    CHECK_INT(scenario(), 0);
    total = atomic_load(&alloc_count);
    CHECK(total >= N_ROWS + 2 * 6 + 3 * 4);
    for (long n = 1; n <= total + 10; n++) {
        char val[24];
        int status = 0;
        pid_t pid;

        /* the adds in between allocate one row each, as the first ones do: skipped, a child
         * per N costs ASan a fork of a large process */
        if ((n > 40 && n < g_grow - 5) || (n > g_grow + 20 && n < total - 40))
            continue;
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
