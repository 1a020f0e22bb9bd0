"""X adapter: CRC, webhook signature, OAuth 1.0a signer, Account Activity parsing, replies and media headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from shared import media as media_use_case
from shared.channels import x
from shared.domain import Channel, InboundMessage, Location, MediaKind, MediaRef, ReplyAddress
from shared.errors import (
    InvalidSignatureError,
    MalformedPayloadError,
    MediaRejectedError,
    ReplyRejectedError,
    ReplyUnavailableError,
)
from shared.texts import DM_INVITATION, acknowledgement
from tests import x_helpers as who
from tests.conftest import EVENTS, load_event
from tools.fake_x import TWEET_MAX_WEIGHTED_LENGTH, weighted_length

CONSUMER_SECRET = who.X_SETTINGS["X_CONSUMER_SECRET"]


@pytest.fixture(autouse=True)
def x_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    who.use_x_settings(monkeypatch)


@pytest.fixture
def fake_x(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from who.start_fake_x(monkeypatch)


# --- CRC ------------------------------------------------------------------------------------------------------

CRC_TOKEN = "crc-7f3c1b2a-9e84-4d6b-b0a1-5c2e8f9d4a10"
# base64(HMAC-SHA256("test-x-consumer-secret", CRC_TOKEN)), computed once with `openssl dgst -sha256 -hmac … -binary`.
CRC_EXPECTED = "sha256=T9ntZ4EEDDRSVtNcrZ6GKlmn2FkkrHBfhpRWGIGrSwQ="


def test_crc_response_matches_a_precomputed_vector() -> None:
    assert x.crc_response(CRC_TOKEN) == {"response_token": CRC_EXPECTED}


def test_crc_response_uses_the_consumer_secret_not_the_access_token_secret(monkeypatch) -> None:
    monkeypatch.setenv("X_CONSUMER_SECRET", "another-secret")
    assert x.crc_response(CRC_TOKEN) != {"response_token": CRC_EXPECTED}
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "changed")
    monkeypatch.setenv("X_CONSUMER_SECRET", CONSUMER_SECRET)
    assert x.crc_response(CRC_TOKEN) == {"response_token": CRC_EXPECTED}


# --- webhook signature ----------------------------------------------------------------------------------------

BODY = b'{"for_user_id":"1582736491028374528","favorite_events":[]}'
# base64(HMAC-SHA256("test-x-consumer-secret", BODY)), computed once with openssl.
BODY_SIGNATURE = "sha256=3K64/ufsnyKeifxjswIMuOCTcvpWNa6U7pbkySK/48c="


def test_sign_matches_a_precomputed_vector() -> None:
    by_hand = base64.b64encode(hmac.new(CONSUMER_SECRET.encode(), BODY, hashlib.sha256).digest()).decode()
    assert x.sign(BODY) == BODY_SIGNATURE == f"sha256={by_hand}"


def test_good_signature_is_accepted() -> None:
    x.verify_signature(BODY, BODY_SIGNATURE)


def test_signature_with_surrounding_whitespace_in_the_value_is_accepted() -> None:
    x.verify_signature(BODY, BODY_SIGNATURE.replace("sha256=", "sha256= ") + " ")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(BODY_SIGNATURE.removeprefix("sha256="), id="no_prefix"),
        pytest.param(BODY_SIGNATURE.replace("sha256=", "SHA256="), id="prefix_other_case"),
        pytest.param(BODY_SIGNATURE.replace("sha256=", "sha1="), id="other_algorithm"),
        pytest.param("sha256=" + hashlib.sha256(BODY).hexdigest(), id="hex_like_meta"),
        pytest.param("sha256=!!!not-base64!!!", id="not_base64"),
        pytest.param("sha256=" + base64.b64encode(b"short").decode(), id="unequal_length"),
        pytest.param(BODY_SIGNATURE[:-4], id="truncated"),
        pytest.param(x.sign(BODY, consumer_secret="not-our-secret"), id="wrong_secret"),
        pytest.param(x.sign(BODY + b" ", consumer_secret=CONSUMER_SECRET), id="signature_of_another_body"),
        pytest.param("sha256=" + base64.b64encode(bytes(32)).decode(), id="zeros"),
        pytest.param("sha256=टोकन", id="non_ascii"),
    ],
)
def test_bad_signatures_are_rejected(header: str | None) -> None:
    with pytest.raises(InvalidSignatureError):
        x.verify_signature(BODY, header)


def test_signature_is_over_the_raw_bytes_not_reserialised_json() -> None:
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY
    with pytest.raises(InvalidSignatureError):
        x.verify_signature(reserialised, BODY_SIGNATURE)


def test_signature_comparison_is_constant_time() -> None:
    with mock.patch.object(x.hmac, "compare_digest", wraps=hmac.compare_digest) as spy:
        x.verify_signature(BODY, BODY_SIGNATURE)
        with pytest.raises(InvalidSignatureError):
            x.verify_signature(BODY, x.sign(BODY, consumer_secret="wrong"))
    assert spy.call_count == 2


# --- OAuth 1.0a signer ----------------------------------------------------------------------------------------

# X's worked example, "Creating a signature": https://docs.x.com/fundamentals/authentication/oauth-1-0a/creating-a-signature
# (the same credentials and request as https://developer.x.com/en/docs/authentication/oauth-1-0a/creating-a-signature)
DOC_CREDENTIALS = {
    "consumer_key": "xvz1evFS4wEEPTGEFPHBog",
    "consumer_secret": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    "token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    "token_secret": "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
}
DOC_NONCE, DOC_TIMESTAMP = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", 1318622958
DOC_STATUS = [("status", "Hello Ladies + Gentlemen, a signed OAuth request!")]
DOC_BASE_STRING = (
    "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26"
    "oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26"
    "oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26"
    "oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26"
    "status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
)


def _doc_header(url: str) -> str:
    return x.oauth_header(
        "POST", url, **DOC_CREDENTIALS, body_params=DOC_STATUS, nonce=DOC_NONCE, timestamp=DOC_TIMESTAMP
    )


def test_signer_reproduces_x_documented_base_string_and_signature() -> None:
    url = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
    oauth = x.parse_oauth_header(_doc_header(url))
    oauth_params = [(k, v) for k, v in oauth.items() if k != "oauth_signature"]

    assert x.signature_base_string("POST", url, [*oauth_params, *DOC_STATUS]) == DOC_BASE_STRING
    assert oauth["oauth_signature"] == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


def test_signer_reproduces_the_authorization_header_of_the_older_x_example() -> None:
    # "Authorizing a request" (same credentials, the API's version 1 URL): the complete header, byte for byte.
    header = _doc_header("https://api.twitter.com/1/statuses/update.json?include_entities=true")

    assert header == (
        'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", '
        'oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D", oauth_signature_method="HMAC-SHA1", '
        'oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", '
        'oauth_version="1.0"'
    )


def test_signer_reproduces_rfc_5849_base_string() -> None:
    # RFC 5849 §3.4.1.1: repeated names, empty values, encoded names and values, query and body together.
    params = [
        ("c2", ""),
        ("a3", "2 q"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
    ]
    base = x.signature_base_string("POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", params)

    assert base == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26"
        "c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26"
        "oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
    )
    # HMAC-SHA1 under the RFC's client and token secrets, computed once with `openssl dgst -sha1 -hmac`.
    assert x.oauth_signature(base, "j49sk3j29djd", "dh893hdasih9") == "r6/TJjbCOr97/+UU0NsvSne7s5g="


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://EXAMPLE.COM:80/r%20v/X?id=123", "http://example.com/r%20v/X", id="rfc_5849_3_4_1_2_a"),
        pytest.param("https://www.example.net:8080/?q=1", "https://www.example.net:8080/", id="rfc_5849_3_4_1_2_b"),
        pytest.param("https://api.x.com:443/2/tweets#frag", "https://api.x.com/2/tweets", id="default_https_port"),
        pytest.param("https://api.x.com", "https://api.x.com/", id="empty_path"),
    ],
)
def test_base_string_uri(url: str, expected: str) -> None:
    assert x.base_string_uri(url) == expected


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen"),
        ("An encoded string!", "An%20encoded%20string%21"),
        ("Dogs, Cats & Mice", "Dogs%2C%20Cats%20%26%20Mice"),
        ("☃", "%E2%98%83"),
        ("-._~", "-._~"),
    ],
)
def test_percent_encoding_follows_x_documented_examples(raw: str, encoded: str) -> None:
    assert x.percent_encode(raw) == encoded


def test_json_body_is_not_signed_but_query_parameters_are() -> None:
    kwargs = {**DOC_CREDENTIALS, "nonce": "n", "timestamp": 1}
    plain = x.oauth_header("POST", "https://api.x.com/2/tweets", **kwargs)
    with_query = x.oauth_header("POST", "https://api.x.com/2/tweets?a=1", **kwargs)
    assert x.parse_oauth_header(plain)["oauth_signature"] != x.parse_oauth_header(with_query)["oauth_signature"]


def test_each_header_has_a_fresh_nonce_and_the_current_time() -> None:
    first = x.parse_oauth_header(x.oauth_header("GET", "https://ton.twitter.com/a", **DOC_CREDENTIALS))
    second = x.parse_oauth_header(x.oauth_header("GET", "https://ton.twitter.com/a", **DOC_CREDENTIALS))
    assert first["oauth_nonce"] != second["oauth_nonce"]
    assert len(first["oauth_nonce"]) >= 32
    assert abs(int(first["oauth_timestamp"]) - datetime.now(UTC).timestamp()) < 60


@pytest.mark.parametrize("value", ["", "Bearer abc", "OAuth", 'OAuth oauth_token="a%20b", junk, x="1"'])
def test_parse_oauth_header_tolerates_junk(value: str) -> None:
    params = x.parse_oauth_header(value)
    assert isinstance(params, dict)
    assert "oauth_signature" not in params


# --- parsing: every fixture -----------------------------------------------------------------------------------


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _dm(dm_id: str, ms: int, sender: str, text: str | None, **fields: Any) -> InboundMessage:
    return InboundMessage(
        channel=Channel.X,
        sender_id=sender,
        external_id=f"dm:{dm_id}",
        sent_at=_at(ms),
        reply_address=ReplyAddress(channel=Channel.X, recipient=sender, recipient_kind="dm", public=False),
        text=text,
        **fields,
    )


def _mention(tweet_id: str, ms: int, author: str, text: str | None, **fields: Any) -> InboundMessage:
    return InboundMessage(
        channel=Channel.X,
        sender_id=f"mention:{author}",
        external_id=f"tweet:{tweet_id}",
        sent_at=_at(ms),
        reply_address=ReplyAddress(
            channel=Channel.X, recipient=author, recipient_kind="mention", in_reply_to=tweet_id, public=True
        ),
        text=text,
        **fields,
    )


T0 = 1795840000000  # 2026-11-28 04:26:40 UTC
B0 = T0 + 400000
TON_URL = f"https://ton.twitter.com/1.1/ton/data/dm/{who.DM_PHOTO}/{who.DM_PHOTO_MEDIA}/Hx7qL2pA.jpg"

CASES = [
    pytest.param(
        "dm_text",
        [
            _dm(
                who.DM_TEXT,
                T0,
                who.PRIYA_ID,
                "Illegal coal is loaded onto trucks every night near Katras More, behind the petrol pump. Around 1 am.",
            )
        ],
        [],
        id="dm_text",
    ),
    pytest.param(
        "dm_hindi",
        [
            _dm(
                who.DM_HINDI,
                T0 + 30000,
                who.RAHUL_ID,
                "झरिया में रात 11 बजे के बाद जुआ & शराब का अड्डा चलता है, पुराने सिनेमा हॉल के पीछे। बच्चे भी जाते हैं <15 साल के।",
            )
        ],
        [],
        id="dm_hindi",
    ),
    pytest.param(
        "dm_photo",
        [
            _dm(
                who.DM_PHOTO,
                T0 + 60000,
                who.PRIYA_ID,
                "Number plate of the truck that takes the coal at night",
                media=(MediaRef(kind=MediaKind.IMAGE, url=TON_URL),),
            )
        ],
        [],
        id="dm_photo",
    ),
    pytest.param(
        "dm_location_legacy",
        [
            _dm(
                who.DM_LOCATION,
                T0 + 90000,
                who.ANJALI_ID,
                "They gather here after 10 pm",
                location=Location(latitude=23.7957, longitude=86.4304),
            )
        ],
        [],
        id="dm_location_legacy",
    ),
    pytest.param("own_dm_echo", [], ["own_message"], id="own_dm_echo"),
    pytest.param(
        "mention_text",
        [
            _mention(
                who.TWEET_MENTION_TEXT,
                T0 + 150000,
                who.RAHUL_ID,
                "Chain snatching gang on Hirak Road near the flyover & they ride a black Pulsar with no number plate",
            )
        ],
        [],
        id="mention_text",
    ),
    pytest.param(
        "mention_with_photo",
        [
            _mention(
                who.TWEET_MENTION_PHOTO,
                T0 + 180000,
                who.ANJALI_ID,
                "Garbage dumped and burnt daily here",
                media=(
                    MediaRef(kind=MediaKind.IMAGE, url="https://pbs.twimg.com/media/GdX3k9pWcAAbQ7e.jpg?name=orig"),
                ),
            )
        ],
        [],
        id="mention_with_photo",
    ),
    pytest.param(
        "mention_with_coordinates",
        [
            _mention(
                who.TWEET_MENTION_COORDINATES,
                T0 + 210000,
                who.PRIYA_ID,
                "Illegal sand mining every night at the Damodar river ghat near Bhowra, tractors start at 11 pm and go "
                "towards Jharia through the colliery road. Local guards are paid to look away.",
                location=Location(latitude=23.7945, longitude=86.4312, name="Dhanbad, India"),
            )
        ],
        [],
        id="mention_with_coordinates",
    ),
    pytest.param("own_tweet", [], ["own_message"], id="own_tweet"),
    pytest.param("retweet_of_mention", [], ["retweet"], id="retweet_of_mention"),
    pytest.param("other_account", [], ["other_account"], id="other_account"),
    pytest.param("favorite_and_follow", [], ["favorite", "follow"], id="favorite_and_follow"),
    pytest.param("typing_and_read", [], ["read", "typing"], id="typing_and_read"),
    pytest.param(
        "batch_mixed",
        [
            _dm(who.DM_BATCH_PRIYA_1, B0, who.PRIYA_ID, "The same trucks are back tonight"),
            _dm(who.DM_BATCH_RAHUL_1, B0 + 5000, who.RAHUL_ID, "कल रात फिर से जुआ चल रहा था"),
            _dm(who.DM_BATCH_PRIYA_2, B0 + 40000, who.PRIYA_ID, "Three trucks, all without tarpaulin"),
            _dm(who.DM_BATCH_RAHUL_2, B0 + 70000, who.RAHUL_ID, "Police jeep > 2 baar aayi lekin kuch nahi hua"),
        ],
        ["own_message", "read"],
        id="batch_mixed",
    ),
]
FIXTURES = [param.id for param in CASES]


@pytest.mark.parametrize(("case", "expected_messages", "expected_ignored"), CASES)
def test_fixture_parses_to_expected_messages(
    case: str, expected_messages: list[InboundMessage], expected_ignored: list[str]
) -> None:
    # WHEN
    parsed = x.parse_delivery(load_event("x", case))

    # THEN
    assert list(parsed.messages) == expected_messages
    assert sorted(parsed.ignored) == sorted(expected_ignored)


def test_every_fixture_is_in_the_table() -> None:
    assert sorted(path.stem for path in (EVENTS / "x").glob("*.json")) == sorted(FIXTURES)


def test_coordinates_are_read_in_geojson_order() -> None:
    # GIVEN a tweet whose GeoJSON "coordinates" are [lon, lat] (its deprecated "geo" is [lat, lon])
    tweet = json.loads(load_event("x", "mention_with_coordinates"))["tweet_create_events"][0]
    assert tweet["coordinates"]["coordinates"] == [86.4312, 23.7945]

    # WHEN
    [message] = x.parse_delivery(load_event("x", "mention_with_coordinates")).messages

    # THEN Dhanbad, not a point in the Indian Ocean
    assert (message.location.latitude, message.location.longitude) == (23.7945, 86.4312)


def test_place_without_coordinates_gives_no_location() -> None:
    # GIVEN a mention with only a city-level place (what X sends since 2019)
    payload = json.loads(load_event("x", "mention_with_coordinates"))
    payload["tweet_create_events"][0]["coordinates"] = None

    # WHEN
    [message] = x.parse_delivery(json.dumps(payload).encode()).messages

    # THEN no made-up point in the middle of the bounding box
    assert message.location is None


def test_sent_at_is_timezone_aware_utc() -> None:
    for case in ("dm_text", "mention_text"):
        sent_at = x.parse_delivery(load_event("x", case)).messages[0].sent_at
        assert sent_at.utcoffset() is not None
        assert sent_at.utcoffset().total_seconds() == 0


def test_parsing_reads_the_account_id_from_configuration(monkeypatch) -> None:
    # GIVEN the same delivery, but we are another account
    monkeypatch.setenv("X_ACCOUNT_ID", who.OTHER_ACCOUNT_ID)

    # THEN it is not ours to read
    assert x.parse_delivery(load_event("x", "dm_text")).ignored == ("other_account",)


def test_mentions_and_dms_of_one_person_are_grouped_apart() -> None:
    # GIVEN Priya's DM and Priya's mention
    [dm] = x.parse_delivery(load_event("x", "dm_text")).messages
    [mention] = x.parse_delivery(load_event("x", "mention_with_coordinates")).messages

    # THEN they have different sender ids, so that a DM after a mention opens a tip whose reference goes by DM
    assert dm.sender_id == who.PRIYA_ID
    assert mention.sender_id == f"mention:{who.PRIYA_ID}"
    assert dm.reply_address.recipient == mention.reply_address.recipient == who.PRIYA_ID


# --- the fixtures themselves ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", FIXTURES)
def test_fixture_is_account_activity_json_with_string_ids(case: str) -> None:
    payload = json.loads(load_event("x", case).decode("utf-8"))
    assert isinstance(payload["for_user_id"], str)
    for event in payload.get("direct_message_events", []):
        assert isinstance(event["id"], str)
        assert isinstance(event["created_timestamp"], str)
        assert isinstance(event["message_create"]["sender_id"], str)
    for tweet in payload.get("tweet_create_events", []):
        assert isinstance(tweet["id_str"], str)
        assert str(tweet["id"]) == tweet["id_str"]  # the number is there too, beyond 2**53
        assert isinstance(tweet["timestamp_ms"], str)


def test_hindi_fixture_holds_html_entities_as_x_sends_them() -> None:
    raw = load_event("x", "dm_hindi")
    assert "जुआ &amp; शराब".encode() in raw
    assert b"&lt;15" in raw


_IDENTIFIER_KEYS = {
    "id",
    "id_str",
    "sender_id",
    "recipient_id",
    "for_user_id",
    "source_app_id",
    "screen_name",
    "name",
    "in_reply_to_status_id_str",
    "in_reply_to_user_id_str",
    "in_reply_to_screen_name",
    "last_read_event_id",
}


def _identifiers(node: Any) -> Iterator[str]:
    """Every value in a payload that names a person, an account or a message (places and apps excepted)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("place", "apps"):
                continue
            if key in _IDENTIFIER_KEYS and isinstance(value, str | int) and not isinstance(value, bool):
                yield str(value)
            yield from _identifiers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _identifiers(item)


