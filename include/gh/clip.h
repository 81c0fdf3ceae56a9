/* SPDX-License-Identifier: MIT */
/* The CLIP engine: loads a Hugging Face CLIP checkpoint directory (config.json,
 * model.safetensors, vocab.json, merges.txt) and embeds images and texts into one space, so
 * gymhelper can name equipment locally with no API bill. The linear layers run on the engine's
 * own kernels for the CPU's ISA (AVX-512 with VNNI/BF16, AVX2, or plain loops), in f32, bf16 or
 * int8 weights; the engine owns its threads (see gh_clip_load_opts.threads) and runs one forward
 * pass at a time.
 * Embeddings are L2-normalised float32 vectors of projection_dim. */
#ifndef GH_CLIP_H
#define GH_CLIP_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"

#define GH_CLIP_CONTEXT 77 /* tokens per text, start and end tokens included */

enum gh_clip_act { GH_CLIP_QUICK_GELU, GH_CLIP_GELU };

/* One transformer tower as config.json describes it. */
struct gh_clip_tower {
    int hidden;       /* hidden_size */
    int intermediate; /* intermediate_size */
    int layers;       /* num_hidden_layers */
    int heads;        /* num_attention_heads; hidden % heads == 0 */
    double eps;       /* layer_norm_eps */
    enum gh_clip_act act;
};

struct gh_clip_config {
    struct gh_clip_tower text, vision;
    int vocab_size;    /* text_config.vocab_size */
    int max_positions; /* text_config.max_position_embeddings (77) */
    int image_size;    /* vision_config.image_size (224) */
    int patch_size;    /* vision_config.patch_size (32) */
    int projection_dim;
};

/* Parses config.json text. Missing fields take CLIP ViT-B/32's values, as transformers does;
 * present ones are range-checked. Errors: GH_EINVAL naming the field. */
int gh_clip_config_parse(const char *json, size_t len, struct gh_clip_config *out,
                         struct gh_err *err) GH_MUST_CHECK;

/* ---- tokenizer ---- */

struct gh_clip_tokenizer;

/* From Hugging Face's vocab.json + merges.txt. Errors: GH_EIO, GH_EINVAL (malformed). */
int gh_clip_tokenizer_load(const char *vocab_json_path, const char *merges_path,
                           struct gh_clip_tokenizer **out, struct gh_err *err) GH_MUST_CHECK;

/* From OpenAI's original bpe_simple_vocab_16e6.txt.gz (the vocabulary is derived from the
 * merges as CLIP's simple_tokenizer does). */
int gh_clip_tokenizer_load_bpe_gz(const char *path, struct gh_clip_tokenizer **out,
                                  struct gh_err *err) GH_MUST_CHECK;

void gh_clip_tokenizer_free(struct gh_clip_tokenizer *t);

/* CLIP's encoding of text: clean-up, lower-casing, pre-tokenisation, byte-level BPE, then
 * <|startoftext|> ... <|endoftext|>, truncated to cap tokens (at most GH_CLIP_CONTEXT) with the
 * end token kept last. Writes *n ids. Errors: GH_EINVAL (not UTF-8 is cleaned, not refused;
 * cap < 2 is refused). */
int gh_clip_tokenize(const struct gh_clip_tokenizer *t, const char *text, int32_t *ids, size_t cap,
                     size_t *n, struct gh_err *err) GH_MUST_CHECK;

int32_t gh_clip_tokenizer_eot(const struct gh_clip_tokenizer *t); /* <|endoftext|> id */
int32_t gh_clip_tokenizer_sot(const struct gh_clip_tokenizer *t); /* <|startoftext|> id */

/* ---- preprocessing ---- */

/* CLIP's image input from interleaved 8-bit RGB: shortest side resized to size (bicubic, as
 * Pillow does with antialiasing), centre crop size x size, scaled to [0,1], normalised with
 * CLIP's mean and std. out receives 3*size*size floats, channel-major (CHW). */
int gh_clip_preprocess_rgb(const uint8_t *rgb, int width, int height, int size, float *out,
                           struct gh_err *err) GH_MUST_CHECK;

/* The same from encoded bytes (any format gh_image_normalise accepts; EXIF orientation and
 * alpha handled as for pHash). Errors: those of the image module. */
int gh_clip_preprocess(const uint8_t *bytes, size_t len, int size, float *out,
                       struct gh_err *err) GH_MUST_CHECK;

/* ---- the model ---- */

struct gh_clip_model;

/* The layers' weight precision (softmax, layer norms, the patch embedding and the projections
 * stay f32). int8: per-output-channel weight scales computed at load, activations quantised per
 * row at run time, int32 accumulation. auto: the fastest that holds the accuracy bound on this
 * CPU (int8 wherever there is a SIMD int8 kernel). */
