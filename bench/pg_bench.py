#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PostgreSQL store benchmark: near-duplicate lookups over 1,000,000 cache rows through the
store's real C path (gh_store_get_near: five segment indexes) against a sequential scan with a
popcount filter, with both EXPLAIN (ANALYZE) plans; then cache hits over HTTP with PostgreSQL
behind `gymhelper serve` (in-process LRU off, so every hit is a database round trip) next to the
same run with SQLite.

usage: /usr/bin/python3 bench/pg_bench.py [--build=build] [--rows=1000000] [--duration=S]
Starts its own PostgreSQL (tests/servers/postgres.py) in a temporary directory; loopback only.
Missed targets print 'target missed' lines; the exit status is non-zero only when something
failed to run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from servers.postgres import PostgresServer  # noqa: E402
import http_bench as hb  # noqa: E402  (tables, processes, wrk, request bodies)

TARGET_P50_MS = 2.0      # near lookup through the indexes, 1M rows
TARGET_HTTP_RPS = 1000.0  # cache hits through PostgreSQL over HTTP on the 2-core box
NOW = 1750000000          # the lookups' clock; rows expire 30 days later

# Random 64-bit pHashes and their segments (gh_phash_segments: 13+13+13+13+12 bits from the
# top). >> on bigint is arithmetic, which the masks make irrelevant.
FILL_SQL = """
INSERT INTO equipment_cache (sha256, phash, seg0, seg1, seg2, seg3, seg4, answer,
                             equipment_slug, provider, model, created_at, expires_at)
SELECT md5(g::text) || md5((-g)::text), h,
       ((h >> 51) & 8191)::smallint, ((h >> 38) & 8191)::smallint,
       ((h >> 25) & 8191)::smallint, ((h >> 12) & 8191)::smallint, (h & 4095)::smallint,
       '{"bench":true}', '', 'bench', 'bench', %(now)d - (g %% 86400), %(now)d + 30 * 86400
FROM (SELECT g, (floor(random() * 4294967296)::bigint << 32)
                 | floor(random() * 4294967296)::bigint AS h
      FROM generate_series(1, %(rows)d) g) s
"""

# The store's near query (GH_PG_NEAR_SQL in src/store/pg_internal.h) with a real row's
# neighbour as $7, and the sequential scan it is compared with.
NEAR_SQL = None
SEQ_SQL = ("SELECT id FROM equipment_cache WHERE bit_count((phash # $1)::bit(64)) <= 4"
           " AND expires_at > $2 ORDER BY bit_count((phash # $1)::bit(64)), created_at DESC,"
           " id DESC LIMIT 1")


def near_sql():
    """GH_PG_NEAR_SQL as pg_internal.h defines it: the text the backend prepares."""
    text = open(os.path.join(ROOT, "src", "store", "pg_internal.h")).read()
    start = text.index("#define GH_PG_NEAR_SQL")
    body = text[start:text.index("\n\n", start)]
    parts = [line.split('"')[1] for line in body.splitlines()[1:] if '"' in line]
    return "".join(parts)


def explain(srv, db, sql, params, setup=""):
    args = ", ".join(str(p) for p in params)
    out = srv.psql("%s PREPARE q AS %s; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q(%s);"
                   % (setup, sql, args), db=db)
    return out.rstrip()


def parse_ghpg(text):
    res = {}
    for line in text.splitlines():
        if line.startswith("GHPG "):
            f = line.split()
            res[f[1]] = {k: float(v) for k, v in (kv.split("=") for kv in f[2:])}
    return res


