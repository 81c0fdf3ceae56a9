/* SPDX-License-Identifier: MIT */
/* The safetensors reader: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the data (github.com/huggingface/safetensors,
 * "Format"). Weight files are untrusted input: every size and offset is checked before use. */
#include "internal.h"

#include "gh/alloc.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Hugging Face's reader refuses headers over 100 MB; real ones are a few hundred KB. */
#define ST_HEADER_MAX ((uint64_t)100 * 1000 * 1000)

struct dtype_info {
    const char *name;
    enum gh_st_dtype dtype;
    size_t size;
};

/* Every dtype the format defines; sizes let us check non-float tensors too. */
static const struct dtype_info dtypes[] = {
    {"F32", GH_ST_F32, 4},    {"F16", GH_ST_F16, 2},       {"BF16", GH_ST_BF16, 2},
    {"F64", GH_ST_OTHER, 8},  {"I64", GH_ST_OTHER, 8},     {"U64", GH_ST_OTHER, 8},
    {"I32", GH_ST_OTHER, 4},  {"U32", GH_ST_OTHER, 4},     {"I16", GH_ST_OTHER, 2},
    {"U16", GH_ST_OTHER, 2},  {"I8", GH_ST_OTHER, 1},      {"U8", GH_ST_OTHER, 1},
    {"BOOL", GH_ST_OTHER, 1}, {"F8_E4M3", GH_ST_OTHER, 1}, {"F8_E5M2", GH_ST_OTHER, 1},
};

static const struct dtype_info *find_dtype(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0)
            return &dtypes[i];
    return NULL;
}

