/* SPDX-License-Identifier: MIT */
/* Shared inside the recognition module: the kernels of the visual memory's search (scan.c), the
 * int8 dot products and the first stage's bit-code scores, used by the index (vmem.c) and
 * compared with the reference loops in the tests. */
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

/* ---- the first stage: one bit per dimension ----
 * A row's code has bit j set when its dimension j exceeds the memory's centre (the mean of the
 * rows); padding bits are 0. The query, centred too, comes as GH_VMEM_PLANES bit planes of
 * u_j = q4_j + 8 where q4_j in -7..7 is its 4-bit quantisation: bit j of planes[p * n_words + w]
 * (w = j / 64) is bit p of u_j. A code's score is the dot product of the 4-bit query with the
 * code read as 0/1, sum over its set bits j of q4_j =
 *   sum_p 2^p popcount(code & plane_p) - 8 popcount(code),
 * which ranks rows as the query's dot product with the code's +-1 signs does (asymmetric
 * binary codes: the query keeps 4 bits, so less is lost than with sign against sign). */
#define GH_VMEM_PLANES 4

/* scores[i] for the codes of rows i < n, each n_words 64-bit words, contiguous. */
typedef void (*gh_vmem_bits_fn)(const uint64_t *planes, const uint64_t *codes, size_t n_words,
                                size_t n, int32_t *scores);

/* The definition, bit by bit. */
void gh_vmem_bits_ref(const uint64_t *planes, const uint64_t *codes, size_t n_words, size_t n,
                      int32_t *scores);

/* The fastest this CPU runs (AVX-512 VPOPCNTQ, AVX2 nibble-table popcount, else scalar
 * popcount), chosen once; *name gets "avx512", "avx2" or "scalar" when name is not NULL. */
gh_vmem_bits_fn gh_vmem_bits_best(const char **name);

/* One by name ("avx512", "avx2", "scalar", "ref"), NULL when this CPU lacks it. */
gh_vmem_bits_fn gh_vmem_bits_by_name(const char *name);

/* Tests and the benchmark: makes vm search with these kernels (by name, NULL keeps the one it
 * has). GH_EINVAL when this CPU lacks one. Not while searches run. */
struct gh_vmem;
int gh_vmem_use_kernels(struct gh_vmem *vm, const char *dots, const char *bits);

/* Tests and the benchmark: threads, exact_max and candidates as in gh_vmem_opts, and the rows
 * from which the bit codes are split between threads; 0 keeps what vm has, candidates < 0 goes
 * back to choosing from the size. Not while searches run. */
void gh_vmem_tune(struct gh_vmem *vm, int threads, int64_t exact_max, int candidates,
                  size_t split_min);

#endif
