"""Wanted notices over Chalice's test client and moto: create, upload through the presigned POST's key, the photo
pipeline (S3 notification → queue → function), the public gallery, capture, and tips that quote a notice."""

from __future__ import annotations

import base64
import io
import json
import os
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from PIL import Image

from tests.helpers import post_whatsapp, tips
from tests.officers import ADMIN, OFFICER_JHARIA, SUPERVISOR, json_of

NOTICE = {
    "name": "Raju 'Kalia' Mahto",
    "aliases": ["Kalia", "कालिया"],
    "areas": ["jharia", "sindri"],
    "crime": {"en": "Armed robbery of a coal trader", "hi": "कोयला व्यापारी से सशस्त्र लूट"},
    "description": {"en": "About 30, thin, scar on the left cheek", "hi": "लगभग 30 वर्ष, दुबला, बाएँ गाल पर निशान"},
    "reward": {"en": "₹25,000 for information", "hi": "सूचना देने पर ₹25,000"},
}


def create(officer_api, **overrides: Any) -> dict[str, Any]:
    response = officer_api.post("/wanted", groups=SUPERVISOR, body={**NOTICE, **overrides})
    assert response.status_code == 201, response.body
    return json_of(response)


def jpeg_with_gps(size: tuple[int, int] = (1600, 1200)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "EOS 1500D"  # Model
    exif[0x0131] = "Police photo desk v2"  # Software
    exif.get_ifd(0x8825).update({1: "N", 2: (23.0, 44.0, 52.0), 3: "E", 4: (86.0, 25.0, 1.0)})
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge picture: a decompression bomb is a few bytes that decode to gigabytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def upload(aws, dispatcher, created: dict[str, Any], data: bytes, content_type: str = "image/jpeg") -> None:
    """What the browser's POST to the presigned URL stores (moto does not check POST policies), then the pipeline."""
    key = created["upload"]["fields"]["key"]
    bucket = aws.physical["MediaBucket"]["Ref"]
    boto3.client("s3", region_name="ap-south-1").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    dispatcher.drain()


def public_object(url: str) -> bytes:
    bucket = os.environ["PUBLIC_MEDIA_BUCKET_NAME"]
    key = urlsplit(url).path.split(f"/{bucket}/", 1)[-1].lstrip("/")
    return boto3.client("s3", region_name="ap-south-1").get_object(Bucket=bucket, Key=key)["Body"].read()


def public_keys() -> list[str]:
    response = boto3.client("s3", region_name="ap-south-1").list_objects_v2(
        Bucket=os.environ["PUBLIC_MEDIA_BUCKET_NAME"]
    )
    return [item["Key"] for item in response.get("Contents", [])]


# --- create -------------------------------------------------------------------------------------------------------


def test_a_supervisor_creates_a_numbered_active_notice_with_an_upload(officer_api):
    first, second = create(officer_api), create(officer_api, name="Second Person")
    assert (first["number"], second["number"]) == ("W-0001", "W-0002")
    assert first["status"] == "active" and set(first) == {"id", "number", "status", "upload"}
    shown = json_of(officer_api.get(f"/wanted/{first['id']}"))
    assert shown["number"] == "W-0001" and shown["photo_url"] is None and shown["thumbnail_url"] is None
    assert shown["crime"] == NOTICE["crime"] and shown["aliases"] == NOTICE["aliases"]


def test_the_upload_is_a_presigned_post_whose_policy_fixes_key_size_type_and_expiry(officer_api, aws):
    created = create(officer_api)
    upload_ = created["upload"]
    fields = upload_["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": fields["key"]} in conditions
    assert {"bucket": aws.physical["MediaBucket"]["Ref"]} in conditions
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
    assert ["starts-with", "$Content-Type", "image/"] in conditions
    assert fields["key"].startswith(f"uploads/wanted/{created['id']}/")
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 < expires.timestamp() - time.time() <= 600
    assert upload_["url"].startswith("https://") and fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


BAD_NOTICES = [
    ({"name": ""}, "name is required"),
    ({"areas": []}, "areas must be a non-empty list"),
    ({"areas": ["gotham"]}, "unknown police area ids 'gotham'"),
    ({"crime": {"en": "theft"}}, 'crime must be {"en": "...", "hi": "..."}'),
    ({"description": {"en": "x", "hi": ""}}, "description.hi is required"),
    ({"reward": "lots"}, "reward must be"),
    ({"aliases": "Kalia"}, "aliases must be a list"),
    ({"height": "5 ft"}, "unknown field 'height'"),
    ({"name": "x" * 121}, "at most 120"),
]


@pytest.mark.parametrize(("override", "reason"), BAD_NOTICES, ids=[r for _, r in BAD_NOTICES])
def test_a_bad_notice_is_400_naming_the_problem(officer_api, override, reason):
    response = officer_api.post("/wanted", groups=SUPERVISOR, body={**NOTICE, **override})
    assert response.status_code == 400
    assert reason in json_of(response)["error"]
    assert json_of(officer_api.get("/wanted"))["notices"] == []


def test_every_problem_is_named_at_once(officer_api):
    body = {key: value for key, value in NOTICE.items() if key not in ("name", "crime")}
    error = json_of(officer_api.post("/wanted", groups=SUPERVISOR, body=body))["error"]
    assert "name is required" in error and "crime must be" in error


@pytest.mark.parametrize(("groups", "status"), [(OFFICER_JHARIA, 403), (None, 401)], ids=["officer", "not_signed_in"])
def test_only_supervisors_create_and_change_notices(officer_api, groups, status):
    created = create(officer_api)
    assert officer_api.post("/wanted", groups=groups, body=NOTICE).status_code == status
    patch = officer_api.patch(f"/wanted/{created['id']}", groups=groups, body={"status": "captured"})
    assert patch.status_code == status
    assert officer_api.post(f"/wanted/{created['id']}/photo", groups=groups).status_code == status
    assert json_of(officer_api.get(f"/wanted/{created['id']}"))["status"] == "active"


@pytest.mark.parametrize("wanted_id", ["0b8f4e52-3c1a-4d7e-9a6b-2f5c8d1e7a90", "W-0001"])
def test_an_unknown_notice_is_404(officer_api, wanted_id):
    assert officer_api.get(f"/wanted/{wanted_id}").status_code == 404
    assert officer_api.patch(f"/wanted/{wanted_id}", groups=SUPERVISOR, body={"status": "captured"}).status_code == 404


# --- the photo ----------------------------------------------------------------------------------------------------


def test_a_photo_with_gps_and_camera_exif_is_published_without_any(officer_api, aws, dispatcher):
    created = create(officer_api)
    upload(aws, dispatcher, created, jpeg_with_gps())
    shown = json_of(officer_api.get(f"/wanted/{created['id']}"))
    photo, thumbnail = public_object(shown["photo_url"]), public_object(shown["thumbnail_url"])
    for rendition, longest in ((photo, 1080), (thumbnail, 320)):
        image = Image.open(io.BytesIO(rendition))
        assert image.format == "JPEG" and max(image.size) == longest
        assert not image.getexif() and b"Exif" not in rendition
        assert b"Canon" not in rendition and b"Police photo desk" not in rendition
    assert urlsplit(shown["photo_url"]).scheme in ("http", "https")
    # The upload itself is gone from the private bucket.
    keys = boto3.client("s3", region_name="ap-south-1").list_objects_v2(
        Bucket=aws.physical["MediaBucket"]["Ref"], Prefix="uploads/"
    )
    assert keys.get("KeyCount", 0) == 0


REJECTED = [
    ("not_an_image", b"%PDF-1.7\n" + b"0" * 2000, "application/pdf", "not a JPEG, PNG or WebP image"),
    ("gif", b"GIF89a" + b"\x00" * 200, "image/gif", "not a JPEG, PNG or WebP image"),
    ("too_large", b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024), "image/jpeg", "at most 10485760"),
    ("too_many_pixels", png_header_claiming(9000, 9000), "image/png", "image too large: 9000×9000 pixels"),
    ("decompression_bomb", png_header_claiming(60000, 60000), "image/png", "image too large"),
    ("too_small", None, "image/jpeg", "image too small or too narrow"),
    ("truncated", jpeg_with_gps()[:600], "image/jpeg", "image could not be decoded"),
]


