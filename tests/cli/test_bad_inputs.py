# SPDX-License-Identifier: MIT
"""Every class of bad input gets its own error code and a sentence on stderr, never a crash,
never a partial decode, and never a big allocation for a header that lies about its size."""
import re

import numpy as np
import pytest

import images as I

ERROR_LINE = re.compile(r"^gymhelper: (?P<file>.+?): (?P<sentence>.+) \[(?P<code>[a-z_]+)\]$")


def photo_bytes(fmt, w=320, h=240, seed=0, **kw):
    return I.encoded(I.photo_like(w, h, seed), fmt, **kw)


def pillow_bytes(fmt, mode="RGB", **kw):
    img = I.photo_like(120, 90, 4)
    if mode != "RGB":
        img = img.convert(mode)
    return I.encoded(img, fmt, **kw)


def assert_error(r, path, code, *phrases):
    """r failed on exactly one file, path, with code; the sentence holds every phrase."""
    assert r.returncode == 1, str(r)
    assert r.stdout == "", str(r)
    lines = r.err_lines
    assert len(lines) == 1, str(r)
    prefix = "gymhelper: %s: " % path
    assert lines[0].startswith(prefix), "want %r...\n%s" % (prefix, r)
    m = re.fullmatch(r"(?P<sentence>.+) \[(?P<code>[a-z_]+)\]", lines[0][len(prefix):])
    assert m, "not an error line: %r" % lines[0]
    assert m["code"] == code, str(r)
    for phrase in phrases:
        assert phrase in m["sentence"], "%r not in %r" % (phrase, m["sentence"])
    return m["sentence"]


# (id, file name, bytes maker, code, phrases in the sentence)
BAD = [
    ("empty", "empty.jpg", lambda: b"", "invalid", ["empty"]),
    ("empty-no-ext", "empty", lambda: b"", "invalid", ["empty"]),
    ("gif", "x.gif", lambda: pillow_bytes("GIF", "P"), "unsupported_type", ["GIF image"]),
    ("gif-named-jpg", "x.jpg", lambda: pillow_bytes("GIF", "P"), "unsupported_type",
     ["GIF image"]),
    ("pdf", "x.pdf", lambda: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
     "unsupported_type", ["PDF document"]),
    ("html", "page.html", lambda: b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n",
     "unsupported_type", ["HTML document"]),
    ("html-bom-lowercase", "x.png", lambda: b"\xef\xbb\xbf  \n<html lang=en></html>",
     "unsupported_type", ["HTML document"]),
    ("text", "notes.txt", lambda: b"bench press: 3 sets of 8\nsquat: 5x5\n",
     "unsupported_type", ["plain text"]),
    ("random", "blob.bin", lambda: b"\x00\x01" + np.random.default_rng(3).bytes(4000),
     "unsupported_type", ["unrecognised binary data"]),
    ("bmp", "x.bmp", lambda: pillow_bytes("BMP"), "unsupported_type", ["BMP image"]),
    ("tiff", "x.tiff", lambda: pillow_bytes("TIFF"), "unsupported_type", ["TIFF image"]),
    ("tiff-bigendian", "x.tif", lambda: b"MM\x00*" + bytes(60), "unsupported_type",
     ["TIFF image"]),
    ("heic", "IMG_0001.HEIC",
     lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200),
     "unsupported_type", ["HEIC image"]),
    ("svg", "icon.svg",
     lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"></svg>',
     "unsupported_type", ["SVG image"]),
    ("truncated-jpeg", "t.jpg", lambda: I.truncated(photo_bytes("JPEG")), "undecodable", []),
    ("truncated-progressive-jpeg", "t.jpg",
     lambda: I.truncated(photo_bytes("JPEG", progressive=True)), "undecodable", []),
    ("truncated-png", "t.png", lambda: I.truncated(photo_bytes("PNG")), "undecodable", []),
    ("truncated-webp", "t.webp", lambda: I.truncated(photo_bytes("WEBP")), "undecodable", []),
    ("truncated-lossless-webp", "t.webp",
     lambda: I.truncated(photo_bytes("WEBP", lossless=True)), "undecodable", []),
    ("png-signature-only", "s.png", lambda: b"\x89PNG\r\n\x1a\n", "undecodable", []),
    ("jpeg-soi-only", "s.jpg", lambda: b"\xff\xd8\xff", "undecodable", []),
    ("corrupt-jpeg-header", "c.jpg", lambda: I.corrupt_jpeg_header(photo_bytes("JPEG")),
     "undecodable", []),
    ("png-as-jpg", "photo.jpg", lambda: photo_bytes("PNG"), "type_mismatch",
     ["declared as jpeg", "PNG image"]),
    ("jpeg-as-png-uppercase-ext", "photo.PNG", lambda: photo_bytes("JPEG"), "type_mismatch",
     ["declared as png", "JPEG image"]),
    ("webp-as-jfif", "photo.jfif", lambda: photo_bytes("WEBP"), "type_mismatch",
     ["declared as jpeg", "WebP image"]),
    ("png-as-jpe", "photo.jpe", lambda: photo_bytes("PNG"), "type_mismatch",
     ["declared as jpeg"]),
    ("too-small", "thin.png", lambda: I.encoded(I.photo_like(49, 400), "PNG"), "out_of_range",
     ["49x400"]),
    ("too-large", "wide.png", lambda: I.encoded(I.photo_like(10001, 60), "PNG"),
     "out_of_range", ["10001x60"]),
]

