/* SPDX-License-Identifier: MIT */
/* Access-token costs for bench/auth_bench.py: signing, verifying (gh_auth_jwt_verify: split,
 * HMAC-SHA-256, constant-time compare, claims) and a whole authentication (verify plus this
 * instance's cached user and session state), each timed over N calls on one thread.
 * Usage: auth_bench N; prints "sign_ns=.. verify_ns=.. authenticate_ns=.. token=..". */
#include "gh/auth.h"
#include "gh/store.h"
#include "gh/store_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    double t0, t_sign, t_verify, t_auth;
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
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        bad |= gh_auth_jwt_verify(a, s.access_token, now, &c, &err) != GH_OK;
    t_verify = (now_ns() - t0) / (double)n;
    snprintf(header, sizeof header, "Bearer %s", s.access_token);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        memset(&id, 0, sizeof id);
        bad |= gh_auth_authenticate(a, header, NULL, now, &id, &err) != GH_OK;
    }
    t_auth = (now_ns() - t0) / (double)n;
    if (bad) {
        fprintf(stderr, "auth_bench: a call failed: %s\n", err.msg);
        return 1;
    }
    printf("sign_ns=%.0f verify_ns=%.0f authenticate_ns=%.0f token=%s\n", t_sign, t_verify, t_auth,
           s.access_token);
    gh_auth_free(a);
    gh_store_close(st);
    return 0;
}
