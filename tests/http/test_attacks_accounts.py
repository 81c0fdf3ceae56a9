# SPDX-License-Identifier: MIT
"""A stranger's attacks on accounts, corrections, the workout log, plans and share links, with
AUTH_MODE=required on both store backends: two ordinary users (alice, bob), a trusted one and
an admin. Each test is an attack that worked before its fix (or one that held, kept so that it
keeps holding): API keys' scopes, another person's ids in paths, bodies, filters and client
ids, share links, hostile CSV imports and the export's formula cells, and the corrections'
quorum and review."""
import io
import itertools
import json
import re

import pytest
from PIL import Image

import ghhttp as G

pytestmark = pytest.mark.asan

SECRET = "test-secret-0123456789-abcdefghijklmnop"
USERS = {"alice": "user", "bob": "user", "carol": "user", "dave": "user", "tina": "trusted",
         "root": "admin"}
DATABASES = itertools.count()  # pytest may set a module fixture up again: a new database each
# The workout log, plans and share links: what an API key needs the `workouts` scope for.
WORKOUT_ROUTES = (
    ("GET", "/api/v1/gyms"), ("POST", "/api/v1/gyms"), ("GET", "/api/v1/gyms/{gym}"),
    ("PATCH", "/api/v1/gyms/{gym}"), ("DELETE", "/api/v1/gyms/{gym}"),
    ("PUT", "/api/v1/gyms/{gym}/equipment/barbell"),
    ("DELETE", "/api/v1/gyms/{gym}/equipment/barbell"),
    ("GET", "/api/v1/workouts"), ("POST", "/api/v1/workouts"),
    ("GET", "/api/v1/workouts/{workout}"), ("PATCH", "/api/v1/workouts/{workout}"),
    ("DELETE", "/api/v1/workouts/{workout}"), ("POST", "/api/v1/workouts/{workout}/sets"),
    ("GET", "/api/v1/workouts/{workout}/sets/{set}"),
    ("PATCH", "/api/v1/workouts/{workout}/sets/{set}"),
    ("DELETE", "/api/v1/workouts/{workout}/sets/{set}"),
    ("GET", "/api/v1/progress/exercises/barbell-bench-press"),
    ("GET", "/api/v1/progress/exercises/barbell-bench-press/last"),
    ("GET", "/api/v1/progress/muscles"), ("GET", "/api/v1/exports/workouts.csv"),
    ("POST", "/api/v1/imports?format=strong"), ("GET", "/api/v1/plans"),
    ("POST", "/api/v1/plans/generate"), ("GET", "/api/v1/plans/{plan}"),
    ("DELETE", "/api/v1/plans/{plan}"), ("POST", "/api/v1/plans/{plan}/days/1/start"),
    ("GET", "/api/v1/shares"), ("POST", "/api/v1/shares"), ("DELETE", "/api/v1/shares/{share}"),
)
STRONG_HEAD = "Date,Workout Name,Exercise Name,Set Order,Weight,Reps\n"


def password(name):
    return name + "-password-123"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, module_procs, binary, fake, tmp_path_factory, run_gymhelper, postgres):
    if request.param == "sqlite":
        url = "sqlite:///%s" % (tmp_path_factory.mktemp("attacks") / "gh.db")
    else:
        url = postgres.create_database("attacks_%s_%d" % (binary.variant, next(DATABASES)))
    for name, role in USERS.items():
        r = run_gymhelper(binary, "user", "add", name, "--role", role, "--password-stdin",
                          "--database-url", url, input=(password(name) + "\n").encode())
        assert r.returncode == 0, r

    def key(scope, user):
        r = run_gymhelper(binary, "key", "create", "--name", "k-" + scope, "--scope", scope,
                          "--user", user, "--database-url", url)
        assert r.returncode == 0, r
        return re.search(r"\bgh_[A-Za-z0-9_-]{43}\b", r.stdout).group(0)

    keys = {"analyze": key("analyze", "bob"), "feedback": key("analyze,feedback", "bob")}
    s = module_procs.server(binary, provider=fake,
                            args=["--database-url", url, "--auth-mode", "required"],
                            env={"JWT_SECRET": SECRET, "LOGIN_MAX_FAILURES": "100",
                                 "CORRECTION_QUORUM": "3"})
    tokens = {}
    for name in USERS:
        r = s.request("POST", "/api/v1/auth/login",
                      json.dumps({"username": name, "password": password(name)}).encode(),
                      {"Content-Type": "application/json"})
        assert r.status == 200, r
        tokens[name] = r.json()["access_token"]
    def cli(*args, input=None):
        r = run_gymhelper(binary, *args, "--database-url", url, input=input)
        assert r.returncode == 0, r
        return r

    return {"server": s, "tokens": tokens, "keys": keys, "key": key, "cli": cli}


def call(world, who, method, path, body=None, ctype="application/json", timeout=30):
    """who: a user's name, or a credential (gh_... key) as it is."""
    cred = world["tokens"].get(who, who)
    h = {"Authorization": "Bearer " + cred}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = ctype
    return world["server"].request(method, path, data, h, timeout=timeout)


def ok(r, status=(200, 201)):
    assert r.status in ((status,) if isinstance(status, int) else status), r
    return r.json() if r.body else None


