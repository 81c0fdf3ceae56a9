/* SPDX-License-Identifier: MIT */
/* The plan generator and double progression (include/gh/plan.h). Everything is chosen by
 * fixed rules over the catalogue in file order, so a plan is reproducible byte for byte; every
 * choice carries the sentence that explains it. Cardio and timed holds are left to the user. */
#include "gh/plan.h"

#include "gh/alloc.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SLOTS   8
#define WARMUP_S    300 /* a general warm-up before the first lift */
#define WORK_S      30  /* one set, without the rest after it */
#define HISTORY_CAP 3   /* sessions progression looks at */

struct slot_spec {
    const char *muscle;
    const char *pattern;
};

/* One kind of training day: main lifts in order, then accessories for the muscles the week
 * has trained least so far, while the session's time lasts. */
struct day_spec {
    const char *name;
    struct slot_spec main[4];
    size_t n_main;
    const char *accessory[6];
    size_t n_accessory;
};

static const struct day_spec full_a = {
    "Full body A",
    {{"quads", "squat"}, {"chest", "push"}, {"upper_back", "pull"}, {"hamstrings", "hinge"}},
    4,
    {"side_delts", "biceps", "triceps", "abs", "calves"},
    5};
static const struct day_spec full_b = {
    "Full body B",
    {{"glutes", "hinge"}, {"front_delts", "push"}, {"lats", "pull"}, {"quads", "squat"}},
    4,
    {"upper_chest", "rear_delts", "abs", "triceps", "biceps"},
    5};
static const struct day_spec full_c = {
    "Full body C",
    {{"quads", "squat"}, {"upper_chest", "push"}, {"lats", "pull"}, {"hamstrings", "hinge"}},
    4,
    {"side_delts", "upper_back", "obliques", "calves", "biceps"},
    5};
static const struct day_spec upper_a = {
    "Upper A",
    {{"chest", "push"}, {"upper_back", "pull"}, {"front_delts", "push"}, {"lats", "pull"}},
    4,
    {"side_delts", "triceps", "biceps", "rear_delts", "abs"},
    5};
static const struct day_spec upper_b = {
    "Upper B",
    {{"upper_chest", "push"}, {"lats", "pull"}, {"front_delts", "push"}, {"upper_back", "pull"}},
    4,
    {"triceps", "biceps", "side_delts", "rear_delts", "chest"},
    5};
static const struct day_spec lower_a = {
    "Lower A",
    {{"quads", "squat"}, {"hamstrings", "hinge"}, {"glutes", "hinge"}},
    3,
    {"calves", "abs", "quads", "hamstrings", "obliques"},
    5};
static const struct day_spec lower_b = {
    "Lower B",
    {{"glutes", "hinge"}, {"quads", "squat"}, {"hamstrings", "hinge"}},
    3,
    {"quads", "calves", "abs", "adductors", "obliques"},
    5};
static const struct day_spec push_a = {
    "Push",
    {{"chest", "push"}, {"front_delts", "push"}, {"upper_chest", "push"}},
    3,
    {"side_delts", "triceps", "chest", "abs"},
    4};
static const struct day_spec pull_a = {"Pull",
                                       {{"lats", "pull"}, {"upper_back", "pull"}},
                                       2,
                                       {"biceps", "rear_delts", "traps", "lats", "forearms"},
                                       5};
static const struct day_spec legs_a = {
    "Legs",
    {{"quads", "squat"}, {"hamstrings", "hinge"}, {"glutes", "hinge"}},
    3,
    {"calves", "abs", "quads", "adductors", "obliques"},
    5};

/* Splits by days per week, index days_per_week - GH_PLAN_DAYS_MIN. */
static const struct {
    const char *split;
    const char *reason;
    const struct day_spec *days[GH_PLAN_DAYS_MAX];
} splits[] = {
    {"full_body",
     "2 days a week: full body both days, so every muscle is trained twice a week",
     {&full_a, &full_b}},
    {"full_body",
     "3 days a week: full body each day (A, B, C), so every muscle is trained two to three times",
     {&full_a, &full_b, &full_c}},
    {"upper_lower",
     "4 days a week: upper/lower twice, each half of the body trained twice with time to recover",
     {&upper_a, &lower_a, &upper_b, &lower_b}},
    {"push_pull_legs",
     "5 days a week: push, pull, legs, then upper and lower, so everything comes twice in 5 days",
     {&push_a, &pull_a, &legs_a, &upper_a, &lower_a}},
    {"push_pull_legs",
     "6 days a week: push, pull, legs twice, with other exercises in the second half of the week",
     {&push_a, &pull_a, &legs_a, &push_a, &pull_a, &legs_a}},
};

