"""The Messenger webhook through Chalice's test client over moto: handshake, signatures, durability, every fixture,
acknowledgements through the Send API, and the privacy scan."""

from __future__ import annotations

import base64
import json
import os
import socket
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import boto3
import pytest
from botocore.client import BaseClient

from shared.channels import meta
from tests import identities as who
from tests.conftest import EVENTS, TEST_SETTINGS, load_event
from tests.helpers import bucket_keys, media_items, table_items, tips

PATH = "/webhooks/messenger"
PAGE_TOKEN = "test-messenger-page-token"
HINDI = load_event("messenger", "text_hindi")

PHOTO_JPG = (EVENTS / "media" / "photo.jpg").read_bytes()
# Minimal files with the right magic. Messenger voice clips are AAC in MP4 ("audioclip-….mp4").
VIDEO_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(40)
AUDIO_M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + bytes(40)
DOCUMENT_PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
BYTES_BY_TYPE = {
    "image": (PHOTO_JPG, "image/jpeg"),
    "video": (VIDEO_MP4, "video/mp4"),
    "audio": (AUDIO_M4A, "audio/mp4"),
    "file": (DOCUMENT_PDF, "application/pdf"),
}


@pytest.fixture(autouse=True)
def messenger_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENGER_PAGE_ID", who.MESSENGER_PAGE_ID)
    monkeypatch.setenv("MESSENGER_PAGE_ACCESS_TOKEN", PAGE_TOKEN)


@pytest.fixture(autouse=True)
def no_public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the loopback resolves (moto is in-process, the fake Graph API is on 127.0.0.1): no real network."""
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("127.0.0.1", "localhost"):
            return real_getaddrinfo(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"no DNS in tests: {host}")

    monkeypatch.setattr("shared.media.socket.getaddrinfo", loopback_only)


@pytest.fixture
def graph(fake_graph: Any) -> Any:
    fake_graph.set_page_access_token(PAGE_TOKEN)
    return fake_graph


def _wire(payload: Any) -> bytes:
    """JSON as Meta sends it: non-ASCII as lowercase \\uXXXX, "/" as "\\/"."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def _served(case: str, graph: Any) -> bytes:
    """The fixture with each attachment URL pointed at the fake's CDN, which serves bytes of the right type.

    The fixtures keep Facebook's real CDN hosts (their documented shape); here there is no internet, and the media
    worker also fetches from the exact origin of GRAPH_API_URL.
    """
    payload = json.loads(load_event("messenger", case))
    for number, attachment in enumerate(_attachments(payload)):
        if attachment.get("type") in BYTES_BY_TYPE and "sticker_id" not in attachment.get("payload", {}):
            body, mime_type = BYTES_BY_TYPE[attachment["type"]]
            attachment["payload"]["url"] = graph.add_cdn_file(f"{case}-{number}", body, mime_type)
    return _wire(payload)


def _attachments(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        attachment
        for entry in payload["entry"]
        for event in entry.get("messaging", []) + entry.get("standby", [])
        for attachment in event.get("message", {}).get("attachments", [])
    ]


def post_messenger(api: Any, body: bytes) -> Any:
    return api.http.post(
        PATH, headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(body)}, body=body
    )


def _post(api: Any, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return api.http.post(PATH, headers=headers, body=body)


def _sqs() -> Any:
    return boto3.client("sqs", region_name=TEST_SETTINGS["AWS_REGION"])


def _s3() -> Any:
    return boto3.client("s3", region_name=TEST_SETTINGS["AWS_REGION"])


def _queued_deliveries() -> int:
    attributes = _sqs().get_queue_attributes(
        QueueUrl=os.environ["DELIVERIES_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _assert_nothing_written(aws: Any) -> None:
    assert bucket_keys(aws) == []
    assert _queued_deliveries() == 0
    assert table_items(aws) == []


# --- handshake ------------------------------------------------------------------------------------------------


def _handshake(api: Any, token: str) -> Any:
    query = {"hub.mode": "subscribe", "hub.challenge": "2087345619", "hub.verify_token": token}
    return api.http.get(f"{PATH}?{urlencode(query)}")


def test_handshake_echoes_the_challenge_as_plain_text(api):
    response = _handshake(api, TEST_SETTINGS["META_VERIFY_TOKEN"])

    assert response.status_code == 200
    assert response.body == b"2087345619"
    assert response.headers["Content-Type"] == "text/plain"


def test_handshake_with_wrong_token_is_refused_without_echo(api):
    response = _handshake(api, "not-our-token")

    assert response.status_code == 403
    assert response.body == b""


# --- signatures -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing_header"),
        pytest.param("", id="empty_header"),
        pytest.param(meta.sign(HINDI).removeprefix("sha256="), id="no_prefix"),
        pytest.param(meta.sign(HINDI)[:-2], id="wrong_length"),
        pytest.param("sha256=" + "g" * 64, id="not_hex"),
        pytest.param(meta.sign(HINDI, app_secret="not-our-app-secret"), id="wrong_secret"),
        pytest.param(meta.sign(load_event("messenger", "text_english")), id="signature_of_another_body"),
        pytest.param(meta.sign(json.dumps(json.loads(HINDI)).encode()), id="signature_of_reserialised_json"),
    ],
)
def test_bad_signature_is_refused_and_nothing_is_written(api, aws, signature):
    response = _post(api, HINDI, signature)

    assert response.status_code == 401
    assert "error" in response.json_body
    _assert_nothing_written(aws)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"object":"page","entry":[', id="cut_off"),
        pytest.param(b"object=page", id="form_encoded"),
        pytest.param(b"\xff\xfe{}", id="not_utf8"),
    ],
)
def test_signed_malformed_json_is_refused_with_the_reason(api, aws, body):
    response = _post(api, body, meta.sign(body))

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert "JSON" in response.json_body["error"]
    _assert_nothing_written(aws)


