# SPDX-License-Identifier: MIT
"""Shared pytest setup: the two builds under test and one way to run the binary.

`make test` runs `python3 -m pytest -q tests --build=build --asan-build=build-asan`. Every CLI
test runs against both binaries (ids "release" and "asan") through `run`, which fails the test
on any AddressSanitizer, LeakSanitizer or UBSan report. Nothing skips: a missing build is a
failure that says which `make` target to run.
"""
import atexit
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GYM_PHOTOS = REPO.parent / "shared" / "data" / "gym-photos"

_EMPTY_XDG_CACHE = tempfile.mkdtemp(prefix="gh-test-xdg-")
atexit.register(shutil.rmtree, _EMPTY_XDG_CACHE, True)

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")

# variant id -> (pytest option, make target)
VARIANTS = {
    "release": ("--build", "build"),
    "asan": ("--asan-build", "build-asan"),
}
# ThreadSanitizer: only the threaded unit tests (meson suite "threaded") and the HTTP tests
# marked tsan run against it, so it is not one of the VARIANTS every CLI test runs in.
TSAN = {"tsan": ("--tsan-build", "build-tsan")}
ALL_VARIANTS = {**VARIANTS, **TSAN}


def pytest_addoption(parser):
    group = parser.getgroup("gymhelper")
    group.addoption("--build", default="build",
                    help="release build directory, relative to the repository root")
    group.addoption("--asan-build", default="build-asan",
                    help="ASan+UBSan build directory, relative to the repository root")
    group.addoption("--tsan-build", default="build-tsan",
                    help="ThreadSanitizer build directory, relative to the repository root")


def build_dir(config, variant):
    """Absolute build directory of a variant ("release", "asan" or "tsan")."""
    opt, _ = ALL_VARIANTS[variant]
    p = Path(config.getoption(opt))
    return p if p.is_absolute() else REPO / p


def require_build(config, variant):
    """The build directory, or a test failure telling how to make it."""
    d = build_dir(config, variant)
    opt, target = ALL_VARIANTS[variant]
    if not (d / "build.ninja").is_file():
        pytest.fail("%s build %s does not exist: run 'make %s' (or pass %s=DIR)"
                    % (variant, d, target, opt), pytrace=False)
    return d


class Binary(str):
    """Path of a gymhelper binary (usable as a str) with the environment it runs in."""

    def __new__(cls, path, variant, env):
        self = super().__new__(cls, str(path))
        self.variant = variant
        self.env = env
        return self


def sanitizer_env(variant):
    env = dict(os.environ)
    # The CLI reads these; a developer's shell must not change what the tests see.
    for name in ("MAX_UPLOAD_MB", "IMAGE_MIN_SIDE", "IMAGE_MAX_SIDE", "CLIP_MODEL"):
        env.pop(name, None)
    # A CLIP model the developer pulled (under XDG_CACHE_HOME) must not change what "auto" is.
    env["XDG_CACHE_HOME"] = _EMPTY_XDG_CACHE
    if variant == "asan":
        env["LSAN_OPTIONS"] = ("suppressions=%s:print_suppressions=0"
                               % (REPO / "tests" / "lsan.supp"))
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        env["ASAN_OPTIONS"] = "detect_leaks=1"
    if variant == "tsan":
        env["TSAN_OPTIONS"] = ("second_deadlock_stack=1:suppressions=%s"
                               % (REPO / "tests" / "tsan.supp"))
    return env


def make_binary(config, variant):
    d = require_build(config, variant)
    exe = d / "gymhelper"
    if not os.access(exe, os.X_OK):
        pytest.fail("%s has no gymhelper binary: run 'make %s'" % (d, ALL_VARIANTS[variant][1]),
                    pytrace=False)
    return Binary(exe, variant, sanitizer_env(variant))


class Result:
    """Outcome of one run: returncode, stdout and stderr (text; stdout_bytes raw), wall time in
    seconds and peak resident set size in bytes (see run(measure=True))."""

    def __init__(self, args, returncode, stdout_bytes, stderr, seconds, maxrss):
        self.args = args
        self.returncode = returncode
        self.stdout_bytes = stdout_bytes
        self.stdout = stdout_bytes.decode("utf-8", "replace")
        self.stderr = stderr
        self.seconds = seconds
        self.maxrss = maxrss

    @property
    def out_lines(self):
        return self.stdout.splitlines()

    @property
    def err_lines(self):
        return self.stderr.splitlines()

    def __str__(self):
        rss = ", peak RSS %.0f MB" % (self.maxrss / 1e6) if self.maxrss is not None else ""
        return ("<run %s: exit %s, %.2fs%s>\n--- stdout\n%s--- stderr\n%s"
                % (" ".join(map(str, self.args)), self.returncode, self.seconds, rss,
                   self.stdout, self.stderr))


