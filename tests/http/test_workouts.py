# SPDX-License-Identifier: MIT
"""The workout log (issue 12) on both store backends: gyms, workouts and sets with idempotent
client ids, one user's data invisible to another (their ids answer 404), sets that do not fit
their exercise (422), pre-fill, progress with records, sets per muscle per week, the CSV
export, imports of Strong (both layouts) and Hevy, re-imports that add nothing, and an
export imported by another user that exports the same."""
import csv
import io
import itertools
import json
from pathlib import Path

import pytest

import ghhttp as G

pytestmark = pytest.mark.asan

DATA = Path(__file__).resolve().parent / "workouts"
SECRET = "test-secret-0123456789-abcdefghijklmnop"
PASSWORDS = {name: name + "-password-1" for name in
             ("alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivy", "judy",
              "kate")}
DATABASES = itertools.count()  # pytest may set a module fixture up again: a new database each
IMPORTER = {"strong_semicolon.csv": "dave", "strong_comma.csv": "erin", "hevy.csv": "frank"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, module_procs, binary, tmp_path_factory, run_gymhelper, postgres):
    """A server with AUTH_MODE=required and three users, on one backend; tokens by name."""
    if request.param == "sqlite":
        url = "sqlite:///%s" % (tmp_path_factory.mktemp("workouts") / "gh.db")
    else:
        url = postgres.create_database("workouts_%s_%d" % (binary.variant, next(DATABASES)))
    for name, pw in PASSWORDS.items():
        r = run_gymhelper(binary, "user", "add", name, "--password-stdin", "--database-url", url,
                          input=(pw + "\n").encode())
        assert r.returncode == 0, r
    s = module_procs.server(binary, args=["--database-url", url, "--auth-mode", "required"],
                            env={"JWT_SECRET": SECRET, "LOGIN_MAX_FAILURES": "100"})
    tokens = {}
    for name, pw in PASSWORDS.items():
        r = s.request("POST", "/api/v1/auth/login",
                      json.dumps({"username": name, "password": pw}).encode(),
                      {"Content-Type": "application/json"})
        assert r.status == 200, r
        tokens[name] = r.json()["access_token"]
    return {"server": s, "tokens": tokens}


def call(world, who, method, path, body=None, ctype="application/json"):
    h = {"Authorization": "Bearer " + world["tokens"][who]}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = ctype
    return world["server"].request(method, path, data, h)


def new_workout(world, who, cid, **kw):
    body = {"client_id": cid}
    body.update(kw)
    r = call(world, who, "POST", "/api/v1/workouts", body)
    assert r.status == 201, r
    return r.json()


def test_gyms_idempotent_and_equipment(world):
    body = {"client_id": "gym-home-0001", "name": "Home", "equipment": ["smith-machine"]}
    a = call(world, "alice", "POST", "/api/v1/gyms", body)
    assert a.status == 201, a
    b = call(world, "alice", "POST", "/api/v1/gyms", body)
    assert b.status == 200 and b.json()["id"] == a.json()["id"]
    gid = a.json()["id"]
    for _ in range(2):  # "I have this here" twice is one
        r = call(world, "alice", "PUT", "/api/v1/gyms/%d/equipment/leg-press-machine" % gid)
        assert r.status == 200, r
    slugs = [e["slug"] for e in r.json()["equipment"]]
    assert slugs == ["leg-press-machine", "smith-machine"]
    r = call(world, "alice", "DELETE", "/api/v1/gyms/%d/equipment/smith-machine" % gid)
    assert [e["slug"] for e in r.json()["equipment"]] == ["leg-press-machine"]
    r = call(world, "alice", "PATCH", "/api/v1/gyms/%d" % gid, {"name": "Garage"})
    assert r.status == 200 and r.json()["name"] == "Garage"
    assert [g["id"] for g in call(world, "alice", "GET", "/api/v1/gyms").json()["items"]] == [gid]
    assert G.is_problem(call(world, "alice", "PUT", "/api/v1/gyms/%d/equipment/no-such" % gid),
                        404, "equipment_not_found")
    assert G.is_problem(call(world, "alice", "POST", "/api/v1/gyms",
                             {"client_id": "gym-bad-00001", "name": "X", "equipment": ["nope"]}),
                        422, "unknown_equipment")
    # bob sees none of it
    assert call(world, "bob", "GET", "/api/v1/gyms").json()["items"] == []
    for method, path, b in (("GET", "/api/v1/gyms/%d" % gid, None),
                            ("PATCH", "/api/v1/gyms/%d" % gid, {"name": "Mine"}),
                            ("PUT", "/api/v1/gyms/%d/equipment/smith-machine" % gid, None),
                            ("DELETE", "/api/v1/gyms/%d" % gid, None)):
        assert G.is_problem(call(world, "bob", method, path, b), 404, "gym_not_found"), path
    assert G.is_problem(call(world, "bob", "POST", "/api/v1/workouts",
                             {"client_id": "wo-bob-gym-01", "gym_id": gid}), 404, "gym_not_found")
    assert call(world, "alice", "DELETE", "/api/v1/gyms/%d" % gid).status == 204
    assert G.is_problem(call(world, "alice", "GET", "/api/v1/gyms/%d" % gid), 404, "gym_not_found")


