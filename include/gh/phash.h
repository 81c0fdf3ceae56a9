/* SPDX-License-Identifier: MIT */
/* 64-bit perceptual hash (pHash), compatible with the definition of Python's imagehash.phash:
 * 32x32 luma -> 2-D DCT-II -> top-left 8x8 (DC included) -> bit = coefficient > median of
 * the 64, row-major, first bit the most significant. Decoding the image to the luma grid is
 * the image module's job (gh_image_luma_grid); this module is pure arithmetic. */
#ifndef GH_PHASH_H
#define GH_PHASH_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"

#define GH_PHASH_SIDE    32 /* luma grid side the hash is defined on */
#define GH_PHASH_HEX_LEN 16 /* hex digits, without the terminating NUL */

/* The hash of a GH_PHASH_SIDE x GH_PHASH_SIDE luma grid, row-major. Coefficients are rounded
 * to 1/1024 before the median so floating-point noise (~1e-10) cannot flip a bit where the
 * exact values tie, e.g. the zero AC terms of a flat image. Pure; thread-safe. */
uint64_t gh_phash_from_luma(const uint8_t luma[GH_PHASH_SIDE * GH_PHASH_SIDE]);

/* Number of differing bits, 0..64. */
static inline int gh_phash_distance(uint64_t a, uint64_t b)
{
    return __builtin_popcountll(a ^ b);
}

/* Writes 16 lower-case hex digits and a NUL into out. */
void gh_phash_to_hex(uint64_t h, char out[GH_PHASH_HEX_LEN + 1]);

/* Parses exactly 16 hex digits (either case). GH_EINVAL otherwise. */
int gh_phash_from_hex(const char *hex, uint64_t *out, struct gh_err *err) GH_MUST_CHECK;

/* Splits h into the 5 near-duplicate index segments of DESIGN.md (13+13+13+13+12 bits, from
 * the most significant end). Any two hashes within distance 4 agree on at least one. */
void gh_phash_segments(uint64_t h, uint32_t seg[5]);

#endif
