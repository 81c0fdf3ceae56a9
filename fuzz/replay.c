/* SPDX-License-Identifier: MIT */
/* A main for fuzz targets built without libFuzzer: feeds each file under the given
 * directories (or the files given) to the target once, so the corpus runs in every test. */
#include "fuzz.h"
#include "gh/alloc.h"
#include "gh/file.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path, int *n)
{
    struct gh_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;

    if (gh_file_read(path, 64u << 20, &buf, &len, &err) != GH_OK) {
        fprintf(stderr, "replay: %s: %s\n", path, err.msg);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, len);
    gh_free(buf);
    (*n)++;
    return 0;
}

static int run_path(const char *path, int *n)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int bad = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: not found\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, n);
    d = opendir(path);
    if (!d)
        return 1;
    while ((e = readdir(d)) != NULL) {
        char child[4096];

        if (e->d_name[0] == '.')
            continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        bad |= run_path(child, n);
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv)
{
    int n = 0, bad = 0;

    for (int i = 1; i < argc; i++)
        bad |= run_path(argv[i], &n);
    printf("replayed %d inputs\n", n);
    return bad || n == 0;
}
