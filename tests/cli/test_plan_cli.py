# SPDX-License-Identifier: MIT
"""gymhelper plan: a weekly plan on stdout, the same bytes every run; bad usage exits 2."""
import json

import pytest

HOTEL = "dumbbell,weight-bench,treadmill,exercise-mat"


def test_plan_text_explains_every_slot(gh):
    r = gh("plan", "--goal", "general", "--days", "3", "--minutes", "45", "--experience",
           "beginner", "--equipment", HOTEL)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert r.stdout.startswith("Plan: general, 3 days a week, 45 min, beginner; split full_body")
    assert r.stdout.count("Day ") == 3
    assert "Main lift for" in r.stdout and "Barbell" not in r.stdout


def test_plan_json_is_deterministic_and_uses_the_gym(gh):
    args = ("plan", "--goal", "muscle", "--days", "4", "--equipment", HOTEL, "--json")
    a, b = gh(*args), gh(*args)
    assert a.returncode == 0 and a.stdout == b.stdout, str(a)
    plan = json.loads(a.stdout)
    assert plan["split"] == "upper_lower" and len(plan["days"]) == 4
    for day in plan["days"]:
        for slot in day["slots"]:
            assert "barbell" not in slot["exercise"] and slot["reason"]


@pytest.mark.parametrize("args", [
    ("--goal", "bulk", "--days", "3"),
    ("--goal", "muscle", "--days", "7"),
    ("--goal", "muscle"),
    ("--goal", "muscle", "--days", "3", "--minutes", "5"),
    ("--goal", "muscle", "--days", "3", "--equipment", "laser-sword"),
])
def test_plan_bad_usage(gh, args):
    r = gh("plan", *args)
    assert r.returncode == 2 and r.stdout == "", str(r)
    assert "gymhelper plan" in r.stderr
