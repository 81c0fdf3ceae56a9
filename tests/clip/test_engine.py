# SPDX-License-Identifier: MIT
"""The CLIP engine (src/clip/model.c, ops.c) against the float64 numpy reference in
tests/ref/clip_ref.py, on small random checkpoints with uneven sizes (5 heads of 12, 4 heads
of 13, odd MLP widths), both activations and F32/F16/BF16 weights. Images go in as raw
preprocessed pixels through tests/unit/clip/clip_engine_driver (so the image pipeline is not
under test here); texts through the model's tokenizer, whose ids `gymhelper clip tokenize`
gives the reference. Bound: max abs difference of normalised embeddings <= 1e-4 (F16/BF16
against the reference on the same widened weights). Malformed checkpoints give exit 1 and a
sentence naming the problem, under ASan/UBSan too."""
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ref"))
import clip_ref  # noqa: E402
from drivers import unit_driver  # noqa: E402

BOUND = 1e-4

# name -> (dtype, activation, seed, config[, misaligned F32 data])
UNEVEN = {
    "text": dict(clip_ref.SMALL["text"]),
    "vision": dict(clip_ref.SMALL["vision"], image_size=42, patch_size=7, hidden_size=45,
                   num_attention_heads=3, num_hidden_layers=3),
    "projection_dim": 29,
}
MODELS = {
    "f32-quick": ("F32", "quick_gelu", 1, clip_ref.SMALL),
    "f32-gelu": ("F32", "gelu", 2, clip_ref.SMALL),
    "f16-quick": ("F16", "quick_gelu", 3, clip_ref.SMALL),
    "bf16-gelu": ("BF16", "gelu", 4, clip_ref.SMALL),
    "f32-uneven": ("F32", "quick_gelu", 5, UNEVEN),  # 42 px, patch 7: 36 patches of odd width
    "f32-misaligned": ("F32", "gelu", 6, clip_ref.SMALL, True),  # copied, not used in place
}

TEXTS = ["a photo of a bench press", "gym", "Leg press machine!!", "",
         " ".join(["barbell squat rack"] * 40),  # truncated to 77 tokens
         "kettlebell " * 30, "rowing machine", "cable",
         "gym <|endoftext|> bench"]  # pooled at the first end token, as HF's argmax


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip-models")
    out = {}
    for name, (dtype, act, seed, cfg, *misalign) in MODELS.items():
        clip_ref.make_model(str(root / name), dtype, act, seed, cfg, misalign=bool(misalign))
        out[name] = root / name
    return out


def driver_for(gymhelper):
    return unit_driver(gymhelper, "clip_engine_driver")


def rows(stdout):
    return [np.array(json.loads(line)) for line in stdout.splitlines() if line.startswith("[")]


def token_ids(gh, model, texts):
    r = gh("clip", "tokenize", "--model", model, *texts)
    assert r.returncode == 0, r
    ids = [json.loads(line) for line in r.out_lines]
    assert len(ids) == len(texts)
    return ids


@pytest.mark.parametrize("name", list(MODELS))
def test_matches_reference(gh, gymhelper, run_gymhelper, models, tmp_path, name):
    model = models[name]
    ref = clip_ref.Reference(str(model))
    size = ref.conf["vision_config"]["image_size"]
    rng = np.random.default_rng(11)
    pixels = rng.standard_normal((5, 3, size, size)).astype(np.float32)
    pixels.tofile(tmp_path / "px.f32")
    driver = driver_for(gymhelper)
    # max_batch 3: five images in passes of 3 and 2; long texts in several passes
    r = run_gymhelper(driver, model, 3, tmp_path / "px.f32", *TEXTS)
    assert r.returncode == 0, r
    got = rows(r.stdout)
    assert len(got) == len(pixels) + len(TEXTS)
    ids = token_ids(gh, model, TEXTS)
    assert max(len(i) for i in ids) == 77
    worst_img = max(np.abs(got[i] - ref.image(pixels[i])).max() for i in range(len(pixels)))
    worst_txt = max(np.abs(got[len(pixels) + i] - ref.text(ids[i])).max()
                    for i in range(len(TEXTS)))
    print("%s %s: max abs diff images %.2e texts %.2e"
          % (name, gymhelper.variant, worst_img, worst_txt))
    assert worst_img <= BOUND and worst_txt <= BOUND
    for e in got:
        assert abs(np.linalg.norm(e) - 1) < 1e-5
    meta = json.loads(r.out_lines[-1])
    assert abs(meta["logit_scale"] - ref.logit_scale) < 1e-4 * ref.logit_scale
    assert len(meta["digest"]) == 64


