"""The X webhook through Chalice's test client over moto and the fake X API: CRC, signatures, every fixture,
DMs and public replies, media, redeliveries and privacy."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock
from urllib.parse import quote

import boto3
import pytest
from botocore.client import BaseClient

from shared import media, recording
from shared.channels import x
from shared.errors import MediaUnavailableError
from shared.texts import DM_INVITATION
from tests import x_helpers as who
from tests.conftest import EVENTS, FIXED_NOW, TEST_SETTINGS, load_event
from tests.helpers import bucket_keys, media_items, table_items, tips
from tests.x_helpers import post_x

PATH = "/webhooks/x"
DM_TEXT = load_event("x", "dm_text")
PHOTO_JPG = (EVENTS / "media" / "photo.jpg").read_bytes()
DM_PHOTO_PATH = f"/1.1/ton/data/dm/{who.DM_PHOTO}/{who.DM_PHOTO_MEDIA}/Hx7qL2pA.jpg"
TWEET_PHOTO_PATH = "/media/GdX3k9pWcAAbQ7e.jpg"


@pytest.fixture(autouse=True)
def x_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    who.use_x_settings(monkeypatch)


@pytest.fixture
def fake_x(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from who.start_fake_x(monkeypatch)


@pytest.fixture
def served_media(fake_x: Any) -> Any:
    """The fixtures' photos: the DM photo only with a valid OAuth signature, the tweet photo publicly."""
    fake_x.add_media(DM_PHOTO_PATH, PHOTO_JPG, signed=True)
    fake_x.add_media(TWEET_PHOTO_PATH, PHOTO_JPG, signed=False)
    return fake_x


