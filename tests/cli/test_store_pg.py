# SPDX-License-Identifier: MIT
"""The PostgreSQL store through the binary: `db migrate`, `cache stats` and `cache purge` with
DATABASE_URL=postgresql://... (and the same commands on SQLite, which must agree), migrations
racing from several processes, a server that is down, and a long-lived client that keeps
working across server restarts (tests/unit/store/store_probe.c).

The session's server (conftest.py `postgres`) serves the tests that leave it running; the
restart tests start their own, so the C tests using the session's server are not disturbed."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from servers.postgres import PostgresServer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent.parent
N_EQUIPMENT = len(json.loads((REPO / "catalogue" / "equipment.json").read_text())["equipment"])
# The migrations this build knows (sq_migrations in src/store/sqlite.c, pg_migrations in pg.c):
# 6 corrections as votes, 7 workouts, 8 plans, 9 refresh tokens by user. A new migration
# updates it.
SCHEMA_VERSION = 9
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def db_name(url):
    return url.rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The same commands on both backends."""
    if request.param == "sqlite":
        return "sqlite://%s/gh.db" % tmp_path
    return request.getfixturevalue("pg_url")


def insert_rows(store_url, postgres, rows):
    """Puts cache rows (sha, expires_at) straight into the database."""
    values = ", ".join("('%s', 0, 0, 0, 0, 0, 0, '{}', %d, %d)" % (sha, int(time.time()), exp)
                       for sha, exp in rows)
    sql = ("INSERT INTO equipment_cache (sha256, phash, seg0, seg1, seg2, seg3, seg4, answer,"
           " created_at, expires_at) VALUES " + values)
    if store_url.startswith("sqlite"):
        import sqlite3
        with sqlite3.connect(store_url[len("sqlite://"):]) as db:
            db.execute(sql)
    else:
        postgres.psql(sql, db=db_name(store_url))


def test_migrate_stats_purge(gh, store_url, postgres):
    env = {"DATABASE_URL": store_url}
    r = gh("db", "migrate", env=env)
    assert r.returncode == 0, r
    assert r.stdout.startswith("schema version %d, catalogue " % SCHEMA_VERSION), r
    assert "(%d equipment types)" % N_EQUIPMENT in r.stdout
    assert gh("db", "migrate", env=env).stdout == r.stdout  # again: nothing to do
    r = gh("cache", "stats", env=env)
    assert r.returncode == 0, r
    stats = json.loads(r.stdout)
    assert stats["backend"] == store_url.split(":")[0]
    assert stats["schema_version"] == SCHEMA_VERSION
    assert stats["equipment"] == N_EQUIPMENT
    assert stats["catalogue_version"]
    assert stats["entries"] == 0
    now = int(time.time())
    insert_rows(store_url, postgres, [("%064x" % i, now - 10 * i) for i in range(1, 4)]
                + [("f" * 64, now + 3600)])
    stats = json.loads(gh("cache", "stats", env=env).stdout)
    assert (stats["entries"], stats["live_entries"], stats["expired"]) == (4, 1, 3)
    r = gh("cache", "purge", env=env)
    assert r.returncode == 0, r
    assert r.stdout.strip() == "purged 3 expired entries"
    stats = json.loads(gh("cache", "stats", env=env).stdout)
    assert (stats["entries"], stats["expired"]) == (1, 0)


