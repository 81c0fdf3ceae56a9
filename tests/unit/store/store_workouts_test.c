/* SPDX-License-Identifier: MIT */
/* The workout log's part of the store contract (gh/store_workouts.h), run against
 * sqlite::memory: and each URL in GH_STORE_TEST_URLS (PostgreSQL under tests/conftest.py): owner
 * isolation, idempotent client ids, set filters, paging, cascades and imports. Owners are unique
 * per run, so a database shared with other runs works too. */
#include "gh/store.h"
#include "gh/store_workouts.h"
#include "../../gh_test.h"

#include "gh/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T0 INT64_C(1767225600) /* 2026-01-01 */

static const char *g_url;
static char g_a[64], g_b[64]; /* two owners */

static struct gh_store *open_store(void)
{
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    int rc = gh_store_open(g_url, 2, &st, &err);

    if (rc)
        fprintf(stderr, "  open %s: %s\n", g_url, err.msg);
    CHECK_INT(rc, GH_OK);
    return st;
}

static void cid(char out[GH_CLIENT_ID_CAP], const char *tag, int i)
{
    snprintf(out, GH_CLIENT_ID_CAP, "%.9s-%.24s-%04d", g_a + 5, tag, i % 10000);
}

static struct gh_wset set_of(int64_t workout, const char *exercise, double kg, int reps, int warm,
                             int64_t at, int i)
{
    struct gh_wset s;

    memset(&s, 0, sizeof s);
    s.workout_id = workout;
    cid(s.client_id, exercise, i);
    snprintf(s.exercise, sizeof s.exercise, "%s", exercise);
    s.weight = s.weight_kg = kg;
    snprintf(s.unit, sizeof s.unit, "kg");
    s.reps = reps;
    s.duration_s = -1;
    s.distance_m = s.rpe = NAN;
    s.warmup = warm;
    s.performed_at = at;
    return s;
}