# Bad only under an option: (id, file name, bytes maker, options, code, phrases)
BAD_WITH_OPTIONS = [
    ("type-option-beats-name", "photo.png", lambda: photo_bytes("PNG"), ["--type", "webp"],
     "type_mismatch", ["declared as webp"]),
    ("type-mime", "upload.bin", lambda: photo_bytes("JPEG"), ["--type", "image/png"],
     "type_mismatch", ["declared as png"]),
    ("too-small-min-side", "small.png", lambda: I.encoded(I.photo_like(60, 60), "PNG"),
     ["--min-side", "61"], "out_of_range", ["60x60"]),
    ("too-large-max-side", "wide.jpg", lambda: photo_bytes("JPEG", 640, 100),
     ["--max-side", "639"], "out_of_range", ["640x100"]),
]


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory):
    """({id: path} of every BAD file, a good file to put between them)."""
    root = tmp_path_factory.mktemp("bad")
    good = I.save(I.photo_like(64, 64, 9), root / "good.png")
    files = {}
    for bid, name, data, _, _ in BAD:
        (root / bid).mkdir()
        files[bid] = root / bid / name
        files[bid].write_bytes(data())
    return files, good


_batches = {}


def batch_run(gh, command, bad_files):
    """One `gymhelper COMMAND bad1 good bad2 good ...` per binary and command, shared by the
    per-file cases (a process start costs ~0.1 s, mostly loading libvips' dependencies; one
    run also shows that no failure leaks into the next file)."""
    key = (gh.binary.variant, command)
    if key not in _batches:
        files, good = bad_files
        paths = []
        for p in files.values():
            paths += [p, good]
        _batches[key] = gh(command, *paths)
    return _batches[key]


