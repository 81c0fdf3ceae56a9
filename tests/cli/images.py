# SPDX-License-Identifier: MIT
"""Test images made at test time with Pillow and numpy: deterministic pictures, files in every
accepted format and mode, EXIF orientation, and hand-crafted headers that lie about the size.

Nothing here is stored in the repository; every function writes into a directory the caller
owns (pytest's tmp_path).
"""
import io
import struct
import zlib

import numpy as np
from PIL import Image

# EXIF orientation -> the transpose that turns the upright picture into the stored pixels
# (the inverse of what a viewer applies; Pillow's ImageOps.exif_transpose applies the forward).
_STORE_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

ORIENTATION_TAG = 0x0112


def _smooth(rng, h, w, scale):
    """Smooth random field in 0..1: bilinear upsampling of a coarse random grid."""
    gh, gw = max(2, h // scale + 2), max(2, w // scale + 2)
    coarse = rng.random((gh, gw))
    img = Image.fromarray((coarse * 255).astype(np.uint8), "L").resize((w, h), Image.BICUBIC)
    return np.asarray(img, dtype=np.float64) / 255.0


def photo_like(w, h, seed=0):
    """An RGB picture with the structure of a photo: lighting gradient, large soft blobs, a few
    hard-edged shapes and a little grain. Same (w, h, seed) -> same pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    angle = rng.uniform(0, 2 * np.pi)
    grad = (np.cos(angle) * xx / w + np.sin(angle) * yy / h + 1) / 2
    out = np.empty((h, w, 3))
    for c in range(3):
        out[..., c] = 0.45 * grad + 0.45 * _smooth(rng, h, w, max(4, min(w, h) // 4))
    for _ in range(int(rng.integers(2, 6))):  # shapes
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.08, 0.3) * min(w, h)
        colour = rng.random(3)
        if rng.random() < 0.5:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        else:
            mask = (abs(xx - cx) < r) & (abs(yy - cy) < r * rng.uniform(0.3, 1.0))
        out[mask] = 0.3 * out[mask] + 0.7 * colour
    out += rng.normal(0, 0.01, out.shape)
    return Image.fromarray((np.clip(out, 0, 1) * 255).round().astype(np.uint8), "RGB")


def gradient(w, h, horizontal=True):
    a = np.linspace(0, 255, w if horizontal else h)
    a = np.tile(a, (h, 1)) if horizontal else np.tile(a[:, None], (1, w))
    return Image.fromarray(a.round().astype(np.uint8), "L").convert("RGB")


def checkerboard(w, h, cell):
    yy, xx = np.mgrid[0:h, 0:w]
    a = (((xx // cell) + (yy // cell)) % 2 * 255).astype(np.uint8)
    return Image.fromarray(a, "L").convert("RGB")


def noise(w, h, seed=0):
    """Uncorrelated RGB noise: incompressible, for byte-limit tests."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def save(img, path, fmt=None, **kw):
    """Saves img to path (format from the name unless fmt), returns path."""
    fmt = fmt or {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF",
                  "bmp": "BMP", "tif": "TIFF", "tiff": "TIFF"}[str(path).rsplit(".", 1)[-1]]
    if fmt == "JPEG":
        kw.setdefault("quality", 95)
    if fmt == "WEBP":
        kw.setdefault("quality", 95)
    img.save(path, fmt, **kw)
    return path


def stored_for_orientation(upright, orientation):
    """The stored pixels that a viewer shows as `upright` under this EXIF orientation."""
    t = _STORE_FOR_ORIENTATION[orientation]
    return upright if t is None else upright.transpose(t)


def exif_bytes(orientation):
    ex = Image.Exif()
    ex[ORIENTATION_TAG] = orientation
    return ex.tobytes()


def save_oriented(upright, path, orientation, fmt=None, **kw):
    """Saves the picture `upright` so that it is stored turned, with an EXIF orientation tag
    telling a viewer how to turn it back."""
    return save(stored_for_orientation(upright, orientation), path, fmt,
                exif=exif_bytes(orientation), **kw)


def save_animated_webp(frames, path, duration=100):
    frames[0].save(path, "WEBP", save_all=True, append_images=frames[1:], duration=duration,
                   loop=0, lossless=True)
    return path


def encoded(img, fmt, **kw):
    buf = io.BytesIO()
    if fmt == "JPEG":
        kw.setdefault("quality", 95)
    img.save(buf, fmt, **kw)
    return buf.getvalue()


# --- crafted headers -----------------------------------------------------------------------

def jpeg_claiming(width, height, real=64):
    """A real real x real baseline JPEG whose SOF0 header is patched to claim width x height."""
    data = bytearray(encoded(photo_like(real, real, 1), "JPEG", quality=80))
    i = 2
    while True:  # walk the marker segments (ITU T.81 B.1.1)
        assert data[i] == 0xFF, "lost in the JPEG markers"
        marker, seg_len = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker == 0xC0:
            struct.pack_into(">HH", data, i + 5, height, width)  # after length and precision
            return bytes(data)
        i += 2 + seg_len


def png_claiming(width, height, real=64):
    """A real PNG whose IHDR is patched to claim width x height, with the CRC fixed."""
    data = bytearray(encoded(photo_like(real, real, 2), "PNG"))
    assert data[12:16] == b"IHDR"
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def _chunk(tag, payload):
    pad = b"\0" if len(payload) % 2 else b""
    return tag + struct.pack("<I", len(payload)) + payload + pad


def webp_vp8x_claiming(width, height, real=64):
    """An extended-format WebP whose VP8X canvas claims width x height (at most 16383),
    wrapping the VP8 bitstream of a real real x real lossy WebP with its frame header patched
    to match."""
    simple = encoded(photo_like(real, real, 3), "WEBP", quality=80)
    assert simple[12:16] == b"VP8 ", simple[12:16]
    vp8 = bytearray(simple[12:])  # the VP8 chunk, header included
    # The key frame header (RFC 6386 9.1) after the 8-byte chunk header: 3-byte frame tag,
    # start code 9d 01 2a, then 14-bit width and height (top 2 bits: scaling, left 0).
    # libwebp insists that a still image's frame fills the VP8X canvas, so both must lie.
    assert vp8[11:14] == b"\x9d\x01\x2a"
    struct.pack_into("<HH", vp8, 14, width, height)
    vp8 = bytes(vp8)
    vp8x = _chunk(b"VP8X", bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little")
                  + (height - 1).to_bytes(3, "little"))
    body = b"WEBP" + vp8x + vp8
    return b"RIFF" + struct.pack("<I", len(body)) + body


def truncated(data, fraction=0.6):
    return data[:int(len(data) * fraction)]


def corrupt_jpeg_header(data):
    """Keeps SOI and the first marker byte (so it still sniffs as JPEG) and garbles the rest
    of the headers: no decoder can find a frame header."""
    rng = np.random.default_rng(7)
    garbage = rng.integers(0, 256, 600, dtype=np.uint8).tobytes().replace(b"\xFF", b"\x00")
    return data[:3] + b"\x01" + garbage + data[600:]


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]  # (x0, y0, dx, dy) of the seven passes


