/* SPDX-License-Identifier: MIT */
/* Shared inside the catalogue module: the loaded catalogue and the exercise part's entry
 * points, which catalogue.c calls while it loads. */
#ifndef GH_CATALOGUE_INTERNAL_H
#define GH_CATALOGUE_INTERNAL_H

#include "gh/catalogue.h"

#include <jansson.h>

/* One name or alias's key and the exercise it names, sorted by key for bsearch. */
struct gh_name_key {
    const char *key;
    const struct gh_exercise *exercise;
};

struct gh_catalogue {
    json_t *doc; /* owns every string the entries point to */
    const char *version;
    struct gh_equipment *items;
    size_t n_items;
    struct gh_category *categories;
    size_t n_categories;
    const char **strv_pool; /* backing arrays of every gh_strv, one allocation */
    size_t strv_used, strv_cap;
    char **json_texts; /* entry JSON, one per item */
    struct gh_exercise *exercises;
    size_t n_exercises;
    char **exercise_texts;    /* exercise JSON, one per exercise */
    struct gh_name_key *keys; /* every name and alias, sorted by key */
    size_t n_keys;
    char *key_pool; /* the keys' text, one allocation */
};

/* Where a check failed, for messages. */
struct gh_catalogue_ctx {
    const char *origin;
    const char *slug; /* entry being checked */
    size_t index;
    struct gh_err *err;
};

/* Pointers into cat->strv_pool for the strings of array field (absent: empty when optional,
 * else an error). Shared by equipment and exercise parsing. */
int gh_catalogue_strv(struct gh_catalogue *cat, struct gh_catalogue_ctx *c, const char *what,
                      json_t *obj, const char *field, int may_be_empty, int optional,
                      struct gh_strv *out);

/* Parses the optional "exercises" array after the equipment, checks the links both ways and
 * builds the name keys and the exercises' JSON. */
int gh_catalogue_parse_exercises(struct gh_catalogue *cat, const char *origin, struct gh_err *err);

/* The served JSON of equipment q: a copy of its entry with the "exercises" slugs replaced by
 * {slug, name, pattern, measure} objects. A new reference, or NULL when out of memory. */
json_t *gh_catalogue_equipment_json(const struct gh_catalogue *cat, const struct gh_equipment *q,
                                    json_t *entry);

void gh_catalogue_free_exercises(struct gh_catalogue *cat);

#endif
