/* SPDX-License-Identifier: MIT */
/* Fuzzes the workout CSV import (gh_import_parse): the first byte picks the format (ours,
 * Strong, Hevy), the rest is the file. Any bytes give a code; on success every set names a
 * workout of the import, an exercise of the catalogue and a valid client id. */
#include "fuzz.h"
#include "gh/alloc.h"
#include "gh/catalogue.h"
#include "gh/workouts.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gh_catalogue *cat;
    struct gh_import imp;
    char *csv;
    int rc;

    if (!cat && gh_catalogue_load_embedded(&cat, NULL) != GH_OK)
        abort();
    if (size == 0)
        return 0;
    csv = gh_malloc(size); /* exact size: a read past the end trips ASan */
    if (!csv)
        return 0;
    memcpy(csv, data + 1, size - 1);
    rc = gh_import_parse(cat, (enum gh_import_format)(data[0] % 3), csv, size - 1,
                         data[0] & 0x80 ? "lb" : NULL, &imp, NULL);
    if (rc != GH_OK && rc != GH_EINVAL && rc != GH_ETOOBIG && rc != GH_ENOMEM)
        abort();
    for (size_t i = 0; rc == GH_OK && i < imp.n_sets; i++)
        if (imp.sets[i].workout_id < 0 || (size_t)imp.sets[i].workout_id >= imp.n_ws ||
            !gh_workouts_client_id_ok(imp.sets[i].client_id) ||
            !gh_catalogue_find_exercise(cat, imp.sets[i].exercise))
            abort();
    if (rc == GH_OK)
        gh_import_fini(&imp);
    gh_free(csv);
    return 0;
}