def png_raw(array, interlace=False):
    """PNG bytes of a uint8 or uint16 array, (h, w) grey, (h, w, 2) grey+alpha, (h, w, 3) RGB or
    (h, w, 4) RGBA, written by hand: Pillow cannot write 16-bit colour or Adam7 interlacing."""
    a = np.asarray(array)
    depth = 16 if a.dtype == np.uint16 else 8
    a = a.astype(">u2" if depth == 16 else np.uint8)
    h, w = a.shape[:2]
    channels = 1 if a.ndim == 2 else a.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]

    def scanlines(sub):
        rows = sub.reshape(sub.shape[0], -1)
        return b"".join(b"\0" + row.tobytes() for row in rows)  # filter type 0 (none)

    if interlace:
        raw = b"".join(scanlines(a[y0::dy, x0::dx]) for x0, y0, dx, dy in ADAM7
                       if a[y0::dy, x0::dx].size)
    else:
        raw = scanlines(a)

    def chunk(tag, payload):
        return (struct.pack(">I", len(payload)) + tag + payload
                + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def png16(array):
    return png_raw(np.asarray(array, dtype=np.uint16))


def to16(img):
    """uint16 array of a Pillow image (8-bit values v become v * 257)."""
    return np.asarray(img).astype(np.uint16) * 257


def with_alpha(img, seed=0):
    """RGBA copy of img with a real transparency pattern: a transparent disc and a soft ramp."""
    w, h = img.size
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = np.clip(xx * 255.0 / max(1, w - 1), 40, 255)
    alpha[(xx - w / 3) ** 2 + (yy - h / 2) ** 2 < (min(w, h) / 5) ** 2] = 0
    out = img.convert("RGBA")
    out.putalpha(Image.fromarray(alpha.astype(np.uint8), "L"))
    return out


def smoothed_noise(w, h, seed=0, sigma=4.0):
    """Gaussian-filtered RGB noise, stretched to the full range."""
    from scipy.ndimage import gaussian_filter
    rng = np.random.default_rng(seed)
    a = gaussian_filter(rng.random((h, w, 3)), sigma=(sigma, sigma, 0))
    a = (a - a.min()) / max(1e-9, a.max() - a.min())
    return Image.fromarray((a * 255).round().astype(np.uint8), "RGB")


def shapes(w, h, seed=0):
    """Hard-edged discs and boxes on a flat background (drawing-like, no gradients)."""
    from PIL import ImageDraw
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 256, 3)))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 8))):
        x0, x1 = sorted(rng.integers(0, w, 2))
        y0, y1 = sorted(rng.integers(0, h, 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)((x0, y0, x1 + 1, y1 + 1), fill=fill)
    return img


def blurred(img, radius):
    from PIL import ImageFilter
    return img.filter(ImageFilter.GaussianBlur(radius))


def diagonal_gradient(w, h, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.stack([(xx / w + yy / h) / 2, 1 - xx / w, yy / h], axis=-1)
    out = out[..., rng.permutation(3)]
    return Image.fromarray((out * 255).round().astype(np.uint8), "RGB")
