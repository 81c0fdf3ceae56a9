/* SPDX-License-Identifier: MIT */
/* The reports of `gymhelper eval`: Markdown, and one HTML page whose pictures are inline SVG
 * drawn with presentation attributes (fill, stroke), which a Content-Security-Policy of
 * `default-src 'self'` allows, unlike style attributes, <style> and scripts. */
#include "gh/eval.h"

#include "gh/alloc.h"
#include "gh/buf.h"

#include <stdio.h>
#include <string.h>

#define REPORT_MAX (64u << 20)

static const int shots_axis[GH_EVAL_SHOTS] = {0, 1, 2, 4, 8, 16};

static double pct(int64_t a, int64_t b)
{
    return b > 0 ? 100.0 * (double)a / (double)b : 0;
}

static int64_t cell(const struct gh_eval_metrics *m, int i, int j)
{
    return m->confusion[(size_t)i * (size_t)(m->n_classes + 1) + (size_t)j];
}

/* Text for an HTML element or attribute. */
static void html_text(struct gh_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            gh_buf_puts(b, "&amp;");
            break;
        case '<':
            gh_buf_puts(b, "&lt;");
            break;
        case '>':
            gh_buf_puts(b, "&gt;");
            break;
        case '"':
            gh_buf_puts(b, "&quot;");
            break;
        case '\'':
            gh_buf_puts(b, "&#39;");
            break;
        default:
            gh_buf_append(b, s, 1);
        }
    }
}

/* Text for a Markdown table cell: pipes escaped, line breaks flattened. */
static void md_text(struct gh_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            gh_buf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            gh_buf_puts(b, " ");
        else
            gh_buf_append(b, s, 1);
    }
}

static void money(char *out, size_t cap, int64_t nd)
{
    snprintf(out, cap, "$%.4f", (double)nd / 1e9);
}

/* The summary rows: one label and one formatted value per configuration. */
enum row {
    ROW_PHOTOS,
    ROW_TOP1,
    ROW_TOPK,
    ROW_NOTSURE,
    ROW_FAILED,
    ROW_ECE,
    ROW_MS,
    ROW_COST,
    ROW_COST_K,
    ROW_MODEL,
    N_ROWS
};

static const char *const row_names[N_ROWS] = {"photos evaluated",
                                              "top-1 accuracy",
                                              "top-3 accuracy",
                                              "\"not sure\" rate",
                                              "provider failures",
                                              "expected calibration error",
                                              "ms per image",
                                              "estimated cost",
                                              "estimated cost per 1,000 photos",
                                              "model"};

static void row_value(const struct gh_eval_config *c, enum row r, char *out, size_t cap)
{
    const struct gh_eval_metrics *m = &c->m;

    if (!c->ran && r != ROW_MODEL) {
        snprintf(out, cap, "–");
        return;
    }
    switch (r) {
    case ROW_PHOTOS:
        snprintf(out, cap, "%lld", (long long)m->n);
        break;
    case ROW_TOP1:
        snprintf(out, cap, "%.1f%%", pct(m->top1, m->n));
        break;
    case ROW_TOPK:
        snprintf(out, cap, "%.1f%%", pct(m->topk, m->n));
        break;
    case ROW_NOTSURE:
        snprintf(out, cap, "%.1f%%", pct(m->not_sure, m->n));
        break;
    case ROW_FAILED:
        snprintf(out, cap, "%lld", (long long)m->failed);
        break;
    case ROW_ECE:
        snprintf(out, cap, "%.3f", m->ece);
        break;
    case ROW_MS:
        snprintf(out, cap, "%.1f", c->ms_per_image);
        break;
    case ROW_COST:
        money(out, cap, c->cost_nd);
        break;
    case ROW_COST_K:
        money(out, cap, m->n > 0 ? (int64_t)((double)c->cost_nd * 1000.0 / (double)m->n) : 0);
        break;
    case ROW_MODEL:
        snprintf(out, cap, "%s", c->model[0] ? c->model : "–");
        break;
    default:
        out[0] = '\0';
    }
}

static void md_header(struct gh_buf *b, const struct gh_eval_report *r)
{
    gh_buf_puts(b, "# gymhelper eval: ");
    md_text(b, r->source);
    gh_buf_printf(b,
                  "\n\n%lld photos in %d classes (%lld could not be read); generated %s on %s. "
                  "An answer under CONFIDENCE_THRESHOLD %.2f is \"not sure\"; top-1 counts the "
                  "best candidate either way.\n\n",
                  (long long)r->n_photos, r->n_classes, (long long)r->n_skipped,
                  r->generated ? r->generated : "", r->cpu ? r->cpu : "", r->threshold);
}

