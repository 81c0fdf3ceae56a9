/* SPDX-License-Identifier: MIT */
/* The plan generator: same input, same bytes; only the gym's equipment; the week's muscles
 * covered; splits, doses and time by input; double progression case by case. */
#include "gh/plan.h"
#include "../../gh_test.h"

#include "gh/alloc.h"

#include <jansson.h>

static struct gh_catalogue *cat;

static const char *const hotel[] = {"dumbbell", "weight-bench", "treadmill", "exercise-mat"};
static const char *const home[] = {"pull-up-bar", "resistance-band", "kettlebell"};
static const char *full[128];
static size_t n_full;

static json_t *generate(enum gh_plan_goal goal, int days, int minutes, enum gh_plan_experience xp,
                        const char *const *eq, size_t n_eq)
{
    struct gh_plan_input in = {goal, days, minutes, xp, eq, n_eq};
    struct gh_err err = {0};
    char *text = NULL;
    json_t *plan = NULL;

    if (gh_plan_generate(cat, &in, &text, &err) != GH_OK) {
        fprintf(stderr, "generate: %s\n", err.msg);
        return NULL;
    }
    plan = json_loads(text, 0, NULL);
    gh_free(text);
    return plan;
}

static int weekly(json_t *plan, const char *m)
{
    return (int)json_integer_value(json_object_get(json_object_get(plan, "weekly_sets"), m));
}

static void same_input_same_bytes(void)
{
    struct gh_plan_input in = {
        GH_PLAN_GOAL_MUSCLE, 4, 60, GH_PLAN_EXPERIENCE_INTERMEDIATE, full, n_full};
    char *a = NULL, *b = NULL;

    CHECK(gh_plan_generate(cat, &in, &a, NULL) == GH_OK);
    CHECK(gh_plan_generate(cat, &in, &b, NULL) == GH_OK);
    CHECK(a && b && strcmp(a, b) == 0);
    gh_free(a);
    gh_free(b);
}

/* Every slot of every plan for three gyms: possible there, once a day, explained, and its
 * alternative possible, different and for the same muscle. */
static void check_plan(json_t *plan, const char *const *eq, size_t n_eq, int days)
{
    json_t *day, *slot;
    size_t d, s;

    CHECK_INT(json_array_size(json_object_get(plan, "days")), days);
    CHECK(json_array_size(json_object_get(plan, "reasons")) >= 5);
    json_array_foreach(json_object_get(plan, "days"), d, day)
    {
        CHECK_INT(json_integer_value(json_object_get(day, "n")), (long long)d + 1);
        json_array_foreach(json_object_get(day, "slots"), s, slot)
        {
            const char *slug = json_string_value(json_object_get(slot, "exercise"));
            const char *alt = json_string_value(json_object_get(slot, "alternative"));
            const struct gh_exercise *x = gh_catalogue_find_exercise(cat, slug);
            json_t *other;
            size_t o;

            CHECK(x && gh_plan_exercise_possible(cat, x, eq, n_eq));
            CHECK(strlen(json_string_value(json_object_get(slot, "reason"))) > 20);
            CHECK(strlen(json_string_value(json_object_get(slot, "alternative_reason"))) > 20);
            CHECK(json_integer_value(json_array_get(json_object_get(slot, "reps"), 0)) <=
                  json_integer_value(json_array_get(json_object_get(slot, "reps"), 1)));
            json_array_foreach(json_object_get(day, "slots"), o, other) if (o != s)
                CHECK(strcmp(slug, json_string_value(json_object_get(other, "exercise"))) != 0);
            if (alt) {
                const struct gh_exercise *y = gh_catalogue_find_exercise(cat, alt);
                int shared = 0;

                CHECK(y && y != x && gh_plan_exercise_possible(cat, y, eq, n_eq));
                CHECK(y && strcmp(y->pattern, x->pattern) == 0);
                for (size_t k = 0; y && k < y->primary_muscles.n; k++)
                    for (size_t j = 0; j < x->primary_muscles.n; j++)
                        shared |= strcmp(y->primary_muscles.v[k], x->primary_muscles.v[j]) == 0;
                CHECK(shared);
            }
        }
    }
}

static void equipment_respected_everywhere(void)
{
    const struct {
        const char *const *eq;
        size_t n;
    } gyms[] = {{hotel, 4}, {home, 3}, {full, 0}};

    for (size_t g = 0; g < 3; g++)
        for (int goal = 0; goal < 3; goal++)
            for (int days = GH_PLAN_DAYS_MIN; days <= GH_PLAN_DAYS_MAX; days++)
                for (int xp = 0; xp < 3; xp++) {
                    size_t n = g == 2 ? n_full : gyms[g].n;
                    json_t *plan = generate((enum gh_plan_goal)goal, days, 60,
                                            (enum gh_plan_experience)xp, gyms[g].eq, n);

                    CHECK(plan != NULL);
                    if (plan)
                        check_plan(plan, gyms[g].eq, n, days);
                    json_decref(plan);
                }
}

