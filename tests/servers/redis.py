# SPDX-License-Identifier: MIT
"""A throw-away Redis server for tests and benchmarks.

    srv = RedisServer(tmpdir).start()
    url = srv.url()                  # redis://127.0.0.1:PORT/0
    srv.command("TTL", "gh:v1:sha:...")
    srv.pause(); srv.resume()        # SIGSTOP/SIGCONT: a server that accepts but never answers
    srv.stop(); srv.start()          # down, then back on the same port (empty: no persistence)
    srv.close()                      # stopped for good

Debian's /usr/bin/redis-server on 127.0.0.1 and a free port, its files in tmpdir, no
persistence (--save '' --appendonly no). command() is a minimal RESP client so tests need no
Python Redis package.
"""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

REDIS_SERVER = os.environ.get("GH_REDIS_SERVER", "/usr/bin/redis-server")


class RedisError(Exception):
    """An error reply (-ERR ...) or a server that does not start."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RedisError("unexpected reply %r" % line)


class RedisServer:
    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc = None
        self.paused = False

    def url(self, db=0):
        return "redis://127.0.0.1:%d/%d" % (self.port, db)

    @property
    def log_path(self):
        return self.dir / "redis.log"

    def start(self, timeout=10):
        """Starts (or starts again, on the same port) and waits until it answers PING."""
        if self.proc and self.proc.poll() is None:
            return self
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.log_path),
             "--daemonize", "no", "--protected-mode", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.paused = False
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.command("PING", timeout=1) == "PONG":
                    return self
            except (OSError, RedisError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log_path.read_text() if self.log_path.exists() else ""
                self.close()
                raise RedisError("redis-server did not start on port %d:\n%s"
                                 % (self.port, log[-2000:]))
            time.sleep(0.02)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops it (SIGKILL: an abrupt outage; nothing is persisted anyway)."""
        if self.proc is None:
            return
        if self.paused:
            self.resume()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    close = stop

    def pause(self):
        """SIGSTOP: connections are accepted by the kernel but nothing answers (a hung or
        overloaded server)."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def command(self, *args, db=0, timeout=5):
        """Runs one command on a fresh connection and returns the decoded reply (bytes for bulk
        strings, str for status, int, list, None); an error reply raises RedisError."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            f = s.makefile("rb")
            if db:
                s.sendall(_encode(["SELECT", db]))
                _read_reply(f)
            s.sendall(_encode(args))
            return _read_reply(f)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
