/* SPDX-License-Identifier: MIT */
/* Test driver for the tokenizer (tests/clip/test_tokenizer.py): loads the BPE from
 * --gz FILE or --hf VOCAB MERGES, then reads texts from standard input separated by NUL bytes
 * (raw bytes, so invalid UTF-8 reaches the tokenizer) and prints each text's ids on one line.
 * --cap N sets the token buffer (default 77). */
#include "gh/alloc.h"
#include "gh/clip.h"
#include "gh/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: clip_tokenize [--cap N] (--gz FILE | --hf VOCAB MERGES) < texts\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct gh_clip_tokenizer *t = NULL;
    struct gh_err err = {0};
    uint8_t *in = NULL;
    size_t len = 0, cap = GH_CLIP_CONTEXT;
    int i = 1, rc = 1;

    if (i + 1 < argc && strcmp(argv[i], "--cap") == 0) {
        cap = (size_t)strtoul(argv[i + 1], NULL, 10);
        i += 2;
    }
    if (i + 1 < argc && strcmp(argv[i], "--gz") == 0)
        rc = gh_clip_tokenizer_load_bpe_gz(argv[i + 1], &t, &err);
    else if (i + 2 < argc && strcmp(argv[i], "--hf") == 0)
        rc = gh_clip_tokenizer_load(argv[i + 1], argv[i + 2], &t, &err);
    else
        return usage();
    if (rc != GH_OK) {
        fprintf(stderr, "clip_tokenize: %s (%s)\n", err.msg, gh_err_name(rc));
        return 1;
    }
    rc = gh_file_read("-", 64u << 20, &in, &len, &err);
    if (rc != GH_OK) {
        fprintf(stderr, "clip_tokenize: %s\n", err.msg);
        gh_clip_tokenizer_free(t);
        return 1;
    }
    for (size_t start = 0; start < len;) {
        const uint8_t *nul = memchr(in + start, 0, len - start);
        size_t end = nul ? (size_t)(nul - in) : len;
        char *text = gh_malloc(end - start + 1);
        int32_t ids[GH_CLIP_CONTEXT];
        size_t n = 0;

        if (!text) {
            rc = GH_ENOMEM;
            break;
        }
        memcpy(text, in + start, end - start);
        text[end - start] = '\0';
        rc = gh_clip_tokenize(t, text, ids, cap, &n, &err);
        gh_free(text);
        if (rc != GH_OK) {
            printf("error %s\n", gh_err_name(rc));
        } else {
            for (size_t k = 0; k < n; k++)
                printf(k ? " %d" : "%d", (int)ids[k]);
            printf("\n");
        }
        start = end + 1;
    }
    gh_free(in);
    gh_clip_tokenizer_free(t);
    return 0;
}
