/* SPDX-License-Identifier: MIT */
/* The store's workout log (issue 12): a person's gyms with the equipment each has, workouts
 * (sessions) and their sets. Everything belongs to an owner key (an identity key, "local" for
 * open mode's user) and is only ever read or changed under it: another owner's id is
 * GH_ENOTFOUND. Creating writes carry a client-generated id; a replay of one finds the stored
 * row instead of adding one (*created = 0). Same backends and contract suite as gh/store.h.
 *
 * For plans (h12-plans): start a session from a plan day with gh_store_workout_add (a client_id
 * makes the start idempotent), read a gym's equipment with gh_store_gym_get, and the history of
 * an exercise (for double progression) with gh_store_set_query (filter.exercise). Thread-safe. */
#ifndef GH_STORE_WORKOUTS_H
#define GH_STORE_WORKOUTS_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"
#include "gh/store.h"

#define GH_CLIENT_ID_CAP     65   /* 8..64 bytes of [A-Za-z0-9_-] */
#define GH_GYM_NAME_CAP      101  /* 1..100 bytes */
#define GH_GYM_EQUIP_CAP     4096 /* a gym's equipment slugs, space-separated */
#define GH_WORKOUT_NOTES_CAP 2001
#define GH_GYMS_MAX          200    /* per owner */
#define GH_SETS_QUERY_MAX    200000 /* rows one set query returns at most */

struct gh_gym {
    int64_t id; /* set by the store */
    char client_id[GH_CLIENT_ID_CAP];
    char name[GH_GYM_NAME_CAP];
    int64_t created_at;
    char equipment[GH_GYM_EQUIP_CAP]; /* slugs in order, one space between; "" when none */
};

struct gh_workout {
    int64_t id; /* set by the store */
    char client_id[GH_CLIENT_ID_CAP];
    int64_t started_at;
    int64_t ended_at; /* 0 while it goes on */
    int64_t gym_id;   /* 0: none */
    char notes[GH_WORKOUT_NOTES_CAP];
    int64_t set_count; /* filled by list and get */
};

/* The personal records a set set when it was logged (bits of gh_wset.records). */
enum gh_record {
    GH_RECORD_E1RM = 1u << 0,
    GH_RECORD_WEIGHT = 1u << 1,
    GH_RECORD_REPS = 1u << 2,
    GH_RECORD_VOLUME = 1u << 3,
};

/* One set. Absent numbers: NAN for doubles, -1 for ints. */
struct gh_wset {
    int64_t id; /* set by the store */
    int64_t workout_id;
    char client_id[GH_CLIENT_ID_CAP];
    char exercise[64]; /* an exercise slug */
    double weight;     /* as entered, in unit */
    char unit[4];      /* "kg", "lb", "" without a weight */
    double weight_kg;
    int reps;
    int duration_s;
    double distance_m;
    double rpe;
    int warmup;
    int64_t performed_at;
    unsigned records;           /* enum gh_record bits */
    int64_t workout_started_at; /* read only: the workout's start (set queries fill it) */
};

/* Which sets gh_store_set_query returns; zero fields do not filter. */
struct gh_set_filter {
    int64_t workout_id;
    const char *exercise; /* NULL or "": every exercise */
    int64_t since;        /* performed_at >= since */
    int working_only;     /* 1: no warm-up sets */
};

/* ---- gyms ---- */

/* Adds g (client_id, name, created_at, equipment) for owner unless owner has a gym with that
 * client_id; *g gets the stored gym either way and *created says which. GH_EINVAL for a
 * malformed equipment list. */
int gh_store_gym_add(struct gh_store *st, const char *owner, struct gh_gym *g, int *created,
                     struct gh_err *err) GH_MUST_CHECK;
/* Owner's gyms by id, at most GH_GYMS_MAX; *out is gh_malloc'd (NULL when none). */
int gh_store_gym_list(struct gh_store *st, const char *owner, struct gh_gym **out, size_t *n_out,
                      struct gh_err *err) GH_MUST_CHECK;
int gh_store_gym_get(struct gh_store *st, const char *owner, int64_t id, struct gh_gym *out,
                     struct gh_err *err) GH_MUST_CHECK;
int gh_store_gym_rename(struct gh_store *st, const char *owner, int64_t id, const char *name,
                        struct gh_err *err) GH_MUST_CHECK;