# Runs argv[2:] and writes "<peak RSS in KiB> <seconds> <exit code>" to the file argv[1]. A child's
# ru_maxrss includes the peak of the process it was forked from (Linux carries the forking
# process's high-water mark over exec), so measuring straight from pytest, itself hundreds of
# MB, would report pytest's size. This fresh, small interpreter forks the binary instead.
_MEASURE = """
import os, sys, time
t = time.monotonic()
pid = os.spawnv(os.P_NOWAIT, sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
t = time.monotonic() - t
with open(sys.argv[1], "w") as f:
    f.write("%d %f %d" % (usage.ru_maxrss, t, os.waitstatus_to_exitcode(status)))
"""


def run(binary, *args, input=None, env=None, cwd=None, timeout=60, measure=False):
    """Runs binary with args; input is bytes for stdin (else stdin is empty). Fails the test on
    any sanitizer report in stderr. Returns a Result. With measure=True the binary runs under a
    small helper so that Result.maxrss (bytes) and Result.seconds are the binary's own."""
    full_env = dict(binary.env)
    full_env.update(env or {})
    argv = [str(binary)] + [str(a) for a in args]
    if measure:
        stats = tempfile.NamedTemporaryFile(prefix="gh-measure-", delete=False)
        stats.close()
        try:
            r = run(Binary("/usr/bin/python3", binary.variant, full_env), "-c", _MEASURE,
                    stats.name, *argv, input=input, cwd=cwd, timeout=timeout)
            with open(stats.name) as f:
                kib, seconds, rc = f.read().split()
        finally:
            os.unlink(stats.name)
        r.args, r.maxrss, r.seconds, r.returncode = argv, int(kib) * 1024, float(seconds), int(rc)
        if r.returncode < 0:
            pytest.fail("killed by signal %d:\n%s" % (-r.returncode, r), pytrace=False)
        return r
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr:
        if input is not None:
            fin.write(input)
            fin.seek(0)
        start = time.monotonic()
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=full_env, cwd=cwd)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, _ = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        if time.monotonic() - start >= timeout:
            pytest.fail("%s ran over %ss" % (" ".join(argv), timeout), pytrace=False)
        fout.seek(0)
        ferr.seek(0)
        # usage.ru_maxrss would include pytest's own size (see _MEASURE): not reported
        r = Result(argv, p.returncode, fout.read(),
                   ferr.read().decode("utf-8", "replace"), seconds, None)
    for marker in SANITIZER_MARKERS:
        if marker in r.stderr:
            pytest.fail("sanitizer report (%s) from %s binary:\n%s"
                        % (marker, binary.variant, r), pytrace=False)
    if r.returncode < 0:
        pytest.fail("killed by signal %d:\n%s" % (-r.returncode, r), pytrace=False)
    return r


class MesonTests:
    """`meson test` of one build, run once per session. Started in the background as soon as
    collection shows unit cases (see pytest_collection_modifyitems): the C tests spend most of
    their time waiting (servers, timeouts), so they overlap the CLI tests instead of adding to
    them. The build is brought up to date first, in the foreground, so that nothing relinks a
    binary while a CLI test runs it; `meson test` then runs with --no-rebuild."""

    def __init__(self, build, suite=None):
        self.build = build
        self.suite = suite  # a meson suite, or None for every test
        self.proc = None
        self.results = None
        self.logbase = "pytest-testlog-%d" % os.getpid()  # ours alone, not testlog.json

    def start(self):
        if self.proc or not (self.build / "build.ninja").is_file():
            return
        comp = subprocess.run(["meson", "compile", "-C", str(self.build)], capture_output=True,
                              text=True)
        self.compile_output = comp.stdout + comp.stderr if comp.returncode else ""
        self.output = tempfile.TemporaryFile()
        env = dict(os.environ)
        env.update(_redis_env(self))
        env.update(_postgres_env(self))
        self.proc = subprocess.Popen(
            ["meson", "test", "-C", str(self.build), "--print-errorlogs", "--no-rebuild",
             "--logbase", self.logbase] + (["--suite", self.suite] if self.suite else []),
            stdout=self.output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def wait(self):
        """({meson test name: testlog record}, meson's output)."""
        if self.results is None:
            self.start()
            if self.proc is None:
                return {}, "no build at %s" % self.build
            self.proc.wait(timeout=900)
            self.output.seek(0)
            text = self.compile_output + self.output.read().decode("utf-8", "replace")
            logs = self.build / "meson-logs"
            results = {}
            log = logs / (self.logbase + ".json")
            if log.exists():
                for line in log.read_text().splitlines():
                    if line.strip():
                        rec = json.loads(line)
                        rec.pop("env", None)
                        results[rec["name"]] = rec
            for suffix in (".json", ".txt", ".junit.xml"):
                (logs / (self.logbase + suffix)).unlink(missing_ok=True)
            self.results = (results, text)
        return self.results

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "redis", None):
            self.redis.close()


