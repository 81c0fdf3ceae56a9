/* SPDX-License-Identifier: MIT */
/* Reading whole files (or stdin) into memory, with a byte cap checked while reading. */
#ifndef GH_FILE_H
#define GH_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"

/* Reads all of path ("-" = standard input) into a new buffer of at most cap bytes.
 * On success *out (free with gh_free) and *out_len are set; a file of 0 bytes gives a valid
 * 1-byte allocation and *out_len = 0. Errors: GH_EIO (cannot open or read; the message gives the
 * reason, and callers put the path in front, as the CLI does per file), GH_ETOOBIG (more than cap
 * bytes: reading stops at cap + 1, so a huge stream is never buffered), GH_ENOMEM. */
int gh_file_read(const char *path, size_t cap, uint8_t **out, size_t *out_len,
                 struct gh_err *err) GH_MUST_CHECK;

#endif
