"""The WhatsApp webhook through Chalice's test client over moto: handshake, signatures, durability, every fixture."""

from __future__ import annotations

import json
import os
import socket
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from shared.aws import clients
from shared.channels import meta
from tests import identities as who
from tests.conftest import EVENTS, TEST_SETTINGS, load_event
from tests.helpers import bucket_keys, media_items, post_whatsapp, table_items, tips

PATH = "/webhooks/whatsapp"
HINDI = load_event("whatsapp", "text_hindi")

PHOTO_JPG = (EVENTS / "media" / "photo.jpg").read_bytes()
PHOTO_PNG = (EVENTS / "media" / "photo.png").read_bytes()
# Minimal files with the right magic; their SHA-256 (base64) is the one written in the fixtures.
VIDEO_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(40)
VOICE_OGG = b"OggS\x00\x02" + bytes(58)
DOCUMENT_PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"

MEDIA: dict[str, tuple[str, bytes, str]] = {
    "image_with_caption": ("1587392046152734", PHOTO_JPG, "image/jpeg"),
    "image_no_caption": ("1698304127561823", PHOTO_PNG, "image/png"),
    "video": ("1102938475610293", VIDEO_MP4, "video/mp4"),
    "voice_note": ("1456372819203948", VOICE_OGG, "audio/ogg"),
    "document_pdf": ("1320495867120394", DOCUMENT_PDF, "application/pdf"),
}