/* Sets, reps and rest by goal: main lifts first, then accessories. */
struct dose {
    int sets, lo, hi, rest_s;
};

static const struct {
    const char *name;
    struct dose main, accessory;
    const char *reason;
} goals[] = {
    [GH_PLAN_GOAL_STRENGTH] = {"strength",
                               {5, 3, 5, 180},
                               {3, 6, 10, 120},
                               "Strength: main lifts heavy for 3-5 reps with 3 min rest, "
                               "accessories 6-10 reps"},
    [GH_PLAN_GOAL_MUSCLE] = {"muscle",
                             {4, 6, 10, 90},
                             {3, 10, 15, 60},
                             "Muscle: main lifts for 6-10 reps, accessories 10-15, short rests "
                             "and enough weekly sets per muscle"},
    [GH_PLAN_GOAL_GENERAL] = {"general",
                              {3, 8, 12, 90},
                              {2, 12, 15, 60},
                              "General fitness: moderate 8-12 rep sets that fit a short session"},
};

static const struct {
    const char *name;
    const char *reason;
} experiences[] = {
    [GH_PLAN_EXPERIENCE_BEGINNER] = {"beginner",
                                     "Beginner: one set fewer on main lifts, machines and "
                                     "dumbbells first, no Olympic or gymnastic skills"},
    [GH_PLAN_EXPERIENCE_INTERMEDIATE] = {"intermediate",
                                         "Intermediate: the standard doses, no Olympic or "
                                         "gymnastic skills"},
    [GH_PLAN_EXPERIENCE_ADVANCED] = {"advanced",
                                     "Advanced: one more set on accessories; skill lifts allowed"},
};

/* Equipment that supports a lift but loads nothing: alone it does not make one possible. */
static const char *const support[] = {"weight-bench",  "squat-rack",  "bench-press-station",
                                      "decline-bench", "plyo-box",    "aerobic-step",
                                      "exercise-mat",  "foam-roller", "landmine"};

/* Lifts that need coaching to learn safely; only advanced plans use them. The catalogue has
 * no difficulty field, so the list lives here. */
static const char *const skills[] = {"power-clean",       "clean-and-jerk", "snatch",
                                     "overhead-squat",    "muscle-up",      "pistol-squat",
                                     "handstand-push-up", "turkish-get-up", "push-press"};

static int in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

#define IN(arr, s) in_list(arr, sizeof arr / sizeof arr[0], s)

static int strv_has(const struct gh_strv *v, const char *s)
{
    return in_list(v->v, v->n, s);
}

int gh_plan_goal_parse(const char *s, enum gh_plan_goal *out)
{
    for (size_t i = 0; s && i < sizeof goals / sizeof goals[0]; i++)
        if (strcmp(s, goals[i].name) == 0) {
            *out = (enum gh_plan_goal)i;
            return GH_OK;
        }
    return GH_EINVAL;
}

const char *gh_plan_goal_name(enum gh_plan_goal g)
{
    return (size_t)g < sizeof goals / sizeof goals[0] ? goals[g].name : NULL;
}

int gh_plan_experience_parse(const char *s, enum gh_plan_experience *out)
{
    for (size_t i = 0; s && i < sizeof experiences / sizeof experiences[0]; i++)
        if (strcmp(s, experiences[i].name) == 0) {
            *out = (enum gh_plan_experience)i;
            return GH_OK;
        }
    return GH_EINVAL;
}

const char *gh_plan_experience_name(enum gh_plan_experience e)
{
    return (size_t)e < sizeof experiences / sizeof experiences[0] ? experiences[e].name : NULL;
}

/* Whether the gym has equipment k of x, counting support (want_support 1) or the rest. */
static int has_kind(const struct gh_exercise *x, const char *const *eq, size_t n_eq,
                    int want_support)
{
    for (size_t k = 0; k < x->equipment.n; k++)
        if (IN(support, x->equipment.v[k]) == want_support && in_list(eq, n_eq, x->equipment.v[k]))
            return 1;
    return 0;
}

int gh_plan_exercise_possible(const struct gh_catalogue *cat, const struct gh_exercise *x,
                              const char *const *equipment, size_t n_equipment)
{
    int any_load = 0;

    (void)cat;
    if (x->equipment.n == 0)
        return 1;
    for (size_t k = 0; k < x->equipment.n; k++)
        if (!IN(support, x->equipment.v[k]))
            any_load = 1;
    return has_kind(x, equipment, n_equipment, !any_load);
}

