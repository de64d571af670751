"""Text in images (ads hide their wording in pictures) through Tesseract (Debian tesseract-ocr +
tesseract-ocr-kor) via pytesseract; the classifier normalises the result like any post text.

Light clean-up first, because ad images are small, coloured and noisy: grey scale, upscale small
images, a median filter against speckle, autocontrast and a global threshold.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

log = logging.getLogger(__name__)

LANG = "kor+eng"
MIN_HEIGHT = 30       # x4 = image height below which we upscale (Tesseract likes ~30 px text)
CONFIG = "--oem 1 --psm 6"  # LSTM engine; one uniform block of text (banners, screenshots)


def _open(image: str | bytes | Path) -> Image.Image:
    if isinstance(image, (bytes, bytearray)):
        return Image.open(io.BytesIO(image))
    return Image.open(Path(image))


def _otsu(hist: list[int]) -> int:
    """The grey level that best separates text from background (Otsu's method)."""
    total = sum(hist)
    sum_all = sum(i * h for i, h in enumerate(hist))
    w0 = s0 = 0.0
    best, level = -1.0, 128
    for t in range(256):
        w0 += hist[t]
        if w0 == 0 or w0 == total:
            continue
        s0 += t * hist[t]
        m0, m1 = s0 / w0, (sum_all - s0) / (total - w0)
        between = w0 * (total - w0) * (m0 - m1) ** 2
        if between > best:
            best, level = between, t
    return level


def prepare(img: Image.Image) -> Image.Image:
    g = ImageOps.exif_transpose(img).convert("L")
    g = g.filter(ImageFilter.MedianFilter(3))  # before upscaling, while speckles are 1 pixel
    g = ImageOps.autocontrast(g, cutoff=1)
    if g.height < MIN_HEIGHT * 4:
        scale = max(2, (MIN_HEIGHT * 4) // max(1, g.height))
        g = g.resize((g.width * scale, g.height * scale), Image.LANCZOS)
    level = _otsu(g.histogram())
    g = g.point(lambda v: 255 if v > level else 0)
    # Dark text on a light background is what Tesseract expects: invert mostly-dark images.
    hist = g.histogram()
    if hist[0] > hist[255]:
        g = ImageOps.invert(g)
    return g


def ocr_image(image: str | bytes | Path) -> str:
    import pytesseract

    try:
        img = _open(image)
        img.load()
    except Exception as e:  # unreadable image: no text from it, the post is still classified
        log.warning("OCR: cannot open image (%s)", type(e).__name__)
        return ""
    text = pytesseract.image_to_string(prepare(img), lang=LANG, config=CONFIG)
    return " ".join(text.split())


def ocr_images(images: Sequence[str | bytes | Path]) -> str:
    return "\n".join(t for t in (ocr_image(i) for i in images) if t)
