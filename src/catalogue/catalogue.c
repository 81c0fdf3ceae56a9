/* SPDX-License-Identifier: MIT */
/* Catalogue loader: parses the JSON with jansson, checks every field of every entry, and
 * keeps the parsed document alive so entries can point into it without copying strings. */
#include "gh/catalogue.h"
#include "gh/alloc.h"
#include "gh/file.h"
#include "internal.h"

#include <jansson.h>
#include <string.h>

/* Defined in the build-generated catalogue_data.c (scripts/embed.py). */
extern const unsigned char gh_catalogue_json[];
extern const size_t gh_catalogue_json_len;

#define CATALOGUE_MAX_BYTES (8u << 20)

#define ctx gh_catalogue_ctx

static int bad_in(struct ctx *c, const char *kind, const char *field, const char *what)
{
    if (c->slug)
        return gh_err_set(c->err, GH_EINVAL, "%s: %s '%s': field '%s' %s", c->origin, kind, c->slug,
                          field, what);
    return gh_err_set(c->err, GH_EINVAL, "%s: %s #%zu: field '%s' %s", c->origin, kind,
                      c->index + 1, field, what);
}

static int bad(struct ctx *c, const char *field, const char *what)
{
    return bad_in(c, "equipment", field, what);
}

static int get_string(struct ctx *c, json_t *obj, const char *field, const char **out)
{
    json_t *v = json_object_get(obj, field);

    if (!v)
        return bad(c, field, "is missing");
    if (!json_is_string(v))
        return bad(c, field, "must be a string");
    if (json_string_length(v) == 0)
        return bad(c, field, "is empty");
    *out = json_string_value(v);
    return GH_OK;
}

static int get_int(struct ctx *c, json_t *obj, const char *field, int min, int max, int *out)
{
    json_t *v = json_object_get(obj, field);

    if (!v)
        return bad(c, field, "is missing");
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return bad(c, field, "must be a whole number in range");
    *out = (int)json_integer_value(v);
    return GH_OK;
}

int gh_catalogue_strv(struct gh_catalogue *cat, struct ctx *c, const char *what, json_t *obj,
                      const char *field, int may_be_empty, int optional, struct gh_strv *out)
{
    json_t *v = json_object_get(obj, field), *item;
    size_t i, n;

    out->v = cat->strv_pool;
    out->n = 0;
    if (!v && optional)
        return GH_OK;
    if (!v)
        return bad_in(c, what, field, "is missing");
    if (!json_is_array(v))
        return bad_in(c, what, field, "must be an array of strings");
    n = json_array_size(v);
    if (n == 0 && !may_be_empty)
        return bad_in(c, what, field, "is empty");
    if (cat->strv_used + n > cat->strv_cap)
        return gh_err_set(c->err, GH_EINVAL, "%s: internal string table overflow", c->origin);
    out->v = cat->strv_pool + cat->strv_used;
    out->n = n;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || json_string_length(item) == 0)
            return bad_in(c, what, field, "must hold only non-empty strings");
        cat->strv_pool[cat->strv_used++] = json_string_value(item);
    }
    return GH_OK;
}

static int get_strv(struct gh_catalogue *cat, struct ctx *c, json_t *obj, const char *field,
                    int may_be_empty, struct gh_strv *out)
{
    return gh_catalogue_strv(cat, c, "equipment", obj, field, may_be_empty, 0, out);
}

/* Upper bound of strings held in arrays of the entries of items (NULL: none), to size the
 * pool once. */
static size_t count_array_strings(json_t *items)
{
    size_t i, total = 0;
    json_t *e;

    json_array_foreach(items, i, e)
    {
        const char *k;
        json_t *v;

        json_object_foreach(e, k, v) if (json_is_array(v)) total += json_array_size(v);
    }
    return total;
}

static int category_known(const struct gh_catalogue *cat, const char *id)
{
    for (size_t i = 0; i < cat->n_categories; i++)
        if (strcmp(cat->categories[i].id, id) == 0)
            return 1;
    return 0;
}

