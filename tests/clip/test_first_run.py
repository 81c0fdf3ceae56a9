# SPDX-License-Identifier: MIT
"""`make run`'s first-run step (scripts/first-run, issue 14): without a CLIP model it pulls the
default one from the Hub (here tests/clip/hub_server.py at the pinned revision) and starts; with
the model pulled it asks nothing of the network; offline it says in one line what to do and
returns at once so the service starts; NO_MODEL_PULL=1, CLIP_MODEL or a remote AI_PROVIDER skip
it. Release and ASan binaries; no network."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent / "ref"))
sys.path.insert(0, str(HERE))
import clip_ref  # noqa: E402
from hub_server import HubServer  # noqa: E402

DEFAULT = "openai/clip-vit-base-patch32"
PINNED = re.search(r'#define GH_MODELS_DEFAULT_REVISION\s+"([0-9a-f]{40})"',
                   (REPO / "include" / "gh" / "models.h").read_text()).group(1)
FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt")
OFFLINE_LINE = "make run: no CLIP model, and it could not be downloaded now"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny-clip")
    clip_ref.make_model(str(d), seed=5)
    srv = HubServer(DEFAULT, PINNED, {n: (d / n).read_bytes() for n in FILES})
    yield srv
    srv.stop()


def first_run(gymhelper, tmp_path, **env):
    full = dict(getattr(gymhelper, "env", os.environ))
    for k in ("CLIP_MODEL", "AI_PROVIDER", "NO_MODEL_PULL", "HF_ENDPOINT"):
        full.pop(k, None)
    full.update({"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
    full.update({k: str(v) for k, v in env.items()})
    # the deadline only stops a hang: offline must not wait for the 15 s default timeout
    return subprocess.run([str(REPO / "scripts" / "first-run"), str(gymhelper)], env=full,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_pulls_the_default_model_then_asks_nothing(gymhelper, hub, tmp_path):
    hub.clear()
    r = first_run(gymhelper, tmp_path, HF_ENDPOINT=hub.endpoint)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "xdg" / "gymhelper" / "models" / DEFAULT / "model.safetensors").is_file()
    assert OFFLINE_LINE not in r.stderr
    n = len(hub.requests())
    assert n >= len(FILES)
    r = first_run(gymhelper, tmp_path, HF_ENDPOINT=hub.endpoint)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert len(hub.requests()) == n  # already pulled: no request at all


def test_offline_says_what_to_do_and_returns(gymhelper, tmp_path):
    r = first_run(gymhelper, tmp_path, HF_ENDPOINT="http://127.0.0.1:1")
    assert r.returncode == 0  # the service still starts
    lines = [x for x in r.stderr.splitlines() if x.startswith("make run:")]
    assert len(lines) == 1 and OFFLINE_LINE in lines[0], r.stderr
    assert "gymhelper model pull" in lines[0] and "NO_MODEL_PULL=1" in lines[0]


@pytest.mark.parametrize("env", [{"NO_MODEL_PULL": "1"}, {"CLIP_MODEL": "/some/dir"},
                                 {"AI_PROVIDER": "openai"}])
def test_skipped(gymhelper, hub, tmp_path, env):
    hub.clear()
    r = first_run(gymhelper, tmp_path, HF_ENDPOINT=hub.endpoint, **env)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r
    assert hub.requests() == []


def test_bad_connect_timeout_is_a_usage_error(gh):
    r = gh("model", "pull", "--connect-timeout-ms", "0")
    assert r.returncode == 2
