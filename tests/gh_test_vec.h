/* SPDX-License-Identifier: MIT */
/* Deterministic unit vectors for the visual memory tests: the same seed gives the same vector
 * in every test and on every machine, different seeds nearly orthogonal ones. */
#ifndef GH_TEST_VEC_H
#define GH_TEST_VEC_H

#include <math.h>

/* v[0..dim) gets the unit vector of seed (the sin-hash of its index). */
static inline void gh_test_unit_vec(float *v, int dim, int seed)
{
    double n = 0;

    for (int i = 0; i < dim; i++) {
        v[i] = (float)sin(seed * 12.9898 + i * 78.233);
        n += (double)v[i] * v[i];
    }
    for (int i = 0; i < dim; i++)
        v[i] = (float)(v[i] / sqrt(n));
}

#endif