enum gh_clip_precision {
    GH_CLIP_PRECISION_F32 = 0,
    GH_CLIP_PRECISION_BF16,
    GH_CLIP_PRECISION_INT8,
    GH_CLIP_PRECISION_AUTO,
};

struct gh_clip_load_opts {
    int threads;   /* threads for the forward passes; 0: one per core */
    int max_batch; /* images per forward pass, buffers sized once at load (default 8) */
    enum gh_clip_precision precision; /* default (0) f32 */
    const char *isa;   /* kernels: NULL or "auto" the best for this CPU (GH_CLIP_ISA in the
                        * environment overrides), or "avx512", "avx2", "ref" */
    int batch_wait_ms; /* gh_clip_embed_images: how long a pass that has company on the way
                        * waits for it (0: never; a lone caller never waits) */
};

/* "f32", "bf16", "int8", "auto" into *out. Errors: GH_EINVAL naming the text. */
int gh_clip_precision_parse(const char *s, enum gh_clip_precision *out,
                            struct gh_err *err) GH_MUST_CHECK;
const char *gh_clip_precision_name(enum gh_clip_precision p);

/* What this CPU offers the engine, e.g. "avx2 fma avx512f avx512bw avx512vl avx512vnni
 * avx512bf16". A static string. */
const char *gh_clip_cpu_line(void);

/* Loads dir/config.json, memory-maps dir/model.safetensors (header checked: dtypes
 * F32/F16/BF16, every tensor's shape against the config, offsets inside the file; non-float
 * buffers such as position_ids ignored) and the tokenizer files. The transformer layers'
 * weights are packed once at load in the chosen precision (their mapped pages are given
 * back); the other F32 tensors are used in place, F16/BF16 widened. Errors: GH_EIO (missing file),
 * GH_EINVAL (malformed, naming the file and tensor; a precision or ISA this CPU cannot run),
 * GH_ENOMEM. */
int gh_clip_load(const char *dir, const struct gh_clip_load_opts *opts, struct gh_clip_model **out,
                 struct gh_err *err) GH_MUST_CHECK;

void gh_clip_free(struct gh_clip_model *m);

const struct gh_clip_config *gh_clip_model_config(const struct gh_clip_model *m);
const struct gh_clip_tokenizer *gh_clip_model_tokenizer(const struct gh_clip_model *m);

/* exp(logit_scale), the factor on cosine similarities before a softmax. */
float gh_clip_logit_scale(const struct gh_clip_model *m);

/* A 64-hex-digit identity of the weights (SHA-256 of config.json and the safetensors header),
 * for caches of text embeddings keyed by model. */
const char *gh_clip_model_digest(const struct gh_clip_model *m);

/* The precision the layers run in (auto resolved), the kernel set's ISA ("avx512", "avx2",
 * "ref") and a sentence naming every kernel in use; valid until gh_clip_free. */
enum gh_clip_precision gh_clip_model_precision(const struct gh_clip_model *m);
const char *gh_clip_model_isa(const struct gh_clip_model *m);
const char *gh_clip_model_kernels(const struct gh_clip_model *m);

/* Embeds n preprocessed images (n * 3 * S * S floats, as gh_clip_preprocess writes) into out
 * (n * projection_dim floats, each row L2-normalised), max_batch at a time. Thread-safe: calls
 * from several threads take turns. Allocates nothing. */
int gh_clip_embed_images(struct gh_clip_model *m, const float *pixels, size_t n, float *out,
                         struct gh_err *err) GH_MUST_CHECK;

/* Embeds n texts (tokenized with the model's tokenizer). Same contract. */
int gh_clip_embed_texts(struct gh_clip_model *m, const char *const *texts, size_t n, float *out,
                        struct gh_err *err) GH_MUST_CHECK;

/* `gymhelper model quantize`: writes m's layer weights, packed in the precision m was loaded
 * in (int8: quantised), to the model directory's gymhelper-int8.bin (-bf16.bin, -f32.bin; a
 * temporary file renamed into place), which later loads of the same model in that precision
 * (int8: on the same kernel family) map instead of packing again: the embeddings are the same
 * to the bit. The path goes to path (cap bytes; may be NULL). Errors: GH_EIO, GH_ENOMEM. */
int gh_clip_save_packed(struct gh_clip_model *m, char *path, size_t cap,
                        struct gh_err *err) GH_MUST_CHECK;

/* Image batching, counted over every model of this process since it started: forward passes,
 * the images and the gh_clip_embed_images calls they served. passes < calls means concurrent
 * calls shared passes. Thread-safe (relaxed atomics: each counter is exact, a snapshot of all
 * three while passes run may be mid-update). */
struct gh_clip_batch_stats {
    uint64_t passes, images, calls;
};
void gh_clip_batch_stats(struct gh_clip_batch_stats *out);

#endif
