/* SPDX-License-Identifier: MIT */
/* The workout log of the store (gh/store_workouts.h): gyms, workouts, sets and imports, in SQL
 * written once for both backends and run through their store/rows.h runners. Every statement
 * names the owner, so one person's ids never reach another's rows. */
#include "gh/store_workouts.h"
#include "store/rows.h"

#include "gh/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define T(x)                                                                                       \
    (struct gh_rows_arg)                                                                           \
    {                                                                                              \
        GH_ROWS_TEXT, (x), 0, 0                                                                    \
    }
#define I(x)                                                                                       \
    (struct gh_rows_arg)                                                                           \
    {                                                                                              \
        GH_ROWS_INT, NULL, (x), 0                                                                  \
    }
#define NUL                                                                                        \
    (struct gh_rows_arg)                                                                           \
    {                                                                                              \
        GH_ROWS_NULL, NULL, 0, 0                                                                   \
    }

static struct gh_rows_arg real_or_null(double v)
{
    return isnan(v) ? NUL : (struct gh_rows_arg){GH_ROWS_REAL, NULL, 0, v};
}

static struct gh_rows_arg int_or_null(int64_t v, int64_t absent)
{
    return v == absent ? NUL : I(v);
}

/* ---- argument checks ---- */

static int check_owner(struct gh_store *st, const char *owner, struct gh_err *err)
{
    if (!st || !st->ops->rows)
        return gh_err_set(err, GH_EINVAL, "no store given");
    if (!owner || !owner[0] || strlen(owner) >= 96)
        return gh_err_set(err, GH_EINVAL, "no owner given");
    return GH_OK;
}

static int check_client_id(const char *id, struct gh_err *err)
{
    size_t n = strlen(id);

    if (n < 8 || n > 64 ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789_-") != n)
        return gh_err_set(err, GH_EINVAL, "client_id must be 8 to 64 letters, digits, '_' or '-'");
    return GH_OK;
}

/* ---- running statements ---- */

static int run(struct gh_store *st, const char *sql, const struct gh_rows_arg *a, int n,
               gh_rows_fn fn, void *ctx, int64_t *changes, const char *what, struct gh_err *err)
{
    const struct gh_store_rows_ops *ops = st->ops->rows;
    struct gh_rows *r = NULL;
    int rc = ops->open(st, 0, &r, err);

    if (rc)
        return rc;
    rc = ops->exec(r, sql, a, n, fn, ctx, changes, what, err);
    return ops->close(r, rc, err);
}

static int read_id(void *ctx, const struct gh_rows_cur *c)
{
    *(int64_t *)ctx = c->i64(c, 0);
    return GH_OK;
}

static int not_found(struct gh_err *err, const char *what, int64_t id)
{
    return gh_err_set(err, GH_ENOTFOUND, "no %s with id %lld", what, (long long)id);
}

/* ---- gyms ---- */

struct gym_page {
    struct gh_gym *v;
    size_t n, cap;
};

static int read_gym(void *ctx, const struct gh_rows_cur *c)
{
    struct gym_page *p = ctx;
    struct gh_gym *g;

    if (p->n == p->cap)
        return GH_OK; /* the cap of the list */
    g = &p->v[p->n++];
    memset(g, 0, sizeof *g);
    g->id = c->i64(c, 0);
    snprintf(g->client_id, sizeof g->client_id, "%s", c->text(c, 1));
    snprintf(g->name, sizeof g->name, "%s", c->text(c, 2));
    g->created_at = c->i64(c, 3);
    return GH_OK;
}

static int read_gym_equipment(void *ctx, const struct gh_rows_cur *c)
{
    struct gym_page *p = ctx;
    int64_t id = c->i64(c, 0);

    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].id == id) {
            char *e = p->v[i].equipment;
            size_t len = strlen(e);

            snprintf(e + len, GH_GYM_EQUIP_CAP - len, "%s%s", len ? " " : "", c->text(c, 1));
            break;
        }
    return GH_OK;
}

#define GYM_COLS "id, client_id, name, created_at"

/* Owner's gyms (id > 0: that one) with their equipment into p. */
static int gyms_read(struct gh_store *st, const char *owner, int64_t id, struct gym_page *p,
                     struct gh_err *err)
{
    struct gh_rows_arg a[2] = {T(owner), I(id)};
    int rc;

