#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Disk per analysis, both backends: N history rows (user_identifications, as the recorder
writes them) and N cache rows (equipment_cache, holding a real answer that `gymhelper serve`
stored for a photo) are inserted into a fresh SQLite file and a fresh PostgreSQL database, the
file and relation sizes (indexes and TOAST included) are read, and the bytes per row are
extrapolated to a million analyses.

usage: /usr/bin/python3 bench/storage_bench.py [--build=build] [--rows=100000]
Starts its own PostgreSQL (tests/servers/postgres.py) and a fake provider in temporary
directories; loopback only. Exits non-zero only when something failed to run.
"""
import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import ghhttp as G  # noqa: E402
from benchlib import cpu_model, section, source_commit, table  # noqa: E402
from servers.postgres import PostgresServer  # noqa: E402

NOW = 1750000000
MB = 1000 * 1000

# What the recorder writes for a cache miss answered by OpenAI, with an account's owner key.
IDENT_SQLITE = """
INSERT INTO user_identifications (request_id, created_at, sha256, phash, equipment_slug,
    confidence, identified, cached, cache_layer, cache_distance, provider, model, processing_ms,
    prompt_tokens, completion_tokens, owner)
VALUES (?, ?, ?, ?, 'lat-pulldown-machine', 0.91, 1, 0, '', 0, 'openai', 'gpt-4o-mini', 1834.2,
        1210, 96, 'user:1234')
"""
CACHE_SQLITE = """
INSERT INTO equipment_cache (sha256, phash, seg0, seg1, seg2, seg3, seg4, answer, equipment_slug,
    provider, model, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'lat-pulldown-machine', 'openai', 'gpt-4o-mini', ?, ?)
"""
IDENT_PG = """
INSERT INTO user_identifications (request_id, created_at, sha256, phash, equipment_slug,
    confidence, identified, cached, cache_layer, cache_distance, provider, model, processing_ms,
    prompt_tokens, completion_tokens, owner)
SELECT md5(g::text), %(now)d - g, md5(g::text) || md5((-g)::text),
       (floor(random() * 4294967296)::bigint << 32) | floor(random() * 4294967296)::bigint,
       'lat-pulldown-machine', 0.91, true, false, '', 0, 'openai', 'gpt-4o-mini', 1834.2, 1210,
       96, 'user:1234'
FROM generate_series(1, %(rows)d) g
"""
CACHE_PG = """
INSERT INTO equipment_cache (sha256, phash, seg0, seg1, seg2, seg3, seg4, answer,
                             equipment_slug, provider, model, created_at, expires_at)
SELECT md5(g::text) || md5((-g)::text), h,
       ((h >> 51) & 8191)::smallint, ((h >> 38) & 8191)::smallint,
       ((h >> 25) & 8191)::smallint, ((h >> 12) & 8191)::smallint, (h & 4095)::smallint,
       $gh$%(answer)s$gh$, 'lat-pulldown-machine', 'openai', 'gpt-4o-mini', %(now)d - g,
       %(now)d - g + 30 * 86400
FROM (SELECT g, (floor(random() * 4294967296)::bigint << 32)
                 | floor(random() * 4294967296)::bigint AS h
      FROM generate_series(1, %(rows)d) g) s