# Quantised weights against the same float64 reference: (precision, kernels) -> pinned bounds on
# the max abs difference of normalised embeddings and on 1 - cosine, measured on these small
# random checkpoints (hidden 32-45, where int8's per-row steps are coarsest) with ~2x margin.
# int8 on avx2 quantises weights to 7 bits (vpmaddubsw), so its bound is the wider one.
PRECISIONS = {
    ("int8", "avx512"): (0.02, 5e-4),  # measured 8.7e-3, 1 - cos 2.0e-4
    ("int8", "avx2"): (0.035, 1.5e-3),  # measured 1.7e-2, 1 - cos 7.3e-4
    ("int8", "ref"): (0.02, 5e-4),  # the same quantisation as avx512, to the bit
    ("bf16", "avx512"): (5e-3, 3e-5),  # measured 2.2e-3, 1 - cos 1.4e-5
    ("bf16", "ref"): (5e-3, 3e-5),
}


@pytest.mark.parametrize("prec,isa", list(PRECISIONS))
@pytest.mark.parametrize("name", ["f32-quick", "bf16-gelu", "f32-uneven"])
def test_precision_matches_reference(gh, gymhelper, run_gymhelper, models, tmp_path, prec, isa,
                                     name):
    model = models[name]
    ref = clip_ref.Reference(str(model))
    size = ref.conf["vision_config"]["image_size"]
    pixels = np.random.default_rng(12).standard_normal((4, 3, size, size)).astype(np.float32)
    pixels.tofile(tmp_path / "px.f32")
    texts = TEXTS[:4]
    r = run_gymhelper(driver_for(gymhelper), model, 3, tmp_path / "px.f32", *texts,
                      env={"CLIP_DRIVER_PRECISION": prec, "GH_CLIP_ISA": isa})
    if r.returncode != 0 and "cannot run on this CPU" in r.stderr:
        pytest.skip("this CPU has no %s kernels" % isa)  # every path runs on the dev/CI EPYC
    assert r.returncode == 0, r
    meta = json.loads(r.out_lines[-1])
    assert meta["kernels"].startswith(isa) and "layers %s" % prec in meta["kernels"], meta
    got = rows(r.stdout)
    ids = token_ids(gh, model, texts)
    want = [ref.image(p) for p in pixels] + [ref.text(i) for i in ids]
    diff = max(np.abs(g - w).max() for g, w in zip(got, want))
    cos = min(float(np.dot(g, w) / np.linalg.norm(w)) for g, w in zip(got, want))
    bound, cos_bound = PRECISIONS[(prec, isa)]
    print("%s %s on %s %s: max abs diff %.2e, min cosine %.6f"
          % (name, prec, isa, gymhelper.variant, diff, cos))
    assert diff <= bound and 1 - cos <= cos_bound
    for e in got:
        assert abs(np.linalg.norm(e) - 1) < 1e-5


def test_batch_size_does_not_change_results(gymhelper, run_gymhelper, models, tmp_path):
    model = models["f32-quick"]
    pixels = np.random.default_rng(3).standard_normal((4, 3, 40, 40)).astype(np.float32)
    pixels.tofile(tmp_path / "px.f32")
    driver = driver_for(gymhelper)
    outs = []
    for batch in (1, 4, 8):
        r = run_gymhelper(driver, model, batch, tmp_path / "px.f32", *TEXTS)
        assert r.returncode == 0, r
        outs.append(np.array(rows(r.stdout)))
    assert np.abs(outs[0] - outs[1]).max() < 1e-6
    assert np.abs(outs[0] - outs[2]).max() < 1e-6
    # different images give different embeddings (the pass does not reuse one image)
    assert np.abs(outs[0][0] - outs[0][1]).max() > 1e-3


def test_digest_follows_weights_header(gymhelper, run_gymhelper, models, tmp_path):
    driver = driver_for(gymhelper)
    digests = []
    for name in ("f32-quick", "f32-gelu", "f32-quick"):
        r = run_gymhelper(driver, models[name], 1, "-")
        assert r.returncode == 0, r
        digests.append(json.loads(r.out_lines[-1])["digest"])
    assert digests[0] == digests[2] and digests[0] != digests[1]


