#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Visual-memory lookup time at 100,000 and 1,000,000 remembered photos (512-dimensional int8
rows with a scale, as CLIP ViT-B/32 embeddings are kept): gymhelper's exact scan and its two
stages (bit codes pick candidates, the int8 rows rank them), with 1 and 2 threads, beside numpy
in the same run over the same data (a float32 matrix-vector product, OpenBLAS sgemv, plus
argpartition for the top 8), and the two stages' recall@8 against the exact scan.

The photos are clustered as real embeddings are, not uniform on the sphere (where sign codes
mean little and every neighbour is about as far as any other): a direction all photos share
(CLIP's image embeddings sit in a narrow cone), 64 classes, instances of a class (one machine
in one gym, N / 16 of them, the popular ones with many photos), noise per photo, the variance
decaying over the dimensions; the model of tests/unit/recognition/vmem_test.c. Each query is a
new photo of a remembered instance. Recall@8 counts the two stages' neighbours at least as
similar as the exact scan's 8th (ties count); their similarities are the exact ones."""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

DIM = 512
CLASSES = 64
SWEEP = (64, 128, 256, 512, 1024, 2048, 4096)


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def photos(n, nq, rng):
    """n remembered photos and nq queries, float32 unit vectors of the clustered model."""
    spec = (1.0 / np.sqrt(1 + np.arange(DIM) / 16.0)).astype(np.float32)

    def directions(k):
        return unit(rng.standard_normal((k, DIM), dtype=np.float32) * spec)

    mean = unit(rng.standard_normal(DIM, dtype=np.float32))
    n_inst = max(n // 16, 1)
    cls = directions(CLASSES)
    inst = directions(n_inst)
    inst_cls = rng.integers(0, CLASSES, n_inst)

    def draw(k):
        out = np.empty((k, DIM), dtype=np.float32)
        for a in range(0, k, 65536):
            b = min(k, a + 65536)
            idx = (n_inst * rng.random(b - a) * rng.random(b - a)).astype(np.int64)
            out[a:b] = unit(mean + 0.9 * cls[inst_cls[idx]] + 0.8 * inst[idx]
                            + 0.35 * directions(b - a))
        return out

    return draw(n), draw(nq)


def quantise(x):
    scale = np.abs(x).max(axis=1) / 127.0
    return np.rint(x / scale[:, None]).astype(np.int8), scale.astype(np.float32)


def numpy_peer(q8, scale, queries):
    x = q8.astype(np.float32) * scale[:, None]
    times = []
    for q in queries:
        t0 = time.perf_counter()
        s = x @ q
        top = np.argpartition(-s, 8)[:8]
        top = top[np.argsort(-s[top])]
        times.append((time.perf_counter() - t0) * 1e3)
    del x
    return times


def parse(out):
    """{(mode, threads, candidates): (kernels, bytes, [ms], [[(id, sim)]]), "load": (ms, max)}"""
    runs, cur = {}, None
    for line in out.splitlines():
        w = line.split()
        if w[0] == "load":
            runs["load"] = (float(w[1]), float(w[3]))
        elif w[0] == "run":  # MODE is exact, two, or the forced first stage's kernel
            cur = (w[1], int(w[2]), int(w[3]))
            runs[cur] = ("%s/%s" % (w[5], w[6]), int(w[10]), [], [])
        elif w[0] == "q":
            runs[cur][2].append(float(w[3]))
            runs[cur][3].append([(int(h.split(":")[0]), float(h.split(":")[1])) for h in w[5:]])
    return runs


def recall(hits, exact):
    found = 0
    for h, e in zip(hits, exact):
        found += sum(1 for _, s in h if s >= e[-1][1])
    return found / (8.0 * len(exact))


def p(times, q):
    return sorted(times)[int(q * (len(times) - 1))]


def cpu_flags():
    """The ISA extensions the kernels choose between, as /proc/cpuinfo names them."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return " ".join(x for x in ("avx2", "avx512bw", "avx512_vpopcntdq", "popcnt")
                                    if x in have) or "none of avx2/avx512"
    except OSError:
        pass
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    exe = os.path.join(args.build, "bench", "vmem_bench")
    load = os.getloadavg()
    benchlib.section("Visual memory lookup, top 8 of N (CPU: %s, %d cores, %s; load average "
                     "%.2f %.2f %.2f at the start, numpy %s)"
                     % (benchlib.cpu_model(), os.cpu_count(), cpu_flags(), load[0], load[1],
                        load[2], np.__version__))
    rng = np.random.default_rng(14)
    rows, sweep, verdicts, loads = [], [], [], []
    for n in [int(s) for s in args.sizes.split(",")]:
        x, queries = photos(n, args.queries, rng)
        q8, scale = quantise(x)
        del x
        with tempfile.NamedTemporaryFile(prefix="vmem_bench_", dir="/tmp") as f:
            f.write(q8.tobytes())
            f.write(scale.tobytes())
            f.write(queries.tobytes())
            f.flush()
            out = subprocess.run([exe, f.name, str(n), str(DIM), str(args.queries)]
                                 + [str(r) for r in SWEEP],
                                 capture_output=True, text=True, check=True).stdout
        runs = parse(out)
        peer = numpy_peer(q8, scale, queries)
        exact = runs[("exact", 2, 0)][3]
        for mode, t in (("exact", 1), ("exact", 2), ("two", 1), ("two", 2)):
            kernels, nbytes, times, hits = runs[(mode, t, 0)]
            name = ("gymhelper exact int8 scan (%s)" % kernels.split("/")[0] if mode == "exact"
                    else "gymhelper two stages (%s codes)" % kernels.split("/")[1])
            rows.append(["%d" % n, "%s, %d thread%s" % (name, t, "s" * (t > 1)), "%d" % nbytes,
                         "%.2f" % statistics.median(times), "%.2f" % p(times, 0.99),
                         "%.4f" % recall(hits, exact)])
        for mode in ("avx2", "scalar"):
            if (mode, 2, 0) in runs:
                _, nbytes, times, hits = runs[(mode, 2, 0)]
                rows.append(["%d" % n, "gymhelper two stages (%s codes, forced), 2 threads" % mode,
                             "%d" % nbytes, "%.2f" % statistics.median(times),
                             "%.2f" % p(times, 0.99), "%.4f" % recall(hits, exact)])
        rows.append(["%d" % n, "numpy float32 x @ q + argpartition", "%d" % (4 * DIM),
                     "%.2f" % statistics.median(peer), "%.2f" % p(peer, 0.99), "-"])
        two = statistics.median(runs[("two", 2, 0)][2])
        ratio = statistics.median(runs[("exact", 2, 0)][2]) / two
        goal = 2.0 if n <= 100000 else 20.0
        verdicts.append((two <= goal, "%d photos: two stages p50 %.2f ms (goal <= %g ms), %.1fx "
                         "faster than the exact scan, %.1fx faster than numpy, recall@8 %.4f"
                         % (n, two, goal, ratio, statistics.median(peer) / two,
                            recall(runs[("two", 2, 0)][3], exact))))
        loads.append("%d photos: adding them took %.0f ms in all, the slowest add %.0f ms (it "
                     "grew the arrays and recomputed the centre and every code, holding the "
                     "write lock)" % (n, runs["load"][0], runs["load"][1]))
        for r in SWEEP:
            _, _, times, hits = runs[("two", 2, r)]
            sweep.append(["%d" % n, "%d" % r, "%.2f" % statistics.median(times),
                          "%.4f" % recall(hits, exact)])
        del q8, scale
    benchlib.table(["photos", "lookup", "bytes/photo", "p50 ms", "p99 ms", "recall@8"], rows,
                   "llrrrr")
    print()
    print("Candidates the bit codes pass to the exact rerank (2 threads; by default "
          "max(512, photos / 256), at most 4096):")
    print()
    benchlib.table(["photos", "candidates", "p50 ms", "recall@8"], sweep, "lrrr")
    print()
    for line in loads:
        print(line)
    load = os.getloadavg()
    print("load average %.2f %.2f %.2f at the end" % load)
    for ok, text in verdicts:
        benchlib.target(ok, text)


if __name__ == "__main__":
    main()