def test_pg_schema_types(gh, pg_url, postgres):
    """The PostgreSQL types the issue asks for, and the indexes the near lookup needs."""
    assert gh("db", "migrate", env={"DATABASE_URL": pg_url}).returncode == 0
    db = db_name(pg_url)
    cols = dict(line.split("|") for line in postgres.psql(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public'", db=db).splitlines())
    assert cols["equipment.muscle_groups"] == "ARRAY"
    assert cols["equipment.data"] == "jsonb"
    assert cols["equipment_cache.answer"] == "json"
    assert cols["equipment_cache.phash"] == "bigint"
    assert cols["equipment_cache.seg0"] == "smallint"
    assert cols["equipment_cache.corrected"] == "boolean"
    assert "identification_feedback.identification_id" in cols
    assert "store_meta.value" in cols
    indexes = postgres.psql("SELECT indexname FROM pg_indexes WHERE tablename ="
                            " 'equipment_cache'", db=db).split()
    for name in ["equipment_cache_seg%d_idx" % i for i in range(5)] + [
            "equipment_cache_expires_idx"]:
        assert name in indexes
    first = json.loads((REPO / "catalogue" / "equipment.json").read_text())["equipment"][0]
    row = postgres.psql("SELECT muscle_groups[1], data->>'name' FROM equipment WHERE slug = '%s'"
                        % first["slug"], db=db).strip()
    assert row == "%s|%s" % (first["primary_muscles"][0], first["name"])


def test_refresh_tokens_revoked_by_user_through_an_index(gh, store_url, postgres):
    """Signing out everywhere, a password change and disabling an account revoke every refresh
    token of a user by user_id (sqlite_auth.c, pg_auth.c): an index on it, not a table scan.
    SQLite's plan for that very statement names the index; PostgreSQL plans a small table with
    a scan whatever its indexes, so there the index itself is checked."""
    assert gh("db", "migrate", env={"DATABASE_URL": store_url}).returncode == 0
    revoke = "UPDATE refresh_tokens SET revoked_at = 1 WHERE user_id = 7 AND revoked_at = 0"
    if store_url.startswith("sqlite"):
        import sqlite3
        with sqlite3.connect(store_url[len("sqlite://"):]) as db:
            plan = " ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + revoke))
        assert "USING INDEX refresh_tokens_user_idx (user_id=?)" in plan, plan
    else:
        db = db_name(store_url)
        defs = postgres.psql("SELECT indexdef FROM pg_indexes WHERE tablename = 'refresh_tokens'",
                             db=db)
        want = "refresh_tokens_user_idx ON public.refresh_tokens USING btree (user_id)"
        assert want in defs, defs
        plan = postgres.psql("SET enable_seqscan = off; EXPLAIN " + revoke, db=db)
        assert "refresh_tokens_user_idx" in plan, plan


def test_migrations_race_from_four_processes(gymhelper, pg_url, postgres):
    """Four instances starting at once on an empty database: the advisory lock lets one
    migrate while the others wait, then find the schema done."""
    env = dict(gymhelper.env, DATABASE_URL=pg_url)
    procs = [subprocess.Popen([str(gymhelper), "db", "migrate"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.startswith("schema version %d" % SCHEMA_VERSION), out
        assert not any(m in err for m in SANITIZER_MARKERS), err
    db = db_name(pg_url)
    assert postgres.psql("SELECT string_agg(version::text, ',' ORDER BY version)"
                         " FROM schema_migrations", db=db).strip() == ",".join(
        str(v) for v in range(1, SCHEMA_VERSION + 1))
    assert int(postgres.psql("SELECT count(*) FROM equipment", db=db)) == N_EQUIPMENT


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_a_clear_error(gh):
    port = closed_port()
    r = gh("cache", "stats", env={
        "DATABASE_URL": "postgresql://gh:hunter2@127.0.0.1:%d/gymhelper" % port})
    assert r.returncode == 1
    # A refused connection is answered at once; the bound only catches a hang (a retry loop or
    # the connect timeout), so it is generous for a loaded machine under ASan.
    assert r.seconds < 30
    assert "127.0.0.1:%d" % port in r.stderr
    assert "unavailable" in r.stderr and "refused" in r.stderr.lower()
    assert "hunter2" not in r.stderr + r.stdout


# ---- a long-lived client across restarts ----


class Probe:
    """tests/unit/store/store_probe driven line by line."""

    def __init__(self, binary, url):
        exe = Path(str(binary)).parent / "tests" / "unit" / "store" / "store_probe"
        assert exe.is_file(), "%s is missing: build the tests" % exe
        self.p = subprocess.Popen([str(exe), url], env=binary.env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.opened = self._read()

    def _read(self):
        line = self.p.stdout.readline()
        assert line, "the probe died: %s" % self.p.stderr.read()
        name, code, ms, msg = (line.rstrip("\n").split(" ", 3) + [""])[:4]
        return code, float(ms), msg

    def __call__(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self._read()

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.close()
        self.p.wait(timeout=30)
        err = self.p.stderr.read()
        assert self.p.returncode == 0, err
        assert not any(m in err for m in SANITIZER_MARKERS), err


@pytest.fixture
def own_postgres(tmp_path):
    srv = PostgresServer(tmp_path / "pg").start()
    yield srv
    srv.cleanup()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_client_survives_restarts(gymhelper, own_postgres, mode):
    srv = own_postgres
    url = srv.create_database("probe")
    probe = Probe(gymhelper, url)
    assert probe.opened[0] == "ok", probe.opened
    for cmd in ("put", "get", "near", "record", "stats"):
        assert probe(cmd)[0] == "ok", cmd
    # Restarted while the client sat idle: the pool notices and reconnects, nothing fails.
    srv.restart(mode)
    for cmd in ("get", "near", "stats"):
        assert probe(cmd)[0] == "ok", cmd
    # Down: every call fails at once, with the server named.
    srv.stop(mode)
    for cmd in ("get", "put", "stats", "record"):
        code, ms, msg = probe(cmd)
        assert code == "unavailable", (cmd, code, msg)
        assert ms < 3500, (cmd, ms)  # connect_timeout_ms, and refused is immediate anyway
        assert "127.0.0.1:%d" % srv.port in msg
    # Back: the next call works, with no restart of the client.
    srv.start()
    for cmd in ("put", "get", "near", "record", "stats"):
        assert probe(cmd)[0] == "ok", cmd
    probe.close()


def test_frozen_server_fails_within_the_deadline(gymhelper, own_postgres):
    """A server that accepts but never answers (SIGSTOP) costs a call connect_timeout_ms, not a
    hang; once it answers again, so does the client."""
    srv = own_postgres
    probe = Probe(gymhelper, srv.create_database("frozen"))
    assert probe("put")[0] == "ok"
    srv.pause()
    try:
        code, ms, msg = probe("get")
        assert code == "unavailable", msg
        assert 2500 < ms < 6000, ms  # the default 3000 ms deadline
    finally:
        srv.resume()
    assert probe("put")[0] == "ok"
    assert probe("get")[0] == "ok"
    probe.close()
