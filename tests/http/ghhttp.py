# SPDX-License-Identifier: MIT
"""Helpers of the end-to-end HTTP tests: the fake OpenAI server and `gymhelper serve` as child
processes (started on ephemeral ports, their output drained to files, always killed), a small
HTTP client on http.client and raw sockets, multipart bodies, the test photos and crafted
images.

stdlib + Pillow only; nothing here downloads anything or writes outside the caller's
directories.
"""
import gzip
import hashlib
import http.client
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FAKE_OPENAI = REPO / "tests" / "fake_openai.py"
GYM_PHOTOS = REPO.parent / "shared" / "data" / "gym-photos"
PYTHON = "/usr/bin/python3"

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "WARNING: ThreadSanitizer")

# Settings the server reads from the environment: a developer's shell must not change what
# the tests see (each test passes what it means explicitly).
SETTINGS_ENV = ("PORT", "HOST", "DATABASE_URL", "REDIS_URL", "AI_PROVIDER", "OPENAI_API_KEY",
                "OPENAI_BASE_URL", "OPENAI_MODEL", "LLAVA_BASE_URL", "LLAVA_MODEL", "CLIP_MODEL",
                "PROVIDER_TIMEOUT_MS", "PROVIDER_RETRIES", "CACHE_TTL_DAYS", "CACHE_TTL_SECONDS",
                "CACHE_MAX_DISTANCE", "CONFIDENCE_THRESHOLD", "MAX_UPLOAD_MB", "IMAGE_MIN_SIDE",
                "IMAGE_MAX_SIDE", "CATALOGUE_PATH", "LRU_ENTRIES", "LRU_MB", "HTTP_THREADS",
                "WORKERS", "ANALYSIS_QUEUE", "LOG_LEVEL", "LOG_FORMAT",
                "RATE_LIMIT_REQUESTS_PER_MINUTE",
                "RATE_LIMIT_REQUESTS_BURST", "RATE_LIMIT_PROVIDER_PER_MINUTE",
                "RATE_LIMIT_PROVIDER_BURST", "PROVIDER_DAILY_BUDGET_CALLS",
                "PROVIDER_DAILY_BUDGET_USD", "TRUSTED_PROXIES", "AUTH_MODE", "JWT_SECRET",
                "JWT_ISSUER", "JWT_AUDIENCE", "ACCESS_TOKEN_TTL_SECONDS", "REFRESH_TOKEN_TTL_DAYS",
                "ALLOW_SIGNUP", "LOGIN_MAX_FAILURES", "LOGIN_LOCKOUT_SECONDS", "MAX_CONNECTIONS",
                "MAX_CONNECTIONS_PER_CLIENT", "UPLOAD_MEMORY_MB", "HEADER_TIMEOUT_S",
                "UPLOAD_MIN_RATE_KBPS", "UPLOAD_GRACE_S")

# The rate limits are off unless a test turns them on: the suites send hundreds of requests,
# and dozens of provider calls, from one address (tests/http/test_limits.py tests the limits).
LIMITS_OFF = {"RATE_LIMIT_REQUESTS_PER_MINUTE": "0", "RATE_LIMIT_PROVIDER_PER_MINUTE": "0"}

KEY = "sk-test-Zq8vK2mW5xR7pL3n"  # distinctive, so a leak is easy to spot
MODEL = "gpt-4o-mini"
ANSWER = "barbell"

# Every process any helper started, so that a session-end hook can kill leftovers.
_PROCS = []


def kill_leftovers():
    for p in _PROCS:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    _PROCS.clear()


def _wait_for_line(path, pattern, proc, timeout, what):
    """Polls a file the child writes until a line matches pattern; returns the match."""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while True:
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            m = rx.search(line)
            if m:
                return m
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s before printing %r; output:\n%s"
                               % (what, proc.returncode, pattern, text))
        if time.monotonic() > deadline:
            raise RuntimeError("%s printed no %r within %ss; output:\n%s"
                               % (what, pattern, timeout, text))
        time.sleep(0.02)


# --- HTTP ------------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage (case-insensitive get)
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        return self.headers.get(name)

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def json(self):
        data = self.body
        if self.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return json.loads(data)

    def __repr__(self):
        return "<HTTP %s %s %r>" % (self.status, self.content_type, self.body[:300])


