/* SPDX-License-Identifier: MIT */
/* The key that rate limits and ownership use for a request's identity (gh/identity.h). */
#include "gh/identity.h"

#include <inttypes.h>
#include <stdio.h>

void gh_identity_set_key(struct gh_identity *id)
{
    switch (id->kind) {
    case GH_IDENTITY_USER:
        snprintf(id->key, sizeof id->key, "user:%" PRId64, id->user_id);
        break;
    case GH_IDENTITY_API_KEY:
        snprintf(id->key, sizeof id->key, "key:%" PRId64, id->key_id);
        break;
    case GH_IDENTITY_ANONYMOUS:
    default:
        snprintf(id->key, sizeof id->key, "addr:%s", id->address);
        break;
    }
}