/* The equipment x is done with at this gym: its first non-support item the gym has, else its
 * first support item the gym has, else NULL (bodyweight). */
static const char *used_equipment(const struct gh_exercise *x, const char *const *eq, size_t n)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < x->equipment.n; k++)
            if (IN(support, x->equipment.v[k]) == pass && in_list(eq, n, x->equipment.v[k]))
                return x->equipment.v[k];
    return NULL;
}

/* The generator's working state for one plan. */
struct gen {
    const struct gh_catalogue *cat;
    const struct gh_plan_input *in;
    size_t n_ex;
    int *week_uses;  /* per exercise index: slots this week so far */
    int *day_used;   /* per exercise index: 1 when already on today's list */
    int weekly[32];  /* working sets per muscle vocabulary index */
    json_t *reasons; /* plan-level notes */
};

static int muscle_index(const char *m)
{
    const char *w;

    for (int i = 0; (w = gh_exercise_vocab("muscle", (size_t)i)) != NULL && i < 32; i++)
        if (strcmp(w, m) == 0)
            return i;
    return -1;
}

static void muscle_words(const char *m, char *out, size_t cap)
{
    size_t i = 0;

    for (; m[i] && i + 1 < cap; i++)
        out[i] = m[i] == '_' ? ' ' : m[i];
    out[i] = '\0';
}

static int is_machine(const struct gh_catalogue *cat, const char *slug)
{
    const struct gh_equipment *q = slug ? gh_catalogue_find(cat, slug) : NULL;

    return q &&
           (strcmp(q->category, "selectorised") == 0 || strcmp(q->category, "plate_loaded") == 0 ||
            strcmp(q->category, "cable") == 0 || strcmp(q->slug, "smith-machine") == 0);
}

/* Whether x may fill a slot for muscle m (pattern p, NULL: any) today. */
static int eligible(const struct gen *g, size_t i, const char *m, const char *p)
{
    const struct gh_exercise *x = gh_catalogue_exercise_at(g->cat, i);

    if (g->day_used[i] || !strv_has(&x->primary_muscles, m))
        return 0;
    if (strcmp(x->measure, "weight_reps") != 0 && strcmp(x->measure, "reps") != 0)
        return 0;
    if (p && strcmp(x->pattern, p) != 0)
        return 0;
    if (IN(skills, x->slug) && g->in->experience != GH_PLAN_EXPERIENCE_ADVANCED)
        return 0;
    return gh_plan_exercise_possible(g->cat, x, g->in->equipment, g->in->n_equipment);
}

/* Higher is better; ties go to the earlier exercise in the catalogue. */
static int score(const struct gen *g, size_t i, const char *m, int main)
{
    const struct gh_exercise *x = gh_catalogue_exercise_at(g->cat, i);
    const char *eq = used_equipment(x, g->in->equipment, g->in->n_equipment);
    int extra = (int)x->primary_muscles.n - 1, second = (int)x->secondary_muscles.n, s = 0;

    s += strcmp(x->primary_muscles.v[0], m) == 0 ? 40 : 0;
    /* a main lift gains from being compound, but only so far: a thruster is no better squat
     * for having shoulders in it */
    if (g->in->experience == GH_PLAN_EXPERIENCE_BEGINNER)
        second = 0; /* beginners: the plainest compound, not the one touching most muscles */
    s += main ? 8 * (extra > 1 ? 1 : extra) + 2 * (second > 3 ? 3 : second) : -6 * extra;
    if (strcmp(x->measure, "weight_reps") == 0)
        s += g->in->goal == GH_PLAN_GOAL_GENERAL ? 4 : 10;
    if (main && eq && strcmp(eq, "barbell") == 0)
        s += g->in->goal == GH_PLAN_GOAL_STRENGTH ? 15 : g->in->goal == GH_PLAN_GOAL_MUSCLE ? 4 : 0;
    if (g->in->experience == GH_PLAN_EXPERIENCE_BEGINNER && eq &&
        (is_machine(g->cat, eq) || strcmp(eq, "dumbbell") == 0))
        s += 12;
    s -= 25 * g->week_uses[i];
    return s;
}