def request(port, method, path, body=None, headers=None, timeout=30, conn=None):
    """One HTTP request on a fresh connection (or on conn, which stays open)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.headers, data, time.monotonic() - t0)
    finally:
        if own:
            conn.close()


def multipart(fields, boundary="ghBoundary7MA4YWxkTrZu0gW"):
    """(body, content type) of a multipart/form-data form. fields: list of
    (name, filename or None, content type or None, bytes)."""
    out = io.BytesIO()
    for name, filename, ctype, data in fields:
        out.write(b"--" + boundary.encode() + b"\r\n")
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out.write(("Content-Disposition: %s\r\n" % disp).encode())
        if ctype:
            out.write(("Content-Type: %s\r\n" % ctype).encode())
        out.write(b"\r\n")
        out.write(data)
        out.write(b"\r\n")
    out.write(b"--" + boundary.encode() + b"--\r\n")
    return out.getvalue(), "multipart/form-data; boundary=" + boundary


def raw_exchange(port, data, timeout=5.0, shut_write=False, read=True):
    """Sends raw bytes on a new socket and returns whatever comes back before the server
    closes or timeout passes (b"" when nothing)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
            if shut_write:
                s.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before taking it all
            pass
        if not read:
            return b""
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                c = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)
    finally:
        s.close()


