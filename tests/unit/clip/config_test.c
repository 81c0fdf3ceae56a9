/* SPDX-License-Identifier: MIT */
/* config.json parsing (src/clip/config.c): ViT-B/32 defaults, real layouts, errors. */
#include "gh_test.h"

#include "gh/clip.h"

static int parse(const char *json, struct gh_clip_config *c, struct gh_err *err)
{
    return gh_clip_config_parse(json, strlen(json), c, err);
}

static void test_defaults(void)
{
    struct gh_clip_config c;
    struct gh_err err = {0};

    CHECK_INT(parse("{}", &c, &err), GH_OK);
    CHECK_INT(c.text.hidden, 512);
    CHECK_INT(c.text.intermediate, 2048);
    CHECK_INT(c.text.layers, 12);
    CHECK_INT(c.text.heads, 8);
    CHECK_INT(c.vision.hidden, 768);
    CHECK_INT(c.vision.intermediate, 3072);
    CHECK_INT(c.vision.layers, 12);
    CHECK_INT(c.vision.heads, 12);
    CHECK(c.text.eps == 1e-5 && c.vision.eps == 1e-5);
    CHECK(c.text.act == GH_CLIP_QUICK_GELU && c.vision.act == GH_CLIP_QUICK_GELU);
    CHECK_INT(c.vocab_size, 49408);
    CHECK_INT(c.max_positions, 77);
    CHECK_INT(c.image_size, 224);
    CHECK_INT(c.patch_size, 32);
    CHECK_INT(c.projection_dim, 512);
}

static void test_hf_layout(void)
{
    /* openai/clip-vit-large-patch14-336, abridged */
    const char *j = "{\"architectures\":[\"CLIPModel\"],\"projection_dim\":768,"
                    "\"logit_scale_init_value\":2.6592,"
                    "\"text_config\":{\"hidden_size\":768,\"intermediate_size\":3072,"
                    "\"num_attention_heads\":12,\"num_hidden_layers\":12,\"hidden_act\":"
                    "\"quick_gelu\",\"layer_norm_eps\":1e-05,\"vocab_size\":49408,"
                    "\"max_position_embeddings\":77,\"projection_dim\":768,\"bos_token_id\":0},"
                    "\"vision_config\":{\"hidden_size\":1024,\"intermediate_size\":4096,"
                    "\"num_attention_heads\":16,\"num_hidden_layers\":24,\"image_size\":336,"
                    "\"patch_size\":14,\"hidden_act\":\"gelu\",\"layer_norm_eps\":1e-6,"
                    "\"dropout\":0.0}}";
    struct gh_clip_config c;
    struct gh_err err = {0};

    CHECK_INT(parse(j, &c, &err), GH_OK);
    CHECK_INT(c.projection_dim, 768);
    CHECK_INT(c.text.hidden, 768);
    CHECK_INT(c.vision.hidden, 1024);
    CHECK_INT(c.vision.layers, 24);
    CHECK_INT(c.vision.heads, 16);
    CHECK_INT(c.image_size, 336);
    CHECK_INT(c.patch_size, 14);
    CHECK(c.vision.act == GH_CLIP_GELU && c.text.act == GH_CLIP_QUICK_GELU);
    CHECK(c.vision.eps == 1e-6);
    /* projection_dim only inside the towers, as newer transformers writes it */
    CHECK_INT(parse("{\"text_config\":{\"projection_dim\":64},"
                    "\"vision_config\":{\"projection_dim\":64}}",
                    &c, &err),
              GH_OK);
    CHECK_INT(c.projection_dim, 64);
    CHECK_INT(parse("{\"text_config\":null,\"projection_dim\":null}", &c, &err), GH_OK);
    CHECK_INT(c.projection_dim, 512);
}

static void test_errors(void)
{
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"", "not a JSON object"},
        {"[1]", "not a JSON object"},
        {"{\"text_config\":[]}", "must be JSON objects"},
        {"{\"text_config\":{\"hidden_size\":\"512\"}}", "text_config.hidden_size"},
        {"{\"text_config\":{\"hidden_size\":0}}", "text_config.hidden_size is 0"},
        {"{\"vision_config\":{\"num_hidden_layers\":100000}}", "num_hidden_layers"},
        {"{\"text_config\":{\"hidden_size\":500}}", "not a multiple of num_attention_heads"},
        {"{\"vision_config\":{\"image_size\":225}}", "not a multiple of patch_size"},
        {"{\"vision_config\":{\"hidden_act\":\"gelu_new\"}}", "vision_config.hidden_act"},
        {"{\"text_config\":{\"hidden_act\":\"relu\"}}", "text_config.hidden_act"},
        {"{\"text_config\":{\"layer_norm_eps\":0}}", "layer_norm_eps"},
        {"{\"text_config\":{\"layer_norm_eps\":\"x\"}}", "layer_norm_eps"},
        {"{\"projection_dim\":-1}", "projection_dim"},
        {"{\"text_config\":{\"projection_dim\":64},\"vision_config\":{\"projection_dim\":32}}",
         "differs"},
        {"{\"text_config\":{\"vocab_size\":99999999999}}", "vocab_size"},
        {"{\"projection_dim\":1,\"projection_dim\":2}", "not a JSON object"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gh_clip_config c;
        struct gh_err err = {0};

        CHECK_INT(parse(cases[i].json, &c, &err), GH_EINVAL);
        if (!strstr(err.msg, cases[i].needle)) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.msg, cases[i].needle);
            CHECK(0);
        }
    }
}

GH_TEST_MAIN(GH_TEST(test_defaults), GH_TEST(test_hf_layout), GH_TEST(test_errors))
