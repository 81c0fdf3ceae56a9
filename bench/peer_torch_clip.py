#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch peer for the CLIP bench: the same CLIPModel architecture written with torch ops by
hand (no transformers package), loading the same model.safetensors, timed like
bench/clip_bench.c: a fresh process per measurement, the model loaded twice with the first
freed before the second (the second load is reported), one model alive at a time, peak RSS
from VmHWM. F32 weights are mapped from the file (copy-on-write), as the safetensors package
loads them on CPU; F16/BF16 are converted. Prints one JSON object with the setup it ran in
(threads, OpenBLAS core type).

usage: peer_torch_clip.py DIR THREADS RUNS BATCH IDS_JSON
       peer_torch_clip.py --probe-core     (times batch-1 layer GEMMs on one thread)
"""
import ctypes
import gc
import json
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load(path):
    """{name: float32 tensor} from a safetensors file (F32 shared with a numpy memmap)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    mm = np.memmap(path, dtype=np.uint8, mode="c")  # private: writable, pages shared until written
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in ("F32", "F16", "BF16"):
            continue
        lo, hi = t["data_offsets"]
        raw = mm[8 + n + lo:8 + n + hi]
        if t["dtype"] == "F32":
            a = raw.view("<f4")
        elif t["dtype"] == "F16":
            a = raw.view("<f2").astype(np.float32)
        else:
            a = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(a.reshape(t["shape"]))
    return out


class Clip:
    def __init__(self, path):
        with open(os.path.join(path, "config.json")) as f:
            self.conf = json.load(f)
        self.w = load(os.path.join(path, "model.safetensors"))

    def encoder(self, x, prefix, c, causal):
        """x: [B, T, H]."""
        w, h, heads = self.w, c["hidden_size"], c["num_attention_heads"]
        b, t = x.shape[0], x.shape[1]
        d = h // heads
        eps = c.get("layer_norm_eps", 1e-5)
        mask = None
        if causal:
            mask = torch.full((t, t), float("-inf")).triu(1)
        for i in range(c["num_hidden_layers"]):
            p = "%s.encoder.layers.%d." % (prefix, i)

            def lin(z, name):
                return F.linear(z, w[p + name + ".weight"], w[p + name + ".bias"])

            y = F.layer_norm(x, (h,), w[p + "layer_norm1.weight"], w[p + "layer_norm1.bias"], eps)
            q = lin(y, "self_attn.q_proj") * d ** -0.5
            k = lin(y, "self_attn.k_proj")
            v = lin(y, "self_attn.v_proj")
            q, k, v = (z.view(b, t, heads, d).transpose(1, 2) for z in (q, k, v))
            s = q @ k.transpose(-1, -2)
            if mask is not None:
                s = s + mask
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
            x = x + lin(o, "self_attn.out_proj")
            y = F.layer_norm(x, (h,), w[p + "layer_norm2.weight"], w[p + "layer_norm2.bias"], eps)
            y = lin(y, "mlp.fc1")
            y = y * torch.sigmoid(1.702 * y) if c.get("hidden_act") != "gelu" else F.gelu(y)
            x = x + lin(y, "mlp.fc2")
        return x

    def images(self, px):
        c, w = self.conf["vision_config"], self.w
        h, eps = c["hidden_size"], c.get("layer_norm_eps", 1e-5)
        e = F.conv2d(px, w["vision_model.embeddings.patch_embedding.weight"],
                     stride=c["patch_size"]).flatten(2).transpose(1, 2)
        cls = w["vision_model.embeddings.class_embedding"].expand(px.shape[0], 1, h)
        x = torch.cat([cls, e], 1) + w["vision_model.embeddings.position_embedding.weight"]
        x = F.layer_norm(x, (h,), w["vision_model.pre_layrnorm.weight"],
                         w["vision_model.pre_layrnorm.bias"], eps)
        x = self.encoder(x, "vision_model", c, False)
        pooled = F.layer_norm(x[:, 0], (h,), w["vision_model.post_layernorm.weight"],
                              w["vision_model.post_layernorm.bias"], eps)
        return F.normalize(pooled @ w["visual_projection.weight"].T, dim=-1)

    def texts(self, ids):
        c, w = self.conf["text_config"], self.w
        h, eps = c["hidden_size"], c.get("layer_norm_eps", 1e-5)
        x = (w["text_model.embeddings.token_embedding.weight"][ids]
             + w["text_model.embeddings.position_embedding.weight"][:ids.shape[1]])
        x = self.encoder(x, "text_model", c, True)
        pooled = x[torch.arange(ids.shape[0]), ids.argmax(-1)]
        pooled = F.layer_norm(pooled, (h,), w["text_model.final_layer_norm.weight"],
                              w["text_model.final_layer_norm.bias"], eps)
        return F.normalize(pooled @ w["text_projection.weight"].T, dim=-1)


def peak_rss_kb():
    """VmHWM (starts afresh at exec; ru_maxrss keeps the forking process's peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def timed(fn, runs):
    fn()  # warm-up
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(t)


def blas_core():
    """The kernel set OpenBLAS chose (OPENBLAS_CORETYPE, or its own detection)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"


def probe_core():
    """Median and best ms of the batch-1 vision layer's two MLP GEMMs ([50, 768] x [768, 3072]
    and back) on one thread: enough to rank OpenBLAS's kernel sets on this CPU."""
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand((50, 768), generator=gen)
    w1, w2 = torch.rand((3072, 768), generator=gen), torch.rand((768, 3072), generator=gen)
    t = []
    with torch.no_grad():
        for i in range(33):
            t0 = time.perf_counter()
            F.linear(F.linear(x, w1), w2)
            if i >= 3:
                t.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"core": blas_core(), "ms": statistics.median(t), "best_ms": min(t)}))
    return 0


def main(argv):
    if argv == ["--probe-core"]:
        return probe_core()
    path, threads, runs, batch, ids = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), argv[4]
    torch.set_num_threads(threads)
    load_ms = []
    model = None
    for _ in range(2):
        del model  # as clip_bench.c frees its first model before loading again
        gc.collect()
        t0 = time.perf_counter()
        model = Clip(path)
        load_ms.append((time.perf_counter() - t0) * 1e3)
    s = model.conf["vision_config"]["image_size"]
    gen = torch.Generator().manual_seed(1)
    px = torch.rand((batch, 3, s, s), generator=gen) * 4 - 2
    ids = torch.tensor([json.loads(ids)])
    with torch.no_grad():
        b1 = timed(lambda: model.images(px[:1]), runs)
        bn = timed(lambda: model.images(px), runs)
        txt = timed(lambda: model.texts(ids), runs)
    print(json.dumps({"load_ms": load_ms, "image_ms_b1": b1, "image_ms_per_image_bn": bn / batch,
                      "batch": batch, "text_ms": txt,
                      "maxrss_kb": peak_rss_kb(),
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "blas_core": blas_core(),
                      "env": {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS",
                                                         "OPENBLAS_NUM_THREADS",
                                                         "OPENBLAS_CORETYPE")
                              if k in os.environ}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