@pytest.mark.parametrize("command", ["validate", "hash"])
@pytest.mark.parametrize("bid,code,phrases", [(b[0], b[3], b[4]) for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input(gh, bad_files, command, bid, code, phrases):
    path = bad_files[0][bid]
    r = batch_run(gh, command, bad_files)
    prefix = "gymhelper: %s: " % path
    lines = [line for line in r.err_lines if line.startswith(prefix)]
    assert len(lines) == 1, "want one line starting %r\n%s" % (prefix, r)
    m = re.fullmatch(r"(?P<sentence>.+) \[(?P<code>[a-z_]+)\]", lines[0][len(prefix):])
    assert m, "not an error line: %r" % lines[0]
    assert m["code"] == code, lines[0]
    for phrase in phrases:
        assert phrase in m["sentence"], "%r not in %r" % (phrase, m["sentence"])


@pytest.mark.parametrize("command", ["validate", "hash"])
def test_bad_inputs_in_one_run(gh, bad_files, command):
    files, good = bad_files
    r = batch_run(gh, command, bad_files)
    assert r.returncode == 1, str(r)
    assert len(r.out_lines) == len(files), str(r)
    assert all(str(good) in line for line in r.out_lines), str(r)
    assert len(r.err_lines) == len(files), str(r)
    assert all(ERROR_LINE.match(line) for line in r.err_lines), str(r)


@pytest.mark.parametrize("name,data,args,code,phrases", [b[1:] for b in BAD_WITH_OPTIONS],
                         ids=[b[0] for b in BAD_WITH_OPTIONS])
def test_bad_input_with_options(gh, tmp_path, name, data, args, code, phrases):
    path = tmp_path / name
    path.write_bytes(data())
    assert_error(gh("validate", *args, path), path, code, *phrases)


def test_one_bad_file_alone(gh, tmp_path):
    """A single bad file: exit 1, nothing on stdout, exactly one line on stderr."""
    path = tmp_path / "t.png"
    path.write_bytes(I.truncated(photo_bytes("PNG")))
    assert_error(gh("hash", path), path, "undecodable")


def test_declared_type_accepted_by_name(gh, tmp_path):
    """Extensions match case-insensitively; other names declare nothing."""
    files = [("photo.JPEG", photo_bytes("JPEG")), ("photo.WebP", photo_bytes("WEBP")),
             ("photo.Jpe", photo_bytes("JPEG")), ("photo.jfif", photo_bytes("JPEG")),
             ("upload", photo_bytes("PNG")), ("upload.dat", photo_bytes("WEBP")),
             ("photo.gif", photo_bytes("PNG")), ("photo.jpg.png", photo_bytes("PNG")),
             ("dir.jpg/upload", photo_bytes("PNG"))]
    paths = []
    for name, data in files:
        p = tmp_path / name
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        paths.append(p)
    r = gh("validate", *paths)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert [line.split(": format=")[0] for line in r.out_lines] == [str(p) for p in paths]


@pytest.mark.parametrize("name,data,args", [
    ("photo.jpg", lambda: photo_bytes("PNG"), ["--type", "any"]),
    ("photo.jpg", lambda: photo_bytes("PNG"), ["--type", "ANY"]),
    ("photo.jpg", lambda: photo_bytes("PNG"), ["--type", "png"]),
    ("photo.bin", lambda: photo_bytes("JPEG"), ["--type", "image/jpeg"]),
    ("photo.bin", lambda: photo_bytes("WEBP"), ["--type", "IMAGE/WEBP"]),
], ids=["type-any", "type-ANY", "type-png", "type-mime", "type-mime-upper"])
def test_declared_type_accepted(gh, tmp_path, name, data, args):
    path = tmp_path / name
    path.write_bytes(data())
    r = gh("validate", *args, path)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert r.stdout.startswith("%s: format=" % path), str(r)


def test_over_byte_limit(gh, tmp_path):
    path = tmp_path / "noise.png"
    I.save(I.noise(700, 700), path)  # ~1.5 MB: noise does not compress
    size = path.stat().st_size
    assert size > 1_000_000
    assert_error(gh("validate", "--max-upload-mb", "1", path), path, "too_large",
                 "1000000")
    assert_error(gh("hash", path, env={"MAX_UPLOAD_MB": "1"}), path, "too_large")
    r = gh("validate", "--max-upload-mb", "2", path)
    assert r.returncode == 0, str(r)


def test_byte_limit_is_exact(gh, tmp_path):
    """1 MB is 1,000,000 bytes: a file of exactly that many passes, one more byte fails."""
    data = I.encoded(I.noise(300, 300), "PNG")
    pad = 1_000_000 - len(data)
    assert pad > 0
    # Bytes after IEND are ignored by decoders but count against the limit.
    exact, over = tmp_path / "exact.png", tmp_path / "over.png"
    exact.write_bytes(data + bytes(pad))
    over.write_bytes(data + bytes(pad + 1))
    r = gh("validate", "--max-upload-mb", "1", exact)
    assert r.returncode == 0, str(r)
    assert_error(gh("validate", "--max-upload-mb", "1", over), over, "too_large")


def test_too_large_from_stdin(gh):
    data = I.encoded(I.noise(700, 700), "PNG")
    r = gh("hash", "--max-upload-mb", "1", "-", input=data)
    assert_error(r, "-", "too_large")


def test_env_limits(gh, tmp_path):
    path = tmp_path / "p.png"
    I.save(I.photo_like(80, 60), path)
    assert_error(gh("validate", path, env={"IMAGE_MIN_SIDE": "61"}), path, "out_of_range",
                 "80x60")
    assert_error(gh("validate", path, env={"IMAGE_MAX_SIDE": "79"}), path, "out_of_range")
    assert gh("validate", path, env={"IMAGE_MAX_SIDE": "80"}).returncode == 0
    # the option wins over the environment
    assert gh("validate", "--min-side", "10", path, env={"IMAGE_MIN_SIDE": "61"}).returncode == 0


CLAIMS = [
    ("jpeg-sof0-30000", "huge.jpg", lambda: I.jpeg_claiming(30000, 30000), "30000x30000"),
    ("png-ihdr-30000", "huge.png", lambda: I.png_claiming(30000, 30000), "30000x30000"),
    ("webp-vp8x-16000", "huge.webp", lambda: I.webp_vp8x_claiming(16000, 16000),
     "16000x16000"),
]


@pytest.mark.parametrize("name,data,dims", [c[1:] for c in CLAIMS], ids=[c[0] for c in CLAIMS])
def test_lying_header_is_out_of_range(gh, tmp_path, name, data, dims):
    path = tmp_path / name
    path.write_bytes(data())
    assert path.stat().st_size < 20_000
    assert_error(gh("validate", path), path, "out_of_range", dims)


@pytest.mark.parametrize("name,data,dims", [c[1:] for c in CLAIMS], ids=[c[0] for c in CLAIMS])
def test_lying_header_costs_nothing(run_gymhelper, release_gymhelper, tmp_path, name, data,
                                    dims):
    """Refused from the header: no pixel buffer for the claimed size (30000x30000x3 would be
    2.7 GB), so the process stays small and quick. Measured on the release build only."""
    path = tmp_path / name
    path.write_bytes(data())
    r = run_gymhelper(release_gymhelper, "hash", path, measure=True)
    assert_error(r, path, "out_of_range", dims)
    assert r.maxrss < 200e6, "peak RSS %.0f MB" % (r.maxrss / 1e6)
    assert r.seconds < 2.0, str(r)


def test_measure_sees_a_big_decode(run_gymhelper, release_gymhelper, tmp_path):
    """The measurement above can tell: a full-size provider copy of a 2400x1800 PNG holds the
    13 MB picture in memory, which shows over the ~35 MB of a bare start."""
    src = I.save(I.photo_like(600, 450, 5).resize((2400, 1800)), tmp_path / "big.png",
                 compress_level=1)
    bare = run_gymhelper(release_gymhelper, "version", measure=True)
    big = run_gymhelper(release_gymhelper, "prep", "--size", "10000", "-o", tmp_path / "out.jpg", src,
              measure=True)
    assert bare.returncode == 0 and big.returncode == 0, str(big)
    assert big.maxrss > bare.maxrss + 20e6, "peak RSS %.0f MB, bare start %.0f MB" % (
        big.maxrss / 1e6, bare.maxrss / 1e6)


def test_jpeg_with_early_end_of_image_is_undecodable(gh, tmp_path):
    """Pixel data cut short but closed with an EOI marker (FF D9) is as truncated as a file
    that simply stops: libjpeg only warns ("premature end of data segment") and pads the rest
    with grey, so the bytes must not pass as a whole image."""
    path = tmp_path / "cut.jpg"
    path.write_bytes(I.truncated(photo_bytes("JPEG", 400, 300)) + b"\xff\xd9")
    assert_error(gh("validate", path), path, "undecodable")


def test_jpeg_with_too_little_pixel_data_is_undecodable(gh, tmp_path):
    """A 64x64 JPEG whose SOF0 claims 2000x2000 (inside the limits) holds the data of 1/1000
    of the claimed picture."""
    path = tmp_path / "short.jpg"
    path.write_bytes(I.jpeg_claiming(2000, 2000))
    assert_error(gh("validate", path), path, "undecodable")


def test_missing_file(gh, tmp_path):
    path = tmp_path / "nope.jpg"
    assert_error(gh("hash", path), path, "io_error")
    assert_error(gh("validate", path), path, "io_error")


def test_directory_is_io_error(gh, tmp_path):
    assert_error(gh("validate", tmp_path), tmp_path, "io_error")


@pytest.mark.parametrize("command", ["hash", "validate"])
def test_mixed_list(gh, tmp_path, command):
    good1, bad, good2 = tmp_path / "a.jpg", tmp_path / "b.png", tmp_path / "c.webp"
    I.save(I.photo_like(100, 80, 1), good1)
    bad.write_bytes(b"GIF89a" + bytes(100))
    I.save(I.photo_like(100, 80, 2), good2)
    r = gh(command, good1, bad, good2)
    assert r.returncode == 1, str(r)
    assert len(r.out_lines) == 2, str(r)
    assert str(good1) in r.out_lines[0], str(r)
    assert str(good2) in r.out_lines[1], str(r)
    assert len(r.err_lines) == 1, str(r)
    m = ERROR_LINE.match(r.err_lines[0])
    assert m and m["file"] == str(bad) and m["code"] == "unsupported_type", str(r)


def test_all_bad_still_reports_each(gh, tmp_path):
    paths = []
    for i, data in enumerate([b"", b"hello\n", b"%PDF-1.4"]):
        p = tmp_path / ("f%d" % i)
        p.write_bytes(data)
        paths.append(p)
    r = gh("hash", *paths)
    assert r.returncode == 1 and r.stdout == "", str(r)
    codes = [ERROR_LINE.match(line)["code"] for line in r.err_lines]
    assert codes == ["invalid", "unsupported_type", "unsupported_type"], str(r)


def test_prep_bad_input_writes_nothing(gh, tmp_path):
    src, out = tmp_path / "t.jpg", tmp_path / "out.jpg"
    src.write_bytes(I.truncated(photo_bytes("JPEG")))
    r = gh("prep", "-o", out, src)
    assert_error(r, src, "undecodable")
    assert not out.exists()
