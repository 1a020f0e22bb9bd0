"""The officers' API over Chalice's test client and moto: sign-in, roles and areas, lists, the tip file, triage,
notes, follow-ups to the informant, the audit trail, and new-tip notices. Every answer is scanned for identifiers."""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from PIL import Image

from shared import media, notices
from shared.domain import Channel, MediaEntry, MediaKind, MessageRecord, NewTip
from shared.references import new_reference
from shared.storage import tips as tip_store
from tests.conftest import FIXED_NOW, load_event
from tests.helpers import officer_copies, post_whatsapp, table_items, tips
from tests.identities import ALL_IDENTIFIERS
from tests.officers import (
    ADMIN,
    NO_ROLE,
    OFFICER_JHARIA,
    OFFICER_SARAIDHELA,
    SUPERVISOR,
    UNSIGNED_HEADERS,
    json_of,
)
from tests.x_helpers import X_IDENTIFIERS

SARAIDHELA = "saraidhela"  # nearest station to the pin in location_pin.json
SUMMARY_FIELDS = {
    "id",
    "reference",
    "status",
    "channel",
    "area_id",
    "received_at",
    "text",
    "media_count",
    "location",
    "assignee",
    "wanted_id",
}


# --- tips to work on ------------------------------------------------------------------------------------------------


def seed_tip(
    *,
    channel: Channel = Channel.WHATSAPP,
    area_id: str | None = SARAIDHELA,
    minutes_ago: float = 0,
    text: str = "चोरी की बाइक / stolen bike",
    public_post: bool = False,
    media_entries: tuple[MediaEntry, ...] = (),
) -> str:
    """A tip written straight through the repository, as the deliveries worker writes it."""
    at = FIXED_NOW - timedelta(minutes=minutes_ago)
    tip_id = str(uuid.uuid4())
    tip_store.open_tip(
        NewTip(
            tip_id=tip_id,
            reference=new_reference(),
            reply_handle=b"sealed-handle-not-for-officers",
            open_until=int(at.timestamp()) + 600,
            area_id=area_id,
            public_post=public_post,
        ),
        MessageRecord(
            message_key=uuid.uuid4().hex,
            channel=channel,
            sender_pseudonym=f"pseudonym-{uuid.uuid4().hex}",
            received_at=at,
            sent_at=at,
            texts=(text,),
            media=media_entries,
        ),
    )
    return tip_id


@pytest.fixture
def sunita_tip(api, dispatcher, fake_graph, aws) -> str:
    """Sunita's Hindi text, then her location pin: one WhatsApp tip in Saraidhela."""
    for fixture in ("text_hindi", "location_pin"):
        assert post_whatsapp(api, fixture).status_code == 200
    dispatcher.drain()
    [tip] = tips(aws)
    assert tip["area_id"]["S"] == SARAIDHELA
    return tip["tip_id"]["S"]


@pytest.fixture
def officer_api(officer_api, aws):
    """conftest's client; after each test, no answer may have held an identifier, a pseudonym or a reply handle."""
    yield officer_api
    answers = "\n".join(officer_api.bodies)
    secrets = set(ALL_IDENTIFIERS) | set(X_IDENTIFIERS)
    for item in table_items(aws):
        if "sender_pseudonym" in item:
            secrets.add(item["sender_pseudonym"]["S"])
        if "reply_handle" in item:
            secrets.add(base64.b64encode(item["reply_handle"]["B"]).decode())
    leaked = sorted(secret for secret in secrets if secret and secret in answers)
    assert leaked == []
    for forbidden_field in ('"sender_pseudonym"', '"reply_handle"', '"pk"', '"sk"'):
        assert forbidden_field not in answers


def audit_entries(aws) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="ap-south-1")
    pages = client.get_paginator("scan").paginate(TableName=aws.physical["AuditTable"]["Ref"])
    return [item for page in pages for item in page["Items"]]


def tip_item(aws, tip_id: str) -> dict[str, Any]:
    return next(item for item in tips(aws) if item["tip_id"]["S"] == tip_id)


# --- 401: every route, every way of not being signed in -------------------------------------------------------------

ROUTES = [
    ("GET", "/tips", None),
    ("GET", "/tips/{tip}", None),
    ("PATCH", "/tips/{tip}", {"status": "in_review"}),
    ("POST", "/tips/{tip}/notes", {"text": "check CCTV"}),
    ("POST", "/tips/{tip}/messages", {"text": "What colour was the car?"}),
    ("GET", "/tips/{tip}/media/k-0/original", None),
    ("GET", "/audit", None),
]


@pytest.mark.parametrize("unsigned", UNSIGNED_HEADERS)
def test_every_route_refuses_a_request_that_is_not_signed_in(officer_api, aws, subtests, unsigned):
    tip_id = seed_tip()
    before = tip_item(aws, tip_id)
    for method, path, body in ROUTES:
        with subtests.test(route=f"{method} {path}"):
            response = officer_api.request(
                method, path.format(tip=tip_id), body=body, headers=UNSIGNED_HEADERS[unsigned]
            )
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert "error" in json_of(response)
    assert tip_item(aws, tip_id) == before
    assert audit_entries(aws) == []
    assert [item for item in table_items(aws) if item["sk"]["S"].startswith(("NOTE#", "FOLLOWUP#"))] == []