def test_every_identifier_in_the_fixtures_is_listed_for_the_privacy_scan() -> None:
    found: set[str] = set()
    for case in FIXTURES:
        payload = json.loads(load_event("x", case))
        found |= set(_identifiers(payload))
        for key in ("users", "apps"):
            found |= set(payload.get(key, {}))
    # The favorite event's own id is a hex event id, and "Dhanbad Police"/"Dhanbad Traffic Police" are accounts.
    accounts = {"Dhanbad Police", "Dhanbad Traffic Police", "a4c1f0e3b2d94e6f8a7b5c3d2e1f0a9b"}
    assert found - accounts == set(who.X_IDENTIFIERS) | set(who.ACCOUNT_IDENTIFIERS)


# --- hostile and broken input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{not json", id="truncated"),
        pytest.param(b'{"for_user_id":"1582736491028374528","direct_message_events":[', id="cut_off"),
        pytest.param(b"\xff\xfe\x00{", id="not_utf8"),
        pytest.param(b"for_user_id=1582736491028374528", id="form_encoded"),
    ],
)
def test_malformed_json_raises_malformed_payload(raw: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        x.parse_delivery(raw)


def _delivery(**events: Any) -> bytes:
    return json.dumps({"for_user_id": who.POLICE_ID, **events}).encode()


def _dm_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message_create",
        "id": who.DM_TEXT,
        "created_timestamp": str(T0),
        "message_create": {
            "target": {"recipient_id": who.POLICE_ID},
            "sender_id": who.PRIYA_ID,
            "message_data": {"text": "hello", "entities": {}},
        },
    }
    event.update(overrides)
    return event


