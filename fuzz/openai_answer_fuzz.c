/* SPDX-License-Identifier: MIT */
/* Fuzzes what the OpenAI-compatible client makes of a model's text: the answer object found in
 * it (gh_provider_answer_json: the whole text, or the first balanced {...} that parses) and the
 * scrubbing of a secret from text echoed into errors. The text gets an exact-size copy. */
#include "fuzz.h"
#include "gh/alloc.h"
#include "provider/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = gh_malloc(size ? size : 1), out[256];
    json_t *doc;

    if (!text)
        return 0;
    memcpy(text, data, size);
    doc = gh_provider_answer_json(text, size);
    if (doc && !json_is_object(doc))
        abort(); /* the contract: an object or nothing */
    json_decref(doc);
    gh_provider_scrub(text, size, "sk-test-secret-key", out, sizeof out);
    if (!memchr(out, '\0', sizeof out) || strstr(out, "sk-test-secret-key"))
        abort();
    gh_free(text);
    return 0;
}