/* The best exercise for a slot, or -1. */
static long pick(const struct gen *g, const char *m, const char *p, int main)
{
    long best = -1;
    int best_score = 0;

    for (size_t i = 0; i < g->n_ex; i++) {
        int s;

        if (!eligible(g, i, m, p))
            continue;
        s = score(g, i, m, main);
        if (best < 0 || s > best_score)
            best = (long)i, best_score = s;
    }
    return best;
}

/* The sentence for a choice: the slot, then the deciding property of the exercise. */
static void choice_reason(const struct gen *g, size_t i, const char *m, int main, char *out,
                          size_t cap)
{
    const struct gh_exercise *x = gh_catalogue_exercise_at(g->cat, i);
    const char *eq = used_equipment(x, g->in->equipment, g->in->n_equipment);
    char mw[40], why[120];

    muscle_words(m, mw, sizeof mw);
    if (g->week_uses[i] > 0)
        snprintf(why, sizeof why,
                 "repeated from earlier in the week, nothing else here trains "
                 "%s as well",
                 mw);
    else if (main && eq && strcmp(eq, "barbell") == 0 && g->in->goal == GH_PLAN_GOAL_STRENGTH)
        snprintf(why, sizeof why, "a barbell lift, the heaviest loading this gym allows");
    else if (g->in->experience == GH_PLAN_EXPERIENCE_BEGINNER && is_machine(g->cat, eq))
        snprintf(why, sizeof why, "a machine with a fixed path, easy to learn and safe to push");
    else if (main && x->primary_muscles.n + x->secondary_muscles.n >= 3)
        snprintf(why, sizeof why, "a compound lift that also trains %zu other muscles",
                 x->primary_muscles.n + x->secondary_muscles.n - 1);
    else if (!eq)
        snprintf(why, sizeof why, "bodyweight, needs no equipment");
    else if (x->primary_muscles.n == 1)
        snprintf(why, sizeof why, "isolates the %s", mw);
    else
        snprintf(why, sizeof why, "trains the %s directly", mw);
    snprintf(out, cap, "%s for %s (%s): %s", main ? "Main lift" : "Accessory", mw, x->pattern, why);
}

/* The alternative for a slot: same muscle and pattern as the choice, on other equipment if
 * the gym has any, else another exercise on the same; -1 when there is none. */
static long alternative(const struct gen *g, size_t chosen, const char *m, int main, int *other_eq)
{
    const struct gh_exercise *x = gh_catalogue_exercise_at(g->cat, chosen);
    const char *eq = used_equipment(x, g->in->equipment, g->in->n_equipment);
    long best = -1;
    int best_score = 0;

    for (size_t i = 0; i < g->n_ex; i++) {
        const struct gh_exercise *y = gh_catalogue_exercise_at(g->cat, i);
        const char *yeq;
        int s, differs;

        if (i == chosen || !eligible(g, i, m, x->pattern))
            continue;
        yeq = used_equipment(y, g->in->equipment, g->in->n_equipment);
        differs = (eq == NULL) != (yeq == NULL) || (eq && strcmp(eq, yeq) != 0);
        s = score(g, i, m, main) + (differs ? 1000 : 0);
        if (best < 0 || s > best_score)
            best = (long)i, best_score = s, *other_eq = differs;
    }
    return best;
}

static int put(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v) == 0 ? 0 : -1;
}

static int add_alternative(const struct gen *g, json_t *slot, size_t chosen, const char *m,
                           int main)
{
    const struct gh_exercise *x = gh_catalogue_exercise_at(g->cat, chosen);
    int other_eq = 0, bad = 0;
    long alt = alternative(g, chosen, m, main, &other_eq);
    char mw[40], why[GH_PLAN_REASON_CAP];

    muscle_words(m, mw, sizeof mw);
    if (alt < 0) {
        snprintf(why, sizeof why, "Nothing else at this gym trains the %s with a %s movement", mw,
                 x->pattern);
        bad |= put(slot, "alternative", json_null());
    } else {
        const struct gh_exercise *y = gh_catalogue_exercise_at(g->cat, (size_t)alt);
        const char *yeq = used_equipment(y, g->in->equipment, g->in->n_equipment);
        const struct gh_equipment *q = yeq ? gh_catalogue_find(g->cat, yeq) : NULL;

        if (other_eq)
            snprintf(why, sizeof why, "If it is busy: %s also trains the %s (%s) with %s", y->name,
                     mw, y->pattern, q ? q->name : "no equipment");
        else
            snprintf(why, sizeof why, "If it is busy: %s trains the %s on the same equipment",
                     y->name, mw);
        bad |= put(slot, "alternative", json_string(y->slug));
    }
    bad |= put(slot, "alternative_reason", json_string(why));
    return bad;
}