static void possible_needs_a_load(void)
{
    static const char *const bench[] = {"weight-bench"};
    static const char *const decline[] = {"decline-bench"};
    static const char *const bar[] = {"barbell"};

    CHECK(!gh_plan_exercise_possible(cat, gh_catalogue_find_exercise(cat, "barbell-bench-press"),
                                     bench, 1));
    CHECK(gh_plan_exercise_possible(cat, gh_catalogue_find_exercise(cat, "barbell-bench-press"),
                                    bar, 1));
    CHECK(gh_plan_exercise_possible(cat, gh_catalogue_find_exercise(cat, "decline-sit-up"), decline,
                                    1));
    CHECK(gh_plan_exercise_possible(cat, gh_catalogue_find_exercise(cat, "push-up"), NULL, 0));
    CHECK(!gh_plan_exercise_possible(cat, gh_catalogue_find_exercise(cat, "lat-pulldown"), bar, 1));
}

/* The week trains every major muscle group at a full gym and at the hotel. */
static void muscles_covered(void)
{
    for (int days = GH_PLAN_DAYS_MIN; days <= GH_PLAN_DAYS_MAX; days++) {
        json_t *plan =
            generate(GH_PLAN_GOAL_MUSCLE, days, 60, GH_PLAN_EXPERIENCE_INTERMEDIATE, full, n_full);
        json_t *hplan =
            generate(GH_PLAN_GOAL_GENERAL, days, 45, GH_PLAN_EXPERIENCE_BEGINNER, hotel, 4);

        for (int k = 0; k < 2; k++) {
            json_t *p = k ? hplan : plan;

            CHECK(p != NULL);
            if (!p)
                continue;
            CHECK(weekly(p, "chest") + weekly(p, "upper_chest") > 0);
            CHECK(weekly(p, "lats") + weekly(p, "upper_back") > 0);
            CHECK(weekly(p, "quads") > 0);
            CHECK(weekly(p, "hamstrings") + weekly(p, "glutes") > 0);
            CHECK(weekly(p, "front_delts") + weekly(p, "side_delts") > 0);
        }
        /* a muscle plan gives the big muscles at least the bottom of a hypertrophy range */
        if (plan && days >= 3) {
            CHECK(weekly(plan, "quads") >= 8);
            CHECK(weekly(plan, "chest") + weekly(plan, "upper_chest") >= 8);
            CHECK(weekly(plan, "lats") + weekly(plan, "upper_back") >= 8);
        }
        json_decref(plan);
        json_decref(hplan);
    }
}

static void split_by_days(void)
{
    static const char *const want[] = {"full_body", "full_body", "upper_lower", "push_pull_legs",
                                       "push_pull_legs"};

    for (int days = GH_PLAN_DAYS_MIN; days <= GH_PLAN_DAYS_MAX; days++) {
        json_t *plan =
            generate(GH_PLAN_GOAL_STRENGTH, days, 60, GH_PLAN_EXPERIENCE_ADVANCED, full, n_full);

        CHECK(plan != NULL);
        CHECK_STR(json_string_value(json_object_get(plan, "split")), want[days - 2]);
        json_decref(plan);
    }
}

static size_t n_slots(json_t *plan)
{
    json_t *day;
    size_t d, n = 0;

    json_array_foreach(json_object_get(plan, "days"), d, day) n +=
        json_array_size(json_object_get(day, "slots"));
    return n;
}

/* Longer sessions hold at least as many slots; a day fits its time unless it has only the two
 * slots every day keeps. Strength doses are heavier than general ones. */
static void time_and_dose(void)
{
    size_t last = 0;

    for (int minutes = GH_PLAN_MINUTES_MIN; minutes <= GH_PLAN_MINUTES_MAX; minutes += 10) {
        json_t *plan = generate(GH_PLAN_GOAL_MUSCLE, 3, minutes, GH_PLAN_EXPERIENCE_INTERMEDIATE,
                                full, n_full),
               *day;
        size_t d;

        CHECK(plan != NULL);
        if (!plan)
            continue;
        CHECK(n_slots(plan) >= last);
        last = n_slots(plan);
        json_array_foreach(json_object_get(plan, "days"), d, day)
        {
            size_t n = json_array_size(json_object_get(day, "slots"));

            CHECK(n >= 2);
            CHECK(n == 2 || json_integer_value(json_object_get(day, "minutes")) <= minutes);
        }
        json_decref(plan);
    }
    json_t *s =
        generate(GH_PLAN_GOAL_STRENGTH, 3, 60, GH_PLAN_EXPERIENCE_INTERMEDIATE, full, n_full);
    json_t *first =
        json_array_get(json_object_get(json_array_get(json_object_get(s, "days"), 0), "slots"), 0);

    CHECK(json_integer_value(json_array_get(json_object_get(first, "reps"), 1)) <= 5);
    CHECK(json_integer_value(json_object_get(first, "sets")) == 5);
    json_decref(s);
}