# --- Redis ---------------------------------------------------------------------------------

def _redis_env(meson_run):
    """GH_REDIS_TEST_URL for one `meson test` run: a redis-server of its own (the C test pauses
    it, so the release and ASan runs must not share one), stopped with the run."""
    from servers.redis import RedisServer
    meson_run.redis_dir = tempfile.TemporaryDirectory(prefix="gh-redis-unit-")
    meson_run.redis = RedisServer(meson_run.redis_dir.name).start()
    return {"GH_REDIS_TEST_URL": meson_run.redis.url()}


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server (tests/servers/redis.py) for the tests that ask for it. Tests may stop,
    restart or pause it, but must leave it running and resumed."""
    from servers.redis import RedisServer
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.close()


# --- PostgreSQL ----------------------------------------------------------------------------

_postgres = {"server": None, "databases": 0}


def postgres_server():
    """The session's PostgreSQL server (tests/servers/postgres.py), started on first use and
    stopped at the end of the session. Tests that stop or restart a server start their own."""
    if _postgres["server"] is None:
        from servers.postgres import PostgresServer
        _postgres["server"] = PostgresServer().start()
    return _postgres["server"]


def postgres_database(prefix):
    """URL of a new, empty database on the session's server."""
    _postgres["databases"] += 1
    return postgres_server().create_database("%s_%d" % (prefix, _postgres["databases"]))


def _postgres_env(meson_run):
    """For one `meson test` run: the store contract runs against a fresh database of its own
    (GH_STORE_TEST_URLS) and the PostgreSQL backend's tests against another (GH_PG_TEST_URL),
    so the release and ASan runs never see each other's rows."""
    urls = os.environ.get("GH_STORE_TEST_URLS", "").split()
    urls.append(postgres_database("contract"))
    return {"GH_STORE_TEST_URLS": " ".join(urls), "GH_PG_TEST_URL": postgres_database("pgunit")}


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL server: .url(db), .create_database(name), .psql(sql, db).
    Tests must not stop it (the C tests use it in the background)."""
    return postgres_server()


@pytest.fixture
def pg_url():
    """A fresh database on the session's PostgreSQL server, for one test."""
    return postgres_database("t")


def meson_tests(config, variant):
    """The session's MesonTests for a variant's build."""
    runs = config.stash.setdefault(_MESON_KEY, {})
    if variant not in runs:
        runs[variant] = MesonTests(build_dir(config, variant),
                                   "threaded" if variant in TSAN else None)
    return runs[variant]


_MESON_KEY = pytest.StashKey[dict]()


@pytest.hookimpl(trylast=True)  # after -k/-m deselection
def pytest_collection_modifyitems(session, config, items):
    variants = {item.callspec.params["variant"] for item in items
                if item.nodeid.split("::")[0].endswith("test_unit.py")
                and hasattr(item, "callspec") and "variant" in item.callspec.params}
    for variant in ALL_VARIANTS:
        if variant in variants:
            meson_tests(config, variant).start()


def pytest_unconfigure(config):
    for run in config.stash.get(_MESON_KEY, {}).values():
        run.stop()
    if _postgres["server"] is not None:
        _postgres["server"].cleanup()
        _postgres["server"] = None


@pytest.fixture(scope="session", params=list(VARIANTS), ids=list(VARIANTS))
def gymhelper(request):
    """Path of the gymhelper binary of each build (a Binary: str with .variant and .env)."""
    return make_binary(request.config, request.param)


@pytest.fixture(scope="session")
def release_gymhelper(request):
    """The release binary alone, for measurements (time, memory) ASan would distort."""
    return make_binary(request.config, "release")


@pytest.fixture(scope="session")
def run_gymhelper():
    """run() itself, for tests that pick their binary: run_gymhelper(binary, *args, ...).
    (Test modules must not `import conftest`: with tests/http/conftest.py beside this one,
    that name means whichever conftest pytest loaded last.)"""
    return run


@pytest.fixture
def gh(gymhelper):
    """run() bound to the binary under test: gh("hash", path) -> Result."""
    def bound(*args, **kw):
        return run(gymhelper, *args, **kw)
    bound.binary = gymhelper
    return bound


@pytest.fixture(scope="session")
def gym_photos():
    if not (GYM_PHOTOS / "labels.tsv").is_file():
        pytest.fail("test photos not found at %s (expected ../shared/data/gym-photos next to "
                    "the repository)" % GYM_PHOTOS, pytrace=False)
    return GYM_PHOTOS
