# SPDX-License-Identifier: MIT
"""CLIP's tokenizer (src/clip/tokenizer.c) against the independent Python port of
simple_tokenizer in tests/ref/clip_tokenizer_ref.py, on the real vocabulary
(../shared/data/clip/bpe_simple_vocab_16e6.txt.gz): a few hundred varied strings (punctuation,
numbers, contractions, accents, Greek final sigma, CJK, emoji, invalid UTF-8, very long texts)
must give the same ids, loaded from the .gz and from vocab.json + merges.txt written from it.
Texts reach tests/unit/clip/clip_tokenize as raw bytes, NUL-separated, under release and
ASan/UBSan builds."""
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ref"))
import clip_tokenizer_ref as ref  # noqa: E402
from drivers import unit_driver  # noqa: E402

REPO = Path(__file__).resolve().parent.parent.parent
BPE_GZ = REPO.parent / "shared" / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz"

HANDPICKED = [
    "a photo of a cat", "", "   ", "A Photo Of A CAT", "bench press", "Leg-press machine!!",
    "it's", "IT'S", "they're here, we've gone, I'm sure you'll say he'd", "don't won't can't",
    "'s 't 're 've 'm 'll 'd", "'''", "x'sy", "!!'s", "rock'n'roll",
    "3.14159", "1,000,000 reps", "2x10kg @ 80%", "v2.0-beta", "²³¹ ½ ⅓ Ⅻ", "٣٤٥ ४५६",
    "café naïve résumé", "Ærø ØRESUND ß straße", "ÉCOLE", "İstanbul", "ǅemal ǈ", "ſtraße",
    "ΟΔΟΣ ΣΟΦΟΣ Σ", "ΌΣΟΣ.", "αΣ' bΣ", "Привет, мир", "Ελληνικά",
    "健身房的哑铃", "ダンベルを持ち上げる", "덤벨 운동", "ไทยไม่มีช่องว่าง", "עברית מימין",
    "العربية", "हिन्दी", "🏋️‍♀️ 💪🏽", "👍👍👍", "emoji🙂inside", "⚠️ careful",
    "<|startoftext|>", "<|endoftext|>", "a <|endoftext|> b", "<|ENDOFTEXT|>",
    "!<|endoftext|>", "<|startoftext|><|endoftext|>", "<|ſtartoftext|>", "<|endoftext|",
    "tab\tnew\nline\r\n end", "non\u00a0breaking\u2003space", "zero\u200bwidth",
    "comb\u0301ining", "x\u0345y", "&amp; &lt;b&gt;", "http://example.com/path?q=1&r=2",
    "snake_case CamelCase kebab-case", "e-mail@example.org", "#hashtag @user",
    "“quotes” ‘single’ «guillemets»", "—dash– ellipsis…", "\x07bell\x1fsep",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ab" * 60, "!" * 50,
    " ".join(["barbell squat rack"] * 40), "word " * 200, "a" * 5000,
]

INVALID_UTF8 = [
    b"\xff", b"abc\x80def", b"\xc3", b"caf\xc3", b"\xe2\x82", b"\xe2\x82x", b"\xed\xa0\x80",
    b"\xf0\x9f\x98", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"ok \xfe\xfe ok",
    b"\xf0\x9f\x92\xaa\xf0\x9f", b"\x80\x80\x80 a photo",
]

PIECES = ["a", "photo", "of", "the", "Gym", "MACHINE", "cable", "row", "'s", "'ll", "'d", "n't",
          "é", "ü", "Σ", "ς", "ж", "中", "文", "の", "🙂", "💪", "1", "23", "4.5", "½", "-", "!",
          "?", "...", ",", "'", '"', "(", ")", "&", "#", "_", "/", " ", " ", " ", "  ", "\t",
          "\n", "İ", "ǅ", "\u0301", "\u00a0", "ᾼ", "Ω", "K", "ſ"]


