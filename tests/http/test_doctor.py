# SPDX-License-Identifier: MIT
"""`gymhelper doctor` (issue 14): one line per check, a one-line fix under each failure, exit
status 1 when anything failed. A set-up that works (a tiny CLIP checkpoint, SQLite, the fake
OpenAI server) passes every check; then each check is broken on its own (an unreachable
PostgreSQL and Redis, no model, a broken model, the reference kernels forced, an unreachable
provider, a refused key) and must fail with its fix while the other checks still run."""
import re
import sys
from pathlib import Path

import pytest

import ghhttp as G

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ref"))
import clip_ref  # noqa: E402

pytestmark = pytest.mark.asan

CHECKS = ("catalogue", "store", "redis", "model", "kernels", "provider")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip") / "tiny-clip"
    d.mkdir()
    clip_ref.make_model(str(d), seed=3)
    return d


def doctor(binary, tmp_path, *args, **env):
    base = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "xdg")}
    base.update({k: str(v) for k, v in env.items()})
    r = G.run_cli(binary, ["doctor", "--database-url", "sqlite:///%s" % (tmp_path / "d.db"),
                           *args], env=base, timeout=120)
    out = r.stdout.decode()
    status = {}
    for line in out.splitlines():
        m = re.match(r"^(ok|skip|FAIL)\s+(\w+)\s", line)
        if m:
            status[m.group(2)] = m.group(1)
    return r.returncode, out, status


def fix_of(out, check):
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("FAIL") and line.split()[1] == check:
            assert lines[i + 1].strip().startswith("fix: "), out
            return lines[i + 1].strip()[5:]
    raise AssertionError("no FAIL line for %s:\n%s" % (check, out))


def test_a_working_setup_passes(binary, procs, tiny, tmp_path):
    fake = procs.fake()
    rc, out, status = doctor(binary, tmp_path, "--openai-base-url", fake.base_url,
                             CLIP_MODEL=tiny, OPENAI_API_KEY=G.KEY)
    assert rc == 0, out
    assert status == {"catalogue": "ok", "store": "ok", "redis": "skip", "model": "ok",
                      "kernels": "ok", "provider": "ok"}, out
    assert out.rstrip().endswith("all good")
    assert fake.calls() == 0  # the model list is not a chat call: nothing is billed


def test_redis_that_answers(binary, tiny, tmp_path, redis_server):
    rc, out, status = doctor(binary, tmp_path, CLIP_MODEL=tiny, REDIS_URL=redis_server.url())
    assert rc == 0 and status["redis"] == "ok", out


@pytest.mark.parametrize("case", ["store", "redis", "no_model", "broken_model", "kernels",
                                  "unreachable", "refused_key"])
def test_each_failing_check_says_how_to_fix_it(binary, procs, tiny, tmp_path, case):
    args, env = [], {"CLIP_MODEL": tiny}
    check, fix = case, None
    if case == "store":
        args = ["--database-url", "postgresql://gh:secretpw@127.0.0.1:1/gh"]
        fix = "PostgreSQL runs"
    elif case == "redis":
        env["REDIS_URL"] = "redis://127.0.0.1:1/0"
        fix = "redis-server"
    elif case == "no_model":
        env = {"AI_PROVIDER": "clip"}
        check, fix = "model", "gymhelper model pull"
    elif case == "broken_model":
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "config.json").write_text("{not json")
        env["CLIP_MODEL"] = broken
        check, fix = "model", "checkpoint"
    elif case == "kernels":
        env["GH_CLIP_ISA"] = "ref"
        fix = "unset GH_CLIP_ISA"
    elif case == "unreachable":
        env["OPENAI_API_KEY"] = G.KEY
        args = ["--openai-base-url", "http://127.0.0.1:1/v1"]
        check, fix = "provider", "OPENAI_BASE_URL"
    elif case == "refused_key":
        fake = procs.fake()
        env["OPENAI_API_KEY"] = "sk-not-the-right-one"
        args = ["--openai-base-url", fake.base_url]
        check, fix = "provider", "OPENAI_API_KEY"
    rc, out, status = doctor(binary, tmp_path, *args, **env)
    assert rc == 1, out
    assert status[check] == "FAIL", out
    assert fix in fix_of(out, check), out
    assert set(status) == set(CHECKS), out  # the other checks still ran
    assert "1 problem found" in out, out
    assert "sk-not-the-right-one" not in out and "secretpw" not in out


def test_bad_usage(binary):
    r = G.run_cli(binary, ["doctor", "extra"])
    assert r.returncode == 2 and "usage: gymhelper doctor" in r.stderr.decode()
