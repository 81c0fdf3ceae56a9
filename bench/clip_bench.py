#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""CLIP engine bench: the full ViT-B/32 architecture (config.json defaults) with random F32
weights written once to a temporary directory (~600 MB, removed at the end), timed by
build/bench/clip_bench and, in the same run, by a PyTorch peer (bench/peer_torch_clip.py: the
same architecture with torch ops, same weights, same thread count). Prints a Markdown table.

usage: /usr/bin/python3 bench/clip_bench.py [--build=build] [--threads=2] [--runs=10]
                                            [--batch=8] [--no-peer]
Exits non-zero only when something failed to run; missed targets print 'target missed'.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import clip_ref  # noqa: E402

BPE_GZ = os.path.join(os.path.dirname(ROOT), "shared", "data", "clip",
                      "bpe_simple_vocab_16e6.txt.gz")
PROMPT = "a photo of a barbell on a flat bench in a gym"  # ~10 tokens with the real vocab

TARGET_B1_MS = 45.0
TARGET_RATIO = 0.75
TARGET_LOAD_MS = 1000.0
TARGET_RSS_MB = 700.0


def flops_image(conf):
    """Multiply-adds x 2 of one image through the vision tower and projection."""
    v = conf["vision_config"]
    h, i, p, s = v["hidden_size"], v["intermediate_size"], v["patch_size"], v["image_size"]
    n_patch = (s // p) ** 2
    t = n_patch + 1
    per_layer = 2 * t * (4 * h * h + 2 * h * i) + 2 * 2 * t * t * h
    return 2 * n_patch * h * 3 * p * p + v["num_hidden_layers"] * per_layer \
        + 2 * h * conf["projection_dim"]


def flops_text(conf, n):
    c = conf["text_config"]
    h, i = c["hidden_size"], c["intermediate_size"]
    per_layer = 2 * n * (4 * h * h + 2 * h * i) + 2 * 2 * n * n * h
    return c["num_hidden_layers"] * per_layer + 2 * h * conf["projection_dim"]


def run_json(argv, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit("%s failed (exit %d):\n%s" % (argv[0], p.returncode, p.stderr))
    return json.loads(p.stdout.strip().splitlines()[-1])


# Debian's PyTorch runs its own operators on OpenMP threads and its GEMMs on OpenBLAS's
# pthreads. With OpenMP's default (spinning) wait policy the two pools fight over the cores and
# PyTorch runs 3x slower than it can, which would flatter us. So the peer runs in the two
# setups that avoid the fight, and each row takes PyTorch's better one.
PEER_SETUPS = [
    ("torch threads=N, OMP_WAIT_POLICY=PASSIVE", lambda n: (n, {"OMP_WAIT_POLICY": "PASSIVE"})),
    ("torch threads=1, OPENBLAS_NUM_THREADS=N",
     lambda n: (1, {"OPENBLAS_NUM_THREADS": str(n)})),
]


def best_peer(model, a, ids):
    best = None
    for name, setup in PEER_SETUPS:
        threads, env = setup(a.threads)
        r = run_json([sys.executable, os.path.join(ROOT, "bench", "peer_torch_clip.py"),
                      model, str(threads), str(a.runs), str(a.batch), json.dumps(ids)],
                     env=dict(os.environ, **env))
        print("PyTorch, %s: image b1 %.1f ms, b%d %.1f ms/image, text %.1f ms"
              % (name, r["image_ms_b1"], a.batch, r["image_ms_per_image_bn"], r["text_ms"]))
        if best is None:
            best = r
        else:
            for k in ("image_ms_b1", "image_ms_per_image_bn", "text_ms"):
                best[k] = min(best[k], r[k])
    return best


def median_of(runs):
    """The first run's record with each timed key replaced by the median over runs."""
    out = dict(runs[0])
    for k in ("image_ms_b1", "image_ms_per_image_bn", "text_ms"):
        out[k] = statistics.median(r[k] for r in runs)
    out["load_ms"] = [0, statistics.median(r["load_ms"][1] for r in runs)]
    out["maxrss_kb"] = max(r["maxrss_kb"] for r in runs)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of both engines")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--model", help="use this checkpoint directory instead of a generated one")
    a = ap.parse_args()
    exe = os.path.join(ROOT, a.build, "bench", "clip_bench")
    if not os.access(exe, os.X_OK):
        raise SystemExit("%s not found: run 'make build'" % exe)
    tmp = None
    try:
        if a.model:
            model = a.model
        else:
            base = "/dev/shm" if os.path.isdir("/dev/shm") and not os.environ.get("TMPDIR") \
                else None
            tmp = tempfile.mkdtemp(prefix="gh-clip-bench-", dir=base)
            model = os.path.join(tmp, "vit-b32")
            t0 = time.monotonic()
            clip_ref.make_model(model, "F32", "quick_gelu", 0, clip_ref.VIT_B32,
                                bpe_gz=BPE_GZ if os.path.exists(BPE_GZ) else None)
            print("wrote a random ViT-B/32 checkpoint (%.0f MB) in %.1f s"
                  % (os.path.getsize(os.path.join(model, "model.safetensors")) / 1e6,
                     time.monotonic() - t0))
        with open(os.path.join(model, "config.json")) as f:
            conf = json.load(f)
        # Rounds alternate ours and the peer, and each row takes the median of the rounds:
        # on a shared machine a burst of other work lands on one side of a single pair.
        ours_runs, peer_runs = [], []
        for r in range(a.rounds):
            ours_runs.append(run_json([exe, model, str(a.threads), str(a.runs), str(a.batch),
                                       PROMPT]))
            print("round %d: gymhelper image b1 %.1f ms, b%d %.1f ms/image, text %.1f ms"
                  % (r + 1, ours_runs[-1]["image_ms_b1"], a.batch,
                     ours_runs[-1]["image_ms_per_image_bn"], ours_runs[-1]["text_ms"]))
            if not a.no_peer:
                peer_runs.append(best_peer(model, a, ours_runs[-1]["ids"]))
        ours = median_of(ours_runs)
        peer = median_of(peer_runs) if peer_runs else None
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    report(conf, ours, peer, a)
    return 0


def report(conf, ours, peer, a):
    fi, ft = flops_image(conf), flops_text(conf, len(ours["ids"]))
    print("\n## CLIP ViT-B/32 on %d thread(s), %s; medians of %d rounds of %d runs after a "
          "warm-up\n" % (a.threads, os.uname().machine, a.rounds, a.runs))
    print("image: %.2f GFLOP; text (%d tokens): %.3f GFLOP; load average %.2f\n"
          % (fi / 1e9, len(ours["ids"]), ft / 1e9, os.getloadavg()[0]))
    rows = [
        ("image, batch 1 (ms/image)", "image_ms_b1", fi),
        ("image, batch %d (ms/image)" % ours["batch"], "image_ms_per_image_bn", fi),
        ("text, 1 prompt (ms)", "text_ms", ft),
    ]
    print("| measure | gymhelper | GFLOP/s | PyTorch %s | GFLOP/s | ratio |"
          % (peer["torch"] if peer else "-"))
    print("|---|---:|---:|---:|---:|---:|")
    for label, key, fl in rows:
        o = ours[key]
        if peer:
            p = peer[key]
            print("| %s | %.1f | %.0f | %.1f | %.0f | %.2fx |"
                  % (label, o, fl / o / 1e6, p, fl / p / 1e6, o / p))
        else:
            print("| %s | %.1f | %.0f | - | - | - |" % (label, o, fl / o / 1e6))
    print("| load, warm (ms) | %.0f | | %s | | |"
          % (ours["load_ms"][1], "%.0f" % peer["load_ms"][1] if peer else "-"))
    print("| peak RSS (MB) | %.0f | | %s | | |"
          % (ours["maxrss_kb"] / 1024, "%.0f" % (peer["maxrss_kb"] / 1024) if peer else "-"))
    missed = []
    if ours["image_ms_b1"] > TARGET_B1_MS:
        missed.append("image batch 1 %.1f ms > %.0f ms" % (ours["image_ms_b1"], TARGET_B1_MS))
    if peer and ours["image_ms_b1"] > TARGET_RATIO * peer["image_ms_b1"]:
        missed.append("image batch 1 %.2fx PyTorch > %.2fx"
                      % (ours["image_ms_b1"] / peer["image_ms_b1"], TARGET_RATIO))
    if ours["load_ms"][1] > TARGET_LOAD_MS:
        missed.append("load %.0f ms > %.0f ms" % (ours["load_ms"][1], TARGET_LOAD_MS))
    if ours["maxrss_kb"] / 1024 > TARGET_RSS_MB:
        missed.append("RSS %.0f MB > %.0f MB" % (ours["maxrss_kb"] / 1024, TARGET_RSS_MB))
    print()
    for m in missed:
        print("target missed: " + m)
    if not missed:
        print("all CLIP targets met")


if __name__ == "__main__":
    sys.exit(main())