/* The dose for x in a slot, adjusted for experience and bodyweight. */
static struct dose slot_dose(const struct gen *g, const struct gh_exercise *x, int main)
{
    struct dose d = main ? goals[g->in->goal].main : goals[g->in->goal].accessory;

    if (main && g->in->experience == GH_PLAN_EXPERIENCE_BEGINNER && d.sets > 2)
        d.sets--;
    if (!main && g->in->experience == GH_PLAN_EXPERIENCE_ADVANCED)
        d.sets++;
    if (strcmp(x->measure, "reps") == 0) { /* bodyweight: too light for very low reps */
        d.lo = d.lo < 5 ? 5 : d.lo;
        d.hi = d.hi < 12 ? 12 : d.hi;
    }
    return d;
}

static int slot_seconds(struct dose d, int main)
{
    return d.sets * (d.rest_s + WORK_S) + (main ? 180 : 60); /* main: ramp-up sets */
}

/* Adds exercise i as a slot of day; updates the week's counts. */
static int add_slot(struct gen *g, json_t *slots, size_t i, const char *m, int main, struct dose d)
{
    const struct gh_exercise *x = gh_catalogue_exercise_at(g->cat, i);
    json_t *slot = json_object();
    char why[GH_PLAN_REASON_CAP];
    int bad = slot ? 0 : -1;

    if (bad)
        return -1;
    choice_reason(g, i, m, main, why, sizeof why);
    bad |= put(slot, "exercise", json_string(x->slug));
    bad |= put(slot, "name", json_string(x->name));
    bad |= put(slot, "measure", json_string(x->measure));
    bad |= add_alternative(g, slot, i, m, main);
    bad |= put(slot, "sets", json_integer(d.sets));
    bad |= put(slot, "reps", json_pack("[ii]", d.lo, d.hi));
    bad |= put(slot, "rest_s", json_integer(d.rest_s));
    bad |= put(slot, "reason", json_string(why));
    bad |= json_array_append_new(slots, slot) == 0 ? 0 : -1;
    g->day_used[i] = 1;
    g->week_uses[i]++;
    for (size_t k = 0; k < x->primary_muscles.n; k++) {
        int mi = muscle_index(x->primary_muscles.v[k]);

        if (mi >= 0)
            g->weekly[mi] += d.sets;
    }
    return bad;
}

/* Adds line to the plan's reasons unless it is there already. */
static int note(struct gen *g, const char *line)
{
    for (size_t i = 0; i < json_array_size(g->reasons); i++)
        if (strcmp(json_string_value(json_array_get(g->reasons, i)), line) == 0)
            return 0; /* said once is enough */
    return json_array_append_new(g->reasons, json_string(line)) == 0 ? 0 : -1;
}

/* Fills one day's main slots while time lasts (at least two), then accessories for the least
 * trained muscles of its pool. */
static int build_day(struct gen *g, const struct day_spec *spec, json_t *slots, int *seconds)
{
    int budget = g->in->session_minutes * 60 - WARMUP_S, used = 0, bad = 0;
    int taken[6] = {0};
    char mw[40], line[GH_PLAN_REASON_CAP];

    memset(g->day_used, 0, g->n_ex * sizeof *g->day_used);
    for (size_t s = 0; s < spec->n_main; s++) {
        long i = pick(g, spec->main[s].muscle, spec->main[s].pattern, 1);
        struct dose d;

        if (i < 0) {
            muscle_words(spec->main[s].muscle, mw, sizeof mw);
            snprintf(line, sizeof line,
                     "No %s exercise for the %s at this gym: that main slot is left out",
                     spec->main[s].pattern, mw);
            bad |= note(g, line);
            continue;
        }
        d = slot_dose(g, gh_catalogue_exercise_at(g->cat, (size_t)i), 1);
        if (json_array_size(slots) >= 2 && used + slot_seconds(d, 1) > budget)
            break;
        used += slot_seconds(d, 1);
        bad |= add_slot(g, slots, (size_t)i, spec->main[s].muscle, 1, d);
    }
    while (json_array_size(slots) < MAX_SLOTS) {
        long best_a = -1, i = -1;

        for (size_t a = 0; a < spec->n_accessory; a++) {
            int mi = muscle_index(spec->accessory[a]);

            if (taken[a] || mi < 0)
                continue;
            if (best_a < 0 || g->weekly[mi] < g->weekly[muscle_index(spec->accessory[best_a])])
                best_a = (long)a;
        }
        if (best_a < 0)
            break;
        taken[best_a] = 1;
        i = pick(g, spec->accessory[best_a], NULL, 0);
        if (i < 0) {
            muscle_words(spec->accessory[best_a], mw, sizeof mw);
            snprintf(line, sizeof line,
                     "No exercise for the %s at this gym: its accessory slot is left out", mw);
            bad |= note(g, line);
            continue;
        }
        struct dose d = slot_dose(g, gh_catalogue_exercise_at(g->cat, (size_t)i), 0);

        if (used + slot_seconds(d, 0) > budget)
            break;
        used += slot_seconds(d, 0);
        bad |= add_slot(g, slots, (size_t)i, spec->accessory[best_a], 0, d);
    }
    *seconds = used + WARMUP_S;
    return bad;
}