    rc = run(st,
             id > 0 ? "SELECT " GYM_COLS " FROM gyms WHERE owner = ?1 AND id = ?2"
                    : "SELECT " GYM_COLS " FROM gyms WHERE owner = ?1 ORDER BY id",
             a, id > 0 ? 2 : 1, read_gym, p, NULL, "read gyms", err);
    if (rc || p->n == 0)
        return rc;
    return run(st,
               id > 0 ? "SELECT e.gym_id, e.slug FROM gym_equipment e JOIN gyms g ON g.id ="
                        " e.gym_id WHERE g.owner = ?1 AND g.id = ?2 ORDER BY e.slug"
                      : "SELECT e.gym_id, e.slug FROM gym_equipment e JOIN gyms g ON g.id ="
                        " e.gym_id WHERE g.owner = ?1 ORDER BY e.gym_id, e.slug",
               a, id > 0 ? 2 : 1, read_gym_equipment, p, NULL, "read a gym's equipment", err);
}

int gh_store_gym_get(struct gh_store *st, const char *owner, int64_t id, struct gh_gym *out,
                     struct gh_err *err)
{
    struct gym_page p = {out, 0, 1};
    int rc = check_owner(st, owner, err);

    if (rc)
        return rc;
    if (id <= 0)
        return not_found(err, "gym", id);
    rc = gyms_read(st, owner, id, &p, err);
    if (rc == GH_OK && p.n == 0)
        rc = not_found(err, "gym", id);
    return rc;
}

int gh_store_gym_list(struct gh_store *st, const char *owner, struct gh_gym **out, size_t *n_out,
                      struct gh_err *err)
{
    struct gym_page p = {NULL, 0, GH_GYMS_MAX};
    int rc = check_owner(st, owner, err);

    *out = NULL;
    *n_out = 0;
    if (rc)
        return rc;
    p.v = gh_malloc_array(GH_GYMS_MAX, sizeof *p.v);
    if (!p.v)
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    rc = gyms_read(st, owner, 0, &p, err);
    if (rc || p.n == 0) {
        gh_free(p.v);
        return rc;
    }
    *out = p.v;
    *n_out = p.n;
    return GH_OK;
}

/* Inserts each space-separated slug of list for gym id. */
static int gym_equipment_add_all(const struct gh_store_rows_ops *ops, struct gh_rows *r, int64_t id,
                                 const char *list, struct gh_err *err)
{
    char slug[64];
    int rc = GH_OK;

    while (rc == GH_OK && *list) {
        size_t n = strcspn(list, " ");

        if (n == 0 || n >= sizeof slug)
            return gh_err_set(err, GH_EINVAL, "malformed equipment list");
        memcpy(slug, list, n);
        slug[n] = '\0';
        list += n + (list[n] == ' ');
        rc = ops->exec(r,
                       "INSERT INTO gym_equipment (gym_id, slug) VALUES (?1, ?2)"
                       " ON CONFLICT (gym_id, slug) DO NOTHING",
                       (struct gh_rows_arg[]){I(id), T(slug)}, 2, NULL, NULL, NULL,
                       "add equipment to a gym", err);
    }
    return rc;
}

int gh_store_gym_add(struct gh_store *st, const char *owner, struct gh_gym *g, int *created,
                     struct gh_err *err)
{
    const struct gh_store_rows_ops *ops;
    struct gh_rows *r = NULL;
    int64_t id = 0;
    int rc = check_owner(st, owner, err);

    *created = 0;
    if (rc || (rc = check_client_id(g->client_id, err)) != GH_OK)
        return rc;
    ops = st->ops->rows;
    rc = ops->open(st, 1, &r, err);
    if (rc)
        return rc;
    rc = ops->exec(r,
                   "INSERT INTO gyms (owner, client_id, name, created_at) VALUES (?1, ?2, ?3, ?4)"
                   " ON CONFLICT (owner, client_id) DO NOTHING RETURNING id",
                   (struct gh_rows_arg[]){T(owner), T(g->client_id), T(g->name), I(g->created_at)},
                   4, read_id, &id, NULL, "add a gym", err);
    if (rc == GH_OK && id > 0) {
        *created = 1;
        rc = gym_equipment_add_all(ops, r, id, g->equipment, err);
    } else if (rc == GH_OK) {
        rc = ops->exec(r, "SELECT id FROM gyms WHERE owner = ?1 AND client_id = ?2",
                       (struct gh_rows_arg[]){T(owner), T(g->client_id)}, 2, read_id, &id, NULL,
                       "read a gym", err);
    }
    rc = ops->close(r, rc, err);
    if (rc)
        return rc;
    return gh_store_gym_get(st, owner, id, g, err);
}

