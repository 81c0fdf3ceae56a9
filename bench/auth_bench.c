/* SPDX-License-Identifier: MIT */
/* Access-token costs for bench/auth_bench.py: signing, verifying (gh_auth_jwt_verify: split,
 * HMAC-SHA-256, constant-time compare, claims) and a whole authentication (verify plus this
 * instance's cached user and session state), each timed over N calls on one thread. Verifying
 * is timed twice: "cold" over COLD distinct tokens in turn (none was verified before: every
 * call checks the signature and parses the claims), and for one token sent again and again, as
 * a client does for the token's 15 minutes (the instance remembers the bytes it verified).
 * Usage: auth_bench N; prints "sign_ns=.. verify_cold_ns=.. verify_ns=.. authenticate_ns=..
 * token=..". */
#include "gh/auth.h"
#include "gh/store.h"
#include "gh/store_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLD 4096 /* more than the verified-token slots: each comes back after 4096 others */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    struct gh_auth_config cfg;
    struct gh_auth_session s;
    struct gh_auth_claims c;
    struct gh_identity id;
    struct gh_store *st = NULL;
    struct gh_auth *a = NULL;
    struct gh_err err = {0};
    struct gh_user u;
    char header[GH_AUTH_TOKEN_CAP + 8], tok[GH_AUTH_TOKEN_CAP];
    int64_t now = (int64_t)time(NULL), retry = 0;
    double t0, t_sign, t_cold, t_verify, t_auth;
    char *cold;
    int bad = 0;

    gh_auth_config_defaults(&cfg);
    cfg.jwt_secret = "bench-secret-0123456789-abcdefghijklmnop";
    memset(&u, 0, sizeof u);
    snprintf(u.username, sizeof u.username, "bench");
    u.role = GH_ROLE_USER;
    if (gh_store_open("sqlite::memory:", 1, &st, &err) || gh_auth_new(&cfg, st, &a, &err) ||
        gh_auth_password_hash("bench-password", u.password_hash, &err) ||
        gh_store_user_add(st, &u, &err) ||
        gh_auth_login(a, "bench", "bench-password", "127.0.0.1", now, &s, &retry, &err)) {
        fprintf(stderr, "auth_bench: %s\n", err.msg);
        return 1;
    }
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        memset(&c, 0, sizeof c);
        c.user_id = u.id;
        c.role = GH_ROLE_USER;
        snprintf(c.sid, sizeof c.sid, "benchsession");
        c.iat = c.nbf = now;
        c.exp = now + 900;
        bad |= gh_auth_jwt_sign(a, &c, tok, sizeof tok, &err) != GH_OK;
    }
    t_sign = (now_ns() - t0) / (double)n;
    cold = malloc((size_t)COLD * GH_AUTH_TOKEN_CAP);
    for (long i = 0; cold && i < COLD; i++) {
        snprintf(c.sid, sizeof c.sid, "bench%ld", i);
        bad |= gh_auth_jwt_sign(a, &c, cold + i * GH_AUTH_TOKEN_CAP, GH_AUTH_TOKEN_CAP, &err);
    }
    if (!cold) {
        fprintf(stderr, "auth_bench: out of memory\n");
        return 1;
    }
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        bad |= gh_auth_jwt_verify(a, cold + (i % COLD) * GH_AUTH_TOKEN_CAP, now, &c, &err) != GH_OK;
    t_cold = (now_ns() - t0) / (double)n;
    free(cold);
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        bad |= gh_auth_jwt_verify(a, s.access_token, now, &c, &err) != GH_OK;
    t_verify = (now_ns() - t0) / (double)n;
    snprintf(header, sizeof header, "Bearer %s", s.access_token);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        memset(&id, 0, sizeof id);
        bad |= gh_auth_authenticate(a, header, NULL, now, 1, &id, &err) != GH_OK;
    }
    t_auth = (now_ns() - t0) / (double)n;
    if (bad) {
        fprintf(stderr, "auth_bench: a call failed: %s\n", err.msg);
        return 1;
    }
    printf("sign_ns=%.0f verify_cold_ns=%.0f verify_ns=%.0f authenticate_ns=%.0f token=%s\n",
           t_sign, t_cold, t_verify, t_auth, s.access_token);
    gh_auth_free(a);
    gh_store_close(st);
    return 0;
}
