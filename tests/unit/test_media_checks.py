"""Media safety checks: the type comes from magic bytes only, and downloads go only to allowed public hosts."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from shared import media
from shared.errors import MediaRejectedError, MediaUnavailableError
from tests.conftest import EVENTS

PHOTO_JPG = (EVENTS / "media" / "photo.jpg").read_bytes()
PHOTO_PNG = (EVENTS / "media" / "photo.png").read_bytes()


def _pad(head: bytes) -> bytes:
    return head + bytes(32)


# --- sniff ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "content_type", "extension"),
    [
        pytest.param(PHOTO_JPG[:16], "image/jpeg", "jpg", id="jpeg_real_photo"),
        pytest.param(_pad(b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00"), "image/jpeg", "jpg", id="jpeg_exif"),
        pytest.param(PHOTO_PNG[:16], "image/png", "png", id="png_real_photo"),
        pytest.param(_pad(b"RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp", "webp", id="webp"),
        pytest.param(_pad(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"), "video/mp4", "mp4", id="mp4_mp42"),
        pytest.param(_pad(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00"), "video/mp4", "mp4", id="mp4_isom"),
        pytest.param(_pad(b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x00"), "video/3gpp", "3gp", id="3gp"),
        pytest.param(_pad(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00"), "audio/mp4", "m4a", id="m4a"),
        pytest.param(_pad(b"OggS\x00\x02\x00\x00"), "audio/ogg", "ogg", id="ogg_opus_voice_note"),
        pytest.param(_pad(b"#!AMR\n"), "audio/amr", "amr", id="amr"),
        pytest.param(_pad(b"\xff\xf1\x50\x80\x02\x1f\xfc"), "audio/aac", "aac", id="aac_adts_mpeg4"),
        pytest.param(_pad(b"\xff\xf9\x50\x80\x02\x1f\xfc"), "audio/aac", "aac", id="aac_adts_mpeg2"),
        pytest.param(_pad(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3"), "application/pdf", "pdf", id="pdf"),
    ],
)
def test_sniff_accepts_listed_types(head: bytes, content_type: str, extension: str) -> None:
    media_type = media.sniff(head)
    assert (media_type.content_type, media_type.extension) == (content_type, extension)


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(_pad(b"<!DOCTYPE html><html><script>"), id="html"),
        pytest.param(_pad(b"<svg xmlns='http://www.w3.org/2000/svg'>"), id="svg"),
        pytest.param(_pad(b"GIF89a\x01\x00\x01\x00"), id="gif"),
        pytest.param(_pad(b"\x7fELF\x02\x01\x01\x00"), id="elf"),
        pytest.param(_pad(b"MZ\x90\x00\x03\x00"), id="windows_exe"),
        pytest.param(b"", id="empty"),
        pytest.param(_pad(b"PK\x03\x04\x14\x00\x06\x00"), id="zip"),
        pytest.param(_pad(b"RIFF\x24\x00\x00\x00WAVEfmt "), id="wav_in_riff"),
        pytest.param(_pad(b"ID3\x04\x00\x00\x00\x00"), id="mp3_id3"),
        pytest.param(_pad(b"\xff\xfb\x90\x64"), id="mp3_frame"),
        pytest.param(b"\xff\xd8", id="truncated_jpeg"),
        pytest.param(_pad(b"%!PS-Adobe-3.0"), id="postscript"),
        pytest.param(_pad(b'{"url":"https://lookaside.fbsbx.com/"}'), id="json_error_page"),
    ],
)
def test_sniff_rejects_everything_else(head: bytes) -> None:
    with pytest.raises(MediaRejectedError) as raised:
        media.sniff(head)
    assert raised.value.reason == "unsupported_type"


# --- check_allowed_host ---------------------------------------------------------------------------------------

GRAPH_API_URL = "http://127.0.0.1:9999/v25.0"
PUBLIC_IP = "157.240.16.52"  # a Meta address


class FakeDns:
    """Stands in for socket.getaddrinfo: answers from a table, records lookups, never touches the network."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        self.lookups.append((host, port))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in self.answers[host]
        ]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    monkeypatch.setenv("GRAPH_API_URL", GRAPH_API_URL)
    fake = FakeDns({})
    monkeypatch.setattr("shared.media.socket.getaddrinfo", fake)
    return fake


