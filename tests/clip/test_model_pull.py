# SPDX-License-Identifier: MIT
"""`gymhelper model pull` and `model list` against a local fake of the Hugging Face Hub
(tests/clip/hub_server.py) serving a tiny generated checkpoint (tests/ref/clip_ref.py): full
download with the Hub's redirect and X-Linked-* headers, resume with a Range request after a
dropped connection, a server that ignores the range, corrupt and short files refused and
deleted, an unreachable endpoint, the default name at its pinned revision, the progress bar
only on a terminal, and the listing. Release and ASan binaries; no network."""
import hashlib
import json
import os
import pty
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "ref"))
sys.path.insert(0, str(HERE))
import clip_ref  # noqa: E402
from hub_server import HubServer  # noqa: E402

REPO_ID = "test-org/tiny-clip"
REV = "0123456789abcdef0123456789abcdef01234567"
FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt")
# The pinned revision of the default model, as include/gh/models.h has it.
PINNED = re.search(r'#define GH_MODELS_DEFAULT_REVISION\s+"([0-9a-f]{40})"',
                   (HERE.parent.parent / "include" / "gh" / "models.h").read_text()).group(1)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny-clip")
    clip_ref.make_model(str(d), seed=7)
    return {name: (d / name).read_bytes() for name in FILES}


@pytest.fixture(scope="module")
def hub(model_files):
    srv = HubServer(REPO_ID, REV, model_files)
    yield srv
    srv.stop()


@pytest.fixture
def cache(tmp_path, hub):
    hub.clear()
    return tmp_path / "xdg"


def env_for(cache, endpoint):
    return {"XDG_CACHE_HOME": str(cache), "HF_ENDPOINT": endpoint, "HOME": str(cache.parent)}


def model_dir(cache, name=REPO_ID):
    return cache / "gymhelper" / "models" / name


def sha(data):
    return hashlib.sha256(data).hexdigest()


def cdn_gets(hub):
    return [r for r in hub.requests() if r["path"].startswith("/cdn/")]


def test_full_download_verified_and_not_fetched_again(gh, cache, hub, model_files):
    r = gh("model", "pull", "--revision", REV, REPO_ID, env=env_for(cache, hub.endpoint))
    assert r.returncode == 0, r
    d = model_dir(cache)
    assert r.stdout.strip() == "pulled %s into %s" % (REPO_ID, d), r
    for name in FILES:
        assert (d / name).read_bytes() == model_files[name], name
        assert not (d / (name + ".part")).exists()
    assert "model.safetensors: %d bytes, sha256 verified" % len(model_files["model.safetensors"]) \
        in r.stderr, r
    assert "config.json: %d bytes, size verified" % len(model_files["config.json"]) in r.stderr
    assert "\r" not in r.stderr, "a progress bar on a pipe: %r" % r.stderr
    manifest = json.loads((d / "gymhelper-pull.json").read_text())
    assert manifest["complete"] is True and manifest["revision"] == REV, manifest
    assert manifest["files"]["model.safetensors"]["sha256"] == sha(model_files["model.safetensors"])
    paths = [x["path"] for x in hub.requests()]
    assert "/%s/resolve/%s/model.safetensors" % (REPO_ID, REV) in paths, paths
    assert "/cdn/%s/model.safetensors" % sha(model_files["model.safetensors"]) in paths, paths
    assert all(x["range"] is None for x in hub.requests()), hub.requests()

    hub.clear()
    r = gh("model", "pull", "--revision", REV, REPO_ID, env=env_for(cache, hub.endpoint))
    assert r.returncode == 0, r
    assert r.stderr.count("already verified") == 4, r
    assert hub.requests() == [], hub.requests()


def test_resume_after_dropped_connection(gh, cache, hub, model_files):
    weights = model_files["model.safetensors"]
    cut = len(weights) // 3
    env = env_for(cache, hub.endpoint)
    hub.control(cut_after=cut)
    r = gh("model", "pull", "--revision", REV, REPO_ID, env=env)
    assert r.returncode == 1, r
    assert "stopped after" in r.stderr and "again to resume" in r.stderr, r
    d = model_dir(cache)
    part = d / "model.safetensors.part"
    assert part.is_file() and 0 < part.stat().st_size <= cut, r
    assert not (d / "model.safetensors").exists(), "an unverified file was put in place"
    kept = part.stat().st_size

    hub.clear()
    r = gh("model", "pull", "--revision", REV, REPO_ID, env=env)
    assert r.returncode == 0, r
    gets = cdn_gets(hub)
    assert len(gets) == 1 and gets[0]["range"] == "bytes=%d-" % kept, hub.requests()
    assert (d / "model.safetensors").read_bytes() == weights
    assert not part.exists()
    # the files verified before the cut were not fetched again
    assert r.stderr.count("already verified") == 1, r


def test_complete_part_is_verified_after_a_416(gh, cache, hub, model_files):
    """Killed between the last byte and the rename: the next pull asks past the end."""
    weights = model_files["model.safetensors"]
    d = model_dir(cache)
    d.mkdir(parents=True)
    (d / "model.safetensors.part").write_bytes(weights)
    r = gh("model", "pull", "--revision", REV, REPO_ID, env=env_for(cache, hub.endpoint))
    assert r.returncode == 0, r
    assert cdn_gets(hub)[0]["range"] == "bytes=%d-" % len(weights), hub.requests()
    assert (d / "model.safetensors").read_bytes() == weights
    assert "model.safetensors: %d bytes, sha256 verified" % len(weights) in r.stderr, r