def test_set_replays_create_one_set(world):
    w = new_workout(world, "alice", "wo-replay-0001", started_at="2026-11-02T18:00:00Z")
    body = {"client_id": "set-replay-001", "exercise": "barbell-bench-press", "weight": 80,
            "unit": "kg", "reps": 5}
    first = call(world, "alice", "POST", "/api/v1/workouts/%d/sets" % w["id"], body)
    assert first.status == 201, first
    again = call(world, "alice", "POST", "/api/v1/workouts/%d/sets" % w["id"], body)
    assert again.status == 200 and again.json() == first.json()
    got = call(world, "alice", "GET", "/api/v1/workouts/%d" % w["id"]).json()
    assert [s["client_id"] for s in got["sets"]] == ["set-replay-001"]
    r = call(world, "alice", "POST", "/api/v1/workouts", {"client_id": "wo-replay-0001"})
    assert r.status == 200 and r.json()["id"] == w["id"]
    items = call(world, "alice", "GET", "/api/v1/workouts?limit=100").json()["items"]
    assert [i["set_count"] for i in items if i["id"] == w["id"]] == [1]


def test_privacy_between_users(world):
    w = new_workout(world, "alice", "wo-private-001")
    s = call(world, "alice", "POST", "/api/v1/workouts/%d/sets" % w["id"],
             {"client_id": "set-private-01", "exercise": "pull-up", "reps": 8}).json()
    base = "/api/v1/workouts/%d" % w["id"]
    for method, path, body in (("GET", base, None), ("PATCH", base, {"notes": "x"}),
                               ("DELETE", base, None),
                               ("POST", base + "/sets",
                                {"client_id": "set-bob-00001", "exercise": "pull-up", "reps": 1})):
        assert G.is_problem(call(world, "bob", method, path, body), 404, "workout_not_found"), path
    for method, body in (("PATCH", {"reps": 1}), ("DELETE", None)):
        assert G.is_problem(call(world, "bob", method, base + "/sets/%d" % s["id"], body), 404,
                            "set_not_found")
    assert all(i["id"] != w["id"] for i in
               call(world, "bob", "GET", "/api/v1/workouts?limit=100").json()["items"])
    assert call(world, "bob", "GET", "/api/v1/progress/exercises/pull-up/last").json()["sets"] == []
    # a replay of alice's client_id by bob is bob's own set, not alice's
    wb = new_workout(world, "bob", "wo-bob-000001")
    r = call(world, "bob", "POST", "/api/v1/workouts/%d/sets" % wb["id"],
             {"client_id": "set-private-01", "exercise": "pull-up", "reps": 3})
    assert r.status == 201 and r.json()["reps"] == 3
    assert call(world, "alice", "GET", base).json()["sets"][0]["reps"] == 8