def test_a_token_from_a_jwks_that_cannot_be_fetched_is_503_not_401(officer_api, aws, monkeypatch):
    from shared import http, tokens

    def unreachable(method, url, **kwargs):
        raise http.HttpError("connection refused")

    monkeypatch.setattr(http, "request", unreachable)
    tokens.reset()
    response = officer_api.get("/tips", groups=SUPERVISOR)
    assert response.status_code == 503


# --- 403: role and area ---------------------------------------------------------------------------------------------

FORBIDDEN = [
    pytest.param(NO_ROLE, "GET", "/tips", None, id="no_role_lists"),
    pytest.param(OFFICER_JHARIA, "GET", "/tips?area_id=saraidhela", None, id="other_area_lists"),
    pytest.param(OFFICER_SARAIDHELA, "GET", "/tips?area_id=none", None, id="officer_lists_unassigned"),
    pytest.param(OFFICER_JHARIA, "GET", "/tips/{tip}", None, id="other_area_opens"),
    pytest.param(NO_ROLE, "GET", "/tips/{tip}", None, id="no_role_opens"),
    pytest.param(OFFICER_JHARIA, "PATCH", "/tips/{tip}", {"status": "closed"}, id="other_area_triages"),
    pytest.param(OFFICER_JHARIA, "POST", "/tips/{tip}/notes", {"text": "x"}, id="other_area_notes"),
    pytest.param(OFFICER_JHARIA, "POST", "/tips/{tip}/messages", {"text": "x?"}, id="other_area_asks"),
    pytest.param(SUPERVISOR, "GET", "/tips/{tip}/media/k-0/original", None, id="supervisor_original"),
    pytest.param(OFFICER_SARAIDHELA, "GET", "/tips/{tip}/media/k-0/original", None, id="officer_original"),
    pytest.param(OFFICER_SARAIDHELA, "GET", "/audit", None, id="officer_audit"),
    pytest.param(SUPERVISOR, "GET", "/audit", None, id="supervisor_audit"),
    pytest.param(("officer",), "GET", "/tips", None, id="officer_without_area"),
]


@pytest.mark.parametrize(("groups", "method", "path", "body"), FORBIDDEN)
def test_a_signed_in_user_without_the_role_or_area_gets_403_and_nothing_changes(
    officer_api, aws, groups, method, path, body
):
    tip_id = seed_tip(area_id=SARAIDHELA)
    before = tip_item(aws, tip_id)
    response = officer_api.request(method, path.format(tip=tip_id), groups=groups, body=body)
    assert response.status_code == 403, response.body
    assert tip_item(aws, tip_id) == before
    assert audit_entries(aws) == []
    assert [item for item in table_items(aws) if item["sk"]["S"].startswith(("NOTE#", "FOLLOWUP#"))] == []


def test_a_tip_without_an_area_is_for_supervisors_only(officer_api):
    tip_id = seed_tip(area_id=None)
    assert officer_api.get(f"/tips/{tip_id}", groups=OFFICER_SARAIDHELA).status_code == 403
    assert officer_api.get(f"/tips/{tip_id}", groups=SUPERVISOR).status_code == 200
    listed = json_of(officer_api.get("/tips?area_id=none", groups=SUPERVISOR))["tips"]
    assert [tip["id"] for tip in listed] == [tip_id]


# --- 400 and 404 ----------------------------------------------------------------------------------------------------

BAD_LISTS = [
    ("status=open", "status must be one of new, in_review, actioned, closed, spam"),
    ("area_id=gotham", "area_id 'gotham' is not a police area"),
    ("channel=telegram", "channel must be one of"),
    ("since=yesterday", "since must be an ISO 8601 time"),
    ("since=2026-11-28T10:00:00Z&until=2026-11-27T10:00:00Z", "since must not be after until"),
    ("limit=0", "limit must be a whole number from 1 to 100"),
    ("limit=101", "limit must be a whole number from 1 to 100"),
    ("limit=ten", "limit must be a whole number from 1 to 100"),
    ("cursor=bm90LWEtY3Vyc29y", "cursor is not one this API issued"),
    ("sort=oldest", "unknown parameters: sort"),
    ("channel=sms&area_id=jharia", "channel cannot be combined with an area"),
    ("since=0001-01-01T00:00:00%2B05:30", "since must be"),
    ("until=9999-12-31T23:59:59", "until must be between the years 2000 and 2100"),
    ("status=open&limit=0", "status must be one of"),  # every problem named at once
]


@pytest.mark.parametrize(("query", "reason"), BAD_LISTS, ids=[q for q, _ in BAD_LISTS])
def test_a_bad_list_request_is_400_with_the_reason(officer_api, query, reason):
    response = officer_api.get(f"/tips?{query}", groups=SUPERVISOR)
    assert response.status_code == 400
    assert reason in json_of(response)["error"]


def test_every_problem_of_a_list_request_is_named(officer_api):
    error = json_of(officer_api.get("/tips?status=open&limit=0&channel=fax", groups=SUPERVISOR))["error"]
    assert "status" in error and "limit" in error and "channel" in error