static int check_input(const struct gh_plan_input *in, struct gh_err *err)
{
    if (!gh_plan_goal_name(in->goal))
        return gh_err_set(err, GH_EINVAL, "goal must be strength, muscle or general");
    if (!gh_plan_experience_name(in->experience))
        return gh_err_set(err, GH_EINVAL, "experience must be beginner, intermediate or advanced");
    if (in->days_per_week < GH_PLAN_DAYS_MIN || in->days_per_week > GH_PLAN_DAYS_MAX)
        return gh_err_set(err, GH_EINVAL, "days_per_week must be %d to %d, not %d",
                          GH_PLAN_DAYS_MIN, GH_PLAN_DAYS_MAX, in->days_per_week);
    if (in->session_minutes < GH_PLAN_MINUTES_MIN || in->session_minutes > GH_PLAN_MINUTES_MAX)
        return gh_err_set(err, GH_EINVAL, "session_minutes must be %d to %d, not %d",
                          GH_PLAN_MINUTES_MIN, GH_PLAN_MINUTES_MAX, in->session_minutes);
    return GH_OK;
}

static int plan_header(struct gen *g, json_t *plan, const char *split, const char *split_reason)
{
    const struct gh_plan_input *in = g->in;
    char line[GH_PLAN_REASON_CAP];
    int bad = 0;

    bad |= put(plan, "goal", json_string(goals[in->goal].name));
    bad |= put(plan, "days_per_week", json_integer(in->days_per_week));
    bad |= put(plan, "session_minutes", json_integer(in->session_minutes));
    bad |= put(plan, "experience", json_string(experiences[in->experience].name));
    bad |= put(plan, "split", json_string(split));
    bad |= json_array_append_new(g->reasons, json_string(split_reason));
    bad |= json_array_append_new(g->reasons, json_string(goals[in->goal].reason));
    bad |= json_array_append_new(g->reasons, json_string(experiences[in->experience].reason));
    snprintf(line, sizeof line,
             "%d min sessions: a 5 min warm-up, main lifts first, then accessories for the "
             "muscles the week has trained least, while the time lasts",
             in->session_minutes);
    bad |= json_array_append_new(g->reasons, json_string(line));
    bad |= json_array_append_new(
        g->reasons, json_string("Progression: double progression; when every set reaches the top "
                                "of the range, add weight and start again at the bottom"));
    return bad;
}

static int weekly_json(const struct gen *g, json_t *plan)
{
    json_t *w = json_object();
    const char *m;
    int bad = w ? 0 : -1;

    for (size_t i = 0; w && (m = gh_exercise_vocab("muscle", i)) != NULL && i < 32; i++)
        if (g->weekly[i] > 0)
            bad |= put(w, m, json_integer(g->weekly[i]));
    return bad | put(plan, "weekly_sets", w);
}

int gh_plan_generate(const struct gh_catalogue *cat, const struct gh_plan_input *in, char **out,
                     struct gh_err *err)
{
    struct gen g = {.cat = cat, .in = in};
    json_t *plan = NULL, *days = NULL;
    size_t n_slots = 0;
    int rc, bad = 0;

