# SPDX-License-Identifier: MIT
"""Plans and share links (issue 12 items 5 and 7), on both store backends in AUTH_MODE=required:
generating from a gym or an equipment list (idempotent by client_id), one person's plans hidden
from another, bad input as problems, starting a plan day as a workout, next session's weight
from the log, and read-only links that show nothing of the account and stop when revoked."""
import itertools
import json
import re

import pytest

import ghhttp as G

SECRET = "test-secret-0123456789-abcdefghijklmnop"
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22"}
HOTEL = ["dumbbell", "weight-bench", "treadmill", "exercise-mat"]
DATABASES = itertools.count()  # pytest may set a parametrized module fixture up more than once


@pytest.fixture(scope="module")
def cli(run_gymhelper):
    def bound(binary, url, *args, input=None):
        return run_gymhelper(binary, *args, "--database-url", url, input=input)
    return bound


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, module_procs, binary, tmp_path_factory, cli, postgres):
    if request.param == "sqlite":
        url = "sqlite:///%s" % (tmp_path_factory.mktemp("plans") / "gh.db")
    else:
        url = postgres.create_database("plans_%s_%d" % (binary.variant, next(DATABASES)))
    for name, pw in PASSWORDS.items():
        r = cli(binary, url, "user", "add", name, "--password-stdin", input=(pw + "\n").encode())
        assert r.returncode == 0, r
    s = module_procs.server(binary, args=["--database-url", url, "--auth-mode", "required"],
                            env={"JWT_SECRET": SECRET, "LOGIN_MAX_FAILURES": "100"})
    tokens = {}
    for name, pw in PASSWORDS.items():
        r = call(s, None, "POST", "/api/v1/auth/login", {"username": name, "password": pw})
        assert r.status == 200, r
        tokens[name] = r.json()["access_token"]
    return {"server": s, "tokens": tokens}


