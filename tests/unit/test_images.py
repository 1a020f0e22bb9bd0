"""Officers' copy of a photo: upright, re-encoded as JPEG, with no EXIF, XMP, ICC, comment or text chunk left."""

from __future__ import annotations

import io
import random
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from shared.errors import MediaRejectedError
from shared.images import CleanImage, strip_metadata

ROOT = Path(__file__).resolve().parents[2]

# Strings planted in the fixtures' metadata: none of them may appear anywhere in a cleaned JPEG.
MAKE = "SamparkTestMake"
MODEL = "Informant Phone 7"
GPS_DATE = "2024:05:01"
XMP_SECRET = "xmp-secret-home-address"
COMMENT = "jpeg-comment-secret"
PNG_TEXT = "png-text-secret"
PNG_ITXT = "png-itxt-secret"
XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:description="{XMP_SECRET}"/>'
    "</rdf:RDF></x:xmpmeta>"
).encode()
SECRETS = [s.encode() for s in (MAKE, MODEL, GPS_DATE, XMP_SECRET, COMMENT, PNG_TEXT, PNG_ITXT)]

# What Pillow reports for a JPEG with nothing but its JFIF APP0 segment.
JFIF_ONLY_INFO = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "progressive", "progression"}

TAG_MAKE, TAG_MODEL, TAG_ORIENTATION, IFD_GPS = 0x010F, 0x0110, 0x0112, 0x8825
APP0, APP15, COM, SOS, EOI = 0xE0, 0xEF, 0xFE, 0xDA, 0xD9


# --- fixtures built with Pillow ------------------------------------------------------------------------------


def _exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[TAG_MAKE] = MAKE
    exif[TAG_MODEL] = MODEL
    if orientation is not None:
        exif[TAG_ORIENTATION] = orientation
    gps = exif.get_ifd(IFD_GPS)  # https://www.cipa.jp/std/documents/e/DC-008-2012_E.pdf §4.6.6
    gps[1], gps[2] = "N", (23.0, 47.0, 30.5)  # GPSLatitudeRef, GPSLatitude: Dhanbad
    gps[3], gps[4] = "E", (86.0, 25.0, 12.0)  # GPSLongitudeRef, GPSLongitude
    gps[0x1D] = GPS_DATE  # GPSDateStamp
    return exif


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _save(image: Image.Image, image_format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **params)
    return out.getvalue()