static void bad_input_refused(void)
{
    struct gh_plan_input in = {
        GH_PLAN_GOAL_MUSCLE, 7, 60, GH_PLAN_EXPERIENCE_INTERMEDIATE, full, n_full};
    struct gh_err err = {0};
    char *text = NULL;
    enum gh_plan_goal g;
    enum gh_plan_experience x;

    CHECK_INT(gh_plan_generate(cat, &in, &text, &err), GH_EINVAL);
    CHECK(strstr(err.msg, "days_per_week") != NULL);
    in.days_per_week = 1;
    CHECK_INT(gh_plan_generate(cat, &in, &text, &err), GH_EINVAL);
    in.days_per_week = 3;
    in.session_minutes = 10;
    CHECK_INT(gh_plan_generate(cat, &in, &text, &err), GH_EINVAL);
    in.session_minutes = 60;
    in.goal = (enum gh_plan_goal)9;
    CHECK_INT(gh_plan_generate(cat, &in, &text, &err), GH_EINVAL);
    CHECK(text == NULL);
    CHECK_INT(gh_plan_goal_parse("bulk", &g), GH_EINVAL);
    CHECK_INT(gh_plan_goal_parse(NULL, &g), GH_EINVAL);
    CHECK(gh_plan_goal_parse("strength", &g) == GH_OK && g == GH_PLAN_GOAL_STRENGTH);
    CHECK_INT(gh_plan_experience_parse("pro", &x), GH_EINVAL);
    CHECK(gh_plan_experience_parse("advanced", &x) == GH_OK && x == GH_PLAN_EXPERIENCE_ADVANCED);
}

/* Double progression, case by case. */
static void progression(void)
{
    static const struct gh_plan_set top[] = {{20, 10, 1}, {60, 10, 0}, {60, 10, 0}, {60, 10, 0}};
    static const struct gh_plan_set mixed[] = {{60, 10, 0}, {60, 9, 0}, {60, 8, 0}};
    static const struct gh_plan_set low[] = {{60, 5, 0}, {60, 4, 0}};
    static const struct gh_plan_set bw[] = {{-1, 8, 0}, {-1, 6, 0}};
    static const struct gh_plan_set bw_top[] = {{-1, 12, 0}, {-1, 12, 0}};
    struct gh_plan_session s_top = {top, 4}, s_mixed = {mixed, 3}, two_low[] = {{low, 2}, {low, 2}};
    struct gh_plan_session s_bw = {bw, 2}, s_bw_top = {bw_top, 2};
    struct gh_plan_next n;

    gh_plan_next("weight_reps", 6, 10, 2.5, NULL, 0, &n);
    CHECK(!n.has_weight && n.reps == 6 && strstr(n.reason, "Nothing logged"));
    gh_plan_next("weight_reps", 6, 10, 2.5, &s_top, 1, &n);
    CHECK(n.has_weight && n.weight_kg == 62.5 && n.reps == 6);
    CHECK(strstr(n.reason, "add 2.5 kg") != NULL);
    gh_plan_next("weight_reps", 6, 10, 2.5, &s_mixed, 1, &n);
    CHECK(n.has_weight && n.weight_kg == 60 && n.reps == 9);
    CHECK(strstr(n.reason, "10, 9, 8") != NULL);
    gh_plan_next("weight_reps", 6, 10, 5, two_low, 2, &n);
    CHECK(n.has_weight && n.weight_kg == 50 && n.reps == 6); /* 54 floored to a 5 kg step */
    gh_plan_next("weight_reps", 6, 10, 5, two_low, 1, &n);   /* one bad day: hold */
    CHECK(n.has_weight && n.weight_kg == 60 && n.reps == 6);
    gh_plan_next("reps", 5, 12, 2.5, &s_bw, 1, &n);
    CHECK(!n.has_weight && n.reps == 7);
    gh_plan_next("reps", 5, 12, 2.5, &s_bw_top, 1, &n);
    CHECK(!n.has_weight && n.reps == 12 && strstr(n.reason, "harder") != NULL);
    CHECK(gh_plan_increment_kg(gh_catalogue_find_exercise(cat, "barbell-back-squat")) == 5.0);
    CHECK(gh_plan_increment_kg(gh_catalogue_find_exercise(cat, "dumbbell-curl")) == 2.0);
    CHECK(gh_plan_increment_kg(gh_catalogue_find_exercise(cat, "barbell-bench-press")) == 2.5);
}

