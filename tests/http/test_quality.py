# SPDX-License-Identifier: MIT
"""Measured escalation (issue 14) end to end with a tiny generated CLIP checkpoint and the fake
OpenAI server: every escalated photo records CLIP's own answer beside the paid model's; with
SHADOW_SAMPLE_RATE=1 every sure CLIP answer is also asked of the paid model (counted by the
fake) while the person still gets CLIP's answer, and the paid label is what the visual memory
learns; /api/v1/quality, /metrics and `gymhelper quality` report the samples by confidence,
with a person's correction taken as ground truth."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ghhttp as G

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_visual_memory import crop, env_for, tiny  # noqa: E402,F401


def analyze_ok(s, data):
    r = s.analyze(data)
    assert r.status == 200, r
    return r.json()


def quality(s, query=""):
    r = s.get("/api/v1/quality" + query)
    assert r.status == 200, r
    return r.json()


def test_escalated_photos_are_measured(procs, binary, tiny, tmp_path, photos):  # noqa: F811
    fake = procs.fake()
    s = procs.server(binary, provider=fake, env=env_for(tmp_path, tiny))
    docs = [analyze_ok(s, p) for p in photos[:3]]
    assert all(d["escalated_from"] == "clip" for d in docs), docs
    q = quality(s)
    assert q["samples"] == 3 and q["escalations"] == 3, q
    assert sum(b["escalated"] for b in q["buckets"]) == 3 and q["shadow_sample_rate"] == 0.05, q
    assert all(b["to"] <= 0.9 + 1e-9 for b in q["buckets"]), q  # all were under the threshold
    assert q["confidence_threshold"] == pytest.approx(0.9) and q["precision_target"] == 0.95
    r = s.request("POST", "/api/v1/identifications/%s/feedback" % docs[0]["identification_id"],
                  json.dumps({"slug": "squat-rack"}).encode(),
                  {"Content-Type": "application/json"})
    assert r.status == 200, r
    assert sum(b["corrected"] for b in quality(s)["buckets"]) == 1
    G.is_problem(s.get("/api/v1/quality?precision=2"), 400, "invalid_parameter")
    metrics = s.get("/metrics").body.decode()
    assert "gymhelper_quality_samples_total 3" in metrics, metrics
    s.stop()
    out = subprocess.run([str(binary), "quality", "--precision", "0.5", "--database-url",
                          "sqlite:///%s" % s.db], env=dict(getattr(binary, "env", {}),
                                                          CONFIDENCE_THRESHOLD="0.9"),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out
    assert "samples 3," in out.stdout and "CONFIDENCE_THRESHOLD now 0.90" in out.stdout, out
    bad = subprocess.run([str(binary), "quality", "--precision", "x"], capture_output=True,
                         text=True, timeout=60, env=getattr(binary, "env", None))
    assert bad.returncode == 2 and "--precision" in bad.stderr, bad


def test_shadow_samples_check_sure_answers(procs, binary, tiny, tmp_path, photos):  # noqa: F811
    fake = procs.fake()
    s = procs.server(binary, provider=fake,
                     env=env_for(tmp_path, tiny, CONFIDENCE_THRESHOLD=0, SHADOW_SAMPLE_RATE=1))
    for p in photos[5:7]:
        doc = analyze_ok(s, p)
        assert doc["provider"] == "clip" and "escalated_from" not in doc, doc
    assert fake.calls() == 2  # each sure answer was also asked of the paid model
    q = quality(s)
    assert q["samples"] == 2 and q["escalations"] == 0, q
    assert sum(b["shadow"] for b in q["buckets"]) == 2, q
    # the paid model's label (the fake answers barbell) is the one remembered, confirmed
    doc = analyze_ok(s, crop(photos[5]))
    assert doc["cache"] and doc["cache"]["layer"] == "visual", doc
    assert doc["equipment"]["slug"] == G.ANSWER, doc
    assert fake.calls() == 2