def _photo(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """Noise, so JPEG data is large enough to truncate in the middle of the scan."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return image.convert(mode)


def _jpeg_with_everything() -> bytes:
    return _save(_photo(), "JPEG", exif=_exif(), xmp=XMP, comment=COMMENT.encode(), icc_profile=_icc())


def _png_with_text_and_alpha() -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", PNG_TEXT)
    text.add_itxt("Description", PNG_ITXT, lang="en", tkey="Description")
    return _save(_photo(mode="RGBA"), "PNG", pnginfo=text, exif=_exif(), icc_profile=_icc())


def _webp_with_exif() -> bytes:
    return _save(_photo(), "WEBP", exif=_exif(), xmp=XMP, icc_profile=_icc())


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    # https://www.w3.org/TR/png-3/#5Chunk-layout: length, type, data, CRC-32 over type and data.
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width by height, with an empty IDAT: there are no pixels to decode."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, deflate, no filter, no interlace
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"") + _png_chunk(b"IEND", b"")


# --- helpers ---------------------------------------------------------------------------------------------------


def _segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """Every marker segment of a JPEG up to its first scan, as (marker, payload)."""
    # https://www.w3.org/Graphics/JPEG/itu-t81.pdf B.1.1: 0xFF, marker, then a big-endian length counting itself.
    assert jpeg[:2] == b"\xff\xd8", "no SOI"
    segments, pos = [], 2
    while True:
        assert jpeg[pos] == 0xFF, f"no marker at {pos}"
        marker = jpeg[pos + 1]
        if marker in (SOS, EOI):
            return segments
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        segments.append((marker, jpeg[pos + 4 : pos + 2 + length]))
        pos += 2 + length


def _assert_clean(clean: CleanImage) -> None:
    # Pillow's view.
    with Image.open(io.BytesIO(clean.data)) as decoded:
        assert decoded.format == "JPEG"
        assert decoded.mode == "RGB"
        assert decoded.size == (clean.width, clean.height)
        assert not decoded.getexif()
        assert set(decoded.info) <= JFIF_ONLY_INFO
        for key in ("exif", "icc_profile", "comment", "xmp"):
            assert key not in decoded.info
    # The bytes' view: only APP0 JFIF among the application segments, no comment segment, no planted string.
    markers = {marker: payload for marker, payload in _segments(clean.data)}
    assert [m for m in markers if APP0 <= m <= APP15] == [APP0]
    assert markers[APP0].startswith(b"JFIF\x00")
    assert COM not in markers
    assert b"Exif\x00\x00" not in clean.data
    assert XMP_NAMESPACE not in clean.data
    assert b"ICC_PROFILE" not in clean.data
    for secret in SECRETS:
        assert secret not in clean.data


# --- metadata is gone ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(_jpeg_with_everything, id="jpeg_exif_gps_xmp_comment_icc"),
        pytest.param(_png_with_text_and_alpha, id="png_text_itxt_exif_icc_alpha"),
        pytest.param(_webp_with_exif, id="webp_exif_xmp_icc"),
    ],
)
def test_strip_metadata_leaves_nothing_but_jfif(build: Callable[[], bytes]) -> None:
    # GIVEN a photo carrying GPS, make/model and other metadata
    original = build()
    assert any(secret in original for secret in SECRETS)
    # WHEN it is cleaned
    clean = strip_metadata(original)
    # THEN the result is a plain JPEG of the same size with no metadata at all
    assert clean.content_type == "image/jpeg"
    assert (clean.width, clean.height) == (64, 48)
    _assert_clean(clean)


def test_fixture_jpeg_really_carries_what_is_stripped() -> None:
    # GIVEN the richest fixture, read back by Pillow (so the test above is not passing vacuously)
    with Image.open(io.BytesIO(_jpeg_with_everything())) as original:
        exif = original.getexif()
        # THEN it has every kind of metadata the cleaner must remove
        assert (exif[TAG_MAKE], exif[TAG_MODEL]) == (MAKE, MODEL)
        assert exif.get_ifd(IFD_GPS)[2] == (23.0, 47.0, 30.5)
        assert original.info["xmp"] == XMP
        assert original.info["comment"] == COMMENT.encode()
        assert original.info["icc_profile"] == _icc()


# --- orientation, modes, size ----------------------------------------------------------------------------------


def _left_red_right_blue() -> Image.Image:
    image = Image.new("RGB", (40, 20), "red")
    image.paste((0, 0, 255), (20, 0, 40, 20))
    return image


@pytest.mark.parametrize(
    ("orientation", "size", "red_at", "blue_at"),
    [
        pytest.param(None, (40, 20), (5, 10), (35, 10), id="none"),
        pytest.param(1, (40, 20), (5, 10), (35, 10), id="1_upright"),
        pytest.param(3, (40, 20), (35, 10), (5, 10), id="3_upside_down"),
        # 6: the stored picture must be turned 90° clockwise, so its left half ends on top.
        pytest.param(6, (20, 40), (10, 5), (10, 35), id="6_rotate_cw"),
        pytest.param(8, (20, 40), (10, 35), (10, 5), id="8_rotate_ccw"),
    ],
)
def test_strip_metadata_applies_exif_orientation(
    orientation: int | None, size: tuple[int, int], red_at: tuple[int, int], blue_at: tuple[int, int]
) -> None:
    # GIVEN a 40×20 JPEG, left half red and right half blue, with an EXIF Orientation tag
    original = _save(_left_red_right_blue(), "JPEG", quality=95, exif=_exif(orientation))
    # WHEN it is cleaned
    clean = strip_metadata(original)
    # THEN the pixels are turned as the tag said, and the tag itself is gone
    assert (clean.width, clean.height) == size
    with Image.open(io.BytesIO(clean.data)) as decoded:
        assert not decoded.getexif()
        red, blue = decoded.getpixel(red_at), decoded.getpixel(blue_at)
    assert red[0] > 200 and red[2] < 60
    assert blue[2] > 200 and blue[0] < 60


def _palette_with_transparent_index() -> bytes:
    image = Image.new("P", (64, 48), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])  # index 0 black, index 1 red
    image.paste(0, (0, 0, 32, 48))  # left half index 0, which is transparent
    return _save(image, "PNG", transparency=0)


def _rgba_left_transparent(image_format: str) -> bytes:
    image = Image.new("RGBA", (64, 48), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 32, 48))
    return _save(image, image_format, lossless=True) if image_format == "WEBP" else _save(image, image_format)


@pytest.mark.parametrize(
    "original",
    [
        pytest.param(_rgba_left_transparent("PNG"), id="png_rgba"),
        pytest.param(_rgba_left_transparent("WEBP"), id="webp_rgba"),
        pytest.param(_palette_with_transparent_index(), id="png_palette_transparent_index"),
    ],
)
def test_strip_metadata_flattens_transparency_onto_white(original: bytes) -> None:
    # GIVEN a picture whose left half is fully transparent black and right half opaque red
    # WHEN it is cleaned
    clean = strip_metadata(original)
    # THEN the transparent half is white, not black, and the opaque half keeps its colour
    with Image.open(io.BytesIO(clean.data)) as decoded:
        assert min(decoded.getpixel((8, 24))) > 240
        red = decoded.getpixel((56, 24))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    _assert_clean(clean)


@pytest.mark.parametrize(
    ("mode", "image_format"),
    [
        pytest.param("L", "JPEG", id="jpeg_grey"),
        pytest.param("CMYK", "JPEG", id="jpeg_cmyk"),
        pytest.param("L", "PNG", id="png_grey"),
        pytest.param("LA", "PNG", id="png_grey_alpha"),
        pytest.param("P", "PNG", id="png_palette"),
        pytest.param("I;16", "PNG", id="png_16_bit_grey"),
        pytest.param("1", "PNG", id="png_bilevel"),
        pytest.param("RGB", "WEBP", id="webp_rgb"),
    ],
)
def test_strip_metadata_turns_every_mode_into_rgb_jpeg(mode: str, image_format: str) -> None:
    # GIVEN a picture in some colour mode
    original = _save(_photo(mode=mode), image_format)
    # WHEN it is cleaned
    clean = strip_metadata(original)
    # THEN it is an RGB JPEG of the same size
    assert (clean.width, clean.height) == (64, 48)
    _assert_clean(clean)


@pytest.mark.parametrize(
    ("image_format", "size", "max_side", "expected"),
    [
        pytest.param("JPEG", (1600, 1200), 200, (200, 150), id="jpeg_landscape"),
        pytest.param("JPEG", (300, 900), 200, (67, 200), id="jpeg_portrait"),
        pytest.param("PNG", (400, 100), 100, (100, 25), id="png_wide"),
        pytest.param("WEBP", (120, 90), 100, (100, 75), id="webp"),
        pytest.param("PNG", (80, 60), 100, (80, 60), id="never_enlarged"),
        pytest.param("JPEG", (100, 100), 100, (100, 100), id="exactly_max_side"),
    ],
)
def test_strip_metadata_scales_down_to_max_side_keeping_aspect_ratio(
    image_format: str, size: tuple[int, int], max_side: int, expected: tuple[int, int]
) -> None:
    # GIVEN a picture of some size
    original = _save(_photo(size), image_format)
    # WHEN it is cleaned with a longest-side limit
    clean = strip_metadata(original, max_side=max_side)
    # THEN its longest side is at most the limit and its proportions are kept
    assert (clean.width, clean.height) == expected
    _assert_clean(clean)


def test_strip_metadata_scales_after_turning_upright() -> None:
    # GIVEN a 1600×800 JPEG that EXIF says to turn a quarter
    original = _save(_photo((1600, 800)), "JPEG", exif=_exif(orientation=6))
    # WHEN it is cleaned to at most 400 pixels a side
    clean = strip_metadata(original, max_side=400)
    # THEN it is portrait, its longest side 400
    assert (clean.width, clean.height) == (200, 400)


# --- rejections ------------------------------------------------------------------------------------------------

NOT_AN_IMAGE = "not a JPEG, PNG or WebP image"
UNDECODABLE = "image could not be decoded"
PILLOW_BOMB = "image too large: over Pillow's decompression bomb limit"
_JPEG = _save(_photo((256, 256)), "JPEG")


@pytest.mark.parametrize(
    ("data", "max_pixels", "reason"),
    [
        pytest.param(_save(_photo(), "GIF"), 40_000_000, NOT_AN_IMAGE, id="gif"),
        pytest.param(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", 40_000_000, NOT_AN_IMAGE, id="pdf"),
        pytest.param(random.Random(1).randbytes(4096), 40_000_000, NOT_AN_IMAGE, id="random_bytes"),
        pytest.param(b"", 40_000_000, NOT_AN_IMAGE, id="empty"),
        pytest.param(_save(_photo(), "BMP"), 40_000_000, NOT_AN_IMAGE, id="bmp"),
        pytest.param(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32), 40_000_000, NOT_AN_IMAGE, id="wav_in_riff"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", 40_000_000, NOT_AN_IMAGE, id="svg"),
        pytest.param(_JPEG[: len(_JPEG) // 2], 40_000_000, UNDECODABLE, id="truncated_jpeg"),
        pytest.param(_JPEG[:3], 40_000_000, UNDECODABLE, id="jpeg_magic_only"),
        pytest.param(b"\xff\xd8\xff" + random.Random(2).randbytes(512), 40_000_000, UNDECODABLE, id="jpeg_magic_junk"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(64), 40_000_000, UNDECODABLE, id="png_signature_junk"),
        pytest.param(_png_header_only(64, 48), 40_000_000, UNDECODABLE, id="png_without_pixels"),
        pytest.param(b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32), 40_000_000, UNDECODABLE, id="webp_junk"),
        # Header-only PNGs: had anything been decoded, the reason would be UNDECODABLE (there are no pixels).
        pytest.param(_png_header_only(8000, 6000), 40_000_000, "image too large: 8000×6000 pixels", id="over_limit"),
        pytest.param(_png_header_only(300, 200), 10_000, "image too large: 300×200 pixels", id="over_own_limit"),
        pytest.param(_png_header_only(10_000, 10_000), 40_000_000, PILLOW_BOMB, id="pillow_bomb_warning"),
        pytest.param(_png_header_only(50_000, 50_000), 40_000_000, PILLOW_BOMB, id="pillow_bomb_error_50000"),
    ],
)
def test_strip_metadata_rejects(data: bytes, max_pixels: int, reason: str) -> None:
    # GIVEN bytes that are not a safe JPEG, PNG or WebP
    # WHEN they are cleaned
    with pytest.raises(MediaRejectedError) as raised:
        strip_metadata(data, max_pixels=max_pixels)
    # THEN they are refused, for good, with the reason
    assert raised.value.reason == reason


def test_strip_metadata_does_not_rely_on_pillows_global_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN Pillow's own decompression-bomb check switched off for the whole process
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    # WHEN a header claims 50000×50000 pixels
    with pytest.raises(MediaRejectedError) as raised:
        strip_metadata(_png_header_only(50_000, 50_000))
    # THEN the limit of strip_metadata still refuses it before decoding
    assert raised.value.reason == "image too large: 50000×50000 pixels"


def test_strip_metadata_accepts_exactly_max_pixels() -> None:
    # GIVEN a picture of exactly the pixel limit
    original = _save(_photo((100, 50)), "PNG")
    # WHEN it is cleaned  THEN it passes
    assert strip_metadata(original, max_pixels=5_000).width == 100


# --- cold start ------------------------------------------------------------------------------------------------


def test_importing_images_does_not_import_pillow() -> None:
    # GIVEN a fresh interpreter  WHEN it imports shared.images
    code = "import sys, shared.images; print('PIL' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    # THEN Pillow is not loaded: only strip_metadata loads it
    assert result.stdout.strip() == "False"
