"""Deterministic images for the card-face records (reference §9.1, §9.2): 1-bit greyscale PNGs
of the name, address, security code and My Number, and a small synthetic greyscale face photo
in JPEG 2000 (JP2 container). All are fictional renderings; nothing here is a real person.
"""

from __future__ import annotations

import hashlib
import io
import logging
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    logger.debug("no Japanese font found; images use Pillow's default font")
    return ImageFont.load_default()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def text_png(text: str, width: int, height: int, size: int = 20) -> bytes:
    """Render ``text`` black on white into a 1-bit greyscale PNG, wrapping long lines."""
    img = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(img)
    font = _font(size)
    per_line = max(1, width // size)
    lines = [text[i : i + per_line] for i in range(0, len(text), per_line)] or [""]
    for row, line in enumerate(lines[: max(1, height // (size + 2))]):
        draw.text((2, 1 + row * (size + 2)), line, fill=0, font=font)
    return _png(img)


def photo_jp2(seed: str, width: int = 120, height: int = 160) -> bytes:
    """Return a deterministic synthetic greyscale 'face' as JPEG 2000 (JP2 box format)."""
    h = hashlib.sha256(seed.encode()).digest()
    img = Image.new("L", (width, height), 200 + h[0] % 40)
    draw = ImageDraw.Draw(img)
    cx, cy = width // 2, height // 2 - 6
    rx, ry = 36 + h[1] % 8, 48 + h[2] % 8
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=150 + h[3] % 50)  # head
    draw.rectangle((cx - 50, height - 30, cx + 50, height), fill=60 + h[4] % 40)  # shoulders
    hair = 20 + h[5] % 60
    draw.chord((cx - rx, cy - ry, cx + rx, cy + ry // 2), 180, 360, fill=hair)
    eye_y, dx = cy + h[6] % 6 - 2, 14 + h[7] % 4
    for ex in (cx - dx, cx + dx):
        draw.ellipse((ex - 5, eye_y - 3, ex + 5, eye_y + 3), fill=30)
    draw.line((cx, eye_y + 4, cx - 3, eye_y + 18), fill=90, width=2)  # nose
    draw.arc((cx - 14, eye_y + 16, cx + 14, eye_y + 32), 20, 160, fill=40, width=2)  # mouth
    buf = io.BytesIO()
    img.save(buf, format="JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[12])
    return buf.getvalue()