static void md_summary(struct gh_buf *b, const struct gh_eval_report *r)
{
    char v[128];

    gh_buf_puts(b, "## Summary\n\n| |");
    for (int i = 0; i < r->n_configs; i++) {
        gh_buf_puts(b, " ");
        md_text(b, r->configs[i].name);
        gh_buf_puts(b, " |");
    }
    gh_buf_puts(b, "\n|---|");
    for (int i = 0; i < r->n_configs; i++)
        gh_buf_puts(b, "---:|");
    gh_buf_puts(b, "\n");
    for (int row = 0; row < N_ROWS; row++) {
        gh_buf_printf(b, "| %s |", row_names[row]);
        for (int i = 0; i < r->n_configs; i++) {
            row_value(&r->configs[i], (enum row)row, v, sizeof v);
            gh_buf_puts(b, " ");
            md_text(b, v);
            gh_buf_puts(b, " |");
        }
        gh_buf_puts(b, "\n");
    }
    gh_buf_puts(b, "\n");
    for (int i = 0; i < r->n_configs; i++) {
        if (!r->configs[i].note[0])
            continue;
        gh_buf_puts(b, "- `");
        md_text(b, r->configs[i].name);
        gh_buf_puts(b, "`: ");
        md_text(b, r->configs[i].note);
        gh_buf_puts(b, "\n");
    }
    gh_buf_puts(b, "\n");
}

static void md_curve(struct gh_buf *b, const struct gh_eval_report *r)
{
    if (!r->curve)
        return;
    gh_buf_puts(b, "## Few-shot curve of the visual memory\n\n");
    md_text(b, r->curve_note);
    gh_buf_puts(b, "\n\n| remembered per class | in memory | held-out photos | top-1 accuracy "
                   "| answered from memory |\n|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r->n_curve; i++) {
        const struct gh_eval_curve_point *p = &r->curve[i];

        gh_buf_printf(b, "| %d | %lld | %lld | %.1f%% | %.1f%% |\n", p->shots,
                      (long long)p->remembered, (long long)p->n, pct(p->top1, p->n),
                      pct(p->from_memory, p->n));
    }
    gh_buf_puts(b, "\n");
}

static void md_config(struct gh_buf *b, const struct gh_eval_report *r,
                      const struct gh_eval_config *c)
{
    const struct gh_eval_metrics *m = &c->m;

    gh_buf_puts(b, "## ");
    md_text(b, c->name);
    gh_buf_puts(b, "\n\n");
    if (!c->ran) {
        gh_buf_puts(b, "Not run: ");
        md_text(b, c->note);
        gh_buf_puts(b, "\n\n");
        return;
    }
    gh_buf_puts(b, "Recall per class:\n\n| # | class | photos | recall |\n|---:|---|---:|---:|\n");
    for (int i = 0; i < r->n_classes; i++) {
        double rec = gh_eval_recall(m, i);

        gh_buf_printf(b, "| %d | ", i + 1);
        md_text(b, r->classes[i]);
        if (rec < 0)
            gh_buf_printf(b, " | 0 | – |\n");
        else
            gh_buf_printf(b, " | %lld | %.1f%% |\n", (long long)gh_eval_support(m, i), 100 * rec);
    }
    gh_buf_puts(b, "\nConfusion matrix (rows: the true class, columns: the top-1 answer, by the "
                   "numbers above; \"other\": no class of this set, nothing identified or a "
                   "failure):\n\n| |");
    for (int j = 0; j < r->n_classes; j++)
        gh_buf_printf(b, " %d |", j + 1);
    gh_buf_puts(b, " other |\n|---|");
    for (int j = 0; j <= r->n_classes; j++)
        gh_buf_puts(b, "---:|");
    gh_buf_puts(b, "\n");
    for (int i = 0; i < r->n_classes; i++) {
        gh_buf_printf(b, "| **%d** |", i + 1);
        for (int j = 0; j <= r->n_classes; j++)
            gh_buf_printf(b, " %lld |", (long long)cell(m, i, j));
        gh_buf_puts(b, "\n");
    }
    gh_buf_printf(b,
                  "\nCalibration (expected calibration error %.3f over %lld answers):\n\n"
                  "| confidence | answers | mean confidence | accuracy |\n|---|---:|---:|---:|\n",
                  m->ece, (long long)m->n_calibrated);
    for (int i = 0; i < GH_EVAL_BINS; i++) {
        const struct gh_eval_bin *x = &m->bins[i];

        if (x->n == 0)
            continue;
        gh_buf_printf(b, "| %.1f–%.1f | %lld | %.3f | %.1f%% |\n", (double)i / GH_EVAL_BINS,
                      (double)(i + 1) / GH_EVAL_BINS, (long long)x->n, x->conf_sum / (double)x->n,
                      pct(x->correct, x->n));
    }
    gh_buf_puts(b, "\n");
}

