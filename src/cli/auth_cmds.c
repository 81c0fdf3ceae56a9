/* SPDX-License-Identifier: MIT */
/* `gymhelper user add|list|passwd|disable|enable` and `gymhelper key create|list|revoke`:
 * accounts and API keys in the store named by DATABASE_URL. Secrets are printed once, never
 * logged; every change that takes a right away bumps the store's revocation epoch so that
 * running instances notice within a second. */
#include "cli.h"
#include "config.h"

#include "gh/auth.h"
#include "gh/store_auth.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LIST_MAX 10000

/* Our own flags are taken out of argv before the settings parser sees the rest: "--name V",
 * "--name=V", or a bare "--flag" (value "" when takes_value is 0). NULL when absent. */
static const char *take_flag(int *argc, char **argv, const char *name, int takes_value)
{
    size_t n = strlen(name);

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = NULL;
        int used = 1;

        if (strncmp(a, name, n) != 0)
            continue;
        if (a[n] == '=' && takes_value)
            v = a + n + 1;
        else if (a[n] == '\0' && !takes_value)
            v = "";
        else if (a[n] == '\0' && i + 1 < *argc)
            v = argv[i + 1], used = 2;
        else
            continue;
        memmove(argv + i, argv + i + used, (size_t)(*argc - i - used) * sizeof *argv);
        *argc -= used;
        return v;
    }
    return NULL;
}

/* One line from stdin without its newline. */
static int read_password(char *out, size_t cap)
{
    size_t n;

    if (!fgets(out, (int)cap, stdin))
        return -1;
    n = strcspn(out, "\r\n");
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

static int open_store(int argc, char **argv, const char *usage, struct gh_config *cfg,
                      struct gh_store **st, int *next)
{
    struct gh_err err = {0};
    int rc = gh_config_load(cfg, argc, argv, usage, next);

    if (rc)
        return rc > 0 ? 0 : 2;
    gh_log_setup(cfg->log_level, cfg->log_format);
    if (gh_store_open_opts(cfg->database_url, &cfg->store, st, &err) != GH_OK) {
        fprintf(stderr, "gymhelper: %s\n", err.msg);
        return 1;
    }
    return -1; /* go on */
}

static const char user_usage[] =
    "usage: gymhelper user add NAME [--role user|trusted|admin] [--password-stdin]\n"
    "       gymhelper user list\n"
    "       gymhelper user passwd NAME [--password-stdin]\n"
    "       gymhelper user disable NAME | user enable NAME\n"
    "Accounts in the store (DATABASE_URL). Without --password-stdin a password is generated\n"
    "and printed once. A new password or disabling signs the user out everywhere within a\n"
    "second, and enabling brings none of those sessions back.\n";

/* The password from stdin, or a generated one that is printed. */
static int new_password(int from_stdin, char *pw, size_t cap, int *generated, struct gh_err *err)
{
    *generated = 0;
    if (from_stdin) {
        if (read_password(pw, cap) != 0)
            return gh_err_set(err, GH_EINVAL, "no password on stdin");
        return GH_OK;
    }
    *generated = 1;
    return gh_auth_random_password(pw, err);
}

static int user_add(struct gh_store *st, const char *name, const char *role, int from_stdin,
                    struct gh_err *err)
{
    struct gh_user u;
    char pw[1100];
    int rc, generated;

    memset(&u, 0, sizeof u);
    u.role = gh_role_parse(role ? role : "user");
    if (u.role == GH_ROLE_NONE)
        return gh_err_set(err, GH_EINVAL, "--role is user, trusted or admin");
    snprintf(u.username, sizeof u.username, "%s", name);
    if (strlen(name) >= sizeof u.username)
        return gh_err_set(err, GH_EINVAL, "a username is 1 to %d characters", GH_USERNAME_CAP - 1);
    u.created_at = (int64_t)time(NULL);
    rc = new_password(from_stdin, pw, sizeof pw, &generated, err);
    if (rc == GH_OK)
        rc = gh_auth_password_hash(pw, u.password_hash, err);
    if (rc == GH_OK)
        rc = gh_store_user_add(st, &u, err);
    if (rc == GH_OK) {
        printf("user %s (id %lld, role %s) added\n", u.username, (long long)u.id,
               gh_role_name(u.role));
        if (generated)
            printf("password: %s\n(shown once; change it with 'gymhelper user passwd %s')\n", pw,
                   u.username);
    }
    memset(pw, 0, sizeof pw);
    return rc;
}

static int user_list(struct gh_store *st, struct gh_err *err)
{
    static struct gh_user users[LIST_MAX];
    size_t n = 0;
    int rc = gh_store_user_list(st, users, LIST_MAX, &n, err);

    if (rc)
        return rc;
    printf("%-6s %-24s %-8s %-8s %s\n", "ID", "USERNAME", "ROLE", "STATE", "CREATED");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        time_t t = (time_t)users[i].created_at;
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%-6lld %-24s %-8s %-8s %s\n", (long long)users[i].id, users[i].username,
               gh_role_name(users[i].role) ? gh_role_name(users[i].role) : "?",
               users[i].disabled ? "disabled" : "active", when);
    }
    return GH_OK;
}

