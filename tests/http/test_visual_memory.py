# SPDX-License-Identifier: MIT
"""Visual memory end to end (issue 14): `auto` with a tiny generated CLIP checkpoint
(tests/ref/clip_ref.py) and the fake OpenAI server. A photo the paid model named is remembered;
an identical, a re-encoded and a slightly cropped copy are then answered by an earlier layer or
by the memory (`"cache": {"layer": "visual", "similarity": ...}`) with no further paid call,
counted by the fake. A second instance sharing the store finds what the first remembered. CLIP's
own answers are unconfirmed: they are kept but never answer."""
import io
import sys
from pathlib import Path

import pytest
from PIL import Image

import ghhttp as G

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ref"))
import clip_ref  # noqa: E402

THRESHOLD = 0.92  # VISUAL_MATCH_THRESHOLD's default


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip") / "tiny-clip"
    d.mkdir()
    clip_ref.make_model(str(d), seed=3)
    return d


def env_for(tmp_path, tiny, **kw):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "xdg"),
           "CLIP_MODEL": str(tiny),
           # CLIP (random weights) is never this sure, so every photo goes to the paid model,
           # whose answers (0.91) pass
           "CONFIDENCE_THRESHOLD": "0.9",
           # copies must reach the visual layer, not the pHash near-duplicate one
           "CACHE_MAX_DISTANCE": "0", "VISUAL_MEMORY_REFRESH_MS": "0"}
    env.update({k: str(v) for k, v in kw.items()})
    return env


def crop(data, frac=0.06):
    img = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = img.size
    dx, dy = int(w * frac), int(h * frac)
    out = io.BytesIO()
    img.crop((dx, dy, w - dx, h - dy)).save(out, "JPEG", quality=90)
    return out.getvalue()


def analyze_ok(s, data):
    r = s.analyze(data)
    assert r.status == 200, r
    return r.json()


def test_copies_of_a_remembered_photo_cost_no_paid_call(procs, binary, tiny, tmp_path, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake, env=env_for(tmp_path, tiny))
    first = analyze_ok(s, photos[0])
    assert first["escalated_from"] == "clip" and first["identified"], first
    assert fake.calls() == 1
    copies = {"identical": photos[0], "re-encoded": G.reencode(photos[0], "JPEG", quality=70),
              "cropped": crop(photos[0])}
    for name, data in copies.items():
        doc = analyze_ok(s, data)
        assert doc["cached"] is True, (name, doc)
        assert doc["identified"] and doc["equipment"]["slug"] == first["equipment"]["slug"], doc
        if doc["cache"]["layer"] == "visual":
            assert doc["cache"]["similarity"] >= THRESHOLD, doc
        print("%s copy: layer %s %s" % (name, doc["cache"]["layer"],
                                        doc["cache"].get("similarity", "")))
    assert doc["cache"]["layer"] == "visual", doc  # the crop changed the bytes and the pHash
    assert "visual memory" in doc["note"], doc
    assert fake.calls() == 1  # no copy cost a paid call
    ident = s.get("/api/v1/identifications?limit=1").json()
    assert ident["items"][0]["cache_layer"] == "visual", ident
    # /api/v1/cache/stats counts the layer: the crop's answer, the one remembered photo
    st = s.get("/api/v1/cache/stats").json()
    vis = st["layers"]["visual"]
    assert vis["enabled"] is True and vis["hits"] >= 1, vis
    assert vis["remembered"] == 1 and vis["entries"] == 1 and vis["bytes_per_entry"] > 0, vis
    assert vis["refresh_errors"] == 0, vis
    hits = sum(st["layers"][k]["hits"] for k in ("memory", "redis", "exact", "near", "coalesced",
                                                  "visual"))
    assert st["hit_rate"] == pytest.approx(hits / (hits + st["misses"]), abs=1e-6), st


def test_a_second_instance_answers_from_the_firsts_memory(procs, binary, tiny, tmp_path, photos):
    fake = procs.fake()
    db = tmp_path / "shared.db"
    a = procs.server(binary, provider=fake, db=db, env=env_for(tmp_path, tiny))
    b = procs.server(binary, provider=fake, db=db, env=env_for(tmp_path, tiny))
    analyze_ok(b, photos[1])  # b has loaded the memory before a remembers anything new
    assert fake.calls() == 1
    first = analyze_ok(a, photos[2])
    assert fake.calls() == 2
    doc = analyze_ok(b, crop(photos[2], 0.05))
    assert doc["cache"] and doc["cache"]["layer"] == "visual", doc
    assert doc["equipment"]["slug"] == first["equipment"]["slug"], doc
    assert fake.calls() == 2


def test_clips_own_answers_never_answer_from_memory(procs, binary, tiny, tmp_path, photos):
    """With CONFIDENCE_THRESHOLD=0 CLIP is always sure: its answers are remembered unconfirmed
    (a trusted correction may promote them later), so a copy is not answered from memory."""
    fake = procs.fake()
    s = procs.server(binary, provider=fake, env=env_for(tmp_path, tiny, CONFIDENCE_THRESHOLD=0))
    doc = analyze_ok(s, photos[3])
    assert doc["provider"] == "clip" and "escalated_from" not in doc, doc
    doc = analyze_ok(s, crop(photos[3]))
    assert doc["cached"] is False and doc["provider"] == "clip", doc
    assert fake.calls() == 0


def test_visual_memory_off(procs, binary, tiny, tmp_path, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake, env=env_for(tmp_path, tiny, VISUAL_MEMORY_MAX=0))
    analyze_ok(s, photos[4])
    doc = analyze_ok(s, crop(photos[4]))
    assert doc["cached"] is False and doc["escalated_from"] == "clip", doc
    assert fake.calls() == 2
    vis = s.get("/api/v1/cache/stats").json()["layers"]["visual"]
    assert vis == {"enabled": False, "hits": 0, "remembered": 0, "entries": 0,
                   "bytes_per_entry": 0, "refresh_errors": 0}, vis
