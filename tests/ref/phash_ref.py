# SPDX-License-Identifier: MIT
"""Independent reference of gymhelper's pHash definition, in Pillow + numpy/scipy.

Definition (DESIGN.md; imagehash.phash with hash_size=8, highfreq_factor=4):
  picture as a person sees it (EXIF orientation applied), first frame, alpha flattened on
  white, 16-bit scaled to 8-bit -> ITU-R 601 luma ("L") -> 32x32 Lanczos (ignoring aspect)
  -> 2-D DCT-II (scipy.fftpack, unnormalised) -> top-left 8x8 with DC -> bit = value > median
  of the 64, row-major, first bit the most significant -> 16 hex digits.
The one addition to imagehash: coefficients are rounded to 1/1024 before the median, so that
floating-point noise cannot flip bits where exact values tie (flat images).
"""
import numpy as np
import scipy.fftpack
from PIL import Image, ImageOps

SIDE = 32
LOW = 8


def phash_from_luma(grid):
    """Hash of a 32x32 array of luma values (any numeric type)."""
    a = np.asarray(grid, dtype=np.float64).reshape(SIDE, SIDE)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(a, axis=0), axis=1)
    low = np.round(dct[:LOW, :LOW] * 1024.0) / 1024.0
    med = np.median(low)
    value = 0
    for bit in (low > med).flatten():
        value = (value << 1) | int(bit)
    return value


def to_hex(value):
    return "%016x" % value


def distance(a, b):
    return bin(a ^ b).count("1")


def normalised_luma(img):
    """Oriented, flattened, 8-bit luma ("L") image of a Pillow image."""
    img.seek(0)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.uint32) >> 8  # 16-bit grey to 8-bit
        return Image.fromarray(a.astype(np.uint8), "L")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("L")


def phash_image(img):
    luma = normalised_luma(img).resize((SIDE, SIDE), Image.Resampling.LANCZOS)
    return phash_from_luma(np.asarray(luma))


def phash_file(path):
    with Image.open(path) as img:
        return phash_image(img)


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:]:
        print("%s  %s" % (to_hex(phash_file(p)), p))
