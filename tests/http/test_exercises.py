# SPDX-License-Identifier: MIT
"""The exercises of the catalogue over HTTP: GET /api/v1/exercises and its filters (each one
checked against the catalogue file), GET /api/v1/exercises/{slug}, the exercises inside
equipment entries and identification answers, clear 400/404 problems for filters that name
nothing, and a server that refuses a custom catalogue whose links are broken."""
import json
import os
import subprocess
from urllib.parse import quote

import pytest

import ghhttp as G

pytestmark = pytest.mark.usefixtures("fresh_fake")  # fake, server: tests/http/conftest.py

DOC = json.loads((G.REPO / "catalogue" / "equipment.json").read_text())
EXERCISES = {x["slug"]: x for x in DOC["exercises"]}
EQUIPMENT = {e["slug"]: e for e in DOC["equipment"]}
PATH = "/api/v1/exercises"


def listing(server, query=""):
    r = server.get(PATH + ("?" + query if query else ""))
    assert r.status == 200, (query, r)
    assert r.content_type == "application/json"
    doc = r.json()
    assert doc["count"] == len(doc["exercises"]), query
    assert doc["catalogue_version"] == DOC["version"]
    return [x["slug"] for x in doc["exercises"]]


def in_order(slugs):
    keep = set(slugs)
    return [s for s in EXERCISES if s in keep]


@pytest.mark.asan
def test_list_is_the_catalogue(server):
    r = server.get(PATH)
    doc = r.json()
    assert [x["slug"] for x in doc["exercises"]] == list(EXERCISES)
    assert len(EXERCISES) >= 150
    bench = next(x for x in doc["exercises"] if x["slug"] == "barbell-bench-press")
    src = EXERCISES["barbell-bench-press"]
    for k in ("name", "aliases", "primary_muscles", "secondary_muscles", "pattern", "measure"):
        assert bench[k] == src[k], k
    assert bench["equipment"] == [{"slug": s, "name": EQUIPMENT[s]["name"],
                                   "category": EQUIPMENT[s]["category"]}
                                  for s in src["equipment"]]
    assert listing(server, "") == listing(server, "pattern=&q=")  # empty filters are no filters
    assert server.get(PATH + "/").json() == doc  # trailing slash


@pytest.mark.asan
def test_each_filter_against_the_file(server):
    want = [s for s, x in EXERCISES.items() if "cable-column" in x["equipment"]]
    assert len(want) >= 10 and listing(server, "equipment=cable-column") == want
    assert listing(server, "equipment=leg-extension-machine") == ["leg-extension"]
    want = [s for s, x in EXERCISES.items()
            if "glutes" in x["primary_muscles"] + x["secondary_muscles"]]
    assert listing(server, "muscle=glutes") == want
    assert listing(server, "muscle=GLUTES") == want  # case-insensitive, as the equipment list
    for p in ("push", "pull", "hinge", "squat", "carry", "core", "cardio"):
        want = [s for s, x in EXERCISES.items() if x["pattern"] == p]
        assert want and listing(server, "pattern=" + p) == want, p
    for m in ("weight_reps", "reps", "time", "distance"):
        want = [s for s, x in EXERCISES.items() if x["measure"] == m]
        assert want and listing(server, "measure=" + m) == want, m
    both = listing(server, "equipment=dumbbell&pattern=pull&muscle=biceps&measure=weight_reps")
    assert both and both == in_order(
        s for s, x in EXERCISES.items() if "dumbbell" in x["equipment"] and x["pattern"] == "pull"
        and "biceps" in x["primary_muscles"] + x["secondary_muscles"]
        and x["measure"] == "weight_reps")


