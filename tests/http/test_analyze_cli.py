# SPDX-License-Identifier: MIT
"""`gymhelper analyze`: the pipeline and cache without a server, as a card or as JSON."""
import json
import os
import subprocess
import time

import pytest

import ghhttp as G

pytestmark = pytest.mark.asan


def run_analyze(binary, fake, db, *args):
    env = dict(getattr(binary, "env", os.environ))
    for k in G.SETTINGS_ENV:
        env.pop(k, None)
    env["OPENAI_API_KEY"] = G.KEY
    argv = [str(binary), "analyze", "--database-url", "sqlite:///%s" % db,
            "--openai-base-url", fake.base_url, "--openai-model", G.MODEL,
            "--log-level", "warn"] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, env=env, timeout=120)


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
    env = dict(getattr(binary, "env", os.environ))
    for k in G.SETTINGS_ENV:
        env.pop(k, None)
    r = subprocess.run([str(binary), "analyze", "--database-url",
                        "sqlite:///%s" % (tmp_path / "x.db"), str(photo)],
                       capture_output=True, env=env, timeout=120)
    assert r.returncode == 1
    assert "OPENAI_API_KEY" in r.stderr.decode() and "[unavailable]" in r.stderr.decode()


def test_usage_errors(binary):
    r = subprocess.run([str(binary), "analyze"], capture_output=True, timeout=60)
    assert r.returncode == 2 and b"no FILE" in r.stderr
    r = subprocess.run([str(binary), "analyze", "--cache-max-distance", "9", "x.jpg"],
                       capture_output=True, timeout=60)
    assert r.returncode == 2 and b"CACHE_MAX_DISTANCE" not in r.stdout
    assert b"from 0 to 4" in r.stderr


def test_db_migrate_cache_stats_and_purge(procs, binary, photos, tmp_path):
    db = tmp_path / "maint.db"
    env = dict(getattr(binary, "env", os.environ))
    for k in G.SETTINGS_ENV:
        env.pop(k, None)

    def gh(*args):
        return subprocess.run([str(binary), *args, "--database-url", "sqlite:///%s" % db],
                              capture_output=True, env=env, timeout=120)

    r = gh("db", "migrate")
    assert r.returncode == 0 and b"schema version 5" in r.stdout, r
    assert b"66 equipment types" in r.stdout
    fake = procs.fake()
    photo = tmp_path / "p.jpg"
    photo.write_bytes(photos[2])
    started = time.monotonic()
    assert run_analyze(binary, fake, db, "--cache-ttl-seconds", "3", photo).returncode == 0
    st = json.loads(gh("cache", "stats").stdout)
    assert st["entries"] == 1 and st["equipment"] == 66
    if time.monotonic() - started < 2.5:  # a slow machine may already be past the TTL
        assert st["live_entries"] == 1
    assert st["identifications"] == 1 and st["provider_calls"] == 1
    time.sleep(max(0.0, started + 4.0 - time.monotonic()))
    st = json.loads(gh("cache", "stats").stdout)
    assert st["expired"] == 1 and st["live_entries"] == 0
    r = gh("cache", "purge")
    assert r.returncode == 0 and b"purged 1 expired entries" in r.stdout
    assert json.loads(gh("cache", "stats").stdout)["entries"] == 0
    assert gh("cache", "frobnicate").returncode == 2
