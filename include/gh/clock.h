/* SPDX-License-Identifier: MIT */
/* The monotonic clock in milliseconds, for timeouts, back-offs and durations (never the time
 * of day: it does not jump when the wall clock is set). */
#ifndef GH_CLOCK_H
#define GH_CLOCK_H

#include <time.h>

static inline double gh_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