def bobs_things(world):
    """A gym, a workout with one set, a plan and a share link of bob's: their ids."""
    gym = ok(call(world, "bob", "POST", "/api/v1/gyms",
                  {"client_id": "bob-gym-000001", "name": "Bob's", "equipment": ["barbell"]}))
    w = ok(call(world, "bob", "POST", "/api/v1/workouts",
                {"client_id": "bob-wo-0000001", "gym_id": gym["id"], "notes": "private"}))
    st = ok(call(world, "bob", "POST", "/api/v1/workouts/%d/sets" % w["id"],
                 {"client_id": "bob-set-000001", "exercise": "barbell-bench-press",
                  "weight": 60, "reps": 5}))
    plan = ok(call(world, "bob", "POST", "/api/v1/plans/generate",
                   {"client_id": "bob-plan-00001", "goal": "strength", "days_per_week": 3,
                    "gym_id": gym["id"]}))
    share = ok(call(world, "bob", "POST", "/api/v1/shares", {"kind": "plan", "id": plan["id"]}))
    return {"gym": gym["id"], "workout": w["id"], "set": st["id"], "plan": plan["id"],
            "share": share["share_id"], "token": share["token"]}


def body_for(method, path):
    if method in ("GET", "DELETE", "PUT"):
        return None, "application/json"
    if "imports" in path:
        return (STRONG_HEAD + "2025-01-01 10:00:00,W,Bench Press (Barbell),1,60,5\n").encode(), \
            "text/csv"
    if path.endswith("/generate"):
        return {"goal": "muscle", "days_per_week": 2, "equipment": ["barbell"]}, "application/json"
    if path.endswith("/shares"):
        return {"kind": "workout", "id": 1}, "application/json"
    if path.endswith("/sets"):
        return {"client_id": "key-set-00001", "exercise": "pull-up", "reps": 3}, "application/json"
    return {"client_id": "key-made-0001", "name": "x", "notes": "x", "reps": 9}, "application/json"


# ---- API keys' scopes ----------------------------------------------------------------------

def test_an_analyze_key_reaches_none_of_its_users_workout_log(world):
    """A key made for a camera script (`--scope analyze --user bob`) acted as bob everywhere:
    it read, exported, shared and deleted bob's workout log. The log, plans and links now need
    the `workouts` scope; bob's own token has it, and so does a key made with it."""
    ids = bobs_things(world)
    for who in (world["keys"]["analyze"], world["keys"]["feedback"]):
        for method, tmpl in WORKOUT_ROUTES:
            path = tmpl.format(**ids)
            body, ctype = body_for(method, path)
            r = call(world, who, method, path, body, ctype)
            doc = G.is_problem(r, 403, "forbidden")
            assert "workouts" in doc["detail"], (method, path, doc)
    # nothing changed, and the public link still works without credentials
    w = ok(call(world, "bob", "GET", "/api/v1/workouts/%d" % ids["workout"]), 200)
    assert w["notes"] == "private" and [s["id"] for s in w["sets"]] == [ids["set"]]
    assert [s["share_id"] for s in ok(call(world, "bob", "GET", "/api/v1/shares"), 200)
            ["items"]] == [ids["share"]]
    assert world["server"].get("/api/v1/shared/" + ids["token"]).status == 200
    # the key still analyzes; a key with the scope reads bob's log
    me = ok(call(world, world["keys"]["analyze"], "GET", "/api/v1/me"), 200)
    assert me["scopes"] == "analyze" and me["user"]["username"] == "bob"
    wk = world["key"]("workouts", "bob")
    assert ok(call(world, wk, "GET", "/api/v1/me"), 200)["scopes"] == "workouts"
    items = ok(call(world, wk, "GET", "/api/v1/workouts"), 200)["items"]
    assert ids["workout"] in [i["id"] for i in items]
    assert ok(call(world, "bob", "GET", "/api/v1/me"), 200)["scopes"] == \
        "analyze,feedback,workouts"
    # and a workouts key is not an analyze key
    r = world["server"].analyze(G.solid(64, 64, "JPEG"), headers={"X-API-Key": wk})
    G.is_problem(r, 403, "forbidden")


# ---- corrections ---------------------------------------------------------------------------

def reencode(data, quality=80):
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def analyze(world, who, data):
    r = world["server"].analyze(data, headers={"Authorization": "Bearer " + world["tokens"][who]})
    assert r.status == 200, r
    return r.json()


def slug_of(doc):
    return doc["equipment"]["slug"] if doc.get("equipment") else None


def feedback(world, who, answer, slug):
    return call(world, who, "POST",
                "/api/v1/identifications/%s/feedback" % answer["identification_id"],
                {"slug": slug})