@pytest.mark.asan
def test_q_searches_names_aliases_and_app_names(server):
    got = listing(server, "q=curl")
    assert "hammer-curl" in got and "barbell-curl" in got
    assert all("curl" in (x["name"] + x["slug"] + " ".join(x["aliases"])).lower()
               for x in (EXERCISES[s] for s in got))
    got = listing(server, "q=" + quote("Lat Pulldown (Cable)"))
    assert got[0] == "lat-pulldown" and "close-grip-lat-pulldown" not in got
    # an app's name that is no alias, found through the mapper (order and plural differ)
    assert listing(server, "q=" + quote("barbell bench presses")) == ["barbell-bench-press"]
    assert listing(server, "q=zzzz-nothing") == []


@pytest.mark.asan
@pytest.mark.parametrize("query,words", [
    ("equipment=flux-capacitor", "equipment 'flux-capacitor' is not an equipment slug"),
    ("muscle=calf", "muscle 'calf' is not one of: chest"),
    ("pattern=lunge", "pattern 'lunge' is not one of: push, pull, hinge, squat, carry, core, "
                      "cardio"),
    ("measure=kg", "measure 'kg' is not one of: weight_reps, reps, time, distance"),
    ("q=" + "x" * 101, "q is 101 bytes; at most 100"),
    ("pattern=push&muscle=%ff", "muscle"),
])
def test_bad_filters_are_400(server, query, words):
    r = server.get(PATH + "?" + query)
    doc = G.is_problem(r, 400, "invalid_parameter")
    assert words in doc["detail"], doc


@pytest.mark.asan
def test_one_exercise(server):
    r = server.get(PATH + "/leg-extension")
    assert r.status == 200, r
    x = r.json()
    assert x["slug"] == "leg-extension" and x["measure"] == "weight_reps"
    assert [e["slug"] for e in x["equipment"]] == EXERCISES["leg-extension"]["equipment"]
    for slug in ("no-such-exercise", "Leg-Extension", "leg-extension-machine"):
        doc = G.is_problem(server.get(PATH + "/" + slug), 404, "exercise_not_found")
        assert "GET /api/v1/exercises lists them" in doc["detail"]
    r = server.request("HEAD", PATH + "/leg-extension")
    assert r.status == 200 and r.body == b""
    G.is_problem(server.request("POST", PATH, b""), 405, "method_not_allowed")


@pytest.mark.asan
def test_equipment_entries_list_their_exercises(server):
    for slug in ("leg-extension-machine", "cable-column", "barbell", "treadmill"):
        e = server.get("/api/v1/equipment/" + slug).json()
        want = EQUIPMENT[slug]["exercises"]
        assert [x["slug"] for x in e["exercises"]] == want
        for x in e["exercises"]:
            src = EXERCISES[x["slug"]]
            assert x == {"slug": src["slug"], "name": src["name"], "pattern": src["pattern"],
                         "measure": src["measure"]}
    every = server.get("/api/v1/equipment").json()["equipment"]
    assert all(e["exercises"] for e in every)


def test_identification_answer_lists_the_exercises(server, photos):
    doc = server.analyze(photos[0]).json()
    assert doc["identified"] is True and doc["equipment"]["slug"] == G.ANSWER
    assert [x["slug"] for x in doc["equipment"]["exercises"]] == EQUIPMENT[G.ANSWER]["exercises"]
    assert all(x["name"] for x in doc["equipment"]["exercises"])


def test_broken_custom_catalogue_is_refused(binary, tmp_path):
    doc = json.loads(json.dumps(DOC))
    next(e for e in doc["equipment"] if e["slug"] == "leg-extension-machine")["exercises"] = []
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(doc))
    env = {k: v for k, v in dict(getattr(binary, "env", os.environ)).items()
           if k not in G.SETTINGS_ENV}
    r = subprocess.run([str(binary), "serve", "--port", "0", "--catalogue", str(path),
                        "--database-url", "sqlite:///%s" % (tmp_path / "gh.db")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0
    assert ("exercise 'leg-extension' names equipment 'leg-extension-machine', whose exercises "
            "do not list it" in r.stderr), r.stderr
