#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gymhelper workout log benchmark (issue 12): the progress API's p50 over a year of daily logs
(365 sessions, ~9,000 sets) on SQLite and PostgreSQL, and a 5,000-row Strong CSV import. There
is no peer for these; beside each API time the store's own query (or insert) for the same data
is printed as the floor (bench/workouts_bench.c)."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from servers.postgres import PostgresServer  # noqa: E402

EXERCISES = ["barbell-bench-press", "barbell-back-squat", "barbell-deadlift", "barbell-row",
             "barbell-overhead-press", "dumbbell-lateral-raise", "barbell-curl", "skull-crusher",
             "romanian-deadlift", "lat-pulldown", "dumbbell-bench-press", "barbell-hip-thrust"]
STRONG_NAMES = ["Bench Press (Barbell)", "Squat (Barbell)", "Deadlift (Barbell)",
                "Lat Pulldown (Cable)", "Overhead Press (Barbell)"]


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def year_csv():
    """Our export format: 365 daily workouts up to today, 5 exercises x 5 sets (1 warm-up)."""
    head = ("workout_client_id,started_at,ended_at,workout_notes,set_client_id,exercise,weight,"
            "unit,reps,rpe,warmup,performed_at\n")
    rows, n = [head], 0
    day0 = int(time.time()) // 86400 - 364
    for d in range(365):
        t = (day0 + d) * 86400 + 18 * 3600 - 86400
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        for e in range(5):
            ex = EXERCISES[(d * 5 + e) % len(EXERCISES)]
            for s in range(5):
                n += 1
                w = 40 + (d % 30) + s * 5
                rows.append("wo-year-%05d,%s,,,set-year-%06d,%s,%d,kg,%d,,%d,%s\n"
                            % (d, iso, n, ex, w, 5 + s % 3, 1 if s == 0 else 0, iso))
    return "".join(rows), n


