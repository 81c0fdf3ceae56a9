/* SPDX-License-Identifier: MIT */
/* Who a request comes from: one notion for everything below admission (DESIGN.md "The next
 * layers"). Always the client's address; once authenticated, also a user or an API key. Rate
 * limits, history ownership and corrections key on `key`, never on the parts, so that an
 * address today and an account or key tomorrow are the same thing to them. Plain data, filled
 * by the HTTP layer for each request. */
#ifndef GH_IDENTITY_H
#define GH_IDENTITY_H

#include <stdint.h>

#define GH_IDENTITY_ADDR_CAP 64 /* textual IPv6 with a zone, and the NUL */
#define GH_IDENTITY_KEY_CAP  96

enum gh_identity_kind {
    GH_IDENTITY_ANONYMOUS, /* known only by its address */
    GH_IDENTITY_USER,      /* a signed-in user (access token) */
    GH_IDENTITY_API_KEY,   /* a server or script with an API key */
};

enum gh_role { GH_ROLE_NONE, GH_ROLE_USER, GH_ROLE_TRUSTED, GH_ROLE_ADMIN };

/* What an API key may do; a user's token carries every scope of its role. */
enum gh_scope {
    GH_SCOPE_ANALYZE = 1u << 0,
    GH_SCOPE_FEEDBACK = 1u << 1,
    GH_SCOPE_ADMIN = 1u << 2,
    GH_SCOPE_WORKOUTS = 1u << 3, /* the person's workout log, plans and share links */
};

struct gh_identity {
    enum gh_identity_kind kind;
    /* The client's address: the socket's peer, or the X-Forwarded-For hop that a proxy listed
     * in TRUSTED_PROXIES added. Never a header a client could choose. */
    char address[GH_IDENTITY_ADDR_CAP];
    int loopback;    /* address is in 127.0.0.0/8 or is ::1 */
    int64_t user_id; /* the owner of what the request creates; 0 when anonymous */
    int64_t key_id;  /* the API key used, 0 when none */
    enum gh_role role;
    unsigned scopes; /* enum gh_scope bits */
    /* "addr:<address>", "user:<id>" or "key:<id>": what buckets and ownership key on. */
    char key[GH_IDENTITY_KEY_CAP];
};

/* Sets id->key from id->kind and the matching field above. */
void gh_identity_set_key(struct gh_identity *id);

#endif
