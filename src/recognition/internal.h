/* SPDX-License-Identifier: MIT */
/* Shared inside the recognition module: the int8 dot-product kernels of the visual memory's
 * scan (scan.c), used by the index (vmem.c) and compared with the reference in the tests. */
#ifndef GH_RECOGNITION_INTERNAL_H
#define GH_RECOGNITION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define GH_VMEM_ALIGN 64 /* rows are padded to this many bytes, zero-filled */

/* dots[i] = sum_j q[j] * rows[i * stride + j] for i < n, j < dim_pad. q is the query widened
 * to int16; dim_pad and stride are multiples of GH_VMEM_ALIGN; rows 64-byte aligned. */
typedef void (*gh_vmem_dots_fn)(const int16_t *q, const int8_t *rows, size_t stride, size_t dim_pad,
                                size_t n, int32_t *dots);

void gh_vmem_dots_ref(const int16_t *q, const int8_t *rows, size_t stride, size_t dim_pad, size_t n,
                      int32_t *dots);

/* The fastest kernel this CPU runs (AVX-512BW, AVX2, else the reference), chosen once; *name
 * gets "avx512", "avx2" or "ref" when name is not NULL. */
gh_vmem_dots_fn gh_vmem_dots_best(const char **name);

/* A kernel by name ("avx512", "avx2", "ref"), NULL when this CPU lacks it. */
gh_vmem_dots_fn gh_vmem_dots_by_name(const char *name);

#endif
