#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gymhelper benchmark: pHash speed, agreement with the Pillow reference, robustness to
everyday edits, and false matches between distinct photos. Prints plain-text tables.

usage: /usr/bin/python3 bench/run.py [--build=build] [--photos=DIR] [--step=N] [--jobs=N]
                                     [--sections=1,2,3,4]
See bench/README.md. Exits non-zero only when something failed to run; missed targets are
reported as 'target missed' lines.
"""
import argparse
import datetime
import hashlib
import io
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from math import comb

import numpy as np
import PIL
from PIL import Image, ImageEnhance, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import phash_ref  # noqa: E402
from benchlib import (BenchError, as_rgb, center_crop_to_aspect, cpu_model,  # noqa: E402
                      section, source_commit, table, target)

# Targets (section 1 and 2).
TARGET_12MP_MS = 25.0
TARGET_SPEEDUP = 4.0
TARGET_WITHIN4 = 0.99
MATCH_DIST = 4          # "same photo" threshold used by the cache
MIN_SIDE = 50           # gymhelper refuses images smaller than this on a side
ARG_BYTES = 128 * 1024  # argument bytes per gymhelper invocation (ARG_MAX is far larger)

SPEED_IMAGES = [        # name, width, height, phash_bench runs, Pillow runs
    ("224x224", 224, 224, 30, 30),
    ("1 MP", 1155, 866, 30, 30),
    ("12 MP", 4000, 3000, 10, 10),
]
NOISE_SIGMA = 3.0       # grey levels; mild sensor-like noise so entropy coding does real work
SPEED_QUALITY = 90

TRANSFORMS = ["jpeg q75", "jpeg q50", "resize 50%", "png", "brightness +5%", "crop 5%"]

failures = []


# ---------------------------------------------------------------------------------------------
# Small helpers


def pct(x, n):
    return "%.2f%%" % (100.0 * x / n) if n else "n/a"


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return str(n)


def popcount64(x):
    """Popcount of a uint64 array via a byte lookup table."""
    x = np.ascontiguousarray(x, dtype=np.uint64)
    return POP8[x.view(np.uint8)].reshape(x.shape + (8,)).sum(axis=-1, dtype=np.int64)


POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def run_cmd(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", **kw)


# ---------------------------------------------------------------------------------------------
# gymhelper batch hashing


def chunk_args(files, jobs):
    """Splits files round-robin into a multiple of `jobs` equal chunks, each under ARG_BYTES
    of arguments, so that parallel invocations get a similar mix of small and large files."""
    jobs = max(1, jobs)
    total = sum(len(os.fsencode(f)) + 1 for f in files)
    longest = max([len(os.fsencode(f)) + 1 for f in files] or [1])
    k = jobs * max(1, -(-total // (jobs * (ARG_BYTES - 2 * longest))))
    k = min(k, max(1, len(files)))
    return [c for c in (files[i::k] for i in range(k)) if c]


def gh_hash_chunk(gh, files, extra, cwd):
    p = run_cmd([gh, "hash"] + list(extra) + ["--"] + files, cwd=cwd)
    if p.returncode not in (0, 1):
        raise BenchError("gymhelper hash exited with status %d on a chunk of %d files "
                         "(first %s); stderr tail:\n%s"
                         % (p.returncode, len(files), files[0], p.stderr[-2000:]))
    wanted = set(files)
    hashes, errors = {}, {}
    for line in p.stdout.splitlines():
        hx, sep, name = line[:16], line[16:18], line[18:]
        if sep != "  " or name not in wanted:
            raise BenchError("unparseable gymhelper output line: %r" % line)
        hashes[name] = int(hx, 16)
    for line in p.stderr.splitlines():
        if not line.startswith("gymhelper: "):
            continue
        rest = line[len("gymhelper: "):]
        # "gymhelper: FILE: message [code]"; FILE may itself contain ": ".
        for i in range(len(rest)):
            if rest[i] == ":" and rest[:i] in wanted:
                errors.setdefault(rest[:i], rest[i + 1:].strip())
                break
        else:
            errors.setdefault("?", line)
    for f in files:
        if f not in hashes and f not in errors:
            errors[f] = "no output from gymhelper (exit %d)" % p.returncode
    if p.returncode == 1 and not errors:
        raise BenchError("gymhelper hash exited 1 without naming a bad file:\n"
                         + p.stderr[-2000:])
    return hashes, errors


def gh_hash_many(gh, files, extra=("--type", "any"), jobs=1, cwd=None):
    """Hashes many files with few invocations, `jobs` at a time: (hashes, errors) dicts."""
    hashes, errors = {}, {}
    chunks = chunk_args(list(files), jobs)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        for h, e in ex.map(lambda c: gh_hash_chunk(gh, c, extra, cwd), chunks):
            hashes.update(h)
            errors.update(e)
    return hashes, errors


# ---------------------------------------------------------------------------------------------
# Data set


def load_labels(photos):
    path = os.path.join(photos, "labels.tsv")
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = {name: i for i, name in enumerate(header)}
        for line in f:
            if not line.strip():
                continue
            c = line.rstrip("\n").split("\t")
            rows.append({
                "path": c[col["path"]], "label": c[col["label"]],
                "width": int(c[col["width"]]), "height": int(c[col["height"]]),
                "format": c[col["format"]], "bytes": int(c[col["bytes"]]),
            })
    missing = [r["path"] for r in rows if not os.path.isfile(os.path.join(photos, r["path"]))]
    if missing:
        raise BenchError("%d photos in labels.tsv are missing, e.g. %s"
                         % (len(missing), missing[0]))
    return rows


def safe_arg(p):
    return "./" + p if p.startswith("-") else p


# ---------------------------------------------------------------------------------------------
# Header


def print_header(args, gh):
    v = run_cmd([gh, "version"])
    if v.returncode != 0:
        raise BenchError("gymhelper version failed: " + v.stderr.strip())
    version = v.stdout.strip()
    vips = "unknown"
    if "libvips " in version:
        vips = version.split("libvips ", 1)[1].split(",")[0].split(")")[0].strip()
    print("# gymhelper benchmark")
    print()
    table(["item", "value"], [
        ["date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")],
        ["CPU", cpu_model()],
        ["nproc", str(len(os.sched_getaffinity(0)))],
        ["load average at start", "%.2f %.2f %.2f" % os.getloadavg()],
        ["gymhelper", version],
        ["libvips", vips],
        ["source", source_commit()],
        ["build dir", args.build],
        ["Python / Pillow / numpy", "%s / %s / %s" % (platform.python_version(),
                                                        PIL.__version__, np.__version__)],
        ["photos", args.photos],
    ], align="ll")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Section 1: speed


def make_speed_images(source_path, tmp):
    rng = np.random.default_rng(20240601)
    with Image.open(source_path) as src:
        src.load()
        base = as_rgb(src)
    out = []
    for name, w, h, bruns, pruns in SPEED_IMAGES:
        img = center_crop_to_aspect(base, w, h).resize((w, h), Image.Resampling.LANCZOS)
        a = np.asarray(img, dtype=np.float32)
        a = a + rng.normal(0.0, NOISE_SIGMA, size=a.shape).astype(np.float32)
        img = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")
        path = os.path.join(tmp, "speed-%dx%d.jpg" % (w, h))
        img.save(path, "JPEG", quality=SPEED_QUALITY)
        out.append((name, w, h, bruns, pruns, path))
    return out


def median_ms(fn, runs):
    """(median, min, max) ms of runs calls of fn after one warm-up call, and fn's last result."""
    out = fn()  # warm-up, not counted (as phash_bench does)
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts), max(ts), out


