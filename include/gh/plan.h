/* SPDX-License-Identifier: MIT */
/* Workout plans: a deterministic weekly plan from a goal, days per week, session length,
 * experience and the equipment of one gym, explained choice by choice, and the double
 * progression that reads the log to say next session's weight. No store, no clock: callers
 * hand in the equipment and the last sessions, so the same input gives the same bytes. */
#ifndef GH_PLAN_H
#define GH_PLAN_H

#include <stddef.h>

#include "gh/catalogue.h"
#include "gh/err.h"

enum gh_plan_goal {
    GH_PLAN_GOAL_STRENGTH,
    GH_PLAN_GOAL_MUSCLE,
    GH_PLAN_GOAL_GENERAL,
};

enum gh_plan_experience {
    GH_PLAN_EXPERIENCE_BEGINNER,
    GH_PLAN_EXPERIENCE_INTERMEDIATE,
    GH_PLAN_EXPERIENCE_ADVANCED,
};

#define GH_PLAN_DAYS_MIN    2
#define GH_PLAN_DAYS_MAX    6
#define GH_PLAN_MINUTES_MIN 20
#define GH_PLAN_MINUTES_MAX 120

struct gh_plan_input {
    enum gh_plan_goal goal;
    int days_per_week;   /* GH_PLAN_DAYS_MIN..MAX */
    int session_minutes; /* GH_PLAN_MINUTES_MIN..MAX */
    enum gh_plan_experience experience;
    const char *const *equipment; /* equipment slugs the gym has; borrowed */
    size_t n_equipment;
};

/* Words of the API ("strength", "muscle", "general"; "beginner", ...). parse: GH_EINVAL for
 * any other word (or NULL); name: NULL for a value out of range. */
int gh_plan_goal_parse(const char *s, enum gh_plan_goal *out) GH_MUST_CHECK;
const char *gh_plan_goal_name(enum gh_plan_goal g);
int gh_plan_experience_parse(const char *s, enum gh_plan_experience *out) GH_MUST_CHECK;
const char *gh_plan_experience_name(enum gh_plan_experience e);

/* Whether a gym with these equipment slugs can do exercise x: bodyweight exercises always;
 * otherwise the gym needs one of the exercise's equipment that is not mere support (a bench,
 * rack, box, step, mat or landmine), or, when the exercise names only support, one of those. */
int gh_plan_exercise_possible(const struct gh_catalogue *cat, const struct gh_exercise *x,
                              const char *const *equipment, size_t n_equipment);

/* Builds the plan as compact JSON text: {"goal","days_per_week","session_minutes",
 * "experience","split","reasons":[...],"days":[{"n","name","minutes","slots":[{"exercise",
 * "name","measure","alternative","alternative_reason","sets","reps":[lo,hi],"rest_s","reason"}]}],
 * "weekly_sets":{muscle: sets}} with no "next" (gh_plan_add_next adds it). Splits: 2-3 days
 * full body, 4 upper/lower, 5 push/pull/legs/upper/lower, 6 push/pull/legs twice. Unknown
 * equipment slugs are ignored. Errors: GH_EINVAL (out-of-range input, or a gym whose
 * equipment allows no plan, with a sentence saying so), GH_ENOMEM. *out is the caller's, to
 * release with gh_free. Thread-safe; the same input always gives the same text. */
int gh_plan_generate(const struct gh_catalogue *cat, const struct gh_plan_input *in, char **out,
                     struct gh_err *err) GH_MUST_CHECK;

/* One logged set, as progression sees it. weight_kg < 0: no weight (bodyweight). */
struct gh_plan_set {
    double weight_kg;
    int reps;
    int warmup;
};

/* One past session of an exercise: its sets in order. */
struct gh_plan_session {
    const struct gh_plan_set *sets;
    size_t n_sets;
};

#define GH_PLAN_REASON_CAP 200

/* What to do next session. has_weight 0: no weight to suggest (nothing logged yet, or a
 * bodyweight exercise). */
struct gh_plan_next {
    int has_weight;
    double weight_kg;
    int reps;
    char reason[GH_PLAN_REASON_CAP];
};

/* Double progression over rep range [lo, hi] for an exercise measured in `measure`
 * ("weight_reps" or "reps"). sessions: newest first, warm-up sets ignored. The rule: every
 * working set of the last session at hi reps or more at one weight: add increment_kg and go
 * back to lo; the last two sessions both with a set under lo at the same weight: take 10% off;
 * otherwise hold the weight and add a rep to the weakest set. Never fails. */
void gh_plan_next(const char *measure, int lo, int hi, double increment_kg,
                  const struct gh_plan_session *sessions, size_t n_sessions,
                  struct gh_plan_next *out);

/* The smallest sensible step for an exercise: 5 kg for barbell/machine squats and hinges,
 * 2 kg for dumbbells and kettlebells, 2.5 kg otherwise. */
double gh_plan_increment_kg(const struct gh_exercise *x);

/* Where progression reads the log. last: the last sessions of one exercise (newest first)
 * into out, at most cap, *n set; each session's sets point into storage the callee owns until
 * its next call. Returns GH_OK or an error code. */
struct gh_plan_history {
    int (*last)(void *ctx, const char *exercise, struct gh_plan_session *out, size_t cap,
                size_t *n);
    void *ctx;
};

/* Copies plan JSON text (as made by gh_plan_generate, possibly with "id"/"created_at" added)
 * and adds "next":{"weight_kg","reps","reason"} to every slot from history (NULL: nothing
 * logged). Errors: GH_EINVAL (text is no plan), GH_ENOMEM, or history's code. *out is the
 * caller's (gh_free). */
int gh_plan_add_next(const struct gh_catalogue *cat, const char *plan_json,
                     const struct gh_plan_history *history, char **out,
                     struct gh_err *err) GH_MUST_CHECK;

#endif
