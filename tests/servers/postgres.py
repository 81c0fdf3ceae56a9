# SPDX-License-Identifier: MIT
"""A throw-away PostgreSQL server for tests and benchmarks.

    srv = PostgresServer(tmpdir).start()
    srv.create_database("contract")
    url = srv.url("contract")        # postgresql://postgres@127.0.0.1:PORT/contract
    srv.restart()                     # same port, same data: clients must reconnect
    srv.pause(); srv.resume()         # SIGSTOP/SIGCONT: connected, but nothing answers
    srv.stop(); srv.start()           # down ("fast" or "immediate"), then back on the same port
    srv.cleanup()                     # stopped for good, files removed

Debian's PostgreSQL 15 binaries, a data directory under tmpdir, loopback TCP on a free port and
the unix socket in tmpdir; trust authentication; fsync off (the data dies with the test anyway).
initdb refuses to run as root, so as root the server runs as `nobody`. The first initdb of a
process is kept as a template and copied for later servers, which makes them start in well under
a second instead of initdb's few seconds.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("GH_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"

_template_lock = threading.Lock()
_template = None  # (TemporaryDirectory, data dir) of this process's first initdb


class PostgresError(Exception):
    pass


def _as_server_user():
    """argv prefix that runs a command as the server's user: `nobody` when we are root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def _chown_tree(path):
    if os.geteuid() != 0:
        return
    import pwd
    import grp
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _initdb(data):
    r = subprocess.run(_as_server_user() + [
        str(PG_BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
        "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
        capture_output=True, text=True)
    if r.returncode != 0:
        raise PostgresError("initdb failed (exit %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))


def _template_data():
    """A freshly initdb'd data directory (this process's template; do not start it)."""
    global _template
    with _template_lock:
        if _template is None:
            tmp = tempfile.TemporaryDirectory(prefix="gh-pg-template-")
            os.chmod(tmp.name, 0o755)
            data = Path(tmp.name) / "data"
            _chown_tree(tmp.name)
            _initdb(data)
            _template = (tmp, data)
        return _template[1]


class PostgresServer:
    """One PostgreSQL server in tmpdir (a directory this object may fill). Methods return self
    where that reads well: PostgresServer(d).start()."""

    def __init__(self, tmpdir=None, port=None, settings=None):
        # The server's user must reach its directory: as root that is `nobody`, and tmpdir's
        # parents (pytest's tmp_path among them) are often private, so it gets its own
        # directory under /tmp; tmpdir then only names where that directory is noted.
        if tmpdir is None or os.geteuid() == 0:
            self.dir = Path(tempfile.mkdtemp(prefix="gh-pg-"))
            if tmpdir is not None:
                Path(tmpdir).mkdir(parents=True, exist_ok=True)
                (Path(tmpdir) / "postgres-dir").write_text(str(self.dir) + "\n")
        else:
            self.dir = Path(tmpdir)
        self.data = self.dir / "data"
        self.sockdir = self.dir / "sock"
        self.log = self.dir / "postgres.log"
        self.port = port
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "fsync": "off",  # commits still reach the OS: a killed server loses nothing
            "full_page_writes": "off",
            "max_connections": "300",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
        }
        self.settings.update(settings or {})
        self.proc = None

    # -- life cycle

    def start(self, timeout=30):
        """Creates the data directory on first use (a copy of the template), then starts the
        server and waits until it accepts connections."""
        if self.proc is not None:
            return self
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.data.exists():
            shutil.copytree(_template_data(), self.data, symlinks=True)
            self.sockdir.mkdir(exist_ok=True)
            os.chmod(self.dir, 0o755)
            _chown_tree(self.dir)
            os.chmod(self.data, 0o700)
        for attempt in range(5):
            port = self.port or _free_port()
            if self._spawn(port, timeout):
                self.port = port
                return self
            if self.port:  # a fixed port that will not bind: no point retrying elsewhere
                break
        raise PostgresError("PostgreSQL did not start; log:\n%s" % self.log_text())

    def _spawn(self, port, timeout):
        argv = _as_server_user() + [str(PG_BIN / "postgres"), "-D", str(self.data),
                                    "-p", str(port), "-k", str(self.sockdir)]
        for k, v in self.settings.items():
            argv += ["-c", "%s=%s" % (k, v)]
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if self._ready(port):
                return True
            time.sleep(0.05)
        self._signal_and_wait(signal.SIGQUIT)
        raise PostgresError("PostgreSQL did not accept connections in %ss; log:\n%s"
                            % (timeout, self.log_text()))

    def _ready(self, port):
        r = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", str(self.sockdir), "-p",
                            str(port), "-U", SUPERUSER, "-d", "postgres", "-t", "1"],
                           capture_output=True)
        return r.returncode == 0

    def _signal_and_wait(self, sig, timeout=30):
        if self.proc is None:
            return
        try:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        except ProcessLookupError:
            pass
        self.proc = None

    def stop(self, mode="fast"):
        """Stops the server: "fast" (SIGINT: disconnect clients, clean shutdown), "immediate"
        (SIGQUIT: as a crash would). A stopped server keeps its data and port."""
        sig = {"fast": signal.SIGINT, "immediate": signal.SIGQUIT, "smart": signal.SIGTERM}[mode]
        self._signal_and_wait(sig)
        return self

    def restart(self, mode="fast"):
        port = self.port
        self.stop(mode)
        self.port = port
        return self.start()

    def _family(self):
        """The postmaster and its children (backends each have a session of their own, so
        signalling the process group would miss them)."""
        pids = [self.proc.pid]
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                pids.append(int(entry))
        return pids

    def pause(self):
        """SIGSTOP to the server and its backends: connections stay open, nothing answers."""
        for pid in self._family():
            os.kill(pid, signal.SIGSTOP)
        return self

    def resume(self):
        for pid in self._family():
            os.kill(pid, signal.SIGCONT)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        """Stops the server and removes its directory."""
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # -- clients

    def url(self, db="postgres", user=SUPERUSER, password=None):
        auth = user if password is None else "%s:%s" % (user, password)
        return "postgresql://%s@127.0.0.1:%d/%s" % (auth, self.port, db)

    def psql(self, sql, db="postgres", check=True):
        """Runs sql through psql on the unix socket; returns stdout (unaligned, tuples only,
        fields separated by '|')."""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", str(self.sockdir), "-p", str(self.port), "-U", SUPERUSER,
                            "-d", db, "-c", sql], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise PostgresError("psql failed (%d): %s\n%s" % (r.returncode, sql, r.stderr))
        return r.stdout

    def psql_background(self, sql, db="postgres", wait_for=None, timeout=10):
        """Starts sql in a psql of its own (say, a transaction holding a lock) and returns the
        process; with wait_for, once that text is on its output (the lock is taken)."""
        # from stdin, not -c: psql then runs (and prints) the statements one at a time
        p = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                              "-h", str(self.sockdir), "-p", str(self.port), "-U", SUPERUSER,
                              "-d", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        p.stdin.write(sql + "\n")
        p.stdin.close()
        if wait_for:
            deadline = time.monotonic() + timeout
            line = ""
            while wait_for not in line:
                line = p.stdout.readline()
                if not line and (p.poll() is not None or time.monotonic() > deadline):
                    p.kill()
                    raise PostgresError("psql never printed %r: %s" % (wait_for, sql))
        return p

    def create_database(self, name):
        """Creates an empty database (name: letters, digits, '_') and returns its URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError("database name %r" % name)
        self.psql('CREATE DATABASE "%s"' % name)
        return self.url(name)

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""
