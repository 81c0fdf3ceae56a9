/* SPDX-License-Identifier: MIT */
/* The catalogue's exercises: parsing and checking them (muscles, pattern, measure, links to
 * the equipment both ways), their served JSON, and mapping other apps' exercise names
 * ("Bench Press (Barbell)") to them through normalised name keys. Nothing here allocates after
 * load; lookups are a key build on the stack and a binary search. */
#include "gh/alloc.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* catalogue/check.py holds the same lists; catalogue/README.md documents them. */
static const char *const MUSCLES[] = {
    "chest",     "upper_chest", "front_delts", "side_delts",     "rear_delts", "triceps",
    "biceps",    "forearms",    "lats",        "upper_back",     "traps",      "lower_back",
    "abs",       "obliques",    "glutes",      "quads",          "hamstrings", "adductors",
    "abductors", "calves",      "hip_flexors", "cardiovascular",
};
static const char *const PATTERNS[] = {"push", "pull", "hinge", "squat", "carry", "core", "cardio"};
static const char *const MEASURES[] = {"weight_reps", "reps", "time", "distance"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define KEY_CAP (GH_EXERCISE_NAME_MAX + 1)

static int in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static int strv_has(const struct gh_strv *v, const char *s)
{
    return in_list(v->v, v->n, s);
}

const char *gh_exercise_vocab(const char *which, size_t i)
{
    if (strcmp(which, "muscle") == 0)
        return i < N_OF(MUSCLES) ? MUSCLES[i] : NULL;
    if (strcmp(which, "pattern") == 0)
        return i < N_OF(PATTERNS) ? PATTERNS[i] : NULL;
    if (strcmp(which, "measure") == 0)
        return i < N_OF(MEASURES) ? MEASURES[i] : NULL;
    return NULL;
}

/* ---- name keys ---- */

static int is_alnum(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static int ends(const char *w, size_t n, const char *tail)
{
    size_t t = strlen(tail);

    return n >= t && memcmp(w + n - t, tail, t) == 0;
}

/* English plural to singular, just enough for exercise names; check.py's _singular(). */
static void singular(char *w)
{
    size_t n = strlen(w);

    if (n > 4 && ends(w, n, "ies")) {
        w[n - 3] = 'y';
        w[n - 2] = '\0';
    } else if (n > 4 && (ends(w, n, "ches") || ends(w, n, "shes") || ends(w, n, "sses") ||
                         ends(w, n, "xes"))) {
        w[n - 2] = '\0';
    } else if (n >= 3 && w[n - 1] == 's' && !ends(w, n, "ss") && !ends(w, n, "us") &&
               !ends(w, n, "is")) {
        w[n - 1] = '\0';
    }
}

static int cmp_word(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int gh_exercise_name_key(const char *name, char *out, size_t cap)
{
    char buf[KEY_CAP + 1];
    char *words[KEY_CAP / 2 + 1];
    size_t n = strnlen(name, GH_EXERCISE_NAME_MAX + 1), len = 0, n_words = 0, at = 0;
    const unsigned char *p = (const unsigned char *)name;

    if (cap)
        out[0] = '\0';
    if (n > GH_EXERCISE_NAME_MAX)
        return GH_ETOOBIG;
    /* words separated by single NULs; apostrophes (ASCII and U+2019) vanish */
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\'')
            continue;
        if (p[i] == 0xE2 && i + 2 < n && p[i + 1] == 0x80 && p[i + 2] == 0x99) {
            i += 2;
            continue;
        }
        if (is_alnum(p[i])) {
            if (len == 0 || buf[len - 1] == '\0')
                words[n_words++] = buf + len;
            buf[len++] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
        } else if (len > 0 && buf[len - 1] != '\0') {
            buf[len++] = '\0';
        }
    }
    buf[len] = '\0';
    if (n_words == 0)
        return GH_EINVAL;
    for (size_t i = 0; i < n_words; i++)
        singular(words[i]);
    qsort(words, n_words, sizeof words[0], cmp_word);
    for (size_t i = 0; i < n_words; i++) {
        size_t w = strlen(words[i]);

        if (at + (i > 0) + w + 1 > cap)
            return GH_ETOOBIG;
        if (i > 0)
            out[at++] = ' ';
        memcpy(out + at, words[i], w);
        at += w;
        out[at] = '\0';
    }
    return GH_OK;
}

/* ---- parsing ---- */

static int bad(struct gh_catalogue_ctx *c, const char *field, const char *what)
{
    if (c->slug)
        return gh_err_set(c->err, GH_EINVAL, "%s: exercise '%s': field '%s' %s", c->origin, c->slug,
                          field, what);
    return gh_err_set(c->err, GH_EINVAL, "%s: exercise #%zu: field '%s' %s", c->origin,
                      c->index + 1, field, what);
}

static int get_text(struct gh_catalogue_ctx *c, json_t *obj, const char *field, const char **out)
{
    json_t *v = json_object_get(obj, field);

    if (!v)
        return bad(c, field, "is missing");
    if (!json_is_string(v) || json_string_length(v) == 0)
        return bad(c, field, "must be a non-empty string");
    *out = json_string_value(v);
    return GH_OK;
}

static int check_slug(struct gh_catalogue_ctx *c, const char *s)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return bad(c, "slug", "must be lowercase kebab-case (a-z, 0-9, -)");
    return GH_OK;
}