@pytest.mark.parametrize(("case", "data", "content_type", "reason"), REJECTED, ids=[r[0] for r in REJECTED])
def test_what_the_policy_would_let_through_is_still_checked(
    officer_api, aws, dispatcher, case, data, content_type, reason
):
    created = create(officer_api)
    if data is None:
        data = jpeg_with_gps((120, 90))
    upload(aws, dispatcher, created, data, content_type)
    notice = json_of(officer_api.get(f"/wanted/{created['id']}", groups=SUPERVISOR))
    assert notice["photo_status"] == "awaiting_upload" and reason in notice["photo_problem"]
    assert notice["photo_url"] is None
    assert public_keys() == []


def test_a_new_photo_replaces_the_old_one(officer_api, aws, dispatcher):
    created = create(officer_api)
    upload(aws, dispatcher, created, jpeg_with_gps())
    old = json_of(officer_api.get(f"/wanted/{created['id']}"))["photo_url"]
    again = json_of(officer_api.post(f"/wanted/{created['id']}/photo", groups=SUPERVISOR))
    upload(aws, dispatcher, again, jpeg_with_gps((800, 1000)))
    new = json_of(officer_api.get(f"/wanted/{created['id']}"))["photo_url"]
    assert new != old and len(public_keys()) == 2
    assert Image.open(io.BytesIO(public_object(new))).size == (800, 1000)  # never enlarged