static int parse_entry(struct gh_catalogue *cat, struct ctx *c, json_t *e, struct gh_equipment *q)
{
    json_t *pres;
    int rc;

    if (!json_is_object(e))
        return gh_err_set(c->err, GH_EINVAL, "%s: equipment #%zu is not an object", c->origin,
                          c->index + 1);
    c->slug = NULL;
    if ((rc = get_string(c, e, "slug", &q->slug)))
        return rc;
    c->slug = q->slug;
    if ((rc = get_string(c, e, "name", &q->name)) ||
        (rc = get_string(c, e, "category", &q->category)) ||
        (rc = get_string(c, e, "description", &q->description)) ||
        (rc = get_string(c, e, "visual_description", &q->visual_description)) ||
        (rc = get_strv(cat, c, e, "aliases", 0, &q->aliases)) ||
        (rc = get_strv(cat, c, e, "primary_muscles", 0, &q->primary_muscles)) ||
        (rc = get_strv(cat, c, e, "secondary_muscles", 1, &q->secondary_muscles)) ||
        (rc = get_strv(cat, c, e, "setup", 0, &q->setup)) ||
        (rc = get_strv(cat, c, e, "instructions", 0, &q->instructions)) ||
        (rc = get_strv(cat, c, e, "safety_tips", 0, &q->safety_tips)) ||
        (rc = get_strv(cat, c, e, "common_mistakes", 0, &q->common_mistakes)) ||
        (rc = get_strv(cat, c, e, "video_urls", 0, &q->video_urls)) ||
        (rc = get_strv(cat, c, e, "confused_with", 1, &q->confused_with)) ||
        (rc = gh_catalogue_strv(cat, c, "equipment", e, "exercises", 1, 1, &q->exercises)))
        return rc;
    if (!category_known(cat, q->category))
        return bad(c, "category", "names no category of the catalogue");
    pres = json_object_get(e, "beginner_prescription");
    if (!json_is_object(pres))
        return bad(c, "beginner_prescription", "must be an object");
    if ((rc = get_int(c, pres, "sets", 1, 20, &q->beginner.sets)) ||
        (rc = get_string(c, pres, "reps", &q->beginner.reps)) ||
        (rc = get_int(c, pres, "rest_seconds", 0, 600, &q->beginner.rest_seconds)) ||
        (rc = get_string(c, pres, "notes", &q->beginner.notes)))
        return rc;
    for (size_t i = 0; i < q->video_urls.n; i++)
        if (strncmp(q->video_urls.v[i], "https://", 8) != 0)
            return bad(c, "video_urls", "must hold https:// links");
    return GH_OK;
}

static int parse_categories(struct gh_catalogue *cat, json_t *arr, struct ctx *c)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return gh_err_set(c->err, GH_EINVAL, "%s: 'categories' must be a non-empty array",
                          c->origin);
    cat->categories = gh_malloc_array(json_array_size(arr), sizeof *cat->categories);
    if (!cat->categories)
        return gh_err_set(c->err, GH_ENOMEM, "out of memory loading the catalogue");
    json_array_foreach(arr, i, v)
    {
        json_t *id = json_object_get(v, "id"), *name = json_object_get(v, "name");

        if (!json_is_string(id) || !json_is_string(name) || !json_string_length(id))
            return gh_err_set(c->err, GH_EINVAL, "%s: category #%zu needs string 'id' and 'name'",
                              c->origin, i + 1);
        if (category_known(cat, json_string_value(id)))
            return gh_err_set(c->err, GH_EINVAL, "%s: category '%s' appears twice", c->origin,
                              json_string_value(id));
        cat->categories[i].id = json_string_value(id);
        cat->categories[i].name = json_string_value(name);
        cat->n_categories = i + 1;
    }
    return GH_OK;
}

/* Slugs unique; confused_with names other existing slugs. */
static int check_links(struct gh_catalogue *cat, struct ctx *c)
{
    for (size_t i = 0; i < cat->n_items; i++) {
        const struct gh_equipment *q = &cat->items[i];

        c->slug = q->slug;
        for (size_t j = 0; j < i; j++)
            if (strcmp(cat->items[j].slug, q->slug) == 0)
                return gh_err_set(c->err, GH_EINVAL, "%s: slug '%s' appears twice", c->origin,
                                  q->slug);
        for (size_t k = 0; k < q->confused_with.n; k++) {
            const char *s = q->confused_with.v[k];

            if (strcmp(s, q->slug) == 0)
                return bad(c, "confused_with", "names the entry itself");
            if (!gh_catalogue_find(cat, s))
                return gh_err_set(c->err, GH_EINVAL,
                                  "%s: equipment '%s': confused_with names unknown slug '%s'",
                                  c->origin, q->slug, s);
        }
    }
    return GH_OK;
}

static int make_json_texts(struct gh_catalogue *cat, json_t *items, struct gh_err *err)
{
    cat->json_texts = gh_malloc_array(cat->n_items, sizeof *cat->json_texts);
    if (!cat->json_texts)
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
    memset(cat->json_texts, 0, cat->n_items * sizeof *cat->json_texts);
    for (size_t i = 0; i < cat->n_items; i++) {
        json_t *e = gh_catalogue_equipment_json(cat, &cat->items[i], json_array_get(items, i));
        char *s;

        if (!e || json_object_set_new(e, "id", json_integer(cat->items[i].id)) != 0) {
            json_decref(e);
            return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
        }
        s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        json_decref(e);
        if (!s)
            return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
        cat->json_texts[i] = s;
        cat->items[i].json = s;
    }
    return GH_OK;
}