def test_an_officer_with_several_areas_chooses_one(officer_api):
    response = officer_api.get("/tips", groups=("officer", "area:jharia", "area:saraidhela"))
    assert response.status_code == 400
    assert "jharia, saraidhela" in json_of(response)["error"]
    ok = officer_api.get("/tips?area_id=jharia", groups=("officer", "area:jharia", "area:saraidhela"))
    assert ok.status_code == 200


BAD_BODIES = [
    ("PATCH", "/tips/{tip}", b"{not json", "the body is not JSON"),
    ("PATCH", "/tips/{tip}", {}, "one or more of: status, area_id, assignee"),
    ("PATCH", "/tips/{tip}", [1, 2], "one or more of: status, area_id, assignee"),
    ("PATCH", "/tips/{tip}", {"status": "solved"}, "status must be one of new, in_review, actioned, closed, spam"),
    ("PATCH", "/tips/{tip}", {"status": None}, "status must be one of new, in_review, actioned, closed, spam"),
    ("PATCH", "/tips/{tip}", {"area_id": "gotham"}, "area_id 'gotham' is not a police area"),
    ("PATCH", "/tips/{tip}", {"area_id": None}, "is not a police area"),
    ("PATCH", "/tips/{tip}", {"assignee": 42}, "assignee must be an officer's user name"),
    ("PATCH", "/tips/{tip}", {"priority": "high"}, "unknown field 'priority'"),
    ("POST", "/tips/{tip}/notes", b"", "the body is not JSON"),
    ("POST", "/tips/{tip}/notes", {}, 'send a JSON object {"text": "..."}'),
    ("POST", "/tips/{tip}/notes", {"text": "   "}, "non-empty text"),
    ("POST", "/tips/{tip}/notes", {"text": "x" * 4001}, "at most 4000"),
    ("POST", "/tips/{tip}/notes", {"text": "ok", "author": "someone"}, "unknown fields: author"),
    ("POST", "/tips/{tip}/messages", {"text": 7}, "non-empty text"),
    ("POST", "/tips/{tip}/messages", {"text": "?" * 1501}, "at most 1500"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "reason"), BAD_BODIES, ids=[f"{m}-{i}" for i, (m, *_) in enumerate(BAD_BODIES)]
)
def test_a_bad_body_is_400_with_the_reason_and_changes_nothing(officer_api, aws, method, path, body, reason):
    tip_id = seed_tip()
    before = tip_item(aws, tip_id)
    response = officer_api.request(method, path.format(tip=tip_id), groups=SUPERVISOR, body=body)
    assert response.status_code == 400
    assert reason in json_of(response)["error"]
    assert tip_item(aws, tip_id) == before
    assert audit_entries(aws) == []


@pytest.mark.parametrize("tip_id", ["0b8f4e52-3c1a-4d7e-9a6b-2f5c8d1e7a90", "not-a-tip-id", "TIP%23x"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/tips/{tip}", None),
        ("PATCH", "/tips/{tip}", {"status": "closed"}),
        ("POST", "/tips/{tip}/notes", {"text": "x"}),
        ("POST", "/tips/{tip}/messages", {"text": "x?"}),
        ("GET", "/tips/{tip}/media/k-0/original", None),
    ],
)
def test_an_unknown_tip_is_404(officer_api, aws, tip_id, method, path, body):
    response = officer_api.request(method, path.format(tip=tip_id), groups=ADMIN, body=body)
    assert response.status_code == 404
    assert json_of(response) == {"error": "no such tip"} or "no such tip" in json_of(response)["error"]
    assert audit_entries(aws) == []


# --- lists: newest first, filters, pages that read one page ---------------------------------------------------------


def test_list_shows_the_newest_first_with_full_text(officer_api, sunita_tip):
    older = seed_tip(minutes_ago=90, text="पुरानी सूचना / older tip")
    body = json_of(officer_api.get("/tips", groups=OFFICER_SARAIDHELA))
    assert [tip["id"] for tip in body["tips"]] == [sunita_tip, older]
    assert body["next"] is None
    newest = body["tips"][0]
    assert set(newest) == SUMMARY_FIELDS
    assert newest["text"] == "बैंक मोड़ बस स्टैंड के पीछे हर शाम अवैध शराब बेची जा रही है। मकान नं. 12/4 के पास।"
    assert newest["location"] == {"lat": 23.8143, "lon": 86.4412, "name": None, "address": None}
    assert newest["status"] == "new" and newest["channel"] == "whatsapp" and newest["area_id"] == SARAIDHELA
    assert newest["reference"].startswith("DHN-")


@pytest.fixture
def mixed_tips(aws) -> dict[str, list[str]]:
    """Eleven tips a minute apart across two areas, no area, three channels; ids newest first per group."""
    made: dict[str, list[str]] = {"all": [], "saraidhela": [], "jharia": [], "none": [], "sms": []}
    plan = [
        (Channel.WHATSAPP, "saraidhela"),
        (Channel.SMS, "jharia"),
        (Channel.MESSENGER, None),
        (Channel.WHATSAPP, "jharia"),
        (Channel.SMS, "saraidhela"),
    ] * 2 + [(Channel.X, "saraidhela")]
    for minutes_ago, (channel, area) in enumerate(plan):
        tip_id = seed_tip(channel=channel, area_id=area, minutes_ago=minutes_ago)
        for group in ("all", area or "none", str(channel)):
            made.setdefault(group, []).append(tip_id)
    return made