@pytest.mark.parametrize(
    ("url", "answers"),
    [
        pytest.param("http://127.0.0.1:9999/v25.0/1587392046152734", {}, id="graph_media_lookup"),
        pytest.param("http://127.0.0.1:9999/media/1587392046152734", {}, id="graph_host_other_path"),
        pytest.param(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3",
            {"lookaside.fbsbx.com": [PUBLIC_IP]},
            id="lookaside_public",
        ),
        pytest.param(
            "https://LOOKASIDE.FBSBX.COM/whatsapp_business/attachments/?mid=1",
            {"lookaside.fbsbx.com": [PUBLIC_IP]},
            id="lookaside_uppercase",
        ),
        pytest.param(
            "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg?oe=6790ABCD",
            {"scontent.xx.fbcdn.net": [PUBLIC_IP, "2a03:2880:f12f:83:face:b00c:0:25de"]},
            id="fbcdn_public_v4_and_v6",
        ),
        pytest.param("https://mmg.whatsapp.net/v/t62.7118-24/x.enc", {"mmg.whatsapp.net": [PUBLIC_IP]}, id="mmg"),
    ],
)
def test_allowed_hosts(dns: FakeDns, url: str, answers: dict[str, list[str]]) -> None:
    # GIVEN DNS answers with public addresses only
    dns.answers.update(answers)

    # WHEN / THEN nothing is raised
    assert media.check_allowed_host(url) is None
    # AND the Graph API URL is trusted as configured, without a lookup; platform hosts are resolved on 443
    assert dns.lookups == [(host, 443) for host in answers]


@pytest.mark.parametrize(
    ("url", "answers"),
    [
        pytest.param("http://127.0.0.1:9998/v25.0/1", {}, id="graph_host_other_port"),
        pytest.param("http://127.0.0.1/v25.0/1", {}, id="graph_host_default_port"),
        pytest.param("https://127.0.0.1:9999/v25.0/1", {}, id="graph_host_other_scheme"),
        pytest.param("http://localhost:9999/v25.0/1", {}, id="localhost_same_port"),
        pytest.param("http://localhost/", {}, id="localhost"),
        pytest.param("http://169.254.169.254/latest/meta-data/iam/security-credentials/", {}, id="instance_metadata"),
        pytest.param("https://169.254.169.254/", {}, id="instance_metadata_https"),
        pytest.param("https://10.0.0.5/media/1", {}, id="private_ip"),
        pytest.param("https://[::1]/media/1", {}, id="ipv6_loopback"),
        pytest.param("https://evil.example.com/lookaside.fbsbx.com/x", {}, id="other_host"),
        pytest.param("https://lookaside.fbsbx.com.evil.example.com/x", {}, id="allowed_name_as_prefix"),
        pytest.param("https://notfbcdn.net/x.jpg", {}, id="allowed_name_as_suffix_without_dot"),
        pytest.param("https://lookaside.fbsbx.com@169.254.169.254/", {}, id="userinfo_trick"),
        pytest.param("http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1", {}, id="lookaside_over_http"),
        pytest.param("ftp://lookaside.fbsbx.com/x", {}, id="ftp"),
        pytest.param("file:///etc/passwd", {}, id="file_url"),
        pytest.param("", {}, id="empty"),
        pytest.param(
            "https://lookaside.fbsbx.com/x", {"lookaside.fbsbx.com": ["127.0.0.1"]}, id="lookaside_resolves_loopback"
        ),
        pytest.param(
            "https://lookaside.fbsbx.com/x", {"lookaside.fbsbx.com": ["10.1.2.3"]}, id="lookaside_resolves_private"
        ),
        pytest.param(
            "https://lookaside.fbsbx.com/x",
            {"lookaside.fbsbx.com": ["169.254.169.254"]},
            id="lookaside_resolves_link_local",
        ),
        pytest.param(
            "https://lookaside.fbsbx.com/x",
            {"lookaside.fbsbx.com": [PUBLIC_IP, "10.1.2.3"]},
            id="lookaside_resolves_public_and_private",
        ),
        pytest.param(
            "https://lookaside.fbsbx.com/x", {"lookaside.fbsbx.com": ["::ffff:127.0.0.1"]}, id="lookaside_mapped_v6"
        ),
        pytest.param("https://lookaside.fbsbx.com/x", {"lookaside.fbsbx.com": []}, id="lookaside_no_address"),
    ],
)
def test_refused_hosts(dns: FakeDns, url: str, answers: dict[str, list[str]]) -> None:
    # GIVEN DNS answers
    dns.answers.update(answers)

    # WHEN / THEN the URL is refused for good
    with pytest.raises(MediaRejectedError) as raised:
        media.check_allowed_host(url)
    assert raised.value.reason == "host_not_allowed"
    # AND only allowed platform names were ever looked up
    assert {host for host, _ in dns.lookups} <= set(answers)


def test_unresolvable_platform_host_is_retryable_not_rejected(dns: FakeDns) -> None:
    # GIVEN DNS that cannot answer for lookaside right now
    # WHEN / THEN the download is to be retried, not refused for good
    with pytest.raises(MediaUnavailableError):
        media.check_allowed_host("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1")
    assert dns.lookups == [("lookaside.fbsbx.com", 443)]
