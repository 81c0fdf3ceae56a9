/* SPDX-License-Identifier: MIT */
/* `gymhelper doctor`: checks the set-up the way `serve` would use it (catalogue, store, Redis,
 * CLIP model, the CPU's kernels, the remote provider) and prints one line per check, with a
 * one-line fix under each problem. Exit status 1 when anything needs fixing. */
#include "cli.h"
#include "config.h"

#include "gh/models.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PROBE_TIMEOUT_MS                                                                           \
    3000 /* a provider that does not connect in 3 s is reported, not waited on */

static const char doctor_usage[] =
    "usage: gymhelper doctor [SETTINGS]\n"
    "Checks the set-up as serve would use it: the catalogue, the store (DATABASE_URL), Redis\n"
    "(REDIS_URL), the CLIP model (CLIP_MODEL or the pulled default: present and loadable), the\n"
    "CPU's kernels, and the remote provider (OPENAI_API_KEY/OPENAI_BASE_URL or LLAVA_BASE_URL:\n"
    "reachable, key accepted; asks its model list, sends no photo). Prints 'ok', 'skip' or\n"
    "'FAIL' per check and a one-line fix under each failure; exit status 1 when any failed.\n";

struct doctor {
    struct gh_config cfg;
    int failed;
};

static void say(const char *status, const char *what, const char *fmt, ...) GH_PRINTF(3, 4);
static void say(const char *status, const char *what, const char *fmt, ...)
{
    va_list ap;

    printf("%-4s  %-9s ", status, what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void fail(struct doctor *d, const char *what, const char *why, const char *fix)
{
    d->failed++;
    say("FAIL", what, "%s", why);
    printf("      %-9s fix: %s\n", "", fix);
}

static int is_set(const char *s)
{
    return s && *s;
}

static void check_catalogue(struct doctor *d, struct gh_catalogue **cat)
{
    struct gh_err err = {0};
    int rc = d->cfg.catalogue_path ? gh_catalogue_load_file(d->cfg.catalogue_path, cat, &err)
                                   : gh_catalogue_load_embedded(cat, &err);

    if (rc)
        fail(d, "catalogue", err.msg,
             "point CATALOGUE_PATH at a valid equipment.json (catalogue/check.py says what is "
             "wrong), or unset it for the built-in one");
    else
        say("ok", "catalogue", "%zu equipment types (%s)", gh_catalogue_count(*cat),
            d->cfg.catalogue_path ? d->cfg.catalogue_path : "built in");
}

static void check_store(struct doctor *d)
{
    struct gh_store *st = NULL;
    struct gh_store_stats s;
    struct gh_err err = {0};
    int pg = strncmp(d->cfg.database_url, "postgres", 8) == 0;
    int rc = gh_store_open_opts(d->cfg.database_url, &d->cfg.store, &st, &err);

    if (rc == GH_OK)
        rc = gh_store_stats(st, (int64_t)time(NULL), &s, &err);
    if (rc)
        fail(d, "store", err.msg,
             pg ? "check DATABASE_URL's host, port, user and password, and that PostgreSQL "
                  "runs (psql \"$DATABASE_URL\" -c 'select 1' must work)"
                : "check that DATABASE_URL names a folder this user can write (default "
                  "./data/), or use sqlite::memory: to try without one");
    else
        say("ok", "store", "%s, %lld cached answers", pg ? "PostgreSQL" : "SQLite",
            (long long)s.entries);
    gh_store_close(st);
}

static void check_redis(struct doctor *d)
{
    struct gh_redis_options ro = {d->cfg.redis_url, d->cfg.redis_ttl_s,
                                  (int)d->cfg.redis_timeout_ms};
    struct gh_redis *r = NULL;
    struct gh_err err = {0};
    char detail[256] = "";

    if (!is_set(d->cfg.redis_url)) {
        say("skip", "redis", "REDIS_URL is not set (the shared layer is optional)");
        return;
    }
    if (gh_redis_new(&ro, &r, &err) != GH_OK) {
        fail(d, "redis", err.msg, "fix REDIS_URL (redis://host:6379/0), or unset it");
        return;
    }
    if (gh_redis_check(r, detail, sizeof detail) != GH_REDIS_STATE_OK)
        fail(d, "redis", detail,
             "start redis-server at REDIS_URL (or fix the URL); until then every instance "
             "works without the shared layer");
    else
        say("ok", "redis", "%s answers PING", gh_redis_address(r));
    gh_redis_free(r);
}

/* The model is needed when CLIP must answer: AI_PROVIDER=clip, or auto with nothing remote. */
static int model_needed(const struct gh_config *cfg)
{
    const char *name = is_set(cfg->provider.name) ? cfg->provider.name : "auto";

    if (strcasecmp(name, "clip") == 0)
        return 1;
    return strcasecmp(name, "auto") == 0 && !is_set(cfg->provider.openai_api_key) &&
           !is_set(cfg->provider.llava_base_url);
}

/* "avx512", "avx2" or "ref": from the loaded model, else what load would pick. */
static void isa_guess(const char *kernels, char *isa, size_t cap)
{
    const char *forced = getenv("GH_CLIP_ISA"), *cpu = gh_clip_cpu_line();

    if (kernels) {
        snprintf(isa, cap, "%.*s", (int)strcspn(kernels, " "), kernels);
        return;
    }
    if (is_set(forced) && strcmp(forced, "auto") != 0)
        snprintf(isa, cap, "%s", forced);
    else
        snprintf(isa, cap, "%s",
                 strstr(cpu, "avx512bw") ? "avx512"
                 : strstr(cpu, "avx2")   ? "avx2"
                                         : "ref");
}

static void check_model(struct doctor *d, const struct gh_catalogue *cat)
{
    struct gh_provider_config pc = d->cfg.provider;
    struct gh_provider *p = NULL;
    struct gh_model_ref ref;
    struct gh_err err = {0};
    char why[512] = "", isa[32];
    int have = is_set(d->cfg.clip_model) ? gh_models_resolve(d->cfg.clip_model, &ref, &err) == 0
                                         : gh_models_find_default(&ref) == 0;

    if (!have && !model_needed(&d->cfg)) {
        say("skip", "model",
            "no CLIP model (%s answers; `gymhelper model pull` adds the free "
            "local one)",
            is_set(d->cfg.provider.openai_api_key) ? "openai" : "the remote provider");
    } else if (!have) {
        fail(d, "model", is_set(d->cfg.clip_model) ? err.msg : "no CLIP model is pulled",
             is_set(d->cfg.clip_model)
                 ? "set CLIP_MODEL to a checkpoint folder (config.json, model.safetensors, "
                   "vocab.json, merges.txt) or a pulled name (gymhelper model list)"
                 : "run `gymhelper model pull` (about 600 MB), or set OPENAI_API_KEY to use "
                   "OpenAI instead");
    } else {
        pc.name = "clip";
        pc.clip_model = d->cfg.clip_model;
        pc.clip_threads = d->cfg.clip_threads;
        pc.clip_precision = (int)d->cfg.clip_precision;
        pc.cat = cat;
        if (gh_provider_new(&pc, &p, &err) != GH_OK)
            snprintf(why, sizeof why, "%s", err.msg);
        if (p && p->ops->ready(p, why, sizeof why))
            say("ok", "model", "%s loads (%s)", ref.name, ref.dir);
        else
            fail(d, "model", why,
                 gh_models_name_ok(ref.name)
                     ? "run `gymhelper model pull` again for a fresh, verified copy"
                     : "fix the checkpoint's files, or set CLIP_MODEL to another");
    }
    isa_guess(p ? p->kernels : NULL, isa, sizeof isa);
    if (strcmp(isa, "ref") == 0)
        fail(d, "kernels", "CLIP would run on the plain reference loops (several times slower)",
             getenv("GH_CLIP_ISA") ? "unset GH_CLIP_ISA (it forces the reference loops)"
                                   : "run on a CPU with AVX2 and FMA (x86-64-v3) or newer");
    else
        say("ok", "kernels", "%s (CPU: %s)", p && p->kernels ? p->kernels : isa,
            gh_clip_cpu_line());
    gh_provider_free(p);
}

static void check_provider(struct doctor *d)
{
    const char *name = is_set(d->cfg.provider.name) ? d->cfg.provider.name : "auto";
    const char *remote = NULL;
    char detail[512] = "";
    struct gh_err err = {0};

    if (strcasecmp(name, "openai") == 0 || strcasecmp(name, "llava") == 0)
        remote = name;
    else if (strcasecmp(name, "auto") == 0)
        remote = is_set(d->cfg.provider.openai_api_key)   ? "openai"
                 : is_set(d->cfg.provider.llava_base_url) ? "llava"
                                                          : NULL;
    if (!remote) {
        say("skip", "provider", "no remote provider configured (%s)",
            strcasecmp(name, "clip") == 0 ? "AI_PROVIDER=clip"
                                          : "set OPENAI_API_KEY to escalate to OpenAI");
        return;
    }
    if (gh_provider_probe(&d->cfg.provider, remote, PROBE_TIMEOUT_MS, detail, sizeof detail,
                          &err) == GH_OK) {
        say("ok", "provider", "%s: %s", remote, detail);
        return;
    }
    if (err.code == GH_EPROVIDER && strstr(err.msg, "key is refused"))
        fail(d, "provider", err.msg,
             "set OPENAI_API_KEY to a valid key (https://platform.openai.com/api-keys)");
    else if (err.code == GH_EUNAVAILABLE)
        fail(d, "provider", err.msg, "set OPENAI_API_KEY, or AI_PROVIDER to clip or llava");
    else
        fail(d, "provider", err.msg,
             strcmp(remote, "openai") == 0
                 ? "check the network (a proxy? HTTPS_PROXY) and OPENAI_BASE_URL"
                 : "start the local server (ollama serve) or fix LLAVA_BASE_URL");
}

int gh_cli_doctor(int argc, char **argv)
{
    struct doctor d;
    struct gh_catalogue *cat = NULL;
    int next, rc;

    memset(&d, 0, sizeof d);
    rc = gh_config_load(&d.cfg, argc, argv, doctor_usage, &next);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (next != argc) {
        fputs(doctor_usage, stderr);
        return 2;
    }
    /* the checks say what is wrong; the library's own warnings would only repeat it */
    gh_log_setup(GH_LOG_ERROR, d.cfg.log_format);
    check_catalogue(&d, &cat);
    check_store(&d);
    check_redis(&d);
    if (cat)
        check_model(&d, cat);
    check_provider(&d);
    gh_catalogue_free(cat);
    if (d.failed)
        printf("%d problem%s found\n", d.failed, d.failed == 1 ? "" : "s");
    else
        printf("all good\n");
    return d.failed ? 1 : 0;
}