def test_bad_input_answers_problems(world):
    w = new_workout(world, "alice", "wo-badinput-01")
    sets = "/api/v1/workouts/%d/sets" % w["id"]
    cases = [
        ({"client_id": "short", "exercise": "pull-up", "reps": 3}, 400, "invalid_field"),
        ({"client_id": "set-bad-0001", "exercise": "running", "reps": 5}, 422, "set_does_not_fit"),
        ({"client_id": "set-bad-0002", "exercise": "barbell-bench-press", "reps": 5}, 422,
         "set_does_not_fit"),
        ({"client_id": "set-bad-0003", "exercise": "barbell-bench-press", "weight": 80,
          "unit": "stone", "reps": 5}, 400, "invalid_field"),
        ({"client_id": "set-bad-0004", "exercise": "plank"}, 422, "set_does_not_fit"),
        ({"client_id": "set-bad-0005", "exercise": "no-such-lift", "reps": 5}, 422,
         "unknown_exercise"),
        ({"client_id": "set-bad-0006", "exercise": "pull-up", "reps": "ten"}, 400,
         "invalid_field"),
        ({"client_id": "set-bad-0007", "exercise": "pull-up", "reps": 5, "rpe": 11}, 422,
         "set_does_not_fit"),
    ]
    for body, status, code in cases:
        r = call(world, "alice", "POST", sets, body)
        assert G.is_problem(r, status, code), (body, r)
        assert "detail" in r.json() and len(r.json()["detail"]) > 10
    assert G.is_problem(call(world, "alice", "POST", sets, b"{not json"), 400, "invalid_json")
    assert G.is_problem(call(world, "alice", "POST", sets, b"x=1", "text/plain"), 415,
                        "unsupported_media_type")
    assert G.is_problem(call(world, "alice", "POST", "/api/v1/workouts",
                             {"client_id": "wo-bad-time-1", "started_at": "yesterday"}), 400,
                        "invalid_field")
    assert G.is_problem(call(world, "alice", "GET", "/api/v1/workouts/abc"), 404,
                        "workout_not_found")
    assert G.is_problem(call(world, "alice", "GET", "/api/v1/workouts?limit=0"), 400,
                        "invalid_parameter")
    assert G.is_problem(call(world, "alice", "GET", "/api/v1/progress/exercises/nope"), 404,
                        "exercise_not_found")
    assert G.is_problem(call(world, "alice", "PUT", "/api/v1/workouts"), 405,
                        "method_not_allowed")
    assert G.is_problem(call(world, "alice", "POST", "/api/v1/imports?format=fitbod",
                             b"a,b\n", "text/csv"), 400, "invalid_parameter")
    assert G.is_problem(call(world, "alice", "POST", "/api/v1/imports?format=strong",
                             b"a,b\n1,2\n", "text/csv"), 422, "invalid_csv")
    assert G.is_problem(world["server"].get("/api/v1/workouts"), 401, "unauthorized")


def test_prefill_progress_and_records(world):
    who = "carol"
    for day, weight in ((2, 80), (9, 85)):
        w = new_workout(world, who, "wo-prog-%05d" % day,
                        started_at="2026-11-%02dT18:00:00Z" % day)
        sets = "/api/v1/workouts/%d/sets" % w["id"]
        for i, (kg, reps, warm) in enumerate(((40, 10, True), (weight, 5, False),
                                              (weight, 5, False))):
            r = call(world, who, "POST", sets,
                     {"client_id": "set-prog-%02d-%d" % (day, i), "exercise": "barbell-bench-press",
                      "weight": kg, "reps": reps, "warmup": warm,
                      "performed_at": "2026-11-%02dT18:%02d:00Z" % (day, i)})
            assert r.status == 201, r
        if day == 9:
            assert r.json()["records"] == []  # the same as the set before it
    last = call(world, who, "GET", "/api/v1/progress/exercises/barbell-bench-press/last").json()
    assert last["workout_id"] == w["id"] and [s["weight"] for s in last["sets"]] == [40, 85, 85]
    doc = call(world, who, "GET", "/api/v1/progress/exercises/barbell-bench-press").json()
    assert [round(s["e1rm_kg"], 2) for s in doc["sessions"]] == [93.33, 99.17]
    assert [s["volume_kg"] for s in doc["sessions"]] == [800, 850]  # warm-ups not counted
    assert [s["sets"] for s in doc["sessions"]] == [2, 2]
    assert round(doc["e1rm_best_kg"], 2) == 99.17
    kinds = {r["kind"]: r["value"] for r in doc["records"]}
    assert kinds["weight"] == 85 and round(kinds["e1rm"], 2) == 99.17
    # the first 85 kg set set records when it was logged; a pound set converts to kg
    day9 = call(world, who, "GET", "/api/v1/workouts/%d" % w["id"]).json()["sets"]
    assert day9[0]["records"] == [] and set(day9[1]["records"]) == {"e1rm", "weight", "volume"}
    r = call(world, who, "POST", "/api/v1/workouts/%d/sets" % w["id"],
             {"client_id": "set-prog-lb-01", "exercise": "barbell-bench-press", "weight": 200,
              "unit": "lb", "reps": 2})
    assert abs(r.json()["weight_kg"] - 90.718) < 0.01 and "weight" in r.json()["records"]
    m = call(world, who, "GET", "/api/v1/progress/muscles?weeks=104").json()
    assert m["target"] == {"min": 10, "max": 20} and "chest" in m["muscles"]
    counted = {wk["week"]: wk["sets"].get("chest", 0) for wk in m["weeks"]}
    assert counted["2026-W45"] == 2 and counted["2026-W46"] == 2