def bench_lookups(args, srv, gh):
    hb.section("Near-duplicate lookups, %d rows" % args.rows)
    url = srv.create_database("bench")
    r = subprocess.run([gh, "db", "migrate"], env=dict(os.environ, DATABASE_URL=url),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise hb.BenchError("gymhelper db migrate failed: %s" % r.stderr)
    t = time.monotonic()
    srv.psql(FILL_SQL % {"now": NOW, "rows": args.rows}, db="bench")
    srv.psql("VACUUM ANALYZE equipment_cache", db="bench")
    hb.note("filled %d rows (INSERT ... SELECT generate_series, 5 segment indexes, expiry "
            "index) and ran VACUUM ANALYZE in %.1f s" % (args.rows, time.monotonic() - t))
    size = srv.psql("SELECT pg_size_pretty(pg_total_relation_size('equipment_cache'))",
                    db="bench").strip()
    hb.note("equipment_cache with its indexes: %s" % size)
    exe = os.path.join(args.build, "bench", "pg_near_bench")
    r = subprocess.run([exe, url, str(NOW), str(args.lookups), str(args.seqscans)],
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise hb.BenchError("pg_near_bench failed:\n%s%s" % (r.stdout, r.stderr))
    res = parse_ghpg(r.stdout)
    rows = []
    for key, what in (("index_hit", "gh_store_get_near, hit at distance 2 (counts the hit)"),
                      ("index_miss", "gh_store_get_near, miss"),
                      ("seq_scan", "sequential scan, bit_count(phash # $1) <= 4")):
        v = res[key]
        rows.append([what, "%d" % v["n"], "%d" % v["found"], "%.3f" % (v["p50_us"] / 1e3),
                     "%.3f" % (v["p99_us"] / 1e3), "%.0f" % v["per_s"]])
    hb.table(["query (1 connection)", "lookups", "found", "p50 ms", "p99 ms", "lookups/s"], rows)
    p50 = res["index_hit"]["p50_us"] / 1e3
    hb.target(p50 <= TARGET_P50_MS, "near lookup p50 %.3f ms (target <= %.1f ms)"
              % (p50, TARGET_P50_MS))
    hb.note("speed-up of the indexes over the scan at p50: %.0fx"
            % (res["seq_scan"]["p50_us"] / max(res["index_hit"]["p50_us"], 1)))
    # The plans, for a real row's neighbour.
    h = int(srv.psql("SELECT phash FROM equipment_cache WHERE id = 4242", db="bench"))
    q = h ^ (1 << 60) ^ (1 << 5)
    q = q - (1 << 64) if q >= 1 << 63 else q
    u = q & ((1 << 64) - 1)
    segs = [(u >> 51) & 8191, (u >> 38) & 8191, (u >> 25) & 8191, (u >> 12) & 8191, u & 4095]
    hb.section("EXPLAIN (ANALYZE) of the store's near query (planner defaults)")
    print(explain(srv, "bench", near_sql(), segs + [NOW, q, 4]))
    hb.section("EXPLAIN (ANALYZE) of the sequential scan")
    print(explain(srv, "bench", SEQ_SQL, [q, NOW]))
    return url


def bench_http(args, tmp, gh, pg_url):
    hb.section("Cache hits over HTTP: PostgreSQL vs SQLite, in-process LRU off")
    exact_path = os.path.join(tmp, "exact.jpg")
    rows = hb.load_labels(args.photos)
    src = max((r for r in rows if r["format"] == "jpeg"), key=lambda r: (r["bytes"], r["path"]))
    w, hgt, n = hb.make_exact_jpeg(os.path.join(args.photos, src["path"]), exact_path)
    with open(exact_path, "rb") as f:
        body = f.read()
    hb.note("body: %s re-encoded to %dx%d, %d bytes; wrk %d threads, %d connections, %d s"
            % (src["path"], w, hgt, n, args.threads, args.conns, args.duration))
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    procs = hb.Procs()
    results = []
    try:
        for name, url in (("postgresql", pg_url),
                          ("sqlite", "sqlite:///%s" % os.path.join(tmp, "gh.db"))):
            fake = procs.start("fake_openai", [hb.PY, os.path.join(ROOT, "tests",
                                                                   "fake_openai.py"),
                                               "--port", "0", "--key", hb.API_KEY, "--model",
                                               hb.MODEL, "--answer", "barbell"],
                               os.path.join(tmp, "fake-%s.log" % name), cwd=tmp)
            fport = int(hb.wait_for_line(fake, fake.gh_log, r"^PORT (\d+)", 15).group(1))
            env = {k: v for k, v in os.environ.items() if k not in (
                "AI_PROVIDER", "REDIS_URL", "LRU_MB", "HTTP_THREADS", "WORKERS", "LOG_LEVEL")}
            env.update(OPENAI_API_KEY=hb.API_KEY, DATABASE_URL=url, LRU_ENTRIES="0")
            srv = procs.start("gymhelper serve (%s)" % name,
                              [gh, "serve", "--port", "0", "--log-level", "warn",
                               "--openai-base-url", "http://127.0.0.1:%d/v1" % fport,
                               "--rate-limit-requests", "0", "--rate-limit-provider", "0"],
                              os.path.join(tmp, "gymhelper-%s.log" % name), env=env, cwd=tmp)
            port = int(hb.wait_for_line(srv, srv.gh_log,
                                        r"listening on http://127\.0\.0\.1:(\d+)",
                                        60).group(1))
            base = "http://127.0.0.1:%d" % port
            st, _ = hb.post_jpeg(base, body)  # the miss that fills the cache
            st2, again = hb.post_jpeg(base, body)
            layer = (json.loads(again).get("cache") or {}).get("layer") if st2 == 200 \
                else None
            if st != 200 or layer != "exact":
                raise hb.BenchError("%s: priming gave %d then %d (layer %r): %s"
                                    % (name, st, st2, layer, again[:300]))
            res = hb.run_wrk(wrk, "exact.lua", base + "/api/v1/analyze", args.threads,
                             args.conns, args.duration, exact_path, "pg-%s" % name,
                             os.path.join(tmp, "wrk-%s.log" % name), srv.pid)
            results.append((name, res))
            procs.stop(srv)
            procs.stop(fake)
    finally:
        procs.stop_all()
    hb.table(["store behind serve", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors"],
             [[name, "%.0f" % r["rps"], "%.2f" % (r["p50_us"] / 1e3),
               "%.2f" % (r["p99_us"] / 1e3), str(r["non2xx"]), str(r["socket_errors"])]
              for name, r in results])
    pg = dict(results)["postgresql"]
    hb.target(pg["rps"] >= TARGET_HTTP_RPS and pg["non2xx"] == 0,
              "PostgreSQL exact-key hits %.0f req/s (target >= %.0f)"
              % (pg["rps"], TARGET_HTTP_RPS))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="Meson build directory (default: build)")
    ap.add_argument("--photos", default=os.path.join(ROOT, "..", "shared", "data", "gym-photos"))
    ap.add_argument("--rows", type=int, default=1000000, help="cache rows (default 1000000)")
    ap.add_argument("--lookups", type=int, default=5000, help="indexed lookups per series")
    ap.add_argument("--seqscans", type=int, default=20, help="sequential-scan lookups")
    ap.add_argument("--duration", type=int, default=8, help="seconds per wrk run (default 8)")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP runs")
    args = ap.parse_args()
    if not os.path.isdir(args.build):
        args.build = os.path.join(ROOT, args.build)
    args.build = os.path.abspath(args.build)
    args.photos = os.path.abspath(args.photos)
    gh = os.path.join(args.build, "gymhelper")
    for exe in (gh, os.path.join(args.build, "bench", "pg_near_bench")):
        if not os.access(exe, os.X_OK):
            print("pg_bench: %s is missing; run `make build` first" % exe, file=sys.stderr)
            return 2
    print("# PostgreSQL store benchmark")
    hb.note("machine: %s, %d CPUs; PostgreSQL 15 started by the bench (fsync off)"
            % (hb.cpu_model(), len(os.sched_getaffinity(0))))
    tmp = tempfile.mkdtemp(prefix="gh-pg-bench-")
    srv = PostgresServer(os.path.join(tmp, "pg"), settings={
        "shared_buffers": "512MB", "max_wal_size": "4GB", "max_parallel_workers_per_gather": "2"})
    try:
        srv.start()
        pg_url = bench_lookups(args, srv, gh)
        if not args.no_http:
            bench_http(args, tmp, gh, pg_url)
    except hb.BenchError as e:
        print("pg_bench: %s" % e, file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        srv.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
