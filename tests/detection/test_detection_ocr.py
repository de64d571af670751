"""OCR on images the test renders itself (Pillow + NanumGothic): clean, noisy and inverted banners."""
import io
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from detection.classifier.classify import Classifier
from detection.classifier.ocr import ocr_image

FONT = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
pytestmark = pytest.mark.skipif(not FONT.exists() or not shutil.which("tesseract"),
                                reason="needs fonts-nanum and tesseract-ocr-kor")
AD = "강남 출장안마 24시 후불 카톡 mimi22"


def render(text, noise=False, invert=False, seed=1, fmt="PNG") -> bytes:
    r = random.Random(seed)
    bg, fg = ((250, 235, 240), (120, 0, 60)) if noise else ((255, 255, 255), (20, 20, 20))
    if invert:
        bg, fg = (30, 30, 60), (255, 230, 0)
    img = Image.new("RGB", (640, 60), bg)
    d = ImageDraw.Draw(img)
    if noise:  # speckle, scratches, a slight rotation and JPEG artefacts
        for _ in range(1500):
            d.point((r.randrange(640), r.randrange(60)), fill=(r.randrange(256),) * 3)
        for _ in range(6):
            d.line([(r.randrange(640), r.randrange(60)), (r.randrange(640), r.randrange(60))], fill=(180, 180, 180))
    d.text((10, 14), text, font=ImageFont.truetype(str(FONT), 28), fill=fg)
    if noise:
        img = img.rotate(1.5, fillcolor=bg)
        fmt = "JPEG"
    b = io.BytesIO()
    img.save(b, fmt, quality=60)
    return b.getvalue()


def test_clean_image_text(tmp_path):
    p = tmp_path / "ad.png"
    p.write_bytes(render(AD))
    text = ocr_image(str(p))
    assert "출장안마" in text and "mimi22" in text


@pytest.mark.parametrize("kw", [{"noise": True}, {"invert": True}, {"noise": True, "invert": True}])
def test_noisy_images_still_give_the_key_words(kw):
    text = ocr_image(render(AD, **kw))
    assert "안마" in text and "후불" in text


def test_unreadable_image_gives_no_text():
    assert ocr_image(b"not an image") == ""


def test_image_only_ad_is_classified_with_ocr_spans():
    clf = Classifier.load()
    v = clf.classify("오늘 이벤트 안내", [render(AD, noise=True)])
    assert v.category == "outcall" and v.ocr_text
    ocr_rules = [r for r in v.reasons if r["kind"] == "rule" and r.get("source") == "ocr"]
    assert ocr_rules and all(v.ocr_text[r["span"][0]:r["span"][1]] == r["text"] for r in ocr_rules)
    assert clf.classify("오늘 이벤트 안내").category == "none"