char *gh_eval_markdown(const struct gh_eval_report *r)
{
    struct gh_buf b;
    size_t len;

    gh_buf_init(&b, REPORT_MAX);
    md_header(&b, r);
    md_summary(&b, r);
    md_curve(&b, r);
    for (int i = 0; i < r->n_configs; i++)
        md_config(&b, r, &r->configs[i]);
    return gh_buf_take(&b, &len);
}

/* ---- HTML ---- */

/* White to a dark blue as v goes 0..1. */
static void heat(char *out, size_t cap, double v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    snprintf(out, cap, "#%02x%02x%02x", (int)(255 - v * (255 - 20)), (int)(255 - v * (255 - 70)),
             (int)(255 - v * (255 - 150)));
}

/* Rows normalised by their photos, so a rare class reads as clearly as a common one. */
static void svg_confusion(struct gh_buf *b, const struct gh_eval_report *r,
                          const struct gh_eval_metrics *m)
{
    int n = r->n_classes + 1, cs = n > 40 ? 8 : 16, pad = 28, side = pad + n * cs + 4;
    char fill[8];

    gh_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\"><title>Confusion matrix: rows are the true "
                  "class, columns the answer, darker is a larger share of the row</title>\n",
                  side, side, side, side);
    gh_buf_printf(b,
                  "<text x=\"%d\" y=\"10\" font-size=\"9\" font-family=\"sans-serif\">answer "
                  "&#8594;</text><text x=\"2\" y=\"%d\" font-size=\"9\" "
                  "font-family=\"sans-serif\">true &#8595;</text>\n",
                  pad, pad - 4);
    for (int i = 0; i < r->n_classes; i++) {
        int64_t s = gh_eval_support(m, i);

        for (int j = 0; j < n; j++) {
            int64_t v = cell(m, i, j);

            heat(fill, sizeof fill, s > 0 ? (double)v / (double)s : 0);
            gh_buf_printf(b,
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" "
                          "stroke=\"%s\" stroke-width=\"%s\"><title>",
                          pad + j * cs, pad + i * cs, cs, cs, fill, i == j ? "#c0392b" : "#ddd",
                          i == j ? "1.5" : "0.5");
            html_text(b, r->classes[i]);
            gh_buf_puts(b, " &#8594; ");
            html_text(b, j < r->n_classes ? r->classes[j] : "other");
            gh_buf_printf(b, ": %lld</title></rect>\n", (long long)v);
        }
    }
    gh_buf_puts(b, "</svg>\n");
}

/* Accuracy per confidence bin as bars against the diagonal of perfect calibration. */
static void svg_reliability(struct gh_buf *b, const struct gh_eval_metrics *m)
{
    const int w = 300, h = 300, x0 = 40, y0 = 10, pw = 250, ph = 250;

    gh_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\"><title>Reliability diagram: accuracy per "
                  "confidence bin (bars) against perfect calibration (the diagonal)</title>\n"
                  "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
                  "stroke=\"#888\"/>\n",
                  w, h, w, h, x0, y0, pw, ph);
    for (int i = 0; i < GH_EVAL_BINS; i++) {
        const struct gh_eval_bin *x = &m->bins[i];
        double acc = x->n ? (double)x->correct / (double)x->n : 0;
        double conf = x->n ? x->conf_sum / (double)x->n : 0;
        int bw = pw / GH_EVAL_BINS, bx = x0 + i * bw;

        if (x->n == 0)
            continue;
        gh_buf_printf(b,
                      "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"#2c5aa0\" "
                      "stroke=\"#fff\"><title>%.1f–%.1f: %lld answers, accuracy %.1f%%, mean "
                      "confidence %.3f</title></rect>\n",
                      bx, y0 + ph * (1 - acc), bw, ph * acc, (double)i / GH_EVAL_BINS,
                      (double)(i + 1) / GH_EVAL_BINS, (long long)x->n, 100 * acc, conf);
        gh_buf_printf(b,
                      "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" "
                      "stroke-width=\"2\"/>\n",
                      bx, bx + bw, y0 + ph * (1 - conf), y0 + ph * (1 - conf));
    }
    gh_buf_printf(b,
                  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\" "
                  "stroke-dasharray=\"4 3\"/>\n"
                  "<text x=\"%d\" y=\"%d\" font-size=\"11\" font-family=\"sans-serif\">confidence "
                  "0 &#8594; 1</text>\n<text x=\"4\" y=\"%d\" font-size=\"11\" "
                  "font-family=\"sans-serif\">1</text><text x=\"4\" y=\"%d\" font-size=\"11\" "
                  "font-family=\"sans-serif\">0</text>\n</svg>\n",
                  x0, y0 + ph, x0 + pw, y0, x0 + 70, y0 + ph + 25, y0 + 10, y0 + ph);
}