def pillow_full(data):
    """The reference as written: full decode of bytes already in memory."""
    with Image.open(io.BytesIO(data)) as img:
        return phash_ref.phash_image(img)


def pillow_draft(data):
    """Pillow with the advantages gymhelper has: bytes in memory and libjpeg's DCT-domain
    scaling (draft("L") picks the largest 1/2, 1/4 or 1/8 scale that keeps >= 32x32 and
    decodes luma only). Same definition afterwards; a JPEG has no alpha to flatten."""
    with Image.open(io.BytesIO(data)) as img:
        if img.format == "JPEG":
            img.draft("L", (phash_ref.SIDE, phash_ref.SIDE))
        return phash_ref.phash_image(img)


def djpeg_ms(path, runs):
    """Median ms of `djpeg -scale 1/8 -grayscale` on path (a process each; libjpeg-turbo's
    decode floor for a 1/8-scale luma picture), or None when djpeg is not installed."""
    djpeg = shutil.which("djpeg")
    if not djpeg:
        return None
    argv = [djpeg, "-scale", "1/8", "-grayscale", "-outfile", os.devnull, path]

    def once():
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise BenchError("djpeg %s failed: %s" % (path, p.stderr.decode(errors="replace")))
    return median_ms(once, runs)[:3]


def section_speed(args, rows, tmp):
    section("1. pHash speed (bytes in memory -> hash; peers: Pillow, libjpeg-turbo's djpeg)")
    # The largest JPEG file, not the most pixels: the photo with the most pixels (4168x4168 at
    # under 200 KiB) is nearly featureless and even with noise makes a 12 MP file of ~1.3 MiB,
    # where a camera's 12 MP JPEG at quality 90 is typically 2.5-5 MB.
    largest = max((r for r in rows if r["format"] == "jpeg"),
                  key=lambda r: (r["bytes"], r["width"] * r["height"], r["path"]))
    print("Source: %s (%dx%d %s, %s; the largest JPEG file in labels.tsv), centre-cropped to "
          "each aspect ratio, Lanczos-resized, Gaussian noise sigma=%.0f added, saved as JPEG "
          "quality %d." % (largest["path"], largest["width"], largest["height"],
                           largest["format"], human_bytes(largest["bytes"]), NOISE_SIGMA,
                           SPEED_QUALITY))
    bench = os.path.join(args.build, "bench", "phash_bench")
    print("Every contender gets the file's bytes already in memory and one warm-up run not "
          "counted; they run one after the other (other work on the machine does count: see "
          "the load average above).")
    print("- gymhelper: %s (decode with shrink-on-load: libjpeg DCT scaling for JPEG, libvips "
          "otherwise -> 32x32 luma -> DCT)." % os.path.relpath(bench, ROOT))
    print("- Pillow %s full: tests/ref/phash_ref on Image.open(BytesIO) (full-size decode)."
          % PIL.__version__)
    print("- Pillow draft: the same after Image.draft(\"L\", (32, 32)) (libjpeg scales by "
          "1/8 while decoding luma only, as gymhelper does).")
    print("- djpeg floor: `djpeg -scale 1/8 -grayscale -outfile /dev/null FILE` from "
          "libjpeg-turbo, one process per run: the decode alone, no hash, plus the process "
          "start-up (the `djpeg start` line: the same on an 8x8 JPEG). Process start-up varies "
          "with the machine's load, so this column takes the best run of each: `decode floor` "
          "= best djpeg run minus best start-up run.")
    print("The speed-up is against the fastest peer of the row (Pillow full, Pillow draft or "
          "the decode floor).")
    print()
    imgs = make_speed_images(os.path.join(args.photos, largest["path"]), tmp)
    tiny = os.path.join(tmp, "speed-8x8.jpg")
    Image.new("L", (8, 8), 128).save(tiny, "JPEG", quality=90)
    start = djpeg_ms(tiny, 30)
    if start is None:
        print("djpeg is not installed (Debian: libjpeg-turbo-progs, in scripts/install-deps "
              "--bench): no decode floor column.")
    results = []
    out_rows = []
    for name, w, h, bruns, pruns, path in imgs:
        p = run_cmd([bench, path, str(bruns)])
        if p.returncode != 0:
            raise BenchError("phash_bench %s failed (%d): %s" % (path, p.returncode, p.stderr))
        f = p.stdout.split()
        if len(f) != 5:
            raise BenchError("unexpected phash_bench output: %r" % p.stdout)
        gmed, gmin, gmax, ghex = float(f[0]), float(f[1]), float(f[2]), f[4]
        with open(path, "rb") as fh:
            data = fh.read()
        full = median_ms(lambda: pillow_full(data), pruns)
        draft = median_ms(lambda: pillow_draft(data), pruns)
        dj = djpeg_ms(path, bruns) if start else None
        floor = max(0.0, dj[1] - start[1]) if dj else None  # best runs: least disturbed
        peers = [("Pillow full", full[0]), ("Pillow draft", draft[0])]
        if floor is not None:
            peers.append(("decode floor", floor))
        best_name, best = min(peers, key=lambda x: x[1])
        speedup = best / gmed if gmed > 0 else float("inf")
        results.append((name, gmed, speedup, best_name))
        out_rows.append([name, "%dx%d" % (w, h), human_bytes(len(data)),
                         "%.2f (%.2f-%.2f, n=%d)" % (gmed, gmin, gmax, bruns),
                         "%.2f (n=%d)" % (full[0], pruns), "%.2f (n=%d)" % (draft[0], pruns),
                         "%.2f / %.2f" % (dj[1], floor) if dj else "-",
                         "%.2fx vs %s" % (speedup, best_name),
                         "%d / %d" % (phash_ref.distance(int(ghex, 16), full[3]),
                                      phash_ref.distance(int(ghex, 16), draft[3]))])
    table(["image", "pixels", "file size", "gymhelper median ms (min-max)",
           "Pillow full ms", "Pillow draft ms", "djpeg best / decode floor ms",
           "speed-up vs fastest peer", "hash dist full / draft"], out_rows,
          align="llrrrrrrr")
    if start:
        print()
        print("djpeg start (8x8 JPEG, process start-up and libjpeg set-up): best %.2f ms, "
              "median %.2f ms (n=30)" % (start[1], start[0]))
    print()
    for name, gmed, speedup, best_name in results:
        if name == "12 MP":
            target(gmed <= TARGET_12MP_MS,
                   "12 MP median %.2f ms (target <= %.0f ms)" % (gmed, TARGET_12MP_MS))
            target(speedup >= TARGET_SPEEDUP,
                   "12 MP speed-up %.2fx over the fastest peer, %s (target >= %.0fx over "
                   "Pillow)" % (speedup, best_name, TARGET_SPEEDUP))