# --- a valid delivery -----------------------------------------------------------------------------------------


def test_valid_delivery_is_stored_byte_for_byte_and_queued(api, aws, graph):
    # WHEN
    response = post_messenger(api, HINDI)

    # THEN Meta gets exactly 200 with an empty body
    assert response.status_code == 200
    assert response.body == b""
    # AND the raw bytes are in the inbox, unchanged
    [key] = bucket_keys(aws)
    assert key.startswith("inbox/messenger/")
    assert _s3().get_object(Bucket=os.environ["MEDIA_BUCKET_NAME"], Key=key)["Body"].read() == HINDI
    [announcement] = [
        json.loads(message["Body"])
        for message in _sqs().receive_message(QueueUrl=os.environ["DELIVERIES_QUEUE_URL"], MaxNumberOfMessages=10)[
            "Messages"
        ]
    ]
    assert (announcement["channel"], announcement["inbox_key"]) == ("messenger", key)
    # AND nothing else happened before the answer
    assert table_items(aws) == []
    assert graph.state.requests == []


def test_valid_delivery_makes_at_most_two_aws_requests(api, aws):
    calls: list[tuple[str, str]] = []
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append((self.meta.service_model.service_name, operation_name))
        return original(self, operation_name, api_params)

    with mock.patch.object(BaseClient, "_make_api_call", counting):
        response = post_messenger(api, load_event("messenger", "batch_mixed"))

    assert response.status_code == 200
    assert len(calls) <= 2, calls
    assert ("s3", "PutObject") in calls


# --- every fixture, end to end --------------------------------------------------------------------------------

# case -> (message count per tip, status of each stored media, recipient of each acknowledgement)
FLOWS = [
    pytest.param("text_english", [1], [], [who.ARJUN_PSID], id="text_english"),
    pytest.param("text_hindi", [1], [], [who.PRIYA_PSID], id="text_hindi"),
    pytest.param("image", [1], ["stored"], [who.ROHIT_PSID], id="image"),
    pytest.param("album_three_images", [1], ["stored"] * 3, [who.PRIYA_PSID], id="album_three_images"),
    pytest.param("video", [1], ["stored"], [who.ARJUN_PSID], id="video"),
    pytest.param("audio", [1], ["stored"], [who.ROHIT_PSID], id="audio"),
    pytest.param("file_pdf", [1], ["stored"], [who.KAVITA_PSID], id="file_pdf"),
    pytest.param("location_legacy", [1], [], [who.PRIYA_PSID], id="location_legacy"),
    pytest.param("location_legacy_old_shape", [1], [], [who.ROHIT_PSID], id="location_legacy_old_shape"),
    # Kavita's text and photo join one tip; Rohit's receipt and the Page's own echo are not tips.
    pytest.param("batch_mixed", [2], ["stored"], [who.KAVITA_PSID], id="batch_mixed"),
    pytest.param("sticker_like", [], [], [], id="sticker_like"),
    pytest.param("echo", [], [], [], id="echo"),
    pytest.param("delivery_read", [], [], [], id="delivery_read"),
    pytest.param("postback", [], [], [], id="postback"),
    pytest.param("standby", [], [], [], id="standby"),
    pytest.param("other_page", [], [], [], id="other_page"),
    pytest.param("deleted", [], [], [], id="deleted"),
]


def test_the_flow_table_covers_every_fixture():
    assert sorted(param.id for param in FLOWS) == sorted(path.stem for path in EVENTS.glob("messenger/*.json"))


