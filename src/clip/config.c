/* SPDX-License-Identifier: MIT */
/* Hugging Face CLIP config.json: the text_config and vision_config towers and projection_dim.
 * Missing fields take ViT-B/32's values (transformers' CLIPTextConfig/CLIPVisionConfig
 * defaults); present ones are type- and range-checked so the loader can trust them. */
#include "gh/clip.h"

#include <jansson.h>

#include <string.h>

/* Far above any released CLIP (ViT-bigG: hidden 1664, 48 layers), low enough that products of
 * two limits cannot overflow an int64 size computation. */
#define MAX_HIDDEN       16384
#define MAX_INTERMEDIATE 65536
#define MAX_LAYERS       256
#define MAX_HEADS        256
#define MAX_VOCAB        (1 << 20)
#define MAX_POSITIONS    4096
#define MAX_IMAGE        4096

/* An optional integer field in [lo, hi]: absent or null keeps *out. */
static int get_int(const json_t *obj, const char *section, const char *key, int lo, int hi,
                   int *out, struct gh_err *err)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    json_int_t x;

    if (!v || json_is_null(v))
        return GH_OK;
    if (!json_is_integer(v))
        return gh_err_set(err, GH_EINVAL, "config.json: %s%s must be an integer", section, key);
    x = json_integer_value(v);
    if (x < lo || x > hi)
        return gh_err_set(err, GH_EINVAL, "config.json: %s%s is %lld, outside %d..%d", section, key,
                          (long long)x, lo, hi);
    *out = (int)x;
    return GH_OK;
}

static int get_tower(const json_t *obj, const char *section, struct gh_clip_tower *t,
                     struct gh_err *err)
{
    const json_t *act = obj ? json_object_get(obj, "hidden_act") : NULL;
    const json_t *eps = obj ? json_object_get(obj, "layer_norm_eps") : NULL;
    int rc;

    if ((rc = get_int(obj, section, "hidden_size", 1, MAX_HIDDEN, &t->hidden, err)) ||
        (rc = get_int(obj, section, "intermediate_size", 1, MAX_INTERMEDIATE, &t->intermediate,
                      err)) ||
        (rc = get_int(obj, section, "num_hidden_layers", 1, MAX_LAYERS, &t->layers, err)) ||
        (rc = get_int(obj, section, "num_attention_heads", 1, MAX_HEADS, &t->heads, err)))
        return rc;
    if (t->hidden % t->heads != 0)
        return gh_err_set(err, GH_EINVAL,
                          "config.json: %shidden_size %d is not a multiple of "
                          "num_attention_heads %d",
                          section, t->hidden, t->heads);
    if (eps && !json_is_null(eps)) {
        double e = json_is_number(eps) ? json_number_value(eps) : -1.0;

        if (!(e > 0.0 && e < 1.0))
            return gh_err_set(err, GH_EINVAL,
                              "config.json: %slayer_norm_eps must be a number in (0, 1)", section);
        t->eps = e;
    }
    if (act && !json_is_null(act)) {
        const char *s = json_is_string(act) ? json_string_value(act) : "";

        if (strcmp(s, "quick_gelu") == 0)
            t->act = GH_CLIP_QUICK_GELU;
        else if (strcmp(s, "gelu") == 0)
            t->act = GH_CLIP_GELU;
        else
            return gh_err_set(err, GH_EINVAL,
                              "config.json: %shidden_act must be \"quick_gelu\" or \"gelu\" "
                              "(other activations are not supported)",
                              section);
    }
    return GH_OK;
}

/* projection_dim: top level as CLIPConfig writes it; newer transformers also writes it inside
 * each tower's config, which we accept when the top level has none. */
static int get_projection(const json_t *root, const json_t *text, const json_t *vision, int *out,
                          struct gh_err *err)
{
    int t = 0, v = 0, rc;

    if (json_object_get(root, "projection_dim") &&
        !json_is_null(json_object_get(root, "projection_dim")))
        return get_int(root, "", "projection_dim", 1, MAX_HIDDEN, out, err);
    if ((rc = get_int(text, "text_config.", "projection_dim", 1, MAX_HIDDEN, &t, err)) ||
        (rc = get_int(vision, "vision_config.", "projection_dim", 1, MAX_HIDDEN, &v, err)))
        return rc;
    if (t && v && t != v)
        return gh_err_set(err, GH_EINVAL,
                          "config.json: text_config.projection_dim %d differs from "
                          "vision_config.projection_dim %d",
                          t, v);
    if (t || v)
        *out = t ? t : v;
    return GH_OK;
}

static const struct gh_clip_config vit_b32 = {
    .text = {512, 2048, 12, 8, 1e-5, GH_CLIP_QUICK_GELU},
    .vision = {768, 3072, 12, 12, 1e-5, GH_CLIP_QUICK_GELU},
    .vocab_size = 49408,
    .max_positions = 77,
    .image_size = 224,
    .patch_size = 32,
    .projection_dim = 512,
};

int gh_clip_config_parse(const char *json, size_t len, struct gh_clip_config *out,
                         struct gh_err *err)
{
    struct gh_clip_config c = vit_b32;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *text, *vision;
    int rc;

    if (!json_is_object(root)) {
        rc = gh_err_set(err, GH_EINVAL, "config.json is not a JSON object");
        goto out;
    }
    text = json_object_get(root, "text_config");
    vision = json_object_get(root, "vision_config");
    if ((text && !json_is_null(text) && !json_is_object(text)) ||
        (vision && !json_is_null(vision) && !json_is_object(vision))) {
        rc = gh_err_set(err, GH_EINVAL,
                        "config.json: text_config and vision_config must be JSON objects");
        goto out;
    }
    if (!json_is_object(text))
        text = NULL;
    if (!json_is_object(vision))
        vision = NULL;
    if ((rc = get_tower(text, "text_config.", &c.text, err)) ||
        (rc = get_tower(vision, "vision_config.", &c.vision, err)) ||
        (rc = get_int(text, "text_config.", "vocab_size", 3, MAX_VOCAB, &c.vocab_size, err)) ||
        (rc = get_int(text, "text_config.", "max_position_embeddings", 2, MAX_POSITIONS,
                      &c.max_positions, err)) ||
        (rc = get_int(vision, "vision_config.", "image_size", 1, MAX_IMAGE, &c.image_size, err)) ||
        (rc = get_int(vision, "vision_config.", "patch_size", 1, MAX_IMAGE, &c.patch_size, err)) ||
        (rc = get_projection(root, text, vision, &c.projection_dim, err)))
        goto out;
    if (c.image_size % c.patch_size != 0) {
        rc = gh_err_set(err, GH_EINVAL,
                        "config.json: vision_config.image_size %d is not a multiple of "
                        "patch_size %d",
                        c.image_size, c.patch_size);
        goto out;
    }
    *out = c;
    rc = GH_OK;
out:
    json_decref(root);
    return rc;
}
