# SPDX-License-Identifier: MIT
"""`gymhelper clip embed|classify|tokenize` on a tiny generated checkpoint (tests/ref/
clip_ref.py), both binaries. Images are 40x40 PNGs, the model's input size, so CLIP's resize
and crop are identities and the reference preprocesses them with the mean/std alone."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ref"))
import clip_ref  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip-cli") / "tiny"
    clip_ref.make_model(str(d), "F32", "quick_gelu", seed=7)
    return d


@pytest.fixture(scope="module")
def ref(model):
    return clip_ref.Reference(str(model))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip-cli-img")
    rng = np.random.default_rng(5)
    out = []
    for i in range(2):
        rgb = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        p = d / ("img%d.png" % i)
        Image.fromarray(rgb).save(p)
        out.append((p, rgb))
    return out


def vecs(r):
    return [np.array(json.loads(line)) for line in r.out_lines]


def test_embed_keeps_input_order_and_matches_reference(gh, model, ref, images):
    (p0, rgb0), (p1, rgb1) = images
    r = gh("clip", "embed", "--model", model, "--text", "a photo of a gym", "--image", p0,
           "--text", "bench", "--image", p1)
    assert r.returncode == 0, r
    got = vecs(r)
    assert len(got) == 4 and all(len(v) == 36 for v in got)
    ids = [json.loads(x) for x in gh("clip", "tokenize", "--model", model, "a photo of a gym",
                                     "bench").out_lines]
    want = [ref.text(ids[0]), ref.image(clip_ref.preprocess_exact(rgb0)), ref.text(ids[1]),
            ref.image(clip_ref.preprocess_exact(rgb1))]
    diffs = [np.abs(g - w).max() for g, w in zip(got, want)]
    assert max(diffs) <= 1e-4, diffs


def test_classify_is_a_sorted_softmax(gh, model, ref, images):
    (p0, rgb0), _ = images
    labels = ["bench press", "treadmill", "rowing machine"]
    r = gh("clip", "classify", "--model", model, "--image", p0, *labels)
    assert r.returncode == 0, r
    out = json.loads(r.stdout)
    assert sorted(o["label"] for o in out) == sorted(labels)
    probs = [o["probability"] for o in out]
    assert probs == sorted(probs, reverse=True)
    assert abs(sum(probs) - 1) < 1e-6
    ids = [json.loads(x) for x in gh("clip", "tokenize", "--model", model, *labels).out_lines]
    img = ref.image(clip_ref.preprocess_exact(rgb0))
    logits = np.array([ref.logit_scale * img @ ref.text(i) for i in ids])
    p = np.exp(logits - logits.max())
    p /= p.sum()
    want = dict(zip(labels, p))
    for o in out:
        assert abs(o["probability"] - want[o["label"]]) < 1e-4


def test_tokenize_brackets_with_start_and_end(gh, model):
    vocab = json.loads((model / "vocab.json").read_text())
    r = gh("clip", "tokenize", "--model", model, "Gym", "leg press", "")
    assert r.returncode == 0, r
    ids = [json.loads(x) for x in r.out_lines]
    sot, eot = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    assert ids[0] == [sot, vocab["gym</w>"], eot]
    assert ids[1] == [sot, vocab["leg</w>"], vocab["press</w>"], eot]
    assert ids[2] == [sot, eot]


@pytest.mark.parametrize("args", [
    [],
    ["embed"],
    ["embed", "--text", "x"],                      # no --model
    ["frobnicate", "--model", "."],
    ["embed", "--model", "M"],                      # no inputs
    ["embed", "--model", "M", "--text", "x", "stray"],
    ["classify", "--model", "M", "--text", "x", "label"],
    ["classify", "--model", "M", "--image", "f.png"],  # no labels
    ["tokenize", "--model", "M"],
    ["embed", "--model", "M", "--text", "x", "--threads", "0"],
    ["embed", "--model", "M", "--bogus"],
    ["embed", "--model", "M", "--text", "x", "--precision", "int4"],
    ["info", "--model", "M", "--text", "x"],
])
def test_usage_errors_exit_2(gh, model, args):
    args = [str(model) if a == "M" else a for a in args]
    r = gh("clip", *args)
    assert r.returncode == 2, r
    assert r.stdout == ""
    assert r.stderr.strip()


@pytest.mark.parametrize("precision", ["f32", "bf16", "int8", "auto"])
def test_info_names_the_isa_and_kernels(gh, model, precision):
    r = gh("clip", "info", "--model", model, "--precision", precision)
    if precision == "bf16" and r.returncode == 1:  # a CPU without AVX512-BF16 says so
        assert "AVX512-BF16" in r.stderr and "[invalid]" in r.stderr, r
        return
    assert r.returncode == 0, r
    doc = json.loads(r.stdout)
    assert doc["isa"] in ("avx512", "avx2", "ref") and doc["kernels"].startswith(doc["isa"]), doc
    assert doc["precision"] == ("int8" if precision == "auto" and doc["isa"] != "ref"
                                else "f32" if precision == "auto" else precision), doc
    assert "layers %s" % doc["precision"] in doc["kernels"], doc
    assert doc["load_ms"] > 0 and len(doc["digest"]) == 64 and doc["cpu"], doc
    if "avx512f" in doc["cpu"]:  # never a generic fallback on a capable CPU
        assert doc["isa"] == "avx512", doc


def test_info_refuses_kernels_the_cpu_lacks(gh, model):
    r = gh("clip", "info", "--model", model, env={"GH_CLIP_ISA": "sse9"})
    assert r.returncode == 1 and "sse9" in r.stderr and "[invalid]" in r.stderr, r


def test_help(gh):
    r = gh("clip", "--help")
    assert r.returncode == 0 and "clip embed" in r.stdout


def test_failures_exit_1_naming_the_problem(gh, model, tmp_path):
    r = gh("clip", "embed", "--model", tmp_path / "nope", "--text", "x")
    assert r.returncode == 1 and "nope" in r.stderr, r
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    r = gh("clip", "embed", "--model", model, "--text", "x", "--image", bad)
    assert r.returncode == 1 and "bad.png" in r.stderr and r.stdout == "", r
    broken = tmp_path / "broken"
    clip_ref.make_model(str(broken))
    (broken / "merges.txt").unlink()
    r = gh("clip", "embed", "--model", broken, "--text", "x")
    assert r.returncode == 1 and "merges.txt" in r.stderr, r
