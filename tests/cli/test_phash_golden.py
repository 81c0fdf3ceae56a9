# SPDX-License-Identifier: MIT
"""gymhelper's pHash against the independent reference (tests/ref/phash_ref.py): a synthetic
set made at test time, and stored reference hashes of real gym photos
(tests/golden/phash_gym.tsv, made by tests/golden/make_phash_gym.py)."""
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import images as I

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS / "ref"))
sys.path.insert(0, str(TESTS / "golden"))
import make_phash_gym  # noqa: E402
import phash_ref  # noqa: E402

GOLDEN = TESTS / "golden" / "phash_gym.tsv"
MAX_DISTANCE = 4


def gh_hashes(gh, paths, cwd=None):
    """{argument: int} from one `gymhelper hash` run over every path (exit 0 required)."""
    r = gh("hash", *paths, cwd=cwd)
    assert r.returncode == 0 and r.stderr == "", str(r)
    out = {}
    for line in r.out_lines:
        hexa, path = line.split("  ", 1)
        out[path] = int(hexa, 16)
    assert sorted(out) == sorted(str(p) for p in paths), str(r)
    return out


def table(rows):
    """Distance table for a failure message: name, gymhelper, reference, distance."""
    return "\n".join("%-40s %s %s %2d" % (n, phash_ref.to_hex(g), phash_ref.to_hex(r), d)
                     for n, g, r, d in sorted(rows, key=lambda x: -x[3]))


# --- synthetic set ------------------------------------------------------------------------

def _synthetic():
    """(name, writer(path)); names end in the format's extension."""
    p = I.photo_like
    rgba = I.with_alpha(p(300, 300, 60))
    anim = [p(160, 120, s) for s in (61, 62, 63)]
    return [
        ("photo-64.jpg", lambda f: I.save(p(64, 64, 1), f)),
        ("photo-100x75.png", lambda f: I.save(p(100, 75, 2), f)),
        ("photo-320x240.jpg", lambda f: I.save(p(320, 240, 3), f, quality=85)),
        ("photo-640x480.webp", lambda f: I.save(p(640, 480, 4), f)),
        ("photo-800x600-q75.jpg", lambda f: I.save(p(800, 600, 5), f, quality=75)),
        ("photo-1024x768.png", lambda f: I.save(p(1024, 768, 6), f, compress_level=1)),
        ("photo-2000x1500.jpg", lambda f: I.save(
            p(500, 375, 7).resize((2000, 1500), Image.Resampling.BICUBIC), f, quality=90)),
        ("photo-1500x2000.jpg", lambda f: I.save(
            p(375, 500, 8).resize((1500, 2000), Image.Resampling.BICUBIC), f, quality=90)),
        ("photo-333x777.png", lambda f: I.save(p(333, 777, 9), f)),
        ("photo-777x333.webp", lambda f: I.save(p(777, 333, 10), f)),
        ("photo-600x450-lossless.webp", lambda f: I.save(p(600, 450, 11), f, lossless=True)),
        ("blur-600x400.jpg", lambda f: I.save(I.blurred(p(600, 400, 12), 6), f)),
        ("blur-480x480.png", lambda f: I.save(I.blurred(p(480, 480, 13), 3), f)),
        ("noise-256.png", lambda f: I.save(I.smoothed_noise(256, 256, 14, 6), f)),
        ("noise-500x300.jpg", lambda f: I.save(I.smoothed_noise(500, 300, 15, 10), f)),
        ("noise-97x203.webp", lambda f: I.save(I.smoothed_noise(97, 203, 16, 3), f)),
        ("shapes-400.png", lambda f: I.save(I.shapes(400, 400, 17), f)),
        ("shapes-300x200.jpg", lambda f: I.save(I.shapes(300, 200, 18), f)),
        ("shapes-150x450.webp", lambda f: I.save(I.shapes(150, 450, 19), f, lossless=True)),
        # A bare gradient is no test: all its energy is in a few DCT terms and the other
        # bits are decided by rounding noise (one grey level moves them). With shapes on top
        # the bits mean something.
        ("gradient-shapes-256x128.png", lambda f: I.save(
            Image.blend(I.diagonal_gradient(256, 128, 20), I.shapes(256, 128, 40), 0.35), f)),
        ("gradient-shapes-900x700.jpg", lambda f: I.save(
            Image.blend(I.diagonal_gradient(900, 700, 21), I.shapes(900, 700, 41), 0.35), f)),
        ("rgba-300.png", lambda f: I.save(rgba, f)),
        ("rgba-256x192.webp", lambda f: I.save(I.with_alpha(p(256, 192, 22)), f, lossless=True)),
        ("grey-400x300.jpg", lambda f: I.save(p(400, 300, 23).convert("L"), f)),
        ("grey-200.png", lambda f: I.save(I.shapes(200, 200, 24).convert("L"), f)),
        ("grey16-128.png", lambda f: f.write_bytes(I.png16(I.to16(p(128, 128, 25).convert("L"))))),
        ("palette-240x160.png", lambda f: I.save(p(240, 160, 26).convert("P"), f)),
        ("orient3-400x300.jpg", lambda f: I.save_oriented(p(400, 300, 27), f, 3)),
        ("orient6-640x480.jpg", lambda f: I.save_oriented(p(640, 480, 28), f, 6)),
        ("orient8-300x500.webp", lambda f: I.save_oriented(p(300, 500, 29), f, 8)),
        ("orient6-320x200.png", lambda f: I.save_oriented(p(320, 200, 30), f, 6)),
        ("animated-160x120.webp", lambda f: I.save_animated_webp(anim, f)),
    ]


