# SPDX-License-Identifier: MIT
"""The local CLIP provider end to end: `serve` with a tiny generated checkpoint
(tests/ref/clip_ref.py) answers with provider "clip" (a catalogue slug, or "not sure" with
candidates whose probabilities are sane), writes the text-embedding cache on its first start
and reads it on the next; `auto` escalates to a remote provider (tests/fake_openai.py) when
CLIP is unsure and says so, and leaves it alone when CLIP is sure; a missing model keeps the
server up with health explaining and analyze answering 503 naming `gymhelper model pull`."""
import sys
from pathlib import Path

import subprocess

import pytest

import ghhttp as G

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ref"))
import clip_ref  # noqa: E402

DEFAULT = "openai/clip-vit-base-patch32"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip") / "tiny-clip"
    d.mkdir()
    clip_ref.make_model(str(d), seed=3)
    return d


def clip_env(xdg, **kw):
    env = {"XDG_CACHE_HOME": str(xdg), "HOME": str(xdg)}
    env.update({k: str(v) for k, v in kw.items()})
    return env


def textemb_files(xdg):
    d = Path(xdg) / "gymhelper" / "textemb"
    return sorted(d.glob("*.bin")) if d.is_dir() else []


def log_messages(server):
    return [o.get("msg", "") for o in server.log_lines()]


def check_probabilities(doc):
    """Confidence, alternatives and candidates are probabilities of one softmax, best first."""
    assert 0 < doc["confidence"] <= 1, doc
    for key in ("alternatives", "candidates"):
        ps = [c["confidence"] for c in doc[key]]
        assert all(0 <= p <= 1 for p in ps), doc
        assert ps == sorted(ps, reverse=True), doc
        assert sum(ps) <= 1 + 1e-6, doc
        assert all(c["name"] and c["slug"] for c in doc[key]), doc
    if doc["identified"]:
        assert doc["equipment"]["slug"], doc
        assert all(c["confidence"] <= doc["confidence"] for c in doc["alternatives"]), doc
    else:
        assert doc["equipment"] is None
        if doc["candidates"]:
            assert doc["candidates"][0]["confidence"] == pytest.approx(doc["confidence"]), doc


@pytest.mark.asan
def test_clip_answers_and_caches_text_embeddings(procs, binary, tiny, tmp_path, photos):
    xdg = tmp_path / "xdg"
    env = clip_env(xdg, AI_PROVIDER="clip", CLIP_MODEL=tiny)
    s = procs.server(binary, env=env)
    h = s.get("/health").json()
    assert h["provider"]["name"] == "clip" and h["provider"]["model"] == "tiny-clip", h
    assert h["provider"]["ready"] is True, h
    assert h["status"] == "ok", h
    # the kernels in use are named, not silent: f32 by default, on the CPU's best set
    assert "layers f32" in h["provider"]["kernels"], h
    files = textemb_files(xdg)
    assert len(files) == 1, files
    first = files[0].stat()
    assert any("embedding" in m and "prompts" in m for m in log_messages(s)), s.stderr_text()
    for img in photos[:3]:
        r = s.analyze(img)
        assert r.status == 200, r
        doc = r.json()
        assert doc["provider"] == "clip" and doc["model"] == "tiny-clip", doc
        assert doc["usage"] == {"prompt_tokens": 0, "completion_tokens": 0}, doc
        assert "escalated_from" not in doc, doc
        check_probabilities(doc)
        if not doc["identified"] and not doc["candidates"]:
            assert "does not look like gym equipment" in doc["note"], doc
    assert s.stop() == 0

    # second start: the cache is read, not rebuilt
    s2 = procs.server(binary, env=env)
    assert textemb_files(xdg) == files
    assert files[0].stat().st_mtime_ns == first.st_mtime_ns
    msgs = log_messages(s2)
    assert any("text embeddings from the cache" in m for m in msgs), s2.stderr_text()
    assert not any("embedding" in m and "prompts" in m for m in msgs), msgs
    r = s2.analyze(photos[3])
    assert r.status == 200 and r.json()["provider"] == "clip", r


def test_auto_escalates_when_clip_is_unsure(procs, binary, tiny, tmp_path, photos):
    fake = procs.fake()
    env = clip_env(tmp_path / "xdg", CLIP_MODEL=tiny, CONFIDENCE_THRESHOLD=1)
    s = procs.server(binary, provider=fake, env=env)
    assert s.get("/health").json()["provider"]["name"] == "clip"
    r = s.analyze(photos[0])
    assert r.status == 200, r
    doc = r.json()
    assert doc["provider"] == "openai" and doc["model"].startswith(G.MODEL), doc
    assert doc["escalated_from"] == "clip", doc
    assert "CLIP" in doc["note"] and "openai was asked" in doc["note"], doc
    assert fake.calls() == 1


def test_failed_escalation_answers_with_clips_candidates_uncached(procs, binary, tiny, tmp_path,
                                                                   photos):
    """The remote provider failing must not cost the person an answer (CLIP's candidates come
    back, with the reason) nor cache CLIP's doubt for the TTL (the next try asks again)."""
    fake = procs.fake(mode="server_error")
    env = clip_env(tmp_path / "xdg", CLIP_MODEL=tiny, CONFIDENCE_THRESHOLD=1, PROVIDER_RETRIES=0)
    s = procs.server(binary, provider=fake, env=env)
    for attempt in (1, 2):
        r = s.analyze(photos[1])
        assert r.status == 200, r
        doc = r.json()
        assert doc["provider"] == "clip" and doc["cached"] is False, doc
        assert "escalated_from" not in doc, doc
        assert "asking openai failed" in doc["note"], doc
        assert doc["identified"] is False and doc["candidates"], doc
        check_probabilities(doc)
        assert fake.calls() == attempt  # not cached: the second upload asks again
    assert s.stats()["entries"] == 0


