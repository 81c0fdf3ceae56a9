# SPDX-License-Identifier: MIT
"""The C drivers under tests/unit/clip/ that the tests in this directory run, found beside the
gymhelper binary of the build under test."""
import os
from pathlib import Path

import pytest


def unit_driver(gymhelper, name):
    """tests/unit/clip/<name> of gymhelper's build, run like gymhelper (same variant and env)."""
    exe = Path(gymhelper).parent / "tests" / "unit" / "clip" / name
    if not os.access(exe, os.X_OK):
        pytest.fail("%s is missing: build the tests (meson compile)" % exe, pytrace=False)
    return type(gymhelper)(exe, gymhelper.variant, gymhelper.env)
