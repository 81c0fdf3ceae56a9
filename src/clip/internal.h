/* SPDX-License-Identifier: MIT */
/* What the CLIP engine's files share: the safetensors reader (safetensors.c) that the model
 * loader (model.c) checks tensors with. */
#ifndef GH_CLIP_INTERNAL_H
#define GH_CLIP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gh/clip.h"
#include "gh/err.h"

enum gh_st_dtype { GH_ST_F32, GH_ST_F16, GH_ST_BF16, GH_ST_OTHER };

#define GH_ST_MAX_DIMS 8

struct gh_st_tensor {
    char *name;             /* owned by the gh_safetensors */
    enum gh_st_dtype dtype; /* GH_ST_OTHER for I64, U8, ...: present but not usable */
    char dtype_name[8];     /* as in the header, e.g. "F16", "I64" */
    int ndim;
    int64_t shape[GH_ST_MAX_DIMS];
    const uint8_t *data; /* inside the mapping (or the caller's buffer) */
    size_t nbytes;       /* end - begin; equals elements * size for float dtypes */
};

struct gh_safetensors {
    struct gh_st_tensor *tensors;
    size_t n;
    const uint8_t *header; /* the JSON header bytes, for the model digest */
    size_t header_len;
    void *map; /* NULL when parsed from a borrowed buffer */
    size_t map_len;
};

/* Parses a whole safetensors file held in buf (borrowed; must outlive *out): 8-byte
 * little-endian header length, JSON header, data. Checks: the header is a JSON object within
 * buf, every entry has dtype, shape and data_offsets, offsets are ordered and inside the data,
 * a float tensor's byte size matches its shape, no overflow. "__metadata__" is skipped.
 * Errors: GH_EINVAL with a sentence naming the tensor; GH_ENOMEM. Fuzzed (fuzz/). */
int gh_st_parse(const uint8_t *buf, size_t len, struct gh_safetensors **out,
                struct gh_err *err) GH_MUST_CHECK;

/* Memory-maps path read-only and parses it. Errors: GH_EIO (cannot open/map, naming the
 * path), those of gh_st_parse. */
int gh_st_open(const char *path, struct gh_safetensors **out, struct gh_err *err) GH_MUST_CHECK;

/* The tensor called name, or NULL. */
const struct gh_st_tensor *gh_st_find(const struct gh_safetensors *st, const char *name);

void gh_st_close(struct gh_safetensors *st);

/* Widens n elements of a float tensor's data into out (F32 copied, F16 and BF16 converted,
 * NaN and Inf kept). */
void gh_st_to_f32(enum gh_st_dtype dtype, const uint8_t *data, size_t n, float *out);

#endif