def _with_data(**data: Any) -> dict[str, Any]:
    event = _dm_event()
    event["message_create"]["message_data"] = data
    return event


def _tweet(**overrides: Any) -> dict[str, Any]:
    tweet: dict[str, Any] = {
        "id_str": who.TWEET_MENTION_TEXT,
        "timestamp_ms": str(T0),
        "text": "@DhanbadPolice hello",
        "truncated": False,
        "user": {"id_str": who.RAHUL_ID},
        "entities": {"user_mentions": [{"id_str": who.POLICE_ID}]},
    }
    tweet.update(overrides)
    return tweet


def _video(variants: Any, media_type: str = "video") -> dict[str, Any]:
    return {
        "type": media_type,
        "media_url_https": "https://pbs.twimg.com/ext_tw_video_thumb/1/pu/img/a.jpg",
        "video_info": {"variants": variants},
    }


_GOOD_DM_TEXT = "hello"

JUNK = [
    pytest.param(b"[]", ["malformed"], id="array"),
    pytest.param(b'"text"', ["malformed"], id="string"),
    pytest.param(b"null", ["malformed"], id="null"),
    pytest.param(b"{}", ["not_account_activity"], id="empty_object"),
    pytest.param(b'{"for_user_id": 1582736491028374528}', ["not_account_activity"], id="for_user_id_a_number"),
    pytest.param(b'{"data": {"event_type": "dm.received"}}', ["not_account_activity"], id="xaa_envelope"),
    pytest.param(_delivery(direct_message_events={"id": "1"}), ["malformed"], id="dm_events_not_a_list"),
    pytest.param(_delivery(tweet_create_events="x"), ["malformed"], id="tweet_events_not_a_list"),
    pytest.param(_delivery(direct_message_events=["x", None]), ["malformed", "malformed"], id="dm_not_a_dict"),
    pytest.param(_delivery(direct_message_events=[_dm_event(type="welcome_message")]), ["dm_type_welcome_message"]),
    pytest.param(_delivery(direct_message_events=[_dm_event(type=None)]), ["dm_type_missing"], id="dm_type_missing"),
    pytest.param(_delivery(direct_message_events=[_dm_event(type="x" * 33)]), ["dm_type_other"], id="dm_type_long"),
    pytest.param(_delivery(direct_message_events=[_dm_event(type="a b\n")]), ["dm_type_other"], id="dm_type_odd"),
    pytest.param(_delivery(direct_message_events=[_dm_event(id=None)]), ["malformed"], id="dm_id_missing"),
    pytest.param(_delivery(direct_message_events=[_dm_event(id=123)]), ["malformed"], id="dm_id_a_number"),
    pytest.param(_delivery(direct_message_events=[_dm_event(message_create="x")]), ["malformed"], id="no_create"),
    pytest.param(
        _delivery(direct_message_events=[_dm_event(created_timestamp="yesterday")]), ["malformed"], id="ts_text"
    ),
    pytest.param(_delivery(direct_message_events=[_dm_event(created_timestamp="9" * 30)]), ["malformed"], id="ts_huge"),
    pytest.param(_delivery(direct_message_events=[_dm_event(created_timestamp=True)]), ["malformed"], id="ts_bool"),
    pytest.param(_delivery(direct_message_events=[_dm_event(created_timestamp="-5")]), ["malformed"], id="ts_negative"),
    pytest.param(_delivery(direct_message_events=[_with_data()]), ["empty"], id="dm_without_text"),
    pytest.param(_delivery(direct_message_events=[_with_data(text="   ")]), ["empty"], id="dm_blank_text"),
    pytest.param(_delivery(direct_message_events=[_with_data(text=["a"])]), ["empty"], id="dm_text_a_list"),
    pytest.param(
        _delivery(direct_message_events=[_with_data(attachment={"type": "media", "media": {"type": "sticker"}})]),
        ["empty"],
        id="dm_unknown_media_type",
    ),
    pytest.param(
        _delivery(
            direct_message_events=[
                _with_data(
                    attachment={
                        "type": "media",
                        "media": {"type": "photo", "media_url_https": "javascript:alert(1)//a.jpg"},
                    }
                )
            ]
        ),
        ["empty"],
        id="dm_photo_not_a_web_url",
    ),
    pytest.param(
        _delivery(
            direct_message_events=[
                _with_data(
                    attachment={
                        "type": "location",
                        "location": {"type": "shared_place", "shared_place": {"place": {"id": "0ad3cd0e0a2e4c59"}}},
                    }
                )
            ]
        ),
        ["empty"],
        id="dm_shared_place_only",
    ),
    pytest.param(
        _delivery(
            direct_message_events=[
                _with_data(
                    attachment={
                        "type": "location",
                        "location": {
                            "type": "shared_coordinate",
                            "shared_coordinate": {"coordinates": {"type": "Point", "coordinates": [23.79, 186.43]}},
                        },
                    }
                )
            ]
        ),
        ["empty"],
        id="dm_location_out_of_range",
    ),
    pytest.param(_delivery(tweet_create_events=[None]), ["malformed"], id="tweet_not_a_dict"),
    pytest.param(_delivery(tweet_create_events=[_tweet(user=None)]), ["malformed"], id="tweet_without_user"),
    pytest.param(_delivery(tweet_create_events=[_tweet(id_str=None, id=1)]), ["malformed"], id="tweet_without_id_str"),
    pytest.param(_delivery(tweet_create_events=[_tweet(timestamp_ms=None)]), ["malformed"], id="tweet_without_time"),
    pytest.param(_delivery(tweet_create_events=[_tweet(entities=None)]), ["not_a_mention"], id="tweet_no_entities"),
    pytest.param(
        _delivery(tweet_create_events=[_tweet(entities={"user_mentions": [{"id_str": who.RAHUL_ID}]})]),
        ["not_a_mention"],
        id="tweet_mentions_someone_else",
    ),
    pytest.param(
        _delivery(tweet_create_events=[_tweet(entities={"user_mentions": "x"})]),
        ["not_a_mention"],
        id="tweet_mentions_not_a_list",
    ),
    pytest.param(_delivery(tweet_create_events=[_tweet(text="@DhanbadPolice ")]), ["empty"], id="tweet_only_mention"),
    pytest.param(
        _delivery(tweet_create_events=[_tweet(text="@DhanbadPolice", extended_entities={"media": [_video([])]})]),
        ["empty"],
        id="tweet_video_without_variants",
    ),
    pytest.param(
        _delivery(tweet_create_events=[_tweet(coordinates={"type": "Point", "coordinates": [True, False]})]),
        [],
        id="tweet_boolean_coordinates_ignored",
    ),
    pytest.param(_delivery(user_event={"revoke": {}}), ["user_event"], id="user_event_revoke"),
    pytest.param(_delivery(replay_job_status={"job_state": "Complete"}), ["replay_job_status"], id="replay_status"),
    pytest.param(_delivery(tweet_delete_events=[{}, {}]), ["tweet_delete", "tweet_delete"], id="tweet_deletes"),
    pytest.param(_delivery(block_events=[{}], mute_events=[{}]), ["block", "mute"], id="block_and_mute"),
    pytest.param(_delivery(brand_new_events=[{}]), ["unknown_event"], id="unknown_event"),
    pytest.param(_delivery(users={"1": {}}, apps="x", user_has_blocked="false"), [], id="envelope_keys_only"),
]