static int user_change(struct gh_store *st, const char *verb, const char *name, int from_stdin,
                       struct gh_err *err)
{
    char pw[1100], hash[GH_PASSWORD_HASH_CAP];
    struct gh_user u;
    int rc, generated = 0;

    rc = gh_store_user_get(st, 0, name, &u, err);
    if (rc == GH_ENOTFOUND) {
        gh_err_clear(err);
        return gh_err_set(err, GH_ENOTFOUND, "no user named %.64s", name);
    }
    if (rc)
        return rc;
    if (strcmp(verb, "passwd") == 0) {
        rc = new_password(from_stdin, pw, sizeof pw, &generated, err);
        if (rc == GH_OK)
            rc = gh_auth_password_hash(pw, hash, err);
        if (rc == GH_OK)
            rc = gh_store_user_update(st, u.id, hash, -1, err);
        if (rc == GH_OK && generated)
            printf("password: %s\n(shown once)\n", pw);
        memset(pw, 0, sizeof pw);
    } else {
        rc = gh_store_user_update(st, u.id, NULL, strcmp(verb, "disable") == 0, err);
    }
    /* a new password, or a disabled account, ends every session signed in before: one signed
     * in with a stolen password must not outlive it, nor come back with `user enable` */
    if (rc == GH_OK && strcmp(verb, "enable") != 0)
        rc = gh_store_refresh_revoke_user(st, u.id, (int64_t)time(NULL), err);
    if (rc == GH_OK)
        rc = gh_auth_revoked(st, NULL, err);
    if (rc == GH_OK)
        printf("user %s: %s done\n", u.username, verb);
    return rc;
}

int gh_cli_user(int argc, char **argv)
{
    const char *role = take_flag(&argc, argv, "--role", 1);
    int from_stdin = take_flag(&argc, argv, "--password-stdin", 0) != NULL;
    struct gh_config cfg;
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    const char *verb;
    int next, rc;

    rc = open_store(argc, argv, user_usage, &cfg, &st, &next);
    if (rc >= 0)
        return rc;
    verb = next < argc ? argv[next] : "";
    if (strcmp(verb, "list") == 0 && next + 1 == argc)
        rc = user_list(st, &err);
    else if (strcmp(verb, "add") == 0 && next + 2 == argc)
        rc = user_add(st, argv[next + 1], role, from_stdin, &err);
    else if ((strcmp(verb, "passwd") == 0 || strcmp(verb, "disable") == 0 ||
              strcmp(verb, "enable") == 0) &&
             next + 2 == argc)
        rc = user_change(st, verb, argv[next + 1], from_stdin, &err);
    else {
        fputs(user_usage, stderr);
        gh_store_close(st);
        return 2;
    }
    if (rc)
        fprintf(stderr, "gymhelper: %s\n", err.msg);
    gh_store_close(st);
    return rc ? 1 : 0;
}

