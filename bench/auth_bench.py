#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gymhelper accounts benchmark: the cost of an access token (sign, verify, authenticate) in C
beside the same HS256 verification in Python's hmac/base64/json (the peer, same run, same
token), the sign-in latency (Argon2id) over HTTP, and cache-hit requests/s with
AUTH_MODE=required (Bearer token) against open, alternating, with wrk."""
import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = b"bench-secret-0123456789-abcdefghijklmnop"


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def py_verify(token, now):
    """The checks gh_auth_jwt_verify makes, in Python."""
    head, payload, sig = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert header["alg"] == "HS256"
    want = hmac.new(SECRET, (head + "." + payload).encode(), hashlib.sha256).digest()
    got = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    assert hmac.compare_digest(want, got)
    c = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert c["iss"] == "gymhelper" and c["aud"] == "gymhelper-api"
    assert now < c["exp"] + 30 and c["iat"] <= now + 30 and c["nbf"] <= now + 30
    return c


def section_tokens(build, n):
    out = subprocess.run([os.path.join(build, "bench", "auth_bench"), str(n)], check=True,
                         capture_output=True, text=True).stdout
    v = dict(kv.split("=", 1) for kv in out.split())
    now = int(time.time())
    t0 = time.perf_counter()
    for _ in range(n // 10):
        py_verify(v["token"], now)
    py_ns = (time.perf_counter() - t0) / (n // 10) * 1e9
    print("\n## Access tokens (%d calls, one thread)\n" % n)
    print("| operation | gymhelper (C, libsodium) | Python hmac/json peer |")
    print("|---|---:|---:|")
    if "verify_cold_ns" in v:
        print("| verify HS256 token, first sight (signature and claims) | %.2f µs | %.2f µs |"
              % (float(v["verify_cold_ns"]) / 1e3, py_ns / 1e3))
        print("| verify the same token again (bytes verified before) | %.2f µs | – |"
              % (float(v["verify_ns"]) / 1e3))
    else:
        print("| verify HS256 token | %.2f µs | %.2f µs |"
              % (float(v["verify_ns"]) / 1e3, py_ns / 1e3))
    print("| authenticate (verify + cached user and session) | %.2f µs | – |"
          % (float(v["authenticate_ns"]) / 1e3))
    print("| sign | %.2f µs | – |" % (float(v["sign_ns"]) / 1e3))


class Server:
    def __init__(self, gh, tmp, name, args, env=None):
        self.log = open(os.path.join(tmp, name + ".log"), "wb")
        full = dict(os.environ, **(env or {}))
        full.update(RATE_LIMIT_REQUESTS_PER_MINUTE="0", RATE_LIMIT_PROVIDER_PER_MINUTE="0")
        self.p = subprocess.Popen([gh, "serve", "--port", "0", "--log-level", "error"] + args,
                                  stdout=subprocess.PIPE, stderr=self.log, env=full,
                                  start_new_session=True)
        line = self.p.stdout.readline().decode()
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError("server did not start: %r" % line)
        self.base = "http://127.0.0.1:%s" % m.group(1)

    def post(self, path, body, ctype, headers=None):
        h = {"Content-Type": ctype}
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=body, headers=h, method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()

    def stop(self):
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
            self.p.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.p.pid, signal.SIGKILL)


def wrk(url, body_path, header, conns, seconds):
    argv = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency", "--timeout", "5s",
            "-s", os.path.join(ROOT, "bench", "wrk", "exact.lua")]
    if header:
        argv += ["-H", header]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=seconds + 60,
                         env=dict(os.environ, GH_BENCH_BODY=body_path, GH_BENCH_NONCE="x")).stdout
    m = re.search(r"GHBENCH requests=(\d+) duration_us=(\d+).*status=(\d+)", out)
    if not m:
        raise RuntimeError("wrk: %s" % out[-500:])
    if int(m.group(3)):
        raise RuntimeError("wrk saw %s answers >= 400" % m.group(3))
    return int(m.group(1)) / (int(m.group(2)) / 1e6)


def section_http(build, photo, rounds, seconds, conns):
    gh = os.path.join(build, "gymhelper")
    tmp = tempfile.mkdtemp(prefix="gh-auth-bench-")
    db = "sqlite:///%s/gh.db" % tmp
    subprocess.run([gh, "user", "add", "bench", "--password-stdin", "--database-url", db],
                   input=b"bench-password-1\n", check=True, capture_output=True)
    body = os.path.join(tmp, "photo.jpg")
    with open(photo, "rb") as f, open(body, "wb") as g:
        g.write(f.read())
    fake = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "fake_openai.py"),
                             "--key", "sk-bench", "--answer", "barbell"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    port = fake.stdout.readline().decode().split()[1]
    prov = ["--openai-base-url", "http://127.0.0.1:%s/v1" % port, "--ai-provider", "openai"]
    env = {"OPENAI_API_KEY": "sk-bench"}
    servers = [fake]
    try:
        req = Server(gh, tmp, "required", ["--database-url", db, "--auth-mode", "required"]
                     + prov, env)
        servers.append(req)
        opn = Server(gh, tmp, "open", ["--database-url", db, "--auth-mode", "open"] + prov, env)
        servers.append(opn)
        times = []
        for _ in range(21):
            t0 = time.perf_counter()
            st, doc = req.post("/api/v1/auth/login", json.dumps(
                {"username": "bench", "password": "bench-password-1"}).encode(),
                "application/json")
            times.append((time.perf_counter() - t0) * 1e3)
        token = json.loads(doc)["access_token"]
        print("\n## Sign-in (Argon2id t=2, 19 MiB), 21 logins over HTTP\n")
        print("p50 %.0f ms, min %.0f ms, max %.0f ms" % (statistics.median(times), min(times),
                                                         max(times)))
        return token, servers, body
    except Exception:
        stop_all(servers)
        raise


def stop_all(servers):
    for s in servers:
        if isinstance(s, Server):
            s.stop()
        else:
            os.killpg(s.pid, signal.SIGTERM)
            s.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--calls", type=int, default=200000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--photos", default=os.path.join(ROOT, "..", "shared", "data", "gym-photos"))
    a = ap.parse_args()
    build = os.path.abspath(a.build if os.path.isdir(a.build) else os.path.join(ROOT, a.build))
    print("# gymhelper accounts benchmark")
    print("CPU: %s, %d cores; load average %s" % (cpu_name(), os.cpu_count(),
                                                  open("/proc/loadavg").read().split()[0]))
    section_tokens(build, a.calls)
    photo = sorted(os.path.join(d, f) for d, _, fs in os.walk(a.photos) for f in fs
                   if f.lower().endswith((".jpg", ".jpeg")))[0]
    token, servers, body = section_http(build, photo, a.rounds, a.seconds, a.conns)
    req, opn = servers[1], servers[2]
    try:
        # the first POST makes the answer (CLIP or none); every later one is a cache hit
        for s, h in ((req, {"Authorization": "Bearer " + token}), (opn, {})):
            with open(body, "rb") as f:
                data = f.read()
            for _ in range(2):
                try:
                    s.post("/api/v1/analyze", data, "image/jpeg", h)
                except urllib.error.HTTPError as e:
                    raise RuntimeError("analyze answered %s: %s" % (e.code, e.read()[:300]))
        rows = []
        for r in range(a.rounds):  # alternating, so load drift hits both alike
            o = wrk(opn.base + "/api/v1/analyze", body, None, a.conns, a.seconds)
            q = wrk(req.base + "/api/v1/analyze", body, "Authorization: Bearer " + token,
                    a.conns, a.seconds)
            rows.append((o, q))
        print("\n## Cache hits, %d connections, %d s per run, alternating\n" % (a.conns, a.seconds))
        print("| round | open req/s | required req/s | required / open |")
        print("|---|---:|---:|---:|")
        for i, (o, q) in enumerate(rows):
            print("| %d | %.0f | %.0f | %.0f%% |" % (i + 1, o, q, 100 * q / o))
        so, sq = sum(o for o, _ in rows), sum(q for _, q in rows)
        print("| all | %.0f | %.0f | %.0f%% |" % (so / len(rows), sq / len(rows), 100 * sq / so))
    finally:
        stop_all(servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