def status_of(raw):
    """The status code of the first response in raw bytes, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


def statuses_of(raw):
    return [int(s) for s in re.findall(rb"HTTP/1\.[01] (\d{3}) ", raw)]


# --- child processes -------------------------------------------------------------------------

def run_cli(binary, args, env=None, timeout=120):
    """Runs a gymhelper command to completion with the settings' variables cleared (env adds
    to them) and returns the CompletedProcess (bytes). Raises AssertionError on a sanitizer
    report in stderr or a death by signal: an expected exit status must not hide a leak."""
    full_env = dict(getattr(binary, "env", os.environ))
    for k in SETTINGS_ENV:
        full_env.pop(k, None)
    full_env.update(env or {})
    argv = [str(binary)] + [str(a) for a in args]
    r = subprocess.run(argv, capture_output=True, env=full_env, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    err = r.stderr.decode("utf-8", "replace")
    reports = [m for m in SANITIZER_MARKERS if m in err]
    if reports or r.returncode < 0:
        raise AssertionError("%s: exit %s, sanitizer reports %s:\n%s"
                             % (" ".join(argv), r.returncode, reports, _sanitizer_excerpt(err)))
    return r


class FakeOpenAI:
    """tests/fake_openai.py as a child process."""

    def __init__(self, workdir, mode="good", answer=ANSWER, key=KEY, model=MODEL,
                 slow_seconds=None, timeout=15, llava=False):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.out_path = workdir / "fake.stdout"
        self.err_path = workdir / "fake.stderr"
        argv = [PYTHON, str(FAKE_OPENAI), "--port", "0", "--key", key, "--model", model,
                "--answer", answer, "--mode", mode]
        if slow_seconds is not None:
            argv += ["--slow-seconds", str(slow_seconds)]
        if llava:  # an Ollama-like server: no Authorization, the model name echoed
            argv.append("--llava")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _PROCS.append(self.proc)
        try:
            m = _wait_for_line(self.out_path, r"^PORT (\d+)$", self.proc, timeout, "fake_openai")
        except BaseException:
            self.stop()
            raise
        self.port = int(m.group(1))
        self.base_url = "http://127.0.0.1:%d/v1" % self.port

    def _post(self, path, obj):
        r = request(self.port, "POST", path, json.dumps(obj).encode(),
                    {"Content-Type": "application/json"}, timeout=10)
        assert r.status == 200, r
        return r.json()

    def control(self, **kw):
        return self._post("/_control", kw)

    def reset(self):
        return self._post("/_reset", {})

    def calls(self):
        r = request(self.port, "GET", "/_calls", timeout=10)
        assert r.status == 200, r
        return r.json()["calls"]

    def held(self):
        """Calls now waiting in mode "hold" (and those released since the last reset)."""
        r = request(self.port, "GET", "/_calls", timeout=10)
        assert r.status == 200, r
        return r.json()["held"]

    def release(self):
        """Lets every call held in mode "hold" answer."""
        return self._post("/_release", {})

    def last_request(self):
        return request(self.port, "GET", "/_calls", timeout=10).json()["last_request"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


class Server:
    """`gymhelper serve` as a child process on an ephemeral port.

    binary: the top-level conftest's Binary (a str with .variant and .env). provider: a
    FakeOpenAI to point at, or None for no provider configured. args: extra flags."""

    def __init__(self, binary, workdir, db=None, provider=None, args=(), env=None, key=KEY,
                 timeout=None):
        self.binary = binary
        self.variant = getattr(binary, "variant", "release")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db = Path(db) if db else self.workdir / "gh.db"
        full_env = dict(getattr(binary, "env", os.environ))
        for k in SETTINGS_ENV:
            full_env.pop(k, None)
        argv = [str(binary), "serve", "--port", "0", "--database-url",
                "sqlite:///%s" % self.db, "--log-format", "json"]
        if provider is not None:
            full_env["OPENAI_API_KEY"] = key
            argv += ["--openai-base-url", provider.base_url, "--openai-model", MODEL]
        argv += [str(a) for a in args]
        # Pulled CLIP models live under XDG_CACHE_HOME: a developer's pulled model must not
        # turn "auto" into "clip" under the tests' feet.
        full_env["XDG_CACHE_HOME"] = str(self.workdir / "xdg-cache")
        full_env.update(LIMITS_OFF)
        full_env.update(env or {})
        self.argv = argv
        self.key = key if provider is not None else None
        n = 0
        while (self.workdir / ("server%d.stderr" % n)).exists():
            n += 1
        self.out_path = self.workdir / ("server%d.stdout" % n)
        self.err_path = self.workdir / ("server%d.stderr" % n)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=full_env)
        _PROCS.append(self.proc)
        self.returncode = None
        if timeout is None:
            timeout = 60 if self.variant in ("asan", "tsan") else 20
        try:
            m = _wait_for_line(self.out_path, r"^listening on http://127\.0\.0\.1:(\d+)$",
                               self.proc, timeout, "gymhelper serve")
        except BaseException:
            self.kill()
            raise
        self.port = int(m.group(1))

    # requests
    def request(self, method, path, body=None, headers=None, timeout=30, conn=None):
        return request(self.port, method, path, body, headers, timeout, conn)

    def get(self, path, headers=None, timeout=30):
        return self.request("GET", path, None, headers, timeout)

    def analyze(self, data, query="", filename="photo.jpg", ctype="image/jpeg", raw=False,
                headers=None, timeout=30):
        """POSTs an image, as multipart field `file` unless raw."""
        h = dict(headers or {})
        if raw:
            body = data
            if ctype is not None:
                h["Content-Type"] = ctype
        else:
            body, h["Content-Type"] = multipart([("file", filename, ctype, data)])
        path = "/api/v1/analyze" + ("?" + query if query else "")
        return self.request("POST", path, body, h, timeout)

    def stats(self):
        r = self.get("/api/v1/cache/stats")
        assert r.status == 200, r
        return r.json()

    # process
    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        return self.err_path.read_text(errors="replace")

    def log_lines(self):
        out = []
        for line in self.stderr_text().splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def access_log(self, request_id, timeout=3.0):
        """The access-log line of a request (it is written when the response completes)."""
        deadline = time.monotonic() + timeout
        while True:
            for obj in self.log_lines():
                if obj.get("request_id") == request_id and "status" in obj:
                    return obj
            if time.monotonic() > deadline:
                raise AssertionError("no access log line for request %s in:\n%s"
                                     % (request_id, self.stderr_text()[-3000:]))
            time.sleep(0.05)

    def sanitizer_reports(self):
        text = self.stderr_text()
        return [m for m in SANITIZER_MARKERS if m in text]

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Stops the server with sig (None: it was already signalled, just wait) and returns
        its exit code; kills it after timeout and raises AssertionError."""
        if timeout is None:
            timeout = 40 if self.variant in ("asan", "tsan") else 20
        if self.proc.poll() is None:
            if sig is not None:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = self.proc.returncode
                raise AssertionError("server did not stop within %ss of %s; stderr:\n%s"
                                     % (timeout, signal.Signals(sig or signal.SIGTERM).name,
                                        self.stderr_text()[-3000:]))
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def check_clean_exit(self):
        """Stops (SIGTERM) and returns a list of problems: non-zero exit, sanitizer reports."""
        problems = []
        try:
            rc = self.stop()
        except AssertionError as e:
            return [str(e)]
        if rc != 0:
            problems.append("exit status %s after SIGTERM" % rc)
        reps = self.sanitizer_reports()
        if reps:
            problems.append("sanitizer reports %s" % reps)
        if problems:
            problems.append("stderr of %s (%s):\n%s" % (self.variant, " ".join(self.argv),
                                                          _sanitizer_excerpt(self.stderr_text())))
        return problems


