# SPDX-License-Identifier: MIT
"""Revocations across instances (issue 11 "Several instances"): two instances with
AUTH_MODE=required share one store (SQLite file or PostgreSQL) and one Redis. Users, refresh
families and revocations live in the store, so a sign-out or a reused refresh token on one
instance, and a key revoked or a user disabled with the CLI, end what the other instance
accepted. Each instance polls the store's revocation epoch every 250 ms; the tests poll for
the state up to a generous deadline and never assert a time."""
import json
import sqlite3
import time

import pytest

SECRET = "test-secret-0123456789-abcdefghijklmnop"

pytestmark = pytest.mark.asan


def jpost(s, path, body, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return s.request("POST", path, json.dumps(body).encode(), h)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def until(fn, timeout=10.0):
    """Polls fn until it is true; the deadline only guards against a hang."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.05)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(request, module_procs, binary, tmp_path_factory, run_gymhelper, postgres, redis_server):
    if request.param == "sqlite":
        url = "sqlite:///%s" % (tmp_path_factory.mktemp("revoke") / "gh.db")
    else:
        url = postgres.create_database("revocation_%s" % binary.variant)
    redis_server.start()

    def cli(*args, input=None):
        r = run_gymhelper(binary, *args, "--database-url", url, input=input)
        assert r.returncode == 0, r
        return r

    for name in ("rita", "sam", "uma"):
        cli("user", "add", name, "--password-stdin", input=(name + "-password-1\n").encode())
    env = {"JWT_SECRET": SECRET, "LOGIN_MAX_FAILURES": "100", "REDIS_URL": redis_server.url()}
    args = ["--database-url", url, "--auth-mode", "required"]
    a = module_procs.server(binary, args=args, env=env)
    b = module_procs.server(binary, args=args, env=env)

    def sql(statement):  # behind the instances' backs: no revocation epoch moves
        if request.param == "sqlite":
            with sqlite3.connect(url[len("sqlite:///"):], timeout=30) as db:
                db.execute(statement)
        else:
            postgres.psql(statement, db="revocation_%s" % binary.variant)

    return {"a": a, "b": b, "cli": cli, "sql": sql, "redis": redis_server}


def login(s, name):
    r = jpost(s, "/api/v1/auth/login", {"username": name, "password": name + "-password-1"})
    assert r.status == 200, r
    return r.json()


def me(s, headers):
    return s.get("/api/v1/me", headers).status


def test_sign_out_on_one_instance_ends_the_session_on_the_other(pair):
    a, b = pair["a"], pair["b"]
    doc = login(a, "rita")
    assert me(b, bearer(doc["access_token"])) == 200  # b accepts a's token (one secret)
    other = login(b, "rita")  # another session of hers, untouched
    assert jpost(a, "/api/v1/auth/logout", {"refresh_token": doc["refresh_token"]}).status == 204
    assert until(lambda: me(b, bearer(doc["access_token"])) == 401)
    assert jpost(b, "/api/v1/auth/refresh", {"refresh_token": doc["refresh_token"]}).status == 401
    assert me(b, bearer(other["access_token"])) == 200


def test_a_refresh_token_reused_on_another_instance_revokes_the_family(pair):
    a, b = pair["a"], pair["b"]
    first = login(a, "sam")
    r = jpost(a, "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r.status == 200, r
    second = r.json()
    assert me(a, bearer(second["access_token"])) == 200
    assert me(b, bearer(second["access_token"])) == 200
    r = jpost(b, "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})  # reuse
    assert r.status == 401 and "used before" in r.json()["detail"], r
    for s in (a, b):
        assert until(lambda: me(s, bearer(second["access_token"])) == 401), s
    assert jpost(a, "/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]}).status \
        == 401


def test_a_key_revoked_and_a_user_disabled_stop_working_on_every_instance(pair):
    a, b, cli = pair["a"], pair["b"], pair["cli"]
    r = cli("key", "create", "--name", "both", "--scope", "analyze", "--user", "uma")
    key = [line for line in r.out_lines if line.startswith("gh_")][0]
    kid = r.out_lines[0].split()[1]
    tok = login(a, "uma")["access_token"]
    for s in (a, b):
        assert me(s, {"X-API-Key": key}) == 200 and me(s, bearer(tok)) == 200
    cli("key", "revoke", kid)
    for s in (a, b):
        assert until(lambda: me(s, {"X-API-Key": key}) == 401), s
        assert me(s, bearer(tok)) == 200  # her token is another credential
    cli("user", "disable", "uma")
    for s in (a, b):
        assert until(lambda: me(s, bearer(tok)) == 401), s
    r = jpost(b, "/api/v1/auth/login", {"username": "uma", "password": "uma-password-1"})
    assert r.status == 401, r


def test_revocations_are_announced_through_redis(pair):
    """Each instance also reads Redis's copy of the epoch: a key revoked in the store without
    moving the store's epoch is still served from b's cache until Redis's copy moves; and an
    instance's own revocation moves Redis's copy."""
    a, b, cli, sql, redis = pair["a"], pair["b"], pair["cli"], pair["sql"], pair["redis"]
    r = cli("key", "create", "--name", "quiet", "--scope", "analyze", "--user", "sam")
    key = [line for line in r.out_lines if line.startswith("gh_")][0]
    kid = int(r.out_lines[0].split()[1])
    time.sleep(1.0)  # earlier tests' revocations reach b's poller before it caches the key
    assert until(lambda: me(b, {"X-API-Key": key}) == 200)  # b has it cached now
    sql("UPDATE api_keys SET revoked_at = 1 WHERE id = %d" % kid)
    time.sleep(0.5)  # two store polls: nothing moved there, so b keeps its cached answer
    assert me(b, {"X-API-Key": key}) == 200
    redis.command("INCR", "gh:v1:auth:epoch")
    assert until(lambda: me(b, {"X-API-Key": key}) == 401)
    before = int(redis.command("GET", "gh:v1:auth:epoch") or 0)
    doc = login(a, "rita")
    assert jpost(a, "/api/v1/auth/logout", {"refresh_token": doc["refresh_token"]}).status == 204
    assert int(redis.command("GET", "gh:v1:auth:epoch")) > before