"""


def signed(h):
    return h - (1 << 64) if h >= 1 << 63 else h


def real_answer(gh, tmp):
    """The answer JSON `serve` stores for a photo the fake provider calls a lat pulldown."""
    fake = G.FakeOpenAI(os.path.join(tmp, "fake"), answer="lat-pulldown-machine")
    srv = None
    try:
        srv = G.Server(gh, os.path.join(tmp, "srv"), provider=fake)
        r = srv.analyze(G.jpeg_photos(1)[0])
        if r.status != 200:
            raise RuntimeError("analysis failed: %r" % r)
        srv.stop()
        con = sqlite3.connect(str(srv.db))
        answer = con.execute("SELECT answer FROM equipment_cache").fetchone()[0]
        con.close()
        return answer
    finally:
        if srv:
            srv.kill()
        fake.stop()


def sqlite_sizes(gh, tmp, rows, answer):
    db = os.path.join(tmp, "size.db")
    r = G.run_cli(gh, ["db", "migrate", "--database-url", "sqlite:///" + db])
    if r.returncode:
        raise RuntimeError(r.stderr.decode())

    def size(con):
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return os.path.getsize(db)

    con = sqlite3.connect(db)
    base = size(con)
    with con:
        con.executemany(IDENT_SQLITE, ((os.urandom(16).hex(), NOW - i, os.urandom(32).hex(),
                                        signed(int.from_bytes(os.urandom(8), "big")))
                                       for i in range(rows)))
    ident = size(con) - base
    base = size(con)

    def cache_rows():
        for i in range(rows):
            h = int.from_bytes(os.urandom(8), "big")
            segs = [(h >> s) & m for s, m in ((51, 8191), (38, 8191), (25, 8191), (12, 8191),
                                              (0, 4095))]
            yield (os.urandom(32).hex(), signed(h), *segs, answer, NOW - i, NOW - i + 30 * 86400)

    with con:
        con.executemany(CACHE_SQLITE, cache_rows())
    cache = size(con) - base
    con.close()
    return ident, cache


def pg_sizes(gh, tmp, rows, answer):
    srv = PostgresServer(os.path.join(tmp, "pg"))
    try:
        srv.start()
        url = srv.create_database("size")
        r = G.run_cli(gh, ["db", "migrate", "--database-url", url])
        if r.returncode:
            raise RuntimeError(r.stderr.decode())
        if "$gh$" in answer:
            raise RuntimeError("the answer holds the quoting tag")
        srv.psql(IDENT_PG % {"now": NOW, "rows": rows}, db="size")
        srv.psql(CACHE_PG % {"now": NOW, "rows": rows, "answer": answer}, db="size")
        srv.psql("VACUUM ANALYZE", db="size")
        ident, cache = (int(srv.psql("SELECT pg_total_relation_size('%s')" % t,
                                     db="size").strip())
                        for t in ("user_identifications", "equipment_cache"))
        return ident, cache
    finally:
        srv.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="Meson build directory (default: build)")
    ap.add_argument("--rows", type=int, default=100000, help="rows per table (default 100000)")
    args = ap.parse_args()
    build = args.build if os.path.isdir(args.build) else os.path.join(ROOT, args.build)
    gh = os.path.join(os.path.abspath(build), "gymhelper")
    if not os.access(gh, os.X_OK):
        print("storage_bench: %s is missing; run `make build` first" % gh, file=sys.stderr)
        return 2
    section("Disk per analysis (%d rows per table)" % args.rows)
    print("machine: %s; commit %s" % (cpu_model(), source_commit()))
    tmp = tempfile.mkdtemp(prefix="gh-storage-bench-")
    try:
        t0 = time.monotonic()
        answer = real_answer(gh, tmp)
        out = []
        for name, fn in (("SQLite", sqlite_sizes), ("PostgreSQL 15", pg_sizes)):
            ident, cache = fn(gh, tmp, args.rows, answer)
            per_i, per_c = ident / args.rows, cache / args.rows
            out.append([name, "%.0f" % per_i, "%.0f" % per_c,
                        "%.0f MB" % (per_i * 1e6 / MB), "%.0f MB" % ((per_i + per_c) * 1e6 / MB)])
        print("answer JSON stored per cache row: %d bytes" % len(answer))
        table(["backend", "history B/row", "cache B/row", "1M analyses, all hits",
               "1M analyses, all misses"], out)
        print("(history: one user_identifications row per analysis, indexes included; a miss"
              " also stores one equipment_cache row, kept CACHE_TTL_DAYS; %.0f s)"
              % (time.monotonic() - t0))
    except Exception as e:  # noqa: BLE001  (a bench reports, it does not crash)
        print("storage_bench: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
