/* SPDX-License-Identifier: MIT */
/* SHA-256 of raw upload bytes: the cache's exact key. Backed by OpenSSL's libcrypto. */
#ifndef GH_DIGEST_H
#define GH_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"

#define GH_SHA256_LEN     32
#define GH_SHA256_HEX_LEN 64

/* Digest of buf[0..len) into out. GH_EBACKEND if libcrypto fails. Thread-safe. */
int gh_sha256(const uint8_t *buf, size_t len, uint8_t out[GH_SHA256_LEN],
              struct gh_err *err) GH_MUST_CHECK;

/* 64 lower-case hex digits and a NUL. */
void gh_sha256_to_hex(const uint8_t d[GH_SHA256_LEN], char out[GH_SHA256_HEX_LEN + 1]);

#endif