# ---------------------------------------------------------------------------------------------
# Section 2: agreement


def section_agreement(args, rows, state):
    section("2. Agreement with the Pillow reference (all photos in labels.tsv)")
    gh = os.path.join(args.build, "gymhelper")
    files = [safe_arg(r["path"]) for r in rows]
    t0 = time.perf_counter()
    # gymhelper runs in the background while this process computes the reference hashes.
    with ThreadPoolExecutor(max_workers=1) as ex:
        fut = ex.submit(gh_hash_many, gh, files, ("--type", "any"), args.jobs, args.photos)
        ref, ref_err = {}, {}
        for r in rows:
            try:
                ref[r["path"]] = phash_ref.phash_file(os.path.join(args.photos, r["path"]))
            except Exception as e:  # a photo Pillow cannot read is data, not a bench failure
                ref_err[r["path"]] = "%s: %s" % (type(e).__name__, e)
        ghh, gh_err = fut.result()
    ghh = {(k[2:] if k.startswith("./-") else k): v for k, v in ghh.items()}
    gh_err = {(k[2:] if k.startswith("./-") else k): v for k, v in gh_err.items()}
    state["gh"] = ghh
    state["ref"] = ref
    elapsed = time.perf_counter() - t0
    print("%d photos; gymhelper hash --type any (%d invocation(s), %d at a time) alongside "
          "the reference: %.1f s." % (len(rows), len(chunk_args(files, args.jobs)), args.jobs,
                                      elapsed))
    print()

    dists = []
    by_path = {}
    for r in rows:
        p = r["path"]
        if p in ghh and p in ref:
            d = phash_ref.distance(ghh[p], ref[p])
            dists.append(d)
            by_path[p] = d
    n = len(dists)
    buckets = [("0", lambda d: d == 0), ("1", lambda d: d == 1), ("2", lambda d: d == 2),
               ("3", lambda d: d == 3), ("4", lambda d: d == 4), ("5-8", lambda d: 5 <= d <= 8),
               (">8", lambda d: d > 8)]
    table(["distance", "photos", "share"],
          [[b, str(sum(1 for d in dists if f(d))), pct(sum(1 for d in dists if f(d)), n)]
           for b, f in buckets], align="lrr")
    print()
    within = sum(1 for d in dists if d <= MATCH_DIST)
    med = statistics.median(dists) if dists else float("nan")
    table(["measure", "value"], [
        ["photos compared", str(n)],
        ["within distance %d" % MATCH_DIST, "%d (%s)" % (within, pct(within, n))],
        ["median distance", "%g" % med],
        ["mean distance", "%.3f" % (sum(dists) / n if n else float("nan"))],
        ["max distance", str(max(dists) if dists else "n/a")],
        ["refused by gymhelper", str(len(gh_err))],
        ["unreadable by the reference", str(len(ref_err))],
    ], align="lr")
    print()
    target(n > 0 and within / n >= TARGET_WITHIN4,
           "%s within distance %d (target >= %.0f%%)" % (pct(within, n), MATCH_DIST,
                                                         TARGET_WITHIN4 * 100))
    target(n > 0 and med == 0, "median distance %g (target 0)" % med)
    print()

    info = {r["path"]: r for r in rows}
    worst = sorted(by_path.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    worst = [w for w in worst if w[1] > 0]
    if worst:
        print("Worst %d photos:" % len(worst))
        print()
        table(["photo", "size", "format", "gymhelper", "reference", "dist"],
              [[p, "%dx%d" % (info[p]["width"], info[p]["height"]), info[p]["format"],
                phash_ref.to_hex(ghh[p]), phash_ref.to_hex(ref[p]), str(d)] for p, d in worst],
              align="lllllr")
    else:
        print("No photo differs from the reference.")
    print()
    if gh_err:
        print("Photos gymhelper refused (expected: none):")
        print()
        table(["photo", "error"], sorted(gh_err.items()), align="ll")
    else:
        print("Photos gymhelper refused: none.")
    if ref_err:
        print()
        print("Photos the reference could not read:")
        print()
        table(["photo", "error"], sorted(ref_err.items()), align="ll")


# ---------------------------------------------------------------------------------------------
# Section 3: robustness


def seen(img):
    """Oriented picture in L, RGB or RGBA, as gymhelper and the reference see it."""
    img.seek(0)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        return img.convert("RGBA")
    if img.mode in ("L", "RGB"):
        return img
    return img.convert("RGB")


def flatten(img):
    if img.mode != "RGBA":
        return img
    white = Image.new("RGBA", img.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, img).convert("RGB")


def save_variant(img, base, kind, icc, quality=95):
    """kind 'jpeg' (alpha flattened on white) or 'png'; 'auto' is PNG only for alpha."""
    if kind == "auto":
        kind = "png" if img.mode == "RGBA" else "jpeg"
    extra = {"icc_profile": icc} if icc else {}
    if kind == "jpeg":
        path = base + ".jpg"
        flatten(img).save(path, "JPEG", quality=quality, **extra)
    else:
        path = base + ".png"
        img.save(path, "PNG", compress_level=1, **extra)
    return path


def brighten(img, factor):
    if img.mode == "RGBA":
        rgb, alpha = img.convert("RGB"), img.getchannel("A")
        out = ImageEnhance.Brightness(rgb).enhance(factor).convert("RGBA")
        out.putalpha(alpha)
        return out
    return ImageEnhance.Brightness(img).enhance(factor)


def make_variants(job):
    """Worker: writes the variants of one photo. Returns (idx, {transform: path or ('skip'|
    'error', why)}, {transform: reference hash of the variant file}, reference hash of the
    original or None)."""
    idx, src, tmp, need_ref_orig = job
    out, refs = {}, {}
    try:
        ref_orig = phash_ref.phash_file(src) if need_ref_orig else None
        with Image.open(src) as im:
            icc = im.info.get("icc_profile")
            img = seen(im)
            img.load()
    except Exception as e:
        return idx, {t: ("error", "Pillow: %s" % e) for t in TRANSFORMS}, refs, None
    w, h = img.size
    for t in TRANSFORMS:
        base = os.path.join(tmp, t.replace(" ", "_").replace("%", "pct").replace("+", ""),
                            "%05d" % idx)
        try:
            if t == "jpeg q75":
                out[t] = save_variant(img, base, "jpeg", icc, quality=75)
            elif t == "jpeg q50":
                out[t] = save_variant(img, base, "jpeg", icc, quality=50)
            elif t == "resize 50%":
                nw, nh = round(w / 2), round(h / 2)
                if min(nw, nh) < MIN_SIDE:
                    out[t] = ("skip", "%dx%d -> %dx%d is under %d px" % (w, h, nw, nh, MIN_SIDE))
                else:
                    out[t] = save_variant(img.resize((nw, nh), Image.Resampling.LANCZOS),
                                          base, "auto", icc)
            elif t == "png":
                out[t] = save_variant(img, base, "png", icc)
            elif t == "brightness +5%":
                out[t] = save_variant(brighten(img, 1.05), base, "auto", icc)
            elif t == "crop 5%":
                dx, dy = round(w * 0.025), round(h * 0.025)
                out[t] = save_variant(img.crop((dx, dy, w - dx, h - dy)), base, "auto", icc)
            if isinstance(out[t], str):
                refs[t] = phash_ref.phash_file(out[t])
        except Exception as e:
            out[t] = ("error", "Pillow: %s: %s" % (type(e).__name__, e))
    return idx, out, refs, ref_orig


def section_robustness(args, rows, state, tmp):
    step = max(1, args.step)
    subset = [(i, r) for i, r in enumerate(rows) if i % step == 0]
    section("3. Robustness: gymhelper hash of an edited copy vs gymhelper hash of the original")
    print("Photos: %s (%d of %d)." % ("all" if step == 1 else "1 in %d, the rows 1, %d, %d, "
                                      "... of labels.tsv (--step=%d)" % (step, step + 1,
                                                                         2 * step + 1, step),
                                      len(subset), len(rows)))
    print("Edits made with Pillow %s on the oriented picture: jpeg qNN = re-encode at that "
          "quality; resize 50%% = Lanczos, skipped when a side would be under %d px; png = "
          "lossless PNG; brightness +5%% = ImageEnhance.Brightness(1.05); crop 5%% = 2.5%% off "
          "each edge. resize/brightness/crop are saved as JPEG quality 95 (PNG when the photo "
          "has alpha). ICC profiles are kept." % (PIL.__version__, MIN_SIDE))
    gh = os.path.join(args.build, "gymhelper")
    orig = dict(state.get("gh") or {})
    missing = [r["path"] for _, r in subset if r["path"] not in orig]
    if missing and "gh" not in state:
        h, _ = gh_hash_many(gh, [safe_arg(p) for p in missing], jobs=args.jobs, cwd=args.photos)
        orig.update({(k[2:] if k.startswith("./-") else k): v for k, v in h.items()})
    vtmp = os.path.join(tmp, "variants")
    for t in TRANSFORMS:
        os.makedirs(os.path.join(vtmp, t.replace(" ", "_").replace("%", "pct").replace("+", "")))

    t0 = time.perf_counter()
    ref_known = state.get("ref") or {}
    jobs = [(i, os.path.join(args.photos, r["path"]), vtmp, r["path"] not in ref_known)
            for i, r in subset if r["path"] in orig]
    variants, vref, ref_orig = {}, {}, dict(ref_known)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes=max(1, args.jobs)) as pool:
        for idx, out, refs, ro in pool.imap_unordered(make_variants, jobs, chunksize=8):
            variants[idx] = out
            vref[idx] = refs
            if ro is not None:
                ref_orig[rows[idx]["path"]] = ro
    t_gen = time.perf_counter() - t0
    files = [v for out in variants.values() for v in out.values() if isinstance(v, str)]
    total_bytes = sum(os.path.getsize(f) for f in files)

    t0 = time.perf_counter()
    rel = [os.path.relpath(f, vtmp) for f in files]  # short arguments: more per invocation
    vh, verr = gh_hash_many(gh, rel, ("--type", "any", "--max-upload-mb", "1000"),
                            jobs=args.jobs, cwd=vtmp)
    vh = {os.path.join(vtmp, k): v for k, v in vh.items()}
    verr = {os.path.join(vtmp, k): v for k, v in verr.items()}
    t_hash = time.perf_counter() - t0
    print("%d variant files (%s) made and hashed by the reference in %.1f s; hashed by "
          "gymhelper in %.1f s "
          "(%d invocations, --type any --max-upload-mb 1000, %d at a time)."
          % (len(files), human_bytes(total_bytes), t_gen, t_hash,
             len(chunk_args(rel, args.jobs)), args.jobs))
    print("Photos gymhelper could not hash in the original are left out (see section 2). "
          "'ref' columns: the Pillow reference's hash of the variant vs its hash of the "
          "original, for comparison (how robust the pHash definition itself is).")
    print()

    out_rows = []
    problems = []
    for t in TRANSFORMS:
        dists, rdists, skipped, errs = [], [], 0, 0
        for i, r in subset:
            if i not in variants:
                continue
            v = variants[i][t]
            if isinstance(v, tuple):
                if v[0] == "skip":
                    skipped += 1
                else:
                    errs += 1
                    problems.append((t, r["path"], v[1]))
                continue
            if v in verr or v not in vh:
                errs += 1
                problems.append((t, r["path"], verr.get(v, "no hash")))
                continue
            dists.append(phash_ref.distance(vh[v], orig[r["path"]]))
            if t in vref[i] and r["path"] in ref_orig:
                rdists.append(phash_ref.distance(vref[i][t], ref_orig[r["path"]]))
        n, rn = len(dists), len(rdists)
        within = sum(1 for d in dists if d <= MATCH_DIST)
        rwithin = sum(1 for d in rdists if d <= MATCH_DIST)
        out_rows.append([t, str(n), str(skipped), str(errs),
                         "%d (%s)" % (within, pct(within, n)),
                         "%.2f" % (sum(dists) / n) if n else "n/a",
                         "%g" % statistics.median(dists) if n else "n/a",
                         str(max(dists)) if n else "n/a",
                         pct(rwithin, rn), "%.2f" % (sum(rdists) / rn) if rn else "n/a"])
    table(["edit", "hashed", "skipped", "errors", "within %d" % MATCH_DIST, "mean dist",
           "median", "max", "ref within %d" % MATCH_DIST, "ref mean"], out_rows)
    if problems:
        print()
        print("Variants that failed (up to 20 of %d):" % len(problems))
        print()
        table(["edit", "photo", "error"], problems[:20], align="lll")