def import_file(world, who, fmt, name):
    r = call(world, who, "POST", "/api/v1/imports?format=%s" % fmt,
             (DATA / name).read_bytes(), "text/csv")
    assert r.status == 200, r
    return r.json()


@pytest.mark.parametrize("fmt,name,imported,unmapped", [
    ("strong", "strong_semicolon.csv", 6, {"Zercher Good Morning (Band)": [6],
                                          "Squat (Barbell)": [9]}),
    ("strong", "strong_comma.csv", 4, {"Front Raise (Cable)": [6], "Bench Press (Barbell)": [7]}),
    ("hevy", "hevy.csv", 3, {"Treadmill": [5], "Underwater Basket Weaving": [6]}),
])
def test_import_and_reimport(world, fmt, name, imported, unmapped):
    who = IMPORTER[name]  # one user per file: pytest may run the tests in any order
    rows = sum(1 for line in (DATA / name).read_text().splitlines()[1:] if line.strip())
    doc = import_file(world, who, fmt, name)
    assert doc["imported"] == imported and doc["duplicates"] == 0
    assert {n["name"]: n["rows"] for n in doc["not_mapped"]} == unmapped
    assert all(n["reason"] for n in doc["not_mapped"])
    listed = sum(len(n["rows"]) for n in doc["not_mapped"])
    assert imported + listed == rows  # every row imported or listed with its reason
    again = import_file(world, who, fmt, name)
    assert again["imported"] == 0 and again["duplicates"] == imported
    # multipart works as well, and adds nothing either
    body, ctype = G.multipart([("file", name, "text/csv", (DATA / name).read_bytes())])
    r = world["server"].request("POST", "/api/v1/imports?format=%s" % fmt, body,
                                {"Authorization": "Bearer " + world["tokens"][who],
                                 "Content-Type": ctype})
    assert r.status == 200 and r.json()["imported"] == 0, r


def test_imported_values(world):
    import_file(world, "gina", "strong", "strong_semicolon.csv")
    text = call(world, "gina", "GET", "/api/v1/exports/workouts.csv").body.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    lat = [r for r in rows if r["exercise"] == "lat-pulldown"][0]
    assert lat["unit"] == "lb" and abs(float(lat["weight_kg"]) - 54.431) < 0.01
    run = [r for r in rows if r["exercise"] == "running"][0]
    assert float(run["distance_m"]) == 5000 and run["duration_s"] == "1500"
    bench = [r for r in rows if r["exercise"] == "barbell-bench-press"
             and r["started_at"].startswith("2024-03-04")]
    assert [r["warmup"] for r in bench] == ["1", "0", "0"] and bench[2]["weight"] == "82.5"
    assert bench[0]["ended_at"] == "2024-03-04T19:05:00Z"