def all_pages(officer_api, query: str, groups: tuple[str, ...]) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        response = officer_api.get(f"/tips?{query}{suffix}", groups=groups)
        assert response.status_code == 200, response.body
        body = json_of(response)
        pages.append([tip["id"] for tip in body["tips"]])
        cursor = body["next"]
        if cursor is None:
            return pages


@pytest.mark.parametrize(
    ("query", "groups", "expected"),
    [
        ("limit=4", SUPERVISOR, "all"),
        ("limit=2&area_id=saraidhela", SUPERVISOR, "saraidhela"),
        ("limit=2", OFFICER_SARAIDHELA, "saraidhela"),  # an officer's own area by default
        ("limit=3&area_id=jharia&status=new", OFFICER_JHARIA, "jharia"),
        ("limit=1&area_id=none", SUPERVISOR, "none"),
        ("limit=3&channel=sms", SUPERVISOR, "sms"),
        ("limit=3&channel=sms&status=new", SUPERVISOR, "sms"),
        ("limit=5&status=new", ADMIN, "all"),
    ],
)
def test_pages_follow_each_other_without_gaps_or_repeats(officer_api, mixed_tips, query, groups, expected):
    pages = all_pages(officer_api, query, groups)
    limit = int(parse_qs(query)["limit"][0])
    assert all(len(page) == limit for page in pages[:-1]) and 1 <= len(pages[-1]) <= limit
    assert [tip for page in pages for tip in page] == mixed_tips[expected]


def test_since_and_until_bound_the_list(officer_api, mixed_tips):
    since = (FIXED_NOW - timedelta(minutes=3, seconds=30)).isoformat()
    until = (FIXED_NOW - timedelta(minutes=1)).isoformat()
    body = json_of(officer_api.get(f"/tips?since={since}&until={until}", groups=SUPERVISOR))
    assert [tip["id"] for tip in body["tips"]] == mixed_tips["all"][1:4]


def test_a_page_reads_about_one_page_however_large_the_table(officer_api, aws, monkeypatch):
    from shared.storage import casework

    reads: list[int] = []
    real_list = casework.list_tips

    def counting(query):
        page = real_list(query)
        reads.append(page.items_read)
        return page

    monkeypatch.setattr(casework, "list_tips", counting)
    for size in (30, 150):
        while len(tips(aws)) < size:
            seed_tip(minutes_ago=len(tips(aws)), area_id=SARAIDHELA if len(tips(aws)) % 3 else "jharia")
        for query in ("limit=10", "limit=10&area_id=saraidhela", "limit=10&status=new&area_id=jharia"):
            cursor = json_of(officer_api.get(f"/tips?{query}", groups=SUPERVISOR))["next"]
            officer_api.get(f"/tips?{query}&cursor={cursor}", groups=SUPERVISOR)
    assert reads and max(reads) <= 11  # the page and one more (to know whether a next page exists)


# --- the tip file ---------------------------------------------------------------------------------------------------


def gps_photo() -> bytes:
    """A JPEG whose EXIF says where it was taken (a house in Saraidhela) and with which phone."""
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"  # Make
    exif[0x0110] = "Redmi 9A"  # Model
    exif.get_ifd(0x8825).update({1: "N", 2: (23.0, 48.0, 51.48), 3: "E", 4: (86.0, 26.0, 28.32)})
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.fixture
def tip_with_gps_photo(aws, fake_graph) -> str:
    """A tip whose photo went through the media worker: original and officers' copy in the bucket."""
    tip_id = seed_tip(media_entries=(MediaEntry(media_key="k-0", kind=MediaKind.IMAGE),))
    fake_graph.add_media("gps-photo", gps_photo(), "image/jpeg")
    job = media.MediaJob(tip_id=tip_id, media_key="k-0", channel=Channel.WHATSAPP, media_id="gps-photo")
    assert media.fetch_media(job) == "stored"
    return tip_id


def object_at(url: str) -> bytes:
    """The object a presigned S3 URL points at (moto's bucket; the signature itself is checked elsewhere)."""
    parts = urlsplit(url)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    if parts.hostname and parts.hostname.endswith(".s3.amazonaws.com") and not parts.hostname.startswith("s3."):
        bucket, key = parts.hostname.split(".s3.")[0], parts.path.lstrip("/")
    return boto3.client("s3", region_name="ap-south-1").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_officers_see_a_copy_of_each_photo_without_its_gps(officer_api, aws, tip_with_gps_photo):
    body = json_of(officer_api.get(f"/tips/{tip_with_gps_photo}", groups=OFFICER_SARAIDHELA))
    [photo] = body["media"]
    assert photo["metadata_removed"] is True and photo["content_type"] == "image/jpeg"
    query = parse_qs(urlsplit(photo["url"]).query)
    assert int(query["X-Amz-Expires"][0]) <= 300
    assert urlsplit(photo["url"]).path.endswith(".clean.jpg")
    copy = object_at(photo["url"])
    assert b"Exif" not in copy and b"Xiaomi" not in copy
    assert not Image.open(io.BytesIO(copy)).getexif()
    assert officer_copies(aws, f"tips/{tip_with_gps_photo}/") == [f"tips/{tip_with_gps_photo}/k-0.clean.jpg"]


