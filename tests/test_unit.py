# SPDX-License-Identifier: MIT
"""The C unit tests (tests/unit/, fuzz replay), run by `meson test` once per build (started in
the background by conftest.py); one pytest case per meson test so a failure names the test and
shows its output."""
import json
import subprocess
from pathlib import Path

import pytest

TOP_CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def _suite(config):
    """tests/conftest.py as pytest loaded it (registered under its path). Not `import
    conftest`: with tests/http/conftest.py beside it, that name is whichever loaded last."""
    return config.pluginmanager.get_plugin(str(TOP_CONFTEST))


def _meson_test_names(config, variant):
    """The meson tests of a variant's build; for ThreadSanitizer only suite "threaded"."""
    d = _suite(config).build_dir(config, variant)
    if not (d / "build.ninja").is_file():
        return ["<missing build>"]  # the case fails and says which make target to run
    out = subprocess.run(["meson", "introspect", str(d), "--tests"], capture_output=True,
                         text=True)
    if out.returncode != 0:
        return ["<meson introspect failed>"]
    tests = json.loads(out.stdout)
    if variant in _suite(config).TSAN:
        tests = [t for t in tests if "threaded" in t.get("suite", [])]
    return [t["name"] for t in tests]


def pytest_generate_tests(metafunc):
    if "meson_test" not in metafunc.fixturenames:
        return
    params = []
    for variant in _suite(metafunc.config).ALL_VARIANTS:
        for name in _meson_test_names(metafunc.config, variant):
            params.append(pytest.param(variant, name, id="%s-%s" % (variant, name)))
    metafunc.parametrize("variant,meson_test", params)


@pytest.fixture(scope="session")
def meson_results(request):
    return lambda variant: _suite(request.config).meson_tests(request.config, variant).wait()


def test_unit(meson_results, variant, meson_test, request):
    if meson_test.startswith("<"):
        suite = _suite(request.config)
        suite.require_build(request.config, variant)  # fails with the make target to run
        pytest.fail("cannot list the meson tests of %s"
                    % suite.build_dir(request.config, variant))
    results, meson_output = meson_results(variant)
    # testlog.json names tests "<project>:<suite> / <name>"
    matches = [r for n, r in results.items() if n == meson_test or n.endswith(" / " + meson_test)]
    if not matches:
        pytest.fail("meson test %s has no result in testlog.json (did the build fail?)\n%s"
                    % (meson_test, meson_output[-6000:]), pytrace=False)
    rec = matches[0]
    if rec["result"] != "OK":
        pytest.fail("%s: %s (exit %s)\ncommand: %s\n--- stdout\n%s--- stderr\n%s"
                    % (rec["name"], rec["result"], rec.get("returncode"),
                       " ".join(rec.get("command", [])), rec.get("stdout", ""),
                       rec.get("stderr", "")), pytrace=False)