@pytest.mark.parametrize(("raw", "expected_ignored"), JUNK)
def test_junk_shapes_never_raise_and_are_counted(raw: bytes, expected_ignored: list[str]) -> None:
    parsed = x.parse_delivery(raw)

    assert sorted(parsed.ignored) == sorted(expected_ignored)
    if expected_ignored:
        assert parsed.messages == ()


def test_junk_next_to_a_good_dm_does_not_lose_it() -> None:
    raw = _delivery(direct_message_events=["x", _dm_event(id=None), _dm_event()])

    parsed = x.parse_delivery(raw)

    assert [m.external_id for m in parsed.messages] == [f"dm:{who.DM_TEXT}"]
    assert parsed.ignored == ("malformed", "malformed")


def test_dm_to_someone_else_is_not_for_us() -> None:
    event = _dm_event()
    event["message_create"]["target"]["recipient_id"] = who.RAHUL_ID
    assert x.parse_delivery(_delivery(direct_message_events=[event])).ignored == ("not_for_us",)


def test_video_takes_the_highest_bitrate_mp4() -> None:
    variants = [
        {"content_type": "application/x-mpegURL", "url": "https://video.twimg.com/ext_tw_video/1/pu/pl/a.m3u8"},
        {
            "bitrate": 256000,
            "content_type": "video/mp4",
            "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/low.mp4",
        },
        {
            "bitrate": 2176000,
            "content_type": "video/mp4",
            "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/hi.mp4",
        },
        {
            "bitrate": 832000,
            "content_type": "video/mp4",
            "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/mid.mp4",
        },
    ]
    raw = _delivery(tweet_create_events=[_tweet(extended_entities={"media": [_video(variants)]})])

    [message] = x.parse_delivery(raw).messages

    assert message.media == (
        MediaRef(
            kind=MediaKind.VIDEO, url="https://video.twimg.com/ext_tw_video/1/pu/vid/hi.mp4", mime_type="video/mp4"
        ),
    )