int gh_store_gym_rename(struct gh_store *st, const char *owner, int64_t id, const char *name,
                        struct gh_err *err)
{
    int64_t changed = 0;
    int rc = check_owner(st, owner, err);

    if (rc == GH_OK)
        rc = run(st, "UPDATE gyms SET name = ?3 WHERE owner = ?1 AND id = ?2",
                 (struct gh_rows_arg[]){T(owner), I(id), T(name)}, 3, NULL, NULL, &changed,
                 "rename a gym", err);
    if (rc == GH_OK && changed == 0)
        rc = not_found(err, "gym", id);
    return rc;
}

int gh_store_gym_delete(struct gh_store *st, const char *owner, int64_t id, struct gh_err *err)
{
    int64_t changed = 0;
    int rc = check_owner(st, owner, err);

    if (rc == GH_OK)
        rc = run(st, "DELETE FROM gyms WHERE owner = ?1 AND id = ?2",
                 (struct gh_rows_arg[]){T(owner), I(id)}, 2, NULL, NULL, &changed, "delete a gym",
                 err);
    if (rc == GH_OK && changed == 0)
        rc = not_found(err, "gym", id);
    return rc;
}

int gh_store_gym_equipment(struct gh_store *st, const char *owner, int64_t id, const char *slug,
                           int have, struct gh_err *err)
{
    struct gh_rows_arg a[3] = {T(owner), I(id), T(slug)};
    int64_t found = 0;
    int rc = check_owner(st, owner, err);

    if (rc == GH_OK)
        rc = run(st, "SELECT id FROM gyms WHERE owner = ?1 AND id = ?2", a, 2, read_id, &found,
                 NULL, "read a gym", err);
    if (rc == GH_OK && found == 0)
        rc = not_found(err, "gym", id);
    if (rc)
        return rc;
    return run(st,
               have ? "INSERT INTO gym_equipment (gym_id, slug) SELECT id, ?3 FROM gyms"
                      " WHERE owner = ?1 AND id = ?2 ON CONFLICT (gym_id, slug) DO NOTHING"
                    : "DELETE FROM gym_equipment WHERE slug = ?3 AND gym_id IN"
                      " (SELECT id FROM gyms WHERE owner = ?1 AND id = ?2)",
               a, 3, NULL, NULL, NULL, "change a gym's equipment", err);
}

/* ---- workouts ---- */

#define WORKOUT_COLS                                                                               \
    "w.id, w.client_id, w.started_at, w.ended_at, w.gym_id, w.notes,"                              \
    " (SELECT count(*) FROM workout_sets s WHERE s.workout_id = w.id)"

struct workout_page {
    struct gh_workout *v;
    size_t n, cap;
};

static int read_workout(void *ctx, const struct gh_rows_cur *c)
{
    struct workout_page *p = ctx;
    struct gh_workout *w;

    if (p->n == p->cap)
        return GH_OK;
    w = &p->v[p->n++];
    memset(w, 0, sizeof *w);
    w->id = c->i64(c, 0);
    snprintf(w->client_id, sizeof w->client_id, "%s", c->text(c, 1));
    w->started_at = c->i64(c, 2);
    w->ended_at = c->null(c, 3) ? 0 : c->i64(c, 3);
    w->gym_id = c->null(c, 4) ? 0 : c->i64(c, 4);
    snprintf(w->notes, sizeof w->notes, "%s", c->text(c, 5));
    w->set_count = c->i64(c, 6);
    return GH_OK;
}

int gh_store_workout_get(struct gh_store *st, const char *owner, int64_t id, struct gh_workout *out,
                         struct gh_err *err)
{
    struct workout_page p = {out, 0, 1};
    int rc = check_owner(st, owner, err);

    if (rc == GH_OK)
        rc = run(st, "SELECT " WORKOUT_COLS " FROM workouts w WHERE w.owner = ?1 AND w.id = ?2",
                 (struct gh_rows_arg[]){T(owner), I(id)}, 2, read_workout, &p, NULL,
                 "read a workout", err);
    if (rc == GH_OK && p.n == 0)
        rc = not_found(err, "workout", id);
    return rc;
}

