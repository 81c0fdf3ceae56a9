/* SPDX-License-Identifier: MIT */
/* GH_FAIL_ALLOC sweep over the visual memory without a store (tests/gh_alloc_sweep.h): for each
 * N (the first adds, the growth and the searches) a child process fails its Nth allocation
 * while photos are added (past one growth, which recentres the codes) and searched in two
 * stages; every call must return GH_OK or GH_ENOMEM, a failed search no hits, and under ASan the
 * child must exit without leaks. */
#include "../../../src/core/alloc.c" /* for alloc_count and fail_at */
#include "gh/recognition.h"
#include "../../gh_test.h"
#include "../../gh_alloc_sweep.h"
#include "../../gh_test_vec.h"

#define DIM    64
#define N_ROWS 1100 /* past the first 1024 rows: the arrays grow and the codes are recentred */
#define GROWS  1024

static long g_grow; /* allocations before the add that grows the arrays */

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
        gh_test_unit_vec(v, DIM, i);
        rc = gh_vmem_add(vm, "", v, "barbell", GH_VMEM_SOURCE_PROVIDER, 1, NULL);
        bad |= rc != GH_OK && rc != GH_ENOMEM;
    }
    gh_vmem_stats(vm, &st);
    for (int i = 0; i < 3; i++) {
        gh_test_unit_vec(v, DIM, 7 * i);
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

/* The adds in between allocate one row each, as the first ones do: skipped, a child per N
 * costs ASan a fork of a large process. */
static int skip(long n, long total)
{
    return (n > 40 && n < g_grow - 5) || (n > g_grow + 20 && n < total - 40);
}

/* One clean run: a row per add, the arrays and the centre, the arrays again at GROWS rows,
 * four per search. */
static const struct gh_alloc_sweep sweep = {scenario, N_ROWS + 2 * 6 + 3 * 4, skip};

static void every_allocation_can_fail(void)
{
    gh_alloc_sweep_run(&sweep);
}

GH_TEST_MAIN(GH_TEST(every_allocation_can_fail))