def test_an_upload_nobody_asked_for_is_not_published(officer_api, aws, dispatcher):
    created = create(officer_api)
    stale = dict(created)
    json_of(officer_api.post(f"/wanted/{created['id']}/photo", groups=SUPERVISOR))  # a newer upload is expected
    upload(aws, dispatcher, stale, jpeg_with_gps())
    assert json_of(officer_api.get(f"/wanted/{created['id']}"))["photo_url"] is None
    assert public_keys() == []


# --- the public gallery and the end of a notice ----------------------------------------------------------------------


def test_the_gallery_lists_active_notices_newest_first_by_area(officer_api, aws, dispatcher, fixed_clock, monkeypatch):
    from datetime import timedelta

    older = create(officer_api, areas=["jharia"])
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(minutes=5))
    newer = create(officer_api, areas=["sindri"])
    response = officer_api.get("/wanted")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert [n["id"] for n in json_of(response)["notices"]] == [newer["id"], older["id"]]
    assert [n["id"] for n in json_of(officer_api.get("/wanted?area_id=jharia"))["notices"]] == [older["id"]]
    assert officer_api.get("/wanted?area_id=gotham").status_code == 400
    for notice in json_of(officer_api.get("/wanted"))["notices"]:
        assert "created_by" not in notice and "upload" not in notice and "photo_problem" not in notice


@pytest.mark.parametrize("status", ["captured", "withdrawn"])
def test_a_closed_notice_leaves_the_gallery_and_its_photos_are_deleted(officer_api, aws, dispatcher, status):
    created = create(officer_api)
    upload(aws, dispatcher, created, jpeg_with_gps())
    assert len(public_keys()) == 2
    response = officer_api.patch(f"/wanted/{created['id']}", groups=SUPERVISOR, body={"status": status})
    assert response.status_code == 200 and json_of(response)["status"] == status
    assert json_of(officer_api.get("/wanted"))["notices"] == []
    assert public_keys() == []
    shown = json_of(officer_api.get(f"/wanted/{created['id']}"))
    # A withdrawn notice may have named the wrong person: the public learns only that it is closed.
    assert shown == {"id": created["id"], "number": created["number"], "status": status}
    full = json_of(officer_api.get(f"/wanted/{created['id']}", groups=SUPERVISOR))
    assert full["name"] == NOTICE["name"] and full["photo_url"] is None
    again = officer_api.patch(f"/wanted/{created['id']}", groups=SUPERVISOR, body={"name": "Someone else"})
    assert again.status_code == 400 and f"the notice is {status}" in json_of(again)["error"]


def test_edits_and_closing_are_audited(officer_api, aws):
    created = create(officer_api)
    officer_api.patch(
        f"/wanted/{created['id']}", groups=SUPERVISOR, body={"reward": {"en": "₹50,000", "hi": "₹50,000"}}
    )
    officer_api.patch(f"/wanted/{created['id']}", groups=SUPERVISOR, body={"status": "captured"})
    entries = json_of(officer_api.get("/audit", groups=ADMIN))["entries"]
    actions = [(e["action"], e["detail"].get("wanted_id")) for e in entries]
    assert actions.count(("wanted_updated", created["id"])) == 2 and ("wanted_created", created["id"]) in actions
    closing = next(e for e in entries if e["action"] == "wanted_updated" and "status" in e["detail"]["changes"])
    assert closing["detail"]["changes"]["status"] == ["active", "captured"]


@pytest.mark.parametrize("body", [{"status": "active"}, {"status": "caught"}, {}, {"areas": []}])
def test_a_bad_change_is_400(officer_api, body):
    created = create(officer_api)
    assert officer_api.patch(f"/wanted/{created['id']}", groups=SUPERVISOR, body=body).status_code == 400


# --- tips that quote a notice ---------------------------------------------------------------------------------------