int gh_store_workout_list(struct gh_store *st, const char *owner, int64_t before_id, size_t limit,
                          struct gh_workout *out, size_t *n_out, struct gh_err *err)
{
    struct workout_page p = {out, 0, limit};
    int rc = check_owner(st, owner, err);

    *n_out = 0;
    if (rc)
        return rc;
    if (limit == 0 || limit > 1000)
        return gh_err_set(err, GH_EINVAL, "limit must be 1..1000");
    if (before_id > 0)
        rc = run(st,
                 "SELECT " WORKOUT_COLS " FROM workouts w, workouts b WHERE w.owner = ?1"
                 " AND b.owner = ?1 AND b.id = ?2 AND (w.started_at < b.started_at OR"
                 " (w.started_at = b.started_at AND w.id < b.id))"
                 " ORDER BY w.started_at DESC, w.id DESC LIMIT ?3",
                 (struct gh_rows_arg[]){T(owner), I(before_id), I((int64_t)limit)}, 3, read_workout,
                 &p, NULL, "list workouts", err);
    else
        rc = run(st,
                 "SELECT " WORKOUT_COLS " FROM workouts w WHERE w.owner = ?1"
                 " ORDER BY w.started_at DESC, w.id DESC LIMIT ?2",
                 (struct gh_rows_arg[]){T(owner), I((int64_t)limit)}, 2, read_workout, &p, NULL,
                 "list workouts", err);
    *n_out = rc ? 0 : p.n;
    return rc;
}

/* GH_ENOTFOUND unless gym_id is 0 or one of owner's gyms. */
static int check_gym(const struct gh_store_rows_ops *ops, struct gh_rows *r, const char *owner,
                     int64_t gym_id, struct gh_err *err)
{
    int64_t found = 0;
    int rc;

    if (gym_id == 0)
        return GH_OK;
    rc = ops->exec(r, "SELECT id FROM gyms WHERE owner = ?1 AND id = ?2",
                   (struct gh_rows_arg[]){T(owner), I(gym_id)}, 2, read_id, &found, NULL,
                   "read a gym", err);
    if (rc == GH_OK && found == 0)
        rc = not_found(err, "gym", gym_id);
    return rc;
}

/* Inserts w unless owner has its client_id; *id gets the row's id either way. */
static int workout_insert(const struct gh_store_rows_ops *ops, struct gh_rows *r, const char *owner,
                          const struct gh_workout *w, int64_t *id, int *created, struct gh_err *err)
{
    int rc;

    *id = 0;
    rc = ops->exec(r,
                   "INSERT INTO workouts (owner, client_id, started_at, ended_at, gym_id, notes)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                   " ON CONFLICT (owner, client_id) DO NOTHING RETURNING id",
                   (struct gh_rows_arg[]){T(owner), T(w->client_id), I(w->started_at),
                                          int_or_null(w->ended_at, 0), int_or_null(w->gym_id, 0),
                                          T(w->notes)},
                   6, read_id, id, NULL, "add a workout", err);
    *created = rc == GH_OK && *id > 0;
    if (rc == GH_OK && *id == 0)
        rc = ops->exec(r, "SELECT id FROM workouts WHERE owner = ?1 AND client_id = ?2",
                       (struct gh_rows_arg[]){T(owner), T(w->client_id)}, 2, read_id, id, NULL,
                       "read a workout", err);
    return rc;
}

int gh_store_workout_add(struct gh_store *st, const char *owner, struct gh_workout *w, int *created,
                         struct gh_err *err)
{
    const struct gh_store_rows_ops *ops;
    struct gh_rows *r = NULL;
    int64_t id = 0;
    int rc = check_owner(st, owner, err);

    *created = 0;
    if (rc || (rc = check_client_id(w->client_id, err)) != GH_OK)
        return rc;
    ops = st->ops->rows;
    rc = ops->open(st, 1, &r, err);
    if (rc)
        return rc;
    rc = check_gym(ops, r, owner, w->gym_id, err);
    if (rc == GH_OK)
        rc = workout_insert(ops, r, owner, w, &id, created, err);
    rc = ops->close(r, rc, err);
    if (rc)
        return rc;
    return gh_store_workout_get(st, owner, id, w, err);
}

int gh_store_workout_update(struct gh_store *st, const char *owner, const struct gh_workout *w,
                            struct gh_err *err)
{
    const struct gh_store_rows_ops *ops;
    struct gh_rows *r = NULL;
    int64_t changed = 0;
    int rc = check_owner(st, owner, err);