static void svg_curve(struct gh_buf *b, const struct gh_eval_report *r)
{
    const int w = 360, h = 220, x0 = 40, y0 = 10, pw = 300, ph = 170;
    int n = r->n_curve;

    gh_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\"><title>Top-1 accuracy on the held-out "
                  "photos by photos remembered per class</title>\n<rect x=\"%d\" y=\"%d\" "
                  "width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#888\"/>\n<polyline "
                  "fill=\"none\" stroke=\"#2c5aa0\" stroke-width=\"2\" points=\"",
                  w, h, w, h, x0, y0, pw, ph);
    for (int i = 0; i < n; i++)
        gh_buf_printf(b, "%.1f,%.1f ", x0 + (n > 1 ? pw * i / (double)(n - 1) : 0),
                      y0 + ph * (1 - pct(r->curve[i].top1, r->curve[i].n) / 100));
    gh_buf_puts(b, "\"/>\n");
    for (int i = 0; i < n; i++) {
        double x = x0 + (n > 1 ? pw * i / (double)(n - 1) : 0);
        double acc = pct(r->curve[i].top1, r->curve[i].n);

        gh_buf_printf(b,
                      "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#2c5aa0\"><title>%d per "
                      "class: %.1f%%</title></circle>\n<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
                      "font-family=\"sans-serif\" text-anchor=\"middle\">%d</text>\n",
                      x, y0 + ph * (1 - acc / 100), r->curve[i].shots, acc, x, y0 + ph + 15,
                      r->curve[i].shots);
    }
    gh_buf_printf(b,
                  "<text x=\"%d\" y=\"%d\" font-size=\"11\" font-family=\"sans-serif\">photos "
                  "remembered per class</text><text x=\"4\" y=\"%d\" font-size=\"11\" "
                  "font-family=\"sans-serif\">100%%</text><text x=\"4\" y=\"%d\" "
                  "font-size=\"11\" font-family=\"sans-serif\">0%%</text>\n</svg>\n",
                  x0 + 80, y0 + ph + 32, y0 + 10, y0 + ph);
}

static void html_summary(struct gh_buf *b, const struct gh_eval_report *r)
{
    char v[128];

    gh_buf_puts(b, "<h2>Summary</h2>\n<table border=\"1\" cellpadding=\"4\">\n<tr><th></th>");
    for (int i = 0; i < r->n_configs; i++) {
        gh_buf_puts(b, "<th>");
        html_text(b, r->configs[i].name);
        gh_buf_puts(b, "</th>");
    }
    gh_buf_puts(b, "</tr>\n");
    for (int row = 0; row < N_ROWS; row++) {
        gh_buf_puts(b, "<tr><th align=\"left\">");
        html_text(b, row_names[row]);
        gh_buf_puts(b, "</th>");
        for (int i = 0; i < r->n_configs; i++) {
            row_value(&r->configs[i], (enum row)row, v, sizeof v);
            gh_buf_puts(b, "<td align=\"right\">");
            html_text(b, v);
            gh_buf_puts(b, "</td>");
        }
        gh_buf_puts(b, "</tr>\n");
    }
    gh_buf_puts(b, "</table>\n<ul>\n");
    for (int i = 0; i < r->n_configs; i++) {
        if (!r->configs[i].note[0])
            continue;
        gh_buf_puts(b, "<li><code>");
        html_text(b, r->configs[i].name);
        gh_buf_puts(b, "</code>: ");
        html_text(b, r->configs[i].note);
        gh_buf_puts(b, "</li>\n");
    }
    gh_buf_puts(b, "</ul>\n");
}