def test_admins_open_the_original_as_evidence_and_each_opening_is_audited(officer_api, aws, tip_with_gps_photo):
    response = officer_api.get(f"/tips/{tip_with_gps_photo}/media/k-0/original", groups=ADMIN)
    assert response.status_code == 200
    body = json_of(response)
    original = object_at(body["url"])
    assert original == gps_photo() and b"Xiaomi" in original
    assert body["sha256"] == __import__("hashlib").sha256(original).hexdigest()
    assert body["expires_in"] <= 300
    [entry] = [e for e in audit_entries(aws) if e["action"]["S"] == "original_media_url_issued"]
    assert entry["tip_id"]["S"] == tip_with_gps_photo and entry["actor"]["S"].startswith("officer-admin")


def test_the_tip_file_has_messages_location_notes_and_follow_up_state(officer_api, sunita_tip):
    officer_api.post(f"/tips/{sunita_tip}/notes", groups=OFFICER_SARAIDHELA, body={"text": "Beat constable informed"})
    response = officer_api.get(f"/tips/{sunita_tip}", groups=OFFICER_SARAIDHELA)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = json_of(response)
    assert body["id"] == sunita_tip and body["message_count"] == 2
    assert [m["from"] for m in body["messages"]] == ["informant"]
    assert body["location"]["lat"] == 23.8143
    [note] = body["notes"]
    assert note["text"] == "Beat constable informed" and note["author"] == "officer-officer-area_saraidhela"
    assert body["follow_up"] == {
        "possible": True,
        "reason": None,
        "window_closes_at": (FIXED_NOW + timedelta(hours=24)).isoformat(),
    }


# --- triage ---------------------------------------------------------------------------------------------------------


def test_status_changes_move_the_tip_between_filtered_lists(officer_api, aws):
    tip_id = seed_tip()
    response = officer_api.patch(f"/tips/{tip_id}", groups=OFFICER_SARAIDHELA, body={"status": "in_review"})
    assert response.status_code == 200 and json_of(response)["status"] == "in_review"
    for query, expected in [
        ("status=new", []),
        ("status=in_review", [tip_id]),
        ("area_id=saraidhela&status=in_review", [tip_id]),
        ("area_id=saraidhela&status=new", []),
        ("channel=whatsapp&status=in_review", [tip_id]),
        ("area_id=saraidhela", [tip_id]),
    ]:
        listed = json_of(officer_api.get(f"/tips?{query}", groups=SUPERVISOR))["tips"]
        assert [tip["id"] for tip in listed] == expected, query


def test_moving_a_tip_to_another_area_hands_it_over(officer_api):
    tip_id = seed_tip()
    moved = officer_api.patch(f"/tips/{tip_id}", groups=OFFICER_SARAIDHELA, body={"area_id": "jharia"})
    assert json_of(moved)["area_id"] == "jharia"
    assert officer_api.get(f"/tips/{tip_id}", groups=OFFICER_SARAIDHELA).status_code == 403
    assert officer_api.get(f"/tips/{tip_id}", groups=OFFICER_JHARIA).status_code == 200
    listed = json_of(officer_api.get("/tips?status=new", groups=OFFICER_JHARIA))["tips"]
    assert [tip["id"] for tip in listed] == [tip_id]


def test_assignee_is_set_and_cleared(officer_api):
    tip_id = seed_tip()
    assigned = officer_api.patch(f"/tips/{tip_id}", groups=SUPERVISOR, body={"assignee": "si.kumari"})
    assert json_of(assigned)["assignee"] == "si.kumari"
    cleared = officer_api.patch(f"/tips/{tip_id}", groups=SUPERVISOR, body={"assignee": None})
    assert json_of(cleared)["assignee"] is None


# --- follow-up questions --------------------------------------------------------------------------------------------


def test_a_follow_up_reaches_the_informant_and_their_answer_joins_the_tip(
    officer_api, api, aws, dispatcher, fake_graph, sunita_tip, monkeypatch
):
    replies_before = len(fake_graph.replies)
    response = officer_api.post(
        f"/tips/{sunita_tip}/messages", groups=OFFICER_SARAIDHELA, body={"text": "गाड़ी का रंग क्या था?"}
    )
    assert response.status_code == 202
    assert json_of(response)["status"] == "queued"
    dispatcher.drain()
    question = fake_graph.replies[replies_before:]
    assert len(question) == 1
    assert "गाड़ी का रंग क्या था?" in question[0]["payload"]["text"]["body"]
    # Two hours later (long past the 10-minute grouping window) Sunita answers in the same chat.
    monkeypatch.setattr("shared.clock.now", lambda: FIXED_NOW + timedelta(hours=2, minutes=1))
    assert post_whatsapp(api, "answer_to_followup").status_code == 200
    dispatcher.drain()
    assert len(tips(aws)) == 1
    body = json_of(officer_api.get(f"/tips/{sunita_tip}", groups=OFFICER_SARAIDHELA))
    assert [(m["from"], m.get("status")) for m in body["messages"]] == [
        ("informant", None),
        ("police", "sent"),
        ("informant", None),
    ]
    assert body["messages"][-1]["text"].startswith("हाँ, वह रोज़ शाम 7 बजे आता है")
    assert len(fake_graph.replies) == replies_before + 1  # the answer opens no new tip: no second reference