    if (rc)
        return rc;
    ops = st->ops->rows;
    rc = ops->open(st, 1, &r, err);
    if (rc)
        return rc;
    rc = check_gym(ops, r, owner, w->gym_id, err);
    if (rc == GH_OK)
        rc = ops->exec(r,
                       "UPDATE workouts SET ended_at = ?3, gym_id = ?4, notes = ?5"
                       " WHERE owner = ?1 AND id = ?2",
                       (struct gh_rows_arg[]){T(owner), I(w->id), int_or_null(w->ended_at, 0),
                                              int_or_null(w->gym_id, 0), T(w->notes)},
                       5, NULL, NULL, &changed, "update a workout", err);
    if (rc == GH_OK && changed == 0)
        rc = not_found(err, "workout", w->id);
    return ops->close(r, rc, err);
}

int gh_store_workout_delete(struct gh_store *st, const char *owner, int64_t id, struct gh_err *err)
{
    int64_t changed = 0;
    int rc = check_owner(st, owner, err);

    if (rc == GH_OK)
        rc = run(st, "DELETE FROM workouts WHERE owner = ?1 AND id = ?2",
                 (struct gh_rows_arg[]){T(owner), I(id)}, 2, NULL, NULL, &changed,
                 "delete a workout", err);
    if (rc == GH_OK && changed == 0)
        rc = not_found(err, "workout", id);
    return rc;
}

/* ---- sets ---- */

#define SET_COLS                                                                                   \
    "s.id, s.workout_id, s.client_id, s.exercise, s.weight, s.unit, s.weight_kg, s.reps,"          \
    " s.duration_s, s.distance_m, s.rpe, s.warmup, s.performed_at, s.records, w.started_at"
#define SET_FROM " FROM workout_sets s JOIN workouts w ON w.id = s.workout_id"

struct set_page {
    struct gh_wset *v;
    size_t n, cap, max;
};

static double f64_or_nan(const struct gh_rows_cur *c, int col)
{
    return c->null(c, col) ? NAN : c->f64(c, col);
}

static int int_or_minus1(const struct gh_rows_cur *c, int col)
{
    return c->null(c, col) ? -1 : (int)c->i64(c, col);
}

static void set_read(const struct gh_rows_cur *c, struct gh_wset *s)
{
    memset(s, 0, sizeof *s);
    s->id = c->i64(c, 0);
    s->workout_id = c->i64(c, 1);
    snprintf(s->client_id, sizeof s->client_id, "%s", c->text(c, 2));
    snprintf(s->exercise, sizeof s->exercise, "%s", c->text(c, 3));
    s->weight = f64_or_nan(c, 4);
    snprintf(s->unit, sizeof s->unit, "%s", c->text(c, 5));
    s->weight_kg = f64_or_nan(c, 6);
    s->reps = int_or_minus1(c, 7);
    s->duration_s = int_or_minus1(c, 8);
    s->distance_m = f64_or_nan(c, 9);
    s->rpe = f64_or_nan(c, 10);
    s->warmup = c->i64(c, 11) != 0;
    s->performed_at = c->i64(c, 12);
    s->records = (unsigned)c->i64(c, 13);
    s->workout_started_at = c->i64(c, 14);
}

static int read_set(void *ctx, const struct gh_rows_cur *c)
{
    struct set_page *p = ctx;

    if (p->n == p->max)
        return GH_OK;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct gh_wset *v = gh_realloc(p->v, cap * sizeof *v);

        if (!v)
            return GH_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    set_read(c, &p->v[p->n++]);
    return GH_OK;
}

static int set_get_by_client(struct gh_store *st, const char *owner, const char *client_id,
                             struct gh_wset *out, struct gh_err *err)
{
    struct set_page p = {NULL, 0, 0, 1};
    int rc = run(st, "SELECT " SET_COLS SET_FROM " WHERE s.owner = ?1 AND s.client_id = ?2",
                 (struct gh_rows_arg[]){T(owner), T(client_id)}, 2, read_set, &p, NULL,
                 "read a set", err);

    if (rc == GH_ENOMEM)
        gh_err_set(err, rc, "out of memory");
    if (rc == GH_OK && p.n == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no set with that client_id");
    if (rc == GH_OK)
        *out = p.v[0];
    gh_free(p.v);
    return rc;
}

int gh_store_set_add(struct gh_store *st, const char *owner, struct gh_wset *s, int *created,
                     struct gh_err *err)
{
    int64_t id = 0;
    int rc = check_owner(st, owner, err);

