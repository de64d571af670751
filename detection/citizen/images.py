"""Screenshots people upload: the type is read from the bytes (never the file name or the browser's
claim), sizes and pixel counts are capped before decoding, and every image is decoded and re-encoded by
Pillow into a fresh image, so EXIF (GPS, camera, time), XMP, ICC profiles and anything appended to the
file are gone. What is kept is the pixels, upright."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from assistant.core.errors import DomainError

MAX_FILES = 5
MAX_FILE_BYTES = 5 * 1024 * 1024    # one phone screenshot is well under 3 MB
MAX_TOTAL_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 30_000_000             # a tall scrolling capture fits; a decompression bomb does not
FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


class UploadError(DomainError):
    status = 400
    MESSAGES = {
        "too_many_files": f"사진은 {MAX_FILES}장까지 올릴 수 있어요.",
        "file_too_large": f"사진 한 장은 {MAX_FILE_BYTES // (1024 * 1024)}MB 이하여야 해요.",
        "total_too_large": f"사진은 모두 합쳐 {MAX_TOTAL_BYTES // (1024 * 1024)}MB 이하로 올려 주세요.",
        "bad_image_type": "사진은 PNG, JPEG, WEBP 파일만 올릴 수 있어요.",
        "bad_image": "사진 파일을 읽을 수 없어요. 다른 사진으로 다시 올려 주세요.",
        "image_too_big": "사진의 가로·세로 크기가 너무 커요. 화면 캡처 사진을 올려 주세요.",
    }


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    kind: str  # png | jpeg | webp
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The image type from the file's first bytes (magic numbers), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def clean(data: bytes) -> CleanImage:
    """Validate one upload and return it re-encoded without metadata; raises UploadError."""
    if len(data) > MAX_FILE_BYTES:
        raise UploadError("file_too_large", status=413)
    kind = sniff(data)
    if kind is None:
        raise UploadError("bad_image_type", status=415)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[FORMATS[kind]])
            if img.width * img.height > MAX_PIXELS:  # checked from the header, before decoding
                raise UploadError("image_too_big", status=413)
            img.load()
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError("image_too_big", status=413) from None
    except Exception:  # truncated, corrupt, or not what its first bytes say
        raise UploadError("bad_image") from None
    img = ImageOps.exif_transpose(img)  # keep the picture upright once the orientation tag is gone
    mode = "RGBA" if img.mode in ("RGBA", "LA", "P", "PA") and kind != "jpeg" else "RGB"
    pixels = img.convert(mode)
    fresh = Image.frombytes(mode, pixels.size, pixels.tobytes())  # a new image: no info, no EXIF, no ICC
    out = io.BytesIO()
    if kind == "jpeg":
        fresh.save(out, "JPEG", quality=90)
    elif kind == "webp":
        fresh.save(out, "WEBP", quality=90)
    else:
        fresh.save(out, "PNG", optimize=False)
    return CleanImage(out.getvalue(), kind, fresh.width, fresh.height)


def clean_all(files: list[bytes]) -> list[CleanImage]:
    """Every upload checked before anything is stored: one bad file refuses the whole report."""
    if len(files) > MAX_FILES:
        raise UploadError("too_many_files", status=413)
    if sum(len(f) for f in files) > MAX_TOTAL_BYTES:
        raise UploadError("total_too_large", status=413)
    return [clean(f) for f in files]
