/* SPDX-License-Identifier: MIT */
/* The workout log's rules (issue 12): what a set must hold for its exercise's measure, Epley's
 * estimated one-rep max, the personal records a new set sets, progress per exercise and sets
 * per muscle per week, and the CSV of the whole log: our export, and imports of Strong's
 * (semicolon layout with a unit column, and comma layout) and Hevy's exports. Storage is
 * gh/store_workouts.h; documents are jansson values. Thread-safe: no state of its own.
 *
 * For plans (h12-plans): gh_workouts_start creates a session (idempotent by client_id) and
 * gh_workouts_workout_json / gh_workouts_set_json write the agreed API objects. */
#ifndef GH_WORKOUTS_H
#define GH_WORKOUTS_H

#include <stddef.h>
#include <stdint.h>

#include "gh/catalogue.h"
#include "gh/err.h"
#include "gh/store_workouts.h"

struct json_t;

#define GH_LB_KG 0.45359237 /* one pound in kilograms (exact, by definition) */

/* Weekly hard sets per muscle that the muscles view aims for: ten at least (Schoenfeld, Ogborn
 * & Krieger 2017, meta-analysis: 10+ weekly sets grew muscle more than fewer), twenty at most
 * (past that, added sets bring little and cost recovery). */
#define GH_WEEKLY_SETS_MIN 10
#define GH_WEEKLY_SETS_MAX 20

/* 1 when id is 8..64 bytes of [A-Za-z0-9_-]. */
int gh_workouts_client_id_ok(const char *id);

/* Epley: w * (1 + reps / 30); w itself for one rep, 0 without weight or reps. */
double gh_workouts_epley(double weight_kg, int reps);

/* Checks s against its exercise's measure and ranges, fills s->weight_kg from weight and unit
 * (unit "" with a weight is kg) and clears what the measure does not use. GH_ENOTFOUND when
 * s->exercise is not an exercise; GH_EINVAL with a sentence for a person when a field is
 * missing, out of range or does not fit (reps on a distance exercise, ...). */
int gh_workouts_check_set(const struct gh_catalogue *cat, struct gh_wset *s,
                          struct gh_err *err) GH_MUST_CHECK;

/* The enum gh_record bits s sets against hist[0..n) (earlier sets of the same exercise;
 * warm-ups among them are ignored). A warm-up sets none, and neither does the first working
 * set of an exercise: a record beats something. */
unsigned gh_workouts_records(const struct gh_exercise *ex, const struct gh_wset *hist, size_t n,
                             const struct gh_wset *s);

/* A new session for owner: w's client_id, started_at (0: now), gym_id, notes. Answers as
 * gh_store_workout_add. */
int gh_workouts_start(struct gh_store *st, const char *owner, struct gh_workout *w, int *created,
                      struct gh_err *err) GH_MUST_CHECK;

/* The API's objects (README "Workouts"); NULL when out of memory. */
struct json_t *gh_workouts_set_json(const struct gh_wset *s);
/* with_sets: "sets" from sets[0..n_sets); else "set_count" from w. */
struct json_t *gh_workouts_workout_json(const struct gh_workout *w, const struct gh_wset *sets,
                                        size_t n_sets, int with_sets);

/* Progress of one exercise over sets[0..n) (owner's sets of it, oldest first, warm-ups
 * included): per session the best set, e1rm, volume and set count; the best set and records
 * overall. NULL when out of memory. */
struct json_t *gh_workouts_progress_json(const struct gh_exercise *ex, const struct gh_wset *sets,
                                         size_t n);

/* Working sets per ISO week (from the week of since to the week of now) per primary muscle,
 * from gh_store_set_counts' counts, with the target range. NULL when out of memory. */
struct json_t *gh_workouts_muscles_json(const struct gh_catalogue *cat,
                                        const struct gh_set_count *counts, size_t n, int64_t since,
                                        int64_t now);

/* ---- CSV ---- */

enum gh_import_format {
    GH_IMPORT_GYMHELPER, /* our own export */
    GH_IMPORT_STRONG,    /* either layout, told apart by the header */
    GH_IMPORT_HEVY,
};

/* A parsed import: workouts and sets for gh_store_workouts_import, and the names it could not
 * map (the API's "not_mapped"). */
struct gh_import {
    struct gh_workout *ws;
    size_t n_ws;
    struct gh_wset *sets;
    size_t n_sets;
    struct json_t *not_mapped; /* [{"name", "rows": [line numbers], "reason"}] */
};

/* Parses csv[0..len) of format into imp (zeroed first; release with gh_import_fini). Every
 * data row becomes a set or is listed in not_mapped with its reason. Each workout and set gets
 * a client_id derived from the file's own fields, so importing the same file again adds
 * nothing. weight_unit ("kg", "lb") is the unit of layouts that do not name one (Strong's comma
 * layout); NULL means kg. Errors: GH_EINVAL with a sentence when the header is not the
 * format's, GH_ETOOBIG past 200,000 rows, GH_ENOMEM. */
int gh_import_parse(const struct gh_catalogue *cat, enum gh_import_format format, const char *csv,
                    size_t len, const char *weight_unit, struct gh_import *imp,
                    struct gh_err *err) GH_MUST_CHECK;
void gh_import_fini(struct gh_import *imp);

/* Sets the records of imp's sets in file order, starting from owner's stored history. */
int gh_import_records(struct gh_store *st, const char *owner, const struct gh_catalogue *cat,
                      struct gh_import *imp, struct gh_err *err) GH_MUST_CHECK;

/* The whole log of owner as CSV (one row per set, a header row), gh_malloc'd into *out. */
int gh_workouts_export_csv(struct gh_store *st, const char *owner, const struct gh_catalogue *cat,
                           char **out, size_t *len, struct gh_err *err) GH_MUST_CHECK;

#endif