def test_a_follow_up_after_the_24_hour_window_is_409_with_the_reason(officer_api, aws, monkeypatch):
    tip_id = seed_tip()
    monkeypatch.setattr("shared.clock.now", lambda: FIXED_NOW + timedelta(hours=24, minutes=1))
    response = officer_api.post(f"/tips/{tip_id}/messages", groups=SUPERVISOR, body={"text": "Still there?"})
    assert response.status_code == 409
    assert "within 24 hours of the informant's last message" in json_of(response)["error"]
    assert not [item for item in table_items(aws) if item["sk"]["S"].startswith("FOLLOWUP#")]


@pytest.mark.parametrize(
    ("channel", "public_post", "reason"),
    [
        (Channel.SMS, False, "SMS follow-ups need the district's two-way SMS number"),
        (Channel.X, True, "a follow-up would be public"),
    ],
)
def test_a_follow_up_the_channel_cannot_carry_is_409(officer_api, channel, public_post, reason):
    tip_id = seed_tip(channel=channel, public_post=public_post)
    response = officer_api.post(f"/tips/{tip_id}/messages", groups=SUPERVISOR, body={"text": "Where exactly?"})
    assert response.status_code == 409
    assert reason in json_of(response)["error"]
    body = json_of(officer_api.get(f"/tips/{tip_id}", groups=SUPERVISOR))
    assert body["follow_up"]["possible"] is False and reason in body["follow_up"]["reason"]


def test_a_follow_up_the_platform_refuses_is_marked_failed(officer_api, dispatcher, fake_graph, sunita_tip):
    fake_graph.reject_next("/", 400, 131047)  # WhatsApp: re-engagement message (window closed on their side)
    officer_api.post(f"/tips/{sunita_tip}/messages", groups=SUPERVISOR, body={"text": "Which house?"})
    dispatcher.drain()
    body = json_of(officer_api.get(f"/tips/{sunita_tip}", groups=SUPERVISOR))
    [police] = [m for m in body["messages"] if m["from"] == "police"]
    assert police["status"] == "failed"


# --- audit trail ----------------------------------------------------------------------------------------------------


def test_every_access_and_change_is_in_the_audit_trail(officer_api, dispatcher, sunita_tip, monkeypatch):
    officer = OFFICER_SARAIDHELA
    ticks = iter(range(1, 1000))
    monkeypatch.setattr("shared.clock.now", lambda: FIXED_NOW + timedelta(seconds=next(ticks)))
    officer_api.get("/tips", groups=officer)
    officer_api.get(f"/tips/{sunita_tip}", groups=officer)
    officer_api.patch(f"/tips/{sunita_tip}", groups=officer, body={"status": "in_review", "assignee": "si.kumari"})
    officer_api.post(f"/tips/{sunita_tip}/notes", groups=officer, body={"text": "CCTV at the bus stand"})
    officer_api.post(f"/tips/{sunita_tip}/messages", groups=officer, body={"text": "What time?"})
    entries = json_of(officer_api.get(f"/audit?tip_id={sunita_tip}", groups=ADMIN))["entries"]
    assert [entry["action"] for entry in entries] == [
        "followup_queued",
        "note_added",
        "tip_updated",
        "tip_viewed",
        "tip_listed",
    ]
    assert {entry["officer"] for entry in entries} == {"officer-officer-area_saraidhela"}
    assert entries[2]["detail"]["changes"] == {"status": ["new", "in_review"], "assignee": [None, "si.kumari"]}
    by_officer = json_of(officer_api.get("/audit?officer=officer-officer-area_saraidhela", groups=ADMIN))
    assert len(by_officer["entries"]) == 5
    today = json_of(officer_api.get(f"/audit?date={FIXED_NOW:%Y-%m-%d}&limit=2", groups=ADMIN))
    assert len(today["entries"]) == 2 and today["next"]
    rest = json_of(officer_api.get(f"/audit?date={FIXED_NOW:%Y-%m-%d}&cursor={today['next']}", groups=ADMIN))
    assert len(rest["entries"]) == 3 and rest["next"] is None


@pytest.mark.parametrize(
    ("query", "reason"),
    [("date=28-11-2026", "date must be YYYY-MM-DD"), ("tip_id=a&officer=b", "give exactly one of")],
)
def test_a_bad_audit_query_is_400(officer_api, query, reason):
    response = officer_api.get(f"/audit?{query}", groups=ADMIN)
    assert response.status_code == 400 and reason in json_of(response)["error"]


def test_no_access_is_served_when_the_audit_trail_cannot_be_written(officer_api, monkeypatch):
    from shared.errors import AuditUnavailableError
    from shared.storage import audit as audit_store

    def broken(entries):
        raise AuditUnavailableError("down")

    monkeypatch.setattr(audit_store, "append", broken)
    tip_id = seed_tip()
    response = officer_api.get(f"/tips/{tip_id}", groups=SUPERVISOR)
    assert response.status_code == 503
    assert "बैंक" not in response.body.decode() and "stolen bike" not in response.body.decode()


