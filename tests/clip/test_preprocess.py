# SPDX-License-Identifier: MIT
"""CLIP preprocessing (src/clip/preprocess.c, bicubic in src/image/resample.c) against what
Hugging Face's CLIPImageProcessor does, rebuilt here from Pillow and numpy: shortest side to
size with Image.resize(BICUBIC, reducing_gap=None) on the uint8 image, HF's output size
int(size * long / short), centre crop at (h - size) // 2, float64 * (1/255) cast to float32,
(x - mean) / std in float32, CHW. Raw RGB input must match exactly (max abs difference 0 in
normalised units) on shared photos and odd synthetic sizes; encoded files go through our
decoder (libvips) instead of Pillow's, and must match within DECODE_BOUND."""
import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from drivers import unit_driver

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
SIZE = 224
# One 8-bit step in normalised units. Files are decoded by libvips, not Pillow: the same
# libjpeg-turbo, but a few pixels come out one step apart (measured: at most one step).
STEP = 1 / 255 / float(STD.min())
DECODE_BOUND = 1.01 * STEP


def reference(img, size=SIZE):
    """CLIPImageProcessor.preprocess for one RGB PIL image: (3, size, size) float32."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    ow, oh = (size, new_long) if w <= h else (new_long, size)
    a = np.asarray(img.resize((ow, oh), Image.BICUBIC, reducing_gap=None))
    top, left = (oh - size) // 2, (ow - size) // 2
    a = a[top:top + size, left:left + size]
    x = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - MEAN) / STD
    return x.transpose(2, 0, 1)


def to_rgb(img):
    """Upright RGB as our image module makes it: EXIF orientation applied, alpha on white."""
    img = ImageOps.exif_transpose(img)
    if img.mode != "RGB":
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba).convert("RGB")
    return img


def driver_for(gymhelper):
    return unit_driver(gymhelper, "clip_preprocess")


def ours(run_gymhelper, driver, args, data, size=SIZE):
    r = run_gymhelper(driver, *args, input=data, timeout=120)
    assert r.returncode == 0, str(r)
    out = np.frombuffer(r.stdout_bytes, dtype=np.float32)
    assert out.size == 3 * size * size, str(r)
    return out.reshape(3, size, size)


def photos(gym_photos, n=20):
    """n photos of distinct sizes and formats (the set is mostly 224 x 224 JPEGs)."""
    seen, out = set(), []
    for line in sorted((gym_photos / "labels.tsv").read_text().splitlines()[1:]):
        path, _, w, h, fmt = line.split("\t")[:5]
        if (w, h, fmt) not in seen:
            seen.add((w, h, fmt))
            out.append(gym_photos / path)
    return out[:n]


SYNTHETIC = [(1, 1), (1, 300), (300, 1), (2, 3), (7, 5), (50, 50), (223, 224), (224, 224),
             (225, 224), (500, 30), (30, 500), (640, 480), (480, 640), (999, 1000)]


@pytest.mark.parametrize("w,h", SYNTHETIC, ids=["%dx%d" % s for s in SYNTHETIC])
def test_synthetic_rgb_exact(gymhelper, run_gymhelper, w, h):
    rnd = np.random.default_rng(w * 7919 + h)
    # smooth gradients plus noise: both flat areas and overshoot (the cubic's negative lobes)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1),
                     (xx + yy) % 256], axis=-1)
    a = np.clip(base + rnd.integers(-60, 61, size=(h, w, 3)), 0, 255).astype(np.uint8)
    got = ours(run_gymhelper, driver_for(gymhelper), ["--rgb", w, h, SIZE], a.tobytes())
    want = reference(Image.fromarray(a, "RGB"))
    assert np.abs(got - want).max() == 0.0


def test_other_sizes_exact(gymhelper, run_gymhelper):
    a = np.random.default_rng(5).integers(0, 256, size=(97, 131, 3), dtype=np.uint8)
    driver = driver_for(gymhelper)
    for size in (1, 32, 336):
        got = ours(run_gymhelper, driver, ["--rgb", 131, 97, size], a.tobytes(), size)
        assert np.abs(got - reference(Image.fromarray(a, "RGB"), size)).max() == 0.0


def test_photos(gymhelper, run_gymhelper, gym_photos):
    """Shared photos, raw pixels (exact) and as files (through our decoder)."""
    driver = driver_for(gymhelper)
    chosen = photos(gym_photos, 20 if gymhelper.variant == "release" else 4)
    assert len(chosen) >= 4
    worst_raw = worst_file = 0.0
    for path in chosen:
        img = to_rgb(Image.open(path))
        want = reference(img)
        got = ours(run_gymhelper, driver, ["--rgb", img.size[0], img.size[1], SIZE],
                   img.tobytes())
        worst_raw = max(worst_raw, float(np.abs(got - want).max()))
        got = ours(run_gymhelper, driver, ["--file", SIZE], path.read_bytes())
        worst_file = max(worst_file, float(np.abs(got - want).max()))
    print("max abs difference: raw %g, file %g over %d photos" % (worst_raw, worst_file,
                                                                   len(chosen)))
    assert worst_raw == 0.0
    assert worst_file <= DECODE_BOUND


def test_png_with_alpha(gymhelper, run_gymhelper):
    a = np.random.default_rng(9).integers(0, 256, size=(60, 90, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a, "RGBA").save(buf, "PNG")
    got = ours(run_gymhelper, driver_for(gymhelper), ["--file", SIZE], buf.getvalue())
    want = reference(to_rgb(Image.open(io.BytesIO(buf.getvalue()))))
    # libvips' flatten and Pillow's alpha_composite round differently (measured: 3 steps)
    assert np.abs(got - want).max() <= 3.01 * STEP


def test_bad_input_is_refused(gymhelper, run_gymhelper):
    driver = driver_for(gymhelper)
    r = run_gymhelper(driver, "--file", SIZE, input=b"not an image")
    assert r.returncode == 1 and r.stdout_bytes == b"", str(r)
    assert r.stderr.startswith("unsupported_type:"), str(r)
    r = run_gymhelper(driver, "--rgb", 0, 5, SIZE, input=b"")
    assert r.returncode == 1, str(r)
