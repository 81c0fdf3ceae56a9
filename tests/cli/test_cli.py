# SPDX-License-Identifier: MIT
"""The gymhelper command line: output formats, every accepted image kind, orientation,
animation, the provider copy (prep), usage errors and exit codes."""
import hashlib
import io
import re

import numpy as np
import pytest
from PIL import Image

import images as I

HASH_LINE = re.compile(r"^(?P<hex>[0-9a-f]{16})  (?P<file>.+)$")
SHA_LINE = re.compile(r"^(?P<hex>[0-9a-f]{64})  (?P<file>.+)$")
VALIDATE_LINE = re.compile(
    r"^(?P<file>.+): format=(?P<format>jpeg|png|webp) width=(?P<width>\d+) "
    r"height=(?P<height>\d+) orientation=(?P<orientation>[1-8]) bands=(?P<bands>\d+) "
    r"alpha=(?P<alpha>yes|no) frames=(?P<frames>\d+)$")


def distance(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def hashes(gh, *paths, cwd=None):
    """{argument: hex} from one `gymhelper hash` run that must succeed."""
    r = gh("hash", *paths, cwd=cwd)
    assert r.returncode == 0 and r.stderr == "", str(r)
    out = {}
    for line in r.out_lines:
        m = HASH_LINE.match(line)
        assert m, "bad hash line %r" % line
        out[m["file"]] = m["hex"]
    assert list(out) == [str(p) for p in paths], str(r)
    return out


def validate(gh, *paths):
    """{argument: fields} from one `gymhelper validate` run that must succeed."""
    r = gh("validate", *paths)
    assert r.returncode == 0 and r.stderr == "", str(r)
    out = {}
    for line in r.out_lines:
        m = VALIDATE_LINE.match(line)
        assert m, "bad validate line %r" % line
        out[m["file"]] = m.groupdict()
    assert list(out) == [str(p) for p in paths], str(r)
    return out


@pytest.fixture(scope="module")
def picture():
    return I.photo_like(240, 160, 11)


# --- hash -------------------------------------------------------------------------------

def test_hash_output_format(gh, tmp_path, picture):
    (tmp_path / "sub").mkdir()
    I.save(picture, tmp_path / "a.jpg")
    I.save(picture, tmp_path / "b.png")
    I.save(picture, tmp_path / "sub" / "c d.webp")
    args = ["a.jpg", "./b.png", "sub/../sub/c d.webp"]
    r = gh("hash", *args, cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert r.stdout.endswith("\n")
    lines = r.out_lines
    assert len(lines) == 3, str(r)
    for line, arg in zip(lines, args):
        m = HASH_LINE.match(line)
        assert m and m["file"] == arg, "%r: want '<16 hex>  %s'" % (line, arg)
    # one picture, three encodings: the same or nearly the same hash
    first = HASH_LINE.match(lines[0])["hex"]
    for line in lines[1:]:
        assert distance(first, HASH_LINE.match(line)["hex"]) <= 2, str(r)


def test_hash_is_deterministic(gh, tmp_path, picture):
    p = I.save(picture, tmp_path / "a.jpg")
    r1, r2 = gh("hash", p, p), gh("hash", p)
    assert r1.out_lines == [r2.out_lines[0]] * 2


def test_hash_stdin(gh, tmp_path, picture):
    paths = [I.save(picture, tmp_path / name) for name in ("a.jpg", "a.png", "a.webp")]
    from_files = hashes(gh, *paths)
    for p in (paths[0], paths[2]):
        r = gh("hash", "-", input=p.read_bytes())
        assert r.returncode == 0 and r.stderr == "", str(r)
        assert r.stdout == "%s  -\n" % from_files[str(p)]


def test_sha256_matches_hashlib(gh, tmp_path, picture):
    paths = [I.save(picture, tmp_path / n) for n in ("a.jpg", "b.png", "c.webp")]
    paths.append(I.save(picture, tmp_path / "with space.png", optimize=True))
    r = gh("hash", "--sha256", *paths)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert len(r.out_lines) == len(paths)
    for line, p in zip(r.out_lines, paths):
        m = SHA_LINE.match(line)
        assert m, line
        assert m["file"] == str(p)
        assert m["hex"] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_sha256_stdin(gh, picture):
    data = I.encoded(picture, "PNG")
    r = gh("hash", "--sha256", "-", input=data)
    assert r.returncode == 0, str(r)
    assert r.stdout == "%s  -\n" % hashlib.sha256(data).hexdigest()


def test_sha256_still_refuses_bad_files(gh, tmp_path):
    p = tmp_path / "x.gif"
    p.write_bytes(b"GIF89a" + bytes(64))
    r = gh("hash", "--sha256", p)
    assert r.returncode == 1 and r.stdout == "", str(r)
    assert r.stderr.endswith("[unsupported_type]\n"), str(r)


# --- validate: every accepted kind --------------------------------------------------------

def _kinds():
    base = I.photo_like(120, 80, 4)
    alpha = I.with_alpha(base)
    pal_t = base.convert("P")
    return [
        # id, file name, writer(path), expected fields (None: not checked)
        ("jpeg", "x.jpg", lambda p: I.save(base, p), dict(format="jpeg", bands=3, alpha="no")),
        ("jpeg-progressive", "x.jpg", lambda p: I.save(base, p, progressive=True),
         dict(format="jpeg", bands=3, alpha="no")),
        ("jpeg-grey", "x.jpg", lambda p: I.save(base.convert("L"), p),
         dict(format="jpeg", bands=1, alpha="no")),
        ("jpeg-cmyk", "x.jpg", lambda p: I.save(base.convert("CMYK"), p),
         dict(format="jpeg", bands=4, alpha="no")),
        ("png-rgb", "x.png", lambda p: I.save(base, p), dict(format="png", bands=3, alpha="no")),
        ("png-rgba", "x.png", lambda p: I.save(alpha, p),
         dict(format="png", bands=4, alpha="yes")),
        ("png-grey", "x.png", lambda p: I.save(base.convert("L"), p),
         dict(format="png", bands=1, alpha="no")),
        ("png-grey-alpha", "x.png", lambda p: I.save(alpha.convert("LA"), p),
         dict(format="png", bands=2, alpha="yes")),
        ("png-grey16", "x.png", lambda p: p.write_bytes(I.png16(I.to16(base.convert("L")))),
         dict(format="png", bands=1, alpha="no")),
        ("png-rgb16", "x.png", lambda p: p.write_bytes(I.png16(I.to16(base))),
         dict(format="png", bands=3, alpha="no")),
        ("png-rgba16", "x.png", lambda p: p.write_bytes(I.png16(I.to16(alpha))),
         dict(format="png", bands=4, alpha="yes")),
        ("png-palette", "x.png", lambda p: I.save(base.convert("P"), p),
         dict(format="png", alpha="no")),
        ("png-palette-transparent", "x.png", lambda p: I.save(pal_t, p, transparency=0),
         dict(format="png", alpha="yes")),
        ("png-interlaced", "x.png",
         lambda p: p.write_bytes(I.png_raw(np.asarray(base), interlace=True)),
         dict(format="png", bands=3, alpha="no")),
        ("webp-lossy", "x.webp", lambda p: I.save(base, p),
         dict(format="webp", bands=3, alpha="no")),
        ("webp-lossless", "x.webp", lambda p: I.save(base, p, lossless=True),
         dict(format="webp", bands=3, alpha="no")),
        ("webp-alpha", "x.webp", lambda p: I.save(alpha, p),
         dict(format="webp", bands=4, alpha="yes")),
    ]


KINDS = _kinds()


def test_validate_every_kind(gh, tmp_path):
    paths = []
    for kid, name, write, _ in KINDS:
        p = tmp_path / ("%s-%s" % (kid, name))
        write(p)
        paths.append(p)
    got = validate(gh, *paths)
    problems = []
    for p, (kid, _, _, want) in zip(paths, KINDS):
        fields = got[str(p)]
        want = dict(want, width=120, height=80, orientation=1, frames=1)
        for k, v in want.items():
            if str(v) != fields[k]:
                problems.append("%s: %s=%s, want %s" % (kid, k, fields[k], v))
    assert not problems, "\n".join(problems)


def test_every_kind_hashes_like_the_rgb_original(gh, tmp_path):
    """Grey, 16-bit, palette and alpha-free variants of one picture are the same picture."""
    same = {"jpeg", "jpeg-progressive", "jpeg-grey", "png-rgb", "png-grey", "png-grey16",
            "png-rgb16", "png-palette", "png-interlaced", "webp-lossy", "webp-lossless"}
    paths = {}
    for kid, name, write, _ in KINDS:
        p = tmp_path / ("%s-%s" % (kid, name))
        write(p)
        paths[kid] = p
    got = hashes(gh, *paths.values())
    ref = got[str(paths["png-rgb"])]
    far = {k: distance(ref, got[str(p)]) for k, p in paths.items()
           if k in same and distance(ref, got[str(p)]) > 4}
    assert not far, far
    # alpha flattened on white: the three RGBA encodings agree with each other
    a = [got[str(paths[k])] for k in ("png-rgba", "png-rgba16", "webp-alpha")]
    assert distance(a[0], a[1]) <= 2 and distance(a[0], a[2]) <= 4, a


# --- orientation ------------------------------------------------------------------------

def test_exif_orientation(gh, tmp_path):
    upright = I.photo_like(300, 200, 5)
    paths = [I.save(upright, tmp_path / "o1.jpg")]
    for o in range(2, 9):
        paths.append(I.save_oriented(upright, tmp_path / ("o%d.jpg" % o), o))
    fields = validate(gh, *paths)
    for o, p in enumerate(paths, 1):
        f = fields[str(p)]
        assert f["orientation"] == str(o), f
        stored = (200, 300) if o >= 5 else (300, 200)  # stored, not displayed, size
        assert (int(f["width"]), int(f["height"])) == stored, f
    got = hashes(gh, *paths)
    ref = got[str(paths[0])]
    dist = {o: distance(ref, got[str(p)]) for o, p in enumerate(paths, 1)}
    assert all(d <= 2 for d in dist.values()), dist


def test_orientation_6_png_and_webp(gh, tmp_path):
    """EXIF orientation also counts in PNG (eXIf) and WebP (EXIF chunk)."""
    upright = I.photo_like(160, 120, 6)
    plain = I.save(upright, tmp_path / "plain.png")
    p6 = I.save_oriented(upright, tmp_path / "o6.png", 6)
    w6 = I.save_oriented(upright, tmp_path / "o6.webp", 6)
    fields = validate(gh, p6, w6)
    assert [fields[str(p)]["orientation"] for p in (p6, w6)] == ["6", "6"], fields
    got = hashes(gh, plain, p6, w6)
    assert distance(got[str(plain)], got[str(p6)]) <= 2, got
    assert distance(got[str(plain)], got[str(w6)]) <= 4, got


# --- animation ------------------------------------------------------------------------

def test_animated_webp_is_its_first_frame(gh, tmp_path):
    frames = [I.photo_like(200, 150, s) for s in (21, 22, 23)]
    anim = I.save_animated_webp(frames, tmp_path / "anim.webp")
    still = I.save(frames[0], tmp_path / "frame0.png")
    other = I.save(frames[1], tmp_path / "frame1.png")
    f = validate(gh, anim)[str(anim)]
    assert (f["format"], f["frames"], f["width"], f["height"]) == ("webp", "3", "200", "150"), f
    got = hashes(gh, anim, still, other)
    assert distance(got[str(anim)], got[str(still)]) <= 2, got
    assert distance(got[str(anim)], got[str(other)]) > 10, got


# --- prep ---------------------------------------------------------------------------------

def open_jpeg(data):
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    img.load()
    return img


@pytest.fixture(scope="session")
def big_jpeg(tmp_path_factory):
    p = tmp_path_factory.mktemp("big") / "big.jpg"
    return I.save(I.photo_like(750, 500, 8).resize((3000, 2000), Image.Resampling.BICUBIC), p,
                  quality=85)


def prep(gh, *args):
    r = gh("prep", *args)
    assert r.returncode == 0 and r.stderr == "", str(r)
    return r


def test_prep_downsizes_to_1024(gh, tmp_path, big_jpeg):
    out = tmp_path / "out.jpg"
    prep(gh, "-o", out, big_jpeg)
    img = open_jpeg(out.read_bytes())
    assert img.mode == "RGB"
    assert img.size[0] == 1024 and abs(img.size[1] - 2000 * 1024 / 3000) <= 1, img.size
    assert "exif" not in img.info and not img.getexif(), "metadata must be stripped"
    # the copy is the same picture
    got = hashes(gh, big_jpeg, out)
    assert distance(got[str(big_jpeg)], got[str(out)]) <= 2, got


def test_prep_size_option(gh, tmp_path, big_jpeg):
    out = tmp_path / "out.jpg"
    prep(gh, "--size", "300", "-o", out, big_jpeg)
    assert open_jpeg(out.read_bytes()).size == (300, 200)


def test_prep_never_enlarges(gh, tmp_path):
    src, out = I.save(I.photo_like(200, 100, 3), tmp_path / "small.png"), tmp_path / "o.jpg"
    prep(gh, "-o", out, src)
    assert open_jpeg(out.read_bytes()).size == (200, 100)
    prep(gh, "--size", "2000", "-o", out, src)
    assert open_jpeg(out.read_bytes()).size == (200, 100)


def test_prep_applies_orientation(gh, tmp_path):
    """Stored 300x150 with orientation 6 is shown (and sent) as 150x300."""
    upright = I.photo_like(150, 300, 9)
    src = I.save_oriented(upright, tmp_path / "o6.jpg", 6)
    assert Image.open(src).size == (300, 150)
    out = tmp_path / "out.jpg"
    prep(gh, "-o", out, src)
    img = open_jpeg(out.read_bytes())
    assert img.size == (150, 300)
    assert not img.getexif().get(I.ORIENTATION_TAG), "orientation applied, tag must go"
    ref = I.save(upright, tmp_path / "upright.png")
    got = hashes(gh, ref, out)
    assert distance(got[str(ref)], got[str(out)]) <= 2, got


def test_prep_stdout(gh, tmp_path, big_jpeg):
    out = tmp_path / "out.jpg"
    prep(gh, "--size", "256", "-o", out, big_jpeg)
    r = gh("prep", "--size", "256", "-o", "-", big_jpeg)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert r.stdout_bytes == out.read_bytes()


def test_prep_quality(gh, tmp_path):
    src = I.save(I.photo_like(600, 400, 12), tmp_path / "src.png")
    outs = {}
    for name, args in [("default", []), ("q95", ["--quality", "95"]),
                       ("q30", ["--quality", "30"])]:
        outs[name] = tmp_path / (name + ".jpg")
        prep(gh, *args, "-o", outs[name], src)
    data = {k: p.read_bytes() for k, p in outs.items()}
    assert data["default"] == data["q95"], "default quality must be 95"
    assert len(data["q30"]) < 0.6 * len(data["q95"]), {k: len(v) for k, v in data.items()}
    open_jpeg(data["q30"])


def test_prep_enhance(gh, tmp_path):
    src = I.save(I.photo_like(400, 300, 13), tmp_path / "src.png")
    plain, enh = tmp_path / "plain.jpg", tmp_path / "enh.jpg"
    prep(gh, "-o", plain, src)
    prep(gh, "--enhance", "-o", enh, src)
    a = np.asarray(open_jpeg(plain.read_bytes()).convert("L"), dtype=np.float64)
    b = np.asarray(open_jpeg(enh.read_bytes()).convert("L"), dtype=np.float64)
    assert a.shape == b.shape == (300, 400)
    assert b.std() > a.std() * 1.05, "contrast should go up: %.1f -> %.1f" % (a.std(), b.std())
    assert abs(b.mean() - a.mean()) < 10, "brightness should stay: %.1f -> %.1f" % (
        a.mean(), b.mean())
    got = hashes(gh, plain, enh)
    assert distance(got[str(plain)], got[str(enh)]) <= 4, got


@pytest.mark.parametrize("kind", ["png-rgba", "png-grey16", "jpeg-cmyk", "webp-alpha",
                                  "png-palette-transparent"])
def test_prep_any_kind_gives_rgb_jpeg(gh, tmp_path, kind):
    _, name, write, _ = next(k for k in KINDS if k[0] == kind)
    src, out = tmp_path / name, tmp_path / "out.jpg"
    write(src)
    prep(gh, "-o", out, src)
    img = open_jpeg(out.read_bytes())
    assert img.mode == "RGB" and img.size == (120, 80)


def test_prep_flattens_alpha_on_white(gh, tmp_path):
    rgba = Image.new("RGBA", (100, 100), (200, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 50, 100))  # left half transparent black
    src, out = I.save(rgba, tmp_path / "a.png"), tmp_path / "out.jpg"
    prep(gh, "-o", out, src)
    px = np.asarray(open_jpeg(out.read_bytes()), dtype=np.int32)
    assert (abs(px[40:60, 5:40] - 255) <= 6).all(), px[50, 20]
    assert (abs(px[40:60, 60:95] - [200, 0, 0]) <= 12).all(), px[50, 80]


def test_prep_unwritable_output(gh, tmp_path, picture):
    src = I.save(picture, tmp_path / "a.jpg")
    out = tmp_path / "no-such-dir" / "out.jpg"
    r = gh("prep", "-o", out, src)
    assert r.returncode == 1 and str(out) in r.stderr, str(r)


# --- hash distances ---------------------------------------------------------------------

def test_reencoded_jpeg_stays_close(gh, tmp_path):
    for seed in (31, 32, 33):
        orig = I.save(I.photo_like(640, 480, seed), tmp_path / ("o%d.jpg" % seed), quality=95)
        again = tmp_path / ("r%d.jpg" % seed)
        Image.open(orig).save(again, "JPEG", quality=90)
        got = hashes(gh, orig, again)
        assert distance(got[str(orig)], got[str(again)]) <= 4, got


def test_resized_copy_stays_close(gh, tmp_path):
    img = I.photo_like(800, 600, 34)
    big = I.save(img, tmp_path / "big.png")
    small = I.save(img.resize((200, 150), Image.Resampling.LANCZOS), tmp_path / "small.jpg")
    got = hashes(gh, big, small)
    assert distance(got[str(big)], got[str(small)]) <= 4, got


def test_different_pictures_are_far_apart(gh, tmp_path):
    pics = {
        "photo-a": I.photo_like(400, 300, 41),
        "photo-b": I.photo_like(400, 300, 42),
        "photo-a-negative": Image.eval(I.photo_like(400, 300, 41), lambda v: 255 - v),
        "gradient": I.gradient(400, 300),
        "checker": I.checkerboard(400, 300, 37),
    }
    # (A horizontal and a vertical gradient share a hash, all bits but DC clear: each puts
    # its energy in one row or column of the DCT, below the median either way.)
    paths = {k: I.save(v, tmp_path / (k + ".png")) for k, v in pics.items()}
    got = hashes(gh, *paths.values())
    keys = list(paths)
    close = ["%s~%s: %d" % (a, b, distance(got[str(paths[a])], got[str(paths[b])]))
             for i, a in enumerate(keys) for b in keys[i + 1:]
             if distance(got[str(paths[a])], got[str(paths[b])]) <= 10]
    assert not close, close


# --- usage, help, version -------------------------------------------------------------------

@pytest.fixture
def good_jpg(tmp_path, picture):
    return I.save(picture, tmp_path / "good.jpg")


USAGE_ERRORS = [
    ("no-args", []),
    ("unknown-command", ["frobnicate"]),
    ("hash-no-file", ["hash"]),
    ("validate-no-file", ["validate"]),
    ("hash-unknown-option", ["hash", "--bogus", "{f}"]),
    ("validate-sha256", ["validate", "--sha256", "{f}"]),
    ("max-upload-mb-0", ["hash", "--max-upload-mb", "0", "{f}"]),
    ("max-upload-mb-1001", ["hash", "--max-upload-mb", "1001", "{f}"]),
    ("max-upload-mb-word", ["hash", "--max-upload-mb", "ten", "{f}"]),
    ("max-upload-mb-missing-value", ["hash", "{f}", "--max-upload-mb"]),
    ("min-side-0", ["validate", "--min-side", "0", "{f}"]),
    ("max-side-huge", ["validate", "--max-side", "100001", "{f}"]),
    ("max-side-empty", ["validate", "--max-side", "", "{f}"]),
    ("type-gif", ["validate", "--type", "gif", "{f}"]),
    ("type-image-gif", ["validate", "--type", "image/gif", "{f}"]),
    ("prep-no-output", ["prep", "{f}"]),
    ("prep-no-file", ["prep", "-o", "{o}"]),
    ("prep-two-files", ["prep", "-o", "{o}", "{f}", "{f}"]),
    ("prep-quality-0", ["prep", "--quality", "0", "-o", "{o}", "{f}"]),
    ("prep-quality-101", ["prep", "--quality", "101", "-o", "{o}", "{f}"]),
    ("prep-size-0", ["prep", "--size", "0", "-o", "{o}", "{f}"]),
    ("prep-unknown-option", ["prep", "--sha256", "-o", "{o}", "{f}"]),
]


@pytest.mark.parametrize("args", [u[1] for u in USAGE_ERRORS], ids=[u[0] for u in USAGE_ERRORS])
def test_usage_errors_exit_2(gh, tmp_path, good_jpg, args):
    out = tmp_path / "out.jpg"
    args = [a.format(f=good_jpg, o=out) for a in args]
    r = gh(*args)
    assert r.returncode == 2, str(r)
    assert r.stdout == "", str(r)
    assert r.stderr.strip(), "a usage error must say something on stderr"
    assert not out.exists()


@pytest.mark.parametrize("env", [{"MAX_UPLOAD_MB": "0"}, {"IMAGE_MIN_SIDE": "-1"},
                                 {"IMAGE_MAX_SIDE": "1e4"}],
                         ids=["MAX_UPLOAD_MB-0", "IMAGE_MIN_SIDE-neg", "IMAGE_MAX_SIDE-float"])
def test_bad_environment_exit_2(gh, good_jpg, env):
    r = gh("hash", good_jpg, env=env)
    assert r.returncode == 2 and r.stdout == "", str(r)
    assert list(env)[0] in r.stderr, str(r)


def test_no_args_prints_usage_on_stderr(gh):
    r = gh()
    assert r.returncode == 2 and r.stdout == "", str(r)
    assert "usage: gymhelper" in r.stderr


@pytest.mark.parametrize("arg", ["--help", "help", "-h"])
def test_help(gh, arg):
    r = gh(arg)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert r.stdout.startswith("usage: gymhelper")
    for command in ("hash", "validate", "prep", "version"):
        assert command in r.stdout


@pytest.mark.parametrize("command,flag", [("hash", "--help"), ("validate", "--help"),
                                          ("prep", "--help"), ("hash", "-h")])
def test_command_help(gh, command, flag):
    r = gh(command, flag)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert r.stdout.startswith("usage: gymhelper %s" % command), str(r)
    assert "--max-upload-mb" in r.stdout


def test_help_wins_over_missing_file(gh):
    r = gh("hash", "--help", "/no/such/file.jpg")
    assert r.returncode == 0 and r.stdout.startswith("usage: gymhelper hash"), str(r)


@pytest.mark.parametrize("arg", ["version", "--version"])
def test_version(gh, arg):
    r = gh(arg)
    assert r.returncode == 0 and r.stderr == "", str(r)
    want = r"gymhelper 0\.1\.0 \(libvips \d+\.\d+\.\d+, OpenSSL \d+\.\d+\.\d+[^)]*\)\n"
    assert re.fullmatch(want, r.stdout), r.stdout
