#!/usr/bin/python3
"""Validate the gymhelper catalogue (catalogue/equipment.json): equipment and exercises.

Usage: /usr/bin/python3 catalogue/check.py [PATH]

PATH defaults to equipment.json next to this script. Prints every problem
found and exits 1 if there is any, otherwise prints count tables (equipment
per category, exercises per movement pattern and per equipment category) and
exits 0. Standard library only.
"""

import datetime
import json
import os
import re
import sys
from urllib.parse import unquote_plus

CATEGORY_IDS = [
    "cardio", "free_weights", "benches_racks", "plate_loaded",
    "selectorised", "cable", "accessories",
]

MUSCLES = {
    "chest", "upper_chest", "front_delts", "side_delts", "rear_delts",
    "triceps", "biceps", "forearms", "lats", "upper_back", "traps",
    "lower_back", "abs", "obliques", "glutes", "quads", "hamstrings",
    "adductors", "abductors", "calves", "hip_flexors", "cardiovascular",
}

# Labels of the test photo set (shared/data/gym-photos): each must be a slug here.
REQUIRED_SLUGS = {
    "arm-curl-machine", "barbell", "chest-fly-machine", "chest-press-machine",
    "dumbbell", "kettlebell", "lat-pulldown-machine", "lateral-raise-machine",
    "leg-curl-machine", "leg-extension-machine", "leg-press-machine",
    "leg-raise-tower", "seated-row-machine", "shoulder-press-machine",
    "smith-machine", "squat-rack", "treadmill", "weight-bench",
}

ENTRY_FIELDS = [
    "slug", "name", "aliases", "category", "primary_muscles",
    "secondary_muscles", "description", "setup", "instructions",
    "safety_tips", "common_mistakes", "beginner_prescription", "video_urls",
    "visual_description", "confused_with", "exercises",
]
EXERCISE_FIELDS = [
    "slug", "name", "aliases", "equipment", "primary_muscles",
    "secondary_muscles", "pattern", "measure",
]
PATTERNS = ["push", "pull", "hinge", "squat", "carry", "core", "cardio"]
MEASURES = ["weight_reps", "reps", "time", "distance"]
MIN_EXERCISES = 150
MAX_EXERCISE_ALIASES = 12
MAX_EQUIPMENT_EXERCISES = 60
RX_FIELDS = ["sets", "reps", "rest_seconds", "notes"]

# (min, max) item counts for the text lists
LIST_BOUNDS = {
    "setup": (2, 6),
    "instructions": (4, 8),
    "safety_tips": (3, 6),
    "common_mistakes": (3, 6),
}
MIN_ENTRIES = 60
MIN_PER_CATEGORY = 3
MAX_CONFUSED = 6
MAX_ALIASES = 6

VIDEO_PREFIX = "https://www.youtube.com/results?search_query="
VERSION_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(\d+)$")
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# "8-12", "5", "10-15 per leg", "30-60 s", "10-20 min", "30-60 s per area"
REPS_RE = re.compile(r"^\d+(-\d+)?( (s|min|m))?( per (side|arm|leg|area))?$")
CARDIO_REPS_RE = re.compile(r"^\d+(-\d+)? min$")
NUMBERED_RE = re.compile(r"^\s*(\d+|step \d+)\s*[.):-]", re.IGNORECASE)
# a sentence ends at . ! ? followed by the end of text or by space + capital/digit
SENTENCE_END_RE = re.compile(r"[.!?](?=$|\s+[A-Z0-9(\"'])")


def _singular(w):
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ches", "shes", "sses", "xes")):
        return w[:-2]
    if len(w) >= 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def name_key(name):
    """The matching key of an exercise name, exactly as gh_exercise_name_key() in
    src/catalogue/exercises.c computes it: ASCII lower case, apostrophes dropped, every other
    run of non-alphanumerics a word break, each word singular, the words sorted. So
    "Bench Press (Barbell)", "barbell bench-press" and "Barbell Bench Presses" share a key."""
    s = re.sub(r"[^A-Za-z0-9]+", " ", name.replace("'", "").replace("\u2019", "")).lower()
    return " ".join(sorted(_singular(w) for w in s.split()))


