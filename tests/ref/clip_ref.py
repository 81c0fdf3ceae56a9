# SPDX-License-Identifier: MIT
"""Small random CLIP checkpoints in Hugging Face's layout, and an independent float64 numpy
reference of both towers, for the engine's tests (tests/clip/) and the bench (full ViT-B/32).

make_model(dir, ...) writes config.json, model.safetensors (written by hand: 8-byte header
length, JSON header, raw little-endian data), vocab.json and merges.txt (a small byte-level BPE
vocabulary whose <|endoftext|> has the highest id, as in CLIP's). Reference(dir) reads them
back and computes L2-normalised embeddings from preprocessed pixels (CHW) or token ids, as
transformers' modeling_clip.py does, in float64 on the weights as stored (F16/BF16 widened).

Usage as a script: clip_ref.py make DIR [--dtype F32|F16|BF16] [--act quick_gelu|gelu]
[--seed N] [--vit-b32]   (--vit-b32: the full ViT-B/32 sizes, for the bench).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

from clip_tokenizer_ref import bytes_to_unicode  # GPT-2/CLIP's byte -> character table

SMALL = {
    "text": {"hidden_size": 60, "intermediate_size": 97, "num_hidden_layers": 2,
             "num_attention_heads": 5, "max_position_embeddings": 77},
    "vision": {"hidden_size": 52, "intermediate_size": 83, "num_hidden_layers": 2,
               "num_attention_heads": 4, "image_size": 40, "patch_size": 8},
    "projection_dim": 36,
}

VIT_B32 = {
    "text": {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12,
             "num_attention_heads": 8, "max_position_embeddings": 77},
    "vision": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
               "num_attention_heads": 12, "image_size": 224, "patch_size": 32},
    "projection_dim": 512,
}

# Words whose BPE merges the generated vocabulary holds, so tokenization has real merges.
WORDS = ["a", "photo", "of", "the", "bench", "press", "rack", "rowing", "machine", "treadmill",
         "dumbbell", "kettlebell", "cable", "leg", "squat", "gym", "bike", "barbell"]

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])


# ---- tokenizer files ----

def vocab_and_merges(words=WORDS):
    """CLIP's vocabulary order: bytes, bytes + '</w>', merged tokens, then the two specials."""
    chars = list(bytes_to_unicode().values())
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    seen = set(vocab)
    for w in words:
        parts = list(w[:-1]) + [w[-1] + "</w>"]
        while len(parts) > 1:
            pair = (parts[0], parts[1])
            tok = parts[0] + parts[1]
            if tok not in seen:
                merges.append(pair)
                vocab.append(tok)
                seen.add(tok)
            parts = [tok] + parts[2:]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


def vocab_and_merges_from_bpe_gz(path):
    """CLIP's real vocabulary (49408 ids) from OpenAI's bpe_simple_vocab_16e6.txt.gz, derived as
    CLIP's simple_tokenizer.py does: the first 48894 merges after the version line."""
    import gzip
    lines = gzip.open(path).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    chars = list(bytes_to_unicode().values())
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


# ---- safetensors by hand ----

