/* SPDX-License-Identifier: MIT */
/* Refresh tokens (src/auth/auth.c): a sign-out that lands between a refresh's spend of the old
 * token and its write of the new one leaves the new one in a revoked family; the refresh sees
 * it and ends the session instead of handing out a pair that outlives the sign-out. Built
 * step by step here, since two requests hit that window too rarely to test it by racing. */
#include "../../../src/auth/auth.c" /* for issue, token_hash and revoked_meanwhile */

#include "gh/store.h"
#include "gh/store_auth.h"

#include "gh_test.h"

#include <string.h>

#define T0 1800000000LL

static struct gh_store *st;
static struct gh_auth *a;
static struct gh_user u;

static void login(struct gh_auth_session *s)
{
    int64_t wait = 0;

    CHECK_INT(gh_auth_login(a, "rita", "rita-password-1", "127.0.0.1", T0, s, &wait, NULL), GH_OK);
}

/* The refresh's first half by hand: the old token spent, as gh_auth_refresh does. */
static void spend(const struct gh_auth_session *s, char hash[GH_TOKEN_HASH_CAP],
                  struct gh_refresh_token *t)
{
    int spent = 0;

    token_hash(s->refresh_token, hash);
    CHECK_INT(gh_store_refresh_spend(st, hash, T0 + 1, t, &spent, NULL), GH_OK);
    CHECK_INT(spent, 1);
}

static void a_sign_out_inside_the_window_ends_the_new_pair(void)
{
    struct gh_auth_session s1, s2, again;
    struct gh_refresh_token t;
    struct gh_err err = {0};
    char hash[GH_TOKEN_HASH_CAP], r2[GH_AUTH_SECRET_CAP];
    int active = 1;

    login(&s1);
    spend(&s1, hash, &t);
    CHECK_INT(gh_auth_logout(a, s1.refresh_token, T0 + 1, NULL), GH_OK); /* the sign-out */
    CHECK_INT(issue(a, &u, t.family, T0 + 1, &s2, NULL), GH_OK); /* the new pair, after it */
    snprintf(r2, sizeof r2, "%s", s2.refresh_token);
    CHECK_INT(revoked_meanwhile(a, hash, t.family, T0 + 1, &s2, &err), GH_ECONFLICT);
    CHECK_STR(s2.refresh_token, "");
    CHECK_STR(s2.access_token, "");
    CHECK_INT(gh_store_refresh_family_active(st, t.family, &active, NULL), GH_OK);
    CHECK_INT(active, 0);
    CHECK(gh_auth_refresh(a, r2, T0 + 2, &again, NULL) != GH_OK);
}

static void without_a_sign_out_the_new_pair_lives(void)
{
    struct gh_auth_session s1, s2, s3;
    struct gh_refresh_token t;
    char hash[GH_TOKEN_HASH_CAP];

    login(&s1);
    spend(&s1, hash, &t);
    CHECK_INT(issue(a, &u, t.family, T0 + 1, &s2, NULL), GH_OK);
    CHECK_INT(revoked_meanwhile(a, hash, t.family, T0 + 1, &s2, NULL), GH_OK);
    CHECK(s2.refresh_token[0] != '\0');
    CHECK_INT(gh_auth_refresh(a, s2.refresh_token, T0 + 2, &s3, NULL), GH_OK);
    /* and the whole refresh, end to end */
    CHECK_INT(gh_auth_refresh(a, s3.refresh_token, T0 + 3, &s1, NULL), GH_OK);
    CHECK_INT(gh_auth_refresh(a, s3.refresh_token, T0 + 4, &s2, NULL), GH_ECONFLICT); /* reuse */
}

static void setup_and_run(void)
{
    struct gh_auth_config cfg;

    gh_auth_config_defaults(&cfg);
    cfg.jwt_secret = "refresh-test-secret-0123456789-abcdefgh";
    CHECK_INT(gh_store_open("sqlite::memory:", 1, &st, NULL), GH_OK);
    CHECK_INT(gh_auth_new(&cfg, st, &a, NULL), GH_OK);
    memset(&u, 0, sizeof u);
    snprintf(u.username, sizeof u.username, "rita");
    u.role = GH_ROLE_USER;
    u.created_at = T0;
    CHECK_INT(gh_auth_password_hash("rita-password-1", u.password_hash, NULL), GH_OK);
    CHECK_INT(gh_store_user_add(st, &u, NULL), GH_OK);
    a_sign_out_inside_the_window_ends_the_new_pair();
    without_a_sign_out_the_new_pair_lives();
    gh_auth_free(a);
    gh_store_close(st);
}

GH_TEST_MAIN(GH_TEST(setup_and_run))
