/* SPDX-License-Identifier: MIT */
/* The workout log's rules: a set checked against its exercise's measure, Epley's e1RM,
 * personal records, progress per exercise and hard sets per muscle per ISO week, and the JSON
 * of sets and workouts. The CSV import and export are in csv.c. */
#include "gh/workouts.h"

#include "gh/alloc.h"
#include "gh/str.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int gh_workouts_client_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    return n >= 8 && n <= 64 &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

double gh_workouts_epley(double weight_kg, int reps)
{
    if (isnan(weight_kg) || weight_kg <= 0 || reps <= 0)
        return 0;
    if (reps == 1)
        return weight_kg;
    return weight_kg * (1.0 + reps / 30.0);
}

/* ---- checking a set ---- */

static int has_d(double v)
{
    return !isnan(v);
}

static int check_weight(struct gh_wset *s, int required, struct gh_err *err)
{
    if (!has_d(s->weight)) {
        s->unit[0] = '\0';
        s->weight_kg = NAN;
        if (required)
            return gh_err_set(err, GH_EINVAL, "%s is done with a weight: send weight (and unit)",
                              s->exercise);
        return GH_OK;
    }
    if (!s->unit[0])
        snprintf(s->unit, sizeof s->unit, "kg");
    if (strcmp(s->unit, "kg") != 0 && strcmp(s->unit, "lb") != 0)
        return gh_err_set(err, GH_EINVAL, "unit must be \"kg\" or \"lb\"");
    if (s->weight < 0 || s->weight > (s->unit[0] == 'k' ? 1000 : 2200))
        return gh_err_set(err, GH_EINVAL, "weight must be from 0 to 1000 kg (2200 lb)");
    s->weight_kg = s->unit[0] == 'k' ? s->weight : s->weight * GH_LB_KG;
    return GH_OK;
}

static int refuse(struct gh_err *err, const struct gh_exercise *ex, const char *field)
{
    return gh_err_set(err, GH_EINVAL, "%s is measured in %s: %s does not apply to it", ex->name,
                      ex->measure, field);
}

/* What each measure needs and allows. */
static int check_measure(const struct gh_exercise *ex, struct gh_wset *s, struct gh_err *err)
{
    const char *m = ex->measure;
    int reps_used = strcmp(m, "weight_reps") == 0 || strcmp(m, "reps") == 0;
    int dist_used = strcmp(m, "distance") == 0, time_used = strcmp(m, "time") == 0 || dist_used;

    if (s->reps >= 0 && !reps_used)
        return refuse(err, ex, "reps");
    if (reps_used && (s->reps < 1 || s->reps > 10000))
        return gh_err_set(err, GH_EINVAL, "%s is measured in %s: send reps from 1 to 10000",
                          ex->name, m);
    if (has_d(s->distance_m) && !dist_used)
        return refuse(err, ex, "distance_m");
    if (dist_used && (!has_d(s->distance_m) || s->distance_m <= 0 || s->distance_m > 1e6))
        return gh_err_set(err, GH_EINVAL,
                          "%s is measured in distance: send distance_m from 0 to 1000000 metres",
                          ex->name);
    if (s->duration_s >= 0 && !time_used)
        return refuse(err, ex, "duration_s");
    if (strcmp(m, "time") == 0 && s->duration_s < 1)
        return gh_err_set(err, GH_EINVAL, "%s is measured in time: send duration_s (seconds)",
                          ex->name);
    if (s->duration_s > 86400)
        return gh_err_set(err, GH_EINVAL, "duration_s must be at most 86400 (a day)");
    if (has_d(s->weight) && dist_used)
        return refuse(err, ex, "weight");
    return check_weight(s, strcmp(m, "weight_reps") == 0, err);
}

int gh_workouts_check_set(const struct gh_catalogue *cat, struct gh_wset *s, struct gh_err *err)
{
    const struct gh_exercise *ex = gh_catalogue_find_exercise(cat, s->exercise);

    if (!ex)
        return gh_err_set(err, GH_ENOTFOUND, "no exercise '%.64s' (GET /api/v1/exercises)",
                          s->exercise);
    if (has_d(s->rpe) && (s->rpe < 1 || s->rpe > 10))
        return gh_err_set(err, GH_EINVAL, "rpe must be from 1 to 10");
    return check_measure(ex, s, err);
}

/* ---- records ---- */

/* The bests of an exercise so far. */
struct bests {
    int n; /* working sets seen */
    double e1rm, weight, volume;
    int reps;
};

static int weighted(const struct gh_exercise *ex)
{
    return strcmp(ex->measure, "weight_reps") == 0;
}