static void gyms_are_owned_and_idempotent(void)
{
    struct gh_store *st = open_store();
    struct gh_err err = {0};
    struct gh_gym g, got, *list = NULL;
    size_t n = 0;
    int created = 0;

    if (!st)
        return;
    memset(&g, 0, sizeof g);
    cid(g.client_id, "gym", 1);
    snprintf(g.name, sizeof g.name, "Home");
    snprintf(g.equipment, sizeof g.equipment, "smith-machine leg-press-machine");
    g.created_at = T0;
    CHECK_INT(gh_store_gym_add(st, g_a, &g, &created, &err), GH_OK);
    CHECK_INT(created, 1);
    CHECK_STR(g.equipment, "leg-press-machine smith-machine");
    got = g;
    snprintf(got.name, sizeof got.name, "Other name");
    CHECK_INT(gh_store_gym_add(st, g_a, &got, &created, &err), GH_OK);
    CHECK_INT(created, 0);
    CHECK_INT(got.id, g.id);
    CHECK_STR(got.name, "Home");
    CHECK_INT(gh_store_gym_equipment(st, g_a, g.id, "cable-crossover", 1, &err), GH_OK);
    CHECK_INT(gh_store_gym_equipment(st, g_a, g.id, "cable-crossover", 1, &err), GH_OK);
    CHECK_INT(gh_store_gym_equipment(st, g_a, g.id, "smith-machine", 0, &err), GH_OK);
    CHECK_INT(gh_store_gym_rename(st, g_a, g.id, "Garage", &err), GH_OK);
    CHECK_INT(gh_store_gym_get(st, g_a, g.id, &got, &err), GH_OK);
    CHECK_STR(got.equipment, "cable-crossover leg-press-machine");
    CHECK_STR(got.name, "Garage");
    CHECK_INT(gh_store_gym_list(st, g_a, &list, &n, &err), GH_OK);
    CHECK_INT(n, 1);
    gh_free(list);
    /* the other owner sees and changes nothing */
    CHECK_INT(gh_store_gym_list(st, g_b, &list, &n, &err), GH_OK);
    CHECK_INT(n, 0);
    CHECK_INT(gh_store_gym_get(st, g_b, g.id, &got, &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_gym_rename(st, g_b, g.id, "Mine", &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_gym_equipment(st, g_b, g.id, "smith-machine", 1, &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_gym_delete(st, g_b, g.id, &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_gym_delete(st, g_a, g.id, &err), GH_OK);
    CHECK_INT(gh_store_gym_get(st, g_a, g.id, &got, &err), GH_ENOTFOUND);
    gh_store_close(st);
}

static void workouts_and_sets(void)
{
    struct gh_store *st = open_store();
    struct gh_err err = {0};
    struct gh_workout w[3], page[3];
    struct gh_wset s, *v = NULL;
    struct gh_set_filter f = {0, NULL, 0, 0};
    size_t n = 0;
    int created = 0;

    if (!st)
        return;
    for (int i = 0; i < 3; i++) {
        memset(&w[i], 0, sizeof w[i]);
        cid(w[i].client_id, "wo", i);
        w[i].started_at = T0 + i * 86400;
        CHECK_INT(gh_store_workout_add(st, g_a, &w[i], &created, &err), GH_OK);
        CHECK_INT(created, 1);
    }
    CHECK_INT(gh_store_workout_add(st, g_a, &w[0], &created, &err), GH_OK);
    CHECK_INT(created, 0);
    w[0].gym_id = 999999999;
    CHECK_INT(gh_store_workout_add(st, g_b, &w[0], &created, &err), GH_ENOTFOUND);
    w[0].gym_id = 0;
    /* latest start first, paged by id */
    CHECK_INT(gh_store_workout_list(st, g_a, 0, 2, page, &n, &err), GH_OK);
    CHECK_INT(n, 2);
    CHECK_INT(page[0].id, w[2].id);
    CHECK_INT(gh_store_workout_list(st, g_a, page[1].id, 2, page, &n, &err), GH_OK);
    CHECK_INT(n, 1);
    CHECK_INT(page[0].id, w[0].id);
    /* sets: idempotent, owned, filtered */
    s = set_of(w[0].id, "barbell-bench-press", 40, 10, 1, T0 + 60, 0);
    CHECK_INT(gh_store_set_add(st, g_a, &s, &created, &err), GH_OK);
    CHECK_INT(created, 1);
    CHECK_INT(gh_store_set_add(st, g_a, &s, &created, &err), GH_OK);
    CHECK_INT(created, 0);
    s = set_of(w[0].id, "barbell-bench-press", 80, 5, 0, T0 + 120, 1);
    s.records = GH_RECORD_WEIGHT;
    CHECK_INT(gh_store_set_add(st, g_a, &s, &created, &err), GH_OK);
    s = set_of(w[1].id, "pull-up", NAN, 8, 0, T0 + 86400 + 60, 2);
    s.unit[0] = '\0';
    CHECK_INT(gh_store_set_add(st, g_a, &s, &created, &err), GH_OK);
    s = set_of(w[1].id, "pull-up", NAN, 8, 0, T0, 3);
    CHECK_INT(gh_store_set_add(st, g_b, &s, &created, &err), GH_ENOTFOUND); /* a's workout */
    CHECK_INT(gh_store_set_query(st, g_a, &f, &v, &n, &err), GH_OK);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK(isnan(v[2].weight) && v[2].reps == 8 && v[2].duration_s == -1);
        CHECK_INT(v[1].records, GH_RECORD_WEIGHT);
        CHECK_INT(v[1].workout_started_at, T0);
    }
    gh_free(v);
    f.exercise = "barbell-bench-press";
    f.working_only = 1;
    CHECK_INT(gh_store_set_query(st, g_a, &f, &v, &n, &err), GH_OK);
    CHECK_INT(n, 1);
    if (n == 1) {
        s = v[0];
        s.reps = 6;
        CHECK_INT(gh_store_set_update(st, g_a, &s, &err), GH_OK);
        CHECK_INT(gh_store_set_update(st, g_b, &s, &err), GH_ENOTFOUND);
        CHECK_INT(gh_store_set_delete(st, g_b, s.workout_id, s.id, &err), GH_ENOTFOUND);
    }
    gh_free(v);
    CHECK_INT(gh_store_workout_get(st, g_a, w[0].id, &page[0], &err), GH_OK);
    CHECK_INT(page[0].set_count, 2);
    CHECK_INT(gh_store_workout_get(st, g_b, w[0].id, &page[0], &err), GH_ENOTFOUND);
    w[0].ended_at = T0 + 3600;
    snprintf(w[0].notes, sizeof w[0].notes, "done");
    CHECK_INT(gh_store_workout_update(st, g_a, &w[0], &err), GH_OK);
    CHECK_INT(gh_store_workout_update(st, g_b, &w[0], &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_workout_delete(st, g_b, w[0].id, &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_workout_delete(st, g_a, w[0].id, &err), GH_OK); /* its sets go too */
    f.exercise = NULL;
    f.working_only = 0;
    CHECK_INT(gh_store_set_query(st, g_a, &f, &v, &n, &err), GH_OK);
    CHECK_INT(n, 1);
    gh_free(v);
    gh_store_close(st);
}

static void imports_add_nothing_twice(void)
{
    struct gh_store *st = open_store();
    struct gh_err err = {0};
    struct gh_workout ws[2];
    struct gh_wset sets[250];
    int64_t imported = 0, dups = 0;

    if (!st)
        return;
    for (int i = 0; i < 2; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        cid(ws[i].client_id, "imp", i);
        ws[i].started_at = T0 + 10 * 86400 + i * 86400;
    }
    for (int i = 0; i < 250; i++) { /* more than one insert batch */
        sets[i] = set_of(i % 2, "barbell-back-squat", 100 + i % 7, 5, 0, T0 + 10 * 86400, 100 + i);
        if (i == 3)
            sets[i].weight = sets[i].weight_kg = NAN;
    }
    CHECK_INT(gh_store_workouts_import(st, g_b, ws, 2, sets, 250, &imported, &dups, &err), GH_OK);
    CHECK_INT(imported, 250);
    CHECK_INT(dups, 0);
    for (int i = 0; i < 250; i++)
        sets[i].workout_id = i % 2;
    CHECK_INT(gh_store_workouts_import(st, g_b, ws, 2, sets, 250, &imported, &dups, &err), GH_OK);
    CHECK_INT(imported, 0);
    CHECK_INT(dups, 250);
    /* the same file for another owner is theirs */
    for (int i = 0; i < 250; i++)
        sets[i].workout_id = i % 2;
    CHECK_INT(gh_store_workouts_import(st, g_a, ws, 2, sets, 250, &imported, &dups, &err), GH_OK);
    CHECK_INT(imported, 250);
    gh_store_close(st);
}

static const struct gh_test_case cases[] = {
    GH_TEST(gyms_are_owned_and_idempotent),
    GH_TEST(workouts_and_sets),
    GH_TEST(imports_add_nothing_twice),
};

static int run_on(const char *url)
{
    unsigned nonce = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16) ^ (unsigned)strlen(url);

    printf("# %s\n", strncmp(url, "postgres", 8) == 0 ? "postgresql" : url);
    g_url = url;
    snprintf(g_a, sizeof g_a, "user:a%08x", nonce);
    snprintf(g_b, sizeof g_b, "user:b%08x", nonce);
    return gh_test_run(cases, sizeof cases / sizeof cases[0]);
}

int main(void)
{
    const char *env = getenv("GH_STORE_TEST_URLS");
    char *urls = env ? strdup(env) : NULL, *save = NULL;
    int rc;

    rc = run_on("sqlite::memory:");
    for (char *u = urls ? strtok_r(urls, " ", &save) : NULL; u; u = strtok_r(NULL, " ", &save))
        rc |= run_on(u);
    free(urls);
    return rc;
}
