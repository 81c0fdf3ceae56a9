# SPDX-License-Identifier: MIT
"""Debian's nginx running deploy/nginx.conf on loopback for the tests, as a non-root-safe
process under a temporary prefix. Only what cannot be the same outside a container changes:
the upstream addresses, the listen addresses, the certificate's directory, the pid/log/temp
paths and the worker count. TLS uses a CA and certificate the tests make (servers/tls.py)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NGINX = "/usr/sbin/nginx"


def render_config(prefix, listen, backends, tmp=None, http_listen=None, tls_dir=None):
    """Writes prefix/nginx.conf from deploy/nginx.conf; listen (HTTPS), http_listen (the plain
    HTTP redirect; default listen's port + 1) and backends are (host, port); tls_dir holds
    fullchain.pem and privkey.pem (default: made under prefix/tls); request bodies and proxy
    buffers spill to tmp (default prefix/tmp). Returns the path."""
    from servers.tls import GatewayCA

    prefix = Path(prefix)
    tls_dir = Path(tls_dir) if tls_dir else GatewayCA(prefix / "tls").dir
    http_listen = http_listen or (listen[0], listen[1] + 1)
    tmp = Path(tmp) if tmp else prefix / "tmp"
    text = (REPO / "deploy" / "nginx.conf").read_text()
    servers = re.findall(r"^(\s*)server\s+backend\d+:8000(.*)$", text, re.M)
    assert len(servers) == len(backends), "deploy/nginx.conf names %d backends" % len(servers)
    it = iter(backends)
    text = re.sub(r"server\s+backend\d+:8000", lambda m: "server %s:%d" % next(it), text)
    text, n = re.subn(r"listen\s+80;", "listen %s:%d;" % http_listen, text)
    assert n == 1, "deploy/nginx.conf: expected one 'listen 80;'"
    text, n = re.subn(r"listen\s+443 ssl http2;", "listen %s:%d ssl http2;" % listen, text)
    assert n == 1, "deploy/nginx.conf: expected one 'listen 443 ssl http2;'"
    text = text.replace("/etc/nginx/tls/", "%s/" % tls_dir)
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    paths = "".join("    %s_temp_path %s;\n" % (name, tmp / d)
                    for name, d in (("client_body", "body"), ("proxy", "proxy"),
                                    ("fastcgi", "fastcgi"), ("uwsgi", "uwsgi"),
                                    ("scgi", "scgi")))
    text = text.replace("http {\n", "http {\n" + paths + "    error_log %s warn;\n"
                        % (prefix / "error.log"), 1)
    head = "pid %s;\nerror_log %s warn;\n" % (prefix / "nginx.pid", prefix / "error.log")
    if os.geteuid() == 0:
        head += "user nobody nogroup;\n"
    conf = prefix / "nginx.conf"
    conf.write_text(head + text)
    return conf


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx in front of backends [(host, port), ...]: HTTPS on 127.0.0.1:port, the plain HTTP
    redirect on 127.0.0.1:http_port; self.ca is the CA clients verify it with."""

    def __init__(self, prefix, backends, port=None):
        from servers.tls import GatewayCA

        self.prefix = Path(prefix)
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.http_port = free_port()
        self.backends = backends
        self.ca = GatewayCA(self.prefix / "tls")
        self.proc = None
        self.tmp = None

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def start(self, timeout=10):
        # As root the workers run as nobody, who cannot enter pytest's private directories:
        # the spill directories get a directory of their own under /tmp.
        self.tmp = Path(tempfile.mkdtemp(prefix="gh-nginx-"))
        conf = render_config(self.prefix, ("127.0.0.1", self.port), self.backends, self.tmp,
                             http_listen=("127.0.0.1", self.http_port), tls_dir=self.ca.dir)
        if os.geteuid() == 0:
            for root, dirs, _ in os.walk(self.tmp):
                for d in [root] + [os.path.join(root, x) for x in dirs]:
                    os.chown(d, 65534, 65534)
        self.proc = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(conf),
                                      "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode()
                self.stop()  # removes the spill directory
                raise RuntimeError("nginx exited: %s" % err)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not listen on %d within %g s; its error log:\n%s"
                           % (self.port, timeout, self.error_log()[-2000:]))

    def error_log(self):
        p = self.prefix / "error.log"
        return p.read_text() if p.exists() else ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish requests in flight
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
