"""Messenger webhook payload -> ParsedDelivery over every fixture in tests/events/messenger/, and the Send API."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import channels, media, texts
from shared.channels import messenger
from shared.channels.messenger import parse_delivery
from shared.domain import Channel, InboundMessage, Location, MediaKind, MediaRef, ReplyAddress
from shared.errors import (
    ConfigurationError,
    MalformedPayloadError,
    MediaRejectedError,
    ReplyRejectedError,
    ReplyUnavailableError,
)
from tests import identities as who
from tests.conftest import EVENTS, load_event

PAGE_TOKEN = "test-messenger-page-token"


@pytest.fixture(autouse=True)
def messenger_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENGER_PAGE_ID", who.MESSENGER_PAGE_ID)
    monkeypatch.setenv("MESSENGER_PAGE_ACCESS_TOKEN", PAGE_TOKEN)


def _utc(hour: int, minute: int, second: int) -> datetime:
    return datetime(2026, 11, 28, hour, minute, second, tzinfo=UTC)


def _message(
    mid: str,
    sent_at: datetime,
    psid: str,
    *,
    text: str | None = None,
    media: tuple[MediaRef, ...] = (),
    location: Location | None = None,
) -> InboundMessage:
    return InboundMessage(
        channel=Channel.MESSENGER,
        sender_id=psid,
        external_id=mid,
        sent_at=sent_at,
        reply_address=ReplyAddress(channel=Channel.MESSENGER, recipient=psid, recipient_kind="psid", in_reply_to=mid),
        text=text,
        media=media,
        location=location,
    )


def _attachment_urls(case: str) -> list[str]:
    payload = json.loads(load_event("messenger", case))
    return [
        attachment["payload"]["url"]
        for entry in payload["entry"]
        for event in entry["messaging"]
        for attachment in event.get("message", {}).get("attachments", [])
    ]


def _media(case: str, kind: MediaKind) -> tuple[MediaRef, ...]:
    return tuple(MediaRef(kind=kind, url=url) for url in _attachment_urls(case))


CASES = [
    pytest.param(
        "text_english",
        [
            _message(
                who.MID_TEXT_ENGLISH,
                _utc(6, 6, 40),
                who.ARJUN_PSID,
                text="Stolen motorcycles are repainted every night at a garage behind Hirapur market, shop no. 14/2.",
            )
        ],
        [],
        id="text_english",
    ),
    pytest.param(
        "text_hindi",
        [
            _message(
                who.MID_HINDI,
                _utc(6, 7, 40),
                who.PRIYA_PSID,
                text="झरिया में रात 2 बजे से कोयला चोरी हो रही है। ट्रक नं. JH10/4417 रोज़ आता है।",
            )
        ],
        [],
        id="text_hindi",
    ),
    pytest.param(
        "image",
        [_message(who.MID_IMAGE, _utc(6, 8, 40), who.ROHIT_PSID, media=_media("image", MediaKind.IMAGE))],
        [],
        id="image",
    ),
    pytest.param(
        "album_three_images",
        [
            _message(
                who.MID_ALBUM,
                _utc(6, 9, 40),
                who.PRIYA_PSID,
                media=_media("album_three_images", MediaKind.IMAGE),
            )
        ],
        [],
        id="album_three_images",
    ),
    pytest.param(
        "video",
        [_message(who.MID_VIDEO, _utc(6, 10, 40), who.ARJUN_PSID, media=_media("video", MediaKind.VIDEO))],
        [],
        id="video",
    ),
    pytest.param(
        "audio",
        [_message(who.MID_AUDIO, _utc(6, 11, 40), who.ROHIT_PSID, media=_media("audio", MediaKind.AUDIO))],
        [],
        id="audio",
    ),
    pytest.param(
        "file_pdf",
        [_message(who.MID_FILE, _utc(6, 12, 40), who.KAVITA_PSID, media=_media("file_pdf", MediaKind.DOCUMENT))],
        [],
        id="file_pdf",
    ),
    # "Priya Sharma's Location" names the sender, not a place: dropped.
    pytest.param(
        "location_legacy",
        [
            _message(
                who.MID_LOCATION,
                _utc(6, 13, 40),
                who.PRIYA_PSID,
                location=Location(latitude=23.7484, longitude=86.4172),
            )
        ],
        [],
        id="location_legacy",
    ),
    pytest.param(
        "location_legacy_old_shape",
        [
            _message(
                who.MID_LOCATION_OLD,
                _utc(6, 14, 40),
                who.ROHIT_PSID,
                location=Location(latitude=23.8143, longitude=86.4412),
            )
        ],
        [],
        id="location_legacy_old_shape",
    ),
    pytest.param("sticker_like", [], ["sticker", "sticker"], id="sticker_like"),
    pytest.param("echo", [], ["echo"], id="echo"),
    pytest.param("delivery_read", [], ["delivery", "read"], id="delivery_read"),
    pytest.param("postback", [], ["postback"], id="postback"),
    pytest.param("standby", [], ["standby"], id="standby"),
    pytest.param(
        "batch_mixed",
        [
            _message(
                who.MID_BATCH_TEXT,
                _utc(6, 20, 40),
                who.KAVITA_PSID,
                text="Photo of the van that follows girls from the coaching centre on Bank More road",
            ),
            _message(
                who.MID_BATCH_IMAGE,
                _utc(6, 20, 49),
                who.KAVITA_PSID,
                media=_media("batch_mixed", MediaKind.IMAGE),
            ),
        ],
        ["delivery", "echo"],
        id="batch_mixed",
    ),
    pytest.param("other_page", [], ["other_page"], id="other_page"),
    pytest.param("deleted", [], ["deleted"], id="deleted"),
]
FIXTURES = [param.id for param in CASES]


@pytest.mark.parametrize(("case", "expected_messages", "expected_ignored"), CASES)
def test_fixture_parses_to_expected_messages(
    case: str, expected_messages: list[InboundMessage], expected_ignored: list[str]
) -> None:
    # WHEN
    parsed = parse_delivery(load_event("messenger", case))

    # THEN
    assert list(parsed.messages) == expected_messages
    assert sorted(parsed.ignored) == sorted(expected_ignored)


def test_the_table_covers_every_fixture() -> None:
    assert sorted(FIXTURES) == sorted(path.stem for path in EVENTS.glob("messenger/*.json"))


def test_album_is_one_message_with_three_images_in_order() -> None:
    [message] = parse_delivery(load_event("messenger", "album_three_images")).messages
    assert [ref.url for ref in message.media] == _attachment_urls("album_three_images")
    assert len({ref.url for ref in message.media}) == 3
    assert all(ref.kind is MediaKind.IMAGE and ref.media_id is None for ref in message.media)


def test_attachment_urls_are_unescaped_cdn_urls() -> None:
    [message] = parse_delivery(load_event("messenger", "image")).messages
    [ref] = message.media
    assert ref.url == (
        "https://scontent.xx.fbcdn.net/v/t1.15752-9/470193618_1187364029561841_3049581726354192831_n.jpg"
        "?_nc_cat=101&ccb=1-7&_nc_sid=fc17b8&_nc_ohc=q7ZkP3mN1xAQ7kNvgH1&_nc_ad=z-m&_nc_cid=0"
        "&_nc_ht=scontent.xx&oh=03_Q7cD1gE4pLk2Vn8rT0yW6zB3sF5hJ9mX1aC7dG1_qQ&oe=6792A1F1"
    )


def test_sent_at_is_timezone_aware_utc() -> None:
    sent_at = parse_delivery(load_event("messenger", "text_hindi")).messages[0].sent_at
    assert sent_at.utcoffset() is not None
    assert sent_at.utcoffset().total_seconds() == 0


# --- the fixtures themselves ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", FIXTURES)
def test_fixture_bytes_are_meta_wire_form(case: str) -> None:
    raw = load_event("messenger", case)
    # Meta escapes every non-ASCII character as lowercase \uXXXX and "/" as "\/".
    assert raw.isascii()
    assert re.search(rb"(?<!\\)/", raw) is None, "an unescaped '/'"
    escapes = re.findall(rb"\\u([0-9a-fA-F]{4})", raw)
    assert all(code == code.lower() for code in escapes)


def test_hindi_fixture_is_escaped_devanagari() -> None:
    raw = load_event("messenger", "text_hindi")
    assert b"\\u091d\\u0930\\u093f\\u092f\\u093e" in raw  # "झरिया"
    assert b"JH10\\/4417" in raw


def _identifiers(node: Any, parent: str = "") -> Iterator[str]:
    """Every value in a payload that names a Page, a person or a message."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "id" and parent in ("sender", "recipient", "entry"):
                yield value
            elif key == "mid" or key == "mids":
                yield from value if isinstance(value, list) else [value]
            elif key == "title" and isinstance(value, str) and value.endswith("'s Location"):
                yield value.removesuffix("'s Location")
            else:
                yield from _identifiers(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _identifiers(item, parent)


def test_every_identifier_in_the_fixtures_is_listed_for_the_privacy_scan() -> None:
    found: set[str] = set()
    for case in FIXTURES:
        found |= set(_identifiers(json.loads(load_event("messenger", case))))
    assert found == set(who.MESSENGER_IDENTIFIERS)
    assert set(who.ALL_IDENTIFIERS) == set(who.WHATSAPP_IDENTIFIERS) | set(who.MESSENGER_IDENTIFIERS)


# --- hostile and broken input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{not json", id="truncated"),
        pytest.param(b'{"object":"page","entry":[', id="cut_off"),
        pytest.param(b"\xff\xfe\x00{", id="not_utf8"),
        pytest.param(b"object=page", id="form_encoded"),
    ],
)
def test_malformed_json_raises_malformed_payload(raw: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        parse_delivery(raw)


_TS = 1795846000000


def _event(message: Any = None, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "sender": {"id": who.ARJUN_PSID},
        "recipient": {"id": who.MESSENGER_PAGE_ID},
        "timestamp": _TS,
    }
    if message is not None:
        event["message"] = message
    event.update(fields)
    return event


def _page(*events: Any, entry: Any = None) -> bytes:
    if entry is None:
        entry = [{"id": who.MESSENGER_PAGE_ID, "time": _TS, "messaging": list(events)}]
    return json.dumps({"object": "page", "entry": entry}).encode()


_TEXT = {"mid": who.MID_TEXT_ENGLISH, "text": "hello"}
_IMAGE_URL = "https://scontent.xx.fbcdn.net/v/t1.15752-9/1_n.jpg?oe=6792A1F4"


def _without(key: str, **changes: Any) -> dict[str, Any]:
    event = {k: v for k, v in _event(_TEXT).items() if k != key}
    return {**event, **changes}


JUNK = [
    pytest.param(_page(entry={"id": "1"}), ["malformed"], id="entry_not_a_list"),
    pytest.param(_page(entry=["x"]), ["malformed"], id="entry_item_not_a_dict"),
    pytest.param(_page(entry=[{"id": "1", "messaging": {"0": _event(_TEXT)}}]), ["malformed"], id="messaging_not_list"),
    pytest.param(_page(entry=[{"id": "1", "standby": "x"}]), ["malformed"], id="standby_not_a_list"),
    pytest.param(_page("x"), ["malformed"], id="event_not_a_dict"),
    pytest.param(_page(_event("hello")), ["malformed"], id="message_not_a_dict"),
    pytest.param(_page(_event({"text": "hello"})), ["malformed"], id="message_without_mid"),
    pytest.param(_page(_event({**_TEXT, "mid": 12345})), ["malformed"], id="mid_not_a_string"),
    pytest.param(_page(_without("sender")), ["malformed"], id="no_sender"),
    pytest.param(_page(_without("sender", sender={"id": "  "})), ["malformed"], id="blank_sender"),
    pytest.param(_page(_without("sender", sender=who.ARJUN_PSID)), ["malformed"], id="sender_not_an_object"),
    pytest.param(_page(_without("recipient")), ["malformed"], id="no_recipient"),
    pytest.param(_page(_without("timestamp")), ["malformed"], id="no_timestamp"),
    pytest.param(_page(_event(_TEXT, timestamp="yesterday")), ["malformed"], id="timestamp_not_a_number"),
    pytest.param(_page(_event(_TEXT, timestamp=True)), ["malformed"], id="timestamp_boolean"),
    pytest.param(_page(_event(_TEXT, timestamp=10**30)), ["malformed"], id="timestamp_overflow"),
    pytest.param(_page(_event(_TEXT, timestamp=1e400)), ["malformed"], id="timestamp_infinite"),
    pytest.param(_page(_event({**_TEXT, "text": ""})), ["empty"], id="empty_text"),
    pytest.param(_page(_event({**_TEXT, "text": {"body": "x"}})), ["empty"], id="text_not_a_string"),
    pytest.param(_page(_event({**_TEXT, "attachments": {"type": "image"}})), ["malformed"], id="attachments_not_list"),
    pytest.param(
        _page(_event({"mid": who.MID_IMAGE, "attachments": ["x"]})), ["malformed"], id="attachment_not_a_dict"
    ),
    pytest.param(
        _page(_event({"mid": who.MID_IMAGE, "attachments": [{"type": "image"}]})),
        ["malformed"],
        id="image_without_payload",
    ),
    pytest.param(
        _page(_event({"mid": who.MID_IMAGE, "attachments": [{"type": "image", "payload": {"url": "file:///etc"}}]})),
        ["malformed"],
        id="image_url_not_http",
    ),
    pytest.param(
        _page(_event({"mid": who.MID_LOCATION, "attachments": [{"type": "location", "payload": {}}]})),
        ["malformed"],
        id="location_without_coordinates",
    ),
    pytest.param(
        _page(
            _event(
                {
                    "mid": who.MID_LOCATION,
                    "attachments": [{"type": "location", "payload": {"coordinates": {"lat": 123.0, "long": 86.4}}}],
                }
            )
        ),
        ["malformed"],
        id="latitude_out_of_range",
    ),
    pytest.param(json.dumps([1, 2]).encode(), ["not_page"], id="top_level_list"),
    pytest.param(b"null", ["not_page"], id="top_level_null"),
    pytest.param(json.dumps({"object": "instagram", "entry": []}).encode(), ["not_page"], id="instagram_object"),
    pytest.param(json.dumps({"object": "page"}).encode(), [], id="no_entry"),
]


@pytest.mark.parametrize(("raw", "expected_ignored"), JUNK)
def test_junk_shapes_never_raise_and_are_counted(raw: bytes, expected_ignored: list[str]) -> None:
    # WHEN
    parsed = parse_delivery(raw)

    # THEN
    assert parsed.messages == ()
    assert sorted(parsed.ignored) == expected_ignored


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param(
            _event(reaction={"mid": who.MID_ECHO, "action": "react", "emoji": "👍"}), "reaction", id="reaction"
        ),
        pytest.param(
            _event(referral={"ref": "poster", "source": "SHORTLINK", "type": "OPEN_THREAD"}), "referral", id="referral"
        ),
        pytest.param(_event(optin={"type": "notification_messages", "payload": "x"}), "optin", id="optin"),
        pytest.param(_event(message_edit={"mid": who.MID_TEXT_ENGLISH, "text": "edited"}), "message_edit", id="edit"),
        pytest.param(_event(), "unknown_event", id="unknown_event"),
        pytest.param(_event({**_TEXT, "is_echo": True}), "echo", id="echo_flag_alone"),
        # An echo is the Page's own message: never a tip, whatever page or sender it names.
        pytest.param(
            _event({**_TEXT, "is_echo": True}, sender={"id": who.MESSENGER_PAGE_ID}, recipient={"id": who.ARJUN_PSID}),
            "echo",
            id="echo_reversed_parties",
        ),
        pytest.param(_event({"mid": who.MID_TEXT_ENGLISH, "is_deleted": True}), "deleted", id="unsend"),
        pytest.param(
            _event(
                {
                    "mid": who.MID_IMAGE,
                    "attachments": [{"type": "fallback", "payload": {"url": "https://x.in", "title": "x"}}],
                }
            ),
            "attachment_fallback",
            id="fallback_only",
        ),
        pytest.param(
            _event({"mid": who.MID_IMAGE, "attachments": [{"type": "fallback"}]}),
            "attachment_fallback",
            id="fallback_without_payload",
        ),
        pytest.param(
            _event({"mid": who.MID_IMAGE, "attachments": [{"type": "ig_reel", "payload": {"url": _IMAGE_URL}}]}),
            "attachment_ig_reel",
            id="reel",
        ),
        pytest.param(_event({"mid": who.MID_IMAGE, "attachments": []}), "empty", id="no_text_no_attachment"),
    ],
)
def test_events_that_are_not_tips_are_ignored_with_their_name(event: dict[str, Any], reason: str) -> None:
    parsed = parse_delivery(_page(event))
    assert parsed.messages == ()
    assert parsed.ignored == (reason,)


