/* SPDX-License-Identifier: MIT */
/* The CLIP tokenizer on the real vocabulary (../shared/data/clip next to the repository; CI
 * has it too): known ids, truncation, refusals. tests/clip/test_tokenizer.py compares many
 * more texts with a reference implementation. */
#include "gh_test.h"

#include "gh/clip.h"

#include <stdlib.h>

static struct gh_clip_tokenizer *tok;

static void load(void)
{
    char path[4096];
    const char *data = getenv("GH_TEST_DATA"); /* REPO/tests/data, which need not exist */
    struct gh_err err = {0};
    size_t n = data ? strlen(data) : 0;

    /* REPO/../shared/data/clip, where CI and developers keep the vocabulary */
    if (n > strlen("/tests/data"))
        n -= strlen("/tests/data");
    snprintf(path, sizeof path, "%.*s/../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", (int)n,
             data ? data : ".");
    CHECK_INT(gh_clip_tokenizer_load_bpe_gz(path, &tok, &err), GH_OK);
    if (!tok)
        fprintf(stderr, "%s\n", err.msg);
}

static size_t encode(const char *text, int32_t *ids, size_t cap)
{
    struct gh_err err = {0};
    size_t n = 0;

    CHECK_INT(gh_clip_tokenize(tok, text, ids, cap, &n, &err), GH_OK);
    return n;
}

static void test_cat(void)
{
    const int32_t want[] = {49406, 320, 1125, 539, 320, 2368, 49407};
    int32_t ids[GH_CLIP_CONTEXT];
    size_t n;

    if (!tok)
        return;
    CHECK_INT(gh_clip_tokenizer_sot(tok), 49406);
    CHECK_INT(gh_clip_tokenizer_eot(tok), 49407);
    n = encode("a photo of a cat", ids, GH_CLIP_CONTEXT);
    CHECK_INT(n, 7);
    CHECK(n == 7 && memcmp(ids, want, sizeof want) == 0);
    /* case, extra whitespace and invalid UTF-8 around it change nothing */
    n = encode("  A \t PHOTO\n of a   Cat ", ids, GH_CLIP_CONTEXT);
    CHECK(n == 7 && memcmp(ids, want, sizeof want) == 0);
    n = encode("", ids, GH_CLIP_CONTEXT);
    CHECK(n == 2 && ids[0] == 49406 && ids[1] == 49407);
    n = encode("\xff\xfe", ids, GH_CLIP_CONTEXT);
    CHECK(n >= 3 && ids[n - 1] == 49407);
}

static void test_truncation(void)
{
    char text[4000] = "";
    int32_t ids[100], full[GH_CLIP_CONTEXT];
    size_t n;

    if (!tok)
        return;
    for (int i = 0; i < 200; i++)
        strcat(text, "cat ");
    n = encode(text, full, GH_CLIP_CONTEXT);
    CHECK_INT(n, GH_CLIP_CONTEXT);
    CHECK_INT(full[0], 49406);
    CHECK_INT(full[1], 2368);
    CHECK_INT(full[GH_CLIP_CONTEXT - 2], 2368);
    CHECK_INT(full[GH_CLIP_CONTEXT - 1], 49407);
    n = encode(text, ids, 100); /* caps above the context are clamped to it */
    CHECK_INT(n, GH_CLIP_CONTEXT);
    n = encode(text, ids, 5);
    CHECK(n == 5 && ids[3] == 2368 && ids[4] == 49407);
    n = encode(text, ids, 2);
    CHECK(n == 2 && ids[0] == 49406 && ids[1] == 49407);
}

static void test_refusals(void)
{
    struct gh_clip_tokenizer *t = NULL;
    struct gh_err err = {0};
    int32_t ids[4];
    size_t n = 9;

    if (tok) {
        CHECK_INT(gh_clip_tokenize(tok, "cat", ids, 1, &n, &err), GH_EINVAL);
        CHECK_INT(n, 0);
    }
    CHECK_INT(gh_clip_tokenizer_load_bpe_gz("/nonexistent/bpe.txt.gz", &t, &err), GH_EIO);
    CHECK(t == NULL);
    gh_err_clear(&err);
    CHECK_INT(
        gh_clip_tokenizer_load("/nonexistent/vocab.json", "/nonexistent/merges.txt", &t, &err),
        GH_EIO);
    CHECK(t == NULL);
    gh_clip_tokenizer_free(NULL);
}

static void test_free(void)
{
    gh_clip_tokenizer_free(tok);
    tok = NULL;
}

GH_TEST_MAIN(GH_TEST(load), GH_TEST(test_cat), GH_TEST(test_truncation), GH_TEST(test_refusals),
             GH_TEST(test_free))