static int check_muscles(struct gh_catalogue_ctx *c, const char *field, const struct gh_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        if (!in_list(MUSCLES, N_OF(MUSCLES), v->v[i]))
            return gh_err_set(c->err, GH_EINVAL,
                              "%s: exercise '%s': %s '%s' is not in the muscle vocabulary",
                              c->origin, c->slug, field, v->v[i]);
    return GH_OK;
}

static int parse_one(struct gh_catalogue *cat, struct gh_catalogue_ctx *c, json_t *e,
                     struct gh_exercise *x)
{
    int rc;

    if (!json_is_object(e))
        return gh_err_set(c->err, GH_EINVAL, "%s: exercise #%zu is not an object", c->origin,
                          c->index + 1);
    c->slug = NULL;
    if ((rc = get_text(c, e, "slug", &x->slug)) || (rc = check_slug(c, x->slug)))
        return rc;
    c->slug = x->slug;
    if ((rc = get_text(c, e, "name", &x->name)) || (rc = get_text(c, e, "pattern", &x->pattern)) ||
        (rc = get_text(c, e, "measure", &x->measure)) ||
        (rc = gh_catalogue_strv(cat, c, "exercise", e, "aliases", 1, 0, &x->aliases)) ||
        (rc = gh_catalogue_strv(cat, c, "exercise", e, "equipment", 1, 0, &x->equipment)) ||
        (rc = gh_catalogue_strv(cat, c, "exercise", e, "primary_muscles", 0, 0,
                                &x->primary_muscles)) ||
        (rc = gh_catalogue_strv(cat, c, "exercise", e, "secondary_muscles", 1, 0,
                                &x->secondary_muscles)))
        return rc;
    if (!in_list(PATTERNS, N_OF(PATTERNS), x->pattern))
        return bad(c, "pattern", "must be push, pull, hinge, squat, carry, core or cardio");
    if (!in_list(MEASURES, N_OF(MEASURES), x->measure))
        return bad(c, "measure", "must be weight_reps, reps, time or distance");
    if ((rc = check_muscles(c, "primary_muscles", &x->primary_muscles)) ||
        (rc = check_muscles(c, "secondary_muscles", &x->secondary_muscles)))
        return rc;
    for (size_t i = 0; i < x->primary_muscles.n; i++)
        if (strv_has(&x->secondary_muscles, x->primary_muscles.v[i]))
            return bad(c, "secondary_muscles", "repeats a primary muscle");
    return GH_OK;
}

