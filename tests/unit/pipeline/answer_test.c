/* SPDX-License-Identifier: MIT */
/* The pipeline's answer documents (src/pipeline/answer.c) on the embedded catalogue: a sure
 * answer, a "not sure" one (below the threshold, or naming an unknown slug) with its
 * candidates, the per-request wrapper of a hit and of a miss, the rewrite for another image,
 * and a person's correction. */
#include "../../../src/pipeline/internal.h"
#include "gh/alloc.h"
#include "gh/catalogue.h"
#include "../../gh_test.h"

#include <jansson.h>

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct gh_catalogue *cat;

static void result(struct gh_provider_result *r, const char *slug, double confidence)
{
    memset(r, 0, sizeof *r);
    snprintf(r->slug, sizeof r->slug, "%s", slug);
    r->confidence = confidence;
    snprintf(r->alternatives[0].slug, sizeof r->alternatives[0].slug, "%s", "squat-rack");
    r->alternatives[0].confidence = 0.05;
    r->n_alternatives = 1;
    snprintf(r->provider, sizeof r->provider, "%s", "openai");
    snprintf(r->model, sizeof r->model, "%s", "gpt-4o-mini");
}

static json_t *build(const char *slug, double confidence, double threshold, int *identified)
{
    struct gh_provider_result r;
    struct gh_image_info info = {GH_IMAGE_FORMAT_JPEG, 640, 480, 1, 3, 0, 1};
    char *text;
    json_t *doc;

    result(&r, slug, confidence);
    text = gh_answer_build(cat, &r, threshold, &info, SHA, 0x8000000000000001u, identified);
    CHECK(text != NULL);
    doc = text ? json_loads(text, 0, NULL) : NULL;
    CHECK(doc != NULL);
    gh_free(text);
    return doc;
}

static void sure_answer(void)
{
    int identified = -1;
    json_t *doc = build("barbell", 0.91, 0.5, &identified);

    CHECK_INT(identified, 1);
    CHECK(json_is_true(json_object_get(doc, "identified")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "equipment"), "slug")),
              "barbell");
    CHECK_INT(json_array_size(json_object_get(doc, "alternatives")), 1);
    CHECK_INT(json_array_size(json_object_get(doc, "candidates")), 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "image"), "sha256")), SHA);
    CHECK_STR(json_string_value(json_object_get(doc, "provider")), "openai");
    json_decref(doc);
}

static void not_sure_answers(void)
{
    int identified = -1;
    json_t *doc = build("barbell", 0.3, 0.5, &identified), *cands;

    CHECK_INT(identified, 0); /* below the threshold: the guess becomes the first candidate */
    CHECK(json_is_null(json_object_get(doc, "equipment")));
    cands = json_object_get(doc, "candidates");
    CHECK_INT(json_array_size(cands), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(cands, 0), "slug")), "barbell");
    CHECK_STR(json_string_value(json_object_get(json_array_get(cands, 1), "slug")), "squat-rack");
    json_decref(doc);
    doc = build("flux-capacitor", 0.99, 0.5, &identified); /* not in the catalogue */
    CHECK_INT(identified, 0);
    CHECK_INT(json_array_size(json_object_get(doc, "candidates")), 1); /* the alternative only */
    json_decref(doc);
    doc = build("barbell", 0.5, 0.5, &identified); /* the threshold itself is sure */
    CHECK_INT(identified, 1);
    json_decref(doc);
}