static uint64_t read_u64_le(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A non-negative JSON integer that fits size_t, or -1. */
static int json_size(const json_t *j, size_t *out)
{
    json_int_t v;

    if (!json_is_integer(j))
        return -1;
    v = json_integer_value(j);
    if (v < 0 || (unsigned long long)v > (unsigned long long)SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_shape(const json_t *shape, const char *name, struct gh_st_tensor *t,
                       size_t *elements, struct gh_err *err)
{
    size_t n = 1, dim = 0;

    if (!json_is_array(shape))
        return gh_err_set(err, GH_EINVAL, "tensor '%s' has no shape array", name);
    if (json_array_size(shape) > GH_ST_MAX_DIMS)
        return gh_err_set(err, GH_EINVAL, "tensor '%s' has %zu dimensions (at most %d)", name,
                          json_array_size(shape), GH_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    for (int i = 0; i < t->ndim; i++) {
        if (json_size(json_array_get(shape, (size_t)i), &dim) != 0 || dim > INT64_MAX)
            return gh_err_set(err, GH_EINVAL,
                              "tensor '%s' has a shape entry that is not a non-negative integer",
                              name);
        t->shape[i] = (int64_t)dim;
        if (!gh_mul_ok(n, dim, &n))
            return gh_err_set(err, GH_EINVAL, "tensor '%s' has a shape too large to address", name);
    }
    *elements = n;
    return GH_OK;
}

/* Fills t from one header entry; data points into the data section [data, data + data_len). */
static int parse_entry(const char *name, const json_t *v, const uint8_t *data, size_t data_len,
                       struct gh_st_tensor *t, size_t *begin, struct gh_err *err)
{
    const json_t *dt = json_object_get(v, "dtype"), *offs = json_object_get(v, "data_offsets");
    const struct dtype_info *info;
    size_t elements = 0, end = 0, nbytes = 0;
    int rc;

    if (!json_is_object(v))
        return gh_err_set(err, GH_EINVAL, "tensor '%s' is not described by a JSON object", name);
    if (!json_is_string(dt))
        return gh_err_set(err, GH_EINVAL, "tensor '%s' has no dtype string", name);
    if (json_string_length(dt) >= sizeof t->dtype_name ||
        !(info = find_dtype(json_string_value(dt))))
        return gh_err_set(err, GH_EINVAL, "tensor '%s' has an unknown dtype", name);
    memcpy(t->dtype_name, json_string_value(dt), json_string_length(dt) + 1);
    t->dtype = info->dtype;
    rc = parse_shape(json_object_get(v, "shape"), name, t, &elements, err);
    if (rc)
        return rc;
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        json_size(json_array_get(offs, 0), begin) != 0 ||
        json_size(json_array_get(offs, 1), &end) != 0)
        return gh_err_set(err, GH_EINVAL, "tensor '%s' has no data_offsets [begin, end]", name);
    if (*begin > end || end > data_len)
        return gh_err_set(err, GH_EINVAL,
                          "tensor '%s' has data_offsets [%zu, %zu] outside the %zu data bytes",
                          name, *begin, end, data_len);
    if (!gh_mul_ok(elements, info->size, &nbytes) || nbytes != end - *begin)
        return gh_err_set(err, GH_EINVAL,
                          "tensor '%s' holds %zu bytes but its shape and dtype need %zu", name,
                          end - *begin, nbytes);
    t->data = data + *begin;
    t->nbytes = end - *begin;
    return GH_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const struct gh_st_tensor *x = *(const struct gh_st_tensor *const *)a;
    const struct gh_st_tensor *y = *(const struct gh_st_tensor *const *)b;

    return x->data < y->data ? -1 : x->data > y->data;
}

/* Tensors may not share bytes (the format forbids it; a writer that did is broken). */
static int check_overlap(struct gh_safetensors *st, struct gh_err *err)
{
    const struct gh_st_tensor **order;
    int rc = GH_OK;

    if (st->n < 2)
        return GH_OK;
    order = gh_malloc_array(st->n, sizeof *order);
    if (!order)
        return gh_err_set(err, GH_ENOMEM, "out of memory checking safetensors offsets");
    for (size_t i = 0; i < st->n; i++)
        order[i] = &st->tensors[i];
    qsort(order, st->n, sizeof *order, cmp_begin);
    for (size_t i = 1; i < st->n; i++)
        if (order[i]->data < order[i - 1]->data + order[i - 1]->nbytes) {
            rc = gh_err_set(err, GH_EINVAL, "tensors '%s' and '%s' overlap in the data",
                            order[i - 1]->name, order[i]->name);
            break;
        }
    gh_free(order);
    return rc;
}

static int parse_header(json_t *root, const uint8_t *data, size_t data_len,
                        struct gh_safetensors *st, struct gh_err *err)
{
    const char *key;
    json_t *v;
    size_t begin;
    int rc;

    st->tensors = gh_malloc_array(json_object_size(root), sizeof *st->tensors);
    if (!st->tensors)
        return gh_err_set(err, GH_ENOMEM, "out of memory reading a safetensors header");
    json_object_foreach(root, key, v)
    {
        struct gh_st_tensor *t = &st->tensors[st->n];
        size_t key_len = strlen(key);

        if (strcmp(key, "__metadata__") == 0)
            continue;
        memset(t, 0, sizeof *t);
        rc = parse_entry(key, v, data, data_len, t, &begin, err);
        if (rc)
            return rc;
        t->name = gh_malloc(key_len + 1);
        if (!t->name)
            return gh_err_set(err, GH_ENOMEM, "out of memory reading a safetensors header");
        memcpy(t->name, key, key_len + 1);
        st->n++;
    }
    return check_overlap(st, err);
}

int gh_st_parse(const uint8_t *buf, size_t len, struct gh_safetensors **out, struct gh_err *err)
{
    struct gh_safetensors *st = NULL;
    json_t *root = NULL;
    uint64_t hlen;
    int rc;

    *out = NULL;
    if (len < 8)
        return gh_err_set(err, GH_EINVAL, "safetensors file is %zu bytes, too short for a header",
                          len);
    hlen = read_u64_le(buf);
    if (hlen > ST_HEADER_MAX || hlen > len - 8)
        return gh_err_set(err, GH_EINVAL,
                          "safetensors header length %llu does not fit the %zu-byte file",
                          (unsigned long long)hlen, len);
    root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        rc = gh_err_set(err, GH_EINVAL, "safetensors header is not a JSON object");
        goto out;
    }
    st = gh_malloc(sizeof *st);
    if (!st) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory reading a safetensors header");
        goto out;
    }
    memset(st, 0, sizeof *st);
    st->header = buf + 8;
    st->header_len = (size_t)hlen;
    rc = parse_header(root, buf + 8 + hlen, len - 8 - (size_t)hlen, st, err);
    if (rc == GH_OK) {
        *out = st;
        st = NULL;
    }
out:
    gh_st_close(st);
    json_decref(root);
    return rc;
}

int gh_st_open(const char *path, struct gh_safetensors **out, struct gh_err *err)
{
    struct stat sb;
    void *map;
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gh_err_set(err, GH_EIO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        return gh_err_set(err, GH_EIO, "%s is not a non-empty regular file", path);
    }
    map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED)
        return gh_err_set(err, GH_EIO, "cannot map %s: %s", path, strerror(errno));
    rc = gh_st_parse(map, (size_t)sb.st_size, out, err);
    if (rc) {
        munmap(map, (size_t)sb.st_size);
        return rc;
    }
    (*out)->map = map;
    (*out)->map_len = (size_t)sb.st_size;
    return GH_OK;
}

const struct gh_st_tensor *gh_st_find(const struct gh_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

void gh_st_close(struct gh_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        gh_free(st->tensors[i].name);
    gh_free(st->tensors);
    if (st->map)
        munmap(st->map, st->map_len);
    gh_free(st);
}

/* IEEE 754 binary16 to binary32, exactly: every half value is a float. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t bits;
    float f;

    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float */
        f = (float)mant * 0x1p-24f;
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13); /* inf, or NaN keeping its payload */
    else
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* The format stores little-endian values; we run on little-endian hosts (x86-64, arm64). */
void gh_st_to_f32(enum gh_st_dtype dtype, const uint8_t *data, size_t n, float *out)
{
    switch (dtype) {
    case GH_ST_F32:
        memcpy(out, data, n * sizeof *out);
        break;
    case GH_ST_F16:
        for (size_t i = 0; i < n; i++)
            out[i] = half_to_float((uint16_t)(data[2 * i] | data[2 * i + 1] << 8));
        break;
    case GH_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)(data[2 * i] | data[2 * i + 1] << 8) << 16;

            memcpy(&out[i], &bits, sizeof bits);
        }
        break;
    case GH_ST_OTHER:
        break;
    }
}