MISSING = object()  # a field that is absent: reported once as missing, not re-checked


class Checker:
    def __init__(self):
        self.errors = []

    def err(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    # -- primitive checks; each returns True when the value is usable ---------

    def text(self, where, value, max_len=400, sentence=False):
        if value is MISSING:
            return False
        if not isinstance(value, str):
            self.err(where, f"must be a string, got {type(value).__name__}")
            return False
        if not value.strip():
            self.err(where, "must not be empty")
            return False
        ok = True
        if value != value.strip():
            self.err(where, "has leading or trailing whitespace")
            ok = False
        if "\n" in value or "\t" in value or "  " in value:
            self.err(where, "contains a newline, tab or double space")
            ok = False
        if len(value) > max_len:
            self.err(where, f"is {len(value)} characters, limit {max_len}")
            ok = False
        if sentence and value[-1] not in ".!?":
            self.err(where, "must end with '.', '!' or '?'")
            ok = False
        return ok

    def sentences(self, where, value, lo, hi):
        n = len(SENTENCE_END_RE.findall(value))
        if not lo <= n <= hi:
            self.err(where, f"has {n} sentences, expected {lo}-{hi}")

    def text_list(self, where, value, lo, hi, max_len=300, sentence=True):
        if value is MISSING:
            return []
        if not isinstance(value, list):
            self.err(where, f"must be an array, got {type(value).__name__}")
            return []
        if not lo <= len(value) <= hi:
            self.err(where, f"has {len(value)} items, expected {lo}-{hi}")
        good = []
        for i, item in enumerate(value):
            if self.text(f"{where}[{i}]", item, max_len, sentence):
                good.append(item)
        lowered = [s.lower() for s in good]
        for s in sorted({s for s in lowered if lowered.count(s) > 1}):
            self.err(where, f"duplicate item {s!r}")
        return good

    def muscles(self, where, value, allow_empty):
        if value is MISSING:
            return []
        if not isinstance(value, list):
            self.err(where, f"must be an array, got {type(value).__name__}")
            return []
        if not value and not allow_empty:
            self.err(where, "must not be empty")
        out = []
        for i, m in enumerate(value):
            if not isinstance(m, str) or m not in MUSCLES:
                self.err(f"{where}[{i}]", f"{m!r} is not in the muscle vocabulary")
            elif m in out:
                self.err(where, f"duplicate muscle {m!r}")
            else:
                out.append(m)
        return out

    def integer(self, where, value, lo, hi):
        if not isinstance(value, int) or isinstance(value, bool):
            self.err(where, f"must be an integer, got {type(value).__name__}")
            return
        if not lo <= value <= hi:
            self.err(where, f"{value} is outside {lo}-{hi}")

    # -- document ------------------------------------------------------------

    def check(self, doc):
        if not isinstance(doc, dict):
            self.err("top level", "must be a JSON object")
            return {}
        want = {"version", "categories", "equipment", "exercises"}
        for k in sorted(want - doc.keys()):
            self.err("top level", f"missing key {k!r}")
        for k in sorted(doc.keys() - want):
            self.err("top level", f"unknown key {k!r}")

        self.version(doc.get("version"))
        self.categories(doc.get("categories"))

        entries = doc.get("equipment")
        if not isinstance(entries, list):
            self.err("equipment", "must be an array")
            return {}
        for i, e in enumerate(entries):
            where = f"equipment[{i}]"
            if isinstance(e, dict) and isinstance(e.get("slug"), str):
                where += f" ({e['slug']})"
            self.entry(where, e)
        counts = self.cross(entries)
        self.exercises(doc.get("exercises"), entries)
        return counts

    def version(self, v):
        if not isinstance(v, str):
            self.err("version", "must be a string like 2026-11-27.1")
            return
        m = VERSION_RE.match(v)
        if not m:
            self.err("version", f"{v!r} must look like YYYY-MM-DD.N")
            return
        try:
            datetime.date.fromisoformat(m.group(1))
        except ValueError:
            self.err("version", f"{m.group(1)!r} is not a valid date")
        if int(m.group(2)) < 1:
            self.err("version", "the counter after the date starts at 1")

    def categories(self, cats):
        if not isinstance(cats, list):
            self.err("categories", "must be an array")
            return
        ids = []
        for i, c in enumerate(cats):
            where = f"categories[{i}]"
            if not isinstance(c, dict):
                self.err(where, "must be an object with id and name")
                continue
            if set(c.keys()) != {"id", "name"}:
                self.err(where, f"keys must be exactly id and name, got {sorted(c.keys())}")
            self.text(f"{where}.name", c.get("name"), 60)
            ids.append(c.get("id"))
        if ids != CATEGORY_IDS:
            self.err("categories", f"ids must be exactly {CATEGORY_IDS} in that order, got {ids}")

    def entry(self, where, e):
        if not isinstance(e, dict):
            self.err(where, "must be an object")
            return
        for k in ENTRY_FIELDS:
            if k not in e:
                self.err(where, f"missing field {k!r}")
        for k in sorted(set(e.keys()) - set(ENTRY_FIELDS)):
            self.err(where, f"unknown field {k!r}")
        e = {k: e.get(k, MISSING) for k in ENTRY_FIELDS}

        slug = e["slug"]
        if self.text(f"{where}.slug", slug, 60) and not SLUG_RE.match(slug):
            self.err(f"{where}.slug", f"{slug!r} must be lowercase kebab-case")
        name = e["name"]
        self.text(f"{where}.name", name, 60)

        aliases = self.text_list(f"{where}.aliases", e["aliases"], 1, MAX_ALIASES, 60, sentence=False)
        if isinstance(name, str):
            for a in aliases:
                if a.lower() == name.lower():
                    self.err(f"{where}.aliases", f"{a!r} repeats the name")

        cat = e["category"]
        if cat is not MISSING and cat not in CATEGORY_IDS:
            self.err(f"{where}.category", f"{cat!r} is not one of {CATEGORY_IDS}")

        prim = self.muscles(f"{where}.primary_muscles", e["primary_muscles"], False)
        sec = self.muscles(f"{where}.secondary_muscles", e["secondary_muscles"], cat == "cardio")
        for m in sorted(set(prim) & set(sec)):
            self.err(where, f"muscle {m!r} is both primary and secondary")

        if self.text(f"{where}.description", e["description"], 600, sentence=True):
            self.sentences(f"{where}.description", e["description"], 1, 3)
        if self.text(f"{where}.visual_description", e["visual_description"], 400, sentence=True):
            self.sentences(f"{where}.visual_description", e["visual_description"], 1, 2)

        for field, (lo, hi) in LIST_BOUNDS.items():
            items = self.text_list(f"{where}.{field}", e[field], lo, hi)
            if field == "instructions":
                for i, s in enumerate(items):
                    if NUMBERED_RE.match(s):
                        self.err(f"{where}.instructions[{i}]", "must not carry its own step number")

        self.prescription(f"{where}.beginner_prescription", e["beginner_prescription"], cat)
        self.videos(f"{where}.video_urls", e["video_urls"])

        cw = e["confused_with"]
        if cw is MISSING:
            pass
        elif not isinstance(cw, list):
            self.err(f"{where}.confused_with", "must be an array of slugs")
        else:
            if not 1 <= len(cw) <= MAX_CONFUSED:
                self.err(f"{where}.confused_with", f"has {len(cw)} items, expected 1-{MAX_CONFUSED}")
            for i, s in enumerate(cw):
                if not isinstance(s, str):
                    self.err(f"{where}.confused_with[{i}]", "must be a slug string")
            strs = [s for s in cw if isinstance(s, str)]
            if len(set(strs)) != len(strs):
                self.err(f"{where}.confused_with", "has duplicates")
        self.slug_list(f"{where}.exercises", e["exercises"], 1, MAX_EQUIPMENT_EXERCISES)

    def slug_list(self, where, value, lo, hi):
        if value is MISSING:
            return []
        if not isinstance(value, list):
            self.err(where, "must be an array of slugs")
            return []
        if not lo <= len(value) <= hi:
            self.err(where, f"has {len(value)} items, expected {lo}-{hi}")
        out = []
        for i, s in enumerate(value):
            if not isinstance(s, str) or not SLUG_RE.match(s):
                self.err(f"{where}[{i}]", f"{s!r} is not a slug")
            elif s in out:
                self.err(where, f"duplicate slug {s!r}")
            else:
                out.append(s)
        return out

    def prescription(self, where, rx, cat):
        if rx is MISSING:
            return
        if not isinstance(rx, dict):
            self.err(where, "must be an object with sets, reps, rest_seconds, notes")
            return
        for k in RX_FIELDS:
            if k not in rx:
                self.err(where, f"missing field {k!r}")
        for k in sorted(set(rx.keys()) - set(RX_FIELDS)):
            self.err(where, f"unknown field {k!r}")
        if "sets" in rx:
            self.integer(f"{where}.sets", rx["sets"], 1, 10)
        if "rest_seconds" in rx:
            self.integer(f"{where}.rest_seconds", rx["rest_seconds"], 0, 600)
        reps = rx.get("reps", MISSING)
        if self.text(f"{where}.reps", reps, 30):
            if cat == "cardio":
                if not CARDIO_REPS_RE.match(reps):
                    self.err(f"{where}.reps", f"{reps!r}: cardio uses a duration like '10-20 min'")
            elif not REPS_RE.match(reps):
                self.err(f"{where}.reps", f"{reps!r} must look like '8-12', '10 per leg', '30-60 s' or '10-20 min'")
            else:
                lo_hi = re.match(r"^(\d+)(?:-(\d+))?", reps)
                lo = int(lo_hi.group(1))
                hi = int(lo_hi.group(2) or lo)
                if lo == 0 or hi < lo:
                    self.err(f"{where}.reps", f"{reps!r}: range must be positive and low-high")
        self.text(f"{where}.notes", rx.get("notes", MISSING), 300, sentence=True)

    def videos(self, where, urls):
        if urls is MISSING:
            return
        if not isinstance(urls, list):
            self.err(where, "must be an array of URLs")
            return
        if not 1 <= len(urls) <= 2:
            self.err(where, f"has {len(urls)} items, expected 1-2")
        seen = set()
        for i, u in enumerate(urls):
            w = f"{where}[{i}]"
            if not isinstance(u, str) or not u.startswith(VIDEO_PREFIX):
                self.err(w, f"must start with {VIDEO_PREFIX}")
                continue
            q = u[len(VIDEO_PREFIX):]
            if not q or not re.fullmatch(r"[A-Za-z0-9+%._~-]+", q):
                self.err(w, "query must be non-empty and URL-encoded (use + for spaces)")
            elif not unquote_plus(q).strip():
                self.err(w, "query decodes to nothing")
            if u in seen:
                self.err(w, "duplicate URL")
            seen.add(u)

    # -- checks across entries -------------------------------------------------

    def cross(self, entries):
        entries = [e for e in entries if isinstance(e, dict)]
        slugs = {}
        for e in entries:
            s = e.get("slug")
            if isinstance(s, str):
                if s in slugs:
                    self.err("equipment", f"duplicate slug {s!r}")
                slugs[s] = e

        names = {}
        for e in entries:
            n = e.get("name")
            if isinstance(n, str):
                k = n.lower()
                if k in names:
                    self.err("equipment", f"duplicate name {n!r} ({names[k]} and {e.get('slug')})")
                names[k] = e.get("slug")

        # an alias must point at exactly one entry and never at another entry's name or slug
        alias_owner = {}
        for e in entries:
            for a in e.get("aliases") if isinstance(e.get("aliases"), list) else []:
                if not isinstance(a, str):
                    continue
                k = a.lower()
                if k in names and names[k] != e.get("slug"):
                    self.err(f"{e.get('slug')}.aliases", f"{a!r} is the name of {names[k]}")
                if k in slugs and k != e.get("slug"):
                    self.err(f"{e.get('slug')}.aliases", f"{a!r} is the slug of another entry")
                if k in alias_owner and alias_owner[k] != e.get("slug"):
                    self.err(f"{e.get('slug')}.aliases", f"{a!r} is also an alias of {alias_owner[k]}")
                alias_owner[k] = e.get("slug")

        for s in sorted(REQUIRED_SLUGS - slugs.keys()):
            self.err("equipment", f"required slug {s!r} is missing")

        for s, e in slugs.items():
            cw = e.get("confused_with")
            if not isinstance(cw, list):
                continue
            for o in cw:
                if not isinstance(o, str):
                    continue
                if o == s:
                    self.err(f"{s}.confused_with", "lists itself")
                elif o not in slugs:
                    self.err(f"{s}.confused_with", f"{o!r} is not a slug in the catalogue")
                else:
                    back = slugs[o].get("confused_with")
                    if isinstance(back, list) and s not in back:
                        self.err(f"{s}.confused_with", f"lists {o!r} but {o!r} does not list {s!r} (keep it symmetric)")

        if len(entries) < MIN_ENTRIES:
            self.err("equipment", f"{len(entries)} entries, need at least {MIN_ENTRIES}")
        counts = {c: 0 for c in CATEGORY_IDS}
        for e in entries:
            if e.get("category") in counts:
                counts[e["category"]] += 1
        for c, n in counts.items():
            if n < MIN_PER_CATEGORY:
                self.err("equipment", f"category {c!r} has {n} entries, need at least {MIN_PER_CATEGORY}")
        return counts


    # -- exercises -------------------------------------------------------------

    def exercise(self, where, x):
        if not isinstance(x, dict):
            self.err(where, "must be an object")
            return
        for k in EXERCISE_FIELDS:
            if k not in x:
                self.err(where, f"missing field {k!r}")
        for k in sorted(set(x.keys()) - set(EXERCISE_FIELDS)):
            self.err(where, f"unknown field {k!r}")
        x = {k: x.get(k, MISSING) for k in EXERCISE_FIELDS}
        slug = x["slug"]
        if self.text(f"{where}.slug", slug, 60) and not SLUG_RE.match(slug):
            self.err(f"{where}.slug", f"{slug!r} must be lowercase kebab-case")
        if self.text(f"{where}.name", x["name"], 60) and not name_key(x["name"]):
            self.err(f"{where}.name", "needs at least one letter or digit")
        aliases = x["aliases"]
        if aliases is not MISSING:
            if not isinstance(aliases, list):
                self.err(f"{where}.aliases", "must be an array of strings")
            else:
                if len(aliases) > MAX_EXERCISE_ALIASES:
                    self.err(f"{where}.aliases", f"has {len(aliases)} items, at most {MAX_EXERCISE_ALIASES}")
                seen = set()
                for i, a in enumerate(aliases):
                    if self.text(f"{where}.aliases[{i}]", a, 60):
                        if a.lower() in seen or a.lower() == str(x["name"]).lower():
                            self.err(f"{where}.aliases", f"{a!r} repeats the name or another alias")
                        if not name_key(a):
                            self.err(f"{where}.aliases[{i}]", "needs at least one letter or digit")
                        seen.add(a.lower())
        self.slug_list(f"{where}.equipment", x["equipment"], 0, 8)
        prim = self.muscles(f"{where}.primary_muscles", x["primary_muscles"], False)
        sec = self.muscles(f"{where}.secondary_muscles", x["secondary_muscles"], True)
        for m in sorted(set(prim) & set(sec)):
            self.err(where, f"muscle {m!r} is both primary and secondary")
        if x["pattern"] is not MISSING and x["pattern"] not in PATTERNS:
            self.err(f"{where}.pattern", f"{x['pattern']!r} is not one of {PATTERNS}")
        if x["measure"] is not MISSING and x["measure"] not in MEASURES:
            self.err(f"{where}.measure", f"{x['measure']!r} is not one of {MEASURES}")

    def exercises(self, xs, entries):
        if xs is None:
            return
        if not isinstance(xs, list):
            self.err("exercises", "must be an array")
            return
        for i, x in enumerate(xs):
            where = f"exercises[{i}]"
            if isinstance(x, dict) and isinstance(x.get("slug"), str):
                where += f" ({x['slug']})"
            self.exercise(where, x)
        xs = [x for x in xs if isinstance(x, dict) and isinstance(x.get("slug"), str)]
        if len(xs) < MIN_EXERCISES:
            self.err("exercises", f"{len(xs)} exercises, need at least {MIN_EXERCISES}")
        by_slug, names, keys = {}, {}, {}
        for x in xs:
            s = x["slug"]
            if s in by_slug:
                self.err("exercises", f"duplicate slug {s!r}")
            by_slug[s] = x
            n = x.get("name")
            if isinstance(n, str):
                if n.lower() in names:
                    self.err("exercises", f"duplicate name {n!r} ({names[n.lower()]} and {s})")
                names[n.lower()] = s
            # a name or alias must match one exercise only, after normalisation (name_key)
            al = x.get("aliases") if isinstance(x.get("aliases"), list) else []
            for a in [n] + al:
                if not isinstance(a, str) or not name_key(a):
                    continue
                k = name_key(a)
                if k in keys and keys[k] != s:
                    self.err(f"{s}.aliases", f"{a!r} matches {keys[k]} too (key {k!r})")
                keys.setdefault(k, s)
        self.links(xs, by_slug, entries)

    def links(self, xs, by_slug, entries):
        """Exercise.equipment and equipment.exercises must name each other."""
        eq = {e["slug"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("slug"), str)}
        for x in xs:
            for s in x.get("equipment") if isinstance(x.get("equipment"), list) else []:
                if not isinstance(s, str):
                    continue
                if s not in eq:
                    self.err(f"{x['slug']}.equipment", f"{s!r} is not an equipment slug")
                elif x["slug"] not in (eq[s].get("exercises") or []):
                    self.err(f"{x['slug']}.equipment", f"names {s!r} but {s!r} does not list {x['slug']!r} in exercises")
        for s, e in eq.items():
            for xs_ in [e.get("exercises")] if isinstance(e.get("exercises"), list) else []:
                for x in xs_:
                    if not isinstance(x, str):
                        continue
                    if x not in by_slug:
                        self.err(f"{s}.exercises", f"{x!r} is not an exercise slug")
                    elif s not in (by_slug[x].get("equipment") or []):
                        self.err(f"{s}.exercises", f"lists {x!r} but {x!r} does not name {s!r} in equipment")


def exercise_tables(doc):
    """Counts of exercises by pattern and by equipment category (an exercise counts once per
    category of the equipment it names; 'none' when it needs no equipment)."""
    cat_of = {e["slug"]: e["category"] for e in doc["equipment"]}
    by_pattern = {p: 0 for p in PATTERNS}
    by_cat = {c: 0 for c in CATEGORY_IDS + ["none"]}
    for x in doc["exercises"]:
        by_pattern[x["pattern"]] += 1
        cats = {cat_of[s] for s in x["equipment"]} or {"none"}
        for c in cats:
            by_cat[c] += 1
    return by_pattern, by_cat


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    path = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "equipment.json")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        print(f"check.py: cannot read {path}: {e.strerror}", file=sys.stderr)
        return 1
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        print(f"check.py: {path} is not valid JSON: {e}", file=sys.stderr)
        return 1

    c = Checker()
    counts = c.check(doc)
    if c.errors:
        for m in c.errors:
            print(f"error: {m}", file=sys.stderr)
        print(f"check.py: {path}: {len(c.errors)} problem(s)", file=sys.stderr)
        return 1

    names = {cat["id"]: cat["name"] for cat in doc["categories"]}
    width = max(len(n) for n in names.values())
    print(f"{path}: version {doc['version']}, OK")
    print(f"{'category':<{width}}  entries")
    for cid in CATEGORY_IDS:
        print(f"{names[cid]:<{width}}  {counts[cid]:>7}")
    print(f"{'total':<{width}}  {sum(counts.values()):>7}")
    by_pattern, by_cat = exercise_tables(doc)
    print(f"\n{'pattern':<{width}}  exercises")
    for p, n in by_pattern.items():
        print(f"{p:<{width}}  {n:>9}")
    print(f"{'total':<{width}}  {len(doc['exercises']):>9}")
    print(f"\n{'equipment category':<{width}}  exercises (one exercise may count in several)")
    for c, n in by_cat.items():
        print(f"{names.get(c, 'no equipment'):<{width}}  {n:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
