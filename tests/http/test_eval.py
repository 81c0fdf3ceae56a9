# SPDX-License-Identifier: MIT
"""`gymhelper eval` (issue 14): a labelled folder the test builds from the shared photos (three
classes of six), a tiny random CLIP checkpoint (tests/ref/clip_ref.py) and the fake OpenAI
server. The fake answers "barbell" at 0.91 for every photo, so its column is known by hand:
top-1 6/18, no "not sure", every answer in the barbell column, ECE |6/18 - 0.91|, and 18 calls
at gpt-4o-mini's price (812 prompt and 23 completion tokens each). CLIP's numbers mean nothing
with random weights; their arithmetic is checked against the confusion matrix and the split
(six photos per class: five can be remembered, one is held out). The metrics themselves are
checked against hand computations in tests/unit/eval/eval_test.c."""
import re
import sys
from pathlib import Path

import pytest

import ghhttp as G

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ref"))
import clip_ref  # noqa: E402

pytestmark = pytest.mark.asan

CLASSES = ("barbell", "dumbbell", "kettlebell")  # sorted, as the report numbers them
PER_CLASS = 6
# gpt-4o-mini: 150 nanodollars per prompt token, 600 per completion token (provider.c)
CALL_ND = 812 * 150 + 23 * 600


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip") / "tiny-clip"
    d.mkdir()
    clip_ref.make_model(str(d), seed=3)
    return d


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """DIR/<slug>/<photo> for three classes of six JPEGs, plus a TSV listing the same."""
    root = tmp_path_factory.mktemp("labelled")
    lines = ["path\tlabel"]
    for slug in CLASSES:
        rows = [r for r in G.photo_rows(slug) if r["format"] == "jpeg"][:PER_CLASS]
        assert len(rows) == PER_CLASS, slug
        (root / slug).mkdir()
        for r in rows:
            name = Path(r["path"]).name
            (root / slug / name).write_bytes(G.photo_bytes(r))
            lines.append("%s/%s\t%s" % (slug, name, slug))
    (root / "labels.tsv").write_text("\n".join(lines) + "\n")
    return root


def eval_env(tmp_path, tiny):
    return {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "xdg"),
            "CLIP_MODEL": str(tiny), "OPENAI_API_KEY": G.KEY, "CLIP_THREADS": "2"}


def run_eval(binary, tmp_path, tiny, *args):
    return G.run_cli(binary, ["eval", "--log-level", "warn", *args],
                     env=eval_env(tmp_path, tiny), timeout=600)