static void html_curve(struct gh_buf *b, const struct gh_eval_report *r)
{
    if (!r->curve)
        return;
    gh_buf_puts(b, "<h2>Few-shot curve of the visual memory</h2>\n<p>");
    html_text(b, r->curve_note);
    gh_buf_puts(b, "</p>\n");
    svg_curve(b, r);
    gh_buf_puts(b, "<table border=\"1\" cellpadding=\"4\">\n<tr><th>remembered per class</th>"
                   "<th>in memory</th><th>held-out photos</th><th>top-1 accuracy</th>"
                   "<th>answered from memory</th></tr>\n");
    for (int i = 0; i < r->n_curve; i++) {
        const struct gh_eval_curve_point *p = &r->curve[i];

        gh_buf_printf(b,
                      "<tr><td align=\"right\">%d</td><td align=\"right\">%lld</td>"
                      "<td align=\"right\">%lld</td><td align=\"right\">%.1f%%</td>"
                      "<td align=\"right\">%.1f%%</td></tr>\n",
                      p->shots, (long long)p->remembered, (long long)p->n, pct(p->top1, p->n),
                      pct(p->from_memory, p->n));
    }
    gh_buf_puts(b, "</table>\n");
}

static void html_config(struct gh_buf *b, const struct gh_eval_report *r,
                        const struct gh_eval_config *c)
{
    const struct gh_eval_metrics *m = &c->m;

    gh_buf_puts(b, "<h2>");
    html_text(b, c->name);
    gh_buf_puts(b, "</h2>\n");
    if (!c->ran) {
        gh_buf_puts(b, "<p>Not run: ");
        html_text(b, c->note);
        gh_buf_puts(b, "</p>\n");
        return;
    }
    gh_buf_puts(b, "<h3>Confusion matrix</h3>\n<p>Rows: the true class; columns: the top-1 "
                   "answer, numbered as in the table below, the last column \"other\" (no class "
                   "of this set, nothing identified, or a failure). Darker: a larger share of "
                   "the row; the diagonal is outlined.</p>\n");
    svg_confusion(b, r, m);
    gh_buf_puts(b, "<table border=\"1\" cellpadding=\"3\">\n<tr><th>#</th><th>class</th>"
                   "<th>photos</th><th>recall</th>");
    for (int j = 0; j < r->n_classes; j++)
        gh_buf_printf(b, "<th>%d</th>", j + 1);
    gh_buf_puts(b, "<th>other</th></tr>\n");
    for (int i = 0; i < r->n_classes; i++) {
        double rec = gh_eval_recall(m, i);

        gh_buf_printf(b, "<tr><th>%d</th><td>", i + 1);
        html_text(b, r->names && r->names[i] ? r->names[i] : r->classes[i]);
        gh_buf_printf(b, "</td><td align=\"right\">%lld</td>", (long long)gh_eval_support(m, i));
        if (rec < 0)
            gh_buf_puts(b, "<td align=\"right\">–</td>");
        else
            gh_buf_printf(b, "<td align=\"right\">%.1f%%</td>", 100 * rec);
        for (int j = 0; j <= r->n_classes; j++)
            gh_buf_printf(b, "<td align=\"right\">%lld</td>", (long long)cell(m, i, j));
        gh_buf_puts(b, "</tr>\n");
    }
    gh_buf_printf(b,
                  "</table>\n<h3>Calibration</h3>\n<p>Expected calibration error %.3f over %lld "
                  "answers (%d equal-width bins). Bars: accuracy per bin; red ticks: its mean "
                  "confidence; dashed: perfect calibration.</p>\n",
                  m->ece, (long long)m->n_calibrated, GH_EVAL_BINS);
    svg_reliability(b, m);
}

char *gh_eval_html(const struct gh_eval_report *r)
{
    struct gh_buf b;
    size_t len;

    gh_buf_init(&b, REPORT_MAX);
    gh_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>gymhelper eval: ");
    html_text(&b, r->source);
    gh_buf_puts(&b, "</title>\n</head>\n<body>\n<h1>gymhelper eval: ");
    html_text(&b, r->source);
    gh_buf_printf(&b, "</h1>\n<p>%lld photos in %d classes (%lld could not be read); generated ",
                  (long long)r->n_photos, r->n_classes, (long long)r->n_skipped);
    html_text(&b, r->generated);
    gh_buf_puts(&b, " on ");
    html_text(&b, r->cpu);
    gh_buf_printf(&b,
                  ". An answer under CONFIDENCE_THRESHOLD %.2f is \"not sure\"; top-1 counts "
                  "the best candidate either way.</p>\n",
                  r->threshold);
    html_summary(&b, r);
    html_curve(&b, r);
    for (int i = 0; i < r->n_configs; i++)
        html_config(&b, r, &r->configs[i]);
    gh_buf_puts(&b, "</body>\n</html>\n");
    return gh_buf_take(&b, &len);
}

int gh_eval_shots(int i)
{
    return i >= 0 && i < GH_EVAL_SHOTS ? shots_axis[i] : 0;
}