def call(s, token, method, path, body=None, headers=None):
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        h["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    h.update(headers or {})
    return s.request(method, path, data, h)


def as_(world, who):
    s, token = world["server"], world["tokens"][who]
    return lambda method, path, body=None, headers=None: call(s, token, method, path, body,
                                                              headers)


def problem(r, status, code):
    assert r.status == status, r
    assert r.content_type == "application/problem+json", r
    assert r.json()["code"] == code, r
    assert r.json()["detail"], r


def slots(plan):
    return [slot for day in plan["days"] for slot in day["slots"]]


def test_generate_from_a_gym_is_idempotent_and_uses_its_equipment(world):
    alice = as_(world, "alice")
    r = alice("POST", "/api/v1/gyms", {"client_id": "gym-hotel-01", "name": "Hotel",
                                       "equipment": HOTEL})
    assert r.status == 201, r
    gym = r.json()["id"]
    body = {"client_id": "plan-hotel-01", "goal": "general", "days_per_week": 3,
            "session_minutes": 45, "experience": "beginner", "gym_id": gym}
    r = alice("POST", "/api/v1/plans/generate", body)
    assert r.status == 201, r
    plan = r.json()
    assert plan["split"] == "full_body" and len(plan["days"]) == 3 and plan["gym_id"] == gym
    assert plan["reasons"] and all(s["reason"] for s in slots(plan))
    for slot in slots(plan):
        ex = alice("GET", "/api/v1/exercises/" + slot["exercise"]).json()
        used = {e["slug"] for e in ex["equipment"]}
        assert not used or used & set(HOTEL), slot
        assert slot["next"]["weight_kg"] is None and "Nothing logged" in slot["next"]["reason"]
    again = alice("POST", "/api/v1/plans/generate", body)
    assert again.status == 200 and again.json()["id"] == plan["id"], again
    listed = alice("GET", "/api/v1/plans").json()["items"]
    assert [p["id"] for p in listed].count(plan["id"]) == 1


def test_plans_are_private(world):
    alice, bob = as_(world, "alice"), as_(world, "bob")
    r = alice("POST", "/api/v1/plans/generate", {"goal": "muscle", "days_per_week": 4,
                                                 "equipment": HOTEL})
    assert r.status == 201, r
    pid = r.json()["id"]
    problem(bob("GET", "/api/v1/plans/%d" % pid), 404, "plan_not_found")
    problem(bob("DELETE", "/api/v1/plans/%d" % pid), 404, "plan_not_found")
    assert pid not in [p["id"] for p in bob("GET", "/api/v1/plans").json()["items"]]
    problem(call(world["server"], None, "GET", "/api/v1/plans/%d" % pid), 401, "unauthorized")
    assert alice("GET", "/api/v1/plans/%d" % pid).status == 200
    assert alice("DELETE", "/api/v1/plans/%d" % pid).status == 204
    problem(alice("GET", "/api/v1/plans/%d" % pid), 404, "plan_not_found")


@pytest.mark.parametrize("body,status,code", [
    ({"goal": "bulk", "days_per_week": 3, "equipment": HOTEL}, 400, "invalid_field"),
    ({"goal": "muscle", "days_per_week": 7, "equipment": HOTEL}, 400, "invalid_field"),
    ({"goal": "muscle", "days_per_week": "3", "equipment": HOTEL}, 400, "invalid_field"),
    ({"goal": "muscle", "days_per_week": 3, "session_minutes": 5, "equipment": HOTEL}, 400,
     "invalid_field"),
    ({"goal": "muscle", "days_per_week": 3, "experience": "pro", "equipment": HOTEL}, 400,
     "invalid_field"),
    ({"goal": "muscle", "days_per_week": 3}, 400, "invalid_field"),
    ({"goal": "muscle", "days_per_week": 3, "equipment": ["laser-sword"]}, 422,
     "unknown_equipment"),
    ({"goal": "muscle", "days_per_week": 3, "gym_id": 999999}, 404, "gym_not_found"),
    ({"goal": "muscle", "days_per_week": 3, "equipment": HOTEL, "client_id": "x"}, 400,
     "invalid_field"),
])
def test_generate_refuses_bad_input(world, body, status, code):
    problem(as_(world, "alice")("POST", "/api/v1/plans/generate", body), status, code)


def test_generate_refuses_what_is_not_json(world):
    alice = as_(world, "alice")
    problem(alice("POST", "/api/v1/plans/generate", None, {"Content-Type": "application/json"}),
            400, "invalid_field")
    r = world["server"].request("POST", "/api/v1/plans/generate", b"{not json",
                                {"Content-Type": "application/json",
                                 "Authorization": "Bearer " + world["tokens"]["alice"]})
    problem(r, 400, "invalid_json")
    problem(alice("PUT", "/api/v1/plans/generate", {}), 405, "method_not_allowed")
    problem(alice("GET", "/api/v1/plans/1/days"), 404, "not_found")


def test_start_a_day_and_progress_from_the_log(world):
    alice = as_(world, "alice")
    plan = alice("POST", "/api/v1/plans/generate", {"goal": "muscle", "days_per_week": 2,
                                                    "equipment": HOTEL}).json()
    path = "/api/v1/plans/%d/days/1/start" % plan["id"]
    r = alice("POST", path, {"client_id": "start-day-0001"})
    assert r.status == 201, r
    w = r.json()
    assert w["plan_day"]["name"] == plan["days"][0]["name"] and "Plan %d" % plan["id"] in w["notes"]
    again = alice("POST", path, {"client_id": "start-day-0001"})
    assert again.status == 200 and again.json()["id"] == w["id"], again
    problem(alice("POST", "/api/v1/plans/%d/days/9/start" % plan["id"],
                  {"client_id": "start-day-0002"}), 404, "plan_day_not_found")
    problem(alice("POST", path, {}), 400, "invalid_field")
    # every working set at the top of the range at 20 kg: next time 20 + the step
    slot = next(s for s in plan["days"][0]["slots"]
                if alice("GET", "/api/v1/exercises/" + s["exercise"]).json()["measure"]
                == "weight_reps")
    lo, hi = slot["reps"]
    for i in range(slot["sets"]):
        r = alice("POST", "/api/v1/workouts/%d/sets" % w["id"],
                  {"client_id": "set-top-%04d" % i, "exercise": slot["exercise"], "weight": 20,
                   "unit": "kg", "reps": hi})
        assert r.status == 201, r
    fresh = alice("GET", "/api/v1/plans/%d" % plan["id"]).json()
    nxt = next(s for s in fresh["days"][0]["slots"] if s["exercise"] == slot["exercise"])["next"]
    assert nxt["weight_kg"] > 20 and nxt["reps"] == lo, nxt
    assert "add" in nxt["reason"], nxt


def test_shared_links_show_nothing_of_the_account_and_can_be_revoked(world):
    alice, bob = as_(world, "alice"), as_(world, "bob")
    s = world["server"]
    plan = alice("POST", "/api/v1/plans/generate", {"goal": "strength", "days_per_week": 3,
                                                    "equipment": HOTEL}).json()
    w = alice("POST", "/api/v1/workouts", {"client_id": "share-wo-0001", "notes": "legs"}).json()
    r = alice("POST", "/api/v1/workouts/%d/sets" % w["id"],
              {"client_id": "share-set-0001", "exercise": "goblet-squat", "weight": 24,
               "unit": "kg", "reps": 10})
    assert r.status == 201, r
    links = {}
    for kind, oid in (("plan", plan["id"]), ("workout", w["id"])):
        r = alice("POST", "/api/v1/shares", {"kind": kind, "id": oid})
        assert r.status == 201, r
        link = r.json()
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", link["token"]), link
        assert link["url"] == "/#/shared/" + link["token"] and link["kind"] == kind
        links[kind] = link
        pub = s.request("GET", "/api/v1/shared/" + link["token"])  # no credentials
        assert pub.status == 200, pub
        doc = pub.json()
        assert doc["kind"] == kind and set(doc) == {"kind", kind}, doc
        text = pub.body.decode()
        for secret in ("alice", "user:", "owner", "client_id", "gym_id", '"id"'):
            assert secret not in text, (secret, text)
    assert pub.json()["workout"]["sets"][0]["exercise"] == "goblet-squat"
    mine = alice("GET", "/api/v1/shares").json()["items"]
    assert {(i["kind"], i["id"]) for i in mine} >= {("plan", plan["id"]), ("workout", w["id"])}
    assert not any("token" in i for i in mine)
    assert bob("GET", "/api/v1/shares").json()["items"] == []
    # bob can neither share alice's things nor revoke her links
    problem(bob("POST", "/api/v1/shares", {"kind": "plan", "id": plan["id"]}), 404,
            "plan_not_found")
    problem(bob("DELETE", "/api/v1/shares/" + links["plan"]["token"]), 404, "share_not_found")
    assert alice("DELETE", "/api/v1/shares/" + links["plan"]["token"]).status == 204
    problem(s.request("GET", "/api/v1/shared/" + links["plan"]["token"]), 404, "share_not_found")
    share_id = next(i["share_id"] for i in mine if i["kind"] == "workout")
    assert alice("DELETE", "/api/v1/shares/%d" % share_id).status == 204
    problem(s.request("GET", "/api/v1/shared/" + links["workout"]["token"]), 404,
            "share_not_found")


@pytest.mark.parametrize("path", ["/api/v1/shared/" + "A" * 43, "/api/v1/shared/short",
                                  "/api/v1/shared/%00", "/api/v1/shared/a/b"])
def test_unknown_or_malformed_tokens_are_not_found(world, path):
    r = world["server"].request("GET", path)
    assert r.status in (400, 404), r
    assert r.content_type == "application/problem+json", r


@pytest.mark.parametrize("body", [{"kind": "gym", "id": 1}, {"kind": "plan"},
                                  {"kind": "plan", "id": -3}, {"kind": "plan", "id": "1"}])
def test_share_refuses_bad_input(world, body):
    problem(as_(world, "alice")("POST", "/api/v1/shares", body), 400, "invalid_field")
