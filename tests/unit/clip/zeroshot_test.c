/* SPDX-License-Identifier: MIT */
/* Zero-shot maths and the text-embedding cache, on synthetic embeddings: a fake embedder (a
 * hash of each prompt spread over the vector) stands in for the model, and hand-made classes
 * check the softmax, the top-k and the negative gate against closed forms. */
#include "../../../src/clip/zeroshot.c" /* for zs_build, the prompts and the file format */

#include "../../gh_test.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#define DIM 64

static int n_embed_calls;

static void fake_vector(const char *text, float *out, int dim)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then xorshift64 for the components */

    for (const char *c = text; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    for (int i = 0; i < dim; i++) {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        out[i] = (float)((double)(h >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
    }
}

static int fake_embed(void *ctx, const char *const *texts, size_t n, float *out, struct gh_err *err)
{
    int dim = *(int *)ctx;

    (void)err;
    n_embed_calls++;
    for (size_t i = 0; i < n; i++)
        fake_vector(texts[i], out + i * (size_t)dim, dim);
    return GH_OK;
}

static struct gh_catalogue *catalogue(void)
{
    struct gh_catalogue *cat = NULL;
    struct gh_err err = {0};

    CHECK_INT(gh_catalogue_load_embedded(&cat, &err), GH_OK);
    return cat;
}

static struct zs_source source(int *dim, const char *digest)
{
    struct zs_source s = {fake_embed, dim, *dim, 100.0f, digest};

    return s;
}

static void prompts_cover_names_aliases_and_negatives(void)
{
    struct gh_catalogue *cat = catalogue();
    struct prompts p = {0};
    size_t want = 0, n_eq = gh_catalogue_count(cat), first_neg = 0;

    CHECK_INT(build_prompts(cat, &p), GH_OK);
    for (size_t i = 0; i < n_eq; i++)
        want += 3 + gh_catalogue_at(cat, i)->aliases.n + 1;
    first_neg = want;
    for (size_t j = 0; j < N_NEGATIVE; j++)
        for (size_t t = 0; t < 4 && negatives[j].prompts[t]; t++)
            want++;
    CHECK_INT(p.n, want);
    CHECK_STR(p.text[0], "a photo of a Treadmill.");
    CHECK_STR(p.text[1], "a photo of a Treadmill, gym equipment.");
    CHECK_STR(p.text[3], "a photo of a running machine in a gym.");
    CHECK_INT(p.cls[0], 0);
    CHECK_STR(p.text[first_neg], "a photo of a person's face.");
    CHECK_INT(p.cls[first_neg], n_eq);
    CHECK_INT(p.cls[p.n - 1], n_eq + N_NEGATIVE - 1);
    CHECK_STR(article("Elliptical Trainer"), "an ");
    CHECK_STR(article("Hack Squat"), "a ");
    prompts_fini(&p);
    gh_catalogue_free(cat);
}

/* Each class vector is the renormalised mean of its normalised prompt embeddings. */
static void class_vectors_average_prompts(void)
{
    struct gh_catalogue *cat = catalogue();
    int dim = DIM;
    struct zs_source src = source(&dim, "digest-a");
    struct gh_zeroshot *zs = NULL;
    struct prompts p = {0};
    struct gh_err err = {0};
    float e[DIM], want[DIM], max_err = 0;
    size_t check[2];

    CHECK_INT(zs_build(&src, cat, "", &zs, &err), GH_OK);
    CHECK_INT(build_prompts(cat, &p), GH_OK);
    if (!zs)
        goto out;
    CHECK_STR(gh_zeroshot_cache_path(zs), "");
    CHECK_INT(gh_zeroshot_n_equipment(zs), gh_catalogue_count(cat));
    CHECK_INT(gh_zeroshot_n_negative(zs), N_NEGATIVE);
    check[0] = 7;            /* an equipment class */
    check[1] = zs->n_eq + 2; /* a negative class */
    for (int c = 0; c < 2; c++) {
        double norm = 0;

        memset(want, 0, sizeof want);
        for (size_t i = 0; i < p.n; i++) {
            double s = 0;

            if (p.cls[i] != check[c])
                continue;
            fake_vector(p.text[i], e, DIM);
            for (int k = 0; k < DIM; k++)
                s += (double)e[k] * e[k];
            for (int k = 0; k < DIM; k++)
                want[k] += (float)(e[k] / sqrt(s));
        }
        for (int k = 0; k < DIM; k++)
            norm += (double)want[k] * want[k];
        for (int k = 0; k < DIM; k++) {
            float d = fabsf((float)(want[k] / sqrt(norm)) - zs->classes[check[c] * DIM + k]);

            max_err = d > max_err ? d : max_err;
        }
    }
    CHECK(max_err < 1e-5f);
out:
    prompts_fini(&p);
    gh_zeroshot_free(zs);
    gh_catalogue_free(cat);
}

/* Hand-made classes: three equipment and two negatives on the first five axes of R^8. */
static const char *const toy_slugs[] = {"alpha", "beta", "gamma"};
static float toy_classes[5 * 8];

static struct gh_zeroshot toy(void)
{
    struct gh_zeroshot zs;

    memset(toy_classes, 0, sizeof toy_classes);
    for (int c = 0; c < 5; c++)
        toy_classes[c * 8 + c] = 1;
    memset(&zs, 0, sizeof zs);
    zs.dim = 8;
    zs.n_eq = 3;
    zs.n_neg = 2;
    zs.logit_scale = 10;
    zs.classes = toy_classes;
    zs.slugs = (const char **)toy_slugs;
    return zs;
}

/* The softmax of logit_scale * emb over the five axes, closed form. */
static double toy_p(const float *emb, int c)
{
    double sum = 0;

    for (int j = 0; j < 5; j++)
        sum += exp(10.0 * emb[j]);
    return exp(10.0 * emb[c]) / sum;
}

static void softmax_topk_and_gate(void)
{
    struct gh_zeroshot zs = toy();
    struct gh_zeroshot_result r;
    struct gh_err err = {0};
    float clear[8] = {0.2f, 0.9f, 0.1f, 0.1f, 0.0f, 0, 0, 0};
    float unsure[8] = {0.4f, 0.35f, 0.3f, 0.1f, 0.1f, 0, 0, 0};
    float face[8] = {0.3f, 0.0f, 0.0f, 0.0f, 0.95f, 0, 0, 0};
    float mass[8] = {0.5f, 0.0f, 0.0f, 0.45f, 0.45f, 0, 0, 0}; /* best is equipment, yet */
    float nan_emb[8] = {NAN, 0, 0, 0, 0, 0, 0, 0};

    CHECK_INT(gh_zeroshot_classify(&zs, clear, 2, &r, &err), GH_OK);
    CHECK_INT(r.n_top, 2);
    CHECK_STR(r.top[0].slug, "beta");
    CHECK_STR(r.top[1].slug, "alpha");
    CHECK(fabs(r.top[0].p - toy_p(clear, 1)) < 1e-9);
    CHECK(fabs(r.top[1].p - toy_p(clear, 0)) < 1e-9);
    CHECK(fabs(r.negative_mass - toy_p(clear, 3) - toy_p(clear, 4)) < 1e-9);
    CHECK_STR(r.negative, negatives[0].label);
    CHECK_INT(r.not_gym, 0);
    CHECK(r.top[0].p > 0.99);

    CHECK_INT(gh_zeroshot_classify(&zs, unsure, 100, &r, &err), GH_OK);
    CHECK_INT(r.n_top, 3); /* k clamps to what there is */
    CHECK_STR(r.top[0].slug, "alpha");
    CHECK_STR(r.top[2].slug, "gamma");
    CHECK(r.top[0].p < 0.5 && r.top[0].p > r.top[1].p && r.top[1].p > r.top[2].p);
    CHECK(fabs(r.top[0].p + r.top[1].p + r.top[2].p + r.negative_mass - 1) < 1e-9);
    CHECK_INT(r.not_gym, 0);

    CHECK_INT(gh_zeroshot_classify(&zs, face, 3, &r, &err), GH_OK);
    CHECK_INT(r.not_gym, 1);
    CHECK_STR(r.negative, negatives[1].label);
    CHECK(fabs(r.negative_p - toy_p(face, 4)) < 1e-9);

    CHECK_INT(gh_zeroshot_classify(&zs, mass, 3, &r, &err), GH_OK);
    CHECK_STR(r.top[0].slug, "alpha");
    CHECK(r.top[0].p > r.negative_p);
    CHECK(r.negative_mass > GH_ZEROSHOT_NEGATIVE_MASS);
    CHECK_INT(r.not_gym, 1);

    CHECK_INT(gh_zeroshot_classify(&zs, nan_emb, 3, &r, &err), GH_EINVAL);
    CHECK(strstr(err.msg, "NaN") != NULL);
}

static char tmpdir[64];

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int build_cached(const char *digest, int dim_value, struct gh_zeroshot **zs)
{
    struct gh_catalogue *cat = catalogue();
    int dim = dim_value;
    struct zs_source src = source(&dim, digest);
    struct gh_err err = {0};
    int rc = zs_build(&src, cat, tmpdir, zs, &err);

    gh_catalogue_free(cat); /* slugs dangle now: the cache tests look at vectors only */
    return rc;
}

static void patch(const char *path, long off, uint8_t value)
{
    FILE *f = fopen(path, "r+b");

    CHECK(f != NULL);
    if (!f)
        return;
    fseek(f, off, SEEK_SET);
    fputc(value, f);
    fclose(f);
}

static void cache_written_reused_and_repaired(void)
{
    struct gh_zeroshot *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    char path[GH_MODELS_PATH_CAP];
    struct stat st;
    size_t bytes;
    FILE *f;

    snprintf(tmpdir, sizeof tmpdir, "/tmp/gh-zs-test-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    n_embed_calls = 0;
    CHECK_INT(build_cached("digest-a", DIM, &a), GH_OK);
    CHECK_INT(n_embed_calls, 1);
    CHECK_INT(gh_zeroshot_from_cache(a), 0);
    snprintf(path, sizeof path, "%s", gh_zeroshot_cache_path(a));
    CHECK(strncmp(path, tmpdir, strlen(tmpdir)) == 0);
    bytes = HEADER_LEN + (a->n_eq + a->n_neg) * DIM * 4;
    CHECK(stat(path, &st) == 0 && (size_t)st.st_size == bytes);
    CHECK_INT(count_files(tmpdir), 1); /* no temporary left behind */

    /* Second start: read back, nothing embedded, the same vectors. */
    CHECK_INT(build_cached("digest-a", DIM, &b), GH_OK);
    CHECK_INT(n_embed_calls, 1);
    CHECK_INT(gh_zeroshot_from_cache(b), 1);
    CHECK(memcmp(a->classes, b->classes, (a->n_eq + a->n_neg) * DIM * sizeof(float)) == 0);
    gh_zeroshot_free(b);

    /* A flipped payload byte fails the checksum: recomputed and rewritten. */
    patch(path, HEADER_LEN + 100, 0x5a);
    CHECK_INT(build_cached("digest-a", DIM, &b), GH_OK);
    CHECK_INT(n_embed_calls, 2);
    CHECK_INT(gh_zeroshot_from_cache(b), 0);
    CHECK(memcmp(a->classes, b->classes, (a->n_eq + a->n_neg) * DIM * sizeof(float)) == 0);
    gh_zeroshot_free(b);
    CHECK_INT(build_cached("digest-a", DIM, &b), GH_OK);
    CHECK_INT(gh_zeroshot_from_cache(b), 1);
    gh_zeroshot_free(b);

    /* A header that names other dimensions, and a truncated file: ignored and rewritten. */
    patch(path, 12, 7);
    CHECK_INT(build_cached("digest-a", DIM, &c), GH_OK);
    CHECK_INT(gh_zeroshot_from_cache(c), 0);
    CHECK_INT(n_embed_calls, 3);
    CHECK(truncate(path, 200) == 0);
    gh_zeroshot_free(c);
    CHECK_INT(build_cached("digest-a", DIM, &c), GH_OK);
    CHECK_INT(gh_zeroshot_from_cache(c), 0);
    CHECK(stat(path, &st) == 0 && (size_t)st.st_size == bytes);
    f = fopen(path, "rb");
    if (f) {
        char magic[8] = {0};

        CHECK_INT(fread(magic, 1, 8, f), 8);
        CHECK(memcmp(magic, FILE_MAGIC, 8) == 0);
        fclose(f);
    }

    /* Another model (digest) or another width is another key, another file. */
    CHECK_INT(build_cached("digest-b", DIM, &d), GH_OK);
    CHECK(strcmp(gh_zeroshot_cache_path(d), path) != 0);
    CHECK_INT(gh_zeroshot_from_cache(d), 0);
    gh_zeroshot_free(d);
    CHECK_INT(build_cached("digest-a", 32, &d), GH_OK);
    CHECK_INT(gh_zeroshot_from_cache(d), 0);
    CHECK_INT(gh_zeroshot_dim(d), 32);
    CHECK_INT(count_files(tmpdir), 3);

    gh_zeroshot_free(d);
    gh_zeroshot_free(c);
    gh_zeroshot_free(a);
    {
        DIR *dir = opendir(tmpdir);
        struct dirent *e;
        char p[GH_MODELS_PATH_CAP];

        while (dir && (e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        if (dir)
            closedir(dir);
        rmdir(tmpdir);
    }
}

static void unwritable_cache_is_not_fatal(void)
{
    struct gh_catalogue *cat = catalogue();
    int dim = DIM;
    struct zs_source src = source(&dim, "digest-a");
    struct gh_zeroshot *zs = NULL;
    struct gh_err err = {0};

    /* A file where the directory should be: mkdir fails, the classes are built anyway. */
    CHECK_INT(zs_build(&src, cat, "/dev/null/textemb", &zs, &err), GH_OK);
    CHECK(zs != NULL);
    gh_zeroshot_free(zs);
    gh_catalogue_free(cat);
}

GH_TEST_MAIN(GH_TEST(prompts_cover_names_aliases_and_negatives),
             GH_TEST(class_vectors_average_prompts), GH_TEST(softmax_topk_and_gate),
             GH_TEST(cache_written_reused_and_repaired), GH_TEST(unwritable_cache_is_not_fatal))
