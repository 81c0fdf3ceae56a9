/* SPDX-License-Identifier: MIT */
/* The equipment catalogue: what gymhelper can recognise and what it tells people about it.
 * Loaded from catalogue/equipment.json (embedded in the binary at build time, or a file),
 * validated strictly, then read-only and shared by every thread. */
#ifndef GH_CATALOGUE_H
#define GH_CATALOGUE_H

#include <stddef.h>

#include "gh/err.h"

/* A list of strings owned by the catalogue. */
struct gh_strv {
    const char *const *v;
    size_t n;
};

struct gh_prescription {
    int sets;
    const char *reps; /* "8-12", or a duration for cardio ("10-20 min") */
    int rest_seconds;
    const char *notes;
};

/* One equipment type. Every pointer is owned by the catalogue and valid until it is freed. */
struct gh_equipment {
    int id; /* 1-based position in the file */
    const char *slug;
    const char *name;
    const char *category; /* a category id, e.g. "selectorised" */
    const char *description;
    const char *visual_description;
    struct gh_strv aliases;
    struct gh_strv primary_muscles;
    struct gh_strv secondary_muscles;
    struct gh_strv setup;
    struct gh_strv instructions;
    struct gh_strv safety_tips;
    struct gh_strv common_mistakes;
    struct gh_strv video_urls;
    struct gh_strv confused_with; /* slugs of this catalogue */
    struct gh_prescription beginner;
    const char *json; /* the entry as compact JSON, as served by the API */
};

struct gh_category {
    const char *id;
    const char *name;
};

struct gh_catalogue;

/* Parses and validates a catalogue from JSON text. origin names the source in messages.
 * Every field of every entry must be present with the right type and non-empty; slugs unique;
 * categories known; confused_with slugs must exist. Errors: GH_EINVAL with a message naming
 * the entry and field, GH_ENOMEM. On success *out is owned by the caller. */
int gh_catalogue_load_buffer(const char *buf, size_t len, const char *origin,
                             struct gh_catalogue **out, struct gh_err *err) GH_MUST_CHECK;

/* Reads path and loads it as above; GH_EIO when it cannot be read. */
int gh_catalogue_load_file(const char *path, struct gh_catalogue **out,
                           struct gh_err *err) GH_MUST_CHECK;

/* Loads the copy embedded in the binary at build time. */
int gh_catalogue_load_embedded(struct gh_catalogue **out, struct gh_err *err) GH_MUST_CHECK;

void gh_catalogue_free(struct gh_catalogue *cat);

/* Read-only accessors; thread-safe. */
const char *gh_catalogue_version(const struct gh_catalogue *cat);
size_t gh_catalogue_count(const struct gh_catalogue *cat);
const struct gh_equipment *gh_catalogue_at(const struct gh_catalogue *cat, size_t i);
/* NULL when slug is not in the catalogue. */
const struct gh_equipment *gh_catalogue_find(const struct gh_catalogue *cat, const char *slug);
size_t gh_catalogue_n_categories(const struct gh_catalogue *cat);
const struct gh_category *gh_catalogue_category_at(const struct gh_catalogue *cat, size_t i);

#endif
