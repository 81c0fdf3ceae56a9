/* SPDX-License-Identifier: MIT */
/* Access-token verification (src/auth/jwt.c): a token the instance verified before is
 * remembered by its bytes, and the remembered answer still checks the times (expired, not yet
 * valid, issued in the future) and never covers a token that differs in a byte. */
#include "gh/auth.h"
#include "gh/store.h"

#include "gh_test.h"

#include <string.h>

#define T0 1800000000LL

static struct gh_store *st;
static struct gh_auth *a;

static void sign(int64_t iat, int64_t nbf, int64_t exp, const char *sid, char *tok)
{
    struct gh_auth_claims c;

    memset(&c, 0, sizeof c);
    c.user_id = 7;
    c.role = GH_ROLE_USER;
    snprintf(c.sid, sizeof c.sid, "%s", sid);
    c.iat = iat;
    c.nbf = nbf;
    c.exp = exp;
    CHECK_INT(gh_auth_jwt_sign(a, &c, tok, GH_AUTH_TOKEN_CAP, NULL), GH_OK);
}

static int verify(const char *tok, int64_t now)
{
    struct gh_auth_claims c;

    return gh_auth_jwt_verify(a, tok, now, &c, NULL);
}

static void a_remembered_token_still_expires(void)
{
    char tok[GH_AUTH_TOKEN_CAP];
    struct gh_auth_claims c;

    sign(T0, T0, T0 + 900, "expires", tok);
    CHECK_INT(gh_auth_jwt_verify(a, tok, T0 + 1, &c, NULL), GH_OK);
    CHECK_INT(c.user_id, 7);
    CHECK_STR(c.sid, "expires");
    for (int i = 0; i < 3; i++) { /* remembered now: the same answer, the same claims */
        memset(&c, 0, sizeof c);
        CHECK_INT(gh_auth_jwt_verify(a, tok, T0 + 2, &c, NULL), GH_OK);
        CHECK_INT(c.exp, T0 + 900);
        CHECK_STR(c.sid, "expires");
    }
    CHECK_INT(verify(tok, T0 + 900 + 30), GH_EINVAL); /* past exp and the 30 s skew */
    CHECK_INT(verify(tok, T0 - 31), GH_EINVAL);       /* issued in the future */
    CHECK_INT(verify(tok, T0 + 3), GH_OK);
}

static void a_not_yet_valid_token_becomes_valid(void)
{
    char tok[GH_AUTH_TOKEN_CAP];

    sign(T0, T0 + 100, T0 + 900, "later", tok);
    CHECK_INT(verify(tok, T0), GH_EINVAL);
    CHECK_INT(verify(tok, T0 + 100), GH_OK);
}

static void a_byte_changed_is_never_the_remembered_token(void)
{
    char tok[GH_AUTH_TOKEN_CAP], bad[GH_AUTH_TOKEN_CAP];
    size_t n;

    sign(T0, T0, T0 + 900, "tamper", tok);
    CHECK_INT(verify(tok, T0 + 1), GH_OK);
    n = strlen(tok);
    for (size_t i = 0; i < n; i += 7) {
        if (tok[i] == '.')
            continue;
        memcpy(bad, tok, n + 1);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        CHECK_INT(verify(bad, T0 + 1), GH_EINVAL);
    }
    memcpy(bad, tok, n + 1);
    bad[n - 1] = '\0'; /* a prefix of it */
    CHECK_INT(verify(bad, T0 + 1), GH_EINVAL);
    CHECK_INT(verify(tok, T0 + 1), GH_OK);
}

static void many_tokens_share_the_slots(void)
{
    char tok[GH_AUTH_TOKEN_CAP], first[GH_AUTH_TOKEN_CAP];

    sign(T0, T0, T0 + 900, "s0", first);
    CHECK_INT(verify(first, T0 + 1), GH_OK);
    for (int i = 1; i < 2000; i++) {
        char sid[16];

        snprintf(sid, sizeof sid, "s%d", i);
        sign(T0, T0, T0 + 900, sid, tok);
        CHECK_INT(verify(tok, T0 + 1), GH_OK);
    }
    CHECK_INT(verify(first, T0 + 1), GH_OK); /* pushed out or not, it verifies */
    CHECK_INT(verify(first, T0 + 2000), GH_EINVAL);
}

static void setup_and_run(void)
{
    struct gh_auth_config cfg;

    gh_auth_config_defaults(&cfg);
    cfg.jwt_secret = "jwt-test-secret-0123456789-abcdefghij";
    CHECK_INT(gh_store_open("sqlite::memory:", 1, &st, NULL), GH_OK);
    CHECK_INT(gh_auth_new(&cfg, st, &a, NULL), GH_OK);
    if (!a)
        return;
    a_remembered_token_still_expires();
    a_not_yet_valid_token_becomes_valid();
    a_byte_changed_is_never_the_remembered_token();
    many_tokens_share_the_slots();
    gh_auth_free(a);
    gh_store_close(st);
}

GH_TEST_MAIN(GH_TEST(setup_and_run))
