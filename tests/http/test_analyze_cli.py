# SPDX-License-Identifier: MIT
"""`gymhelper analyze`: the pipeline and cache without a server, as a card or as JSON. Every
run goes through G.run_cli, which fails on any sanitizer report (an expected exit status 1
must not hide a leak)."""
import json
import time

import pytest

import ghhttp as G

pytestmark = pytest.mark.asan


def run_analyze(binary, fake, db, *args):
    return G.run_cli(binary, ["analyze", "--database-url", "sqlite:///%s" % db,
                              "--openai-base-url", fake.base_url, "--openai-model", G.MODEL,
                              "--log-level", "warn", *args], env={"OPENAI_API_KEY": G.KEY})


def test_card_then_cached_json(procs, binary, photos, tmp_path):
    fake = procs.fake()
    db = tmp_path / "cli.db"
    photo = tmp_path / "bench.jpg"
    photo.write_bytes(photos[0])
    r = run_analyze(binary, fake, db, photo)
    assert r.returncode == 0, r.stderr.decode()
    card = r.stdout.decode()
    assert "== %s" % photo in card
    assert "Barbell" in card and "% sure" in card
    for heading in ("Primary muscles:", "Setup:", "Steps:", "Safety:", "Common mistakes:"):
        assert heading in card, card
    assert "  1. " in card  # steps are numbered
    assert fake.calls() == 1
    # the same photo again, as JSON: answered from the persistent cache, no provider call
    r = run_analyze(binary, fake, db, "--json", photo)
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads(r.stdout.decode().strip())
    assert doc["cached"] is True and doc["cache"]["layer"] == "exact"
    assert doc["equipment"]["slug"] == G.ANSWER
    assert doc["request_id"].startswith("cli-")
    assert fake.calls() == 1


def test_bad_file_reports_and_others_go_on(procs, binary, photos, tmp_path):
    fake = procs.fake()
    good = tmp_path / "good.jpg"
    good.write_bytes(photos[1])
    bad = tmp_path / "notes.txt"
    bad.write_text("leg day\n")
    r = run_analyze(binary, fake, tmp_path / "cli.db", "--json", bad, good)
    assert r.returncode == 1
    assert "notes.txt" in r.stderr.decode() and "[unsupported_type]" in r.stderr.decode()
    lines = [json.loads(x) for x in r.stdout.decode().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0]["identified"] is True


def test_no_provider_says_how_to_enable(binary, photos, tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(photos[0])
    r = G.run_cli(binary, ["analyze", "--database-url", "sqlite:///%s" % (tmp_path / "x.db"),
                           photo])
    assert r.returncode == 1
    assert "OPENAI_API_KEY" in r.stderr.decode() and "[unavailable]" in r.stderr.decode()


def test_usage_errors(binary):
    r = G.run_cli(binary, ["analyze"])
    assert r.returncode == 2 and b"no FILE" in r.stderr
    r = G.run_cli(binary, ["analyze", "--cache-max-distance", "9", "x.jpg"])
    assert r.returncode == 2 and b"CACHE_MAX_DISTANCE" not in r.stdout
    assert b"from 0 to 4" in r.stderr


def test_db_migrate_cache_stats_and_purge(procs, binary, photos, tmp_path):
    """An entry with a 1 s TTL expires while one with the default TTL stays live: stats count
    both states whatever the machine's speed (no assertion skipped on a slow run), and purge
    removes exactly the expired one."""
    db = tmp_path / "maint.db"

    def gh(*args):
        return G.run_cli(binary, [*args, "--database-url", "sqlite:///%s" % db])

    r = gh("db", "migrate")
    assert r.returncode == 0 and b"schema version 9" in r.stdout, r
    assert b"66 equipment types" in r.stdout
    fake = procs.fake()
    short, long = tmp_path / "short.jpg", tmp_path / "long.jpg"
    short.write_bytes(photos[2])
    long.write_bytes(photos[3])
    assert run_analyze(binary, fake, db, "--cache-ttl-seconds", "1", short).returncode == 0
    deadline = time.monotonic() + 60
    while True:  # past the TTL, however long the machine took
        st = json.loads(gh("cache", "stats").stdout)
        if st["expired"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert st["entries"] == 1 and st["expired"] == 1 and st["live_entries"] == 0, st
    assert run_analyze(binary, fake, db, long).returncode == 0  # default TTL: 30 days
    st = json.loads(gh("cache", "stats").stdout)
    assert st["entries"] == 2 and st["live_entries"] == 1 and st["expired"] == 1, st
    assert st["equipment"] == 66
    assert st["identifications"] == 2 and st["provider_calls"] == 2, st
    r = gh("cache", "purge")
    assert r.returncode == 0 and b"purged 1 expired entries" in r.stdout, r
    st = json.loads(gh("cache", "stats").stdout)
    assert st["entries"] == 1 and st["live_entries"] == 1 and st["expired"] == 0, st
    assert gh("cache", "frobnicate").returncode == 2
