# SPDX-License-Identifier: MIT
"""int8 and bf16 against f32 on real photos (issue 13, item 4): a random checkpoint of the full
ViT-B/32 sizes (tests/ref/clip_ref.py, as the bench uses), the shared gym photos through
tests/unit/clip/clip_precision_driver in f32, int8 on the best kernels of this CPU, int8 on the
AVX2 kernels (7-bit weights, forced by name as GH_CLIP_ISA would) and bf16 where the CPU has
AVX512-BF16 (a config the CPU lacks is skipped, with the reason). Every photo's embedding must
have cosine >= 0.995 with its f32 embedding.

Zero-shot top-1 over the catalogue's prompts (class vectors from the f32 model: the provider's
text-embedding cache is keyed by the model, not the precision) is compared with f32's too, but
a random checkpoint cannot hold the issue's 98% agreement: its text tower maps all ~500 prompts
close together, so f32's top-1 beats the runner-up by a median of ~0.03 nats (a trained CLIP's
margins are whole nats), and int8's rounding (cosine 0.9996) flips the near-ties. So the test
prints the plain agreement and asserts what a random checkpoint can show: >= 98% agreement on
the photos f32 decides by at least DECIDED nats.

The full set (1,933 photos) takes minutes per precision on 2 cores, so CI runs a deterministic
sample: every k-th photo of labels.tsv in file order, SAMPLE of them, spread over the labels.
GH_PRECISION_PHOTOS=all runs the whole set (=N another sample size). Release build only: at
these sizes ASan makes each pass ~10x slower, and the kernels are the same code."""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ref"))
import clip_ref  # noqa: E402
from drivers import unit_driver  # noqa: E402

SAMPLE = 36
DECIDED = 0.05  # nats: f32 top-1 at least 5% more probable than the runner-up
COS_BOUND = 0.995
AGREE_BOUND = 0.98
CONFIGS = ["f32", "int8", "int8@avx2", "bf16"]


def sample(gym_photos):
    rows = (gym_photos / "labels.tsv").read_text().splitlines()[1:]
    want = os.environ.get("GH_PRECISION_PHOTOS", str(SAMPLE))
    n = len(rows) if want == "all" else max(1, min(len(rows), int(want)))
    step = len(rows) / n
    return [gym_photos / rows[int(i * step)].split("\t")[0] for i in range(n)]


@pytest.fixture(scope="module")
def vit_b32(tmp_path_factory):
    d = tmp_path_factory.mktemp("vit-b32")
    clip_ref.make_model(str(d), "F32", "quick_gelu", 0, clip_ref.VIT_B32)
    return d


def test_int8_and_bf16_hold_on_the_shared_photos(release_gymhelper, run_gymhelper, gym_photos,
                                                  vit_b32, tmp_path):
    photos = sample(gym_photos)
    (tmp_path / "photos.txt").write_text("".join("%s\n" % p for p in photos))
    driver = unit_driver(release_gymhelper, "clip_precision_driver")
    r = run_gymhelper(driver, vit_b32, tmp_path / "photos.txt", *CONFIGS, timeout=3600)
    assert r.returncode == 0, r
    got = {d["config"]: d for d in map(json.loads, r.out_lines)}
    assert list(got) == CONFIGS
    base = got["f32"]
    ref = np.array(base["emb"])
    assert ref.shape == (len(photos), 512)
    print("%d photos; f32 top-1 spans %d classes; f32 margin median %.3f nats, %d decided"
          % (len(photos), len(set(base["top1"])), np.median(base["margin"]),
             sum(m >= DECIDED for m in base["margin"])))
    checked = 0
    for name in CONFIGS[1:]:
        d = got[name]
        if "skip" in d:
            print("%s skipped: %s" % (name, d["skip"]))
            continue
        emb = np.array(d["emb"])
        cos = (emb * ref).sum(axis=1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(ref, axis=1)
        same = np.array([a == b for a, b in zip(d["top1"], base["top1"])])
        decided = np.array(base["margin"]) >= DECIDED
        worst = int(np.argmin(cos))
        print("%s (%s): min cosine %.6f (%s), median %.6f; top-1 agreement %.2f%% (%d of %d), "
              "on the %d photos f32 decides by >= %.2f nats %.2f%%"
              % (name, d["kernels"], cos.min(), photos[worst].name, np.median(cos),
                 100 * same.mean(), same.sum(), len(photos), decided.sum(), DECIDED,
                 100 * same[decided].mean() if decided.any() else float("nan")))
        assert cos.min() >= COS_BOUND, (name, photos[worst])
        assert decided.sum() >= len(photos) // 10  # the bound below is not vacuous
        assert same[decided].mean() >= AGREE_BOUND, name
        checked += 1
    assert checked >= 2  # int8 on this CPU's kernels and on AVX2 run wherever AVX2 does
