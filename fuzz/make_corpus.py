# SPDX-License-Identifier: MIT
"""Writes the seed corpus for validate_fuzz: small images of every kind the upload path must
handle, and broken ones. Run once with /usr/bin/python3; the output is committed."""
import io
import os
import sys

import numpy as np
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "validate")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def card(w, h, mode="RGB"):
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                    (x ^ y) & 255], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB").convert(mode)


def save(name, img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    data = b.getvalue()
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    return data


def put(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


jpg = save("rgb.jpg", card(64, 48), "JPEG", quality=80)
save("progressive.jpg", card(60, 60), "JPEG", progressive=True)
save("grey.jpg", card(64, 64, "L"), "JPEG")
save("cmyk.jpg", card(64, 64, "CMYK"), "JPEG")
exif = Image.Exif()
exif[0x0112] = 6
save("orient6.jpg", card(64, 32), "JPEG", exif=exif.tobytes())
png = save("rgb.png", card(64, 48), "PNG")
save("rgba.png", card(64, 48, "RGBA"), "PNG")
save("la.png", card(50, 50, "LA"), "PNG")
save("palette.png", card(64, 64).convert("P"), "PNG")
save("grey16.png", Image.fromarray((rng.integers(0, 65535, (40, 40))).astype(np.uint16)), "PNG")
save("interlaced.png", card(32, 32), "PNG", optimize=False)
webp = save("lossy.webp", card(64, 48), "WEBP", quality=70)
save("lossless.webp", card(64, 48, "RGBA"), "WEBP", lossless=True)
frames = [card(48, 48), card(48, 48).rotate(90), card(48, 48).rotate(180)]
save("animated.webp", frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
put("truncated.jpg", jpg[: len(jpg) * 6 // 10])
put("truncated.png", png[: len(png) * 6 // 10])
put("truncated.webp", webp[: len(webp) * 6 // 10])
put("empty.bin", b"")
put("gif.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
put("html.html", b"<!doctype html><html><body>not an image</body></html>")
put("soi_only.jpg", b"\xff\xd8\xff")
put("png_sig_only.png", b"\x89PNG\r\n\x1a\n")
put("riff_webp_hdr.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 \x00\x00\x00\x00")