/* exercise.equipment and equipment.exercises name each other, both ends exist. */
static int check_links(struct gh_catalogue *cat, const char *origin, struct gh_err *err)
{
    for (size_t i = 0; i < cat->n_exercises; i++) {
        const struct gh_exercise *x = &cat->exercises[i];

        for (size_t j = 0; j < i; j++)
            if (strcmp(cat->exercises[j].slug, x->slug) == 0)
                return gh_err_set(err, GH_EINVAL, "%s: exercise slug '%s' appears twice", origin,
                                  x->slug);
        for (size_t k = 0; k < x->equipment.n; k++) {
            const struct gh_equipment *q = gh_catalogue_find(cat, x->equipment.v[k]);

            if (!q)
                return gh_err_set(err, GH_EINVAL,
                                  "%s: exercise '%s': equipment '%s' is not "
                                  "in the catalogue",
                                  origin, x->slug, x->equipment.v[k]);
            if (!strv_has(&q->exercises, x->slug))
                return gh_err_set(err, GH_EINVAL,
                                  "%s: exercise '%s' names equipment '%s', "
                                  "whose exercises do not list it",
                                  origin, x->slug, q->slug);
        }
    }
    for (size_t i = 0; i < cat->n_items; i++) {
        const struct gh_equipment *q = &cat->items[i];

        if (q->exercises.n == 0 && cat->n_exercises > 0)
            return gh_err_set(err, GH_EINVAL,
                              "%s: equipment '%s': field 'exercises' is "
                              "missing or empty",
                              origin, q->slug);
        for (size_t k = 0; k < q->exercises.n; k++) {
            const struct gh_exercise *x = gh_catalogue_find_exercise(cat, q->exercises.v[k]);

            if (!x)
                return gh_err_set(err, GH_EINVAL,
                                  "%s: equipment '%s': exercise '%s' is not "
                                  "in the catalogue",
                                  origin, q->slug, q->exercises.v[k]);
            if (!strv_has(&x->equipment, q->slug))
                return gh_err_set(err, GH_EINVAL,
                                  "%s: equipment '%s' lists exercise '%s', "
                                  "which does not name it",
                                  origin, q->slug, x->slug);
        }
    }
    return GH_OK;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct gh_name_key *)a)->key, ((const struct gh_name_key *)b)->key);
}

static const char *key_text(const struct gh_exercise *x, size_t k)
{
    return k == 0 ? x->name : x->aliases.v[k - 1];
}

/* Every name and alias gets its key; one key may name one exercise only. */
static int build_keys(struct gh_catalogue *cat, const char *origin, struct gh_err *err)
{
    size_t n = 0, pool = 0, at = 0;

    for (size_t i = 0; i < cat->n_exercises; i++) {
        const struct gh_exercise *x = &cat->exercises[i];

        for (size_t k = 0; k <= x->aliases.n; k++) {
            n++;
            pool += strlen(key_text(x, k)) + 1; /* a key is never longer than its text */
        }
    }
    cat->keys = gh_malloc_array(n ? n : 1, sizeof *cat->keys);
    cat->key_pool = gh_malloc(pool ? pool : 1);
    if (!cat->keys || !cat->key_pool)
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
    for (size_t i = 0; i < cat->n_exercises; i++) {
        const struct gh_exercise *x = &cat->exercises[i];

        for (size_t k = 0; k <= x->aliases.n; k++) {
            const char *text = key_text(x, k);
            int rc = gh_exercise_name_key(text, cat->key_pool + at, pool - at);

            if (rc)
                return gh_err_set(err, GH_EINVAL, "%s: exercise '%s': name or alias '%.80s' %s",
                                  origin, x->slug, text,
                                  rc == GH_ETOOBIG ? "is too long" : "has no letter or digit");
            cat->keys[cat->n_keys].key = cat->key_pool + at;
            cat->keys[cat->n_keys++].exercise = x;
            at += strlen(cat->key_pool + at) + 1;
        }
    }
    qsort(cat->keys, cat->n_keys, sizeof *cat->keys, cmp_key);
    for (size_t i = 1; i < cat->n_keys; i++) {
        const struct gh_exercise *x = cat->keys[i - 1].exercise, *y = cat->keys[i].exercise;

        if (strcmp(cat->keys[i - 1].key, cat->keys[i].key) != 0 || x == y)
            continue;
        if (x > y) { /* name them in file order: qsort does not keep it */
            x = y;
            y = cat->keys[i - 1].exercise;
        }
        return gh_err_set(err, GH_EINVAL,
                          "%s: exercises '%s' and '%s' both have a name or alias that matches "
                          "'%s'",
                          origin, x->slug, y->slug, cat->keys[i].key);
    }
    return GH_OK;
}

/* ---- served JSON ---- */