    *created = 0;
    if (rc || (rc = check_client_id(s->client_id, err)) != GH_OK)
        return rc;
    rc = run(st,
             "INSERT INTO workout_sets (workout_id, owner, client_id, exercise, weight, unit,"
             " weight_kg, reps, duration_s, distance_m, rpe, warmup, performed_at, records)"
             /* PostgreSQL types a SELECT list's parameters as text unless told */
             " SELECT id, CAST(?2 AS TEXT), CAST(?3 AS TEXT), CAST(?4 AS TEXT),"
             " CAST(?5 AS DOUBLE PRECISION), CAST(?6 AS TEXT), CAST(?7 AS DOUBLE PRECISION),"
             " CAST(?8 AS BIGINT), CAST(?9 AS BIGINT), CAST(?10 AS DOUBLE PRECISION),"
             " CAST(?11 AS DOUBLE PRECISION), CAST(?12 AS BIGINT), CAST(?13 AS BIGINT),"
             " CAST(?14 AS BIGINT) FROM workouts WHERE id = ?1 AND owner = ?2"
             " ON CONFLICT (owner, client_id) DO NOTHING RETURNING id",
             (struct gh_rows_arg[]){I(s->workout_id), T(owner), T(s->client_id), T(s->exercise),
                                    real_or_null(s->weight), T(s->unit), real_or_null(s->weight_kg),
                                    int_or_null(s->reps, -1), int_or_null(s->duration_s, -1),
                                    real_or_null(s->distance_m), real_or_null(s->rpe),
                                    I(s->warmup != 0), I(s->performed_at), I((int64_t)s->records)},
             14, read_id, &id, NULL, "add a set", err);
    if (rc)
        return rc;
    *created = id > 0;
    rc = set_get_by_client(st, owner, s->client_id, s, err);
    if (rc == GH_ENOTFOUND) /* neither inserted nor there: the workout is not owner's */
        rc = not_found(err, "workout", s->workout_id);
    return rc;
}

int gh_store_set_update(struct gh_store *st, const char *owner, const struct gh_wset *s,
                        struct gh_err *err)
{
    int64_t changed = 0;
    int rc = check_owner(st, owner, err);

    if (rc == GH_OK)
        rc = run(
            st,
            "UPDATE workout_sets SET weight = ?4, unit = ?5, weight_kg = ?6, reps = ?7,"
            " duration_s = ?8, distance_m = ?9, rpe = ?10, warmup = ?11, records = ?12"
            " WHERE owner = ?1 AND workout_id = ?2 AND id = ?3",
            (struct gh_rows_arg[]){T(owner), I(s->workout_id), I(s->id), real_or_null(s->weight),
                                   T(s->unit), real_or_null(s->weight_kg), int_or_null(s->reps, -1),
                                   int_or_null(s->duration_s, -1), real_or_null(s->distance_m),
                                   real_or_null(s->rpe), I(s->warmup != 0), I((int64_t)s->records)},
            12, NULL, NULL, &changed, "update a set", err);
    if (rc == GH_OK && changed == 0)
        rc = not_found(err, "set", s->id);
    return rc;
}

int gh_store_set_delete(struct gh_store *st, const char *owner, int64_t workout_id, int64_t set_id,
                        struct gh_err *err)
{
    int64_t changed = 0;
    int rc = check_owner(st, owner, err);

    if (rc == GH_OK)
        rc = run(st, "DELETE FROM workout_sets WHERE owner = ?1 AND workout_id = ?2 AND id = ?3",
                 (struct gh_rows_arg[]){T(owner), I(workout_id), I(set_id)}, 3, NULL, NULL,
                 &changed, "delete a set", err);
    if (rc == GH_OK && changed == 0)
        rc = not_found(err, "set", set_id);
    return rc;
}

int gh_store_set_query(struct gh_store *st, const char *owner, const struct gh_set_filter *f,
                       struct gh_wset **out, size_t *n_out, struct gh_err *err)
{
    struct set_page p = {NULL, 0, 0, GH_SETS_QUERY_MAX};
    int64_t warm = f->working_only ? 0 : 1;
    int rc = check_owner(st, owner, err);