def test_accepting_a_vote_on_a_near_duplicate_makes_it_shared(world, photos):
    """The known bug: bob's answer came from the near-duplicate layer (a re-encoded copy of a
    photo alice analysed), so the cache holds the answer under alice's SHA-256, not his; the
    admin's accept looked the photo up by his exact SHA-256 and answered 409 "no longer
    cached". A trusted person's correction of such an answer failed the same way."""
    photo = photos[6]
    assert slug_of(analyze(world, "alice", photo)) == G.ANSWER
    copy = reencode(photo)
    mine = analyze(world, "bob", copy)
    assert mine["cache"]["layer"] == "near" and slug_of(mine) == G.ANSWER, mine
    vote = ok(feedback(world, "bob", mine, "squat-rack"), 200)["correction"]
    assert vote["status"] == "pending"
    r = call(world, "root", "POST", "/api/v1/corrections/%d/accept" % vote["id"], {})
    assert r.status == 200 and r.json()["status"] == "accepted", r
    # everyone now gets the correction, for the copy and for the photo it was a copy of
    for data in (copy, photo, reencode(photo, 70)):
        doc = analyze(world, "carol", data)
        assert slug_of(doc) == "squat-rack" and doc.get("corrected") is True, doc
    # a trusted person's correction of a near-duplicate answer is shared at once
    other = photos[7]
    assert slug_of(analyze(world, "alice", other)) == G.ANSWER
    t = analyze(world, "tina", reencode(other))
    assert t["cache"]["layer"] == "near", t
    r = feedback(world, "tina", t, "smith-machine")
    assert r.status == 200 and r.json()["shared"] is True, r
    assert slug_of(analyze(world, "dave", other)) == "smith-machine"


# ---- imports and the export ----------------------------------------------------------------

def imp(world, who, csv, fmt="strong", timeout=60):
    return call(world, who, "POST", "/api/v1/imports?format=" + fmt, csv, "text/csv",
                timeout=timeout)


def test_an_import_never_stores_text_that_breaks_the_workout(world):
    """Bytes that are not UTF-8 in a workout's name, or a name cut inside a character where it
    is capped, were stored as they came: the workout then vanished from the list, and reading
    it, its share link or the import's own answer (an exercise name not mapped) was a 503
    "out of memory"."""
    csv = (STRONG_HEAD.encode() +
           b"2025-02-01 10:00:00,Leg \xff\xfe day,Squat (Barbell),1,100,5\n"
           b"2025-02-01 10:00:00,Leg \xff\xfe day,No \xc3 Such,1,100,5\n" +
           ("2025-02-02 10:00:00,%s,Squat (Barbell),1,100,5\n" % ("a" * 1999 + "\u00e9"))
           .encode())
    r = imp(world, "carol", csv)
    doc = ok(r, 200)
    assert doc["imported"] == 2, doc
    assert [(n["rows"], n["name"]) for n in doc["not_mapped"]] == [([3], "No ? Such")], doc
    items = ok(call(world, "carol", "GET", "/api/v1/workouts?limit=100"), 200)["items"]
    assert len(items) == 2, items
    for w in items:
        one = ok(call(world, "carol", "GET", "/api/v1/workouts/%d" % w["id"]), 200)
        assert len(one["sets"]) == 1 and one["notes"] == w["notes"], one
        link = ok(call(world, "carol", "POST", "/api/v1/shares", {"kind": "workout",
                                                                   "id": w["id"]}))
        assert world["server"].get("/api/v1/shared/" + link["token"]).status == 200
    assert {w["notes"][:7] for w in items} == {"Leg ?? ", "a" * 7}
    r = call(world, "carol", "GET", "/api/v1/exports/workouts.csv")
    assert r.status == 200 and b"Leg ?? day" in r.body, r
    r.body.decode("utf-8")  # the whole export is UTF-8


def test_many_names_not_mapped_are_listed_in_bounded_time(world):
    """not_mapped was searched from the start for every row: a file of distinct unknown names
    (a few MB, under the upload cap) took minutes of a worker (20,000 rows: 25 s). Its list now
    holds at most 1,000 names, the rest under one entry, and every row is still listed."""
    n = 5000
    rows = ["2025-03-01 10:00:00,W,Nope %d,1,100,5" % i for i in range(n)]
    csv = (STRONG_HEAD + "\n".join(rows) + "\n").encode()
    doc = ok(imp(world, "dave", csv), 200)
    assert doc["imported"] == 0
    assert len(doc["not_mapped"]) <= 1001, len(doc["not_mapped"])
    listed = sorted(line for e in doc["not_mapped"] for line in e["rows"])
    assert listed == list(range(2, n + 2))
    rest = doc["not_mapped"][-1]
    assert len(rest["rows"]) == n - 1000 and "1000" in rest["reason"], rest
    # many more, against a hang (not a timing): 120,000 rows of 4.3 MB
    rows = ["2025-03-02 10:00:00,W,Unknown lift number %d,1,100,5" % i for i in range(120000)]
    csv = (STRONG_HEAD + "\n".join(rows) + "\n").encode()
    doc = ok(imp(world, "dave", csv, timeout=300), 200)
    assert sum(len(e["rows"]) for e in doc["not_mapped"]) == 120000