static json_t *equipment_refs(const struct gh_catalogue *cat, const struct gh_exercise *x)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < x->equipment.n; i++) {
        const struct gh_equipment *q = gh_catalogue_find(cat, x->equipment.v[i]);

        if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "slug", q->slug, "name",
                                                 q->name, "category", q->category)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *gh_catalogue_equipment_json(const struct gh_catalogue *cat, const struct gh_equipment *q,
                                    json_t *entry)
{
    json_t *e = json_deep_copy(entry), *arr = json_array();
    int ok = e && arr;

    for (size_t i = 0; ok && i < q->exercises.n; i++) {
        const struct gh_exercise *x = gh_catalogue_find_exercise(cat, q->exercises.v[i]);

        ok = json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "slug", x->slug, "name",
                                                  x->name, "pattern", x->pattern, "measure",
                                                  x->measure)) == 0;
    }
    ok = ok && json_object_set(e, "exercises", arr) == 0;
    json_decref(arr);
    if (!ok) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static int make_texts(struct gh_catalogue *cat, json_t *arr, struct gh_err *err)
{
    cat->exercise_texts =
        gh_malloc_array(cat->n_exercises ? cat->n_exercises : 1, sizeof *cat->exercise_texts);
    if (!cat->exercise_texts)
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
    memset(cat->exercise_texts, 0, (cat->n_exercises ? cat->n_exercises : 1) * sizeof(char *));
    for (size_t i = 0; i < cat->n_exercises; i++) {
        json_t *e = json_deep_copy(json_array_get(arr, i));
        json_t *refs = equipment_refs(cat, &cat->exercises[i]);
        char *s = NULL;

        if (e && refs && json_object_set(e, "equipment", refs) == 0)
            s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(refs);
        json_decref(e);
        if (!s)
            return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
        cat->exercise_texts[i] = s;
        cat->exercises[i].json = s;
    }
    return GH_OK;
}

int gh_catalogue_parse_exercises(struct gh_catalogue *cat, const char *origin, struct gh_err *err)
{
    struct gh_catalogue_ctx c = {origin, NULL, 0, err};
    json_t *arr = json_object_get(cat->doc, "exercises"), *e;
    size_t i;
    int rc;

    if (arr && !json_is_array(arr))
        return gh_err_set(err, GH_EINVAL, "%s: 'exercises' must be an array", origin);
    if (arr && json_array_size(arr) > 0) {
        cat->exercises = gh_malloc_array(json_array_size(arr), sizeof *cat->exercises);
        if (!cat->exercises)
            return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
        json_array_foreach(arr, i, e)
        {
            c.index = i;
            memset(&cat->exercises[i], 0, sizeof cat->exercises[i]);
            rc = parse_one(cat, &c, e, &cat->exercises[i]);
            if (rc)
                return rc;
            cat->n_exercises = i + 1;
        }
    }
    if ((rc = check_links(cat, origin, err)) || (rc = build_keys(cat, origin, err)))
        return rc;
    return make_texts(cat, arr, err);
}

void gh_catalogue_free_exercises(struct gh_catalogue *cat)
{
    if (cat->exercise_texts)
        for (size_t i = 0; i < cat->n_exercises; i++)
            gh_free(cat->exercise_texts[i]); /* jansson allocates with malloc */
    gh_free(cat->exercise_texts);
    gh_free(cat->keys);
    gh_free(cat->key_pool);
    gh_free(cat->exercises);
}

/* ---- lookups ---- */

size_t gh_catalogue_n_exercises(const struct gh_catalogue *cat)
{
    return cat->n_exercises;
}

const struct gh_exercise *gh_catalogue_exercise_at(const struct gh_catalogue *cat, size_t i)
{
    return i < cat->n_exercises ? &cat->exercises[i] : NULL;
}

const struct gh_exercise *gh_catalogue_find_exercise(const struct gh_catalogue *cat,
                                                     const char *slug)
{
    for (size_t i = 0; i < cat->n_exercises; i++)
        if (strcmp(cat->exercises[i].slug, slug) == 0)
            return &cat->exercises[i];
    return NULL;
}

static const struct gh_exercise *lookup(const struct gh_catalogue *cat, const char *text)
{
    char key[KEY_CAP];
    struct gh_name_key probe = {key, NULL}, *hit;

    if (cat->n_keys == 0 || gh_exercise_name_key(text, key, sizeof key) != GH_OK)
        return NULL;
    hit = bsearch(&probe, cat->keys, cat->n_keys, sizeof *cat->keys, cmp_key);
    return hit ? hit->exercise : NULL;
}