@pytest.fixture(scope="session")
def synthetic_set(tmp_path_factory):
    """{path: reference hash} of the synthetic images, made and hashed by the reference once."""
    root = tmp_path_factory.mktemp("synthetic")
    out = {}
    for name, write in _synthetic():
        f = root / name
        write(f)
        out[f] = phash_ref.phash_file(f)
    return out


def test_synthetic_set_matches_reference(gh, synthetic_set):
    got = gh_hashes(gh, list(synthetic_set))
    rows = []
    for path, ref in synthetic_set.items():
        g = got[str(path)]
        rows.append((path.name, g, ref, phash_ref.distance(g, ref)))
    dists = [r[3] for r in rows]
    exact = sum(d == 0 for d in dists) / len(dists)
    assert max(dists) <= MAX_DISTANCE and exact >= 0.8, (
        "max distance %d (limit %d), %.0f%% exact (want >= 80%%)\n%s"
        % (max(dists), MAX_DISTANCE, 100 * exact, table(rows)))


def test_synthetic_set_is_varied(synthetic_set):
    """The set is only a test if its pictures differ: no two share a hash by accident."""
    hashes = list(synthetic_set.values())
    assert len(set(hashes)) == len(hashes)
    assert len(hashes) >= 30


# --- golden photos ------------------------------------------------------------------------

def load_golden():
    lines = GOLDEN.read_text().splitlines()
    assert lines[0] == "path\treference_hex", "unexpected header in %s" % GOLDEN
    rows = [line.split("\t") for line in lines[1:] if line]
    return {path: int(hexa, 16) for path, hexa in rows}


def test_golden_sample_is_the_documented_one(gym_photos):
    assert list(load_golden()) == make_phash_gym.sample(gym_photos), (
        "phash_gym.tsv no longer matches its sampling rule: rerun tests/golden/make_phash_gym.py")


def test_reference_reproduces_golden(gym_photos):
    """Guards the reference against library drift (Pillow, numpy, scipy): it must still give
    every stored hash exactly."""
    changed = []
    for rel, stored in load_golden().items():
        now = phash_ref.phash_file(gym_photos / rel)
        if now != stored:
            changed.append((rel, now, stored, phash_ref.distance(now, stored)))
    assert not changed, "reference (now, stored):\n" + table(changed)


def test_gymhelper_matches_golden(gh, gym_photos):
    golden = load_golden()
    got = gh_hashes(gh, list(golden), cwd=gym_photos)
    rows = [(rel, got[rel], ref, phash_ref.distance(got[rel], ref)) for rel, ref in golden.items()]
    dists = [r[3] for r in rows]
    far = [r for r in rows if r[3] > MAX_DISTANCE]
    assert not far and statistics.median(dists) == 0, (
        "%d of %d photos over distance %d, median %s; nonzero distances (gymhelper, reference):"
        "\n%s" % (len(far), len(rows), MAX_DISTANCE, statistics.median(dists),
                  table([r for r in rows if r[3]])))
    assert np.mean(dists) < 1.0, "mean distance %.2f" % np.mean(dists)
