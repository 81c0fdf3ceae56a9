/* SPDX-License-Identifier: MIT */
/* The accounts part of the store contract (gh/store_auth.h), run against sqlite::memory: and
 * each URL in GH_STORE_TEST_URLS (PostgreSQL under tests/conftest.py). Names are unique per run,
 * so a database shared with other runs works too. */
#include "gh/store.h"
#include "gh/store_auth.h"
#include "../../gh_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T0 INT64_C(1700000000)

static const char *g_url;
static unsigned g_nonce;

static struct gh_store *open_store(void)
{
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    int rc = gh_store_open(g_url, 2, &st, &err);

    if (rc)
        fprintf(stderr, "  open %s: %s\n", g_url, err.msg);
    CHECK_INT(rc, GH_OK);
    return st;
}

static void name(char *out, size_t cap, const char *base)
{
    snprintf(out, cap, "%s-%08x", base, g_nonce);
}

static void hash_of(char out[GH_TOKEN_HASH_CAP], const char *tag)
{
    unsigned h = 2166136261u;

    for (const char *p = tag; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(out, GH_TOKEN_HASH_CAP, "%08x%08x%048x", h, g_nonce, 0u);
}

static void users_add_get_list_update(void)
{
    struct gh_store *st = open_store();
    struct gh_user u, got, list[256];
    struct gh_err err = {0};
    size_t n = 0;

    if (!st)
        return;
    memset(&u, 0, sizeof u);
    name(u.username, sizeof u.username, "ann");
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$v=19$fake");
    u.role = GH_ROLE_TRUSTED;
    u.created_at = T0;
    CHECK_INT(gh_store_user_add(st, &u, &err), GH_OK);
    CHECK(u.id > 0);
    CHECK_INT(gh_store_user_add(st, &u, &err), GH_ECONFLICT);
    CHECK_INT(gh_store_user_get(st, 0, u.username, &got, &err), GH_OK);
    CHECK_INT(got.id, u.id);
    CHECK_INT(got.role, GH_ROLE_TRUSTED);
    CHECK_INT(got.disabled, 0);
    CHECK_STR(got.password_hash, u.password_hash);
    CHECK_INT(gh_store_user_get(st, u.id, NULL, &got, &err), GH_OK);
    CHECK_STR(got.username, u.username);
    gh_err_clear(&err);
    CHECK_INT(gh_store_user_get(st, 0, "no-such-user-xyz", &got, &err), GH_ENOTFOUND);
    gh_err_clear(&err);
    CHECK_INT(gh_store_user_get(st, 0, "Not Valid", &got, &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_user_update(st, u.id, "$argon2id$v=19$other", 1, &err), GH_OK);
    CHECK_INT(gh_store_user_get(st, u.id, NULL, &got, &err), GH_OK);
    CHECK_INT(got.disabled, 1);
    CHECK_STR(got.password_hash, "$argon2id$v=19$other");
    CHECK_INT(gh_store_user_update(st, u.id, NULL, 0, &err), GH_OK);
    CHECK_INT(gh_store_user_get(st, u.id, NULL, &got, &err), GH_OK);
    CHECK_INT(got.disabled, 0);
    CHECK_STR(got.password_hash, "$argon2id$v=19$other");
    gh_err_clear(&err);
    CHECK_INT(gh_store_user_update(st, INT64_C(1) << 50, NULL, 1, &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_user_list(st, list, 256, &n, &err), GH_OK);
    CHECK(n >= 1);
    /* bad input never reaches the database */
    gh_err_clear(&err);
    snprintf(u.username, sizeof u.username, "UPPER");
    CHECK_INT(gh_store_user_add(st, &u, &err), GH_EINVAL);
    gh_store_close(st);
}

static void keys_add_find_revoke(void)
{
    struct gh_store *st = open_store();
    struct gh_api_key k, got;
    struct gh_err err = {0};

    if (!st)
        return;
    memset(&k, 0, sizeof k);
    name(k.name, sizeof k.name, "ci");
    snprintf(k.prefix, sizeof k.prefix, "gh_abcdef");
    hash_of(k.key_hash, "key-one");
    k.scopes = GH_SCOPE_ANALYZE | GH_SCOPE_FEEDBACK;
    k.created_at = T0;
    CHECK_INT(gh_store_key_add(st, &k, &err), GH_OK);
    CHECK(k.id > 0);
    CHECK_INT(gh_store_key_add(st, &k, &err), GH_ECONFLICT);
    gh_err_clear(&err);
    CHECK_INT(gh_store_key_find(st, k.key_hash, &got, &err), GH_OK);
    CHECK_INT(got.id, k.id);
    CHECK_INT(got.scopes, GH_SCOPE_ANALYZE | GH_SCOPE_FEEDBACK);
    CHECK_INT(got.revoked_at, 0);
    CHECK_INT(gh_store_key_revoke(st, k.id, T0 + 5, &err), GH_OK);
    CHECK_INT(gh_store_key_revoke(st, k.id, T0 + 9, &err), GH_OK); /* stays at the first */
    CHECK_INT(gh_store_key_find(st, k.key_hash, &got, &err), GH_OK);
    CHECK_INT(got.revoked_at, T0 + 5);
    CHECK_INT(gh_store_key_revoke(st, INT64_C(1) << 50, T0, &err), GH_ENOTFOUND);
    gh_err_clear(&err);
    hash_of(k.key_hash, "key-missing");
    CHECK_INT(gh_store_key_find(st, k.key_hash, &got, &err), GH_ENOTFOUND);
    gh_store_close(st);
}

static void refresh_spend_once_and_revoke(void)
{
    struct gh_store *st = open_store();
    struct gh_refresh_token t;
    struct gh_user u;
    struct gh_err err = {0};
    char fam[40], h1[GH_TOKEN_HASH_CAP], h2[GH_TOKEN_HASH_CAP], h3[GH_TOKEN_HASH_CAP];
    int spent = 0, active = 0;

    if (!st)
        return;
    memset(&u, 0, sizeof u);
    name(u.username, sizeof u.username, "rt");
    snprintf(u.password_hash, sizeof u.password_hash, "x");
    u.role = GH_ROLE_USER;
    CHECK_INT(gh_store_user_add(st, &u, &err), GH_OK);
    name(fam, sizeof fam, "fam");
    hash_of(h1, "rt-1");
    hash_of(h2, "rt-2");
    hash_of(h3, "rt-3");
    CHECK_INT(gh_store_refresh_add(st, fam, u.id, h1, T0, T0 + 100, &err), GH_OK);
    CHECK_INT(gh_store_refresh_family_active(st, fam, &active, &err), GH_OK);
    CHECK_INT(active, 1);
    CHECK_INT(gh_store_refresh_spend(st, h1, T0 + 1, &t, &spent, &err), GH_OK);
    CHECK_INT(spent, 1);
    CHECK_INT(t.user_id, u.id);
    CHECK_STR(t.family, fam);
    CHECK_INT(t.used_at, 0); /* the row as it was */
    CHECK_INT(gh_store_refresh_spend(st, h1, T0 + 2, &t, &spent, &err), GH_OK);
    CHECK_INT(spent, 0); /* a second spend: the caller sees a reuse */
    CHECK_INT(t.used_at, T0 + 1);
    CHECK_INT(gh_store_refresh_add(st, fam, u.id, h2, T0, T0 + 10, &err), GH_OK);
    CHECK_INT(gh_store_refresh_spend(st, h2, T0 + 10, &t, &spent, &err), GH_OK);
    CHECK_INT(spent, 0); /* expired at T0 + 10 */
    CHECK_INT(gh_store_refresh_add(st, fam, u.id, h3, T0, T0 + 100, &err), GH_OK);
    CHECK_INT(gh_store_refresh_revoke_family(st, fam, T0 + 3, &err), GH_OK);
    CHECK_INT(gh_store_refresh_family_active(st, fam, &active, &err), GH_OK);
    CHECK_INT(active, 0);
    CHECK_INT(gh_store_refresh_spend(st, h3, T0 + 4, &t, &spent, &err), GH_OK);
    CHECK_INT(spent, 0);
    CHECK_INT(t.revoked_at, T0 + 3);
    hash_of(h1, "rt-missing");
    CHECK_INT(gh_store_refresh_spend(st, h1, T0, &t, &spent, &err), GH_ENOTFOUND);
    gh_store_close(st);
}

/* A new password or a disabled account: every family of the user ends, nobody else's. */
static void refresh_revoke_user(void)
{
    struct gh_store *st = open_store();
    struct gh_refresh_token t;
    struct gh_user u, v;
    struct gh_err err = {0};
    char f1[40], f2[40], f3[40], h1[GH_TOKEN_HASH_CAP], h2[GH_TOKEN_HASH_CAP],
        h3[GH_TOKEN_HASH_CAP];
    int spent = 0, active = 0;

    if (!st)
        return;
    memset(&u, 0, sizeof u);
    name(u.username, sizeof u.username, "ru");
    snprintf(u.password_hash, sizeof u.password_hash, "x");
    u.role = GH_ROLE_USER;
    v = u;
    name(v.username, sizeof v.username, "rv");
    CHECK_INT(gh_store_user_add(st, &u, &err), GH_OK);
    CHECK_INT(gh_store_user_add(st, &v, &err), GH_OK);
    name(f1, sizeof f1, "ru-1");
    name(f2, sizeof f2, "ru-2");
    name(f3, sizeof f3, "rv-1");
    hash_of(h1, "ru-1");
    hash_of(h2, "ru-2");
    hash_of(h3, "rv-1");
    CHECK_INT(gh_store_refresh_add(st, f1, u.id, h1, T0, T0 + 100, &err), GH_OK);
    CHECK_INT(gh_store_refresh_add(st, f2, u.id, h2, T0, T0 + 100, &err), GH_OK);
    CHECK_INT(gh_store_refresh_add(st, f3, v.id, h3, T0, T0 + 100, &err), GH_OK);
    CHECK_INT(gh_store_refresh_revoke_user(st, u.id, T0 + 5, &err), GH_OK);
    CHECK_INT(gh_store_refresh_family_active(st, f1, &active, &err), GH_OK);
    CHECK_INT(active, 0);
    CHECK_INT(gh_store_refresh_family_active(st, f2, &active, &err), GH_OK);
    CHECK_INT(active, 0);
    CHECK_INT(gh_store_refresh_family_active(st, f3, &active, &err), GH_OK);
    CHECK_INT(active, 1);
    CHECK_INT(gh_store_refresh_spend(st, h2, T0 + 6, &t, &spent, &err), GH_OK);
    CHECK_INT(spent, 0);
    CHECK_INT(t.revoked_at, T0 + 5);
    CHECK_INT(gh_store_refresh_revoke_user(st, 0, T0, NULL), GH_EINVAL);
    gh_store_close(st);
}

static void meta_first_writer_wins_and_epoch_counts(void)
{
    struct gh_store *st = open_store();
    struct gh_err err = {0};
    char key[64], v[64];
    int64_t e0 = -1, e1 = -1, e2 = -1;

    if (!st)
        return;
    name(key, sizeof key, "meta");
    CHECK_INT(gh_store_meta_get_or_set(st, key, "first", v, sizeof v, &err), GH_OK);
    CHECK_STR(v, "first");
    CHECK_INT(gh_store_meta_get_or_set(st, key, "second", v, sizeof v, &err), GH_OK);
    CHECK_STR(v, "first");
    CHECK_INT(gh_store_auth_epoch(st, 0, &e0, &err), GH_OK);
    CHECK_INT(gh_store_auth_epoch(st, 1, &e1, &err), GH_OK);
    CHECK_INT(gh_store_auth_epoch(st, 0, &e2, &err), GH_OK);
    CHECK(e1 > e0);
    CHECK_INT(e2, e1);
    gh_store_close(st);
}

static void history_by_owner(void)
{
    struct gh_store *st = open_store();
    struct gh_identification recs[3], out[10];
    struct gh_err err = {0};
    char mine[GH_IDENTITY_KEY_CAP], other[GH_IDENTITY_KEY_CAP];
    size_t n = 0;

    if (!st)
        return;
    snprintf(mine, sizeof mine, "user:%u", g_nonce);
    snprintf(other, sizeof other, "key:%u", g_nonce);
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 3; i++) {
        snprintf(recs[i].request_id, sizeof recs[i].request_id, "own-%08x-%d", g_nonce, i);
        recs[i].created_at = T0 + i;
        snprintf(recs[i].owner, sizeof recs[i].owner, "%s", i == 1 ? other : mine);
    }
    CHECK_INT(gh_store_record_identifications(st, recs, 3, &err), GH_OK);
    CHECK_INT(gh_store_list_identifications_owned(st, mine, 0, 10, out, &n, &err), GH_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(out[0].id, recs[2].id); /* newest first */
        CHECK_STR(out[0].owner, mine);
        CHECK_INT(out[1].id, recs[0].id);
    }
    CHECK_INT(gh_store_list_identifications_owned(st, mine, recs[2].id, 10, out, &n, &err), GH_OK);
    CHECK_INT(n, 1);
    CHECK_INT(gh_store_list_identifications_owned(st, other, 0, 10, out, &n, &err), GH_OK);
    CHECK_INT(n, 1);
    CHECK_INT(gh_store_get_identification(st, recs[1].id, NULL, NULL, &out[0], &err), GH_OK);
    CHECK_STR(out[0].owner, other);
    /* a request id two owners sent: each finds their own, anyone's is the newest */
    snprintf(recs[0].request_id, sizeof recs[0].request_id, "same-%08x", g_nonce);
    recs[1] = recs[0];
    snprintf(recs[1].owner, sizeof recs[1].owner, "%s", other);
    CHECK_INT(gh_store_record_identifications(st, recs, 2, &err), GH_OK);
    CHECK_INT(gh_store_get_identification(st, 0, recs[0].request_id, mine, &out[0], &err), GH_OK);
    CHECK(out[0].id == recs[0].id && strcmp(out[0].owner, mine) == 0);
    CHECK_INT(gh_store_get_identification(st, 0, recs[0].request_id, other, &out[0], &err), GH_OK);
    CHECK_INT(out[0].id, recs[1].id);
    CHECK_INT(gh_store_get_identification(st, 0, recs[0].request_id, NULL, &out[0], &err), GH_OK);
    CHECK_INT(out[0].id, recs[1].id);
    CHECK_INT(gh_store_get_identification(st, 0, recs[0].request_id, "user:0", &out[0], NULL),
              GH_ENOTFOUND);
    gh_store_close(st);
}

static const struct gh_test_case cases[] = {
    GH_TEST(users_add_get_list_update),
    GH_TEST(keys_add_find_revoke),
    GH_TEST(refresh_spend_once_and_revoke),
    GH_TEST(refresh_revoke_user),
    GH_TEST(meta_first_writer_wins_and_epoch_counts),
    GH_TEST(history_by_owner),
};

static int run_on(const char *url)
{
    printf("# %s\n", strncmp(url, "postgres", 8) == 0 ? "postgresql" : url);
    g_url = url;
    return gh_test_run(cases, sizeof cases / sizeof cases[0]);
}

int main(void)
{
    const char *env = getenv("GH_STORE_TEST_URLS");
    char *urls = env ? strdup(env) : NULL, *save = NULL;
    int rc;

    g_nonce = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    rc = run_on("sqlite::memory:");
    for (char *u = urls ? strtok_r(urls, " ", &save) : NULL; u; u = strtok_r(NULL, " ", &save))
        rc |= run_on(u);
    free(urls);
    return rc;
}
