/* SPDX-License-Identifier: MIT */
/* The equipment catalogue: what gymhelper can recognise and what it tells people about it,
 * and the exercises done with that equipment (with the mapping of other apps' exercise names).
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
    struct gh_strv exercises;     /* exercise slugs; empty only in a catalogue without them */
    struct gh_prescription beginner;
    const char *json; /* the entry as compact JSON, as served by the API; its "exercises"
                         holds {slug, name, pattern, measure} objects, not bare slugs */
};

/* One exercise. Every pointer is owned by the catalogue and valid until it is freed. */
struct gh_exercise {
    const char *slug;
    const char *name;
    const char *pattern; /* push pull hinge squat carry core cardio */
    const char *measure; /* weight_reps reps time distance */
    struct gh_strv aliases;
    struct gh_strv equipment; /* equipment slugs; empty when it needs none */
    struct gh_strv primary_muscles;
    struct gh_strv secondary_muscles;
    const char *json; /* compact JSON as served; "equipment" holds {slug, name, category} */
};

struct gh_category {
    const char *id;
    const char *name;
};

struct gh_catalogue;

/* Parses and validates a catalogue from JSON text. origin names the source in messages.
 * Every field of every entry must be present with the right type and non-empty; slugs unique;
 * categories known; confused_with slugs must exist. The "exercises" array is optional (a
 * catalogue without it has no exercises); when present every exercise needs known muscles,
 * pattern and measure, a name and aliases that match no other exercise (gh_exercise_name_key),
 * and exercise.equipment and equipment.exercises must name each other, every equipment at
 * least one exercise. Errors: GH_EINVAL with a message naming the entry and field,
 * GH_ENOMEM. On success *out is owned by the caller. */
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

/* Exercises, in file order; thread-safe. find: NULL when slug is not an exercise. */
size_t gh_catalogue_n_exercises(const struct gh_catalogue *cat);
const struct gh_exercise *gh_catalogue_exercise_at(const struct gh_catalogue *cat, size_t i);
const struct gh_exercise *gh_catalogue_find_exercise(const struct gh_catalogue *cat,
                                                     const char *slug);

/* The i-th word of an exercise vocabulary ("muscle", "pattern" or "measure"), or NULL past
 * the end or for another name: what filters may ask for and what messages list. */
const char *gh_exercise_vocab(const char *which, size_t i);

/* GH_EXERCISE_NAME_MAX: the longest name gh_catalogue_match_exercise looks at, in bytes. */
#define GH_EXERCISE_NAME_MAX 200

/* Writes the matching key of an exercise name into out (cap bytes, NUL-terminated): ASCII
 * lower case, apostrophes dropped, every other run of non-alphanumeric bytes a word break,
 * each word made singular ("raises" -> "raise", "flies" -> "fly", "crunches" -> "crunch"),
 * the words sorted. "Bench Press (Barbell)" and "barbell bench-presses" share a key.
 * catalogue/check.py's name_key() is the same function. GH_EINVAL when name has no letter or
 * digit, GH_ETOOBIG when it is over GH_EXERCISE_NAME_MAX bytes or the key does not fit. */
int gh_exercise_name_key(const char *name, char *out, size_t cap) GH_MUST_CHECK;

/* The exercise an app's exercise name means (Strong's and Hevy's "Bench Press (Barbell)",
 * "Lat Pulldown (Cable)", "Running", ...), or NULL. Tries the name's key against every name
 * and alias; then "Name (Equipment)" as Name alone when the equipment in brackets fits the
 * exercise ("Front Raise (Cable)" finds no cable exercise and stays unmapped), and a
 * " - Grip" variant part dropped. Never guesses between two exercises. Thread-safe. */
const struct gh_exercise *gh_catalogue_match_exercise(const struct gh_catalogue *cat,
                                                      const char *app_name);

#endif