def strong_csv(n_rows):
    """Strong's comma layout, n_rows sets, 25 per workout."""
    rows = ["Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,"
            "Notes,Workout Notes,RPE\n"]
    for i in range(n_rows):
        w = i // 25
        t = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1600000000 + w * 86400))
        rows.append("%s,Day %d,1h 5m,%s,%d,%d,%d,0,0,,,\n"
                    % (t, w, STRONG_NAMES[(i // 5) % 5], i % 5 + 1, 60 + w % 40, 5 + i % 3))
    return "".join(rows)


def request(port, method, path, body=None, ctype=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method=method, headers={"Content-Type": ctype} if ctype else {})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        data = r.read()
    return (time.perf_counter() - t0) * 1000, data


def serve(gh, url, tmp):
    log = open(os.path.join(tmp, "serve-%d.log" % time.monotonic_ns()), "w+")
    p = subprocess.Popen([gh, "serve", "--port", "0", "--database-url", url],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    line = p.stdout.readline()
    while line and "listening on" not in line:
        line = p.stdout.readline()
    if not line:
        raise RuntimeError("gymhelper serve did not start")
    return p, int(line.rsplit(":", 1)[1])


def p50(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def bench_backend(args, name, url, tmp, year):
    gh = os.path.join(args.build, "gymhelper")
    floor_exe = os.path.join(args.build, "bench", "workouts_bench")
    p, port = serve(gh, url, tmp)
    try:
        _, out = request(port, "POST", "/api/v1/imports?format=gymhelper", year.encode(),
                         "text/csv")
        n_sets = json.loads(out)["imported"]
        paths = {"exercise": "/api/v1/progress/exercises/barbell-bench-press?weeks=52",
                 "muscles": "/api/v1/progress/muscles?weeks=52",
                 "last": "/api/v1/progress/exercises/barbell-bench-press/last"}
        times = {}
        for k, path in paths.items():
            request(port, "GET", path)  # warm-up
            times[k] = p50([request(port, "GET", path)[0] for _ in range(args.n)])
    finally:
        p.terminate()
        p.wait(timeout=30)
    floor = subprocess.run([floor_exe, "query", url, "local", "barbell-bench-press",
                            str(args.n)], check=True, capture_output=True, text=True).stdout
    f = dict(kv.split("=") for kv in floor.split())
    return n_sets, times, f


def bench_import(args, url, tmp, csv_path):
    gh = os.path.join(args.build, "gymhelper")
    p, port = serve(gh, url, tmp)
    try:
        with open(csv_path, "rb") as fh:
            body = fh.read()
        first, out = request(port, "POST", "/api/v1/imports?format=strong", body, "text/csv")
        doc = json.loads(out)
        again, out2 = request(port, "POST", "/api/v1/imports?format=strong", body, "text/csv")
    finally:
        p.terminate()
        p.wait(timeout=30)
    return first, doc, again, json.loads(out2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("-n", type=int, default=30, help="requests per timing (default 30)")
    args = ap.parse_args()
    if not os.path.isdir(args.build):
        args.build = os.path.join(ROOT, args.build)
    args.build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="gh-workouts-bench-")
    srv = PostgresServer(os.path.join(tmp, "pg"))
    print("# Workout log benchmark\n")
    print("CPU: %s, %d CPUs, load %.1f at start; p50 of %d requests after one warm-up; no peer "
          "exists, so the store's own query for the same rows is the floor."
          % (cpu_name(), len(os.sched_getaffinity(0)), os.getloadavg()[0], args.n))
    try:
        srv.start()
        year, n_year = year_csv()
        print("\n## Progress API over a year of daily logs (365 sessions, %d sets)\n" % n_year)
        print("| backend | GET progress/exercises/{slug}?weeks=52 | floor: store query (rows) |"
              " GET progress/muscles?weeks=52 | floor: store counts per exercise and day (rows) | GET .../last |"
              " target < 50 ms |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for name, url in (("sqlite", "sqlite:///%s" % os.path.join(tmp, "year.db")),
                          ("postgresql", srv.create_database("year"))):
            n_sets, t, f = bench_backend(args, name, url, tmp, year)
            ok = max(t["exercise"], t["muscles"]) < 50
            print("| %s | %.1f ms | %.1f ms (%s) | %.1f ms | %.1f ms (%s) | %.1f ms | %s |"
                  % (name, t["exercise"], float(f["exercise_p50_ms"]), f["exercise_rows"],
                     t["muscles"], float(f["all_p50_ms"]), f["all_rows"], t["last"],
                     "met" if ok else "target missed"))
        csv_path = os.path.join(tmp, "strong.csv")
        with open(csv_path, "w") as fh:
            fh.write(strong_csv(5000))
        print("\n## Strong CSV import, 5,000 rows (comma layout), into an empty log\n")
        print("| backend | POST /api/v1/imports | imported / not mapped | re-import (adds) |"
              " floor: parse + records + store insert | target < 1 s |")
        print("|---|---:|---:|---:|---:|---|")
        for name, url, url2 in (("sqlite", "sqlite:///%s" % os.path.join(tmp, "imp.db"),
                                 "sqlite:///%s" % os.path.join(tmp, "imp2.db")),
                                ("postgresql", srv.create_database("imp"),
                                 srv.create_database("imp2"))):
            first, doc, again, doc2 = bench_import(args, url, tmp, csv_path)
            fl = subprocess.run([os.path.join(args.build, "bench", "workouts_bench"), "import",
                                 url2, "local", csv_path], check=True, capture_output=True,
                                text=True).stdout
            f = dict(kv.split("=") for kv in fl.split())
            unmapped = sum(len(x["rows"]) for x in doc["not_mapped"])
            print("| %s | %.0f ms | %d / %d | %.0f ms (%d) | %s + %s + %s ms | %s |"
                  % (name, first, doc["imported"], unmapped, again, doc2["imported"],
                     f["parse_ms"], f["records_ms"], f["store_ms"],
                     "met" if first < 1000 else "target missed"))
    finally:
        srv.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