# --- new-tip notices ------------------------------------------------------------------------------------------------


def subscribe_queue(topic_arn: str) -> str:
    sqs = boto3.client("sqs", region_name="ap-south-1")
    url = sqs.create_queue(QueueName=f"watch-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name="ap-south-1").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return url


def received(url: str) -> list[str]:
    sqs = boto3.client("sqs", region_name="ap-south-1")
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def test_the_officers_of_the_area_hear_of_a_new_tip_without_its_contents(api, aws, dispatcher, fake_graph):
    saraidhela = subscribe_queue(notices.topic_arn(SARAIDHELA))
    unassigned = subscribe_queue(notices.topic_arn(None))
    jharia = subscribe_queue(notices.topic_arn("jharia"))
    post_whatsapp(api, "text_hindi")  # no location yet: unassigned
    dispatcher.drain()
    post_whatsapp(api, "location_pin")  # joins the tip and gives it Saraidhela
    dispatcher.drain()
    [tip] = tips(aws)
    reference = tip["reference"]["S"]
    [first] = received(unassigned)
    [second] = received(saraidhela)
    assert received(jharia) == []
    assert reference in first and "no police area yet" in first
    assert reference in second and "Saraidhela (saraidhela)" in second and "सरायढेला" in second
    for notice in (first, second):
        assert "शराब" not in notice and "23.81" not in notice


def test_every_area_has_its_topic(aws):
    from shared import areas

    names = {arn.rsplit(":", 1)[1] for arn in notices.ensure_area_topics()}
    assert names == {f"sampark-test-new-tips-{area.id}" for area in areas.all_areas()} | {
        "sampark-test-new-tips-unassigned"
    }


def test_the_api_answers_json_that_a_browser_will_not_cache(officer_api):
    response = officer_api.get("/tips", groups=SUPERVISOR)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.body) == {"tips": [], "next": None}


def test_the_deploy_step_creates_every_area_topic_once(aws, capsys):
    from shared import areas
    from tools import area_topics

    assert area_topics.main(["--stack-name", "dhanbad"]) == 0
    assert area_topics.main(["--stack-name", "dhanbad"]) == 0  # idempotent: a second deploy changes nothing
    printed = capsys.readouterr().out.split()
    per_run = len(areas.all_areas()) + 1 + 4 * len(areas.all_areas())  # new-tip topics, then 4 alert topics an area
    assert len(printed) == 2 * per_run
    pages = boto3.client("sns", region_name="ap-south-1").get_paginator("list_topics").paginate()
    topics = [topic["TopicArn"] for page in pages for topic in page["Topics"]]
    assert len([arn for arn in topics if ":dhanbad-new-tips-" in arn]) == len(areas.all_areas()) + 1
    assert len([arn for arn in topics if ":dhanbad-alerts-" in arn]) == 4 * len(areas.all_areas())
    assert "arn:aws:sns:ap-south-1:123456789012:dhanbad-new-tips-jharia" in topics
    assert "arn:aws:sns:ap-south-1:123456789012:dhanbad-alerts-jharia-hi-sms" in topics


# --- review findings: no take-over, no change without its trace, no lost send, conflicts --------------------------