    *out = NULL;
    if ((rc = check_input(in, err)) != GH_OK)
        return rc;
    g.n_ex = gh_catalogue_n_exercises(cat);
    g.week_uses = gh_malloc_array(g.n_ex + 1, sizeof *g.week_uses);
    g.day_used = gh_malloc_array(g.n_ex + 1, sizeof *g.day_used);
    plan = json_object();
    days = json_array();
    g.reasons = json_array();
    if (!g.week_uses || !g.day_used || !plan || !days || !g.reasons) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory building a plan");
        goto out;
    }
    memset(g.week_uses, 0, g.n_ex * sizeof *g.week_uses);
    size_t si = (size_t)(in->days_per_week - GH_PLAN_DAYS_MIN);

    bad |= plan_header(&g, plan, splits[si].split, splits[si].reason);
    for (int d = 0; d < in->days_per_week; d++) {
        const struct day_spec *spec = splits[si].days[d];
        json_t *day = json_object(), *slots = json_array();
        char name[48];
        int seconds = 0;

        if (!day || !slots) {
            json_decref(day);
            json_decref(slots);
            bad = -1;
            break;
        }
        /* the second half of a 6-day week repeats the kinds of day: tell them apart */
        snprintf(name, sizeof name, "%s%s", spec->name,
                 in->days_per_week == 6 ? (d < 3 ? " A" : " B") : "");
        bad |= build_day(&g, spec, slots, &seconds);
        n_slots += json_array_size(slots);
        bad |= put(day, "n", json_integer(d + 1));
        bad |= put(day, "name", json_string(name));
        bad |= put(day, "minutes", json_integer((seconds + 59) / 60));
        bad |= put(day, "slots", slots);
        bad |= json_array_append_new(days, day) == 0 ? 0 : -1;
    }
    if (bad) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory building a plan");
        goto out;
    }
    if (n_slots == 0) {
        rc = gh_err_set(err, GH_EINVAL,
                        "this gym's equipment allows no strength exercise: "
                        "add the equipment it has");
        goto out;
    }
    bad |= put(plan, "reasons", json_incref(g.reasons));
    bad |= put(plan, "days", json_incref(days));
    bad |= weekly_json(&g, plan);
    *out = bad ? NULL : json_dumps(plan, JSON_COMPACT | JSON_PRESERVE_ORDER);
    rc = *out ? GH_OK : gh_err_set(err, GH_ENOMEM, "out of memory building a plan");
out:
    json_decref(g.reasons);
    json_decref(days);
    json_decref(plan);
    gh_free(g.day_used);
    gh_free(g.week_uses);
    return rc;
}

double gh_plan_increment_kg(const struct gh_exercise *x)
{
    static const char *const heavy[] = {
        "barbell",           "trap-bar",           "smith-machine",
        "leg-press-machine", "hack-squat-machine", "belt-squat-machine",
        "hip-thrust-machine"};
    const char *first = x->equipment.n ? x->equipment.v[0] : "";

    if (strcmp(first, "dumbbell") == 0 || strcmp(first, "kettlebell") == 0)
        return 2.0;
    if ((strcmp(x->pattern, "squat") == 0 || strcmp(x->pattern, "hinge") == 0) && IN(heavy, first))
        return 5.0;
    return 2.5;
}

/* The working sets of a session (no warm-ups, no empty sets) into w; returns their count. */
static size_t working(const struct gh_plan_session *s, struct gh_plan_set *w, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n_sets && n < cap; i++)
        if (!s->sets[i].warmup && s->sets[i].reps > 0)
            w[n++] = s->sets[i];
    return n;
}

static double top_weight(const struct gh_plan_set *w, size_t n)
{
    double top = -1;

    for (size_t i = 0; i < n; i++)
        top = w[i].weight_kg > top ? w[i].weight_kg : top;
    return top;
}

/* The fewest reps done at weight (any weight when weight < 0). */
static int min_reps_at(const struct gh_plan_set *w, size_t n, double weight)
{
    int least = -1;

    for (size_t i = 0; i < n; i++)
        if ((weight < 0 || fabs(w[i].weight_kg - weight) < 0.01) &&
            (least < 0 || w[i].reps < least))
            least = w[i].reps;
    return least;
}

static void reps_list(const struct gh_plan_set *w, size_t n, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && len + 8 < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%d", i ? ", " : "", w[i].reps);
}

void gh_plan_next(const char *measure, int lo, int hi, double increment_kg,
                  const struct gh_plan_session *sessions, size_t n_sessions,
                  struct gh_plan_next *out)
{
    struct gh_plan_set w[32], prev[32];
    size_t n = n_sessions ? working(&sessions[0], w, 32) : 0, n_prev = 0;
    double top = top_weight(w, n);
    char reps[64];
    int least;