static const struct gh_plan_set logged[] = {{40, 12, 0}, {40, 12, 0}};

static int fake_last(void *ctx, const char *exercise, struct gh_plan_session *out, size_t cap,
                     size_t *n)
{
    (*(int *)ctx)++;
    (void)exercise;
    *n = cap > 0 ? 1 : 0;
    out[0].sets = logged;
    out[0].n_sets = 2;
    return GH_OK;
}

static void next_from_history(void)
{
    struct gh_plan_input in = {GH_PLAN_GOAL_MUSCLE, 2, 45, GH_PLAN_EXPERIENCE_BEGINNER, hotel, 4};
    int calls = 0;
    struct gh_plan_history h = {fake_last, &calls};
    char *text = NULL, *with = NULL;
    json_t *plan = NULL, *slot;

    CHECK(gh_plan_generate(cat, &in, &text, NULL) == GH_OK);
    CHECK(gh_plan_add_next(cat, text, &h, &with, NULL) == GH_OK);
    plan = with ? json_loads(with, 0, NULL) : NULL;
    CHECK((size_t)calls == n_slots(plan));
    slot = json_array_get(
        json_object_get(json_array_get(json_object_get(plan, "days"), 0), "slots"), 0);
    /* 12 reps is the top of every range but 10-15: then a rep is added instead */
    CHECK(json_is_object(json_object_get(slot, "next")));
    CHECK(json_string_value(json_object_get(json_object_get(slot, "next"), "reason")) != NULL);
    gh_free(with);
    with = NULL;
    CHECK_INT(gh_plan_add_next(cat, "{\"days\":3}", NULL, &with, NULL), GH_EINVAL);
    CHECK_INT(gh_plan_add_next(cat, "not json", NULL, &with, NULL), GH_EINVAL);
    CHECK(gh_plan_add_next(cat, text, NULL, &with, NULL) == GH_OK);
    CHECK(with && strstr(with, "\"weight_kg\":null") != NULL);
    json_decref(plan);
    gh_free(with);
    gh_free(text);
}

/* The closing note's three example users, printed for the report. */
static void example_users(void)
{
    struct {
        const char *who;
        enum gh_plan_goal goal;
        int days, minutes;
        enum gh_plan_experience xp;
        const char *const *eq;
        size_t n;
    } users[] = {
        {"beginner, 3 days, general, 45 min, hotel gym", GH_PLAN_GOAL_GENERAL, 3, 45,
         GH_PLAN_EXPERIENCE_BEGINNER, hotel, 4},
        {"intermediate, 4 days, muscle, 60 min, full gym", GH_PLAN_GOAL_MUSCLE, 4, 60,
         GH_PLAN_EXPERIENCE_INTERMEDIATE, full, n_full},
        {"advanced, 6 days, strength, 75 min, full gym", GH_PLAN_GOAL_STRENGTH, 6, 75,
         GH_PLAN_EXPERIENCE_ADVANCED, full, n_full},
    };

    for (size_t u = 0; u < 3; u++) {
        json_t *plan = generate(users[u].goal, users[u].days, users[u].minutes, users[u].xp,
                                users[u].eq, users[u].n),
               *day, *slot;
        size_t d, s;

        CHECK(plan != NULL);
        printf("# %s: %s\n", users[u].who, json_string_value(json_object_get(plan, "split")));
        json_array_foreach(json_object_get(plan, "days"), d, day)
        {
            printf("#   %s:", json_string_value(json_object_get(day, "name")));
            json_array_foreach(json_object_get(day, "slots"), s, slot)
                printf(" %s", json_string_value(json_object_get(slot, "exercise")));
            printf("\n");
        }
        json_decref(plan);
    }
}

int main(void)
{
    static const struct gh_test_case cases[] = {
        {"same_input_same_bytes", same_input_same_bytes},
        {"equipment_respected_everywhere", equipment_respected_everywhere},
        {"possible_needs_a_load", possible_needs_a_load},
        {"muscles_covered", muscles_covered},
        {"split_by_days", split_by_days},
        {"time_and_dose", time_and_dose},
        {"bad_input_refused", bad_input_refused},
        {"progression", progression},
        {"next_from_history", next_from_history},
        {"example_users", example_users},
    };
    struct gh_err err = {0};
    int rc;

    if (gh_catalogue_load_embedded(&cat, &err) != GH_OK) {
        fprintf(stderr, "catalogue: %s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < gh_catalogue_count(cat) && n_full < 128; i++)
        full[n_full++] = gh_catalogue_at(cat, i)->slug;
    rc = gh_test_run(cases, sizeof cases / sizeof cases[0]);
    gh_catalogue_free(cat);
    return rc;
}
