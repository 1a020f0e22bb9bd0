"""Officers' copy of a tip's photo: re-encoded from its pixels alone, so no metadata survives.

A phone photo's EXIF can hold the GPS position where it was taken (often the informant's home), the time, the
phone's make, model and serial number; XMP, ICC profiles and JPEG comments can carry more of the same. Officers
get this clean copy; the original stays untouched in the private bucket as evidence.

Pillow is imported inside `strip_metadata`, never at module level: the API Lambda imports `shared` on every cold
start and must not pay for Pillow it does not use.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.errors import MediaRejectedError

if TYPE_CHECKING:
    from PIL import Image

CONTENT_TYPE = "image/jpeg"
JPEG_QUALITY = 85
_WHITE = (255, 255, 255)

# Recognised by magic bytes only, never by a declared type. Values are Pillow's format names.
# JPEG: SOI + the first marker; PNG: its 8-byte signature; WebP: a RIFF container of form type "WEBP".
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class CleanImage:
    data: bytes  # a baseline JFIF JPEG: no EXIF, XMP, ICC profile or comment
    content_type: str  # always "image/jpeg"
    width: int
    height: int


def strip_metadata(data: bytes, *, max_pixels: int = 40_000_000, max_side: int | None = None) -> CleanImage:
    """A JPEG of the picture in `data` (JPEG, PNG or WebP) the right way up, with no metadata at all.

    Refuses, with MediaRejectedError, anything else, any image whose header claims more than `max_pixels`
    (checked before decoding; Pillow's own decompression-bomb limit applies too) and anything that does not
    decode. With `max_side`, the longest side is scaled down to at most that many pixels.
    """
    image_format = _sniff(data)
    from PIL import Image

    try:
        # Pillow warns (DecompressionBombWarning) above Image.MAX_IMAGE_PIXELS and raises DecompressionBombError
        # above twice that, both in Image.open: make the warning an error here instead of touching the global.
        # https://pillow.readthedocs.io/en/stable/reference/Image.html#PIL.Image.open
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[image_format]) as opened:
                # Image.open is lazy: it has read the header only, so the size is known before any decoding.
                width, height = opened.size
                if width * height > max_pixels:
                    raise MediaRejectedError(f"image too large: {width}×{height} pixels")
                return _clean(opened, max_side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise MediaRejectedError("image too large: over Pillow's decompression bomb limit") from error
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        # Truncated or corrupt data (UnidentifiedImageError is an OSError).
        raise MediaRejectedError("image could not be decoded") from error


def _sniff(data: bytes) -> str:
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise MediaRejectedError("not a JPEG, PNG or WebP image")


def _clean(opened: Image.Image, max_side: int | None) -> CleanImage:
    from PIL import Image, ImageOps

    if max_side is not None and opened.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the result is to be small anyway: far less memory.
        # https://pillow.readthedocs.io/en/stable/reference/Image.html#PIL.Image.Image.draft
        opened.draft(None, (max_side, max_side))
    # Turn the pixels the way the EXIF Orientation tag says, since that tag is about to be dropped.
    # https://pillow.readthedocs.io/en/stable/reference/ImageOps.html#PIL.ImageOps.exif_transpose
    upright = ImageOps.exif_transpose(opened)
    # A fresh canvas from Image.new has an empty `info`: nothing of the source (EXIF, XMP, ICC, comment, text
    # chunks) can reach save(). JpegImagePlugin would otherwise reuse `info["comment"]` of the image it saves.
    # https://pillow.readthedocs.io/en/stable/handbook/image-file-formats.html#jpeg-saving
    canvas = Image.new("RGB", upright.size, _WHITE)
    if upright.has_transparency_data:
        # Flatten onto white: RGBA, LA, and palette images with a transparent index (convert handles the palette).
        rgba = upright.convert("RGBA")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
    else:
        canvas.paste(upright.convert("RGB"))
    if max_side is not None:
        canvas.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # keeps the aspect ratio, only shrinks
    out = io.BytesIO()
    # No exif=, icc_profile=, xmp= or comment=: the JPEG gets only libjpeg's JFIF APP0 segment.
    canvas.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return CleanImage(data=out.getvalue(), content_type=CONTENT_TYPE, width=canvas.width, height=canvas.height)
