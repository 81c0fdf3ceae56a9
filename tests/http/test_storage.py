# SPDX-License-Identifier: MIT
"""Bounded storage (issue 10 item 6): store hits are counted in memory and written in batches
(counted: the writes they cost, not how long they take), and HISTORY_RETENTION_DAYS removes
old analyses, corrections and quality samples where the cache is purged — at start (then
hourly) in `serve`, and in `gymhelper cache purge`. Old rows are put in the SQLite file
directly: no clock is faked. The PostgreSQL backend runs the same operations in the store's
contract tests (tests/unit/store/store_contract_test.c)."""
import sqlite3
import time

import pytest

import ghhttp as G

DAY = 86400


@pytest.mark.asan
def test_thirty_store_hits_cost_one_row_write(procs, binary, photos):
    fake = procs.fake()
    # LRU off: every repeat is an exact hit read from SQLite.
    s = procs.server(binary, provider=fake, env={"LRU_ENTRIES": "0"})
    assert s.analyze(photos[0]).status == 200
    for _ in range(30):
        r = s.analyze(photos[0])
        assert r.status == 200 and G.cache_layer(r) == "exact", r
    doc = s.get("/api/v1/cache/stats").json()
    w = doc["hit_writes"]
    assert w["hits"] == 30, w
    assert doc["history"]["stored_hits"] == 30, doc["history"]  # all of them reached the table
    # One photo: each batch (every 10 s, and the one these statistics flushed) is one row write;
    # before batching each hit was one.
    assert w["rows_written"] == w["flushes"] and 1 <= w["flushes"] <= 30 // 10, w
    assert w["dropped"] == 0
    assert fake.calls() == 1


def old_rows(db, now):
    """Two analyses 120 and 91 days old (the first corrected yesterday), one a day old (also
    corrected), and quality samples 101 days and 1 day old."""
    con = sqlite3.connect(db)
    with con:
        for i, age in enumerate((120, 91, 1)):
            con.execute(
                "INSERT INTO user_identifications (request_id, created_at, sha256, phash,"
                " equipment_slug, confidence, identified, cached, cache_layer, cache_distance,"
                " provider, model, processing_ms, prompt_tokens, completion_tokens)"
                " VALUES (?, ?, ?, 0, 'leg-press', 0.9, 1, 0, '', 0, 'openai', 'm', 1, 0, 0)",
                ("old-%d" % i, now - age * DAY, "%064x" % (i + 1)))
        ids = [r[0] for r in con.execute("SELECT id FROM user_identifications ORDER BY id")]
        for ident in (ids[0], ids[2]):
            con.execute("INSERT INTO identification_feedback (identification_id, slug,"
                        " created_at) VALUES (?, 'leg-press', ?)", (ident, now - DAY))
        for age in (101, 1):
            con.execute("INSERT INTO quality_samples (created_at, sha256, clip_slug,"
                        " clip_confidence, bucket, paid_slug, shadow)"
                        " VALUES (?, ?, 'leg-press', 0.9, 18, 'leg-press', 1)",
                        (now - age * DAY, "%064x" % 9))
    con.close()


def counts(db):
    con = sqlite3.connect(db)
    try:
        return tuple(con.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                     for t in ("user_identifications", "identification_feedback",
                               "quality_samples"))
    finally:
        con.close()


def test_cache_purge_applies_history_retention(tmp_path, release_binary):
    db = tmp_path / "gh.db"
    url = "sqlite:///%s" % db
    assert G.run_cli(release_binary, ["db", "migrate", "--database-url", url]).returncode == 0
    old_rows(db, int(time.time()))
    assert counts(db) == (3, 2, 2)

    # 0 keeps everything; the default, 90 days, forgets the two old analyses, the correction
    # of the oldest (although it was made yesterday) and the old quality sample.
    r = G.run_cli(release_binary, ["cache", "purge", "--database-url", url],
                  env={"HISTORY_RETENTION_DAYS": "0"})
    assert r.returncode == 0 and b"forgot" not in r.stdout, r
    assert counts(db) == (3, 2, 2)
    r = G.run_cli(release_binary, ["cache", "purge", "--database-url", url])
    assert r.returncode == 0, r
    assert b"forgot 2 analyses, 1 corrections and 1 quality samples older than 90 days" \
        in r.stdout, r.stdout
    assert counts(db) == (1, 1, 1)

    r = G.run_cli(release_binary, ["cache", "purge", "--database-url", url],
                  env={"HISTORY_RETENTION_DAYS": "-1"})
    assert r.returncode == 2 and b"HISTORY_RETENTION_DAYS" in r.stderr, r


def test_serve_prunes_history_at_start(procs, binary, tmp_path):
    db = tmp_path / "serve.db"
    url = "sqlite:///%s" % db
    assert G.run_cli(binary, ["db", "migrate", "--database-url", url]).returncode == 0
    old_rows(db, int(time.time()))
    s = procs.server(binary, db=db, env={"HISTORY_RETENTION_DAYS": "100"})
    # 100 days: only the 120-day-old analysis (with its correction) and the 101-day-old
    # quality sample go.
    assert counts(db) == (2, 1, 1)
    lines = [x["msg"] for x in s.log_lines() if "HISTORY_RETENTION_DAYS" in x.get("msg", "")]
    assert lines == ["forgot 1 analyses, 1 corrections and 1 quality samples older than 100 "
                     "days (HISTORY_RETENTION_DAYS)"], lines
    ids = [x["request_id"] for x in s.get("/api/v1/identifications").json()["items"]]
    assert sorted(ids) == ["old-1", "old-2"], ids