@pytest.fixture(autouse=True)
def no_public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the loopback resolves (moto is in-process, the fake X API is on 127.0.0.1): no real network."""
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("127.0.0.1", "localhost"):
            return real_getaddrinfo(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"no DNS in tests: {host}")

    monkeypatch.setattr("shared.media.socket.getaddrinfo", loopback_only)


def _post(api: Any, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[x.SIGNATURE_HEADER] = signature
    return api.http.post(PATH, headers=headers, body=body)


def _queued_deliveries() -> int:
    attributes = boto3.client("sqs", region_name=TEST_SETTINGS["AWS_REGION"]).get_queue_attributes(
        QueueUrl=os.environ["DELIVERIES_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _assert_nothing_written(aws: Any) -> None:
    assert bucket_keys(aws) == []
    assert _queued_deliveries() == 0
    assert table_items(aws) == []


def _references(aws: Any) -> set[str]:
    return {item["reference"]["S"] for item in tips(aws)}


# --- CRC ------------------------------------------------------------------------------------------------------

CRC_TOKEN = "crc-7f3c1b2a-9e84-4d6b-b0a1-5c2e8f9d4a10"
CRC_EXPECTED = "sha256=T9ntZ4EEDDRSVtNcrZ6GKlmn2FkkrHBfhpRWGIGrSwQ="  # see tests/unit/test_x_adapter.py


def test_crc_is_answered_with_the_response_token_as_json(api):
    response = api.http.get(f"{PATH}?crc_token={quote(CRC_TOKEN)}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == {"response_token": CRC_EXPECTED}


@pytest.mark.parametrize("query", ["", "?crc_token=", "?crc=abc"], ids=["no_query", "empty_token", "other_name"])
def test_crc_without_a_token_is_refused_without_echo(api, query):
    response = api.http.get(f"{PATH}{query}")

    assert response.status_code == 403
    assert response.body == b""


# --- signatures -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing_header"),
        pytest.param("", id="empty_header"),
        pytest.param(x.sign(DM_TEXT, "test-x-consumer-secret").removeprefix("sha256="), id="no_prefix"),
        pytest.param(x.sign(DM_TEXT, "test-x-consumer-secret")[:-4], id="truncated"),
        pytest.param("sha256=" + "0" * 64, id="hex_not_base64"),
        pytest.param(x.sign(DM_TEXT, "not-our-consumer-secret"), id="wrong_secret"),
        pytest.param(x.sign(DM_TEXT, who.X_SETTINGS["X_ACCESS_TOKEN_SECRET"]), id="access_token_secret"),
        pytest.param(x.sign(load_event("x", "dm_hindi"), "test-x-consumer-secret"), id="signature_of_another_body"),
        pytest.param(
            x.sign(json.dumps(json.loads(DM_TEXT)).encode(), "test-x-consumer-secret"), id="reserialised_json"
        ),
    ],
)
def test_bad_signature_is_refused_and_nothing_is_written(api, aws, signature):
    response = _post(api, DM_TEXT, signature)

    assert response.status_code == 401
    assert "error" in response.json_body
    _assert_nothing_written(aws)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"for_user_id":"1582736491028374528","direct_message_events":[', id="cut_off"),
        pytest.param(b"for_user_id=1582736491028374528", id="form_encoded"),
        pytest.param(b"\xff\xfe{}", id="not_utf8"),
    ],
)
def test_signed_malformed_json_is_refused_with_the_reason(api, aws, body):
    response = _post(api, body, x.sign(body))

    assert response.status_code == 400
    assert "JSON" in response.json_body["error"]
    _assert_nothing_written(aws)


# --- a valid delivery -----------------------------------------------------------------------------------------


def test_valid_delivery_is_stored_byte_for_byte_and_answered_200(api, aws, fake_x):
    response = post_x(api, "dm_text")

    assert response.status_code == 200
    assert response.body == b""
    [key] = bucket_keys(aws, "inbox/")
    assert key.startswith("inbox/x/")
    bucket = aws.physical["MediaBucket"]["Ref"]
    assert boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == DM_TEXT
    assert _queued_deliveries() == 1
    # nothing else before the answer: no tip yet, no call to X
    assert table_items(aws) == []
    assert fake_x.state.requests == []


def test_valid_delivery_makes_at_most_two_aws_requests(api, aws):
    calls: list[tuple[str, str]] = []
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append((self.meta.service_model.service_name, operation_name))
        return original(self, operation_name, api_params)

    with mock.patch.object(BaseClient, "_make_api_call", counting):
        response = post_x(api, "batch_mixed")

    assert response.status_code == 200
    assert len(calls) <= 2, calls
    assert ("s3", "PutObject") in calls


# --- every fixture, end to end --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected_message_counts", "expected_dms", "expected_tweets", "expected_media"),
    [
        pytest.param("dm_text", [1], 1, 0, [], id="dm_text"),
        pytest.param("dm_hindi", [1], 1, 0, [], id="dm_hindi"),
        pytest.param("dm_photo", [1], 1, 0, ["stored"], id="dm_photo"),
        pytest.param("dm_location_legacy", [1], 1, 0, [], id="dm_location_legacy"),
        pytest.param("own_dm_echo", [], 0, 0, [], id="own_dm_echo"),
        pytest.param("mention_text", [1], 0, 1, [], id="mention_text"),
        pytest.param("mention_with_photo", [1], 0, 1, ["stored"], id="mention_with_photo"),
        pytest.param("mention_with_coordinates", [1], 0, 1, [], id="mention_with_coordinates"),
        pytest.param("own_tweet", [], 0, 0, [], id="own_tweet"),
        pytest.param("retweet_of_mention", [], 0, 0, [], id="retweet_of_mention"),
        pytest.param("other_account", [], 0, 0, [], id="other_account"),
        pytest.param("favorite_and_follow", [], 0, 0, [], id="favorite_and_follow"),
        pytest.param("typing_and_read", [], 0, 0, [], id="typing_and_read"),
        # Four DMs from two senders (our own echo and a read receipt ignored): two tips of two messages.
        pytest.param("batch_mixed", [2, 2], 2, 0, [], id="batch_mixed"),
    ],
)
def test_fixture_end_to_end(
    api, aws, dispatcher, served_media, case, expected_message_counts, expected_dms, expected_tweets, expected_media
):
    fake_x = served_media
    # WHEN the signed fixture is posted and every worker has run
    assert post_x(api, case, fake_x).status_code == 200
    dispatcher.drain()

    # THEN one tip per sender with a usable message, each acknowledged once on its own path
    assert sorted(int(item["message_count"]["N"]) for item in tips(aws)) == expected_message_counts
    assert (len(fake_x.dms), len(fake_x.tweets)) == (expected_dms, expected_tweets)
    assert sorted(item["media_status"]["S"] for item in media_items(aws)) == expected_media
    assert [item["sk"]["S"] for item in table_items(aws)].count("MSG") == sum(expected_message_counts)
    if not expected_message_counts:
        assert table_items(aws) == []
    # AND the raw delivery, which holds user ids and names, is gone from the inbox
    assert bucket_keys(aws, "inbox/") == []


def test_dm_gets_exactly_one_dm_back_with_the_reference(api, aws, dispatcher, fake_x):
    post_x(api, "dm_text")
    dispatcher.drain()

    [reference] = _references(aws)
    [dm] = fake_x.sent
    assert dm["kind"] == "dm"
    assert dm["recipient"] == who.PRIYA_ID
    assert f"Reference: {reference}" in dm["payload"]["text"]
    assert [item["ack_status"]["S"] for item in tips(aws)] == ["sent"]


def test_batch_acknowledges_each_sender_once_by_dm(api, aws, dispatcher, fake_x):
    post_x(api, "batch_mixed")
    dispatcher.drain()

    assert sorted(dm["recipient"] for dm in fake_x.dms) == sorted([who.PRIYA_ID, who.RAHUL_ID])
    assert {dm["payload"]["text"].split("Reference: ")[1].split("\n")[0] for dm in fake_x.dms} == _references(aws)


def test_mention_gets_only_the_public_dm_invitation(api, aws, dispatcher, fake_x):
    post_x(api, "mention_text")
    dispatcher.drain()

    [reference] = _references(aws)
    [reply] = fake_x.sent
    assert reply["kind"] == "tweet"
    assert reply["payload"] == {"text": DM_INVITATION, "reply": {"in_reply_to_tweet_id": who.TWEET_MENTION_TEXT}}
    assert reference not in reply["payload"]["text"]
    assert "DHN" not in reply["payload"]["text"]


def _second_mention(delay_seconds: int) -> bytes:
    payload = json.loads(load_event("x", "mention_text"))
    tweet = payload["tweet_create_events"][0]
    tweet["id_str"] = "1862004420000000099"
    tweet["id"] = int(tweet["id_str"])
    tweet["timestamp_ms"] = str(int(tweet["timestamp_ms"]) + delay_seconds * 1000)
    tweet["text"] = "@DhanbadPolice They were seen again near Bartand bus stand"
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def test_repeated_mentions_within_the_window_join_one_tip_with_one_public_reply(api, aws, dispatcher, fake_x):
    post_x(api, "mention_text")
    dispatcher.drain()
    post_x(api, _second_mention(120))
    dispatcher.drain()

    [tip] = tips(aws)
    assert tip["message_count"]["N"] == "2"
    assert len(fake_x.tweets) == 1
    assert fake_x.dms == []


def test_mention_after_the_window_is_a_new_tip_and_still_says_nothing_but_the_invitation(
    api, aws, dispatcher, fake_x, monkeypatch, fixed_clock
):
    post_x(api, "mention_text")
    dispatcher.drain()
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(hours=1))
    post_x(api, _second_mention(3600))
    dispatcher.drain()

    assert len(tips(aws)) == 2
    assert [tweet["payload"]["text"] for tweet in fake_x.tweets] == [DM_INVITATION, DM_INVITATION]


def test_dm_after_a_mention_opens_its_own_tip_and_gets_the_reference_by_dm(api, aws, dispatcher, fake_x):
    # GIVEN Rahul mentioned us and got the public invitation
    post_x(api, "mention_text")
    dispatcher.drain()
    # WHEN he then DMs us, within the grouping window
    post_x(api, "dm_hindi")
    dispatcher.drain()

    # THEN the DM is a tip of its own, whose reference he gets privately
    assert len(tips(aws)) == 2
    [dm] = fake_x.dms
    assert dm["recipient"] == who.RAHUL_ID
    dm_reference = dm["payload"]["text"].split("Reference: ")[1].split("\n")[0]
    assert dm_reference in _references(aws)
    assert all(dm_reference not in tweet["payload"]["text"] for tweet in fake_x.tweets)


def _echo_of(sent: dict[str, Any]) -> bytes:
    """What X delivers after we sent a DM: our own message_create, with the police account as sender."""
    payload = {
        "for_user_id": who.POLICE_ID,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": sent["id"],
                "created_timestamp": "1795840500000",
                "message_create": {
                    "target": {"recipient_id": sent["recipient"]},
                    "sender_id": who.POLICE_ID,
                    "source_app_id": who.POLICE_APP_ID,
                    "message_data": {"text": sent["payload"]["text"], "entities": {}},
                },
            }
        ],
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def _own_tweet_of(sent: dict[str, Any], replied_to: str) -> bytes:
    tweet = {
        "id_str": sent["id"],
        "timestamp_ms": "1795840500000",
        "text": sent["payload"]["text"],
        "in_reply_to_status_id_str": replied_to,
        "user": {"id_str": who.POLICE_ID},
        "entities": {"user_mentions": [{"id_str": who.RAHUL_ID}]},
    }
    return json.dumps({"for_user_id": who.POLICE_ID, "tweet_create_events": [tweet]}, ensure_ascii=False).encode()


def test_our_own_dm_and_reply_coming_back_trigger_nothing(api, aws, dispatcher, fake_x):
    # GIVEN a DM and a mention, both answered
    post_x(api, "dm_text")
    post_x(api, "mention_text")
    dispatcher.drain()
    items_before = table_items(aws)
    [dm] = fake_x.dms
    [tweet] = fake_x.tweets

    # WHEN X delivers our own DM and our own reply back to us, as it does
    post_x(api, _echo_of(dm))
    post_x(api, _own_tweet_of(tweet, who.TWEET_MENTION_TEXT))
    dispatcher.drain()

    # THEN no tip, no item, no second send: no loop
    assert sorted(map(str, table_items(aws))) == sorted(map(str, items_before))
    assert len(fake_x.sent) == 2


@pytest.mark.parametrize("case", ["own_dm_echo", "own_tweet"])
def test_own_fixture_events_write_and_send_nothing(api, aws, dispatcher, fake_x, case):
    post_x(api, case)
    dispatcher.drain()

    assert table_items(aws) == []
    assert fake_x.sent == []
    assert fake_x.state.requests == []


# --- media ----------------------------------------------------------------------------------------------------


def test_dm_photo_is_downloaded_with_a_valid_oauth_signature_and_stored(api, aws, dispatcher, served_media):
    fake_x = served_media
    post_x(api, "dm_photo", fake_x)
    dispatcher.drain()

    # THEN the download carried a signature the fake X API verified with the account's credentials
    assert ("GET", DM_PHOTO_PATH, True) in fake_x.state.requests
    [item] = media_items(aws)
    assert item["media_status"]["S"] == "stored"
    assert item["content_type"]["S"] == "image/jpeg"
    [tip] = tips(aws)
    assert [value["S"] for value in tip["texts"]["L"]] == ["Number plate of the truck that takes the coal at night"]
    bucket = aws.physical["MediaBucket"]["Ref"]
    assert boto3.client("s3").get_object(Bucket=bucket, Key=item["s3_key"]["S"])["Body"].read() == PHOTO_JPG


def test_dm_photo_is_not_served_without_a_signature(served_media):
    import urllib3

    response = urllib3.PoolManager().request("GET", f"{served_media.base_url}{DM_PHOTO_PATH}")
    assert response.status == 401


def test_dm_photo_refused_once_is_fetched_on_the_retry_with_a_fresh_signature(aws, served_media):
    # GIVEN the DM photo recorded as a tip, its media job not yet run
    fake_x = served_media
    message = x.parse_delivery(who.to_fake_media(load_event("x", "dm_photo"), fake_x)).messages[0]
    with mock.patch.object(recording.queues, "enqueue") as enqueue:
        assert recording.record_message(message, FIXED_NOW) == "opened"
    job = media.MediaJob.from_dict(
        next(call.args[1][0] for call in enqueue.call_args_list if call.args[0] == recording.MEDIA_QUEUE)
    )
    fake_x.fail_next(DM_PHOTO_PATH, 503)

    # WHEN the first download fails and the retry runs
    with pytest.raises(MediaUnavailableError):
        media.fetch_media(job)
    assert media.fetch_media(job, receive_count=2) == "stored"

    # THEN both requests were signed (a replayed nonce would have been refused) and the photo is stored
    assert [r for r in fake_x.state.requests if r[1] == DM_PHOTO_PATH] == [("GET", DM_PHOTO_PATH, True)] * 2
    assert [item["media_status"]["S"] for item in media_items(aws)] == ["stored"]


def test_mention_photo_is_fetched_without_credentials_and_stored(api, aws, dispatcher, served_media):
    fake_x = served_media
    post_x(api, "mention_with_photo", fake_x)
    dispatcher.drain()

    [item] = media_items(aws)
    assert item["media_status"]["S"] == "stored"
    [tweet] = fake_x.tweets
    assert tweet["payload"]["text"] == DM_INVITATION


# --- stored content -------------------------------------------------------------------------------------------


def test_hindi_dm_is_stored_unescaped(api, aws, dispatcher, fake_x):
    post_x(api, "dm_hindi")
    dispatcher.drain()

    [tip] = tips(aws)
    [text] = [value["S"] for value in tip["texts"]["L"]]
    assert "जुआ & शराब" in text
    assert "&amp;" not in text
    assert "<15" in text


def test_dm_location_is_stored_as_latitude_and_longitude(api, aws, dispatcher, fake_x):
    post_x(api, "dm_location_legacy")
    dispatcher.drain()

    [tip] = tips(aws)
    location = tip["location"]["M"]
    assert (float(location["latitude"]["N"]), float(location["longitude"]["N"])) == (23.7957, 86.4304)


def test_mention_coordinates_are_stored_as_latitude_and_longitude(api, aws, dispatcher, fake_x):
    post_x(api, "mention_with_coordinates")
    dispatcher.drain()

    [tip] = tips(aws)
    location = tip["location"]["M"]
    assert (float(location["latitude"]["N"]), float(location["longitude"]["N"])) == (23.7945, 86.4312)
    assert location["name"]["S"] == "Dhanbad, India"


# --- redelivery -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["batch_mixed", "mention_with_photo", "dm_photo"])
def test_same_delivery_twice_records_and_sends_nothing_new(api, aws, dispatcher, served_media, case):
    fake_x = served_media
    post_x(api, case, fake_x)
    dispatcher.drain()
    items_before = sorted(map(str, table_items(aws)))
    sent_before = fake_x.sent

    assert post_x(api, case, fake_x).status_code == 200
    dispatcher.drain()

    assert sorted(map(str, table_items(aws))) == items_before
    assert fake_x.sent == sent_before
    assert bucket_keys(aws, "inbox/") == []


# --- privacy --------------------------------------------------------------------------------------------------


def _stored_text(aws: Any) -> str:
    """Every stored item as text, binary attributes both raw and base64-decoded, and every S3 key and inbox copy."""
    items = table_items(aws)
    parts = [json.dumps(items, ensure_ascii=False, default=str)]
    for item in items:
        for value in item.values():
            if "B" in value:
                raw = value["B"] if isinstance(value["B"], bytes) else base64.b64decode(value["B"])
                parts.append(raw.decode("latin-1"))
    s3 = boto3.client("s3", region_name="ap-south-1")
    bucket = aws.physical["MediaBucket"]["Ref"]
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        parts.append(obj["Key"])
        if obj["Key"].startswith("inbox/"):
            parts.append(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("utf-8", "replace"))
    return "\n".join(parts)


def test_no_x_identifier_is_stored_or_logged(api, aws, dispatcher, served_media, capsys, caplog):
    # GIVEN every X fixture, signed and delivered, with its media served, and our own echoes delivered back
    fake_x = served_media
    for path in sorted((EVENTS / "x").glob("*.json")):
        assert post_x(api, path.read_bytes(), fake_x).status_code == 200
    dispatcher.drain()
    for dm in fake_x.dms:
        post_x(api, _echo_of(dm))
    dispatcher.drain()

    # THEN tips, media and acknowledgements exist
    assert len(tips(aws)) >= 6
    assert any(item["media_status"]["S"] == "stored" for item in media_items(aws))
    assert fake_x.dms and fake_x.tweets
    captured = capsys.readouterr()
    logs = captured.out + captured.err + "\n".join(record.getMessage() for record in caplog.records)
    assert "tip opened" in logs  # the logs were really captured
    assert "[fake-x]" in logs
    # AND no user id, screen name, display name, DM id or tweet id is in any item, key, inbox copy or log line
    everything = _stored_text(aws) + "\n" + logs
    leaks = sorted(identifier for identifier in who.X_IDENTIFIERS if identifier in everything)
    where = {leak: [line[:300] for line in everything.splitlines() if leak in line][:2] for leak in leaks}
    assert leaks == [], where