@pytest.fixture(autouse=True)
def no_public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the loopback resolves (moto is in-process, the fake Graph API is on 127.0.0.1): no real network."""
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("127.0.0.1", "localhost"):
            return real_getaddrinfo(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"no DNS in tests: {host}")

    monkeypatch.setattr("shared.media.socket.getaddrinfo", loopback_only)


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


def _inbox_objects() -> list[str]:
    response = _s3().list_objects_v2(Bucket=os.environ["MEDIA_BUCKET_NAME"])
    return [item["Key"] for item in response.get("Contents", [])]


def _tip_items() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", region_name=TEST_SETTINGS["AWS_REGION"]).scan(
        TableName=os.environ["TIPS_TABLE_NAME"]
    )["Items"]
    return [item for item in items if item["sk"]["S"] == "TIP"]


def _assert_nothing_written(aws: Any) -> None:
    assert _inbox_objects() == []
    assert _queued_deliveries() == 0
    assert table_items(aws) == []


def _post(api: Any, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return api.http.post(PATH, headers=headers, body=body)


# --- handshake ------------------------------------------------------------------------------------------------


def _handshake(api: Any, token: str) -> Any:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": token}
    return api.http.get(f"{PATH}?{urlencode(query)}")


def test_handshake_echoes_the_challenge_as_plain_text(api):
    # WHEN Meta verifies the callback URL with our token
    response = _handshake(api, TEST_SETTINGS["META_VERIFY_TOKEN"])

    # THEN the body is exactly the challenge, not JSON-quoted
    assert response.status_code == 200
    assert response.body == b"1158201444"
    assert response.headers["Content-Type"] == "text/plain"


def test_handshake_with_wrong_token_is_refused_without_echo(api):
    response = _handshake(api, "not-our-token")

    assert response.status_code == 403
    assert response.body == b""
    assert b"1158201444" not in response.body


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
        pytest.param(meta.sign(load_event("whatsapp", "text_english")), id="signature_of_another_body"),
        pytest.param(meta.sign(json.dumps(json.loads(HINDI)).encode()), id="signature_of_reserialised_json"),
    ],
)
def test_bad_signature_is_refused_and_nothing_is_written(api, aws, signature):
    # WHEN
    response = _post(api, HINDI, signature)

    # THEN
    assert response.status_code == 401
    assert "error" in response.json_body
    _assert_nothing_written(aws)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"object":"whatsapp_business_account","entry":[', id="cut_off"),
        pytest.param(b"object=whatsapp_business_account", id="form_encoded"),
        pytest.param(b"\xff\xfe{}", id="not_utf8"),
    ],
)
def test_signed_malformed_json_is_refused_with_the_reason(api, aws, body):
    # WHEN a correctly signed body is not JSON
    response = _post(api, body, meta.sign(body))

    # THEN
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert "JSON" in response.json_body["error"]
    _assert_nothing_written(aws)


# --- a valid delivery -----------------------------------------------------------------------------------------


def test_valid_delivery_is_stored_byte_for_byte_and_queued(api, aws, fake_graph):
    # WHEN
    response = post_whatsapp(api, HINDI)

    # THEN Meta gets exactly 200
    assert response.status_code == 200
    # AND the raw bytes are in the inbox, unchanged (escapes and all)
    [key] = _inbox_objects()
    assert key.startswith("inbox/whatsapp/")
    assert _s3().get_object(Bucket=os.environ["MEDIA_BUCKET_NAME"], Key=key)["Body"].read() == HINDI
    # AND one announcement points at it
    messages = _sqs().receive_message(QueueUrl=os.environ["DELIVERIES_QUEUE_URL"], MaxNumberOfMessages=10)
    [announcement] = [json.loads(message["Body"]) for message in messages["Messages"]]
    assert announcement["channel"] == "whatsapp"
    assert announcement["inbox_key"] == key
    # AND nothing else happened before the answer: no tip yet, no call to the Graph API
    assert table_items(aws) == []
    assert fake_graph.state.requests == []


def test_valid_delivery_makes_at_most_two_aws_requests(api, aws):
    # GIVEN a counter around every botocore API call
    calls: list[tuple[str, str]] = []
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append((self.meta.service_model.service_name, operation_name))
        return original(self, operation_name, api_params)

    # WHEN
    with mock.patch.object(BaseClient, "_make_api_call", counting):
        response = post_whatsapp(api, HINDI)

    # THEN
    assert response.status_code == 200
    assert len(calls) <= 2, calls
    assert ("s3", "PutObject") in calls


def test_inbox_write_failure_answers_503_and_queues_nothing(api, aws):
    # GIVEN S3 refuses the inbox write
    failing_s3 = mock.Mock()
    failing_s3.put_object.side_effect = ClientError(
        {"Error": {"Code": "InternalError", "Message": "We encountered an internal error"}}, "PutObject"
    )

    def client(service: str) -> Any:
        return failing_s3 if service == "s3" else clients.client(service)

    # WHEN
    with mock.patch("shared.aws.inbox.client", side_effect=client):
        response = post_whatsapp(api, HINDI)

    # THEN Meta is told to retry, and no announcement points at a body that is not there
    assert response.status_code == 503
    assert response.json_body == {"error": "temporarily unavailable, please retry"}
    assert failing_s3.put_object.call_count == 1
    assert _queued_deliveries() == 0
    assert _inbox_objects() == []


# --- every fixture, end to end --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected_message_counts", "expected_media"),
    [
        pytest.param("text_hindi", [1], [], id="text_hindi"),
        pytest.param("image_with_caption", [1], ["stored"], id="image_with_caption"),
        # The webhook carries a lookaside URL, which cannot be resolved here: the download stays pending.
        pytest.param("image_no_caption", [1], ["pending"], id="image_no_caption"),
        pytest.param("video", [1], ["stored"], id="video"),
        pytest.param("voice_note", [1], ["stored"], id="voice_note"),
        pytest.param("document_pdf", [1], ["stored"], id="document_pdf"),
        pytest.param("location_named", [1], [], id="location_named"),
        pytest.param("location_pin", [1], [], id="location_pin"),
        pytest.param("timestamp_milliseconds", [1], [], id="timestamp_milliseconds"),
        pytest.param("username_only", [1], [], id="username_only"),
        # Five messages from four senders: Ravi's text and location join one tip.
        pytest.param("batch_many", [1, 1, 1, 2], [], id="batch_many"),
        pytest.param("statuses_only", [], [], id="statuses_only"),
        pytest.param("status_failed", [], [], id="status_failed"),
        pytest.param("unsupported_type", [], [], id="unsupported_type"),
        pytest.param("reaction", [], [], id="reaction"),
        pytest.param("group_message", [], [], id="group_message"),
        pytest.param("system_message", [], [], id="system_message"),
        pytest.param("forwarded_text", [1], [], id="forwarded_text"),
        pytest.param("answer_to_followup", [1], [], id="answer_to_followup"),
        pytest.param("quotes_wanted_notice", [1], [], id="quotes_wanted_notice"),
        pytest.param("non_messages_field", [], [], id="non_messages_field"),
        pytest.param("not_whatsapp_object", [], [], id="not_whatsapp_object"),
        # Sent in 2025: older than the replay horizon at the fixed test clock, so dropped.
        pytest.param("text_english", [], [], id="text_english_stale"),
    ],
)
def test_fixture_end_to_end(api, aws, dispatcher, fake_graph, case, expected_message_counts, expected_media):
    # GIVEN the Graph API serves the fixture's media
    if case in MEDIA:
        fake_graph.add_media(*MEDIA[case])

    # WHEN the signed fixture is posted and every worker has run
    assert post_whatsapp(api, case).status_code == 200
    dispatcher.drain()

    # THEN one TIP per sender with a usable message, one acknowledgement each
    tip_items = _tip_items()
    assert len(tip_items) == len(expected_message_counts)
    assert sorted(int(item["message_count"]["N"]) for item in tip_items) == expected_message_counts
    assert len(fake_graph.replies) == len(expected_message_counts)
    assert sorted(item["media_status"]["S"] for item in media_items(aws)) == expected_media
    # AND one dedupe record per recorded message, across every entry and change
    assert [item["sk"]["S"] for item in table_items(aws)].count("MSG") == sum(expected_message_counts)
    if not expected_message_counts:
        assert table_items(aws) == []
    # AND the raw delivery, which holds phone numbers, is gone from the inbox
    assert bucket_keys(aws, "inbox/") == []


@pytest.mark.parametrize(
    ("case", "field", "recipient"),
    [
        pytest.param("username_only", "recipient", who.NEHA_BSUID, id="username_user_by_bsuid"),
        pytest.param("video", "to", who.AMIT_PHONE, id="phone_only_user_by_phone"),
        pytest.param("text_hindi", "to", who.SUNITA_PHONE, id="phone_and_bsuid_user_by_phone"),
    ],
)
def test_acknowledgement_is_addressed_as_the_sender_can_be_reached(api, dispatcher, fake_graph, case, field, recipient):
    if case in MEDIA:
        fake_graph.add_media(*MEDIA[case])
    post_whatsapp(api, case)
    dispatcher.drain()

    [reply] = fake_graph.replies
    assert reply["payload"][field] == recipient
    other_field = "recipient" if field == "to" else "to"
    assert other_field not in reply["payload"]


def test_batch_redelivered_by_meta_records_nothing_new(api, aws, dispatcher, fake_graph):
    # GIVEN a batch already processed
    post_whatsapp(api, "batch_many")
    dispatcher.drain()

    # WHEN Meta delivers the same bytes again (it retries anything but 200, to every subscribed app)
    assert post_whatsapp(api, "batch_many").status_code == 200
    dispatcher.drain()

    # THEN still four tips, five messages and four acknowledgements
    assert len(_tip_items()) == 4
    assert [item["sk"]["S"] for item in table_items(aws)].count("MSG") == 5
    assert len(fake_graph.replies) == 4


def test_forwarded_tip_is_flagged(api, aws, dispatcher, fake_graph):
    post_whatsapp(api, "forwarded_text")
    dispatcher.drain()

    [tip] = tips(aws)
    assert tip["forwarded"]["BOOL"] is True


def test_hindi_text_is_stored_as_unicode(api, aws, dispatcher, fake_graph):
    post_whatsapp(api, "text_hindi")
    dispatcher.drain()

    [tip] = tips(aws)
    assert [value["S"] for value in tip["texts"]["L"]] == [
        "बैंक मोड़ बस स्टैंड के पीछे हर शाम अवैध शराब बेची जा रही है। मकान नं. 12/4 के पास।"
    ]