def test_junk_next_to_a_good_message_does_not_lose_it() -> None:
    parsed = parse_delivery(_page("x", _event({"text": "no mid"}), _event(_TEXT)))
    assert [m.external_id for m in parsed.messages] == [who.MID_TEXT_ENGLISH]
    assert parsed.ignored == ("malformed", "malformed")


def test_timestamp_in_seconds_is_accepted() -> None:
    [message] = parse_delivery(_page(_event(_TEXT, timestamp=_TS // 1000))).messages
    assert message.sent_at == _utc(6, 6, 40)


def test_text_next_to_a_sticker_or_a_fallback_is_kept_and_quick_reply_payload_is_not() -> None:
    # GIVEN a text with a quick-reply payload, a sticker and a shared link's fallback card
    message = {
        **_TEXT,
        "text": "See https://example.in/post/1",
        "quick_reply": {"payload": "REPORT_TIP"},
        "attachments": [
            {"type": "sticker", "payload": {"url": _IMAGE_URL, "sticker_id": 369239263222822}},
            {"type": "fallback", "payload": {"url": "https://example.in/post/1", "title": "A post"}},
        ],
    }

    # WHEN
    [parsed] = parse_delivery(_page(_event(message))).messages

    # THEN only the citizen's own words remain
    assert (parsed.text, parsed.media, parsed.location) == ("See https://example.in/post/1", (), None)


@pytest.mark.parametrize(
    ("title", "name"),
    [
        pytest.param("Hirapur Market", "Hirapur Market", id="named_place_kept"),
        pytest.param("Pinned Location", None, id="pinned"),
        pytest.param("Current Location", None, id="current"),
        pytest.param("PRIYA SHARMA'S LOCATION", None, id="name_upper_case"),
        pytest.param("Priya Sharma\u2019s Location", None, id="name_curly_apostrophe"),
        pytest.param("प्रिया शर्मा का स्थान", None, id="localised_title"),
        pytest.param("", None, id="empty"),
    ],
)
def test_location_title_is_kept_only_when_it_is_a_place(title: str, name: str | None) -> None:
    attachment = {"type": "location", "payload": {"coordinates": {"lat": "23.79", "long": 86.43}, "title": title}}
    [message] = parse_delivery(_page(_event({"mid": who.MID_LOCATION, "attachments": [attachment]}))).messages
    assert message.location == Location(latitude=23.79, longitude=86.43, name=name)


def test_receipts_need_no_page_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESSENGER_PAGE_ID")
    assert parse_delivery(load_event("messenger", "delivery_read")).ignored == ("delivery", "read")


def test_a_user_message_without_a_configured_page_is_a_deployment_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Raising (the deliveries worker retries, then dead-letters) loses nothing; ignoring would drop the tip.
    monkeypatch.delenv("MESSENGER_PAGE_ID")
    with pytest.raises(ConfigurationError, match="MESSENGER_PAGE_ID"):
        parse_delivery(load_event("messenger", "text_english"))


# --- media ----------------------------------------------------------------------------------------------------


def test_media_needs_no_token_and_has_no_media_id_to_resolve() -> None:
    assert messenger.media_headers(_IMAGE_URL) == {}
    with pytest.raises(MediaRejectedError) as error:
        messenger.resolve_media_url("1234")
    assert error.value.reason == "no_media_id"
    assert channels.adapter(Channel.MESSENGER) is messenger


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param(_IMAGE_URL, True, id="scontent_fbcdn"),
        pytest.param("https://video.xx.fbcdn.net/v/t42/1_n.mp4", True, id="video_fbcdn"),
        pytest.param("https://cdn.fbsbx.com/v/t59/1_n.mp4/audioclip.mp4", True, id="cdn_fbsbx"),
        pytest.param("https://mmg.whatsapp.net/v/t62/1.enc", False, id="whatsapp_host_not_messenger"),
        pytest.param("http://scontent.xx.fbcdn.net/v/1_n.jpg", False, id="plain_http"),
        pytest.param("https://fbcdn.net.attacker.in/1.jpg", False, id="suffix_trick"),
    ],
)
def test_messenger_media_hosts(monkeypatch: pytest.MonkeyPatch, url: str, allowed: bool) -> None:
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("157.240.1.1", 443))]
    monkeypatch.setattr("shared.media.socket.getaddrinfo", lambda *args, **kwargs: public)
    if allowed:
        media.check_allowed_host(url, Channel.MESSENGER)
    else:
        with pytest.raises(MediaRejectedError, match="host_not_allowed"):
            media.check_allowed_host(url, Channel.MESSENGER)


