# SPDX-License-Identifier: MIT
"""Fixtures of the end-to-end HTTP tests (tests/http).

Every test runs against the release build; tests (or whole modules) marked `asan` also run
against the ASan+UBSan build as a smoke subset, and those marked `tsan` against the
ThreadSanitizer build (the I/O threads, worker pools and admission under real traffic). The builds come from the top-level
conftest's --build / --asan-build options and its make_binary (sanitizer environment
included). Servers and fake providers are child processes on ephemeral ports with their
output drained to files under pytest's tmp directories; each one is killed at teardown even
when a test fails, and every server must stop cleanly on SIGTERM (exit 0, no sanitizer
report) or the test that owned it errors at teardown.
"""
from pathlib import Path

import pytest

import ghhttp as G

TOP_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "asan: also run this test against the ASan build (the smoke subset)")
    config.addinivalue_line(
        "markers", "tsan: also run this test against the ThreadSanitizer build")


def pytest_generate_tests(metafunc):
    """`variant` is release for every test, asan as well for tests marked asan, tsan for
    tests marked tsan."""
    if "variant" in metafunc.fixturenames:
        variants = ["release"]
        if metafunc.definition.get_closest_marker("asan"):
            variants.append("asan")
        if metafunc.definition.get_closest_marker("tsan"):
            variants.append("tsan")
        metafunc.parametrize("variant", variants, scope="module")


@pytest.hookimpl(trylast=True)  # after the runner's own teardown of the fixtures
def pytest_sessionfinish(session, exitstatus):
    G.kill_leftovers()


def _top_conftest(config):
    """The top-level tests/conftest.py module as pytest loaded it (registered under its path)."""
    mod = config.pluginmanager.get_plugin(str(TOP_CONFTEST))
    if mod is None or not hasattr(mod, "make_binary"):
        pytest.fail("tests/conftest.py (make_binary, --build, --asan-build) is not loaded",
                    pytrace=False)
    return mod


@pytest.fixture(scope="module")
def binary(request, variant):
    """The gymhelper binary of this variant (a Binary: str with .variant and .env)."""
    return _top_conftest(request.config).make_binary(request.config, variant)


@pytest.fixture(scope="session")
def release_binary(request):
    return _top_conftest(request.config).make_binary(request.config, "release")


@pytest.fixture(scope="session")
def asan_binary(request):
    return _top_conftest(request.config).make_binary(request.config, "asan")


@pytest.fixture(scope="session")
def photos():
    """A few JPEG test photos of different labels (bytes), read at test time."""
    if not (G.GYM_PHOTOS / "labels.tsv").is_file():
        pytest.fail("test photos not found at %s" % G.GYM_PHOTOS, pytrace=False)
    return G.jpeg_photos(12)


class Processes:
    """Starts fakes and servers; stop_all() kills the fakes and stops every server with
    SIGTERM, returning the problems of those that did not stop cleanly."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.servers = []
        self.fakes = []
        self.n = 0

    def fake(self, **kw):
        self.n += 1
        f = G.FakeOpenAI(self.tmp / ("fake%d" % self.n), **kw)
        self.fakes.append(f)
        return f

    def server(self, binary, workdir=None, **kw):
        self.n += 1
        s = G.Server(binary, workdir or self.tmp / ("srv%d" % self.n), **kw)
        self.servers.append(s)
        return s

    def stop_all(self):
        problems = []
        for s in self.servers:
            if s.returncode is not None or not s.alive():
                # stopped by the test (which checked it) or died: a death is reported
                if s.returncode is None:
                    s.proc.wait()
                    problems.append("server died with status %s:\n%s"
                                    % (s.proc.returncode, G._sanitizer_excerpt(s.stderr_text())))
                elif s.sanitizer_reports():
                    problems.append("sanitizer report:\n%s"
                                    % G._sanitizer_excerpt(s.stderr_text()))
                continue
            problems += s.check_clean_exit()
        for f in self.fakes:
            f.stop()
        return problems


def _finish(procs):
    problems = procs.stop_all()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def procs(tmp_path):
    """Per-test processes (fakes, servers), stopped at the test's end."""
    p = Processes(tmp_path)
    try:
        yield p
    finally:
        _finish(p)


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory):
    """Processes shared by a module's tests."""
    p = Processes(tmp_path_factory.mktemp("http"))
    try:
        yield p
    finally:
        _finish(p)


@pytest.fixture(scope="module")
def fake(module_procs):
    """The module's fake provider (tests/fake_openai.py), answering G.ANSWER."""
    return module_procs.fake()


@pytest.fixture(scope="module")
def server(module_procs, binary, fake):
    """The module's server, answering through the module's fake provider (a module that needs
    other settings defines its own)."""
    return module_procs.server(binary, provider=fake)


@pytest.fixture
def fresh_fake(fake):
    """The module's fake in its default mode with no calls counted, before and after the test.
    Modules whose tests share one fake use it on every test:
    pytestmark = pytest.mark.usefixtures("fresh_fake")."""
    fake.reset()
    yield
    fake.reset()


@pytest.fixture
def redis(redis_server):
    """The session's redis-server (tests/conftest.py), running, answering and empty; left
    running and resumed whatever the test did to it."""
    if redis_server.paused:
        redis_server.resume()
    redis_server.start()
    redis_server.command("FLUSHALL")
    yield redis_server
    if redis_server.paused:
        redis_server.resume()
    redis_server.start()
