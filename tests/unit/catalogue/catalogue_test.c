/* SPDX-License-Identifier: MIT */
/* The catalogue loader, equipment side: a minimal valid document and what it answers (count,
 * lookup by slug and position, version, categories), then one broken document per rule, each
 * refused with GH_EINVAL and a message that names the origin and the problem. The exercises'
 * rules are exercises_test.c's. */
#include "gh/catalogue.h"
#include "../../gh_test.h"

#include <stdlib.h>

#define EQ(slug, extra)                                                                            \
    "{\"slug\":\"" slug "\",\"name\":\"N " slug "\",\"aliases\":[\"x-" slug                        \
    "\"],\"category\":\"c\","                                                                      \
    "\"primary_muscles\":[\"quads\"],\"secondary_muscles\":[],\"description\":\"d.\","             \
    "\"setup\":[\"s.\"],\"instructions\":[\"i.\"],\"safety_tips\":[\"t.\"],"                       \
    "\"common_mistakes\":[\"m.\"],\"beginner_prescription\":{\"sets\":2,\"reps\":\"8-12\","        \
    "\"rest_seconds\":60,\"notes\":\"n.\"},\"video_urls\":[\"https://example.com/"                 \
    "v\"],\"visual_description\":\"v.\"" extra "}"
#define EQ0(slug)      EQ(slug, ",\"confused_with\":[]")
#define CATS           "\"categories\":[{\"id\":\"c\",\"name\":\"C\"}]"
#define DOC(equipment) "{\"version\":\"t-1\"," CATS ",\"equipment\":[" equipment "]}"

static int load(const char *json, struct gh_catalogue **cat, struct gh_err *err)
{
    return gh_catalogue_load_buffer(json, strlen(json), "test.json", cat, err);
}

static void minimal_document_answers(void)
{
    struct gh_catalogue *cat = NULL;
    struct gh_err err = {0};
    const struct gh_equipment *q;

    CHECK_INT(load(DOC(EQ("bench",
                          ",\"confused_with\":[\"rack\"]") "," EQ("rack", ",\"confused_with\":[]")),
                   &cat, &err),
              GH_OK);
    if (!cat) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK_STR(gh_catalogue_version(cat), "t-1");
    CHECK_INT(gh_catalogue_count(cat), 2);
    CHECK_INT(gh_catalogue_n_categories(cat), 1);
    CHECK_STR(gh_catalogue_category_at(cat, 0)->id, "c");
    q = gh_catalogue_find(cat, "rack");
    CHECK(q != NULL && q == gh_catalogue_at(cat, 1));
    CHECK(q && q->id == 2 && strcmp(q->name, "N rack") == 0);
    CHECK(gh_catalogue_find(cat, "Rack") == NULL); /* slugs are exact */
    CHECK(gh_catalogue_find(cat, "") == NULL);
    CHECK(gh_catalogue_find(cat, "flux-capacitor") == NULL);
    CHECK(gh_catalogue_at(cat, 2) == NULL);
    gh_catalogue_free(cat);
    gh_catalogue_free(NULL); /* a no-op */
}

static void broken_documents_are_clear_errors(void)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"version\":\"t-1\",", "test.json: line 1"},
        {"[]", "test.json: must be a JSON object"},
        {"{\"version\":\"\"," CATS ",\"equipment\":[" EQ0("a") "]}", "'version' must be"},
        {"{\"version\":\"t-1\"," CATS ",\"equipment\":[]}", "'equipment' must be a non-empty"},
        {"{\"version\":\"t-1\",\"categories\":[],\"equipment\":[" EQ0("a") "]}",
         "'categories' must be a non-empty array"},
        {"{\"version\":\"t-1\",\"categories\":[{\"id\":\"c\",\"name\":\"C\"},{\"id\":\"c\","
         "\"name\":\"D\"}],\"equipment\":[" EQ0("a") "]}",
         "category 'c' appears twice"},
        {DOC(EQ0("a") "," EQ0("a")), "slug 'a' appears twice"},
        {DOC("[]"), "equipment #1 is not an object"},
        {DOC("{\"slug\":\"a\"}"), "equipment 'a': field"},
        {DOC(EQ("a", ",\"confused_with\":[\"zz\"]")), "unknown slug 'zz'"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gh_catalogue *cat = NULL;
        struct gh_err err = {0};

        CHECK_INT(load(cases[i].json, &cat, &err), GH_EINVAL);
        CHECK(cat == NULL);
        if (!strstr(err.msg, cases[i].want) || !strstr(err.msg, "test.json")) {
            fprintf(stderr, "case %zu: '%s' lacks '%s' or the origin\n", i, err.msg, cases[i].want);
            gh_test_failures++;
        }
        gh_catalogue_free(cat);
    }
}

static void missing_file_names_it(void)
{
    struct gh_catalogue *cat = NULL;
    struct gh_err err = {0};

    CHECK(gh_catalogue_load_file("/nonexistent/catalogue.json", &cat, &err) != GH_OK);
    CHECK(cat == NULL);
    CHECK(strstr(err.msg, "/nonexistent/catalogue.json") != NULL);
}

GH_TEST_MAIN(GH_TEST(minimal_document_answers), GH_TEST(broken_documents_are_clear_errors),
             GH_TEST(missing_file_names_it))
