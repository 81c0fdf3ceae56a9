/* SPDX-License-Identifier: MIT */
/* Fuzzes the safetensors header parser (src/clip/safetensors.c) and, for what it accepts,
 * looks every tensor up and widens the float ones, so a wrong offset or size shows as an
 * out-of-bounds read under ASan. */
#include "fuzz.h"

#include "clip/internal.h"
#include "gh/alloc.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_safetensors *st = NULL;
    struct gh_err err = {0};
    uint8_t *copy = gh_malloc(size); /* exactly size bytes, so ASan sees reads past the end */

    if (!copy)
        abort();
    memcpy(copy, data, size);
    if (gh_st_parse(copy, size, &st, &err) == GH_OK) {
        for (size_t i = 0; i < st->n; i++) {
            const struct gh_st_tensor *t = &st->tensors[i];
            size_t el = t->dtype == GH_ST_F32 ? 4 : 2, n = t->nbytes / el;
            float *out;

            if (gh_st_find(st, t->name) != t)
                abort(); /* names are unique */
            if (t->data < copy || t->nbytes > size || t->data + t->nbytes > copy + size)
                abort(); /* the parser let a tensor out of the file */
            if (t->dtype == GH_ST_OTHER)
                continue;
            out = gh_malloc_array(n ? n : 1, sizeof *out);
            if (!out)
                abort();
            gh_st_to_f32(t->dtype, t->data, n, out);
            gh_free(out);
        }
        gh_st_close(st);
    } else if (err.code == GH_OK || err.msg[0] == '\0') {
        abort(); /* every refusal explains itself */
    }
    gh_free(copy);
    return 0;
}