def test_a_message_quoting_the_notice_number_links_its_tip(officer_api, api, aws, dispatcher):
    created = create(officer_api)
    assert created["number"] == "W-0001"
    assert post_whatsapp(api, "quotes_wanted_notice").status_code == 200  # "w0001 वाला आदमी …"
    dispatcher.drain()
    [tip] = tips(aws)
    assert tip["wanted_id"]["S"] == created["id"]
    listed = json_of(officer_api.get(f"/tips?wanted_id={created['id']}", groups=SUPERVISOR))["tips"]
    assert [t["id"] for t in listed] == [tip["tip_id"]["S"]] and listed[0]["wanted_id"] == created["id"]


def test_officers_link_tips_by_hand_and_filter_by_notice(officer_api, aws):
    from tests.functional.test_officer_api import seed_tip

    created = create(officer_api)
    tip_id = seed_tip(area_id="jharia")
    other = seed_tip(area_id="jharia")
    linked = officer_api.patch(f"/tips/{tip_id}", groups=OFFICER_JHARIA, body={"wanted_id": created["id"]})
    assert linked.status_code == 200 and json_of(linked)["wanted_id"] == created["id"]
    mine = json_of(officer_api.get(f"/tips?wanted_id={created['id']}", groups=OFFICER_JHARIA))["tips"]
    assert [t["id"] for t in mine] == [tip_id] and other not in [t["id"] for t in mine]
    moved = officer_api.patch(f"/tips/{tip_id}", groups=SUPERVISOR, body={"area_id": "sindri"})
    assert json_of(moved)["wanted_id"] == created["id"]
    assert json_of(officer_api.get(f"/tips?wanted_id={created['id']}", groups=OFFICER_JHARIA))["tips"] == []
    unlinked = officer_api.patch(f"/tips/{tip_id}", groups=SUPERVISOR, body={"wanted_id": None})
    assert json_of(unlinked)["wanted_id"] is None
    assert json_of(officer_api.get(f"/tips?wanted_id={created['id']}", groups=SUPERVISOR))["tips"] == []
    bad = officer_api.patch(
        f"/tips/{tip_id}", groups=SUPERVISOR, body={"wanted_id": "0b8f4e52-3c1a-4d7e-9a6b-2f5c8d1e7a90"}
    )
    assert bad.status_code == 400 and "is not a wanted notice" in json_of(bad)["error"]


def test_a_second_notification_of_a_rejected_upload_changes_nothing(officer_api, aws, dispatcher):
    from shared import wanted_photos

    created = create(officer_api)
    upload(aws, dispatcher, created, b"GIF89a" + b"\x00" * 200, "image/gif")
    assert wanted_photos.process_upload(created["upload"]["fields"]["key"]) == "not_expected"  # S3 said it twice
    notice = json_of(officer_api.get(f"/wanted/{created['id']}", groups=SUPERVISOR))
    assert notice["photo_problem"] == "not a JPEG, PNG or WebP image"


def test_renditions_a_crashed_replacement_left_behind_go_when_the_notice_is_captured(officer_api, aws, dispatcher):
    created = create(officer_api)
    upload(aws, dispatcher, created, jpeg_with_gps())
    bucket = os.environ["PUBLIC_MEDIA_BUCKET_NAME"]
    leftover = f"wanted/{created['id']}/older-upload-1080.jpg"
    boto3.client("s3", region_name="ap-south-1").put_object(Bucket=bucket, Key=leftover, Body=b"old")
    officer_api.patch(f"/wanted/{created['id']}", groups=SUPERVISOR, body={"status": "captured"})
    assert public_keys() == []


def test_an_officers_token_on_the_public_route_still_gets_the_public_notice(officer_api):
    created = create(officer_api)
    response = officer_api.get(f"/wanted/{created['id']}", groups=OFFICER_JHARIA)
    assert response.status_code == 200 and "photo_problem" not in json_of(response)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("W-0042 वाला आदमी", 42),
        ("saw w0042 today", 42),
        ("notice W 0042?", 42),
        ("(W-0042)", 42),
        ("W-2 form", None),
        ("I filled my W2 form", None),
        ("see w3.org", None),
        ("size W 32 jeans", None),
        ("Ward W 12", None),
        ("W-1,000", None),
        ("W\n0042", None),
        ("BW-0042", None),
        ("W-00421234", None),
    ],
)
def test_a_notice_is_quoted_only_as_it_is_displayed(text, quoted):
    from shared.wanted import NUMBER_IN_TEXT

    found = [int(match.group(1)) for match in NUMBER_IN_TEXT.finditer(text)]
    assert found == ([quoted] if quoted else [])