def summary(md):
    """The summary table: {row label: [values per configuration]} and the column names."""
    lines = md[md.index("## Summary"):].splitlines()
    head = [c.strip() for c in lines[2].strip("|").split("|")]
    rows = {}
    for line in lines[4:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return head[1:], rows


def confusion(md, config):
    """The confusion matrix of a configuration's section, as lists of ints."""
    sec = md[md.index("## %s\n" % config):]
    sec = sec[sec.index("Confusion matrix"):]
    rows = []
    for line in sec.splitlines():
        m = re.match(r"^\| \*\*(\d+)\*\* \|(.*)\|$", line)
        if m:
            rows.append([int(x) for x in m.group(2).split("|")])
        elif rows:
            break
    return rows


def test_configurations_side_by_side(binary, procs, tiny, labelled, tmp_path):
    fake = procs.fake()
    out = tmp_path / "report"
    r = run_eval(binary, tmp_path, tiny, "--openai-base-url", fake.base_url,
                 "--provider", "clip", "--provider", "clip", "--memory",
                 "--provider", "openai", "--precision", "int8", "--out", out, labelled)
    assert r.returncode == 0, r.stderr.decode()
    assert fake.calls() == 3 * PER_CLASS  # one paid call per photo, none for CLIP
    md = (out.parent / "report.md").read_text()
    html = (out.parent / "report.html").read_text()
    names, rows = summary(md)
    # --precision after --provider openai starts a CLIP configuration of its own
    assert names == ["clip", "clip --memory", "openai", "clip --precision int8"], names
    photos = rows["photos evaluated"]
    assert photos == ["18", "3", "18", "18"], rows
    # the fake's column, by hand
    assert rows["top-1 accuracy"][2] == "33.3%"
    assert rows["\"not sure\" rate"][2] == "0.0%"
    assert rows["expected calibration error"][2] == "%.3f" % abs(6 / 18 - 0.91)
    assert rows["estimated cost"][2] == "$%.4f" % (18 * CALL_ND / 1e9)
    assert rows["estimated cost per 1,000 photos"][2] == "$%.4f" % (1000 * CALL_ND / 1e9)
    assert rows["model"][2].startswith(G.MODEL)  # as the server reported it (dated)
    assert confusion(md, "openai") == [[6, 0, 0, 0]] * 3
    # CLIP: free, and its numbers agree with its own matrix
    for col, name in ((0, names[0]), (1, names[1]), (3, names[3])):
        assert rows["estimated cost"][col] == "$0.0000"
        m = confusion(md, name)
        n = int(photos[col])
        assert sum(map(sum, m)) == n and len(m) == 3
        assert rows["top-1 accuracy"][col] == "%.1f%%" % (100 * sum(m[i][i] for i in range(3)) / n)
        top1 = float(rows["top-1 accuracy"][col].rstrip("%"))
        assert float(rows["top-3 accuracy"][col].rstrip("%")) >= top1
    # the curve: five photos per class can be remembered, one per class is measured
    curve = md[md.index("## Few-shot curve"):].split("\n## ")[0].splitlines()
    points = [[c.strip() for c in line.strip("|").split("|")] for line in curve
              if re.match(r"^\| \d+ \|", line)]
    assert [p[0] for p in points] == ["0", "1", "2", "4", "8", "16"]
    assert [p[1] for p in points] == ["0", "3", "6", "12", "15", "15"]
    assert all(p[2] == "3" for p in points)
    assert points[0][4] == "0.0%"  # nothing remembered answers nothing
    # the HTML: the pictures, nothing that loads or runs
    assert html.count("<svg") == 1 + 2 * 4  # the curve, and a matrix and a diagram per config
    for bad in ("<script", "style", "src=", "href=", "@import"):
        assert bad not in html, bad
    assert "wrote %s.md and %s.html" % (out, out) in r.stdout.decode()


def test_tsv_with_bad_rows(binary, tiny, labelled, tmp_path):
    """A TSV: a label outside the catalogue and a file that is not an image are named and left
    out, the rest is measured, and the exit status says something was left out."""
    tsv = labelled / "labels.tsv"
    (labelled / "notes.txt").write_text("leg day\n")
    bad = tmp_path / "bad.tsv"
    bad.write_text(tsv.read_text() + "notes.txt\tbarbell\nbarbell/x.jpg\tflux-capacitor\n")
    # the TSV's paths are relative to its own folder
    bad_in_place = labelled / "bad.tsv"
    bad_in_place.write_text(bad.read_text())
    out = tmp_path / "tsv"
    r = run_eval(binary, tmp_path, tiny, "--no-curve", "--out", out, bad_in_place)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "'flux-capacitor' is not a catalogue slug" in err
    assert "notes.txt" in err and "left out" in err
    md = (tmp_path / "tsv.md").read_text()
    names, rows = summary(md)
    assert names == ["clip"] and rows["photos evaluated"] == ["18"]
    assert "(2 could not be read)" in md
    assert "Few-shot" not in md


def test_a_configuration_that_cannot_run_says_why(binary, tiny, labelled, tmp_path):
    env = eval_env(tmp_path, tiny)
    del env["OPENAI_API_KEY"]
    r = G.run_cli(binary, ["eval", "--provider", "openai", "--no-curve", "--out",
                           tmp_path / "x", labelled], env=env, timeout=300)
    assert r.returncode == 1
    assert "openai" in r.stdout.decode() and "not run" in r.stdout.decode()
    assert "Not run: " in (tmp_path / "x.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["--provider", "gemini", "D"], "--provider is clip, openai, llava or auto"),
    (["--precision", "int4", "D"], "--precision is f32, bf16, int8 or auto"),
    (["--jobs", "0", "D"], "--jobs wants a whole number"),
    ([], "usage: gymhelper eval"),
    (["a", "b"], "usage: gymhelper eval"),
])
def test_bad_usage(binary, tmp_path, args, message):
    r = G.run_cli(binary, ["eval", *args])
    assert r.returncode == 2
    assert message in r.stderr.decode()


def test_missing_or_empty_source(binary, tmp_path):
    r = G.run_cli(binary, ["eval", tmp_path / "nowhere"])
    assert r.returncode == 1 and "no such file or folder" in r.stderr.decode()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "not-a-slug").mkdir()
    r = G.run_cli(binary, ["eval", tmp_path / "empty"])
    assert r.returncode == 1
    assert "not a catalogue slug" in r.stderr.decode()
    assert "no labelled photos" in r.stderr.decode()