def test_animated_gif_is_kept_as_its_mp4() -> None:
    variants = [{"bitrate": 0, "content_type": "video/mp4", "url": "https://video.twimg.com/tweet_video/Gd.mp4"}]
    raw = _delivery(tweet_create_events=[_tweet(extended_entities={"media": [_video(variants, "animated_gif")]})])

    [message] = x.parse_delivery(raw).messages

    assert [(m.kind, m.url) for m in message.media] == [(MediaKind.VIDEO, "https://video.twimg.com/tweet_video/Gd.mp4")]


def test_truncated_tweet_reads_the_full_text_and_its_mentions() -> None:
    # GIVEN a long reply where the mention of us is only in the extended entities
    tweet = _tweet(
        text="@rahul_jharia @someone_else … https://t.co/x",
        truncated=True,
        entities={"user_mentions": []},
        extended_tweet={
            "full_text": "@rahul_jharia @DhanbadPolice the same bikes again today",
            "entities": {"user_mentions": [{"id_str": who.RAHUL_ID}, {"id_str": who.POLICE_ID}]},
        },
    )

    [message] = x.parse_delivery(_delivery(tweet_create_events=[tweet])).messages

    # THEN the reply mentions in front are addressing, not content
    assert message.text == "the same bikes again today"


def test_no_screen_name_or_display_name_reaches_a_message() -> None:
    for case in FIXTURES:
        for message in x.parse_delivery(load_event("x", case)).messages:
            dumped = repr(message)
            for name in (who.PRIYA_SCREEN_NAME, who.PRIYA_NAME, who.RAHUL_SCREEN_NAME, who.RAHUL_NAME):
                assert name not in dumped
            for name in (who.ANJALI_SCREEN_NAME, who.ANJALI_NAME, who.MANOJ_NAME, who.MANOJ_SCREEN_NAME):
                assert name not in dumped


