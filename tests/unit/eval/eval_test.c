/* SPDX-License-Identifier: MIT */
/* `gymhelper eval`'s arithmetic against numbers worked out by hand (in the comments), and the
 * reports: every number lands in them, input text is escaped, the HTML needs no script or
 * style. */
#include "gh/eval.h"

#include "gh/alloc.h"
#include "gh_test.h"

#include <math.h>

#define NEAR(a, b) CHECK(fabs((a) - (b)) < 1e-9)

/* Three classes, six photos:
 *   truth top-1..3    conf  not sure  failed   top-1  top-3  bin
 *   0     0, 1, 2     0.90                      right  yes    9
 *   0     1, 0, -     0.80                      wrong  yes    8
 *   1     1, -, -     0.85                      right  yes    8
 *   2     -, -, -     0.30  yes                 wrong  no     3
 *   2     (failed)          yes       yes       wrong  no     -
 *   1     2, 1, 0     0.35  yes                 wrong  yes    3
 * top-1 2/6, top-3 4/6, not sure 3/6. Calibration over the 5 answers: bin 9 has 1 answer,
 * accuracy 1, confidence 0.9 (gap 0.1); bin 8 has 2, accuracy 0.5, confidence 0.825 (gap
 * 0.325); bin 3 has 2, accuracy 0, confidence 0.325 (gap 0.325). ECE = 1/5 * 0.1 + 2/5 * 0.325
 * + 2/5 * 0.325 = 0.28. */
static const struct gh_eval_pred six[] = {
    {.truth = 0, .top = {0, 1, 2}, .confidence = 0.90},
    {.truth = 0, .top = {1, 0, -1}, .confidence = 0.80},
    {.truth = 1, .top = {1, -1, -1}, .confidence = 0.85},
    {.truth = 2, .top = {-1, -1, -1}, .confidence = 0.30, .not_sure = 1},
    {.truth = 2, .top = {-1, -1, -1}, .failed = 1},
    {.truth = 1, .top = {2, 1, 0}, .confidence = 0.35, .not_sure = 1},
};

static void hand_computed_case(void)
{
    struct gh_eval_metrics m;
    static const int64_t want[3][4] = {{1, 1, 0, 0}, {0, 1, 1, 0}, {0, 0, 0, 2}};

    CHECK_INT(gh_eval_metrics_compute(six, 6, 3, &m, NULL), GH_OK);
    CHECK_INT(m.n, 6);
    CHECK_INT(m.top1, 2);
    CHECK_INT(m.topk, 4);
    CHECK_INT(m.not_sure, 3);
    CHECK_INT(m.failed, 1);
    CHECK_INT(m.n_calibrated, 5);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            CHECK_INT(m.confusion[i * 4 + j], want[i][j]);
    NEAR(gh_eval_recall(&m, 0), 0.5);
    NEAR(gh_eval_recall(&m, 1), 0.5);
    NEAR(gh_eval_recall(&m, 2), 0.0);
    CHECK_INT(gh_eval_support(&m, 2), 2);
    CHECK_INT(m.bins[9].n, 1);
    CHECK_INT(m.bins[8].n, 2);
    CHECK_INT(m.bins[8].correct, 1);
    NEAR(m.bins[8].conf_sum, 1.65);
    CHECK_INT(m.bins[3].n, 2);
    NEAR(m.ece, 0.28);
    gh_eval_metrics_fini(&m);
}

/* Confidence 1 falls in the last bin, NaN and negatives count as 0, above 1 as 1; a perfectly
 * calibrated set (accuracy 0.5 at confidence 0.5) has ECE 0. */
static void edges(void)
{
    struct gh_eval_metrics m;
    struct gh_eval_pred p[] = {
        {.truth = 0, .top = {0, -1, -1}, .confidence = 1.0},
        {.truth = 0, .top = {0, -1, -1}, .confidence = NAN},
        {.truth = 0, .top = {1, -1, -1}, .confidence = -3},
        {.truth = 0, .top = {7, -1, -1}, .confidence = 2},
    };
    struct gh_eval_pred half[] = {
        {.truth = 0, .top = {0, -1, -1}, .confidence = 0.5},
        {.truth = 0, .top = {1, -1, -1}, .confidence = 0.5},
    };

    CHECK_INT(gh_eval_metrics_compute(p, 4, 2, &m, NULL), GH_OK);
    CHECK_INT(m.bins[9].n, 2);    /* 1.0 and 2 (clamped) */
    CHECK_INT(m.bins[0].n, 2);    /* NaN and -3 */
    CHECK_INT(m.confusion[2], 1); /* class 7 is outside: "other" */
    /* bin 9: accuracy 1/2, confidence 1 -> 0.5; bin 0: accuracy 1/2, confidence 0 -> 0.5 */
    NEAR(m.ece, 0.5);
    gh_eval_metrics_fini(&m);
    CHECK_INT(gh_eval_metrics_compute(half, 2, 2, &m, NULL), GH_OK);
    NEAR(m.ece, 0.0);
    gh_eval_metrics_fini(&m);
}