def test_server_ignoring_the_range_starts_over(gh, cache, hub, model_files):
    env = env_for(cache, hub.endpoint)
    hub.control(cut_after=1000)
    assert gh("model", "pull", "--revision", REV, REPO_ID, env=env).returncode == 1
    hub.clear()
    hub.control(ignore_range=True)
    r = gh("model", "pull", "--revision", REV, REPO_ID, env=env)
    assert r.returncode == 0, r
    assert cdn_gets(hub)[0]["range"] == "bytes=1000-", hub.requests()
    assert (model_dir(cache) / "model.safetensors").read_bytes() == model_files["model.safetensors"]


@pytest.mark.parametrize("mode", ["corrupt", "short"])
def test_corrupt_download_refused_and_deleted(gh, cache, hub, model_files, mode):
    weights = model_files["model.safetensors"]
    hub.control(**{mode: True})
    r = gh("model", "pull", "--revision", REV, REPO_ID, env=env_for(cache, hub.endpoint))
    assert r.returncode == 1, r
    if mode == "corrupt":
        assert "expected sha256 %s, got " % sha(weights) in r.stderr, r
    else:
        assert "expected %d bytes, got %d" % (len(weights), len(weights) - 10) in r.stderr, r
    assert "model.safetensors is corrupt" in r.stderr and "deleted" in r.stderr, r
    d = model_dir(cache)
    assert not (d / "model.safetensors").exists()
    assert not (d / "model.safetensors.part").exists()
    manifest = json.loads((d / "gymhelper-pull.json").read_text())
    assert manifest["complete"] is False

    hub.clear()  # the mirror is fixed: the next pull gets a good copy
    r = gh("model", "pull", "--revision", REV, REPO_ID, env=env_for(cache, hub.endpoint))
    assert r.returncode == 0, r
    assert (d / "model.safetensors").read_bytes() == weights


def test_no_network_names_the_host(gh, cache):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    r = gh("model", "pull", env=env_for(cache, "http://127.0.0.1:%d" % port), timeout=30)
    assert r.returncode == 1, r
    assert "cannot reach 127.0.0.1:%d" % port in r.stderr, r
    assert "HF_ENDPOINT" in r.stderr, r


def test_unknown_revision_and_bad_name(gh, cache, hub):
    r = gh("model", "pull", "--revision", "nope", REPO_ID, env=env_for(cache, hub.endpoint))
    assert r.returncode == 1, r
    assert "%s at revision nope has no config.json (HTTP 404" % REPO_ID in r.stderr, r
    r = gh("model", "pull", "../../etc", env=env_for(cache, hub.endpoint))
    assert r.returncode == 1, r
    assert "is not a model name" in r.stderr, r
    assert gh("model", "frobnicate").returncode == 2


def test_default_model_at_pinned_revision(gh, cache, model_files):
    srv = HubServer("openai/clip-vit-base-patch32", PINNED, model_files)
    try:
        r = gh("model", "pull", env=env_for(cache, srv.endpoint + "/"))
        assert r.returncode == 0, r
        paths = [x["path"] for x in srv.requests()]
        assert "/openai/clip-vit-base-patch32/resolve/%s/config.json" % PINNED in paths, paths
    finally:
        srv.stop()
    assert (model_dir(cache, "openai/clip-vit-base-patch32") / "model.safetensors").is_file()


def test_model_list(gh, cache, hub):
    env = env_for(cache, hub.endpoint)
    r = gh("model", "list", env=env)
    assert r.returncode == 0, r
    assert "no models pulled yet" in r.stdout, r
    assert gh("model", "pull", "--revision", REV, REPO_ID, env=env).returncode == 0
    hub.control(cut_after=500)
    other = HubServer("other/half-done", "main", hub.hub.files)
    try:
        other.control(cut_after=500)
        assert gh("model", "pull", "other/half-done", env=env_for(cache, other.endpoint)) \
            .returncode == 1
    finally:
        other.stop()
    r = gh("model", "list", env=env)
    assert r.returncode == 0, r
    lines = r.out_lines
    assert lines[0].split() == ["NAME", "REVISION", "SIZE", "STATUS"], r
    rows = {ln.split()[0]: ln for ln in lines[1:]}
    assert set(rows) == {"other/half-done", REPO_ID}, r
    assert rows[REPO_ID].split()[1] == REV and rows[REPO_ID].rstrip().endswith("complete"), r
    assert "MB" in rows[REPO_ID] or "kB" in rows[REPO_ID], r
    assert rows["other/half-done"].split()[1] == "main", r
    assert "incomplete" in rows["other/half-done"], r


def test_progress_bar_only_on_a_terminal(gh, cache, hub):
    hub.control(slow=0.05)
    master, slave = pty.openpty()
    env = dict(gh.binary.env)
    env.update(env_for(cache, hub.endpoint))
    try:
        p = subprocess.Popen([str(gh.binary), "model", "pull", "--revision", REV, REPO_ID],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                             env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                c = os.read(master, 4096)
            except OSError:  # EIO once the child closed its end
                break
            if not c:
                break
            chunks.append(c)
        p.wait(timeout=60)
    finally:
        os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert p.returncode == 0, text
    assert not any(m in text for m in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                       "runtime error:")), text
    bar = [s for s in text.split("\r") if "model.safetensors" in s and "%" in s]
    assert len(bar) >= 2, text  # redrawn while the slow body arrives
    assert "100.0%" in text, text