# --- replies --------------------------------------------------------------------------------------------------

DM_ADDRESS = ReplyAddress(channel=Channel.X, recipient=who.PRIYA_ID, recipient_kind="dm")
PUBLIC_ADDRESS = ReplyAddress(
    channel=Channel.X,
    recipient=who.RAHUL_ID,
    recipient_kind="mention",
    in_reply_to=who.TWEET_MENTION_TEXT,
    public=True,
)


def test_dm_is_sent_to_the_participant_signed_and_returns_the_dm_event_id(fake_x) -> None:
    text = acknowledgement("DHN-7K3QM").text

    sent_id = x.send_text(DM_ADDRESS, text)

    [dm] = fake_x.sent
    assert dm == {"kind": "dm", "recipient": who.PRIYA_ID, "payload": {"text": text}, "id": sent_id}
    [(method, path, signed)] = fake_x.state.requests
    assert (method, path, signed) == ("POST", f"/2/dm_conversations/with/{who.PRIYA_ID}/messages", True)


def test_public_reply_answers_the_tweet_and_returns_the_tweet_id(fake_x) -> None:
    sent_id = x.send_text(PUBLIC_ADDRESS, DM_INVITATION)

    [tweet] = fake_x.sent
    assert tweet == {
        "kind": "tweet",
        "payload": {"text": DM_INVITATION, "reply": {"in_reply_to_tweet_id": who.TWEET_MENTION_TEXT}},
        "id": sent_id,
    }
    assert fake_x.state.requests[0][2] is True


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(acknowledgement("DHN-7K3QM").text, id="acknowledgement"),
        pytest.param("Your reference is dhn-7k3qm", id="lower_case"),
        pytest.param("DHN - 7K3QM", id="spaced"),
    ],
)
def test_public_reply_never_carries_a_reference(fake_x, text: str) -> None:
    with pytest.raises(ReplyRejectedError):
        x.send_text(PUBLIC_ADDRESS, text)
    assert fake_x.sent == []
    assert fake_x.state.requests == []


