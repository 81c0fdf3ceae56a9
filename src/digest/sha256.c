/* SPDX-License-Identifier: MIT */
/* SHA-256 through libcrypto's one-shot EVP interface (it picks the CPU's SHA extensions). */
#include "gh/digest.h"

#include <openssl/evp.h>

int gh_sha256(const uint8_t *buf, size_t len, uint8_t out[GH_SHA256_LEN], struct gh_err *err)
{
    unsigned int n = 0;

    if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != GH_SHA256_LEN)
        return gh_err_set(err, GH_EBACKEND, "SHA-256 computation failed in libcrypto");
    return GH_OK;
}

void gh_sha256_to_hex(const uint8_t d[GH_SHA256_LEN], char out[GH_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < GH_SHA256_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 0xF];
    }
    out[GH_SHA256_HEX_LEN] = '\0';
}
