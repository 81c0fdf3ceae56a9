/* SPDX-License-Identifier: MIT */
/* The store's corrections (issue 11 "Corrections that teach without poisoning"): each person's
 * correction of a photo is one vote, kept with its status. One vote per owner and photo (a new
 * one replaces the old). The shared cache entry is changed by the pipeline, not here; this
 * records votes, counts them and keeps the review state. Same backends and contract suite as
 * gh/store.h. Thread-safe. */
#ifndef GH_STORE_CORRECTIONS_H
#define GH_STORE_CORRECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"
#include "gh/identity.h"
#include "gh/store.h"

enum gh_correction_status {
    GH_CORRECTION_PENDING,  /* one person's vote: changes only what that person is served */
    GH_CORRECTION_ACCEPTED, /* an admin accepted it: it is the shared answer */
    GH_CORRECTION_REJECTED, /* an admin rejected it: it no longer counts as a vote */
    GH_CORRECTION_APPLIED,  /* a trusted person's, or one of a quorum: it is the shared answer */
};

/* "pending", "accepted", "rejected", "applied" and back; -1 / NULL for anything else. */
int gh_correction_status_parse(const char *s);
const char *gh_correction_status_name(int status);

struct gh_correction {
    int64_t id; /* set by the store on insert; grows with every insert */
    int64_t identification_id;
    char sha256[GH_STORE_SHA_HEX_CAP]; /* the photo */
    uint64_t phash;
    char owner[GH_IDENTITY_KEY_CAP]; /* who voted: "user:7", "key:3" */
    char username[64];               /* filled by reads: the owner's name when a user, else "" */
    char slug[64];                   /* what it should be */
    char previous_slug[64];          /* what the analysis said ("" when not identified) */
    int status;                      /* enum gh_correction_status */
    int64_t created_at;
    int64_t decided_at; /* when it stopped being pending; 0 while pending */
    int64_t votes;      /* filled by reads: votes for this photo and slug that are not rejected */
};

/* Records c (every field up to created_at; status usually pending) as c->owner's vote for the
 * photo c->sha256, replacing that owner's earlier vote for it, and marks identification
 * c->identification_id corrected to c->slug in the history; in one transaction. Sets c->id and
 * c->votes (this vote included). Errors: GH_EINVAL (a field missing or too long), the
 * store's. */
int gh_store_correction_add(struct gh_store *st, struct gh_correction *c,
                            struct gh_err *err) GH_MUST_CHECK;

/* One correction by id, with username and votes. GH_ENOTFOUND. */
int gh_store_correction_get(struct gh_store *st, int64_t id, struct gh_correction *out,
                            struct gh_err *err) GH_MUST_CHECK;

/* Corrections with id < before_id (0: the newest) and the status (-1: any), newest first, at
 * most limit (1..1000) into out; *n_out gets the count. */
int gh_store_correction_list(struct gh_store *st, int status, int64_t before_id, size_t limit,
                             struct gh_correction *out, size_t *n_out,
                             struct gh_err *err) GH_MUST_CHECK;

/* Corrections with id > after_id by a named owner (not ""), oldest first, at most limit
 * (1..10000): what an instance pulls to serve each person their own corrections. username and
 * votes are not filled. */
int gh_store_correction_since(struct gh_store *st, int64_t after_id, size_t limit,
                              struct gh_correction *out, size_t *n_out,
                              struct gh_err *err) GH_MUST_CHECK;

/* Sets correction id's status at now. Accepted or applied also marks applied every pending
 * vote for the same photo and slug (they agree with the shared answer now). GH_ENOTFOUND. */
int gh_store_correction_set_status(struct gh_store *st, int64_t id, int status, int64_t now,
                                   struct gh_err *err) GH_MUST_CHECK;

#endif
