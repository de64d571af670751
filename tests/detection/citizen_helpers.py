"""What the citizen report tests share: a gateway on a fresh database (both engines) with the citizen
worker's classifier and fetcher set for tests, images made with Pillow, and multipart forms."""
from __future__ import annotations

import io
from pathlib import Path

import aiohttp
from aiohttp import web
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
AD_IMAGE_TEXT = "강남 출장안마 24시 후불 카톡 mimi22"


def png(text: str = AD_IMAGE_TEXT, size: tuple[int, int] = (640, 60)) -> bytes:
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), 28) if FONT.exists() else None
    d.text((10, 14), text, font=font, fill=(20, 20, 20))
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()


def jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF names a place (GPS) and a camera: what a phone photo carries."""
    img = Image.new("RGB", (320, 200), (200, 220, 240))
    ImageDraw.Draw(img).text((10, 10), "광고 사진", fill=(0, 0, 0))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel X"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (37.0, 30.0, 12.5)
    gps[3], gps[4] = "E", (127.0, 2.0, 33.1)
    b = io.BytesIO()
    img.save(b, "JPEG", exif=exif.tobytes())
    return b.getvalue()


def form(fields: dict[str, str], files: list[tuple[str, bytes, str]] = ()) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for k, v in fields.items():
        data.add_field(k, v)
    for name, content, ctype in files:
        data.add_field("screenshots", content, filename=name, content_type=ctype)
    return data


def fake_site(pages: dict[str, str]) -> web.Application:
    """A local 'website' the reported links point to (the safe fetcher is allowed 127.0.0.1 in tests only)."""
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        body = pages.get(request.path)
        if body is None:
            return web.Response(status=404, text="없는 페이지")
        return web.Response(text=body, content_type="text/html")
    app.router.add_get("/{tail:.*}", page)
    return app