def test_the_export_neutralises_every_formula_cell(world):
    """OWASP's CSV injection list is = + - @, tab and carriage return: the export guarded the
    first four, so a note or gym name starting with a tab or CR before '=' reached the
    spreadsheet as a formula. Our own import takes the guard away again."""
    who = "alice"
    evil = ["\t=HYPERLINK(\"http://evil.example/\",\"x\")", "\r=1+1", "\n@SUM(1+1)",
            "=cmd|' /C calc'!A0", "-2+3", "+1"]
    gym = ok(call(world, who, "POST", "/api/v1/gyms",
                  {"client_id": "evil-gym-0001", "name": "\t=cmd|' /C calc'!A0"}))
    for i, notes in enumerate(evil):
        ok(call(world, who, "POST", "/api/v1/workouts",
                {"client_id": "evil-wo-%05d" % i, "notes": notes, "gym_id": gym["id"],
                 "started_at": "2025-04-0%dT10:00:00Z" % (i + 1)}))
    r = call(world, who, "GET", "/api/v1/exports/workouts.csv")
    assert r.status == 200, r
    rows = list(__import__("csv").DictReader(io.StringIO(r.body.decode())))
    cells = [row[c] for row in rows for c in ("gym", "workout_notes", "exercise_name") if row[c]]
    assert cells and all(c[0] not in "=+-@\t\r\n" for c in cells), cells
    got = ok(imp(world, "dave", r.body, fmt="gymhelper"), 200)
    assert got["not_mapped"] == [], got
    notes = {w["notes"] for w in
             ok(call(world, "dave", "GET", "/api/v1/workouts?limit=100"), 200)["items"]}
    assert set(evil) <= notes, notes


def test_a_rejected_vote_stays_rejected_when_cast_again(world, photos):
    """An admin's reject stops a vote counting; the voter sending the same correction again
    replaced the rejected row with a new pending one, which counted towards the quorum: three
    rejected voters re-voting changed the shared answer the admin had refused."""
    photo = photos[8]
    mine = {name: analyze(world, name, photo) for name in ("alice", "bob", "carol")}
    votes = {}
    for name in ("alice", "bob"):
        votes[name] = ok(feedback(world, name, mine[name], "kettlebell"), 200)["correction"]
        r = call(world, "root", "POST", "/api/v1/corrections/%d/reject" % votes[name]["id"], {})
        assert r.status == 200 and r.json()["status"] == "rejected", r
    for name in ("alice", "bob"):  # again, and again
        for _ in range(2):
            doc = ok(feedback(world, name, mine[name], "kettlebell"), 200)
            assert doc["shared"] is False and doc["correction"]["status"] == "rejected", doc
            assert doc["correction"]["votes"] == 0, doc
    doc = ok(feedback(world, "carol", mine["carol"], "kettlebell"), 200)
    assert doc["shared"] is False and doc["correction"]["votes"] == 1, doc
    assert slug_of(analyze(world, "dave", photo)) == G.ANSWER
    # their own answers keep their corrections; a vote for another slug stays rejected too, and
    # so does the first slug after it (else a reject is undone in two requests), while what
    # alice is served follows her latest correction
    assert slug_of(analyze(world, "alice", photo)) == "kettlebell"
    doc = ok(feedback(world, "alice", mine["alice"], "squat-rack"), 200)
    assert doc["correction"]["status"] == "rejected" and doc["correction"]["votes"] == 0, doc
    assert slug_of(analyze(world, "alice", photo)) == "squat-rack"
    doc = ok(feedback(world, "alice", mine["alice"], "kettlebell"), 200)
    assert doc["correction"]["status"] == "rejected", doc
    assert doc["correction"]["votes"] == 1, doc  # carol's; alice's no longer counts
    assert slug_of(analyze(world, "dave", photo)) == G.ANSWER


# ---- share links ---------------------------------------------------------------------------

def test_a_share_token_never_reaches_the_log(world):
    """The store keeps only a link token's SHA-256, but the access log wrote each request's
    path: every visit of /api/v1/shared/<token> and every revoke by token put the token, which
    is all a reader needs, in the logs."""
    s = world["server"]
    w = ok(call(world, "carol", "POST", "/api/v1/workouts", {"client_id": "carol-log-0001"}))
    link = ok(call(world, "carol", "POST", "/api/v1/shares", {"kind": "workout", "id": w["id"]}))
    token = link["token"]
    seen = s.get("/api/v1/shared/" + token)
    assert seen.status == 200 and "carol" not in seen.body.decode(), seen
    gone = call(world, "carol", "DELETE", "/api/v1/shares/" + token)
    assert gone.status == 204, gone
    after = s.get("/api/v1/shared/" + token)
    G.is_problem(after, 404, "share_not_found")
    for r in (seen, gone, after):
        line = s.access_log(r.header("X-Request-ID"))
        assert token not in json.dumps(line) and line["path"].endswith("{token}"), line
    assert token not in s.stderr_text()
    # revoking by the id the list shows is logged as it is (an id is not a secret)
    link = ok(call(world, "carol", "POST", "/api/v1/shares", {"kind": "workout", "id": w["id"]}))
    r = call(world, "carol", "DELETE", "/api/v1/shares/%d" % link["share_id"])
    assert r.status == 204
    assert s.access_log(r.header("X-Request-ID"))["path"] == \
        "/api/v1/shares/%d" % link["share_id"]


# ---- what held (kept so that it keeps holding) ---------------------------------------------