def _sanitizer_excerpt(text, limit=12000):
    """The sanitizer reports of a stderr (or its tail when there are none)."""
    i = min([text.find(m) for m in SANITIZER_MARKERS if m in text] or [-1])
    if i < 0:
        return text[-limit:]
    start = text.rfind("\n=", 0, i)
    return text[max(0, start):][:limit]


# --- images ----------------------------------------------------------------------------------

def photo_rows(label=None):
    """labels.tsv rows (dicts) of the test photos, in file order."""
    rows = []
    with open(GYM_PHOTOS / "labels.tsv") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            if label is None or row["label"] == label:
                rows.append(row)
    return rows


def photo_bytes(row):
    return (GYM_PHOTOS / row["path"]).read_bytes()


def jpeg_photos(n, skip=0):
    """n JPEG test photos (bytes) of different labels, read at test time."""
    seen, out = set(), []
    rows = [r for r in photo_rows() if r["format"] == "jpeg"]
    for r in rows[skip:]:
        if r["label"] in seen:
            continue
        seen.add(r["label"])
        out.append(photo_bytes(r))
        if len(out) == n:
            break
    return out


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def reencode(data, fmt="JPEG", **kw):
    img = Image.open(io.BytesIO(data))
    img.load()
    img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def solid(w, h, fmt="PNG", colour=(120, 80, 40)):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, fmt)
    return buf.getvalue()


def jpeg_claiming(width, height, real=64):
    """A real real x real baseline JPEG whose SOF0 header is patched to claim width x height."""
    buf = io.BytesIO()
    Image.new("RGB", (real, real), (90, 140, 200)).save(buf, "JPEG", quality=80)
    data = bytearray(buf.getvalue())
    i = 2
    while True:  # walk the marker segments (ITU T.81 B.1.1)
        assert data[i] == 0xFF, "lost in the JPEG markers"
        marker, seg_len = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker == 0xC0:
            struct.pack_into(">HH", data, i + 5, height, width)
            return bytes(data)
        i += 2 + seg_len


GIF_BYTES = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00"
             b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
PDF_BYTES = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
             b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n"
             b"%%EOF\n")
HTML_BYTES = b"<!DOCTYPE html><html><head><title>x</title></head><body>hello</body></html>\n"
TEXT_BYTES = b"just some text, certainly not a photo of a barbell\n" * 4


def is_problem(r, status, code):
    """Asserts r is an application/problem+json document of status and code; returns it."""
    assert r.status == status, r
    assert r.content_type == "application/problem+json", r
    doc = r.json()
    assert set(doc) >= {"type", "title", "status", "code", "detail", "instance", "request_id"}, doc
    assert doc["status"] == status, doc
    assert doc["code"] == code, doc
    assert isinstance(doc["title"], str) and doc["title"], doc
    assert isinstance(doc["type"], str) and doc["type"], doc
    assert isinstance(doc["detail"], str) and doc["detail"], doc
    assert isinstance(doc["instance"], str) and doc["instance"].startswith("/"), doc
    assert doc["request_id"] == r.header("X-Request-ID"), (doc, dict(r.headers))
    return doc


def cache_layer(r):
    """Asserts r is a 200 analysis; returns the cache layer that answered it, None for a miss."""
    assert r.status == 200, r
    doc = r.json()
    return doc["cache"]["layer"] if doc["cached"] else None


if __name__ == "__main__":
    sys.exit("helpers only")


def while_waiting(s, slow, path="/metrics", every=0.2, most=10):
    """Runs slow() (a request the server makes wait) in a thread and asks path every `every`
    seconds while it runs: (slow's answer, the seconds it took, each probe's seconds). The
    probes show whether the I/O thread stayed free meanwhile."""
    out = {}

    def run():
        t0 = time.monotonic()
        out["r"] = slow()
        out["s"] = time.monotonic() - t0

    t = threading.Thread(target=run)
    t.start()
    probes = []
    while t.is_alive() and len(probes) < most:
        time.sleep(every)
        t0 = time.monotonic()
        r = s.get(path)
        probes.append(time.monotonic() - t0)
        assert r.status == 200, r
    t.join(30)
    return out.get("r"), out.get("s"), probes