@pytest.mark.parametrize(("case", "message_counts", "media_statuses", "recipients"), FLOWS)
def test_fixture_end_to_end(api, aws, dispatcher, graph, case, message_counts, media_statuses, recipients):
    # WHEN the signed fixture is posted and every worker has run
    assert post_messenger(api, _served(case, graph)).status_code == 200
    dispatcher.drain()

    # THEN one TIP per sender with a usable message
    tip_items = tips(aws)
    assert sorted(int(item["message_count"]["N"]) for item in tip_items) == message_counts
    assert all(item["channel"]["S"] == "messenger" for item in tip_items)
    assert sorted(item["media_status"]["S"] for item in media_items(aws)) == media_statuses
    assert [item["sk"]["S"] for item in table_items(aws)].count("MSG") == sum(message_counts)
    if not message_counts:
        assert table_items(aws) == []
    # AND one acknowledgement per tip, through the Send API, in reply to the citizen
    sent = graph.messenger_replies
    assert [reply["payload"]["recipient"] for reply in sent] == [{"id": psid} for psid in recipients]
    assert all(reply["payload"]["messaging_type"] == "RESPONSE" for reply in sent)
    references = sorted(reply["payload"]["message"]["text"].split("Reference: ")[1].split("\n")[0] for reply in sent)
    assert references == sorted(item["reference"]["S"] for item in tip_items)
    assert all(item["ack_status"]["S"] == "sent" for item in tip_items)
    assert graph.replies == []  # nothing went to WhatsApp
    # AND the raw delivery is gone from the inbox
    assert bucket_keys(aws, "inbox/") == []


def test_album_in_one_event_is_one_tip_with_three_photos_and_one_reply(api, aws, dispatcher, graph):
    post_messenger(api, _served("album_three_images", graph))
    dispatcher.drain()

    [tip] = tips(aws)
    assert (tip["message_count"]["N"], tip["media_count"]["N"], tip["media_missing"]["N"]) == ("1", "3", "0")
    stored = media_items(aws)
    assert [item["media_status"]["S"] for item in stored] == ["stored"] * 3
    assert {item["content_type"]["S"] for item in stored} == {"image/jpeg"}
    assert sorted(item["s3_key"]["S"] for item in stored) == bucket_keys(aws, f"tips/{tip['tip_id']['S']}/")
    assert len(graph.messenger_replies) == 1
    # AND each photo came straight from its CDN URL: no media-id lookup, no token-bearing Graph call
    assert sorted(path for _, path in graph.state.requests if path != "/v25.0/me/messages") == [
        f"/cdn/album_three_images-{number}" for number in range(3)
    ]


def test_same_delivery_twice_records_nothing_new(api, aws, dispatcher, graph):
    # GIVEN a batch already processed
    body = _served("batch_mixed", graph)
    post_messenger(api, body)
    dispatcher.drain()
    before = table_items(aws)

    # WHEN Meta delivers the same bytes again
    assert post_messenger(api, body).status_code == 200
    dispatcher.drain()

    # THEN nothing new: one tip, two messages, one photo, one acknowledgement
    assert len(tips(aws)) == 1
    assert len(table_items(aws)) == len(before)
    assert len(media_items(aws)) == 1
    assert len(graph.messenger_replies) == 1


def test_echo_of_our_own_acknowledgement_does_not_loop(api, aws, dispatcher, graph):
    # GIVEN a tip acknowledged on Messenger
    post_messenger(api, load_event("messenger", "text_english"))
    dispatcher.drain()
    [ack] = graph.messenger_replies

    # WHEN Meta echoes that acknowledgement back, with its delivery and read receipts
    echo = json.loads(load_event("messenger", "echo"))
    echo["entry"][0]["messaging"][0]["message"]["text"] = ack["payload"]["message"]["text"]
    post_messenger(api, _wire(echo))
    post_messenger(api, load_event("messenger", "delivery_read"))
    dispatcher.drain()

    # THEN no new tip and no second message
    assert len(tips(aws)) == 1
    assert len(graph.messenger_replies) == 1


def test_refusal_outside_the_24_hour_window_marks_the_acknowledgement_failed(api, aws, dispatcher, graph):
    graph.reject_next("/v25.0/me/messages", 400, 10, 2018278)

    post_messenger(api, load_event("messenger", "text_english"))
    dispatcher.drain()

    [tip] = tips(aws)
    assert tip["ack_status"]["S"] == "failed"
    assert graph.messenger_replies == []