static void bests_add(struct bests *b, const struct gh_wset *s)
{
    double w = has_d(s->weight_kg) ? s->weight_kg : 0;

    if (s->warmup)
        return;
    b->n++;
    b->e1rm = fmax(b->e1rm, gh_workouts_epley(w, s->reps));
    b->weight = fmax(b->weight, w);
    b->volume = fmax(b->volume, s->reps > 0 ? w * s->reps : 0);
    if (s->reps > b->reps)
        b->reps = s->reps;
}

static unsigned bests_beaten(const struct gh_exercise *ex, const struct bests *b,
                             const struct gh_wset *s)
{
    double w = has_d(s->weight_kg) ? s->weight_kg : 0;
    unsigned r = 0;

    if (s->warmup || b->n == 0)
        return 0;
    if (weighted(ex) && w > 0) {
        if (gh_workouts_epley(w, s->reps) > b->e1rm + 1e-9)
            r |= GH_RECORD_E1RM;
        if (w > b->weight + 1e-9)
            r |= GH_RECORD_WEIGHT;
        if (w * s->reps > b->volume + 1e-9)
            r |= GH_RECORD_VOLUME;
    }
    if (strcmp(ex->measure, "reps") == 0 && s->reps > b->reps)
        r |= GH_RECORD_REPS;
    return r;
}

unsigned gh_workouts_records(const struct gh_exercise *ex, const struct gh_wset *hist, size_t n,
                             const struct gh_wset *s)
{
    struct bests b = {0};

    for (size_t i = 0; i < n; i++)
        bests_add(&b, &hist[i]);
    return bests_beaten(ex, &b, s);
}

static int by_time(const void *a, const void *b)
{
    const struct gh_wset *x = *(const struct gh_wset *const *)a;
    const struct gh_wset *y = *(const struct gh_wset *const *)b;

    if (x->performed_at != y->performed_at)
        return x->performed_at < y->performed_at ? -1 : 1;
    return x < y ? -1 : x > y; /* file order */
}

/* Records of imp's sets of exercise slug, in time order, after owner's stored history. */
static int import_records_of(struct gh_store *st, const char *owner, const struct gh_exercise *ex,
                             struct gh_wset **order, size_t n, struct gh_err *err)
{
    struct gh_set_filter f = {0, ex->slug, 0, 1};
    struct gh_wset *hist = NULL;
    struct bests b = {0};
    size_t n_hist = 0;
    int rc = gh_store_set_query(st, owner, &f, &hist, &n_hist, err);

    if (rc)
        return rc;
    for (size_t i = 0; i < n_hist; i++)
        bests_add(&b, &hist[i]);
    gh_free(hist);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(order[i]->exercise, ex->slug) != 0)
            continue;
        order[i]->records = bests_beaten(ex, &b, order[i]);
        bests_add(&b, order[i]);
    }
    return GH_OK;
}

int gh_import_records(struct gh_store *st, const char *owner, const struct gh_catalogue *cat,
                      struct gh_import *imp, struct gh_err *err)
{
    struct gh_wset **order;
    int rc = GH_OK;

    if (imp->n_sets == 0)
        return GH_OK;
    order = gh_malloc_array(imp->n_sets, sizeof *order);
    if (!order)
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    for (size_t i = 0; i < imp->n_sets; i++)
        order[i] = &imp->sets[i];
    qsort(order, imp->n_sets, sizeof *order, by_time);
    for (size_t e = 0; rc == GH_OK && e < gh_catalogue_n_exercises(cat); e++) {
        const struct gh_exercise *ex = gh_catalogue_exercise_at(cat, e);
        int used = 0;

        for (size_t i = 0; !used && i < imp->n_sets; i++)
            used = strcmp(imp->sets[i].exercise, ex->slug) == 0;
        if (used)
            rc = import_records_of(st, owner, ex, order, imp->n_sets, err);
    }
    gh_free(order);
    return rc;
}

/* ---- sessions ---- */

int gh_workouts_start(struct gh_store *st, const char *owner, struct gh_workout *w, int *created,
                      struct gh_err *err)
{
    if (w->started_at == 0)
        w->started_at = (int64_t)time(NULL);
    return gh_store_workout_add(st, owner, w, created, err);
}

/* ---- JSON ---- */

static json_t *rfc3339(int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm))
        return json_null();
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *num_or_null(double v)
{
    return has_d(v) ? json_real(round(v * 1000) / 1000) : json_null();
}

static json_t *int_or_null(int64_t v, int64_t absent)
{
    return v == absent ? json_null() : json_integer(v);
}

static json_t *records_json(unsigned bits)
{
    static const char *const names[] = {"e1rm", "weight", "reps", "volume"};
    json_t *a = json_array();

    for (unsigned i = 0; a && i < 4; i++)
        if (bits & (1u << i))
            json_array_append_new(a, json_string(names[i]));
    return a;
}