def test_another_persons_ids_and_client_ids_reach_nothing(world):
    """Bob tries alice's ids in paths, in bodies (a workout's gym, a plan's gym, a share's
    object) and in filters, and her client ids: every one is a 404 or his own new row."""
    a = {"gym": ok(call(world, "alice", "POST", "/api/v1/gyms",
                        {"client_id": "al-gym-idor-1", "name": "Alice's",
                         "equipment": ["barbell", "weight-bench"]}))["id"]}
    a["workout"] = ok(call(world, "alice", "POST", "/api/v1/workouts",
                           {"client_id": "al-wo-idor-01", "gym_id": a["gym"],
                            "notes": "alice only"}))["id"]
    a["set"] = ok(call(world, "alice", "POST", "/api/v1/workouts/%d/sets" % a["workout"],
                       {"client_id": "al-set-idor-1", "exercise": "barbell-bench-press",
                        "weight": 100, "reps": 5}))["id"]
    a["plan"] = ok(call(world, "alice", "POST", "/api/v1/plans/generate",
                        {"client_id": "al-plan-idor1", "goal": "strength", "days_per_week": 3,
                         "gym_id": a["gym"]}))["id"]
    link = ok(call(world, "alice", "POST", "/api/v1/shares", {"kind": "workout",
                                                               "id": a["workout"]}))
    mine = ok(call(world, "bob", "POST", "/api/v1/workouts", {"client_id": "bob-wo-idor-1"}))
    attempts = [
        ("PATCH", "/api/v1/workouts/%d" % mine["id"], {"gym_id": a["gym"]}, "gym_not_found"),
        ("POST", "/api/v1/workouts", {"client_id": "bob-wo-idor-2", "gym_id": a["gym"]},
         "gym_not_found"),
        ("POST", "/api/v1/plans/generate", {"goal": "strength", "days_per_week": 3,
                                            "gym_id": a["gym"]}, "gym_not_found"),
        ("POST", "/api/v1/plans/%d/days/1/start" % a["plan"], {"client_id": "bob-start-idor"},
         "plan_not_found"),
        ("GET", "/api/v1/plans/%d" % a["plan"], None, "plan_not_found"),
        ("DELETE", "/api/v1/plans/%d" % a["plan"], None, "plan_not_found"),
        ("POST", "/api/v1/shares", {"kind": "workout", "id": a["workout"]}, "workout_not_found"),
        ("POST", "/api/v1/shares", {"kind": "plan", "id": a["plan"]}, "plan_not_found"),
        ("DELETE", "/api/v1/shares/%d" % link["share_id"], None, "share_not_found"),
        ("DELETE", "/api/v1/shares/" + link["token"], None, "share_not_found"),
        ("POST", "/api/v1/workouts/%d/sets" % a["workout"],
         {"client_id": "bob-set-idor1", "exercise": "pull-up", "reps": 3}, "workout_not_found"),
        ("GET", "/api/v1/workouts/%d/sets/%d" % (mine["id"], a["set"]), None, "set_not_found"),
        ("PATCH", "/api/v1/workouts/%d/sets/%d" % (mine["id"], a["set"]), {"reps": 1},
         "set_not_found"),
        ("DELETE", "/api/v1/workouts/%d/sets/%d" % (mine["id"], a["set"]), None,
         "set_not_found"),
        ("GET", "/api/v1/workouts/%d" % a["workout"], None, "workout_not_found"),
    ]
    for method, path, body, code in attempts:
        G.is_problem(call(world, "bob", method, path, body), 404, code)
    assert ok(call(world, "bob", "GET", "/api/v1/workouts?before=%d" % a["workout"]),
              200)["items"] == []
    # an admin is not the owner either
    G.is_problem(call(world, "root", "GET", "/api/v1/workouts/%d" % a["workout"]), 404,
                 "workout_not_found")
    # alice's client ids are bob's own new rows, never hers
    for path, body in (("/api/v1/gyms", {"client_id": "al-gym-idor-1", "name": "B"}),
                       ("/api/v1/workouts", {"client_id": "al-wo-idor-01"}),
                       ("/api/v1/workouts/%d/sets" % mine["id"],
                        {"client_id": "al-set-idor-1", "exercise": "pull-up", "reps": 2}),
                       ("/api/v1/plans/generate", {"client_id": "al-plan-idor1", "goal": "muscle",
                                                   "days_per_week": 2,
                                                   "equipment": ["dumbbell"]})):
        r = call(world, "bob", "POST", path, body)
        assert r.status == 201, (path, r)
        assert "alice" not in r.body.decode() and r.json().get("name") != "Alice's", r
    w = ok(call(world, "alice", "GET", "/api/v1/workouts/%d" % a["workout"]), 200)
    assert w["notes"] == "alice only" and w["sets"][0]["reps"] == 5
    assert world["server"].get("/api/v1/shared/" + link["token"]).status == 200


def test_one_person_is_one_vote_however_they_sign_in(world, photos):
    """Two sessions and a key acting for bob vote as one person: no quorum alone."""
    photo = photos[9]
    r = world["server"].request("POST", "/api/v1/auth/login",
                                json.dumps({"username": "bob",
                                            "password": password("bob")}).encode(),
                                {"Content-Type": "application/json"})
    other_session = r.json()["access_token"]
    for cred in (world["tokens"]["bob"], other_session, world["keys"]["feedback"]):
        a = world["server"].analyze(photo, headers={"Authorization": "Bearer " + cred}).json()
        doc = ok(call(world, cred, "POST",
                      "/api/v1/identifications/%s/feedback" % a["identification_id"],
                      {"slug": "leg-press-machine"}), 200)
        assert doc["correction"]["votes"] == 1 and doc["shared"] is False, doc
    assert slug_of(analyze(world, "dave", photo)) == G.ANSWER


