#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates phash_gym.tsv: the reference pHash (tests/ref/phash_ref.py) of a fixed sample of
the gym photos, to compare gymhelper against without running the reference on every test.

Sample (deterministic): every 32nd row of labels.tsv (rows 0, 32, 64, ... after the header)
plus every PNG and WebP photo, in labels.tsv order. Paths are relative to gym-photos/.

    /usr/bin/python3 tests/golden/make_phash_gym.py [GYM_PHOTOS_DIR]

Only rerun this on purpose (new photos, or a deliberate change of the definition): the test
suite checks that the reference still reproduces every stored hash exactly.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "ref"))
import phash_ref  # noqa: E402

DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "gym-photos"
OUT = HERE / "phash_gym.tsv"
STEP = 32


def sample(photos):
    """Paths (relative to photos) of the sample, in labels.tsv order."""
    rows = (photos / "labels.tsv").read_text().splitlines()
    header, rows = rows[0].split("\t"), [r.split("\t") for r in rows[1:] if r]
    path_col, format_col = header.index("path"), header.index("format")
    return [r[path_col] for i, r in enumerate(rows)
            if i % STEP == 0 or r[format_col] in ("png", "webp")]


def main():
    photos = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PHOTOS
    lines = ["path\treference_hex"]
    for rel in sample(photos):
        lines.append("%s\t%s" % (rel, phash_ref.to_hex(phash_ref.phash_file(photos / rel))))
    OUT.write_text("\n".join(lines) + "\n")
    print("wrote %d hashes to %s" % (len(lines) - 1, OUT))


if __name__ == "__main__":
    main()
