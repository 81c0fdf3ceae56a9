#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A local fake of the Hugging Face Hub's file endpoint, for `gymhelper model pull` tests
(stdlib only; nothing leaves 127.0.0.1).

GET /{repo}/resolve/{revision}/{file} answers as the Hub does:
  - a large (LFS) file: 302 to /cdn/{sha256}/{file} with X-Linked-Etag: "<sha256>",
    X-Linked-Size: <bytes> and X-Repo-Commit; the /cdn URL serves the bytes with Range support
    (206 + Content-Range, 416 past the end);
  - a small file: 200 with Content-Length (and Range support too);
  - an unknown repo, revision or file: 404 with X-Error-Code: EntryNotFound.

Modes, set with control() (in-process) or POST /_control {"...": ...}:
  cut_after=N     the next body of an LFS file stops after N bytes and the connection is
                  dropped (once), so a pull must resume
  corrupt=True    LFS bodies have one byte flipped (same size): the SHA-256 check must fail
  short=True      LFS bodies lose their last 10 bytes while X-Linked-Size stays: the size
                  check must fail
  slow=S          LFS bodies are sent in 16 kB pieces S seconds apart
  ignore_range    Range headers are ignored (200 with the whole file)
Every request is recorded: requests() / GET /_requests -> [{"method", "path", "range"}].

As a script: hub_server.py --dir DIR --repo owner/name --revision REV [--lfs FILE ...]
serves DIR's files and prints "PORT <n>".
"""
import argparse
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

CHUNK = 16 * 1024


class Hub:
    """The served repository and the modes. files: {name: bytes}; lfs: names served by
    redirect with X-Linked-* headers."""

    def __init__(self, repo, revision, files, lfs=("model.safetensors",)):
        self.repo = repo
        self.revision = revision
        self.files = dict(files)
        self.lfs = set(lfs)
        self.lock = threading.Lock()
        self.log = []
        self.modes = {}

    def sha(self, name):
        return hashlib.sha256(self.files[name]).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def hub(self):
        return self.server.hub

    def _record(self):
        with self.hub.lock:
            self.hub.log.append({"method": self.command, "path": self.path,
                                 "range": self.headers.get("Range")})

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self):
        self._send(404, b'{"error":"Entry not found"}',
                   {"Content-Type": "application/json", "X-Error-Code": "EntryNotFound"})

    def do_POST(self):
        if self.path != "/_control":
            return self._not_found()
        n = int(self.headers.get("Content-Length") or 0)
        with self.hub.lock:
            self.hub.modes.update(json.loads(self.rfile.read(n) or b"{}"))
        self._send(200, b"{}", {"Content-Type": "application/json"})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.path == "/_requests":
            with self.hub.lock:
                body = json.dumps(self.hub.log).encode()
            return self._send(200, body, {"Content-Type": "application/json"})
        self._record()
        path = unquote(self.path.split("?")[0])
        if path.startswith("/cdn/"):
            parts = path.split("/")  # "", "cdn", sha, name
            name = parts[3] if len(parts) == 4 else ""
            if name not in self.hub.files or self.hub.sha(name) != parts[2]:
                return self._not_found()
            return self._serve(name, lfs=True)
        prefix = "/%s/resolve/%s/" % (self.hub.repo, self.hub.revision)
        if not path.startswith(prefix):
            return self._not_found()
        name = path[len(prefix):]
        if name not in self.hub.files:
            return self._not_found()
        if name in self.hub.lfs:
            data = self.hub.files[name]
            return self._send(302, b"", {
                "Location": "/cdn/%s/%s" % (self.hub.sha(name), name),
                "X-Linked-Etag": '"%s"' % self.hub.sha(name),
                "X-Linked-Size": str(len(data)),
                "X-Repo-Commit": self.hub.revision,
                "ETag": '"%s"' % self.hub.sha(name)})
        return self._serve(name, lfs=False)

    def _serve(self, name, lfs):
        with self.hub.lock:
            modes = dict(self.hub.modes)
            if lfs and "cut_after" in self.hub.modes:
                del self.hub.modes["cut_after"]  # once
        data = self.hub.files[name]
        if lfs and modes.get("corrupt"):
            data = data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + \
                data[len(data) // 2 + 1:]
        if lfs and modes.get("short"):
            data = data[:-10]
        total = len(data)
        start, status, headers = 0, 200, {"Accept-Ranges": "bytes"}
        rng = self.headers.get("Range")
        if rng and not modes.get("ignore_range"):
            if not rng.startswith("bytes=") or not rng[6:].endswith("-"):
                return self._send(400, b"only open ranges here")
            start = int(rng[6:-1])
            if start >= total:
                return self._send(416, b"", {"Content-Range": "bytes */%d" % total})
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, total - 1, total)
        body = data[start:]
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        cut = modes.get("cut_after") if lfs else None
        slow = modes.get("slow") if lfs else None
        sent = 0
        while sent < len(body):
            piece = body[sent:sent + CHUNK]
            if cut is not None and sent + len(piece) > cut:
                self.wfile.write(piece[:max(0, cut - sent)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # drop it mid-body
                return
            try:
                self.wfile.write(piece)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            sent += len(piece)
            if slow:
                time.sleep(slow)


class HubServer:
    """The fake Hub on an ephemeral port of 127.0.0.1, served from a thread."""

    def __init__(self, repo, revision, files, lfs=("model.safetensors",)):
        self.hub = Hub(repo, revision, files, lfs)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.hub = self.hub
        self.port = self.httpd.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def control(self, **modes):
        with self.hub.lock:
            self.hub.modes.update(modes)

    def clear(self):
        with self.hub.lock:
            self.hub.modes.clear()
            self.hub.log.clear()

    def requests(self):
        with self.hub.lock:
            return list(self.hub.log)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--revision", default="main")
    ap.add_argument("--lfs", action="append", default=None)
    args = ap.parse_args(argv)
    files = {p.name: p.read_bytes() for p in Path(args.dir).iterdir() if p.is_file()}
    srv = HubServer(args.repo, args.revision, files, args.lfs or ["model.safetensors"])
    print("PORT %d" % srv.port, flush=True)
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
