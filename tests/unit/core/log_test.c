/* SPDX-License-Identifier: MIT */
/* Log lines: in the text format nothing a client sends (a path with a newline, quotes, an
 * escape sequence, spaces and "key=value") can end the line or forge a field; the JSON format
 * escapes the same bytes. stderr is redirected into a temporary file and read back. */
#include "gh/log.h"
#include "../../gh_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs the request through the logger and returns what it wrote (static buffer). */
static const char *logged(enum gh_log_format format, const char *path)
{
    static char out[8192];
    struct gh_log_request r = {"rid-1", "GET", path, 200, 1.5, -1, NULL, NULL, NULL, NULL};
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    size_t n;

    gh_log_setup(GH_LOG_INFO, format);
    fflush(stderr);
    dup2(fileno(f), STDERR_FILENO);
    gh_log_request(&r);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(f);
    n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void text_cannot_be_forged(void)
{
    const char *out =
        logged(GH_LOG_TEXT, "/a\n2026-01-01T00:00:00.000Z info  path=/admin status=200");

    CHECK_INT(count_lines(out), 1);
    CHECK(strstr(out, " path=\"/a\\n2026-01-01T00:00:00.000Z info  path=/admin status=200\"") !=
          NULL);
    CHECK(strstr(out, " status=200 duration_ms=1.500") != NULL);

    out = logged(GH_LOG_TEXT, "/x\r\x1b[31mred\x7f\"q\" \\");
    CHECK_INT(count_lines(out), 1);
    CHECK(strstr(out, "path=\"/x\\r\\x1b[31mred\\x7f\\\"q\\\" \\\\\"") != NULL);
    CHECK(strchr(out, '\x1b') == NULL);

    out = logged(GH_LOG_TEXT, "/plain/path"); /* a plain word stays bare */
    CHECK(strstr(out, " path=/plain/path ") != NULL);

    out = logged(GH_LOG_TEXT, "/c1\xc2\x9b"
                              "31m"); /* U+009B, a C1 CSI */
    CHECK(strstr(out, "path=\"/c1\\u009b31m\"") != NULL);
}

static void json_escapes_too(void)
{
    const char *out = logged(GH_LOG_JSON, "/a\n\"b\"");

    CHECK_INT(count_lines(out), 1);
    CHECK(strstr(out, "\"path\":\"/a\\u000a\\\"b\\\"\"") != NULL);
}

GH_TEST_MAIN(GH_TEST(text_cannot_be_forged), GH_TEST(json_escapes_too))
