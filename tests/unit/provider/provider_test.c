/* SPDX-License-Identifier: MIT */
/* The provider layer against tests/fake_openai.py, which speaks and checks the real Chat
 * Completions protocol: answers, unknown slugs, refusals, rate limits, 5xx, timeouts, auth
 * failures, the factory, eight threads at once, and the answer-handling helpers. */
#include "provider/internal.h"
#include "gh/catalogue.h"
#include "../../gh_test.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define KEY "sk-test-SECRET0123456789abcdef"
/* OpenAI project keys run to 160+ characters. */
#define LONG_KEY                                                                                   \
    "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"             \
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789"

struct fake {
    pid_t pid;
    int out_fd; /* its stdout, kept open so a stray write cannot kill it with SIGPIPE */
    char base_url[64];
};

static const char *fake_script;
static struct gh_catalogue *cat;
static struct fake fake_openai = {.pid = -1, .out_fd = -1};
static struct fake fake_llava = {.pid = -1, .out_fd = -1};

/* Enough of a JPEG for the server's check (SOI + APP0 marker) without decoding. */
static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J',  'F',  'I',  'F',  0x00,
                               0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9};

#define ITEM(slug, name, look, confused)                                                           \
    "{\"slug\":\"" slug "\",\"name\":\"" name "\",\"aliases\":[\"" name " machine\"],"             \
    "\"category\":\"strength\",\"primary_muscles\":[\"quadriceps\"],\"secondary_muscles\":[],"     \
    "\"description\":\"A machine.\",\"setup\":[\"Adjust it.\"],\"instructions\":[\"Push.\"],"      \
    "\"safety_tips\":[\"Go slow.\"],\"common_mistakes\":[\"Going fast.\"],"                        \
    "\"beginner_prescription\":{\"sets\":3,\"reps\":\"8-12\",\"rest_seconds\":90,"                 \
    "\"notes\":\"Light.\"},\"video_urls\":[\"https://example.com/v\"],"                            \
    "\"visual_description\":\"" look "\",\"confused_with\":" confused "}"

#define LEG_PRESS                                                                                  \
    ITEM("leg-press", "Leg Press", "A sled on rails pushed by the legs, seat reclined {45 deg}",   \
         "[\"hack-squat\"]")
#define HACK_SQUAT                                                                                 \
    ITEM("hack-squat", "Hack Squat", "Shoulder pads on an angled sled", "[\"leg-press\"]")
#define TREADMILL ITEM("treadmill", "Treadmill", "A moving belt with a console", "[]")
#define PULLDOWN  ITEM("lat-pulldown", "Lat Pulldown", "A high pulley with a long bar", "[]")

static const char catalogue_json[] =
    "{\"version\":\"test-1\",\"categories\":[{\"id\":\"strength\",\"name\":\"Strength\"}],"
    "\"equipment\":[" LEG_PRESS "," HACK_SQUAT "," TREADMILL "," PULLDOWN "]}";

/* ---- the fake server ---- */