def test_hostile_csv_files_get_clear_answers(world):
    """NUL bytes, a quote never closed, a million columns, formulas, a body past the cap, the
    wrong format, another person's gym named in our own export's gym column: each answer is a
    status and a stable code, never a 5xx, and the server lives on (the ASan build checks the
    memory)."""
    nul = (STRONG_HEAD + "2025-05-01 10:00:00,W\x00x,Squat (Barbell),1,100,5\n").encode()
    doc = ok(imp(world, "carol", nul), 200)
    assert doc["imported"] + len(doc["not_mapped"]) >= 1, doc
    unclosed = (STRONG_HEAD + '2025-05-02 10:00:00,"never closed,Squat (Barbell),1,100,5\n' +
                "2025-05-02 10:00:00,W,Squat (Barbell),1,100,5\n" * 1000).encode()
    ok(imp(world, "carol", unclosed), 200)
    wide = (STRONG_HEAD.rstrip("\n") + "," * 1000000 + "\n" +
            "2025-05-03 10:00:00,W,Squat (Barbell),1,100,5" + ",x" * 500000 + "\n").encode()
    assert ok(imp(world, "carol", wide), 200)["imported"] == 1
    for body, fmt, status, code in (
            (b"", "strong", 400, "empty_body"),
            (b"\n\n\n", "strong", 422, "invalid_csv"),
            (b"a,b,c\n1,2,3\n", "hevy", 422, "invalid_csv"),
            (STRONG_HEAD.encode(), "excel", 400, "invalid_parameter"),
            (b"\xff\xfe\x00" * 1000, "strong", 422, "invalid_csv")):
        G.is_problem(imp(world, "carol", body, fmt), status, code)
    G.is_problem(call(world, "carol", "POST", "/api/v1/imports?format=strong", b"x",
                      "image/png"), 415, "unsupported_media_type")
    big = STRONG_HEAD.encode() + b"2025-05-04 10:00:00,W,Squat (Barbell),1,100,5\n" * 230000
    assert len(big) > 10_000_000
    r = imp(world, "carol", big, timeout=120)
    G.is_problem(r, 413, "payload_too_large")
    # our own export names a gym; importing it never links a workout to anyone's gym
    gym = ok(call(world, "alice", "POST", "/api/v1/gyms",
                  {"client_id": "al-gym-csv-01", "name": "Alice CSV gym"}))
    csv = ("started_at,exercise,weight,unit,reps,gym,workout_client_id\n"
           "2025-05-05T10:00:00Z,barbell-back-squat,100,kg,5,%s,gym-steal-00001\n"
           % gym["name"]).encode()
    ok(imp(world, "carol", csv, "gymhelper"), 200)
    items = ok(call(world, "carol", "GET", "/api/v1/workouts?limit=100"), 200)["items"]
    assert all(i["gym_id"] is None for i in items), items
    assert world["server"].alive()


# ---- tokens --------------------------------------------------------------------------------

def test_a_refresh_token_spent_twice_at_once_ends_the_session(world):
    """A refresh token works once, and a second use revokes its session (a copy was made).
    Two uses at the same moment on PostgreSQL: the one that lost the race read the token as
    unspent and was told "expired", and the session lived on in the winner's hands; whoever
    holds a stolen copy can race the owner. Every loser now counts as a reuse. Later, one race
    in ~150 on PostgreSQL still left the winner's new token alive: the losers' revocation ran
    on a snapshot taken before that token was written, and the winner's look for a revocation
    ran before it committed (store/pg_auth.c, pga_revoke); hence forty races, not five."""
    import concurrent.futures
    s = world["server"]
    for attempt in range(40):
        r = s.request("POST", "/api/v1/auth/login",
                      json.dumps({"username": "dave", "password": password("dave")}).encode(),
                      {"Content-Type": "application/json"})
        refresh = r.json()["refresh_token"]
        body = json.dumps({"refresh_token": refresh}).encode()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda _: s.request("POST", "/api/v1/auth/refresh", body,
                                                    {"Content-Type": "application/json"}),
                                range(8)))
        won = [g for g in got if g.status == 200]
        assert len(won) <= 1 and all(g.status in (200, 401) for g in got), got
        for g in got:
            if g.status == 401:
                assert "expired" not in g.json()["detail"], g
        if won:  # the session was revoked by the losers: the winner's new token is dead
            again = s.request("POST", "/api/v1/auth/refresh",
                              json.dumps({"refresh_token": won[0].json()["refresh_token"]})
                              .encode(), {"Content-Type": "application/json"})
            assert again.status == 401, (attempt, again)