def test_a_follow_up_never_takes_over_the_informants_other_open_tip(
    officer_api, api, aws, dispatcher, sunita_tip, monkeypatch
):
    # Sunita's first tip is three hours old; she is now writing a second one (open for the next 10 minutes).
    later = FIXED_NOW + timedelta(hours=3)
    monkeypatch.setattr("shared.clock.now", lambda: later)
    raw = load_event("whatsapp", "answer_to_followup").replace(b"1795874400", str(int(later.timestamp())).encode())
    post_whatsapp(api, raw)
    dispatcher.drain()
    [second] = [tip["tip_id"]["S"] for tip in tips(aws) if tip["tip_id"]["S"] != sunita_tip]
    pointer = [item for item in table_items(aws) if item["sk"]["S"].startswith("OPEN#")]
    response = officer_api.post(f"/tips/{sunita_tip}/messages", groups=OFFICER_SARAIDHELA, body={"text": "Which day?"})
    assert response.status_code == 409
    assert "writing another tip right now" in json_of(response)["error"]
    assert [item for item in table_items(aws) if item["sk"]["S"].startswith("OPEN#")] == pointer
    assert pointer[0]["tip_id"]["S"] == second
    assert not [item for item in table_items(aws) if item["sk"]["S"].startswith("FOLLOWUP#")]
    assert not [e for e in audit_entries(aws) if e["action"]["S"] == "followup_queued"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/tips/{tip}", {"status": "closed"}),
        ("POST", "/tips/{tip}/notes", {"text": "seen"}),
        ("POST", "/tips/{tip}/messages", {"text": "when?"}),
    ],
)
def test_no_change_happens_without_its_audit_entry(officer_api, aws, monkeypatch, method, path, body):
    from shared.storage import audit as audit_store

    tip_id = seed_tip()
    before = tip_item(aws, tip_id)

    def unwritable(entry_id, entry):
        item = audit_store._item(entry_id, entry)
        return ("audit", lambda tx: tx.save(item, condition=audit_store.AuditItem.at_key.exists()))  # always fails

    monkeypatch.setattr(audit_store, "operation", unwritable)
    response = officer_api.request(method, path.format(tip=tip_id), groups=SUPERVISOR, body=body)
    assert response.status_code == 503
    assert tip_item(aws, tip_id) == before
    assert not [item for item in table_items(aws) if item["sk"]["S"].startswith(("NOTE#", "FOLLOWUP#"))]
    sqs = boto3.client("sqs", region_name="ap-south-1")
    queued = sqs.get_queue_attributes(
        QueueUrl=aws.queue_for_name("sampark-replies")["Ref"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert queued == "0"


def test_a_sender_whose_lease_lapsed_cannot_undo_the_next_ones_send(aws):
    from shared.domain import FollowUp, FollowUpStatus
    from shared.storage import casework

    tip_id = seed_tip()
    followup = FollowUp(followup_id="q1", author="si", written_at=FIXED_NOW, text="?", status=FollowUpStatus.QUEUED)
    casework.add_followup(
        tip_id,
        followup,
        ("noop", lambda tx: None),
        sender_pseudonym="p-lease",
        channel=Channel.WHATSAPP,
        open_until=int(FIXED_NOW.timestamp()) + 60,
    )
    key = casework.followup_key(FIXED_NOW, "q1")
    first = casework.claim_followup(tip_id, key, FIXED_NOW, 60)
    second = casework.claim_followup(tip_id, key, FIXED_NOW + timedelta(seconds=61), 60)  # the first lease lapsed
    assert first and second and first != second
    assert casework.finish_followup(tip_id, key, second, FollowUpStatus.SENT, FIXED_NOW)
    assert not casework.finish_followup(tip_id, key, first, FollowUpStatus.QUEUED, FIXED_NOW)  # too late: ignored
    assert casework.get_followup(tip_id, key).status is FollowUpStatus.SENT


def test_a_tip_changed_by_others_every_time_answers_409(officer_api, monkeypatch):
    from shared.storage import casework

    def always_stale(before, change, at, audit):
        raise casework.StaleTipError(before.tip_id)

    monkeypatch.setattr(casework, "update_tip", always_stale)
    tip_id = seed_tip()
    response = officer_api.patch(f"/tips/{tip_id}", groups=SUPERVISOR, body={"status": "closed"})
    assert response.status_code == 409
    assert "reload it and try again" in json_of(response)["error"]


def test_a_cursor_outside_the_since_until_bounds_is_400(officer_api, mixed_tips):
    cursor = json_of(officer_api.get("/tips?limit=2", groups=SUPERVISOR))["next"]
    since = FIXED_NOW.isoformat().replace("+", "%2B")
    response = officer_api.get(f"/tips?limit=2&since={since}&cursor={cursor}", groups=SUPERVISOR)
    assert response.status_code == 400
    assert "cursor belongs to other since/until bounds" in json_of(response)["error"]


def test_moving_a_tip_tells_the_new_areas_officers(officer_api, aws, dispatcher):
    jharia = subscribe_queue(notices.topic_arn("jharia"))
    tip_id = seed_tip()
    officer_api.patch(f"/tips/{tip_id}", groups=OFFICER_SARAIDHELA, body={"area_id": "jharia"})
    dispatcher.drain()
    [notice] = received(jharia)
    assert tip_item(aws, tip_id)["reference"]["S"] in notice and "Jharia" in notice


def test_texts_of_a_tip_written_before_arrival_times_were_kept_line_up(officer_api, aws):
    client = boto3.client("dynamodb", region_name="ap-south-1")
    tip_id = seed_tip(text="first")
    table = aws.physical["TipsTable"]["Ref"]
    key = {"pk": {"S": f"TIP#{tip_id}"}, "sk": {"S": "TIP"}}
    later = (FIXED_NOW + timedelta(minutes=5)).isoformat()
    client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET texts = list_append(texts, :t), text_times = :times",
        ExpressionAttributeValues={":t": {"L": [{"S": "second"}]}, ":times": {"L": [{"S": later}]}},
    )
    body = json_of(officer_api.get(f"/tips/{tip_id}", groups=SUPERVISOR))
    assert [(m["text"], m["at"]) for m in body["messages"]] == [("first", FIXED_NOW.isoformat()), ("second", later)]


def test_an_informant_gets_at_most_three_questions_a_day_about_a_tip(officer_api, aws, monkeypatch):
    tip_id = seed_tip()
    for minute in range(3):
        monkeypatch.setattr("shared.clock.now", lambda minute=minute: FIXED_NOW + timedelta(minutes=minute))
        assert officer_api.post(f"/tips/{tip_id}/messages", groups=SUPERVISOR, body={"text": "?"}).status_code == 202
    fourth = officer_api.post(f"/tips/{tip_id}/messages", groups=SUPERVISOR, body={"text": "??"})
    assert fourth.status_code == 409
    assert "at most 3 questions per tip in 24 hours" in json_of(fourth)["error"]