static int read_port(int fd)
{
    char line[64];
    size_t n = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    while (n + 1 < sizeof line) {
        ssize_t r;

        if (poll(&pfd, 1, 10000) <= 0) /* python starts in well under a second */
            return -1;
        r = read(fd, line + n, 1);
        if (r <= 0)
            return -1;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    if (strncmp(line, "PORT ", 5) != 0)
        return -1;
    return (int)strtol(line + 5, NULL, 10);
}

static int fake_start(struct fake *f, int llava)
{
    char *argv[] = {"/usr/bin/python3",
                    (char *)fake_script,
                    "--port",
                    "0",
                    "--key",
                    KEY,
                    "--model",
                    NULL,
                    NULL,
                    NULL};
    posix_spawn_file_actions_t fa;
    int fds[2], port;

    argv[7] = llava ? "llava-test" : "gpt-test";
    argv[8] = llava ? "--llava" : NULL;
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    if (posix_spawn(&f->pid, argv[0], &fa, NULL, argv, environ) != 0)
        f->pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    f->out_fd = fds[0];
    port = f->pid > 0 ? read_port(fds[0]) : -1;
    if (port <= 0)
        return -1;
    snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%d/v1", port);
    return 0;
}

static void fake_stop(struct fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    if (f->out_fd >= 0)
        close(f->out_fd);
    f->pid = -1;
    f->out_fd = -1;
}

static size_t collect(char *buf, size_t size, size_t n, void *ud)
{
    size_t len = size * n, have = strlen(ud);

    if (have + len < 4096) {
        memcpy((char *)ud + have, buf, len);
        ((char *)ud)[have + len] = '\0';
    }
    return len;
}

/* POST (json non-NULL) or GET one of the fake's control endpoints; returns the body parsed. */
static json_t *fake_http(const struct fake *f, const char *path, const char *json)
{
    char url[128], body[4096] = "";
    CURL *h = curl_easy_init();
    long status = 0;

    snprintf(url, sizeof url, "%.*s%s", (int)(strlen(f->base_url) - 3), f->base_url, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    if (json)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    CHECK_INT(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    CHECK_INT(status, 200);
    curl_easy_cleanup(h);
    return json_loads(body, 0, NULL);
}

static void fake_control(const struct fake *f, const char *json)
{
    json_decref(fake_http(f, "/_reset", "{}"));
    if (json)
        json_decref(fake_http(f, "/_control", json));
}

static long fake_calls(const struct fake *f)
{
    json_t *j = fake_http(f, "/_calls", NULL);
    long n = (long)json_integer_value(json_object_get(j, "calls"));

    json_decref(j);
    return n;
}

/* ---- helpers ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void base_config(struct gh_provider_config *cfg)
{
    gh_provider_config_defaults(cfg);
    cfg->openai_api_key = KEY;
    cfg->openai_base_url = fake_openai.base_url;
    cfg->openai_model = "gpt-test";
    cfg->llava_base_url = fake_llava.base_url;
    cfg->llava_model = "llava-test";
    cfg->timeout_ms = 10000;
    cfg->backoff_base_ms = 20;
}

static struct gh_provider *make(const char *name, long timeout_ms, int max_retries)
{
    struct gh_provider_config cfg;
    struct gh_provider *p = NULL;
    struct gh_err err = {0};

    base_config(&cfg);
    cfg.name = name;
    if (timeout_ms)
        cfg.timeout_ms = timeout_ms;
    cfg.max_retries = max_retries;
    CHECK_INT(gh_provider_new(&cfg, &p, &err), GH_OK);
    if (err.code)
        fprintf(stderr, "  provider: %s\n", err.msg);
    return p;
}

static int analyze(struct gh_provider *p, const char *request_id, struct gh_provider_result *r,
                   struct gh_err *err)
{
    struct gh_provider_request req = {
        .jpeg = jpeg, .jpeg_len = sizeof jpeg, .cat = cat, .request_id = request_id};

    if (!p)
        return GH_EINVAL;
    return p->ops->analyze(p, &req, r, err);
}

static int has_alt(const struct gh_provider_result *r, const char *slug)
{
    for (int i = 0; i < r->n_alternatives; i++)
        if (strcmp(r->alternatives[i].slug, slug) == 0)
            return 1;
    return 0;
}

/* ---- table: one provider call against a fake in a given mode ---- */

struct call_case {
    const char *name;
    int llava;
    const char *control; /* POST /_control body */
    long timeout_ms;     /* 0: 10 s */
    int max_retries;
    int rc;
    const char *slug; /* expected result slug (GH_OK only) */
    int attempts;
    long calls;          /* requests the fake saw */
    long min_ms, max_ms; /* bounds on the call's duration */
    const char *msg_has; /* in err.msg (errors) or note (GH_OK) */
    void (*more)(const struct gh_provider_result *r, const struct gh_err *err);
};

static void more_good(const struct gh_provider_result *r, const struct gh_err *err)
{
    json_t *calls = fake_http(&fake_openai, "/_calls", NULL);
    json_t *last = json_object_get(calls, "last_request");
    const char *text;

    (void)err;
    CHECK(r->confidence > 0.909 && r->confidence < 0.911);
    CHECK_INT(r->n_alternatives, 2);
    CHECK_STR(r->alternatives[0].slug, "hack-squat");
    CHECK(r->alternatives[0].confidence > 0.049 && r->alternatives[0].confidence < 0.051);
    CHECK_STR(r->alternatives[1].slug, "treadmill");
    CHECK_INT(r->prompt_tokens, 812);
    CHECK_INT(r->completion_tokens, 23);
    CHECK_STR(r->model, "gpt-test-2024-07-18");
    CHECK_STR(r->provider, "openai");
    CHECK_STR(r->note, "");
    CHECK(json_is_true(json_object_get(last, "has_image")));
    CHECK(json_is_true(json_object_get(last, "has_auth")));
    CHECK_STR(json_string_value(json_object_get(last, "request_id")), "req-42");
    CHECK_STR(json_string_value(json_object_get(last, "detail")), "low");
    CHECK_INT(json_integer_value(json_object_get(last, "n_slugs")), 4);
    CHECK_INT(json_integer_value(json_object_get(last, "image_bytes")), sizeof jpeg);
    text = json_string_value(json_object_get(last, "user_text"));
    CHECK(text && strstr(text, "- leg-press | Leg Press | A sled on rails") != NULL);
    CHECK(text && strstr(text, "often confused with: hack-squat\n") != NULL);
    json_decref(calls);
}

static void more_messy(const struct gh_provider_result *r, const struct gh_err *err)
{
    (void)err;
    CHECK(r->confidence == 1.0); /* 1.7 clamped */
    CHECK(r->n_alternatives <= GH_PROVIDER_MAX_ALTS);
    CHECK(!has_alt(r, "leg-press"));      /* the answer itself */
    CHECK(!has_alt(r, "flux-capacitor")); /* not in the catalogue */
    CHECK_INT(r->n_alternatives, 3);
    for (int i = 0; i < r->n_alternatives; i++) {
        CHECK(r->alternatives[i].confidence >= 0 && r->alternatives[i].confidence <= 1);
        for (int k = 0; k < i; k++) {
            CHECK(strcmp(r->alternatives[k].slug, r->alternatives[i].slug) != 0);
            CHECK(r->alternatives[k].confidence >= r->alternatives[i].confidence);
        }
    }
}

static void more_unknown(const struct gh_provider_result *r, const struct gh_err *err)
{
    (void)err;
    CHECK(r->confidence == 0);
    CHECK(strstr(r->note, "flux-capacitor") != NULL);
    CHECK(!has_alt(r, "flux-capacitor"));
}

static void more_llava(const struct gh_provider_result *r, const struct gh_err *err)
{
    json_t *calls = fake_http(&fake_llava, "/_calls", NULL);
    json_t *last = json_object_get(calls, "last_request");

    (void)err;
    CHECK_STR(r->provider, "llava");
    CHECK_STR(r->model, "llava-test");
    CHECK(json_is_false(json_object_get(last, "has_auth"))); /* no key leaves for a local server */
    json_decref(calls);
}

static void more_no_key(const struct gh_provider_result *r, const struct gh_err *err)
{
    (void)r;
    CHECK(strstr(err->msg, KEY) == NULL);
    CHECK(strstr(err->msg, "SECRET") == NULL);
    CHECK(strstr(err->msg, "[redacted]") != NULL);
}

static const struct call_case call_cases[] = {
    {"good", 0, "{\"mode\":\"good\",\"answer\":\"leg-press\"}", 0, 2, GH_OK, "leg-press", 1, 1, 0,
     3000, "", more_good},
    {"messy answer is filtered", 0, "{\"mode\":\"messy\",\"answer\":\"leg-press\"}", 0, 2, GH_OK,
     "leg-press", 1, 1, 0, 3000, "", more_messy},
    {"null slug", 0, "{\"mode\":\"null\"}", 0, 2, GH_OK, "", 1, 1, 0, 3000, "recognised no", NULL},
    {"unknown slug", 0, "{\"mode\":\"unknown_slug\",\"answer\":\"leg-press\"}", 0, 2, GH_OK, "", 1,
     1, 0, 3000, "unknown slug", more_unknown},
    {"refusal", 0, "{\"mode\":\"refusal\"}", 0, 2, GH_OK, "", 1, 1, 0, 3000, "declined", NULL},
    {"malformed", 0, "{\"mode\":\"malformed\"}", 0, 2, GH_EPROVIDER, NULL, 1, 1, 0, 3000,
     "no JSON object", NULL},
    {"answer over 1 MiB", 0, "{\"mode\":\"huge\"}", 0, 2, GH_EPROVIDER, NULL, 1, 1, 0, 5000,
     "over 1 MiB", NULL},
    {"llava text with a fenced JSON", 1, "{\"mode\":\"text\",\"answer\":\"hack-squat\"}", 0, 2,
     GH_OK, "hack-squat", 1, 1, 0, 3000, "", more_llava},
    {"rate limit then good", 0, "{\"script\":[\"rate_limit\"],\"answer\":\"treadmill\"}", 0, 2,
     GH_OK, "treadmill", 2, 2, 950, 4000, "", NULL},
    {"rate limit forever", 0, "{\"mode\":\"rate_limit\"}", 0, 2, GH_EPROVIDER, NULL, 3, 3, 1900,
     6000, "HTTP 429", NULL},
    {"retry-after past the deadline", 0, "{\"mode\":\"rate_limit\"}", 800, 2, GH_EPROVIDER, NULL, 1,
     1, 0, 700, "asked to wait longer than the 0.8 s allowed; last: HTTP 429", NULL},
    {"server error then good", 0, "{\"script\":[\"server_error\"],\"answer\":\"leg-press\"}", 0, 2,
     GH_OK, "leg-press", 2, 2, 0, 3000, "", NULL},
    {"server error forever", 0, "{\"mode\":\"server_error\"}", 0, 2, GH_EPROVIDER, NULL, 3, 3, 0,
     3000, "HTTP 500", NULL},
    {"no retries when max_retries is 0", 0, "{\"mode\":\"server_error\"}", 0, 0, GH_EPROVIDER, NULL,
     1, 1, 0, 3000, "HTTP 500", NULL},
    {"slow", 0, "{\"mode\":\"slow\",\"slow_seconds\":10}", 1500, 2, GH_ETIMEOUT, NULL, 1, 1, 1400,
     2200, "did not answer within 1.5 s", NULL},
    {"auth failure is not retried", 0, "{\"mode\":\"auth\"}", 0, 2, GH_EPROVIDER, NULL, 1, 1, 0,
     3000, "refused the request (HTTP 401)", more_no_key},
};

static void run_call_case(const struct call_case *c)
{
    const struct fake *f = c->llava ? &fake_llava : &fake_openai;
    struct gh_provider *p = make(c->llava ? "llava" : "openai", c->timeout_ms, c->max_retries);
    struct gh_provider_result r;
    struct gh_err err = {0};
    int64_t t0, ms;
    int rc;

    fake_control(f, c->control);
    t0 = now_ms();
    rc = analyze(p, "req-42", &r, &err);
    ms = now_ms() - t0;
    CHECK_INT(rc, c->rc);
    CHECK_INT(err.code, c->rc);
    if (c->rc == GH_OK)
        CHECK_STR(r.slug, c->slug);
    CHECK(strstr(c->rc == GH_OK ? r.note : err.msg, c->msg_has) != NULL);
    CHECK_INT(r.attempts, c->attempts);
    CHECK_INT(fake_calls(f), c->calls);
    CHECK(ms >= c->min_ms && ms <= c->max_ms);
    if (c->more)
        c->more(&r, &err);
    if (gh_test_failures)
        fprintf(stderr, "  case \"%s\": rc %d, %lld ms, attempts %d, msg \"%s\", note \"%s\"\n",
                c->name, rc, (long long)ms, r.attempts, err.msg, r.note);
    gh_provider_free(p);
}

static void call_table(void)
{
    for (size_t i = 0; i < sizeof call_cases / sizeof call_cases[0]; i++) {
        int before = gh_test_failures;

        run_call_case(&call_cases[i]);
        printf("     %s %s\n", gh_test_failures == before ? "ok  " : "FAIL", call_cases[i].name);
    }
}

/* ---- single cases ---- */

static void wrong_key_is_refused(void)
{
    struct gh_provider_config cfg;
    struct gh_provider *p = NULL;
    struct gh_provider_result r;
    struct gh_err err = {0};

    base_config(&cfg);
    cfg.name = "openai";
    cfg.openai_api_key = "sk-wrong-key-0123456789";
    CHECK_INT(gh_provider_new(&cfg, &p, &err), GH_OK);
    fake_control(&fake_openai, "{\"mode\":\"good\",\"answer\":\"leg-press\"}");
    CHECK_INT(analyze(p, NULL, &r, &err), GH_EPROVIDER);
    CHECK(strstr(err.msg, "HTTP 401") != NULL);
    CHECK(strstr(err.msg, "wrong-key") == NULL);
    CHECK_INT(r.attempts, 1);
    gh_provider_free(p);
}

static void wrong_model_is_refused(void)
{
    struct gh_provider_config cfg;
    struct gh_provider *p = NULL;
    struct gh_provider_result r;
    struct gh_err err = {0};

    base_config(&cfg);
    cfg.name = "openai";
    cfg.openai_model = "gpt-other";
    CHECK_INT(gh_provider_new(&cfg, &p, &err), GH_OK);
    fake_control(&fake_openai, "{\"mode\":\"good\",\"answer\":\"leg-press\"}");
    CHECK_INT(analyze(p, NULL, &r, &err), GH_EPROVIDER);
    CHECK(strstr(err.msg, "HTTP 404") != NULL);
    CHECK(strstr(err.msg, "gpt-other") != NULL); /* the server's own words */
    CHECK_INT(fake_calls(&fake_openai), 1);
    gh_provider_free(p);
}

static void unsafe_request_id_is_not_sent(void)
{
    struct gh_provider *p = make("openai", 0, 0);
    struct gh_provider_result r;
    struct gh_err err = {0};
    json_t *calls;

    fake_control(&fake_openai, "{\"mode\":\"good\",\"answer\":\"leg-press\"}");
    CHECK_INT(analyze(p, "a\r\nX-Evil: 1", &r, &err), GH_OK);
    calls = fake_http(&fake_openai, "/_calls", NULL);
    CHECK(json_is_null(json_object_get(json_object_get(calls, "last_request"), "request_id")));
    json_decref(calls);
    gh_provider_free(p);
}

/* A port nothing listens on: bind one, note it, close it. */
static int unused_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

static void connection_refused(void)
{
    struct gh_provider_config cfg;
    struct gh_provider *p = NULL;
    struct gh_provider_result r;
    struct gh_err err = {0};
    char url[64];

    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", unused_port());
    base_config(&cfg);
    cfg.name = "openai";
    cfg.openai_base_url = url;
    cfg.max_retries = 1;
    CHECK_INT(gh_provider_new(&cfg, &p, &err), GH_OK);
    CHECK_INT(analyze(p, NULL, &r, &err), GH_EPROVIDER);
    CHECK_INT(r.attempts, 2);
    CHECK(strstr(err.msg, "failed after 2 attempts") != NULL);
    CHECK(strstr(err.msg, KEY) == NULL);
    gh_provider_free(p);
}

static void bad_request_is_refused(void)
{
    struct gh_provider *p = make("openai", 0, 0);
    struct gh_provider_request req = {.jpeg = NULL, .jpeg_len = 0, .cat = cat};
    struct gh_provider_result r;
    struct gh_err err = {0};

    CHECK_INT(p->ops->analyze(p, &req, &r, &err), GH_EINVAL);
    gh_provider_free(p);
}

struct worker {
    struct gh_provider *p;
    int rc;
    char slug[GH_SLUG_CAP];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct gh_provider_result r;
    struct gh_err err = {0};

    w->rc = analyze(w->p, "req-thread", &r, &err);
    snprintf(w->slug, sizeof w->slug, "%s", r.slug);
    return NULL;
}

static void eight_threads_at_once(void)
{
    struct gh_provider *p = make("openai", 0, 2);
    struct worker w[8];
    pthread_t t[8];

    fake_control(&fake_openai, "{\"mode\":\"good\",\"answer\":\"lat-pulldown\"}");
    for (int i = 0; i < 8; i++) {
        w[i].p = p;
        w[i].rc = -100;
        CHECK_INT(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(w[i].rc, GH_OK);
        CHECK_STR(w[i].slug, "lat-pulldown");
    }
    CHECK_INT(fake_calls(&fake_openai), 8);
    gh_provider_free(p);
}

/* ---- the factory ---- */

static void factory_auto_without_anything_is_none(void)
{
    struct gh_provider_config cfg;
    struct gh_provider *p = NULL;
    struct gh_provider_result r;
    struct gh_err err = {0};
    char why[256];

    gh_provider_config_defaults(&cfg);
    CHECK_INT(gh_provider_new(&cfg, &p, &err), GH_OK);
    CHECK_STR(p->name, "none");
    CHECK_INT(p->ops->ready(p, why, sizeof why), 0);
    CHECK(strstr(why, "no AI provider is configured") != NULL);
    CHECK(strstr(why, "OPENAI_API_KEY") != NULL);
    CHECK_INT(analyze(p, NULL, &r, &err), GH_EUNAVAILABLE);
    CHECK_STR(err.msg, why);
    gh_provider_free(p);
}

static void factory_auto_picks(void)
{
    struct gh_provider_config cfg;
    struct gh_provider *p = NULL;
    struct gh_err err = {0};
    char why[64] = "x";

    gh_provider_config_defaults(&cfg);
    cfg.name = "auto";
    cfg.openai_api_key = KEY;
    CHECK_INT(gh_provider_new(&cfg, &p, &err), GH_OK);
    CHECK_STR(p->name, "openai");
    CHECK_STR(p->model, "gpt-4o-mini");
    CHECK_INT(p->ops->ready(p, why, sizeof why), 1);
    CHECK_STR(why, "");
    gh_provider_free(p);

    gh_provider_config_defaults(&cfg);
    cfg.llava_base_url = "http://127.0.0.1:11434/v1";
    CHECK_INT(gh_provider_new(&cfg, &p, &err), GH_OK);
    CHECK_STR(p->name, "llava");
    CHECK_STR(p->model, "llava");
    CHECK_INT(p->ops->ready(p, why, sizeof why), 1);
    gh_provider_free(p);
}

struct factory_case {
    const char *name;
    const char *key;
    const char *base_url;
    int max_retries;
    int rc;
    const char *msg_has;
};

static const struct factory_case factory_cases[] = {
    {"openai", NULL, NULL, 2, GH_EINVAL, "OPENAI_API_KEY"},
    {"openai", "", NULL, 2, GH_EINVAL, "OPENAI_API_KEY"},
    {"clip", KEY, NULL, 2, GH_EINVAL, "needs the catalogue"},
    {"gpt", KEY, NULL, 2, GH_EINVAL, "unknown AI provider \"gpt\""},
    {"openai", KEY, "ftp://example.com/v1", 2, GH_EINVAL, "http:// or https://"},
    {"openai", "sk-with\r\nnewline", NULL, 2, GH_EINVAL, "API key"},
    {"openai", KEY, NULL, 11, GH_EINVAL, "max_retries"},
    {"llava", NULL, NULL, 2, GH_OK, ""},
    {"OpenAI", KEY, NULL, 2, GH_OK, ""},
    {"openai", LONG_KEY, NULL, 2, GH_OK, ""},
};

static void factory_table(void)
{
    for (size_t i = 0; i < sizeof factory_cases / sizeof factory_cases[0]; i++) {
        const struct factory_case *c = &factory_cases[i];
        struct gh_provider_config cfg;
        struct gh_provider *p = (struct gh_provider *)&cfg; /* must be reset to NULL */
        struct gh_err err = {0};

        gh_provider_config_defaults(&cfg);
        cfg.name = c->name;
        cfg.openai_api_key = c->key;
        cfg.openai_base_url = c->base_url;
        cfg.max_retries = c->max_retries;
        CHECK_INT(gh_provider_new(&cfg, &p, &err), c->rc);
        CHECK(strstr(err.msg, c->msg_has) != NULL);
        CHECK((c->rc == GH_OK) == (p != NULL));
        if (c->key && *c->key)
            CHECK(strstr(err.msg, c->key) == NULL);
        gh_provider_free(p);
    }
    gh_provider_free(NULL);
}

/* ---- helpers without a server ---- */

static void answer_json_extraction(void)
{
    static const struct {
        const char *text;
        const char *slug; /* NULL: no object expected */
    } cases[] = {
        {"{\"slug\":\"a\",\"confidence\":1}", "a"},
        {"```json\n{\"slug\": \"a\", \"x\": \"}{\"}\n```", "a"},
        {"Format {slug, confidence}: {\"slug\":\"b\"} - and {\"slug\":\"c\"}", "b"},
        {"{\"slug\": \"q\\\"}\"}", "q\"}"},
        {"prose {\"outer\": {\"slug\":\"d\"}, oops} then {\"slug\":\"e\"}", "d"},
        {"this is not json {", NULL},
        {"[1, 2]", NULL},
        {"", NULL},
        {"{\"slug\":\"a\",\"slug\":\"b\"}", NULL},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = gh_provider_answer_json(cases[i].text, strlen(cases[i].text));

        if (!cases[i].slug) {
            CHECK(j == NULL);
        } else {
            const json_t *s = json_object_get(j, "slug");

            CHECK_STR(json_is_string(s) ? json_string_value(s) : NULL, cases[i].slug);
        }
        json_decref(j);
    }
}

static void scrub_removes_the_key(void)
{
    static const struct {
        const char *text, *secret, *want;
    } cases[] = {
        {"Incorrect API key provided: sk-abcdefghijkl.", "sk-abcdefghijkl",
         "Incorrect API key provided: [redacted]"},
        {"masked sk-abcdefg***** here", "sk-abcdefghijkl", "masked [redacted] here"},
        {"Bearer xyz!", "xyz", "Bearer [redacted]"},
        {"no secret here", "sk-abcdefghijkl", "no secret here"},
        {"two\nlines\tand\x01", NULL, "two lines and?"},
        {"", "k", ""},
    };
    char out[64];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gh_provider_scrub(cases[i].text, strlen(cases[i].text), cases[i].secret, out, sizeof out);
        CHECK_STR(out, cases[i].want);
    }
    gh_provider_scrub("abcdefgh", 8, NULL, out, 4);
    CHECK_STR(out, "abc");
}

static void retry_after_values(void)
{
    time_t now = time(NULL);
    char date[64];
    struct tm tm;

    CHECK_INT(gh_provider_retry_after_ms("1", now), 1000);
    CHECK_INT(gh_provider_retry_after_ms(" 2\r\n", now), 2000);
    CHECK_INT(gh_provider_retry_after_ms("0", now), 0);
    CHECK_INT(gh_provider_retry_after_ms("99999999999", now), 86400L * 1000);
    CHECK_INT(gh_provider_retry_after_ms("soon", now), -1);
    CHECK_INT(gh_provider_retry_after_ms("", now), -1);
    CHECK_INT(gh_provider_retry_after_ms("-5", now), -1);
    gmtime_r(&(time_t){now + 5}, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    CHECK_INT(gh_provider_retry_after_ms(date, now), 5000);
    gmtime_r(&(time_t){now - 60}, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    CHECK_INT(gh_provider_retry_after_ms(date, now), 0);
}

/* The price list moved here from core/metrics.c: prefixes, snapshots, unknown models, clamps. */
static void prices(void)
{
    /* 1000 * $0.15/M + 500 * $0.60/M = $0.00045; a dated snapshot prices like its model */
    CHECK_INT(gh_provider_cost_nd("gpt-4o-mini-2024-07-18", 1000, 500), 450000);
    CHECK_INT(gh_provider_cost_nd("gpt-4o", 1000, 100), 3500000); /* $2.50/M in, $10/M out */
    CHECK_INT(gh_provider_cost_nd("llava:13b", 700, 10), 0);
    CHECK_INT(gh_provider_cost_nd(NULL, 700, 10), 0);
    CHECK_INT(gh_provider_cost_nd("gpt-4o", -5, -1), 0);
    CHECK(gh_provider_cost_nd("gpt-4o", INT64_MAX, INT64_MAX) > 0); /* clamped, no overflow */
}

int main(int argc, char **argv)
{
    static const struct gh_test_case cases[] = {
        GH_TEST(answer_json_extraction),
        GH_TEST(prices),
        GH_TEST(scrub_removes_the_key),
        GH_TEST(retry_after_values),
        GH_TEST(factory_auto_without_anything_is_none),
        GH_TEST(factory_auto_picks),
        GH_TEST(factory_table),
        GH_TEST(call_table),
        GH_TEST(wrong_key_is_refused),
        GH_TEST(wrong_model_is_refused),
        GH_TEST(unsafe_request_id_is_not_sent),
        GH_TEST(connection_refused),
        GH_TEST(bad_request_is_refused),
        GH_TEST(eight_threads_at_once),
    };
    struct gh_err err = {0};
    int rc = 1;

    fake_script = argc > 1 ? argv[1] : getenv("GH_FAKE_OPENAI");
    if (!fake_script) {
        fprintf(stderr, "usage: %s path/to/fake_openai.py\n", argv[0]);
        return 2;
    }
    /* The fakes are on 127.0.0.1; a proxy from the environment must not stand in between. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (gh_catalogue_load_buffer(catalogue_json, sizeof catalogue_json - 1, "test", &cat, &err)) {
        fprintf(stderr, "catalogue: %s\n", err.msg);
        goto out;
    }
    if (fake_start(&fake_openai, 0) || fake_start(&fake_llava, 1)) {
        fprintf(stderr, "could not start %s\n", fake_script);
        goto out;
    }
    rc = gh_test_run(cases, sizeof cases / sizeof cases[0]);
out:
    fake_stop(&fake_llava);
    fake_stop(&fake_openai);
    gh_catalogue_free(cat);
    curl_global_cleanup();
    return rc;
}