def random_texts(n, seed=20240601):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        out.append("".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 25))))
    for _ in range(n // 4):  # arbitrary code points, planes 0 and 1
        out.append("".join(chr(rnd.choice([rnd.randint(0x20, 0x2FF), rnd.randint(0x300, 0xD7FF),
                                           rnd.randint(0xE000, 0xFFFD),
                                           rnd.randint(0x10000, 0x1FFFF)]))
                           for _ in range(rnd.randint(1, 12))))
    return out


def all_texts():
    return ([t.encode("utf-8") for t in HANDPICKED] + INVALID_UTF8
            + [t.encode("utf-8") for t in random_texts(300)])


@pytest.fixture(scope="module")
def reference():
    if not BPE_GZ.is_file():
        pytest.fail("%s is missing (../shared/data/clip next to the repository)" % BPE_GZ,
                    pytrace=False)
    return ref.Tokenizer(str(BPE_GZ))


def driver_for(gymhelper):
    return unit_driver(gymhelper, "clip_tokenize")


def tokenize(run_gymhelper, driver, args, texts):
    r = run_gymhelper(driver, *args, input=b"\0".join(texts), timeout=120)
    assert r.returncode == 0, str(r)
    lines = r.out_lines
    assert len(lines) == len(texts), str(r)
    return [[int(x) for x in line.split()] for line in lines]


def test_cat_sentence(gymhelper, run_gymhelper):
    ids = tokenize(run_gymhelper, driver_for(gymhelper), ["--gz", BPE_GZ], [b"a photo of a cat"])
    assert ids == [[49406, 320, 1125, 539, 320, 2368, 49407]]


def test_agrees_with_reference(gymhelper, run_gymhelper, reference):
    texts = all_texts()
    ours = tokenize(run_gymhelper, driver_for(gymhelper), ["--gz", BPE_GZ], texts)
    bad = [(t, o, reference.tokenize(t)) for t, o in zip(texts, ours)
           if o != reference.tokenize(t)]
    assert not bad, "%d of %d texts differ, first: %r\nours %s\nref  %s" % (
        len(bad), len(texts), bad[0][0], bad[0][1], bad[0][2])
    assert len(texts) >= 300
    assert max(len(o) for o in ours) == 77  # long texts were truncated ...
    assert all(o[0] == 49406 and o[-1] == 49407 for o in ours)  # ... keeping the end token


def test_hf_files_give_the_same_ids(gymhelper, run_gymhelper, tmp_path):
    ref.write_hf(str(BPE_GZ), str(tmp_path))
    texts = [t.encode("utf-8") for t in HANDPICKED] + INVALID_UTF8
    driver = driver_for(gymhelper)
    from_gz = tokenize(run_gymhelper, driver, ["--gz", BPE_GZ], texts)
    from_hf = tokenize(run_gymhelper, driver,
                       ["--hf", tmp_path / "vocab.json", tmp_path / "merges.txt"], texts)
    assert from_hf == from_gz


def test_small_caps(gymhelper, run_gymhelper, reference):
    driver = driver_for(gymhelper)
    text = b"a photo of a cat"
    assert tokenize(run_gymhelper, driver, ["--cap", "4", "--gz", BPE_GZ], [text]) == \
        [reference.tokenize(text, context=4)]
    assert tokenize(run_gymhelper, driver, ["--cap", "2", "--gz", BPE_GZ], [text]) == \
        [[49406, 49407]]
    r = run_gymhelper(driver, "--cap", "1", "--gz", BPE_GZ, input=text)
    assert r.out_lines == ["error invalid"], str(r)


def test_bad_files_are_refused(gymhelper, run_gymhelper, tmp_path):
    driver = driver_for(gymhelper)
    (tmp_path / "vocab.json").write_text('{"a": 0, "b": 1}')
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\n")
    (tmp_path / "notjson.json").write_text("[1, 2")
    for args in (["--hf", tmp_path / "vocab.json", tmp_path / "merges.txt"],
                 ["--hf", tmp_path / "notjson.json", tmp_path / "merges.txt"],
                 ["--hf", tmp_path / "missing.json", tmp_path / "merges.txt"],
                 ["--gz", tmp_path / "missing.gz"]):
        r = run_gymhelper(driver, *args, input=b"x")
        assert r.returncode == 1 and "clip_tokenize:" in r.stderr, str(r)