static int parse_doc(struct gh_catalogue *cat, const char *origin, struct gh_err *err)
{
    struct ctx c = {origin, NULL, 0, err};
    json_t *items = json_object_get(cat->doc, "equipment"), *e, *ver;
    size_t i;
    int rc;

    ver = json_object_get(cat->doc, "version");
    if (!json_is_string(ver) || json_string_length(ver) == 0)
        return gh_err_set(err, GH_EINVAL, "%s: 'version' must be a non-empty string", origin);
    cat->version = json_string_value(ver);
    rc = parse_categories(cat, json_object_get(cat->doc, "categories"), &c);
    if (rc)
        return rc;
    if (!json_is_array(items) || json_array_size(items) == 0)
        return gh_err_set(err, GH_EINVAL, "%s: 'equipment' must be a non-empty array", origin);
    cat->strv_cap = count_array_strings(items);
    if (json_is_array(json_object_get(cat->doc, "exercises")))
        cat->strv_cap += count_array_strings(json_object_get(cat->doc, "exercises"));
    cat->strv_pool = gh_malloc_array(cat->strv_cap ? cat->strv_cap : 1, sizeof(char *));
    cat->items = gh_malloc_array(json_array_size(items), sizeof *cat->items);
    if (!cat->strv_pool || !cat->items)
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
    json_array_foreach(items, i, e)
    {
        c.index = i;
        memset(&cat->items[i], 0, sizeof cat->items[i]);
        cat->items[i].id = (int)i + 1;
        rc = parse_entry(cat, &c, e, &cat->items[i]);
        if (rc)
            return rc;
        cat->n_items = i + 1;
    }
    rc = check_links(cat, &c);
    if (rc)
        return rc;
    rc = gh_catalogue_parse_exercises(cat, origin, err);
    if (rc)
        return rc;
    return make_json_texts(cat, items, err);
}

int gh_catalogue_load_buffer(const char *buf, size_t len, const char *origin,
                             struct gh_catalogue **out, struct gh_err *err)
{
    struct gh_catalogue *cat = NULL;
    json_error_t jerr;
    int rc;

    *out = NULL;
    cat = gh_malloc(sizeof *cat);
    if (!cat)
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the catalogue");
    memset(cat, 0, sizeof *cat);
    cat->doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!cat->doc || !json_is_object(cat->doc)) {
        rc = cat->doc ? gh_err_set(err, GH_EINVAL, "%s: must be a JSON object", origin)
                      : gh_err_set(err, GH_EINVAL, "%s: line %d: %s", origin, jerr.line, jerr.text);
        goto out;
    }
    rc = parse_doc(cat, origin, err);
out:
    if (rc) {
        gh_catalogue_free(cat);
        return rc;
    }
    *out = cat;
    return GH_OK;
}

int gh_catalogue_load_file(const char *path, struct gh_catalogue **out, struct gh_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    struct gh_err rerr = {0};
    int rc = gh_file_read(path, CATALOGUE_MAX_BYTES, &buf, &len, &rerr);

    *out = NULL;
    if (rc) /* gh_file_read gives the reason; CATALOGUE_PATH users need the path too */
        return gh_err_set(err, rc, "catalogue %s: %s", path, rerr.msg);
    rc = gh_catalogue_load_buffer((const char *)buf, len, path, out, err);
    gh_free(buf);
    return rc;
}

int gh_catalogue_load_embedded(struct gh_catalogue **out, struct gh_err *err)
{
    return gh_catalogue_load_buffer((const char *)gh_catalogue_json, gh_catalogue_json_len,
                                    "embedded catalogue", out, err);
}

void gh_catalogue_free(struct gh_catalogue *cat)
{
    if (!cat)
        return;
    if (cat->json_texts)
        for (size_t i = 0; i < cat->n_items; i++)
            gh_free(cat->json_texts[i]); /* jansson allocates with malloc; gh_free is free */
    gh_free(cat->json_texts);
    gh_catalogue_free_exercises(cat);
    gh_free(cat->items);
    gh_free(cat->categories);
    gh_free(cat->strv_pool);
    json_decref(cat->doc);
    gh_free(cat);
}

const char *gh_catalogue_version(const struct gh_catalogue *cat)
{
    return cat->version;
}

size_t gh_catalogue_count(const struct gh_catalogue *cat)
{
    return cat->n_items;
}

const struct gh_equipment *gh_catalogue_at(const struct gh_catalogue *cat, size_t i)
{
    return i < cat->n_items ? &cat->items[i] : NULL;
}

const struct gh_equipment *gh_catalogue_find(const struct gh_catalogue *cat, const char *slug)
{
    for (size_t i = 0; i < cat->n_items; i++)
        if (strcmp(cat->items[i].slug, slug) == 0)
            return &cat->items[i];
    return NULL;
}

size_t gh_catalogue_n_categories(const struct gh_catalogue *cat)
{
    return cat->n_categories;
}

const struct gh_category *gh_catalogue_category_at(const struct gh_catalogue *cat, size_t i)
{
    return i < cat->n_categories ? &cat->categories[i] : NULL;
}
