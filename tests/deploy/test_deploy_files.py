# SPDX-License-Identifier: MIT
"""deploy/ cannot be run here (no Docker engine), so these tests keep it consistent with what the
native build and the end-to-end test run: every variable the deploy files set is a setting the
binary knows, the runtime image installs the package of every library the binary links, the
build image installs what scripts/install-deps does for building, and nginx accepts the
gateway config. tests/http/test_cluster.py runs the same nginx.conf in front of two instances."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
DEPLOY = REPO / "deploy"

# Variables read by the postgres/redis/nginx containers or by compose itself, not gymhelper.
NOT_GYMHELPER = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "HTTP_PORT", "HTTPS_PORT",
                 "XDG_CACHE_HOME", "DEBIAN_FRONTEND"}


def settings(binary):
    out = subprocess.run([str(binary), "serve", "--help"], capture_output=True, text=True,
                         env=binary.env, timeout=30)
    assert out.returncode == 0, out.stderr
    names = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s", out.stdout, re.M))
    assert {"DATABASE_URL", "REDIS_URL", "PORT"} <= names, out.stdout
    return names


def dockerfile_stages():
    """[(stage name or '', [apt packages installed in it]), ...] in order."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line.strip(), re.I)
        if m:
            stages.append((m.group(1) or "", []))
        elif "apt-get install" in line:
            words = line.split("apt-get install", 1)[1].split("&&")[0].split()
            stages[-1][1].extend(w for w in words if not w.startswith("-"))
    return stages


def dockerfile_env():
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    names = set()
    for line in text.splitlines():
        if line.strip().startswith("ENV "):
            names.update(re.findall(r"([A-Z][A-Z0-9_]*)=", line))
    return names


def test_env_example_and_compose_name_real_settings(release_gymhelper):
    known = settings(release_gymhelper)
    env_example = {line.split("=", 1)[0].strip()
                   for line in (DEPLOY / ".env.example").read_text().splitlines()
                   if "=" in line and not line.lstrip().startswith("#")}
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    compose_env = set()
    for svc in compose["services"].values():
        env = svc.get("environment") or {}
        compose_env.update(env if isinstance(env, dict) else (e.split("=")[0] for e in env))
    used = (env_example | compose_env | dockerfile_env()) - NOT_GYMHELPER
    assert used, "no settings found in deploy/"
    unknown = sorted(n for n in used if n not in known and n != "OPENAI_API_KEY")
    assert not unknown, "deploy/ sets variables gymhelper does not read: %s" % unknown
    # The secrets the compose file interpolates must be offered in .env.example.
    raw = (DEPLOY / "docker-compose.yml").read_text()
    for var in set(re.findall(r"\$\{([A-Z_]+)", raw)):
        assert var in env_example, "%s is used by docker-compose.yml but not in .env.example" % var