def test_a_sign_out_racing_a_refresh_ends_the_session(world):
    """Sign-out revokes the session's tokens; a refresh that spent its token just before could
    write its new one just after, and the signed-out session lived on. (The window is narrow:
    this did not fail before the fix in three runs here; the test of two refreshes at once
    did. It keeps the property checked.)"""
    import concurrent.futures
    import time
    s = world["server"]
    jh = {"Content-Type": "application/json"}
    for attempt in range(6):
        r = s.request("POST", "/api/v1/auth/login",
                      json.dumps({"username": "dave", "password": password("dave")}).encode(), jh)
        body = json.dumps({"refresh_token": r.json()["refresh_token"]}).encode()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            out = pool.submit(s.request, "POST", "/api/v1/auth/logout", body, jh)
            ref = pool.submit(s.request, "POST", "/api/v1/auth/refresh", body, jh)
            out, ref = out.result(), ref.result()
        assert out.status == 204 and ref.status in (200, 401), (out, ref)
        if ref.status == 200:
            pair = ref.json()
            again = s.request("POST", "/api/v1/auth/refresh", json.dumps(
                {"refresh_token": pair["refresh_token"]}).encode(), jh)
            assert again.status == 401, (attempt, again)
            end = time.monotonic() + 5  # revocations reach the caches within a second
            while s.get("/api/v1/me", {"Authorization": "Bearer " + pair["access_token"]}) \
                    .status != 401:
                assert time.monotonic() < end, "the signed-out session's token still works"
                time.sleep(0.1)


def test_a_new_password_or_a_disable_ends_the_accounts_sessions(world):
    """README counts `user passwd` and `user disable` as revocations, but they only cleared the
    caches: a session signed in with a stolen password outlived the new password (its access
    and refresh tokens kept working), and a disabled account's sessions came back with
    `user enable`."""
    import time
    s, cli = world["server"], world["cli"]
    jh = {"Content-Type": "application/json"}

    def login(pw):
        r = s.request("POST", "/api/v1/auth/login",
                      json.dumps({"username": "vic", "password": pw}).encode(), jh)
        assert r.status == 200, r
        return r.json()

    def dead(pair):
        end = time.monotonic() + 5  # revocations reach every cache within a second
        while s.get("/api/v1/me", {"Authorization": "Bearer " + pair["access_token"]}) \
                .status != 401:
            assert time.monotonic() < end, "the old session's access token still works"
            time.sleep(0.1)
        r = s.request("POST", "/api/v1/auth/refresh",
                      json.dumps({"refresh_token": pair["refresh_token"]}).encode(), jh)
        assert r.status == 401, r

    cli("user", "add", "vic", "--password-stdin", input=b"vic-old-password-1\n")
    stolen = login("vic-old-password-1")
    cli("user", "passwd", "vic", "--password-stdin", input=b"vic-new-password-2\n")
    dead(stolen)
    assert s.request("POST", "/api/v1/auth/login", json.dumps(
        {"username": "vic", "password": "vic-old-password-1"}).encode(), jh).status == 401
    mine = login("vic-new-password-2")
    cli("user", "disable", "vic")
    cli("user", "enable", "vic")
    dead(mine)
    login("vic-new-password-2")  # signing in again works


# ---- identification ids --------------------------------------------------------------------

def own_number(world, who, request_id):
    """The history number of who's analysis request_id, from who's own list."""
    items = ok(call(world, who, "GET", "/api/v1/identifications?limit=100"), 200)["items"]
    return [i["id"] for i in items if i["request_id"] == request_id][0]


def get_and_correct(world, who, ident):
    """GET /api/v1/identifications/{ident} and POST .../feedback, as sent (ident may be
    percent-encoded); both answers."""
    path = "/api/v1/identifications/" + ident
    return (call(world, who, "GET", path),
            call(world, who, "POST", path + "/feedback", {"slug": "squat-rack"}))


def test_made_up_and_foreign_identification_ids_are_404(world, photos):
    """Ids a stranger makes up - huge, negative, zero, leading zeros, a sign or a space before
    a number, hex, exponent, very long, percent-encoded, not UTF-8 - and another person's
    number or request id: GET and feedback answer 404 identification_not_found (a NUL in the
    path: 400 invalid_path), never 500 and never the other person's analysis. An id with bytes no
    request id has reached PostgreSQL, which answered 400 bad_request with its own message
    (SQLite: 404), and '+N' or ' N' read as the number N: now neither is an id. Leading zeros
    still spell the number: alice's own one answers her."""
    mine = analyze(world, "alice", photos[10])
    n = own_number(world, "alice", mine["identification_id"])
    made_up = ["0", "-0", "00", "-1", "-%d" % n, "9223372036854775807", "9223372036854775808",
               "18446744073709551617", "9" * 300, "-9223372036854775809", "1e3", "0x%x" % n,
               "%d.0" % n, "%2e%2e", ".", "a" * 64, "b" * 65, "c" * 2000, "%E2%82%AC", "%C0%AF",
               "%FF%FE", "%25", "%3F", "abc%3Bdef", "'%20OR%201=1--", "%%2B%d" % n,
               "%%20%d" % n, "%d%%20" % n]
    for ident in made_up:
        for r in get_and_correct(world, "alice", ident):
            doc = G.is_problem(r, 404, "identification_not_found")
            assert mine["identification_id"] not in r.body.decode(), (ident, doc)
    for r in get_and_correct(world, "alice", "%00" + str(n)):
        G.is_problem(r, 400, "invalid_path")
    for ident in ("0%d" % n, "000%d" % n):
        got = ok(call(world, "alice", "GET", "/api/v1/identifications/" + ident), 200)
        assert got["id"] == n, (ident, got)
    # bob: alice's number in each of its spellings, and her request id
    for ident in (str(n), "0%d" % n, "%%2B%d" % n, mine["identification_id"]):
        for r in get_and_correct(world, "bob", ident):
            G.is_problem(r, 404, "identification_not_found")
    got = ok(call(world, "alice", "GET", "/api/v1/identifications/%d" % n), 200)
    assert got["corrected"] is False, got  # none of bob's attempts landed