def bf16_bits(a):
    """float32 -> bfloat16 bits, round to nearest even."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def encode(a, dtype):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    return bf16_bits(a).astype("<u2").tobytes()


def write_safetensors(path, tensors, dtype, extra=None, misalign=False):
    """tensors: {name: float32 array}, all stored as dtype; extra: {name: (dtype, shape,
    bytes)} written as is (e.g. an I64 position_ids buffer). The header is padded with spaces
    to a multiple of 8 bytes, as the safetensors writer does, so F32 data is aligned (misalign:
    2 bytes more, so no float in the file is 4-byte aligned: the loader must copy them)."""
    header, blobs, off = {}, [], 0
    items = [(k, dtype, list(v.shape), encode(v, dtype)) for k, v in tensors.items()]
    items += [(k, d, list(s), b) for k, (d, s, b) in (extra or {}).items()]
    for name, dt, shape, blob in items:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-(8 + len(h)) % 8 + (2 if misalign else 0))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """{name: float64 array} of the float tensors (non-float ones skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        raw = data[base + lo:base + hi]
        if t["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif t["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        elif t["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            continue
        out[name] = a.astype(np.float64).reshape(t["shape"])
    return out


# ---- the generator ----

def model_tensors(cfg, rng, vocab_size):
    """Random weights with CLIP's names and shapes; scales keep activations O(1)."""
    t, v, d = cfg["text"], cfg["vision"], cfg["projection_dim"]
    w = {}

    def rnd(*shape, scale=None):
        s = scale if scale is not None else 1.0 / math.sqrt(shape[-1])
        return (rng.standard_normal(shape) * s).astype(np.float32)

    def tower(prefix, c):
        h, i = c["hidden_size"], c["intermediate_size"]
        for layer in range(c["num_hidden_layers"]):
            p = "%s.encoder.layers.%d." % (prefix, layer)
            for proj in ("q", "k", "v", "out"):
                w[p + "self_attn.%s_proj.weight" % proj] = rnd(h, h)
                w[p + "self_attn.%s_proj.bias" % proj] = rnd(h, scale=0.1)
            for ln in ("layer_norm1", "layer_norm2"):
                w[p + ln + ".weight"] = (1 + rnd(h, scale=0.1)).astype(np.float32)
                w[p + ln + ".bias"] = rnd(h, scale=0.1)
            w[p + "mlp.fc1.weight"] = rnd(i, h)
            w[p + "mlp.fc1.bias"] = rnd(i, scale=0.1)
            w[p + "mlp.fc2.weight"] = rnd(h, i)
            w[p + "mlp.fc2.bias"] = rnd(h, scale=0.1)

    ht, hv = t["hidden_size"], v["hidden_size"]
    w["text_model.embeddings.token_embedding.weight"] = rnd(vocab_size, ht, scale=0.5)
    w["text_model.embeddings.position_embedding.weight"] = rnd(
        t["max_position_embeddings"], ht, scale=0.2)
    tower("text_model", t)
    w["text_model.final_layer_norm.weight"] = (1 + rnd(ht, scale=0.1)).astype(np.float32)
    w["text_model.final_layer_norm.bias"] = rnd(ht, scale=0.1)
    p, grid = v["patch_size"], v["image_size"] // v["patch_size"]
    w["vision_model.embeddings.class_embedding"] = rnd(hv, scale=0.5)
    w["vision_model.embeddings.patch_embedding.weight"] = rnd(hv, 3, p, p,
                                                              scale=1 / math.sqrt(3 * p * p))
    w["vision_model.embeddings.position_embedding.weight"] = rnd(grid * grid + 1, hv, scale=0.2)
    w["vision_model.pre_layrnorm.weight"] = (1 + rnd(hv, scale=0.1)).astype(np.float32)
    w["vision_model.pre_layrnorm.bias"] = rnd(hv, scale=0.1)
    tower("vision_model", v)
    w["vision_model.post_layernorm.weight"] = (1 + rnd(hv, scale=0.1)).astype(np.float32)
    w["vision_model.post_layernorm.bias"] = rnd(hv, scale=0.1)
    w["visual_projection.weight"] = rnd(d, hv)
    w["text_projection.weight"] = rnd(d, ht)
    w["logit_scale"] = np.array(math.log(1 / 0.07), dtype=np.float32)
    return w


def config_json(cfg, vocab_size, act):
    text = dict(cfg["text"], vocab_size=vocab_size, hidden_act=act, layer_norm_eps=1e-5)
    vision = dict(cfg["vision"], hidden_act=act, layer_norm_eps=1e-5)
    return {"architectures": ["CLIPModel"], "model_type": "clip",
            "projection_dim": cfg["projection_dim"], "logit_scale_init_value": 2.6592,
            "text_config": text, "vision_config": vision}


def make_model(path, dtype="F32", act="quick_gelu", seed=0, cfg=None, tensors_hook=None,
               bpe_gz=None, misalign=False):
    """Writes a random CLIP checkpoint directory at path; returns its config dict.
    tensors_hook(dict) may edit the tensors before writing (for malformed-model tests);
    bpe_gz: OpenAI's vocabulary file, for the real 49408-token vocabulary."""
    cfg = cfg or SMALL
    os.makedirs(path, exist_ok=True)
    vocab, merges = vocab_and_merges_from_bpe_gz(bpe_gz) if bpe_gz else vocab_and_merges()
    rng = np.random.default_rng(seed)
    tensors = model_tensors(cfg, rng, len(vocab))
    if tensors_hook:
        tensors_hook(tensors)
    n_pos = cfg["text"]["max_position_embeddings"]
    extra = {"text_model.embeddings.position_ids":
             ("I64", [1, n_pos], np.arange(n_pos, dtype="<i8").tobytes())}
    write_safetensors(os.path.join(path, "model.safetensors"), tensors, dtype, extra, misalign)
    conf = config_json(cfg, len(vocab), act)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(conf, f, indent=2)
    with open(os.path.join(path, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(path, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))
    return conf


# ---- the float64 reference ----

def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def activation(x, act):
    if act == "quick_gelu":
        return x / (1 + np.exp(-1.702 * x))
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


class Reference:
    """Float64 CLIPModel forward from a checkpoint directory."""

    def __init__(self, path):
        with open(os.path.join(path, "config.json")) as f:
            self.conf = json.load(f)
        self.w = read_safetensors(os.path.join(path, "model.safetensors"))
        self.logit_scale = math.exp(float(self.w["logit_scale"].reshape(-1)[0]))

    def encoder(self, x, prefix, c, causal):
        """x: [n, h] one sequence."""
        w, h, heads = self.w, c["hidden_size"], c["num_attention_heads"]
        d, n = h // heads, x.shape[0]
        eps = c.get("layer_norm_eps", 1e-5)
        for layer in range(c["num_hidden_layers"]):
            p = "%s.encoder.layers.%d." % (prefix, layer)

            def lin(z, name):
                return z @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            y = layer_norm(x, w[p + "layer_norm1.weight"], w[p + "layer_norm1.bias"], eps)
            q = lin(y, "self_attn.q_proj") * d ** -0.5
            k = lin(y, "self_attn.k_proj")
            v = lin(y, "self_attn.v_proj")
            q, k, v = (z.reshape(n, heads, d).transpose(1, 0, 2) for z in (q, k, v))
            s = q @ k.transpose(0, 2, 1)
            if causal:
                s = s + np.triu(np.full((n, n), -np.inf), 1)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            o = (s @ v).transpose(1, 0, 2).reshape(n, h)
            x = x + lin(o, "self_attn.out_proj")
            y = layer_norm(x, w[p + "layer_norm2.weight"], w[p + "layer_norm2.bias"], eps)
            x = x + lin(activation(lin(y, "mlp.fc1"), c.get("hidden_act", "quick_gelu")),
                        "mlp.fc2")
        return x

    def image(self, pixels):
        """pixels: [3, S, S] preprocessed (normalised) CHW -> L2-normalised embedding."""
        c, w = self.conf["vision_config"], self.w
        p, s = c["patch_size"], c["image_size"]
        g = s // p
        pw = w["vision_model.embeddings.patch_embedding.weight"]  # [h, 3, p, p]
        px = np.asarray(pixels, dtype=np.float64)[:, :g * p, :g * p]
        patches = px.reshape(3, g, p, g, p).transpose(1, 3, 0, 2, 4).reshape(g * g, 3 * p * p)
        emb = patches @ pw.reshape(pw.shape[0], -1).T
        x = np.vstack([w["vision_model.embeddings.class_embedding"][None], emb])
        x = x + w["vision_model.embeddings.position_embedding.weight"]
        eps = c.get("layer_norm_eps", 1e-5)
        x = layer_norm(x, w["vision_model.pre_layrnorm.weight"],
                       w["vision_model.pre_layrnorm.bias"], eps)
        x = self.encoder(x, "vision_model", c, causal=False)
        pooled = layer_norm(x[0], w["vision_model.post_layernorm.weight"],
                            w["vision_model.post_layernorm.bias"], eps)
        e = w["visual_projection.weight"] @ pooled
        return e / np.linalg.norm(e)

    def text(self, ids):
        """ids: token ids with start and end tokens -> L2-normalised embedding. Pooled at the
        highest id's first position (HF's argmax rule; <|endoftext|> has the highest id)."""
        c, w = self.conf["text_config"], self.w
        ids = np.asarray(ids)
        x = (w["text_model.embeddings.token_embedding.weight"][ids]
             + w["text_model.embeddings.position_embedding.weight"][:len(ids)])
        x = self.encoder(x, "text_model", c, causal=True)
        eps = c.get("layer_norm_eps", 1e-5)
        pooled = layer_norm(x[int(np.argmax(ids))], w["text_model.final_layer_norm.weight"],
                            w["text_model.final_layer_norm.bias"], eps)
        e = w["text_projection.weight"] @ pooled
        return e / np.linalg.norm(e)


def preprocess_exact(rgb):
    """CLIP's normalisation of an image already image_size x image_size (the resize and crop
    are then identities): HWC uint8 -> CHW float64."""
    x = np.asarray(rgb, dtype=np.float64) / 255.0
    return ((x - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="write a random checkpoint directory")
    mk.add_argument("dir")
    mk.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    mk.add_argument("--act", default="quick_gelu", choices=["quick_gelu", "gelu"])
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--vit-b32", action="store_true")
    mk.add_argument("--bpe-gz", help="OpenAI's bpe_simple_vocab_16e6.txt.gz: real vocabulary")
    a = ap.parse_args(argv)
    make_model(a.dir, a.dtype, a.act, a.seed, VIT_B32 if a.vit_b32 else SMALL,
               bpe_gz=a.bpe_gz)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