    memset(out, 0, sizeof *out);
    out->reps = lo;
    if (n == 0) {
        if (strcmp(measure, "reps") == 0)
            snprintf(out->reason, sizeof out->reason, "Nothing logged yet: aim for %d reps a set",
                     lo);
        else
            snprintf(out->reason, sizeof out->reason,
                     "Nothing logged yet: pick a weight you could lift about %d times, do %d",
                     hi + 2, lo);
        return;
    }
    reps_list(w, n, reps, sizeof reps);
    if (strcmp(measure, "reps") == 0 || top <= 0) {
        least = min_reps_at(w, n, -1);
        out->reps = least >= hi ? hi : (least + 1 < lo ? lo : least + 1);
        if (least >= hi)
            snprintf(out->reason, sizeof out->reason,
                     "Every set reached %d reps (%s): add load or a harder variant", hi, reps);
        else
            snprintf(out->reason, sizeof out->reason,
                     "Add a rep: last time %s, aim for %d on every set", reps, out->reps);
        return;
    }
    out->has_weight = 1;
    least = min_reps_at(w, n, top);
    if (n_sessions > 1)
        n_prev = working(&sessions[1], prev, 32);
    if (least >= hi) {
        out->weight_kg = top + increment_kg;
        snprintf(out->reason, sizeof out->reason,
                 "Every set reached %d reps at %.4g kg (%s): add %.4g kg and start again at %d", hi,
                 top, reps, increment_kg, lo);
    } else if (least < lo && n_prev > 0 && fabs(top_weight(prev, n_prev) - top) < 0.01 &&
               min_reps_at(prev, n_prev, top) < lo) {
        double step = increment_kg > 0 ? increment_kg : 2.5;

        out->weight_kg = floor(top * 0.9 / step) * step;
        snprintf(out->reason, sizeof out->reason,
                 "Two sessions in a row under %d reps at %.4g kg: take 10%% off (%.4g kg) and "
                 "build back up",
                 lo, top, out->weight_kg);
    } else {
        out->weight_kg = top;
        out->reps = least + 1 < lo ? lo : (least + 1 > hi ? hi : least + 1);
        snprintf(out->reason, sizeof out->reason,
                 "Hold %.4g kg and add a rep: last time %s, aim for %d on every set", top, reps,
                 out->reps);
    }
}

/* Adds "next" to one slot. */
static int slot_next(const struct gh_catalogue *cat, json_t *slot,
                     const struct gh_plan_history *history, struct gh_err *err)
{
    const char *slug = json_string_value(json_object_get(slot, "exercise"));
    json_t *reps = json_object_get(slot, "reps");
    const struct gh_exercise *x = slug ? gh_catalogue_find_exercise(cat, slug) : NULL;
    struct gh_plan_session sessions[HISTORY_CAP];
    struct gh_plan_next next;
    size_t n = 0;
    int rc;

    if (!x || json_array_size(reps) != 2)
        return gh_err_set(err, GH_EINVAL, "the plan names an exercise the catalogue lacks");
    if (history && (rc = history->last(history->ctx, slug, sessions, HISTORY_CAP, &n)) != GH_OK)
        return gh_err_set(err, rc, "could not read the log for %s", slug);
    gh_plan_next(x->measure, (int)json_integer_value(json_array_get(reps, 0)),
                 (int)json_integer_value(json_array_get(reps, 1)), gh_plan_increment_kg(x),
                 sessions, n, &next);
    if (put(slot, "next",
            json_pack("{s:o,s:i,s:s}", "weight_kg",
                      next.has_weight ? json_real(next.weight_kg) : json_null(), "reps", next.reps,
                      "reason", next.reason)) != 0)
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    return GH_OK;
}

int gh_plan_add_next(const struct gh_catalogue *cat, const char *plan_json,
                     const struct gh_plan_history *history, char **out, struct gh_err *err)
{
    json_t *plan = json_loads(plan_json, 0, NULL), *day;
    size_t d;
    int rc = GH_OK;

    *out = NULL;
    if (!json_is_array(json_object_get(plan, "days"))) {
        json_decref(plan);
        return gh_err_set(err, GH_EINVAL, "not a plan");
    }
    json_array_foreach(json_object_get(plan, "days"), d, day)
    {
        json_t *slot;
        size_t s;

        json_array_foreach(json_object_get(day, "slots"), s, slot)
        {
            if (rc == GH_OK)
                rc = slot_next(cat, slot, history, err);
        }
    }
    if (rc == GH_OK) {
        *out = json_dumps(plan, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        rc = *out ? GH_OK : gh_err_set(err, GH_ENOMEM, "out of memory");
    }
    json_decref(plan);
    return rc;
}