json_t *gh_workouts_set_json(const struct gh_wset *s)
{
    return json_pack("{s:I, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o}", "id",
                     (json_int_t)s->id, "workout_id", (json_int_t)s->workout_id, "client_id",
                     s->client_id, "exercise", s->exercise, "weight", num_or_null(s->weight),
                     "unit", s->unit[0] ? json_string(s->unit) : json_null(), "weight_kg",
                     num_or_null(s->weight_kg), "reps", int_or_null(s->reps, -1), "duration_s",
                     int_or_null(s->duration_s, -1), "distance_m", num_or_null(s->distance_m),
                     "rpe", num_or_null(s->rpe), "warmup", s->warmup, "performed_at",
                     rfc3339(s->performed_at), "records", records_json(s->records));
}

json_t *gh_workouts_workout_json(const struct gh_workout *w, const struct gh_wset *sets,
                                 size_t n_sets, int with_sets)
{
    char notes[GH_WORKOUT_NOTES_CAP];
    json_t *o, *a;

    /* rows an import stored before it made its text UTF-8 must not make the workout unreadable */
    gh_utf8_sanitize(notes, sizeof notes, w->notes);
    o = json_pack("{s:I, s:s, s:o, s:o, s:o, s:s}", "id", (json_int_t)w->id, "client_id",
                  w->client_id, "started_at", rfc3339(w->started_at), "ended_at",
                  w->ended_at ? rfc3339(w->ended_at) : json_null(), "gym_id",
                  int_or_null(w->gym_id, 0), "notes", notes);

    if (!o)
        return NULL;
    if (!with_sets) {
        json_object_set_new(o, "set_count", json_integer(w->set_count));
        return o;
    }
    a = json_array();
    for (size_t i = 0; a && i < n_sets; i++)
        if (json_array_append_new(a, gh_workouts_set_json(&sets[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    if (!a || json_object_set_new(o, "sets", a) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- progress of one exercise ---- */

/* How good a set is for its measure: e1RM, reps, seconds or metres. */
static double set_score(const struct gh_exercise *ex, const struct gh_wset *s)
{
    if (weighted(ex))
        return gh_workouts_epley(has_d(s->weight_kg) ? s->weight_kg : 0, s->reps);
    if (strcmp(ex->measure, "reps") == 0)
        return s->reps;
    if (strcmp(ex->measure, "time") == 0)
        return s->duration_s;
    return has_d(s->distance_m) ? s->distance_m : 0;
}

static double set_volume(const struct gh_wset *s)
{
    return has_d(s->weight_kg) && s->reps > 0 ? s->weight_kg * s->reps : 0;
}

/* One session's summary over its working sets sets[from..to). */
static json_t *session_json(const struct gh_exercise *ex, const struct gh_wset *sets, size_t from,
                            size_t to)
{
    const struct gh_wset *best = NULL;
    double volume = 0;
    int n = 0;

    for (size_t i = from; i < to; i++) {
        if (sets[i].warmup || sets[i].workout_id != sets[from].workout_id)
            continue;
        n++;
        volume += set_volume(&sets[i]);
        if (!best || set_score(ex, &sets[i]) > set_score(ex, best))
            best = &sets[i];
    }
    if (!best)
        return NULL; /* warm-ups only */
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:i}", "workout_id", (json_int_t)best->workout_id,
                     "started_at", rfc3339(best->workout_started_at), "best_set",
                     gh_workouts_set_json(best), "e1rm_kg",
                     weighted(ex) ? num_or_null(set_score(ex, best)) : json_null(), "volume_kg",
                     num_or_null(volume), "sets", n);
}

static json_t *sessions_json(const struct gh_exercise *ex, const struct gh_wset *sets, size_t n)
{
    json_t *a = json_array();

    /* a workout's sets are contiguous in time; a set of another workout between them would
     * start a second entry for that workout, which session_json's filter keeps apart */
    for (size_t i = 0; a && i < n;) {
        size_t j = i + 1;
        json_t *s;

        while (j < n && sets[j].workout_id == sets[i].workout_id)
            j++;
        s = session_json(ex, sets, i, j);
        if (s && json_array_append_new(a, s) != 0) {
            json_decref(a);
            return NULL;
        }
        i = j;
    }
    return a;
}

static json_t *record_json(const char *kind, double value, const char *unit,
                           const struct gh_wset *s)
{
    return json_pack("{s:s, s:o, s:s, s:I, s:o}", "kind", kind, "value", num_or_null(value), "unit",
                     unit, "set_id", (json_int_t)s->id, "at", rfc3339(s->performed_at));
}

/* The current records: the first working set that reached each best. */
static json_t *records_now(const struct gh_exercise *ex, const struct gh_wset *sets, size_t n)
{
    const struct gh_wset *e1 = NULL, *wt = NULL, *vol = NULL, *reps = NULL;
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        const struct gh_wset *s = &sets[i];
        double w = has_d(s->weight_kg) ? s->weight_kg : 0;

        if (s->warmup)
            continue;
        if (weighted(ex) && w > 0) {
            if (!e1 || gh_workouts_epley(w, s->reps) > gh_workouts_epley(e1->weight_kg, e1->reps))
                e1 = s;
            if (!wt || w > wt->weight_kg)
                wt = s;
            if (!vol || set_volume(s) > set_volume(vol))
                vol = s;
        }
        if (strcmp(ex->measure, "reps") == 0 && (!reps || s->reps > reps->reps))
            reps = s;
    }
    if (a && e1)
        json_array_append_new(
            a, record_json("e1rm", gh_workouts_epley(e1->weight_kg, e1->reps), "kg", e1));
    if (a && wt)
        json_array_append_new(a, record_json("weight", wt->weight_kg, "kg", wt));
    if (a && reps)
        json_array_append_new(a, record_json("reps", reps->reps, "reps", reps));
    if (a && vol)
        json_array_append_new(a, record_json("volume", set_volume(vol), "kg", vol));
    return a;
}

json_t *gh_workouts_progress_json(const struct gh_exercise *ex, const struct gh_wset *sets,
                                  size_t n)
{
    const struct gh_wset *best = NULL;

    for (size_t i = 0; i < n; i++)
        if (!sets[i].warmup && (!best || set_score(ex, &sets[i]) > set_score(ex, best)))
            best = &sets[i];
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "exercise", ex->slug, "sessions",
                     sessions_json(ex, sets, n), "best_set",
                     best ? gh_workouts_set_json(best) : json_null(), "e1rm_best_kg",
                     best && weighted(ex) ? num_or_null(set_score(ex, best)) : json_null(),
                     "records", records_now(ex, sets, n));
}

/* ---- sets per muscle per week ---- */

#define WEEKS_MAX 520

/* The Monday (days since 1970) of t's ISO week, and its name ("2026-W48"). */
static int64_t iso_week(int64_t t, char name[16])
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t wd = ((days % 7) + 7 + 3) % 7; /* Monday 0; 1970-01-01 was a Thursday */
    int64_t thursday = days - wd + 3;
    time_t tt = (time_t)(thursday * 86400);
    struct tm tm;

    gmtime_r(&tt, &tm);
    snprintf(name, 16, "%04d-W%02d", (tm.tm_year + 1900) % 10000, (tm.tm_yday / 7 + 1) % 100);
    return days - wd;
}

static json_t *muscle_list(void)
{
    json_t *a = json_array();
    const char *m;

    for (size_t i = 0; a && (m = gh_exercise_vocab("muscle", i)) != NULL; i++)
        if (strcmp(m, "cardiovascular") != 0) /* heart work is not counted in hard sets */
            json_array_append_new(a, json_string(m));
    return a;
}

json_t *gh_workouts_muscles_json(const struct gh_catalogue *cat, const struct gh_set_count *sets,
                                 size_t n, int64_t since, int64_t now)
{
    char name[16];
    int64_t first = iso_week(since, name), last = iso_week(now, name);
    size_t n_weeks = (size_t)((last - first) / 7 + 1);
    json_t *weeks, **counts;

    if (n_weeks > WEEKS_MAX || last < first)
        return NULL;
    weeks = json_array();
    counts = gh_malloc_array(n_weeks, sizeof *counts);
    if (!weeks || !counts) {
        json_decref(weeks);
        gh_free(counts);
        return NULL;
    }
    for (size_t w = 0; w < n_weeks; w++) {
        time_t t = (time_t)((first + (int64_t)w * 7) * 86400);

        iso_week((int64_t)t, name);
        counts[w] = json_object();
        json_array_append_new(weeks, json_pack("{s:s, s:O}", "week", name, "sets", counts[w]));
        json_decref(counts[w]); /* the week object holds it */
    }
    for (size_t i = 0; i < n; i++) {
        const struct gh_exercise *ex = gh_catalogue_find_exercise(cat, sets[i].exercise);
        int64_t wk = (iso_week(sets[i].day * 86400, name) - first) / 7;

        if (!ex || wk < 0 || (size_t)wk >= n_weeks)
            continue;
        for (size_t m = 0; m < ex->primary_muscles.n; m++) {
            const char *mu = ex->primary_muscles.v[m];
            json_t *c = json_object_get(counts[wk], mu);

            if (strcmp(mu, "cardiovascular") == 0)
                continue;
            json_object_set_new(counts[wk], mu,
                                json_integer((c ? json_integer_value(c) : 0) + sets[i].n));
        }
    }
    gh_free(counts);
    return json_pack("{s:o, s:{s:i, s:i}, s:o}", "weeks", weeks, "target", "min",
                     GH_WEEKLY_SETS_MIN, "max", GH_WEEKLY_SETS_MAX, "muscles", muscle_list());
}