def test_export_import_round_trip(world):
    g = call(world, "hank", "POST", "/api/v1/gyms",
             {"client_id": "gym-hank-0001", "name": "=Hank's, \"gym\"",
              "equipment": ["smith-machine"]}).json()
    w = new_workout(world, "hank", "wo-hank-00001", started_at="2026-10-01T07:00:00Z",
                    ended_at="2026-10-01T08:00:00Z", gym_id=g["id"], notes="line one,\nline two")
    new_workout(world, "hank", "wo-hank-00002", started_at="2026-10-03T07:00:00Z")  # no sets
    for i, body in enumerate(({"exercise": "barbell-bench-press", "weight": 135, "unit": "lb",
                               "reps": 8, "rpe": 7.5, "warmup": True},
                              {"exercise": "running", "distance_m": 5000, "duration_s": 1500},
                              {"exercise": "plank", "duration_s": 60},
                              {"exercise": "pull-up", "reps": 9})):
        body.update(client_id="set-hank-%04d" % i,
                    performed_at="2026-10-01T07:%02d:00Z" % (10 + i))
        assert call(world, "hank", "POST", "/api/v1/workouts/%d/sets" % w["id"], body).status == 201
    src = call(world, "hank", "GET", "/api/v1/exports/workouts.csv")
    assert src.status == 200 and src.header("Content-Type").startswith("text/csv")
    doc = call(world, "ivy", "POST", "/api/v1/imports?format=gymhelper", src.body, "text/csv")
    assert doc.status == 200 and doc.json()["not_mapped"] == [], doc
    assert doc.json()["imported"] == 4
    out = call(world, "ivy", "GET", "/api/v1/exports/workouts.csv").body.decode()

    def rows(text):
        drop = ("workout_id", "set_id", "gym")  # ids are the store's; gyms are not imported
        return sorted(tuple((k, v) for k, v in r.items() if k not in drop)
                      for r in csv.DictReader(io.StringIO(text)))
    assert len(rows(out)) == 5 and rows(out) == rows(src.body.decode())
    again = call(world, "ivy", "POST", "/api/v1/imports?format=gymhelper", src.body, "text/csv")
    assert again.json()["imported"] == 0 and again.json()["duplicates"] == 4


GUARDED = ("=", "+", "-", "@", "\t", "\r", "\n")  # a spreadsheet runs a cell starting so


def test_export_guards_every_client_text(world):
    """Every text a client chose (client ids too: '-' is one of their characters, and
    "-1-1-1-1" is a formula) reaches the CSV with a ' before a leading = + - @ tab CR LF, and
    an import of that export takes the ' away again: the same ids, so a replay adds nothing."""
    g = call(world, "judy", "POST", "/api/v1/gyms",
             {"client_id": "-gym-judy-1", "name": "@SUM(1+1)", "equipment": []}).json()
    w = new_workout(world, "judy", "-1-1-1-1-1", started_at="2026-10-05T07:00:00Z",
                    gym_id=g["id"], notes="+cmd|' /C calc'!A0")
    new_workout(world, "judy", "-2-3-4-5-6", started_at="2026-10-06T07:00:00Z",
                notes="\t=1+1")
    r = call(world, "judy", "POST", "/api/v1/workouts/%d/sets" % w["id"],
             {"client_id": "-9-9-9-9-9", "exercise": "pull-up", "reps": 5,
              "performed_at": "2026-10-05T07:10:00Z"})
    assert r.status == 201, r
    src = call(world, "judy", "GET", "/api/v1/exports/workouts.csv")
    assert src.status == 200, src
    rows = list(csv.DictReader(io.StringIO(src.body.decode())))
    assert len(rows) == 2
    for row in rows:
        for k, v in row.items():
            assert not v.startswith(GUARDED), (k, v)
    assert sorted(r["workout_client_id"] for r in rows) == ["'-1-1-1-1-1", "'-2-3-4-5-6"]
    assert [r["set_client_id"] for r in rows if r["set_client_id"]] == ["'-9-9-9-9-9"]
    assert {r["gym"] for r in rows} == {"'@SUM(1+1)", ""}
    doc = call(world, "kate", "POST", "/api/v1/imports?format=gymhelper", src.body, "text/csv")
    assert doc.status == 200 and doc.json()["imported"] == 1, doc
    ws = call(world, "kate", "GET", "/api/v1/workouts").json()["items"]
    assert sorted(w["client_id"] for w in ws) == ["-1-1-1-1-1", "-2-3-4-5-6"]
    assert sorted(w["notes"] for w in ws) == ["\t=1+1", "+cmd|' /C calc'!A0"]
    again = call(world, "kate", "POST", "/api/v1/imports?format=gymhelper", src.body, "text/csv")
    assert again.json()["imported"] == 0 and again.json()["duplicates"] == 1, again
