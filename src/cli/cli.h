/* SPDX-License-Identifier: MIT */
/* Subcommands of the gymhelper binary. Each takes the arguments after its own name (argv[0]
 * is the subcommand) and returns the process exit status: 0 all good, 1 some input failed,
 * 2 bad usage. */
#ifndef GH_CLI_H
#define GH_CLI_H

#include "gh/image.h"

/* Settings every image command shares, from the environment and then flags. */
struct gh_cli_image_opts {
    struct gh_image_limits lim;
    enum gh_image_format declared; /* from --type; UNKNOWN: take it from each file's name */
    int check_declared;            /* 0 with --type any: no declaration is checked */
};

int gh_cli_hash(int argc, char **argv);
int gh_cli_validate(int argc, char **argv);
int gh_cli_prep(int argc, char **argv);
int gh_cli_serve(int argc, char **argv);
int gh_cli_analyze(int argc, char **argv);
int gh_cli_cache(int argc, char **argv);
int gh_cli_quality(int argc, char **argv);
int gh_cli_eval(int argc, char **argv);   /* eval_cmds.c */
int gh_cli_doctor(int argc, char **argv); /* doctor_cmds.c */
int gh_cli_db(int argc, char **argv);
int gh_cli_clip(int argc, char **argv); /* clip_cmds.c */
int gh_cli_model(int argc, char **argv);
int gh_cli_user(int argc, char **argv); /* auth_cmds.c */
int gh_cli_key(int argc, char **argv);
int gh_cli_plan(int argc, char **argv); /* plan_cmds.c */

/* Parses a whole decimal integer in [min, max]; 0 on success, -1 otherwise. */
int gh_cli_parse_long(const char *s, long min, long max, long *out);

#endif
