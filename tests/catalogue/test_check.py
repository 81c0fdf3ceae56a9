# SPDX-License-Identifier: MIT
"""catalogue/check.py on the real catalogue and on broken copies of it: each break must be
reported (exit 1) with a message that names the entry and what is wrong, above all the links
between equipment and exercises, which must hold both ways."""
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "catalogue" / "check.py"
DOC = json.loads((REPO / "catalogue" / "equipment.json").read_text())

sys.path.insert(0, str(REPO / "catalogue"))
import check  # noqa: E402


def run(doc, tmp_path):
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(doc))
    return subprocess.run([sys.executable, str(CHECK), str(path)], capture_output=True,
                          text=True, timeout=60)


def test_real_catalogue_passes_and_prints_the_tables():
    r = subprocess.run([sys.executable, str(CHECK)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "pattern" in r.stdout and "equipment category" in r.stdout
    by_pattern, by_cat = check.exercise_tables(DOC)
    assert sum(by_pattern.values()) == len(DOC["exercises"]) >= 150
    assert all(n > 0 for n in by_pattern.values()), by_pattern
    for p, n in by_pattern.items():
        assert any(line.split() == [p, str(n)] for line in r.stdout.splitlines()), (p, n)


def ex(doc, slug):
    return next(x for x in doc["exercises"] if x["slug"] == slug)


def eq(doc, slug):
    return next(e for e in doc["equipment"] if e["slug"] == slug)


def drop_from_equipment(d):
    eq(d, "leg-extension-machine")["exercises"].remove("leg-extension")


def drop_from_exercise(d):
    ex(d, "face-pull")["equipment"].remove("resistance-band")


def unknown_exercise(d):
    eq(d, "barbell")["exercises"].append("barbell-juggling")


def unknown_equipment(d):
    ex(d, "push-up")["equipment"].append("flux-capacitor")


def alias_clash(d):
    ex(d, "dumbbell-curl")["aliases"].append("Curls (Barbell)")


def dup_slug(d):
    ex(d, "crunch")["slug"] = "sit-up"


BREAKS = [
    # (name, mutation, message part)
    ("equipment drops an exercise that names it", drop_from_equipment,
     "leg-extension.equipment: names 'leg-extension-machine' but 'leg-extension-machine' does "
     "not list 'leg-extension' in exercises"),
    ("exercise drops equipment that lists it", drop_from_exercise,
     "resistance-band.exercises: lists 'face-pull' but 'face-pull' does not name "
     "'resistance-band' in equipment"),
    ("equipment lists an unknown exercise", unknown_exercise,
     "barbell.exercises: 'barbell-juggling' is not an exercise slug"),
    ("exercise names unknown equipment", unknown_equipment,
     "push-up.equipment: 'flux-capacitor' is not an equipment slug"),
    ("equipment with no exercises", lambda d: eq(d, "foam-roller").update(exercises=[]),
     "(foam-roller).exercises: has 0 items, expected 1-60"),
    ("equipment without the field", lambda d: eq(d, "foam-roller").pop("exercises"),
     "(foam-roller): missing field 'exercises'"),
    ("unknown muscle", lambda d: ex(d, "plank").update(primary_muscles=["six_pack"]),
     "(plank).primary_muscles[0]: 'six_pack' is not in the muscle vocabulary"),
    ("unknown pattern", lambda d: ex(d, "plank").update(pattern="isometric"),
     "(plank).pattern: 'isometric' is not one of"),
    ("unknown measure", lambda d: ex(d, "plank").update(measure="seconds"),
     "(plank).measure: 'seconds' is not one of"),
    ("muscle primary and secondary", lambda d: ex(d, "plank").update(secondary_muscles=["abs"]),
     "(plank): muscle 'abs' is both primary and secondary"),
    ("duplicate exercise slug", dup_slug, "exercises: duplicate slug 'sit-up'"),
    ("alias that matches another exercise", alias_clash,
     "dumbbell-curl.aliases: 'Curls (Barbell)' matches barbell-curl too"),
    ("alias repeats the name", lambda d: ex(d, "plank")["aliases"].append("Plank"),
     "(plank).aliases: 'Plank' repeats the name or another alias"),
    ("bad slug", lambda d: ex(d, "plank").update(slug="Plank Hold"),
     "must be lowercase kebab-case"),
    ("unknown field", lambda d: ex(d, "plank").update(video="x"), "unknown field 'video'"),
    ("missing field", lambda d: ex(d, "plank").pop("measure"), "missing field 'measure'"),
    ("too few exercises", lambda d: d.update(exercises=d["exercises"][:10]),
     "exercises: 10 exercises, need at least 150"),
    ("no exercises key", lambda d: d.pop("exercises"), "top level: missing key 'exercises'"),
]


@pytest.mark.parametrize("name,mutate,want", BREAKS, ids=[b[0] for b in BREAKS])
def test_each_break_is_reported(tmp_path, name, mutate, want):
    doc = copy.deepcopy(DOC)
    mutate(doc)
    r = run(doc, tmp_path)
    assert r.returncode == 1, (name, r.stdout)
    assert want in r.stderr, r.stderr


NAME_KEYS = [
    ("Bench Press (Barbell)", "barbell bench press"),
    ("barbell  bench-presses", "barbell bench press"),
    ("Farmer's Walk", "farmer walk"),
    ("Farmer\u2019s Walk", "farmer walk"),
    ("Incline Dumbbell Flies", "dumbbell fly incline"),
    ("Crunches", "crunch"),
    ("Biceps Curls", "bicep curl"),
    ("Press", "press"),
    ("Abs", "ab"),
    ("Pull Ups", "pull up"),
    ("Triceps Pushdown (Cable - Straight Bar)", "bar cable pushdown straight tricep"),
    ("45 Degree Leg Press", "45 degree leg press"),
    (" (-) ", ""),
]


@pytest.mark.parametrize("name,key", NAME_KEYS)
def test_name_key_is_the_c_one(name, key):
    """The same table as tests/unit/catalogue/exercises_test.c name_keys()."""
    assert check.name_key(name) == key
