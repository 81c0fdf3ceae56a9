# SPDX-License-Identifier: MIT
"""The history and the feedback loop: a person's correction is what the cache answers from then
on, for the same bytes and for near duplicates, and no provider answer overwrites it."""
import io
import json

import pytest
from PIL import Image

import ghhttp as G

pytestmark = pytest.mark.asan


def post_feedback(s, ident, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return s.request("POST", "/api/v1/identifications/%s/feedback" % ident, data,
                     {"Content-Type": "application/json"})


def reencode(data, quality=80):
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def test_correction_is_served_from_then_on(procs, binary, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake)
    first = s.analyze(photos[0]).json()
    assert first["equipment"]["slug"] == G.ANSWER and "corrected" not in first
    r = post_feedback(s, first["identification_id"], {"slug": "squat-rack"})
    assert r.status == 200, r
    doc = r.json()
    assert doc["identification"]["corrected"] is True
    assert doc["identification"]["corrected_equipment"]["slug"] == "squat-rack"
    assert doc["equipment"]["slug"] == "squat-rack"
    again = s.analyze(photos[0]).json()
    assert again["cached"] is True and again["corrected"] is True
    assert again["identified"] is True and again["equipment"]["slug"] == "squat-rack"
    assert again["confidence"] == 1.0
    near = s.analyze(reencode(photos[0])).json()
    assert near["cache"]["layer"] == "near" and near["equipment"]["slug"] == "squat-rack"
    assert fake.calls() == 1
    # a fresh provider answer (nocache) is served to that request but never replaces the fix
    fresh = s.analyze(photos[0], query="nocache=true").json()
    assert fresh["cached"] is False and fresh["equipment"]["slug"] == G.ANSWER
    assert fake.calls() == 2
    after = s.analyze(photos[0]).json()
    assert after["equipment"]["slug"] == "squat-rack" and after["corrected"] is True


def test_an_answer_is_corrected_by_its_own_id(procs, binary, photos):
    """The identification routes take history numbers (digits) and request ids: a request id
    is never all digits, or it would be read as a number. A client's numeric X-Request-ID
    names history number 1 here (another photo's), so the server answers with its own id."""
    fake = procs.fake()
    s = procs.server(binary, provider=fake)
    other = s.analyze(photos[1]).json()
    r = s.analyze(photos[0], headers={"X-Request-ID": "1"})
    assert r.status == 200, r
    mine = r.json()
    assert mine["identification_id"] != "1" and not mine["identification_id"].isdigit()
    assert r.header("X-Request-ID") == mine["request_id"] == mine["identification_id"]
    r = post_feedback(s, mine["identification_id"], {"slug": "squat-rack"})
    assert r.status == 200, r
    assert r.json()["identification"]["sha256"] == mine["image"]["sha256"]
    assert r.json()["identification"]["sha256"] != other["image"]["sha256"]
    assert s.analyze(photos[1]).json()["equipment"]["slug"] == G.ANSWER


def test_history_pages_and_lookups(procs, binary, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake)
    rids = [s.analyze(p).json()["request_id"] for p in photos[:3]]
    r = s.get("/api/v1/identifications?limit=2")
    assert r.status == 200, r
    page = r.json()
    assert [x["request_id"] for x in page["items"]] == rids[::-1][:2]
    assert page["next_before"] == page["items"][-1]["id"]
    rest = s.get("/api/v1/identifications?limit=2&before=%d" % page["next_before"]).json()
    assert [x["request_id"] for x in rest["items"]] == [rids[0]]
    assert rest["next_before"] is None
    item = rest["items"][0]
    for key in ("id", "created_at", "sha256", "phash", "equipment", "confidence", "identified",
                "cached", "provider", "model", "processing_ms", "corrected"):
        assert key in item
    assert s.get("/api/v1/identifications/%d" % item["id"]).json()["request_id"] == rids[0]
    assert s.get("/api/v1/identifications/%s" % rids[1]).json()["request_id"] == rids[1]


@pytest.mark.parametrize("path,body,status,code", [
    ("999999", {"slug": "barbell"}, 404, "identification_not_found"),
    ("no-such-request", {"slug": "barbell"}, 404, "identification_not_found"),
    ("FIRST", {"slug": "flux-capacitor"}, 422, "unknown_equipment"),
    ("FIRST", b"not json", 400, "invalid_json"),
    ("FIRST", {"name": "barbell"}, 400, "invalid_json"),
    ("FIRST", b"", 400, "invalid_json"),
])
def test_feedback_errors(procs, binary, photos, path, body, status, code):
    fake = procs.fake()
    s = procs.server(binary, provider=fake)
    rid = s.analyze(photos[0]).json()["identification_id"]
    r = post_feedback(s, rid if path == "FIRST" else path, body)
    G.is_problem(r, status, code)


def test_history_errors(procs, binary):
    s = procs.server(binary)
    G.is_problem(s.get("/api/v1/identifications?limit=0"), 400, "invalid_parameter")
    G.is_problem(s.get("/api/v1/identifications?limit=abc"), 400, "invalid_parameter")
    G.is_problem(s.get("/api/v1/identifications?before=-3"), 400, "invalid_parameter")
    G.is_problem(s.get("/api/v1/identifications/42"), 404, "identification_not_found")
    r = s.request("GET", "/api/v1/identifications/42/feedback")
    assert r.status == 405 and "POST" in r.headers.get("Allow", "")
    empty = s.get("/api/v1/identifications").json()
    assert empty == {"items": [], "next_before": None}