/* Deletes the gym; workouts at it keep going without one (gym_id 0). */
int gh_store_gym_delete(struct gh_store *st, const char *owner, int64_t id,
                        struct gh_err *err) GH_MUST_CHECK;
/* have = 1 marks slug as present at the gym, 0 as absent; both idempotent. */
int gh_store_gym_equipment(struct gh_store *st, const char *owner, int64_t id, const char *slug,
                           int have, struct gh_err *err) GH_MUST_CHECK;

/* ---- workouts ---- */

/* Adds w (client_id, started_at, ended_at, gym_id, notes) for owner unless owner has one with
 * that client_id; *w gets the stored workout either way. GH_ENOTFOUND when gym_id is not one
 * of owner's gyms. */
int gh_store_workout_add(struct gh_store *st, const char *owner, struct gh_workout *w, int *created,
                         struct gh_err *err) GH_MUST_CHECK;
/* Owner's workouts, latest started first (ties: higher id first), after the workout before_id
 * in that order (0: from the start), at most limit (1..1000) into out. */
int gh_store_workout_list(struct gh_store *st, const char *owner, int64_t before_id, size_t limit,
                          struct gh_workout *out, size_t *n_out, struct gh_err *err) GH_MUST_CHECK;
int gh_store_workout_get(struct gh_store *st, const char *owner, int64_t id, struct gh_workout *out,
                         struct gh_err *err) GH_MUST_CHECK;
/* Writes w's ended_at, gym_id and notes to owner's workout w->id. */
int gh_store_workout_update(struct gh_store *st, const char *owner, const struct gh_workout *w,
                            struct gh_err *err) GH_MUST_CHECK;
/* Deletes the workout and its sets. */
int gh_store_workout_delete(struct gh_store *st, const char *owner, int64_t id,
                            struct gh_err *err) GH_MUST_CHECK;

/* ---- sets ---- */

/* Adds s to owner's workout s->workout_id unless owner has a set with s->client_id (then *s
 * gets that one, *created = 0). GH_ENOTFOUND when the workout is not owner's. */
int gh_store_set_add(struct gh_store *st, const char *owner, struct gh_wset *s, int *created,
                     struct gh_err *err) GH_MUST_CHECK;
/* Writes every measured field of s (weight .. rpe, warmup, records) to owner's set s->id of
 * workout s->workout_id. */
int gh_store_set_update(struct gh_store *st, const char *owner, const struct gh_wset *s,
                        struct gh_err *err) GH_MUST_CHECK;
int gh_store_set_delete(struct gh_store *st, const char *owner, int64_t workout_id, int64_t set_id,
                        struct gh_err *err) GH_MUST_CHECK;
/* Owner's sets that pass f, oldest performed first (ties by id), at most GH_SETS_QUERY_MAX;
 * *out is gh_malloc'd (NULL when none). */
int gh_store_set_query(struct gh_store *st, const char *owner, const struct gh_set_filter *f,
                       struct gh_wset **out, size_t *n_out, struct gh_err *err) GH_MUST_CHECK;

/* Working sets of one exercise on one UTC day. */
struct gh_set_count {
    char exercise[64];
    int64_t day; /* performed_at / 86400 */
    int64_t n;
};

/* Owner's working sets performed at or after since (>= 0), counted per exercise and UTC day
 * (the muscles view reads these instead of every set); *out is gh_malloc'd (NULL when none). */
int gh_store_set_counts(struct gh_store *st, const char *owner, int64_t since,
                        struct gh_set_count **out, size_t *n_out, struct gh_err *err) GH_MUST_CHECK;

/* ---- import ---- */

/* Adds, in one transaction, the workouts ws[0..n_ws) and the sets sets[0..n_sets), whose
 * workout_id holds the index of their workout in ws. A workout whose client_id owner has
 * already is reused; a set whose client_id exists is skipped and counted in *duplicates,
 * the others in *imported. */
int gh_store_workouts_import(struct gh_store *st, const char *owner, struct gh_workout *ws,
                             size_t n_ws, struct gh_wset *sets, size_t n_sets, int64_t *imported,
                             int64_t *duplicates, struct gh_err *err) GH_MUST_CHECK;

#endif
