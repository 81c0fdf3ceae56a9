#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Visual-memory lookup time at 100,000 and 1,000,000 remembered photos (512-dimensional
int8 rows with a scale, as CLIP ViT-B/32 embeddings are kept), gymhelper's scan with 1 and 2
threads beside numpy in the same run over the same data: a float32 matrix-vector product
(OpenBLAS sgemv) plus argpartition for the top 8. Rows are random unit vectors; a scan's time
does not depend on the values. Each query is a remembered row, which must come back first."""
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


def make(n, rng):
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    scale = np.abs(x).max(axis=1) / 127.0
    q = np.rint(x / scale[:, None]).astype(np.int8)
    return q, scale.astype(np.float32)


def numpy_peer(q8, scale, nq):
    x = q8.astype(np.float32) * scale[:, None]
    times = []
    for i in range(nq):
        t0 = time.perf_counter()
        s = x @ x[i]
        top = np.argpartition(-s, 8)[:8]
        top = top[np.argsort(-s[top])]
        times.append((time.perf_counter() - t0) * 1e3)
        assert top[0] == i or s[top[0]] == s[i]
    del x
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    exe = os.path.join(args.build, "bench", "vmem_bench")
    benchlib.section("Visual memory lookup, top 8 of N (CPU: %s, numpy %s)"
                     % (benchlib.cpu_model(), np.__version__))
    rng = np.random.default_rng(14)
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        q8, scale = make(n, rng)
        with tempfile.NamedTemporaryFile(prefix="vmem_bench_", dir="/tmp") as f:
            f.write(q8.tobytes())
            f.write(scale.tobytes())
            f.flush()
            out = subprocess.run([exe, f.name, str(n), str(DIM), str(args.queries)],
                                 capture_output=True, text=True, check=True).stdout
        ours = {}
        for line in out.splitlines():
            w = line.split()
            ours[int(w[1])] = (w[3], int(w[7]), [float(t) for t in w[9:]])
        peer = numpy_peer(q8, scale, args.queries)
        for t in (1, 2):
            kernel, nbytes, times = ours[t]
            rows.append(["%d" % n, "gymhelper int8 scan (%s), %d thread%s" % (kernel, t, "s" * (t > 1)),
                         "%d" % nbytes, "%.2f" % statistics.median(times),
                         "%.2f" % sorted(times)[int(0.99 * (len(times) - 1))]])
        rows.append(["%d" % n, "numpy float32 x @ q + argpartition", "%d" % (4 * DIM),
                     "%.2f" % statistics.median(peer),
                     "%.2f" % sorted(peer)[int(0.99 * (len(peer) - 1))]])
        del q8, scale
    benchlib.table(["photos", "lookup", "bytes/photo", "p50 ms", "p99 ms"], rows, "llrrr")


if __name__ == "__main__":
    main()