    *out = NULL;
    *n_out = 0;
    if (rc)
        return rc;
    if (f->workout_id)
        rc = run(st,
                 "SELECT " SET_COLS SET_FROM " WHERE s.owner = ?1 AND s.workout_id = ?2"
                 " AND s.performed_at >= ?3 AND s.warmup <= ?4 ORDER BY s.performed_at, s.id",
                 (struct gh_rows_arg[]){T(owner), I(f->workout_id), I(f->since), I(warm)}, 4,
                 read_set, &p, NULL, "read sets", err);
    else if (f->exercise && f->exercise[0])
        rc = run(st,
                 "SELECT " SET_COLS SET_FROM " WHERE s.owner = ?1 AND s.exercise = ?2"
                 " AND s.performed_at >= ?3 AND s.warmup <= ?4 ORDER BY s.performed_at, s.id",
                 (struct gh_rows_arg[]){T(owner), T(f->exercise), I(f->since), I(warm)}, 4,
                 read_set, &p, NULL, "read sets", err);
    else
        rc = run(st,
                 "SELECT " SET_COLS SET_FROM " WHERE s.owner = ?1 AND s.performed_at >= ?2"
                 " AND s.warmup <= ?3 ORDER BY s.performed_at, s.id",
                 (struct gh_rows_arg[]){T(owner), I(f->since), I(warm)}, 3, read_set, &p, NULL,
                 "read sets", err);
    if (rc == GH_ENOMEM)
        gh_err_set(err, rc, "out of memory");
    if (rc) {
        gh_free(p.v);
        return rc;
    }
    *out = p.v;
    *n_out = p.n;
    return GH_OK;
}

struct count_page {
    struct gh_set_count *v;
    size_t n, cap;
};

static int read_count(void *ctx, const struct gh_rows_cur *c)
{
    struct count_page *p = ctx;

    if (p->n == GH_SETS_QUERY_MAX)
        return GH_OK;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct gh_set_count *v = gh_realloc(p->v, cap * sizeof *v);

        if (!v)
            return GH_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    snprintf(p->v[p->n].exercise, sizeof p->v[p->n].exercise, "%s", c->text(c, 0));
    p->v[p->n].day = c->i64(c, 1);
    p->v[p->n++].n = c->i64(c, 2);
    return GH_OK;
}

int gh_store_set_counts(struct gh_store *st, const char *owner, int64_t since,
                        struct gh_set_count **out, size_t *n_out, struct gh_err *err)
{
    struct count_page p = {NULL, 0, 0};
    int rc = check_owner(st, owner, err);

    *out = NULL;
    *n_out = 0;
    if (rc)
        return rc;
    rc = run(st,
             "SELECT exercise, performed_at / 86400, count(*) FROM workout_sets"
             " WHERE owner = ?1 AND performed_at >= ?2 AND warmup = 0"
             " GROUP BY exercise, performed_at / 86400",
             (struct gh_rows_arg[]){T(owner), I(since < 0 ? 0 : since)}, 2, read_count, &p, NULL,
             "count sets", err);
    if (rc == GH_ENOMEM)
        gh_err_set(err, rc, "out of memory");
    if (rc) {
        gh_free(p.v);
        return rc;
    }
    *out = p.v;
    *n_out = p.n;
    return GH_OK;
}

/* ---- import ---- */

#define IMPORT_BATCH 100
#define IMPORT_COLS  14

/* "INSERT ... VALUES (?1..?14), (?15..?28), ... ON CONFLICT DO NOTHING RETURNING id" for n
 * rows; gh_malloc'd. */
static char *import_sql(size_t n)
{
    static const char head[] =
        "INSERT INTO workout_sets (workout_id, owner, client_id, exercise, weight, unit,"
        " weight_kg, reps, duration_s, distance_m, rpe, warmup, performed_at, records) VALUES ";
    static const char tail[] = " ON CONFLICT (owner, client_id) DO NOTHING RETURNING id";
    size_t cap = sizeof head + sizeof tail + n * IMPORT_COLS * 8 + n * 4, len;
    char *sql = gh_malloc(cap);

    if (!sql)
        return NULL;
    len = (size_t)snprintf(sql, cap, "%s", head);
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(sql + len, cap - len, "%s(", i ? ", " : "");
        for (size_t k = 0; k < IMPORT_COLS; k++)
            len += (size_t)snprintf(sql + len, cap - len, "%s?%zu", k ? ", " : "",
                                    i * IMPORT_COLS + k + 1);
        len += (size_t)snprintf(sql + len, cap - len, ")");
    }
    snprintf(sql + len, cap - len, "%s", tail);
    return sql;
}