def _drop(name):
    def hook(t):
        del t[name]
    return hook


def _reshape(name):
    def hook(t):
        t[name] = t[name][:-1]
    return hook


def _malformed(root, kind):
    """Writes a broken copy of the small model; returns (dir, words the error must name)."""
    d = root / kind
    if kind == "missing-tensor":
        name = "vision_model.encoder.layers.1.mlp.fc2.bias"
        clip_ref.make_model(str(d), tensors_hook=_drop(name))
        return d, [name]
    if kind == "wrong-shape":
        name = "text_model.encoder.layers.0.self_attn.k_proj.weight"
        clip_ref.make_model(str(d), tensors_hook=_reshape(name))
        return d, [name, "[59, 60]", "[60, 60]"]
    if kind == "wrong-dtype":
        name = "text_projection.weight"
        clip_ref.make_model(str(d), tensors_hook=_drop(name))
        # rewrite with the tensor present as I32 of the right byte size
        tensors = clip_ref.read_safetensors(str(d / "model.safetensors"))
        tensors = {k: v.astype(np.float32) for k, v in tensors.items()}
        shape = [36, 60]
        clip_ref.write_safetensors(str(d / "model.safetensors"), tensors, "F32",
                                   {name: ("I32", shape, b"\0" * (4 * 36 * 60))})
        return d, [name, "I32"]
    if kind == "truncated":
        clip_ref.make_model(str(d))
        p = d / "model.safetensors"
        data = p.read_bytes()
        p.write_bytes(data[:len(data) // 2])
        return d, ["model.safetensors"]
    if kind == "missing-vocab":
        clip_ref.make_model(str(d))
        (d / "vocab.json").unlink()
        return d, ["vocab.json"]
    if kind == "missing-config":
        clip_ref.make_model(str(d))
        (d / "config.json").unlink()
        return d, ["config.json"]
    if kind == "bad-config":
        clip_ref.make_model(str(d))
        conf = json.loads((d / "config.json").read_text())
        conf["vision_config"]["num_attention_heads"] = 7  # 52 % 7 != 0
        (d / "config.json").write_text(json.dumps(conf))
        return d, ["config.json"]
    if kind == "header-garbage":
        clip_ref.make_model(str(d))
        p = d / "model.safetensors"
        p.write_bytes(b"\xff" * 8 + p.read_bytes()[8:])
        return d, ["model.safetensors"]
    raise AssertionError(kind)


MALFORMED = ["missing-tensor", "wrong-shape", "wrong-dtype", "truncated", "missing-vocab",
             "missing-config", "bad-config", "header-garbage"]


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_model_is_a_clear_error(gymhelper, run_gymhelper, tmp_path, kind):
    d, words = _malformed(tmp_path, kind)
    r = run_gymhelper(driver_for(gymhelper), d, 2, "-", "a text")
    assert r.returncode == 1, r
    assert r.stdout == ""
    for w in words:
        assert w in r.stderr, r


def test_every_allocation_failure_is_clean(gymhelper, run_gymhelper, models, tmp_path):
    """GH_FAIL_ALLOC=N fails the Nth allocation: loading and embedding must then exit 1 with a
    message (no crash, no leak, no sanitizer report) for every N up to the last allocation,
    and succeed from the first N past it. Every N is tried (two at a time)."""
    pixels = np.zeros((2, 3, 40, 40), dtype=np.float32)
    pixels.tofile(tmp_path / "px.f32")
    driver = driver_for(gymhelper)

    def attempt(n):
        return n, run_gymhelper(driver, models["f16-quick"], 2, tmp_path / "px.f32", "a photo",
                                env={"GH_FAIL_ALLOC": str(n)})

    first_ok = None
    with ThreadPoolExecutor(max_workers=2) as pool:
        for start in range(1, 2001, 16):
            for n, r in pool.map(attempt, range(start, start + 16)):
                if first_ok is None and r.returncode == 0:
                    first_ok = n
                if first_ok is None:
                    assert r.returncode == 1, r
                    assert "out of memory" in r.stderr, r
                else:  # past the last allocation: nothing fails any more
                    assert r.returncode == 0, r
                    assert len(rows(r.stdout)) == 3
            if first_ok is not None:
                break
    assert first_ok is not None, "still failing at GH_FAIL_ALLOC=2000"
    assert first_ok > 20  # the loader allocates more than this: the injector did work


def test_nan_input_is_an_error_not_an_embedding(gymhelper, run_gymhelper, models, tmp_path):
    pixels = np.zeros((1, 3, 40, 40), dtype=np.float32)
    pixels[0, 1, 7, 9] = np.nan
    pixels.tofile(tmp_path / "px.f32")
    r = run_gymhelper(driver_for(gymhelper), models["f32-quick"], 1, tmp_path / "px.f32")
    assert r.returncode == 1 and "non-finite" in r.stderr, r


def test_concurrent_callers_take_turns(gymhelper, run_gymhelper, models, tmp_path):
    """Four threads embedding at once get exactly the single-threaded results (the model's
    lock serialises passes over its shared work buffers; without it they disagree)."""
    pixels = np.random.default_rng(9).standard_normal((3, 3, 40, 40)).astype(np.float32)
    pixels.tofile(tmp_path / "px.f32")
    r = run_gymhelper(driver_for(gymhelper), models["f32-quick"], 2, tmp_path / "px.f32",
                      "a photo of a gym", "bench", env={"CLIP_DRIVER_THREADS": "4"})
    assert r.returncode == 0, r
    assert len(rows(r.stdout)) == 5


def test_concurrent_calls_share_forward_passes(gymhelper, run_gymhelper, models, tmp_path):
    """Batching, counted not timed: eight threads that each embed one image, three rounds
    started together, with CLIP_BATCH_WAIT_MS' worth of patience for company. The engine's
    counters (gh_clip_batch_stats, also on /metrics) must show fewer forward passes than calls:
    concurrent calls were gathered into shared passes. Each call still gets exactly its own
    single-threaded embedding (the driver checks every result)."""
    pixels = np.random.default_rng(13).standard_normal((1, 3, 40, 40)).astype(np.float32)
    pixels.tofile(tmp_path / "px.f32")
    r = run_gymhelper(driver_for(gymhelper), models["f32-quick"], 8, tmp_path / "px.f32",
                      env={"CLIP_DRIVER_THREADS": "8", "CLIP_DRIVER_BATCH_WAIT_MS": "200"},
                      timeout=120)
    assert r.returncode == 0, r
    meta = json.loads(r.out_lines[-1])
    calls = 1 + 8 * 3  # the single-threaded call, then 8 threads x 3 rounds
    print("%s: %d calls, %d images in %d forward passes"
          % (gymhelper.variant, meta["calls"], meta["images"], meta["passes"]))
    assert meta["calls"] == calls and meta["images"] == calls
    assert meta["passes"] <= calls - 3  # in every round, some pass served several calls


def test_a_lone_call_is_one_pass(gymhelper, run_gymhelper, models, tmp_path):
    """Without company every call runs its own pass at once (and a call larger than max_batch
    is split): 5 images at max_batch 2 are 3 passes, one call."""
    pixels = np.random.default_rng(14).standard_normal((5, 3, 40, 40)).astype(np.float32)
    pixels.tofile(tmp_path / "px.f32")
    r = run_gymhelper(driver_for(gymhelper), models["f32-quick"], 2, tmp_path / "px.f32",
                      env={"CLIP_DRIVER_BATCH_WAIT_MS": "200"})
    assert r.returncode == 0, r
    meta = json.loads(r.out_lines[-1])
    assert (meta["calls"], meta["images"], meta["passes"]) == (1, 5, 3)


def _copy_model(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


PACKED = [("int8", "avx512"), ("int8", "avx2"), ("int8", "ref"), ("bf16", "avx512"),
          ("bf16", "ref"), ("f32", "avx512"), ("f32", "avx2")]


@pytest.mark.parametrize("prec,isa", PACKED, ids=["%s-%s" % p for p in PACKED])
@pytest.mark.parametrize("name", ["f32-quick", "f32-uneven", "bf16-gelu"])
def test_quantized_file_gives_the_same_embeddings(gh, gymhelper, run_gymhelper, models, tmp_path,
                                                  prec, isa, name):
    """`gymhelper model quantize [--precision P]` stores the packed weights the loader would
    compute; a later load in P maps them instead, and every embedding is the same to the bit
    (texts too)."""
    model = _copy_model(models[name], tmp_path / name)
    size = json.loads((model / "config.json").read_text())["vision_config"]["image_size"]
    pixels = np.random.default_rng(15).standard_normal((3, 3, size, size)).astype(np.float32)
    pixels.tofile(tmp_path / "px.f32")
    env = {"CLIP_DRIVER_PRECISION": prec, "GH_CLIP_ISA": isa}
    before = run_gymhelper(driver_for(gymhelper), model, 2, tmp_path / "px.f32", *TEXTS[:3],
                           env=env)
    if before.returncode != 0 and ("cannot run on this CPU" in before.stderr
                                   or "needs AVX512-BF16" in before.stderr):
        pytest.skip("this CPU has no %s %s kernels" % (isa, prec))
    assert before.returncode == 0, before
    assert "%s weights %s at load" % (prec, "quantised" if prec == "int8" else "packed") \
        in json.loads(before.out_lines[-1])["kernels"]
    q = gh("model", "quantize", "--precision", prec, model, env={"GH_CLIP_ISA": isa})
    assert q.returncode == 0, q
    assert (model / ("gymhelper-%s.bin" % prec)).is_file() and "wrote" in q.stdout, q
    after = run_gymhelper(driver_for(gymhelper), model, 2, tmp_path / "px.f32", *TEXTS[:3],
                          env=env)
    assert after.returncode == 0, after
    assert "%s weights mapped from gymhelper-%s.bin" % (prec, prec) \
        in json.loads(after.out_lines[-1])["kernels"]
    assert rows(after.stdout) and after.out_lines[:-1] == before.out_lines[:-1]


def test_quantized_file_for_other_kernels_or_models_is_ignored(gh, gymhelper, run_gymhelper,
                                                              models, tmp_path):
    """A file made for AVX2's 7-bit weights is not used by other kernels (and one from another
    model is not used at all): they quantise at load, with the right embeddings."""
    model = _copy_model(models["f32-quick"], tmp_path / "m")
    pixels = np.random.default_rng(16).standard_normal((2, 3, 40, 40)).astype(np.float32)
    pixels.tofile(tmp_path / "px.f32")
    q = gh("model", "quantize", model, env={"GH_CLIP_ISA": "avx2"})
    if q.returncode != 0 and "cannot run on this CPU" in q.stderr:
        pytest.skip("this CPU has no avx2 kernels")
    assert q.returncode == 0, q
    r = run_gymhelper(driver_for(gymhelper), model, 2, tmp_path / "px.f32",
                      env={"CLIP_DRIVER_PRECISION": "int8", "GH_CLIP_ISA": "ref"})
    assert r.returncode == 0, r
    assert "quantised at load" in json.loads(r.out_lines[-1])["kernels"], r
    other = _copy_model(models["f32-gelu"], tmp_path / "other")
    (model / "gymhelper-int8.bin").rename(other / "gymhelper-int8.bin")
    r = run_gymhelper(driver_for(gymhelper), other, 2, tmp_path / "px.f32",
                      env={"CLIP_DRIVER_PRECISION": "int8", "GH_CLIP_ISA": "avx2"})
    assert r.returncode == 0, r
    assert "quantised at load" in json.loads(r.out_lines[-1])["kernels"], r


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_quantized_file_is_a_clear_error(gh, gymhelper, run_gymhelper, models, tmp_path,
                                                 damage):
    model = _copy_model(models["f32-quick"], tmp_path / "m")
    q = gh("model", "quantize", model)
    assert q.returncode == 0, q
    f = model / "gymhelper-int8.bin"
    data = f.read_bytes()
    f.write_bytes({"truncated": data[:len(data) - 100], "garbage": b"\x00" * 4096,
                   "empty": b""}[damage])
    r = run_gymhelper(driver_for(gymhelper), model, 2, "-", "a photo",
                      env={"CLIP_DRIVER_PRECISION": "int8"})
    assert r.returncode == 1, r
    assert "gymhelper-int8.bin" in r.stderr and "quantize" in r.stderr, r
    # f32 never reads it
    r = run_gymhelper(driver_for(gymhelper), model, 2, "-", "a photo")
    assert r.returncode == 0, r


def test_quantize_usage_and_errors(gh, tmp_path):
    r = gh("model", "quantize")
    assert r.returncode == 2 and "MODEL" in r.stderr, r
    r = gh("model", "quantize", "--precision", "int4", tmp_path)
    assert r.returncode == 2 and "int4" in r.stderr, r
    r = gh("model", "quantize", tmp_path / "nothing-here")
    assert r.returncode == 1 and "nothing-here" in r.stderr, r