def test_public_reply_without_the_tweet_to_answer_is_refused(fake_x) -> None:
    address = ReplyAddress(channel=Channel.X, recipient=who.RAHUL_ID, recipient_kind="mention", public=True)
    with pytest.raises(ReplyRejectedError):
        x.send_text(address, DM_INVITATION)
    assert fake_x.sent == []


def test_dm_may_carry_the_reference(fake_x) -> None:
    x.send_text(DM_ADDRESS, acknowledgement("DHN-7K3QM").text)
    assert "DHN-7K3QM" in fake_x.dms[0]["payload"]["text"]


def test_dm_invitation_fits_in_a_tweet() -> None:
    assert weighted_length(DM_INVITATION) <= TWEET_MAX_WEIGHTED_LENGTH


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, ReplyUnavailableError),
        (503, ReplyUnavailableError),
        (429, ReplyUnavailableError),
        (401, ReplyUnavailableError),
        (400, ReplyRejectedError),
        (403, ReplyRejectedError),
        (404, ReplyRejectedError),
    ],
)
@pytest.mark.parametrize("address", [DM_ADDRESS, PUBLIC_ADDRESS], ids=["dm", "public"])
def test_error_statuses_map_to_retry_or_give_up(fake_x, status: int, error: type[Exception], address) -> None:
    fake_x.fail_next("/2/", status)
    with pytest.raises(error):
        x.send_text(address, DM_INVITATION)
    assert fake_x.sent == []


