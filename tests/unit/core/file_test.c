/* SPDX-License-Identifier: MIT */
#include "gh/alloc.h"
#include "gh/file.h"
#include "../../gh_test.h"

#include <stdlib.h>
#include <unistd.h>

static char path[64];

static void write_file(size_t n)
{
    FILE *f = fopen(path, "wb");

    for (size_t i = 0; i < n; i++)
        fputc((int)(i * 7 % 251), f);
    fclose(f);
}

static void reads_whole_file(void)
{
    struct gh_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    int ok = 1;

    write_file(200000); /* several growth steps */
    CHECK_INT(gh_file_read(path, 200000, &buf, &len, &err), GH_OK);
    CHECK_INT(len, 200000);
    for (size_t i = 0; buf && i < len; i++)
        ok &= buf[i] == (uint8_t)(i * 7 % 251);
    CHECK(ok);
    gh_free(buf);
}

static void refuses_over_cap(void)
{
    struct gh_err err = {0};
    uint8_t *buf = (uint8_t *)1;
    size_t len = 5;

    write_file(1001);
    CHECK_INT(gh_file_read(path, 1000, &buf, &len, &err), GH_ETOOBIG);
    CHECK(buf == NULL);
    CHECK_INT(len, 0);
}

static void empty_file_is_zero_bytes(void)
{
    struct gh_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 9;

    write_file(0);
    CHECK_INT(gh_file_read(path, 1000, &buf, &len, &err), GH_OK);
    CHECK(buf != NULL);
    CHECK_INT(len, 0);
    gh_free(buf);
}

static void missing_file_is_io_error(void)
{
    struct gh_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;

    CHECK_INT(gh_file_read("/nonexistent/x.jpg", 1000, &buf, &len, &err), GH_EIO);
    CHECK(strstr(err.msg, "No such file") != NULL);
}

int main(void)
{
    static const struct gh_test_case cases[] = {
        GH_TEST(reads_whole_file), GH_TEST(refuses_over_cap), GH_TEST(empty_file_is_zero_bytes),
        GH_TEST(missing_file_is_io_error)};
    int fd, rc;

    snprintf(path, sizeof path, "/tmp/gh_file_test_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    rc = gh_test_run(cases, sizeof cases / sizeof cases[0]);
    unlink(path);
    return rc;
}