def test_auto_keeps_sure_clip_answers_local(procs, binary, tiny, tmp_path, photos):
    fake = procs.fake()
    env = clip_env(tmp_path / "xdg", CLIP_MODEL=tiny, CONFIDENCE_THRESHOLD=0)
    s = procs.server(binary, provider=fake, env=env)
    local = escalated = 0
    for img in photos[:4]:
        r = s.analyze(img)
        assert r.status == 200, r
        doc = r.json()
        if doc.get("escalated_from"):
            # only CLIP's "not gym equipment" gate escalates when every probability is sure
            assert doc["provider"] == "openai" and "no gym equipment" in doc["note"], doc
            escalated += 1
        else:
            assert doc["provider"] == "clip" and doc["identified"] is True, doc
            local += 1
    assert local >= 1
    assert fake.calls() == escalated


def test_auto_uses_the_pulled_default_model(procs, binary, tiny, tmp_path, photos):
    xdg = tmp_path / "xdg"
    pulled = xdg / "gymhelper" / "models" / DEFAULT
    pulled.mkdir(parents=True)
    for f in tiny.iterdir():
        (pulled / f.name).write_bytes(f.read_bytes())
    s = procs.server(binary, env=clip_env(xdg))  # AI_PROVIDER unset: auto
    h = s.get("/health").json()
    assert h["provider"]["name"] == "clip" and h["provider"]["model"] == DEFAULT, h
    doc = s.analyze(photos[0]).json()
    assert doc["provider"] == "clip" and doc["model"] == DEFAULT, doc


@pytest.mark.asan
@pytest.mark.parametrize("setting", [{"AI_PROVIDER": "clip"},
                                     {"CLIP_MODEL": "nobody/no-such-model"}])
def test_missing_model_keeps_serving_and_names_the_command(procs, binary, tmp_path, photos,
                                                           setting):
    s = procs.server(binary, env=clip_env(tmp_path / "xdg", **setting))
    h = s.get("/health").json()
    assert h["status"] == "degraded", h
    assert h["provider"]["name"] == "clip" and h["provider"]["ready"] is False, h
    assert "gymhelper model pull" in h["provider"]["detail"], h
    if "CLIP_MODEL" in setting:
        assert "nobody/no-such-model not found" in h["provider"]["detail"], h
    doc = G.is_problem(s.analyze(photos[0]), 503, "provider_unavailable")
    assert "gymhelper model pull" in doc["detail"], doc
    assert s.get("/api/v1/equipment").status == 200  # the rest still works


def test_clip_precision_setting_reaches_the_engine(procs, binary, tiny, tmp_path, photos):
    env = clip_env(tmp_path / "xdg", AI_PROVIDER="clip", CLIP_MODEL=tiny, CLIP_PRECISION="int8")
    s = procs.server(binary, env=env)
    h = s.get("/health").json()
    assert h["provider"]["ready"] is True and "layers int8" in h["provider"]["kernels"], h
    r = s.analyze(photos[0])
    assert r.status == 200 and r.json()["provider"] == "clip", r
    # the engine's batch counters are on /metrics (tests/clip/test_engine.py shows passes shared)
    m = {line.split()[0]: float(line.split()[1]) for line in s.get("/metrics").body.decode().splitlines()
         if line.startswith("gymhelper_clip_")}
    assert m["gymhelper_clip_images_total"] >= 1, m
    assert 1 <= m["gymhelper_clip_image_passes_total"] <= m["gymhelper_clip_image_calls_total"], m
    assert s.stop() == 0


@pytest.mark.parametrize("threads", [1, 3])
def test_clip_threads_setting_reaches_the_engine(procs, binary, tiny, tmp_path, photos, threads):
    """CLIP_THREADS end to end: the engine runs on exactly that many threads (named in /health,
    whatever the machine's core count) and answers."""
    env = clip_env(tmp_path / "xdg", AI_PROVIDER="clip", CLIP_MODEL=tiny, CLIP_THREADS=threads)
    s = procs.server(binary, env=env)
    h = s.get("/health").json()
    assert h["provider"]["ready"] is True, h
    assert " on %d threads:" % threads in h["provider"]["kernels"], h
    r = s.analyze(photos[0])
    assert r.status == 200 and r.json()["provider"] == "clip", r
    assert s.stop() == 0
    assert not s.sanitizer_reports(), G._sanitizer_excerpt(s.stderr_text())


@pytest.mark.parametrize("name,value,words", [
    ("CLIP_PRECISION", "int4", ["CLIP_PRECISION=int4", "f32, bf16, int8 or auto"]),
    ("CLIP_THREADS", "300", ["CLIP_THREADS", "256"]),
])
def test_a_bad_clip_setting_stops_the_start(binary, tiny, tmp_path, name, value, words):
    env = clip_env(tmp_path / "xdg", AI_PROVIDER="clip", CLIP_MODEL=tiny, **{name: value})
    r = subprocess.run([str(binary), "serve", "--port", "0"], env={**binary.env, **env},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert all(w in r.stderr for w in words), r.stderr