def test_compose_topology():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    svcs = compose["services"]
    assert {"postgres", "redis", "backend1", "backend2", "nginx"} <= set(svcs)
    for name in ("backend1", "backend2"):
        env = svcs[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("redis://")
    # nginx balances over exactly the backends compose defines.
    conf = (DEPLOY / "nginx.conf").read_text()
    upstreams = set(re.findall(r"^\s*server\s+([a-z0-9]+):8000", conf, re.M))
    assert upstreams == {n for n in svcs if n.startswith("backend")}
    assert "allkeys-lru" in " ".join(svcs["redis"]["command"])
    assert compose["volumes"].keys() >= {"pgdata", "models"}


def test_runtime_image_installs_every_linked_library(release_gymhelper):
    stages = dockerfile_stages()
    assert len(stages) == 2 and stages[0][0] == "build", stages
    runtime = set(stages[1][1])
    needed = subprocess.run(["ldd", str(release_gymhelper)], capture_output=True, text=True,
                            check=True).stdout
    direct = subprocess.run(["readelf", "-d", str(release_gymhelper)], capture_output=True,
                            text=True, check=True).stdout
    sonames = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", direct)
    assert sonames
    missing = []
    for soname in sonames:
        if soname.startswith("ld-linux"):
            continue  # the dynamic loader, part of libc6
        m = re.search(r"^\s*%s => (\S+)" % re.escape(soname), needed, re.M)
        assert m, "ldd does not resolve %s" % soname
        path = Path(m.group(1)).resolve()
        owner = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
        if owner.returncode != 0:  # a path reached through an alternatives link
            owner = subprocess.run(["dpkg", "-S", m.group(1)], capture_output=True, text=True)
        assert owner.returncode == 0, owner.stderr
        pkg = owner.stdout.split(":")[0]
        if pkg in ("libc6", "libgcc-s1"):
            continue  # in every Debian image
        if pkg not in runtime:
            missing.append("%s (%s)" % (pkg, soname))
    assert not missing, "deploy/Dockerfile's runtime stage lacks: %s" % ", ".join(missing)


def test_build_image_installs_the_build_packages():
    build = set(dockerfile_stages()[0][1])
    listed = (REPO / "scripts" / "install-deps").read_text()
    dev = set(re.findall(r"^(lib[a-z0-9.+-]+-dev)$", listed, re.M))
    # Only test and bench tooling is missing from the image: libclang-rt is the fuzzers'.
    dev.discard("libclang-rt-14-dev")
    assert dev and dev <= build, "build stage lacks %s" % sorted(dev - build)


def test_healthcheck_targets_the_health_route(release_gymhelper):
    text = (DEPLOY / "Dockerfile").read_text()
    m = re.search(r"HEALTHCHECK.*?CMD curl -f http://localhost:(\d+)(/\S*)", text, re.S)
    assert m, "no HEALTHCHECK"
    assert m.group(1) == re.search(r"PORT=(\d+)", text).group(1)
    assert m.group(2) == "/health"
    assert re.search(r"^USER\s+gymhelper", text, re.M), "the image must not run as root"


def test_nginx_accepts_the_gateway_config(tmp_path):
    from servers.nginx import render_config  # the same rendering the e2e test uses
    conf = render_config(tmp_path, listen=("127.0.0.1", 1), backends=[("127.0.0.1", 2),
                                                                       ("127.0.0.1", 3)])
    out = subprocess.run(["/usr/sbin/nginx", "-t", "-p", str(tmp_path), "-c", str(conf)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr


def test_gateway_body_limit_is_the_services(release_gymhelper):
    """nginx must refuse exactly what gymhelper refuses (see deploy/nginx.conf for why)."""
    out = subprocess.run([str(release_gymhelper), "serve", "--help"], capture_output=True,
                         text=True, env=release_gymhelper.env, timeout=30).stdout
    mb = int(re.search(r"MAX_UPLOAD_MB.*\((\d+)\)", out).group(1))
    conf = (DEPLOY / "nginx.conf").read_text()
    assert int(re.search(r"client_max_body_size (\d+);", conf).group(1)) == mb * 1000 * 1000
    assert "the %d-byte limit (%d MB)" % (mb * 1000 * 1000, mb) in conf
    compose = (DEPLOY / "docker-compose.yml").read_text() + (DEPLOY / ".env.example").read_text()
    assert "MAX_UPLOAD_MB" not in compose, "set it in nginx.conf too, then update this test"


def test_gateway_tls_policy():
    """Issue 10 item 9: TLS 1.2/1.3 only with HTTP/2, HSTS on every answer, plain HTTP only
    redirects, the client's address replaces any X-Forwarded-For, and compose publishes HTTPS
    with the certificate mounted. tests/http/test_cluster.py checks the same against nginx."""
    conf = (DEPLOY / "nginx.conf").read_text()
    assert re.findall(r"^\s*ssl_protocols\s+([^;]+);", conf, re.M) == ["TLSv1.2 TLSv1.3"]
    assert re.search(r"^\s*listen 443 ssl http2;", conf, re.M)
    plain = re.search(r"server \{\s*listen 80;(.*?)\}", conf, re.S).group(1)
    assert "return 301 https://$host$request_uri;" in plain and "proxy_pass" not in plain
    hsts = re.findall(r'add_header Strict-Transport-Security "max-age=(\d+)[^"]*" always;', conf)
    assert len(hsts) == conf.count("add_header X-Request-ID") + 1  # each location repeats it
    assert min(map(int, hsts)) >= 31536000
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    nginx = compose["services"]["nginx"]
    assert any(p.endswith(":443") for p in nginx["ports"])
    assert "./tls:/etc/nginx/tls:ro" in nginx["volumes"]
    for name in ("backend1", "backend2"):
        assert compose["services"][name]["environment"]["TRUSTED_PROXIES"]


def seconds(duration):
    """A compose duration ("1m30s", "45s", "500ms") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), duration
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_lets_the_instances_finish_their_shutdown(release_gymhelper):
    """On `docker compose stop` or a redeploy, Docker sends SIGTERM and, after stop_grace_period
    (10 s unless set), SIGKILL. gymhelper spends up to SHUTDOWN_GRACE_S on the requests in
    progress, then answers the queued ones 503 shutting_down and gives the running ones
    SHUTDOWN_DRAIN_MS more, then a second for uploads (src/http/server.c): killed before that,
    every request in progress is cut off and no 503 is sent."""
    help_text = subprocess.run([str(release_gymhelper), "serve", "--help"], capture_output=True,
                               text=True, env=release_gymhelper.env, timeout=30).stdout
    default = int(re.search(r"^\s+SHUTDOWN_GRACE_S\s.*\((\d+)\)\s*$", help_text, re.M).group(1))
    env_example = dict(line.split("=", 1) for line in
                       (DEPLOY / ".env.example").read_text().splitlines()
                       if "=" in line and not line.lstrip().startswith("#"))
    server_c = (REPO / "src" / "http" / "server.c").read_text()
    drain_s = int(re.search(r"SHUTDOWN_DRAIN_MS = (\d+)", server_c).group(1)) / 1000
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name in ("backend1", "backend2"):
        svc = compose["services"][name]
        grace = int(svc["environment"].get("SHUTDOWN_GRACE_S")
                    or env_example.get("SHUTDOWN_GRACE_S", "").strip() or default)
        stop = seconds(svc.get("stop_grace_period", "10s"))
        assert stop >= grace + drain_s + 1, (name, stop, grace, drain_s)
