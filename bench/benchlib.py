# SPDX-License-Identifier: MIT
"""What the benchmark scripts share: the report's look (tables, sections, target lines), the
machine and source description of its header, and how a photo becomes a test image."""
import os
import platform
import subprocess
import sys

from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Output


def table(headers, rows, align=None):
    """Markdown-style pipe table; align is a string of 'l'/'r' per column."""
    rows = [[str(c) for c in r] for r in rows]
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def fmt(cells):
        return "| " + " | ".join(c.rjust(w) if a == "r" else c.ljust(w)
                                 for c, w, a in zip(cells, widths, align)) + " |"

    lines = [fmt(headers)]
    lines.append("|" + "|".join((("-" * (w + 1)) + ":" if a == "r" else "-" * (w + 2))
                                for w, a in zip(widths, align)) + "|")
    lines.extend(fmt(r) for r in rows)
    print("\n".join(lines))
    sys.stdout.flush()


def section(title):
    print()
    print("## " + title)
    print()
    sys.stdout.flush()


def target(ok, text):
    print("%s: %s" % ("target met" if ok else "target missed", text))


# ---------------------------------------------------------------------------------------------
# Header


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def source_commit():
    """The checkout's short commit, marked when the working tree has uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", "-C", ROOT] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, errors="replace", timeout=30)

    head = git("rev-parse", "--short", "HEAD")
    commit = head.stdout.strip() if head.returncode == 0 else "(no commit)"
    dirty = git("status", "--porcelain")
    if dirty.returncode == 0 and dirty.stdout.strip():
        commit += " + uncommitted changes"
    return commit


# ---------------------------------------------------------------------------------------------
# Images


def as_rgb(img):
    """Upright RGB, transparency flattened onto white."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def center_crop_to_aspect(img, w, h):
    sw, sh = img.size
    if sw * h > sh * w:  # too wide
        nw = max(1, round(sh * w / h))
        x = (sw - nw) // 2
        return img.crop((x, 0, x + nw, sh))
    nh = max(1, round(sw * h / w))
    y = (sh - nh) // 2
    return img.crop((0, y, sw, y + nh))