static void wrap_hit_and_miss(void)
{
    const char stored[] = "{\"identified\":true}";
    char *out = NULL;
    size_t len = 0;
    json_t *doc, *cache;

    CHECK_INT(gh_answer_wrap(stored, strlen(stored), "rid-1", 1, "near", 3, 0, 1.5, &out, &len),
              GH_OK);
    doc = out ? json_loadb(out, len, 0, NULL) : NULL;
    CHECK(doc != NULL && strlen(out) == len);
    cache = json_object_get(doc, "cache");
    CHECK(json_is_true(json_object_get(doc, "cached")));
    CHECK_STR(json_string_value(json_object_get(cache, "layer")), "near");
    CHECK_INT(json_integer_value(json_object_get(cache, "distance")), 3);
    CHECK(json_object_get(cache, "similarity") == NULL); /* only the visual layer has one */
    CHECK_STR(json_string_value(json_object_get(doc, "identification_id")), "rid-1");
    CHECK(json_is_true(json_object_get(doc, "identified")));
    json_decref(doc);
    gh_free(out);
    out = NULL;
    CHECK_INT(gh_answer_wrap("{}", 2, "rid-2", 0, "", 0, 0, 2.0, &out, &len), GH_OK);
    doc = out ? json_loadb(out, len, 0, NULL) : NULL;
    CHECK(doc != NULL);
    CHECK(json_is_false(json_object_get(doc, "cached")) &&
          json_is_null(json_object_get(doc, "cache")));
    json_decref(doc);
    gh_free(out);
    CHECK_INT(gh_answer_wrap("[]", 2, "rid", 0, "", 0, 0, 1, &out, &len), GH_EINVAL);
    CHECK_INT(gh_answer_wrap("{", 1, "rid", 0, "", 0, 0, 1, &out, &len), GH_EINVAL);
}

static void rewrite_and_correct(void)
{
    struct gh_provider_result r;
    struct gh_image_info a = {GH_IMAGE_FORMAT_JPEG, 640, 480, 1, 3, 0, 1};
    struct gh_image_info b = {GH_IMAGE_FORMAT_PNG, 100, 50, 1, 3, 0, 1};
    int identified;
    char *stored, *copy, *fixed;
    json_t *doc;

    result(&r, "barbell", 0.91);
    stored = gh_answer_build(cat, &r, 0.5, &a, SHA, 1, &identified);
    CHECK(stored != NULL);
    if (!stored)
        return;
    copy = gh_answer_rewrite(stored, &b, SHA, 2, 0);
    doc = copy ? json_loads(copy, 0, NULL) : NULL;
    CHECK(doc != NULL);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(doc, "image"), "width")), 100);
    CHECK_INT(json_array_size(json_object_get(doc, "alternatives")), 0); /* top_k 0 */
    json_decref(doc);
    gh_free(copy);
    CHECK(gh_answer_rewrite("not json", &b, SHA, 2, -1) == NULL);

    fixed = gh_answer_correct(cat, stored, "squat-rack");
    doc = fixed ? json_loads(fixed, 0, NULL) : NULL;
    CHECK(doc != NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "equipment"), "slug")),
              "squat-rack");
    CHECK(json_is_true(json_object_get(doc, "corrected")));
    CHECK(json_real_value(json_object_get(doc, "confidence")) == 1.0);
    CHECK_STR(json_string_value(json_object_get(doc, "provider")), "openai"); /* kept */
    json_decref(doc);
    gh_free(fixed);
    CHECK(gh_answer_correct(cat, stored, "flux-capacitor") == NULL);
    CHECK(gh_answer_correct(cat, "{", "squat-rack") == NULL);
    gh_free(stored);
}

static void with_catalogue(void (*fn)(void))
{
    struct gh_err err = {0};

    if (gh_catalogue_load_embedded(&cat, &err) != GH_OK) {
        fprintf(stderr, "embedded catalogue: %s\n", err.msg);
        gh_test_failures++;
        return;
    }
    fn();
    gh_catalogue_free(cat);
    cat = NULL;
}

static void t_sure(void)
{
    with_catalogue(sure_answer);
}
static void t_not_sure(void)
{
    with_catalogue(not_sure_answers);
}
static void t_wrap(void)
{
    with_catalogue(wrap_hit_and_miss);
}
static void t_rewrite(void)
{
    with_catalogue(rewrite_and_correct);
}

GH_TEST_MAIN(GH_TEST(t_sure), GH_TEST(t_not_sure), GH_TEST(t_wrap), GH_TEST(t_rewrite))
