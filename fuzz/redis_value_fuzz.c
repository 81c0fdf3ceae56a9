/* SPDX-License-Identifier: MIT */
/* Fuzzes the Redis value reader: what another program (or a damaged server) left under one of
 * our keys is decoded (decode() in src/cache/redis.c, included for its statics as tests do)
 * into an entry, or refused; a decoded entry's strings are terminated and its answer an object
 * text. The value gets an exact-size copy. */
#include "fuzz.h"

#include "../src/cache/redis.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = gh_malloc(size ? size : 1);
    struct gh_cache_entry e;

    if (!text)
        return 0;
    memcpy(text, data, size);
    if (decode(text, size, 1700000000, &e)) {
        if (!memchr(e.sha256, '\0', sizeof e.sha256) ||
            !memchr(e.equipment_slug, '\0', sizeof e.equipment_slug) || !e.answer_json ||
            e.answer_json[0] != '{' || e.expires_at <= 1700000000)
            abort();
        gh_cache_entry_fini(&e);
    }
    gh_free(text);
    return 0;
}