# --- the Send API ---------------------------------------------------------------------------------------------

_ADDRESS = ReplyAddress(
    channel=Channel.MESSENGER, recipient=who.ARJUN_PSID, recipient_kind="psid", in_reply_to=who.MID_TEXT_ENGLISH
)
SEND_PATH = "/v25.0/me/messages"


@pytest.fixture
def graph(fake_graph: Any) -> Any:
    fake_graph.set_page_access_token(PAGE_TOKEN)
    return fake_graph


def test_send_text_posts_the_documented_body_with_a_bearer_token(graph: Any) -> None:
    # WHEN
    message_id = messenger.send_text(_ADDRESS, texts.acknowledgement("DHN-7K3QM").text)

    # THEN one Send API call, answered with the new message's id
    assert message_id.startswith("m_fake")
    [sent] = graph.messenger_replies
    assert sent["payload"] == {
        "recipient": {"id": who.ARJUN_PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": texts.acknowledgement("DHN-7K3QM").text},
    }
    # AND the token travelled in the header (the fake refuses anything else), never in the URL
    assert PAGE_TOKEN not in sent["query"]
    assert "access_token" not in sent["query"]
    assert graph.state.requests == [("POST", SEND_PATH)]
    assert graph.replies == []  # nothing went to the WhatsApp endpoint


def test_send_text_with_the_wrong_token_is_retried_not_refused(graph: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSENGER_PAGE_ACCESS_TOKEN", "an-expired-token")
    with pytest.raises(ReplyUnavailableError) as error:
        messenger.send_text(_ADDRESS, "hello")
    assert "an-expired-token" not in str(error.value)
    assert graph.messenger_replies == []


@pytest.mark.parametrize(
    ("status", "code", "subcode", "expected"),
    [
        pytest.param(500, 2, None, ReplyUnavailableError, id="500_service_unavailable"),
        pytest.param(503, 1, None, ReplyUnavailableError, id="503"),
        pytest.param(429, 4, None, ReplyUnavailableError, id="429"),
        pytest.param(400, 4, None, ReplyUnavailableError, id="app_rate_limit_code_4"),
        pytest.param(400, 613, None, ReplyUnavailableError, id="rate_limit_code_613"),
        pytest.param(400, 1200, None, ReplyUnavailableError, id="temporary_send_failure_1200"),
        pytest.param(400, 190, 463, ReplyUnavailableError, id="expired_page_token_190"),
        pytest.param(401, 190, None, ReplyUnavailableError, id="401"),
        pytest.param(403, 200, None, ReplyUnavailableError, id="403"),
        pytest.param(400, 10, 2018278, ReplyRejectedError, id="outside_24h_window"),
        pytest.param(400, 551, 1545041, ReplyRejectedError, id="person_unavailable"),
        pytest.param(400, 100, 2018001, ReplyRejectedError, id="no_matching_user"),
    ],
)
def test_send_api_errors_map_to_retry_or_refusal(
    graph: Any, status: int, code: int, subcode: int | None, expected: type[Exception]
) -> None:
    # GIVEN the Send API answers with this Graph error
    graph.reject_next(SEND_PATH, status, code, subcode)

    # WHEN / THEN
    with pytest.raises(expected) as error:
        messenger.send_text(_ADDRESS, "hello")
    assert PAGE_TOKEN not in str(error.value)
    assert who.ARJUN_PSID not in str(error.value)


def test_send_api_unreachable_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GRAPH_API_URL", f"http://127.0.0.1:{port}/v25.0")
    with pytest.raises(ReplyUnavailableError):
        messenger.send_text(_ADDRESS, "hello")


def test_text_over_messengers_limit_is_refused_before_sending(graph: Any) -> None:
    with pytest.raises(ReplyRejectedError):
        messenger.send_text(_ADDRESS, "x" * (messenger.MAX_TEXT_CHARS + 1))
    assert graph.state.requests == []


def test_our_texts_fit_in_one_messenger_message() -> None:
    assert len(texts.acknowledgement("DHN-7K3QM").text) <= messenger.MAX_TEXT_CHARS
    assert len(texts.DM_INVITATION) <= messenger.MAX_TEXT_CHARS
