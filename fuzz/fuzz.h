/* SPDX-License-Identifier: MIT */
/* The libFuzzer entry point every target defines (declared here for -Wmissing-prototypes). */
#ifndef GH_FUZZ_H
#define GH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
