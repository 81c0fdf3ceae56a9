# SPDX-License-Identifier: MIT
"""Accounts, tokens and API keys (issue 11), on both store backends: AUTH_MODE, sign-in, the
JWT checks (expired, not yet valid, wrong audience or issuer, alg none, HS/RS confusion,
tampered payload), refresh rotation and reuse, sign-out, API keys and their scopes, disabled
users, the sign-in lockout, and the privacy of one user's history from another."""
import base64
import hashlib
import hmac
import json
import time

import pytest

import ghhttp as G

SECRET = "test-secret-0123456789-abcdefghijklmnop"  # 40 bytes: JWT_SECRET of these servers
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "root": "root-password-333"}
ROLES = {"alice": "user", "bob": "user", "root": "admin"}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sign(header, payload, secret=SECRET):
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    mac = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(mac)


def claims_of(token):
    return json.loads(unb64(token.split(".")[1]))


def jpost(s, path, body, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return s.request("POST", path, json.dumps(body).encode(), h)


def bearer(token):
    return {"Authorization": "Bearer " + token}


@pytest.fixture(scope="module")
def cli(run_gymhelper):
    """cli(binary, url, *args, input=b"...") runs a gymhelper command on the store at url."""
    def bound(binary, url, *args, input=None):
        return run_gymhelper(binary, *args, "--database-url", url, input=input)
    return bound


def until(fn, timeout=5.0):
    """Polls fn until it is true (revocations reach each instance within a second)."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, module_procs, binary, fake, tmp_path_factory, cli, postgres):
    """A server with AUTH_MODE=required and three accounts, on one backend."""
    if request.param == "sqlite":
        url = "sqlite:///%s" % (tmp_path_factory.mktemp("auth") / "gh.db")
    else:
        url = postgres.create_database("auth_%s" % binary.variant)
    for name, pw in PASSWORDS.items():
        r = cli(binary, url, "user", "add", name, "--role", ROLES[name], "--password-stdin",
                input=(pw + "\n").encode())
        assert r.returncode == 0, r
    s = module_procs.server(binary, provider=fake,
                            args=["--database-url", url, "--auth-mode", "required"],
                            env={"JWT_SECRET": SECRET, "LOGIN_MAX_FAILURES": "100"})
    return {"server": s, "url": url, "binary": binary, "cli": cli}


def login(s, name, password=None):
    r = jpost(s, "/api/v1/auth/login", {"username": name, "password": password or PASSWORDS[name]})
    assert r.status == 200, r
    return r.json()


def test_required_mode_refuses_anonymous_but_keeps_public_routes(world):
    s = world["server"]
    r = s.get("/api/v1/identifications")
    assert r.status == 401 and r.json()["code"] == "unauthorized"
    assert r.header("WWW-Authenticate").startswith("Bearer")
    assert s.get("/health").status == 200
    assert s.get("/api/v1/equipment").status == 200
    assert s.get("/api/v1/exercises?pattern=push").status == 200
    assert s.get("/api/v1/exercises/leg-press").status == 200
    assert s.get("/").status == 200
    assert s.get("/api/v1/auth/config").json()["mode"] == "required"


def test_login_answers_tokens_and_me(world):
    s = world["server"]
    doc = login(s, "alice")
    assert doc["token_type"] == "bearer" and doc["expires_in"] == 900
    assert doc["refresh_token"].startswith("ghr_") and len(doc["refresh_token"]) == 47
    c = claims_of(doc["access_token"])
    assert c["iss"] == "gymhelper" and c["aud"] == "gymhelper-api" and c["role"] == "user"
    assert c["exp"] - c["iat"] == 900
    me = s.get("/api/v1/me", bearer(doc["access_token"]))
    assert me.status == 200, me
    assert me.json()["user"]["username"] == "alice" and me.json()["admin"] is False


def test_wrong_password_and_unknown_user_answer_alike(world):
    s = world["server"]
    a = jpost(s, "/api/v1/auth/login", {"username": "alice", "password": "nope-nope"})
    b = jpost(s, "/api/v1/auth/login", {"username": "nobody", "password": "nope-nope"})
    assert a.status == b.status == 401
    assert a.json()["detail"] == b.json()["detail"] == "wrong username or password"
    assert jpost(s, "/api/v1/auth/login", {"username": "alice"}).status == 400
    r = s.request("POST", "/api/v1/auth/login", b'{"username":"a","password":"b"}',
                  {"Content-Type": "text/plain"})
    assert r.status == 415


def forged(world, **changes):
    """A token like alice's real one with claims (or header, under key 'header') changed."""
    real = login(world["server"], "alice")["access_token"]
    header = changes.pop("header", {"alg": "HS256", "typ": "JWT"})
    payload = claims_of(real)
    payload.update(changes)
    return sign(header, payload)


@pytest.mark.parametrize("case", ["expired", "not_yet_valid", "wrong_audience", "wrong_issuer",
                                  "issued_in_future", "admin_role_claimed"])
def test_token_claims_are_checked(world, case):
    s = world["server"]
    now = int(time.time())
    good = forged(world)  # signed with the server's secret: accepted as it is
    assert s.get("/api/v1/me", bearer(good)).status == 200
    changes = {
        "expired": {"exp": now - 120, "iat": now - 1000, "nbf": now - 1000},
        "not_yet_valid": {"nbf": now + 600},
        "wrong_audience": {"aud": "someone-else"},
        "wrong_issuer": {"iss": "evil"},
        "issued_in_future": {"iat": now + 600},
        "admin_role_claimed": {"role": "admin"},
    }[case]
    tok = forged(world, **changes)
    r = s.get("/api/v1/identifications", bearer(tok))
    if case == "admin_role_claimed":
        # correctly signed (only we know the secret), but the role comes from the store
        assert r.status == 200 and s.get("/api/v1/me", bearer(tok)).json()["admin"] is False
    else:
        assert r.status == 401, r
        assert r.json()["code"] == "unauthorized"


def test_alg_none_rs256_confusion_and_tampering_are_refused(world):
    s = world["server"]
    real = login(s, "alice")["access_token"]
    head, payload, sig = real.split(".")
    claims = claims_of(real)
    none = b64(b'{"alg":"none","typ":"JWT"}') + "." + payload + "."
    none_sig = b64(b'{"alg":"none","typ":"JWT"}') + "." + payload + "." + sig
    rs = sign({"alg": "RS256", "typ": "JWT"}, claims)  # HMAC'd with the secret as "public key"
    hs512 = b64(b'{"alg":"HS512","typ":"JWT"}') + "." + payload + "." + sig
    claims["sub"] = "3"  # someone else's id, signature kept
    tampered = head + "." + b64(json.dumps(claims).encode()) + "." + sig
    for tok in (none, none_sig, rs, hs512, tampered, real + "x", "a.b", "", "garbage"):
        r = s.get("/api/v1/identifications", bearer(tok))
        assert r.status == 401, (tok, r)
    assert s.get("/api/v1/identifications", bearer(real)).status == 200


def test_refresh_rotates_and_reuse_revokes_the_family(world):
    s = world["server"]
    first = login(s, "bob")
    r = jpost(s, "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r.status == 200, r
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert claims_of(second["access_token"])["sid"] == claims_of(first["access_token"])["sid"]
    assert s.get("/api/v1/me", bearer(second["access_token"])).status == 200
    # the first refresh token again: a copy is in use somewhere; the whole session ends
    r = jpost(s, "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r.status == 401 and "used before" in r.json()["detail"]
    r = jpost(s, "/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert r.status == 401
    assert until(lambda: s.get("/api/v1/me", bearer(second["access_token"])).status == 401)
    # another session of the same user is untouched
    other = login(s, "bob")
    assert s.get("/api/v1/me", bearer(other["access_token"])).status == 200


def test_logout_ends_the_session(world):
    s = world["server"]
    doc = login(s, "alice")
    r = jpost(s, "/api/v1/auth/logout", {"refresh_token": doc["refresh_token"]})
    assert r.status == 204, r
    assert jpost(s, "/api/v1/auth/refresh", {"refresh_token": doc["refresh_token"]}).status == 401
    assert until(lambda: s.get("/api/v1/me", bearer(doc["access_token"])).status == 401)


def test_api_keys_scopes_and_revocation(world, photos):
    s, url, binary, cli = world["server"], world["url"], world["binary"], world["cli"]
    r = cli(binary, url, "key", "create", "--name", "script", "--scope", "analyze",
            "--user", "alice")
    assert r.returncode == 0, r
    key = [line for line in r.out_lines if line.startswith("gh_")][0]
    kid = r.out_lines[0].split()[1]
    assert len(key) == 46
    listed = cli(binary, url, "key", "list")
    assert key not in listed.stdout and key[:9] in listed.stdout
    a = s.analyze(photos[5], headers=bearer(key))
    assert a.status == 200, a
    b = s.analyze(photos[5], headers={"X-API-Key": key})
    assert b.status == 200, b
    # the key acts as alice: her history shows it
    alice = login(s, "alice")["access_token"]
    mine = s.get("/api/v1/identifications?limit=100", bearer(alice)).json()["items"]
    assert a.json()["request_id"] in [x["request_id"] for x in mine]
    fb = jpost(s, "/api/v1/identifications/%s/feedback" % a.json()["identification_id"],
               {"slug": "squat-rack"}, bearer(key))
    assert fb.status == 403 and fb.json()["code"] == "forbidden"
    assert cli(binary, url, "key", "revoke", kid).returncode == 0
    assert until(lambda: s.analyze(photos[5], headers=bearer(key)).status == 401)
    assert s.analyze(photos[5], headers=bearer("gh_" + "A" * 43)).status == 401


def test_disabled_user_is_locked_out_within_a_second(world):
    s, url, binary, cli = world["server"], world["url"], world["binary"], world["cli"]
    r = cli(binary, url, "user", "add", "dave", "--password-stdin", input=b"dave-password-1\n")
    assert r.returncode == 0, r
    tok = login(s, "dave", "dave-password-1")["access_token"]
    assert s.get("/api/v1/me", bearer(tok)).status == 200
    assert cli(binary, url, "user", "disable", "dave").returncode == 0
    assert until(lambda: s.get("/api/v1/me", bearer(tok)).status == 401, timeout=3.0)
    r = jpost(s, "/api/v1/auth/login", {"username": "dave", "password": "dave-password-1"})
    assert r.status == 401 and r.json()["detail"] == "wrong username or password"


def test_two_users_never_see_each_others_analyses(world, photos):
    s = world["server"]
    alice = login(s, "alice")["access_token"]
    bob = login(s, "bob")["access_token"]
    root = login(s, "root")["access_token"]
    mine = s.analyze(photos[0], headers=bearer(alice)).json()
    theirs = s.analyze(photos[1], headers=bearer(bob)).json()
    ids = lambda tok, q="": [x["request_id"] for x in  # noqa: E731
                             s.get("/api/v1/identifications?limit=100" + q, bearer(tok))
                             .json()["items"]]
    assert mine["request_id"] in ids(alice) and theirs["request_id"] not in ids(alice)
    assert theirs["request_id"] in ids(bob) and mine["request_id"] not in ids(bob)
    for ref in (theirs["identification_id"], theirs["request_id"]):
        r = s.get("/api/v1/identifications/%s" % ref, bearer(alice))
        assert r.status == 404, r
        r = jpost(s, "/api/v1/identifications/%s/feedback" % ref, {"slug": "squat-rack"},
                  bearer(alice))
        assert r.status == 404, r
    assert s.get("/api/v1/identifications/%s" % mine["identification_id"],
                 bearer(alice)).status == 200
    # admins see everyone's, and filter by user
    everyone = ids(root)
    assert mine["request_id"] in everyone and theirs["request_id"] in everyone
    only_bob = ids(root, "&user=bob")
    assert theirs["request_id"] in only_bob and mine["request_id"] not in only_bob
    assert s.get("/api/v1/identifications?user=bob", bearer(alice)).status == 403
    assert s.get("/api/v1/identifications?user=nobody", bearer(root)).status == 404


def test_nocache_needs_an_admin(world, photos):
    s = world["server"]
    alice = login(s, "alice")["access_token"]
    root = login(s, "root")["access_token"]
    r = s.analyze(photos[2], query="nocache=true", headers=bearer(alice))
    assert r.status == 403 and r.json()["code"] == "forbidden"
    assert s.analyze(photos[2], query="nocache=true", headers=bearer(root)).status == 200


def test_failed_sign_ins_lock_out_by_username_and_address(procs, binary, tmp_path, cli):
    url = "sqlite:///%s" % (tmp_path / "gh.db")
    assert cli(binary, url, "user", "add", "erin", "--password-stdin",
               input=b"erin-password-1\n").returncode == 0
    s = procs.server(binary, args=["--database-url", url, "--auth-mode", "required"],
                     env={"LOGIN_MAX_FAILURES": "3", "LOGIN_LOCKOUT_SECONDS": "600"})
    for _ in range(3):
        assert jpost(s, "/api/v1/auth/login",
                     {"username": "erin", "password": "guess"}).status == 401
    r = jpost(s, "/api/v1/auth/login", {"username": "erin", "password": "erin-password-1"})
    assert r.status == 429 and r.json()["code"] == "rate_limited"
    assert 0 < int(r.header("Retry-After")) <= 600
    # the address is locked as well, for every username, known or not
    r = jpost(s, "/api/v1/auth/login", {"username": "ghost", "password": "x"})
    assert r.status == 429


def test_open_mode_is_the_default_on_loopback(procs, binary, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake)
    assert s.get("/api/v1/auth/config").json()["mode"] == "open"
    assert s.analyze(photos[0], query="nocache=true").status == 200
    assert s.get("/api/v1/identifications").status == 200
    assert s.get("/api/v1/me").json()["admin"] is True


def test_sign_up_only_when_allowed(procs, binary, tmp_path):
    url = "sqlite:///%s" % (tmp_path / "gh.db")
    off = procs.server(binary, args=["--database-url", url, "--auth-mode", "required"])
    r = jpost(off, "/api/v1/auth/register", {"username": "frank", "password": "frank-pass-1"})
    assert r.status == 403
    on = procs.server(binary, args=["--database-url", url, "--auth-mode", "required",
                                    "--allow-signup", "true"])
    r = jpost(on, "/api/v1/auth/register", {"username": "frank", "password": "frank-pass-1"})
    assert r.status == 201, r
    assert r.json()["user"]["role"] == "user"
    assert jpost(on, "/api/v1/auth/register",
                 {"username": "frank", "password": "frank-pass-1"}).status == 409
    assert jpost(on, "/api/v1/auth/register",
                 {"username": "Bad Name", "password": "frank-pass-1"}).status == 422
    assert jpost(on, "/api/v1/auth/register",
                 {"username": "gina", "password": "short"}).status == 422


def cookie_of(r):
    """(value, attributes) of the gh_refresh cookie a response sets."""
    sc = r.header("Set-Cookie") or ""
    assert sc.startswith("gh_refresh="), sc
    parts = [p.strip() for p in sc.split(";")]
    return parts[0][len("gh_refresh="):], parts[1:]


@pytest.mark.asan
def test_the_web_apps_refresh_cookie(procs, binary, tmp_path, cli):
    """use_cookie: the refresh token only in an HttpOnly; Secure; SameSite=Strict cookie;
    refresh and sign-out spend it (rotating, then clearing it) only from JSON requests of this
    origin; a spent cookie revokes the session; auth/config says whether one was sent."""
    url = "sqlite:///%s" % (tmp_path / "gh.db")
    assert cli(binary, url, "user", "add", "cara", "--password-stdin",
               input=b"cara-password-1\n").returncode == 0
    s = procs.server(binary, args=["--database-url", url, "--auth-mode", "required"])
    assert s.get("/api/v1/auth/config").json()["session_cookie"] is False
    r = jpost(s, "/api/v1/auth/login",
              {"username": "cara", "password": "cara-password-1", "use_cookie": True})
    assert r.status == 200, r
    assert "refresh_token" not in r.json()
    first, attrs = cookie_of(r)
    assert first.startswith("ghr_")
    assert set(attrs) >= {"Path=/api/v1/auth", "HttpOnly", "Secure", "SameSite=Strict"}, attrs
    jar = {"Cookie": "gh_refresh=" + first}
    assert s.get("/api/v1/auth/config", jar).json()["session_cookie"] is True
    # another site's form (no JSON), or a fetch a browser marks cross-origin: refused, unspent
    r = s.request("POST", "/api/v1/auth/refresh", b"", jar)
    assert r.status == 415 and r.header("Set-Cookie") is None, r
    r = jpost(s, "/api/v1/auth/refresh", {}, dict(jar, **{"Sec-Fetch-Site": "same-site"}))
    assert r.status == 403 and r.json()["code"] == "forbidden", r
    # this origin's page: a new pair, the token rotated in the cookie, none in the body
    r = jpost(s, "/api/v1/auth/refresh", {}, dict(jar, **{"Sec-Fetch-Site": "same-origin"}))
    assert r.status == 200, r
    assert "refresh_token" not in r.json()
    second, attrs = cookie_of(r)
    assert second != first and "HttpOnly" in attrs
    assert s.get("/api/v1/me", bearer(r.json()["access_token"])).status == 200
    # the spent cookie again: 401, the cookie cleared, and the session (second too) is over
    r = jpost(s, "/api/v1/auth/refresh", {}, jar)
    assert r.status == 401, r
    assert cookie_of(r)[0] == "" and "Max-Age=0" in cookie_of(r)[1]
    assert jpost(s, "/api/v1/auth/refresh", {}, {"Cookie": "gh_refresh=" + second}).status == 401
    # sign-out by cookie ends a fresh session and clears the cookie
    r = jpost(s, "/api/v1/auth/login",
              {"username": "cara", "password": "cara-password-1", "use_cookie": True})
    third = cookie_of(r)[0]
    r = jpost(s, "/api/v1/auth/logout", {}, {"Cookie": "gh_refresh=" + third})
    assert r.status == 204 and cookie_of(r)[0] == "" and "Max-Age=0" in cookie_of(r)[1]
    assert jpost(s, "/api/v1/auth/refresh", {}, {"Cookie": "gh_refresh=" + third}).status == 401
    # API clients are unchanged: the refresh token in the body, no cookie
    r = jpost(s, "/api/v1/auth/login", {"username": "cara", "password": "cara-password-1"})
    assert r.json()["refresh_token"].startswith("ghr_") and r.header("Set-Cookie") is None


@pytest.mark.asan
@pytest.mark.tsan
def test_a_slow_store_holds_no_io_thread(procs, binary, postgres, cli):
    """An API key not yet in the auth cache is looked up in the store by a light worker, not
    by the I/O thread: with one I/O thread and the key table locked for 2 s, the request waits
    for the store while /metrics (answered on the I/O thread) answers at once."""
    url = postgres.create_database("authio_%s" % binary.variant)
    r = cli(binary, url, "user", "add", "alice", "--password-stdin",
            input=(PASSWORDS["alice"] + "\n").encode())
    assert r.returncode == 0, r
    r = cli(binary, url, "key", "create", "--name", "k", "--scope", "analyze", "--user", "alice")
    assert r.returncode == 0, r
    key = [line for line in r.out_lines if line.startswith("gh_")][0]
    s = procs.server(binary, provider=procs.fake(),
                     args=["--database-url", url, "--auth-mode", "required"],
                     env={"JWT_SECRET": SECRET, "HTTP_THREADS": "1"})
    assert s.get("/metrics").status == 200
    locker = postgres.psql_background(
        "BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
        " SELECT pg_sleep(2); COMMIT;", db=url.rsplit("/", 1)[1], wait_for="locked")
    try:
        r, took, probes = G.while_waiting(s, lambda: s.get("/api/v1/me", {"X-API-Key": key}))
    finally:
        locker.wait(30)
    assert r.status == 200, r
    assert took >= 1.5, took  # it did wait for the locked table
    assert probes and max(probes) < 1.0, probes
    # now cached: the next request is decided on the I/O thread, at once
    assert s.get("/api/v1/me", {"X-API-Key": key}).status == 200