def test_throttled_send_is_retried_and_sent_once(api, aws, dispatcher, graph):
    # GIVEN the Send API rate-limits the first try, and a failed reply job becomes visible again at once
    _sqs().set_queue_attributes(QueueUrl=aws.physical["RepliesQueue"]["Ref"], Attributes={"VisibilityTimeout": "0"})
    graph.reject_next("/v25.0/me/messages", 400, 613)

    # WHEN
    post_messenger(api, load_event("messenger", "text_english"))
    dispatcher.drain()

    # THEN the retry sent it, once

    [tip] = tips(aws)
    assert tip["ack_status"]["S"] == "sent"
    assert len(graph.messenger_replies) == 1


def test_hindi_text_is_stored_as_unicode(api, aws, dispatcher, graph):
    post_messenger(api, HINDI)
    dispatcher.drain()

    [tip] = tips(aws)
    assert [value["S"] for value in tip["texts"]["L"]] == [
        "झरिया में रात 2 बजे से कोयला चोरी हो रही है। ट्रक नं. JH10/4417 रोज़ आता है।"
    ]


def test_shared_location_is_stored_without_the_senders_name(api, aws, dispatcher, graph):
    post_messenger(api, load_event("messenger", "location_legacy"))
    dispatcher.drain()

    [tip] = tips(aws)
    location = tip["location"]["M"]
    assert (location["latitude"]["N"], location["longitude"]["N"]) == ("23.7484", "86.4172")
    assert "name" not in location or location["name"].get("NULL") is True


# --- privacy --------------------------------------------------------------------------------------------------


def _stored_text(aws: Any) -> str:
    """Every stored item as text, binary attributes included both raw and base64-decoded, and every S3 key."""
    items = table_items(aws)
    parts = [json.dumps(items, ensure_ascii=False, default=str)]
    for item in items:
        for value in item.values():
            if "B" in value:
                raw = value["B"] if isinstance(value["B"], bytes) else base64.b64decode(value["B"])
                parts.append(raw.decode("latin-1"))
    parts += bucket_keys(aws)
    return "\n".join(parts)


def test_no_messenger_identifier_is_stored_or_logged(api, aws, dispatcher, graph, capsys, caplog):
    # GIVEN every Messenger fixture, each signed and delivered, with every attachment served
    for path in sorted(EVENTS.glob("messenger/*.json")):
        assert post_messenger(api, _served(path.stem, graph)).status_code == 200

    # WHEN everything is processed, acknowledgements included
    dispatcher.drain()

    # THEN tips exist and were acknowledged, yet no PSID, Page id, mid or name is in any item, key or log line
    assert len(tips(aws)) == 4  # Arjun, Priya, Rohit, Kavita: each sender's messages join one open tip
    assert len(graph.messenger_replies) == 4
    assert bucket_keys(aws, "inbox/") == []
    captured = capsys.readouterr()
    logs = captured.out + captured.err + "\n".join(record.getMessage() for record in caplog.records)
    assert "tip opened" in logs and "ignored event" in logs  # the logs were really captured
    haystack = _stored_text(aws) + logs
    leaks = sorted(identifier for identifier in who.MESSENGER_IDENTIFIERS if identifier in haystack)
    where = {leak: [line[:300] for line in haystack.splitlines() if leak in line][:2] for leak in leaks}
    assert leaks == [], where


# --- status by reference, on Messenger ------------------------------------------------------------------------


def _query(psid: str, mid: str, text: str) -> bytes:
    payload = json.loads(load_event("messenger", "text_english"))
    event = payload["entry"][0]["messaging"][0]
    event["sender"]["id"] = psid
    event["timestamp"] += 120_000
    event["message"] = {"mid": mid, "text": text}
    return _wire(payload)


@pytest.mark.parametrize(
    ("psid", "expected"),
    [
        pytest.param(who.ARJUN_PSID, "received, awaiting review", id="own_tip"),
        pytest.param(who.PRIYA_PSID, "This reference was not found", id="someone_elses_tip"),
    ],
)
def test_status_query_is_answered_on_messenger_only_for_the_senders_own_tip(
    api, aws, dispatcher, graph, psid, expected
):
    # GIVEN Arjun's tip, acknowledged with its reference
    post_messenger(api, load_event("messenger", "text_english"))
    dispatcher.drain()
    [tip] = tips(aws)
    reference = tip["reference"]["S"]

    # WHEN a sender asks for its status
    post_messenger(api, _query(psid, "m_status-query-0001", f"STATUS {reference}"))
    dispatcher.drain()

    # THEN the answer goes back through the Send API to the one who asked, and the question is not a tip
    [_, answer] = graph.messenger_replies
    assert answer["payload"]["recipient"] == {"id": psid}
    assert expected in answer["payload"]["message"]["text"]
    assert len(tips(aws)) == 1