static int count_row(void *ctx, const struct gh_rows_cur *c)
{
    (void)c;
    (*(int64_t *)ctx)++;
    return GH_OK;
}

static void import_args(struct gh_rows_arg *a, const char *owner, const struct gh_wset *s,
                        int64_t workout_id)
{
    a[0] = I(workout_id);
    a[1] = T(owner);
    a[2] = T(s->client_id);
    a[3] = T(s->exercise);
    a[4] = real_or_null(s->weight);
    a[5] = T(s->unit);
    a[6] = real_or_null(s->weight_kg);
    a[7] = int_or_null(s->reps, -1);
    a[8] = int_or_null(s->duration_s, -1);
    a[9] = real_or_null(s->distance_m);
    a[10] = real_or_null(s->rpe);
    a[11] = I(s->warmup != 0);
    a[12] = I(s->performed_at);
    a[13] = I((int64_t)s->records);
}

struct import_job {
    const struct gh_store_rows_ops *ops;
    struct gh_rows *r;
    const char *owner;
    int64_t *ids; /* the stored id of each workout */
    char *sql_full, *sql_tail;
    struct gh_rows_arg *args;
};

static int import_sets(struct import_job *j, const struct gh_wset *sets, size_t n_sets, size_t n_ws,
                       int64_t *imported, struct gh_err *err)
{
    int rc = GH_OK;

    for (size_t at = 0; rc == GH_OK && at < n_sets; at += IMPORT_BATCH) {
        size_t n = n_sets - at < IMPORT_BATCH ? n_sets - at : IMPORT_BATCH;
        char *sql = n == IMPORT_BATCH ? j->sql_full : j->sql_tail;

        if (!sql) {
            sql = import_sql(n);
            if (!sql)
                return gh_err_set(err, GH_ENOMEM, "out of memory");
            *(n == IMPORT_BATCH ? &j->sql_full : &j->sql_tail) = sql;
        }
        for (size_t i = 0; i < n; i++) {
            const struct gh_wset *s = &sets[at + i];

            if (s->workout_id < 0 || (size_t)s->workout_id >= n_ws)
                return gh_err_set(err, GH_EINVAL, "a set names no workout of the import");
            import_args(&j->args[i * IMPORT_COLS], j->owner, s, j->ids[s->workout_id]);
        }
        rc = j->ops->exec(j->r, sql, j->args, (int)(n * IMPORT_COLS), count_row, imported, NULL,
                          "import sets", err);
    }
    return rc;
}

int gh_store_workouts_import(struct gh_store *st, const char *owner, struct gh_workout *ws,
                             size_t n_ws, struct gh_wset *sets, size_t n_sets, int64_t *imported,
                             int64_t *duplicates, struct gh_err *err)
{
    struct import_job j = {0};
    int rc = check_owner(st, owner, err), created;

    *imported = *duplicates = 0;
    if (rc)
        return rc;
    for (size_t i = 0; i < n_sets; i++)
        if ((rc = check_client_id(sets[i].client_id, err)) != GH_OK)
            return rc;
    j.ops = st->ops->rows;
    j.owner = owner;
    j.ids = gh_malloc_array(n_ws ? n_ws : 1, sizeof *j.ids);
    j.args = gh_malloc_array(IMPORT_BATCH * IMPORT_COLS, sizeof *j.args);
    if (!j.ids || !j.args) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory");
        goto out;
    }
    rc = j.ops->open(st, 1, &j.r, err);
    for (size_t i = 0; rc == GH_OK && i < n_ws; i++) {
        rc = check_client_id(ws[i].client_id, err);
        if (rc == GH_OK)
            rc = workout_insert(j.ops, j.r, owner, &ws[i], &j.ids[i], &created, err);
        ws[i].id = j.ids[i];
    }
    if (rc == GH_OK)
        rc = import_sets(&j, sets, n_sets, n_ws, imported, err);
    if (j.r)
        rc = j.ops->close(j.r, rc, err);
    if (rc == GH_OK)
        *duplicates = (int64_t)n_sets - *imported;
    else
        *imported = 0;
out:
    gh_free(j.sql_full);
    gh_free(j.sql_tail);
    gh_free(j.args);
    gh_free(j.ids);
    return rc;
}