# ---------------------------------------------------------------------------------------------
# Section 4: false matches


def section_false_matches(args, rows, state):
    section("4. False matches between distinct photos (gymhelper hashes)")
    gh = os.path.join(args.build, "gymhelper")
    ghh = state.get("gh")
    if ghh is None:
        h, _ = gh_hash_many(gh, [safe_arg(r["path"]) for r in rows], jobs=args.jobs,
                            cwd=args.photos)
        ghh = {(k[2:] if k.startswith("./-") else k): v for k, v in h.items()}
    seen_sha = {}
    dupes = []
    uniq = []
    for r in rows:
        if r["path"] not in ghh:
            continue
        with open(os.path.join(args.photos, r["path"]), "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        if sha in seen_sha:
            dupes.append((r["path"], seen_sha[sha]))
            continue
        seen_sha[sha] = r["path"]
        uniq.append(r)
    n = len(uniq)
    hs = np.array([ghh[r["path"]] for r in uniq], dtype=np.uint64)
    npairs = n * (n - 1) // 2
    block = 256
    hist = np.zeros(65, dtype=np.int64)
    close = []  # (d, i, j) with d <= MATCH_DIST
    for s in range(0, n, block):
        a = hs[s:s + block]
        d = popcount64(a[:, None] ^ hs[None, :])
        ii = np.arange(s, s + len(a))[:, None]
        jj = np.arange(n)[None, :]
        upper = jj > ii
        hist += np.bincount(d[upper], minlength=65)
        for bi, j in zip(*np.nonzero(upper & (d <= MATCH_DIST))):
            close.append((int(d[bi, j]), s + int(bi), int(j)))
    nclose = int(hist[:MATCH_DIST + 1].sum())
    same_label = sum(1 for _, i, j in close if uniq[i]["label"] == uniq[j]["label"])
    # Chance of distance <= 4 between two independent uniform 64-bit hashes.
    p_rand = sum(comb(64, k) for k in range(MATCH_DIST + 1)) / 2.0 ** 64
    dist_all = np.repeat(np.arange(65), hist)
    table(["measure", "value"], [
        ["photos hashed", str(len(ghh))],
        ["byte-identical duplicates removed (SHA-256)", str(len(dupes))],
        ["distinct files", str(n)],
        ["pairs", str(npairs)],
        ["pairs at distance 0", "%d (%.3g)" % (hist[0], hist[0] / npairs if npairs else 0)],
        ["pairs at distance <= %d" % MATCH_DIST,
         "%d (rate %.3g)" % (nclose, nclose / npairs if npairs else 0)],
        ["  of which same label / different label", "%d / %d" % (same_label,
                                                                   nclose - same_label)],
        ["uniform random 64-bit hashes, P(dist <= %d)" % MATCH_DIST, "%.2g" % p_rand],
        ["distance over all pairs: mean / 0.1st pct / 1st pct",
         "%.2f / %g / %g" % (dist_all.mean(), np.percentile(dist_all, 0.1),
                             np.percentile(dist_all, 1)) if npairs else "n/a"],
    ], align="lr")
    if dupes:
        print()
        print("Duplicates removed (up to 5): " + "; ".join("%s = %s" % d for d in dupes[:5]))
    if close:
        # Show cross-label pairs first (the suspicious kind), then the farthest ones.
        close.sort(key=lambda c: (uniq[c[1]]["label"] == uniq[c[2]]["label"], -c[0],
                                  uniq[c[1]]["path"]))
        print()
        print("Example pairs at distance <= %d (up to 5; different labels first):" % MATCH_DIST)
        print()
        rowsout = []
        for d, i, j in close[:5]:
            a, b = uniq[i], uniq[j]
            rowsout.append([str(d), "%s (%s, %dx%d)" % (a["path"], a["label"], a["width"],
                                                        a["height"]),
                            "%s (%s, %dx%d)" % (b["path"], b["label"], b["width"],
                                                b["height"])])
        table(["dist", "photo A (label, size)", "photo B (label, size)"], rowsout, align="rll")


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="Meson build directory (default: build)")
    ap.add_argument("--photos", default=os.path.join(ROOT, "..", "shared", "data", "gym-photos"),
                    help="photo set with labels.tsv (default: ../shared/data/gym-photos)")
    # 1 in 2 keeps a run near 2 minutes on 2 busy cores; --step=1 (all photos) takes 2-4.
    ap.add_argument("--step", type=int, default=2,
                    help="robustness uses 1 in N photos (default 2; 1 = all)")
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                    help="parallel processes for sections 2-4 (default: nproc)")
    ap.add_argument("--sections", default="1,2,3,4", help="comma-separated subset to run")
    args = ap.parse_args()
    if not os.path.isdir(args.build):  # relative to the repository root when not to the cwd
        args.build = os.path.join(ROOT, args.build)
    args.build = os.path.abspath(args.build)
    args.photos = os.path.abspath(args.photos)
    wanted = {s.strip() for s in args.sections.split(",") if s.strip()}
    t_start = time.perf_counter()
    gh = os.path.join(args.build, "gymhelper")
    for exe in (gh, os.path.join(args.build, "bench", "phash_bench")):
        if not os.access(exe, os.X_OK):
            print("bench: %s is missing; run `make build` first" % exe, file=sys.stderr)
            return 2

    try:
        print_header(args, gh)
        rows = load_labels(args.photos)
    except Exception as e:
        print("bench: setup failed: %s" % e, file=sys.stderr)
        return 1

    state = {}
    timings = []
    # Section 3 writes ~0.5 GB of small files: RAM-backed /dev/shm when there is one (and
    # TMPDIR does not say otherwise) keeps disk writes out of the timings.
    tmp_parent = None
    if "TMPDIR" not in os.environ and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        tmp_parent = "/dev/shm"
    tmp = tempfile.mkdtemp(prefix="gh-bench-", dir=tmp_parent)
    try:
        for key, fn in (("1", lambda: section_speed(args, rows, tmp)),
                        ("2", lambda: section_agreement(args, rows, state)),
                        ("3", lambda: section_robustness(args, rows, state, tmp)),
                        ("4", lambda: section_false_matches(args, rows, state))):
            if key not in wanted:
                continue
            t0 = time.perf_counter()
            try:
                fn()
            except Exception:
                failures.append(key)
                print()
                print("SECTION %s FAILED TO RUN:" % key)
                traceback.print_exc(file=sys.stdout)
            timings.append((key, time.perf_counter() - t0))
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    section("Run time")
    table(["section", "seconds"], [[k, "%.1f" % s] for k, s in timings]
          + [["total", "%.1f" % (time.perf_counter() - t_start)]], align="lr")
    if failures:
        print()
        print("FAILED to run: section(s) %s" % ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