/* The equipment words of the apps' "(Equipment)" suffixes, as name-key words. */
static const struct {
    const char *word;
    const char *slug;     /* an equipment slug, or NULL */
    const char *category; /* or an equipment category id */
} HINTS[] = {
    {"barbell", "barbell", NULL},       {"dumbbell", "dumbbell", NULL},
    {"kettlebell", "kettlebell", NULL}, {"cable", NULL, "cable"},
    {"machine", NULL, "selectorised"},  {"machine", NULL, "plate_loaded"},
    {"machine", NULL, "cable"},         {"machine", "smith-machine", NULL},
    {"smith", "smith-machine", NULL},   {"ez", "ez-curl-bar", NULL},
    {"band", "resistance-band", NULL},  {"plate", "weight-plates", NULL},
    {"plate", NULL, "plate_loaded"},    {"trap", "trap-bar", NULL},
    {"hex", "trap-bar", NULL},
};

static int uses(const struct gh_catalogue *cat, const struct gh_exercise *x, const char *slug,
                const char *category)
{
    for (size_t i = 0; i < x->equipment.n; i++) {
        const struct gh_equipment *q = gh_catalogue_find(cat, x->equipment.v[i]);

        if ((slug && strcmp(q->slug, slug) == 0) ||
            (category && strcmp(q->category, category) == 0))
            return 1;
    }
    return 0;
}

/* Whether the bracketed equipment of an app's name fits x: no equipment word in it
 * ("Weighted", "Assisted"), one that x is done with, or "Bodyweight" for an exercise that
 * needs no equipment or is not logged with a weight. */
static int hint_fits(const struct gh_catalogue *cat, const struct gh_exercise *x, const char *hint)
{
    char key[KEY_CAP];
    int named = 0;

    if (gh_exercise_name_key(hint, key, sizeof key) != GH_OK)
        return 1;
    for (char *w = key, *sp; w; w = sp ? sp + 1 : NULL) {
        sp = strchr(w, ' ');
        if (sp)
            *sp = '\0';
        if (strcmp(w, "bodyweight") == 0) { /* a bodyweight set, not a loaded one */
            named = 1;
            if (x->equipment.n == 0 || strcmp(x->measure, "weight_reps") != 0)
                return 1;
        }
        for (size_t i = 0; i < N_OF(HINTS); i++) {
            if (strcmp(HINTS[i].word, w) != 0)
                continue;
            named = 1;
            if (uses(cat, x, HINTS[i].slug, HINTS[i].category))
                return 1;
        }
    }
    return !named;
}

/* Splits "Base (Hint)" into base and hint (hint "" when the name ends without brackets). */
static void split_name(const char *name, char *base, char *hint, size_t cap)
{
    size_t n = strnlen(name, cap - 1);
    const char *open;

    while (n > 0 && name[n - 1] == ' ')
        n--;
    memcpy(base, name, n);
    base[n] = '\0';
    hint[0] = '\0';
    if (n == 0 || base[n - 1] != ')' || !(open = strrchr(base, '(')))
        return;
    memcpy(hint, open + 1, (size_t)(base + n - 1 - (open + 1)));
    hint[base + n - 1 - (open + 1)] = '\0';
    base[open - base] = '\0';
}

const struct gh_exercise *gh_catalogue_match_exercise(const struct gh_catalogue *cat,
                                                      const char *app_name)
{
    char base[KEY_CAP], hint[KEY_CAP], both[2 * KEY_CAP + 1];
    const struct gh_exercise *x = lookup(cat, app_name);
    char *dash;

    if (x || strnlen(app_name, KEY_CAP) >= KEY_CAP)
        return x;
    split_name(app_name, base, hint, sizeof base);
    if (hint[0] && (x = lookup(cat, base)) && hint_fits(cat, x, hint))
        return x;
    dash = strstr(base, " - "); /* Hevy's "Name - Variant (Equipment)" */
    if (!dash)
        return NULL;
    *dash = '\0';
    memcpy(both, base, strlen(base));
    both[strlen(base)] = ' ';
    memcpy(both + strlen(base) + 1, hint, strlen(hint) + 1);
    if ((x = lookup(cat, both)))
        return x;
    x = lookup(cat, base);
    return x && hint_fits(cat, x, hint) ? x : NULL;
}