def test_wrong_credentials_are_refused_by_x_and_retried(fake_x, monkeypatch) -> None:
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "not-the-secret")
    with pytest.raises(ReplyUnavailableError):
        x.send_text(DM_ADDRESS, "hello")
    assert fake_x.state.requests == [("POST", f"/2/dm_conversations/with/{who.PRIYA_ID}/messages", False)]


def test_unreachable_api_is_retried(monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("X_API_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(ReplyUnavailableError):
        x.send_text(DM_ADDRESS, "hello")


# --- media ----------------------------------------------------------------------------------------------------


def test_resolve_media_url_has_nothing_to_resolve() -> None:
    with pytest.raises(MediaRejectedError) as raised:
        x.resolve_media_url("1862004409990000003")
    assert raised.value.reason == "no_media_id"


def _verifies(url: str, header: str) -> bool:
    params = x.parse_oauth_header(header)
    received = params.pop("oauth_signature")
    base = x.signature_base_string("GET", url, params.items())
    expected = x.oauth_signature(base, CONSUMER_SECRET, who.X_SETTINGS["X_ACCESS_TOKEN_SECRET"])
    return (
        received == expected
        and params["oauth_consumer_key"] == who.X_SETTINGS["X_CONSUMER_KEY"]
        and params["oauth_token"] == who.X_SETTINGS["X_ACCESS_TOKEN"]
    )


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(TON_URL, id="dm_photo_on_ton"),
        pytest.param("https://ton.twitter.com/1.1/ton/data/dm/1/2/a.jpg?size=large", id="ton_with_query"),
        pytest.param("https://video.twimg.com/dm_video/1862004409990000003/vid/720x1280/a.mp4", id="dm_video"),
        pytest.param("https://api.x.com/2/dm_conversations/media/1/2/3", id="api_origin"),
    ],
)
def test_dm_media_is_fetched_with_a_valid_oauth_signature(url: str) -> None:
    headers = x.media_headers(url)
    assert list(headers) == ["Authorization"]
    assert _verifies(url, headers["Authorization"])


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://pbs.twimg.com/media/GdX3k9pWcAAbQ7e.jpg?name=orig", id="tweet_photo"),
        pytest.param("https://video.twimg.com/ext_tw_video/1/pu/vid/hi.mp4", id="tweet_video"),
        pytest.param("http://ton.twitter.com/1.1/ton/data/dm/1/2/a.jpg", id="ton_over_http"),
        pytest.param("https://ton.twitter.com.evil.example/a.jpg", id="lookalike_host"),
        pytest.param("https://evil.example/a.jpg", id="foreign_host"),
        pytest.param("http://api.x.com/2/dm_conversations/media/1/2/3", id="api_host_other_scheme"),
    ],
)
def test_public_or_foreign_media_gets_no_credentials(url: str) -> None:
    assert x.media_headers(url) == {}


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """X's hosts resolve to a public address (no DNS in tests)."""

    def resolve(host: str, port: int, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("104.244.42.1", port))]

    monkeypatch.setattr("shared.media.socket.getaddrinfo", resolve)


@pytest.mark.parametrize(
    "url",
    [
        TON_URL,
        "https://pbs.twimg.com/media/GdX3k9pWcAAbQ7e.jpg?name=orig",
        "https://video.twimg.com/ext_tw_video/1/pu/vid/hi.mp4",
        "https://api.x.com/2/dm_conversations/media/1/2/3",
    ],
)
def test_x_media_hosts_are_allowed(public_dns, url: str) -> None:
    media_use_case.check_allowed_host(url, Channel.X)


@pytest.mark.parametrize(
    "url",
    [
        "http://ton.twitter.com/1.1/ton/data/dm/1/2/a.jpg",
        "https://abs.twimg.com/a.jpg",
        "https://ton.twitter.com.evil.example/a.jpg",
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
    ],
)
def test_other_hosts_are_not_allowed_for_x(public_dns, url: str) -> None:
    with pytest.raises(MediaRejectedError):
        media_use_case.check_allowed_host(url, Channel.X)