def test_a_reused_request_id_names_each_persons_own_analysis(world, photos):
    """X-Request-ID is the client's choice, and two people's apps may send the same one (a
    counter, a constant). Alice analyses with "shared-req-1", then bob does. The id used to
    name the newest analysis of anyone: alice's GET and correction answered 404 for her own
    analysis (bob's was found, and it is not hers), until she used the history number. Now a
    request id names the caller's own analysis: each person reads and corrects theirs, never
    the other's; an admin, who may see both, gets the newest."""
    rid = "shared-req-1"
    a = world["server"].analyze(photos[10], headers={
        "Authorization": "Bearer " + world["tokens"]["alice"], "X-Request-ID": rid})
    assert a.status == 200 and a.json()["identification_id"] == rid, a
    b = world["server"].analyze(photos[11], headers={
        "Authorization": "Bearer " + world["tokens"]["carol"], "X-Request-ID": rid})
    assert b.status == 200 and b.json()["identification_id"] == rid, b
    na, nb = own_number(world, "alice", rid), own_number(world, "carol", rid)
    assert na != nb
    for who, n in (("alice", na), ("carol", nb)):
        got = ok(call(world, who, "GET", "/api/v1/identifications/" + rid), 200)
        assert got["id"] == n, (who, got)
        done = ok(call(world, who, "POST", "/api/v1/identifications/%s/feedback" % rid,
                       {"slug": "squat-rack" if who == "alice" else "smith-machine"}), 200)
        assert done["identification"]["id"] == n, (who, done)
        assert done["correction"]["identification_id"] == n, (who, done)
    assert ok(call(world, "alice", "GET", "/api/v1/identifications/%d" % na),
              200)["corrected_equipment"]["slug"] == "squat-rack"
    assert ok(call(world, "carol", "GET", "/api/v1/identifications/%d" % nb),
              200)["corrected_equipment"]["slug"] == "smith-machine"
    assert ok(call(world, "root", "GET", "/api/v1/identifications/" + rid), 200)["id"] == nb
    # a third person with the same request id of their own reaches neither
    for r in get_and_correct(world, "dave", rid):
        G.is_problem(r, 404, "identification_not_found")


def test_made_up_correction_ids_are_404_and_review_is_admins_only(world, photos):
    """The review routes, POST /api/v1/corrections/{id}/accept|reject: made-up ids answer an
    admin 404 correction_not_found, never 500; anyone else is refused 403 forbidden before
    the id is read, a real id included, and the vote stays as it was (these held). The lists'
    `before` and `limit` took a number past the 64-bit range as the largest one, and a leading
    space or sign: before=99999999999999999999 answered 200 with the first page; now 400."""
    a = analyze(world, "dave", photos[5])
    vote = ok(feedback(world, "dave", a, "squat-rack"), 200)["correction"]
    assert vote["status"] == "pending"
    made_up = ["0", "-0", "00", "-1", "-%d" % vote["id"], "9223372036854775807",
               "9223372036854775808", "18446744073709551617", "9" * 300, "1e3", "0x1", "%d.0"
               % vote["id"], "a" * 2000, "%C0%AF", "%E2%82%AC", "%25", "%3F", "%2e%2e"]
    for ident in made_up:
        for action in ("accept", "reject"):
            r = call(world, "root", "POST", "/api/v1/corrections/%s/%s" % (ident, action), {})
            G.is_problem(r, 404, "correction_not_found")
    for who in ("alice", "dave", "tina"):
        for action in ("accept", "reject"):
            for ident in (str(vote["id"]), "0%d" % vote["id"], "9" * 300):
                r = call(world, who, "POST", "/api/v1/corrections/%s/%s" % (ident, action), {})
                G.is_problem(r, 403, "forbidden")
    r = call(world, "root", "POST", "/api/v1/corrections/%d%%00/accept" % vote["id"], {})
    G.is_problem(r, 400, "invalid_path")
    items = ok(call(world, "root", "GET", "/api/v1/corrections?status=pending&limit=100"),
               200)["items"]
    assert [c["status"] for c in items if c["id"] == vote["id"]] == ["pending"], items
    # the lists' paging parameters: made-up values are 400 invalid_parameter
    for query in ("before=0", "before=-1", "before=99999999999999999999", "before=1e3",
                  "before=%201", "limit=0", "limit=101", "limit=-5", "limit=1.5",
                  "limit=99999999999999999999", "status=approved", "status="):
        r = call(world, "root", "GET", "/api/v1/corrections?" + query)
        assert r.status == 400, (query, r)
        G.is_problem(r, 400, "invalid_parameter")
        if not query.startswith("status"):
            r = call(world, "dave", "GET", "/api/v1/identifications?" + query)
            assert r.status == 400, (query, r)
            G.is_problem(r, 400, "invalid_parameter")
    G.is_problem(call(world, "dave", "GET", "/api/v1/identifications?user=alice"), 403,
                 "forbidden")