static void bad_input(void)
{
    struct gh_eval_metrics m;
    struct gh_err err = {0};
    struct gh_eval_pred p = {.truth = 3, .top = {0, -1, -1}};

    CHECK_INT(gh_eval_metrics_compute(&p, 1, 3, &m, &err), GH_EINVAL);
    CHECK(strstr(err.msg, "no class") != NULL);
    CHECK(m.confusion == NULL);
    CHECK_INT(gh_eval_metrics_compute(&p, 1, 0, &m, NULL), GH_EINVAL);
    CHECK_INT(gh_eval_metrics_compute(NULL, 0, 2, &m, NULL), GH_OK); /* empty is fine */
    CHECK_INT(m.n, 0);
    NEAR(m.ece, 0.0);
    gh_eval_metrics_fini(&m);
}

static void rank_is_stable(void)
{
    CHECK(gh_eval_rank("a/1.jpg", 1) == gh_eval_rank("a/1.jpg", 1));
    CHECK(gh_eval_rank("a/1.jpg", 1) != gh_eval_rank("a/1.jpg", 2));
    CHECK(gh_eval_rank("a/1.jpg", 1) != gh_eval_rank("a/2.jpg", 1));
    /* FNV-1a 64 of eight zero bytes: a fixed value, so splits never move */
    CHECK(gh_eval_rank("", 0) == UINT64_C(0xa8c7f832281a39c5));
    CHECK_INT(gh_eval_shots(0), 0);
    CHECK_INT(gh_eval_shots(5), 16);
}

static void reports(void)
{
    static const char *const classes[] = {"bench", "rack<b>", "row|machine"};
    struct gh_eval_config c = {
        .name = "clip", .model = "m", .ran = 1, .ms_per_image = 12.5, .cost_nd = 1500000};
    struct gh_eval_curve_point curve[2] = {{0, 0, 4, 1, 0}, {1, 3, 4, 3, 2}};
    struct gh_eval_report r = {.source = "photos & more",
                               .cpu = "test CPU",
                               .generated = "2026-12-02T00:00:00Z",
                               .classes = classes,
                               .n_classes = 3,
                               .n_photos = 6,
                               .threshold = 0.5,
                               .configs = &c,
                               .n_configs = 1,
                               .curve = curve,
                               .n_curve = 2,
                               .curve_note = "a note"};
    char *md, *html;

    CHECK_INT(gh_eval_metrics_compute(six, 6, 3, &c.m, NULL), GH_OK);
    md = gh_eval_markdown(&r);
    html = gh_eval_html(&r);
    CHECK(md && html);
    if (md && html) {
        CHECK(strstr(md, "| top-1 accuracy | 33.3% |") != NULL);
        CHECK(strstr(md, "| top-3 accuracy | 66.7% |") != NULL);
        CHECK(strstr(md, "| \"not sure\" rate | 50.0% |") != NULL);
        CHECK(strstr(md, "| expected calibration error | 0.280 |") != NULL);
        CHECK(strstr(md, "| estimated cost | $0.0015 |") != NULL);
        CHECK(strstr(md, "| estimated cost per 1,000 photos | $0.2500 |") != NULL);
        CHECK(strstr(md, "| **3** | 0 | 0 | 0 | 2 |") != NULL);
        CHECK(strstr(md, "row\\|machine") != NULL);
        CHECK(strstr(md, "| 1 | 3 | 4 | 75.0% | 50.0% |") != NULL);
        CHECK(strstr(html, "rack&lt;b&gt;") != NULL && strstr(html, "rack<b>") == NULL);
        CHECK(strstr(html, "photos &amp; more") != NULL);
        CHECK(strstr(html, "<script") == NULL && strstr(html, "style") == NULL);
        CHECK(strstr(html, "src=") == NULL && strstr(html, "href=") == NULL); /* nothing loads */
        CHECK(strstr(html, "Expected calibration error 0.280") != NULL);
        /* three pictures: the curve, the confusion matrix, the reliability diagram */
        int n_svg = 0;
        for (const char *s = html; (s = strstr(s, "<svg")) != NULL; s++)
            n_svg++;
        CHECK_INT(n_svg, 3);
    }
    gh_free(md);
    gh_free(html);
    gh_eval_metrics_fini(&c.m);
}

GH_TEST_MAIN(GH_TEST(hand_computed_case), GH_TEST(edges), GH_TEST(bad_input),
             GH_TEST(rank_is_stable), GH_TEST(reports))