static const char key_usage[] =
    "usage: gymhelper key create --name NAME --scope analyze,feedback,workouts,admin\n"
    "                            [--user USERNAME]\n"
    "       gymhelper key list\n"
    "       gymhelper key revoke ID\n"
    "API keys for servers and scripts, sent as 'Authorization: Bearer gh_...' or\n"
    "'X-API-Key: gh_...'. The key is printed once; the store keeps only its SHA-256. A key\n"
    "with --user acts as that user (and has admin only if the user is an admin); 'workouts'\n"
    "lets it read and change that user's workout log, plans and share links.\n";

static int key_create(struct gh_store *st, const char *name, const char *scope, const char *user,
                      struct gh_err *err)
{
    char key[GH_AUTH_SECRET_CAP], scopes[64];
    struct gh_api_key k;
    struct gh_user u;
    int rc;

    memset(&k, 0, sizeof k);
    if (!name || !name[0] || strlen(name) >= sizeof k.name)
        return gh_err_set(err, GH_EINVAL, "--name is 1 to %zu characters", sizeof k.name - 1);
    snprintf(k.name, sizeof k.name, "%s", name);
    rc = gh_auth_scopes_parse(scope ? scope : "", &k.scopes, err);
    if (rc == GH_OK && user) {
        rc = gh_store_user_get(st, 0, user, &u, err);
        if (rc == GH_ENOTFOUND) {
            gh_err_clear(err);
            rc = gh_err_set(err, GH_ENOTFOUND, "no user named %.64s", user);
        }
        k.user_id = u.id;
    }
    if (rc == GH_OK)
        rc = gh_auth_key_create(st, &k, (int64_t)time(NULL), key, err);
    if (rc)
        return rc;
    gh_auth_scopes_format(k.scopes, scopes, sizeof scopes);
    printf("key %lld \"%s\" (scopes %s%s%s) created:\n%s\n(shown once; the store keeps only its "
           "hash)\n",
           (long long)k.id, k.name, scopes, user ? ", user " : "", user ? user : "", key);
    memset(key, 0, sizeof key);
    return GH_OK;
}

static int key_list(struct gh_store *st, struct gh_err *err)
{
    static struct gh_api_key keys[LIST_MAX];
    size_t n = 0;
    int rc = gh_store_key_list(st, keys, LIST_MAX, &n, err);

    if (rc)
        return rc;
    printf("%-6s %-20s %-12s %-24s %-8s %s\n", "ID", "NAME", "PREFIX", "SCOPES", "USER_ID",
           "STATE");
    for (size_t i = 0; i < n; i++) {
        char scopes[64];

        gh_auth_scopes_format(keys[i].scopes, scopes, sizeof scopes);
        printf("%-6lld %-20s %-12s %-24s %-8lld %s\n", (long long)keys[i].id, keys[i].name,
               keys[i].prefix, scopes, (long long)keys[i].user_id,
               keys[i].revoked_at ? "revoked" : "active");
    }
    return GH_OK;
}

int gh_cli_key(int argc, char **argv)
{
    const char *name = take_flag(&argc, argv, "--name", 1);
    const char *scope = take_flag(&argc, argv, "--scope", 1);
    const char *user = take_flag(&argc, argv, "--user", 1);
    struct gh_config cfg;
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    const char *verb;
    long id = 0;
    int next, rc;

    rc = open_store(argc, argv, key_usage, &cfg, &st, &next);
    if (rc >= 0)
        return rc;
    verb = next < argc ? argv[next] : "";
    if (strcmp(verb, "list") == 0 && next + 1 == argc) {
        rc = key_list(st, &err);
    } else if (strcmp(verb, "create") == 0 && next + 1 == argc) {
        rc = key_create(st, name, scope, user, &err);
    } else if (strcmp(verb, "revoke") == 0 && next + 2 == argc &&
               gh_cli_parse_long(argv[next + 1], 1, INT32_MAX, &id) == 0) {
        rc = gh_store_key_revoke(st, id, (int64_t)time(NULL), &err);
        if (rc == GH_OK)
            rc = gh_auth_revoked(st, NULL, &err);
        if (rc == GH_OK)
            printf("key %ld revoked\n", id);
    } else {
        fputs(key_usage, stderr);
        gh_store_close(st);
        return 2;
    }
    if (rc)
        fprintf(stderr, "gymhelper: %s\n", err.msg);
    gh_store_close(st);
    return rc ? 1 : 0;
}
