"""WhatsApp webhook payload -> ParsedDelivery, over every recorded fixture in tests/events/whatsapp/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.channels.whatsapp import parse_delivery
from shared.domain import Channel, InboundMessage, Location, MediaKind, MediaRef, ReplyAddress
from shared.errors import MalformedPayloadError
from tests import identities as who
from tests.conftest import load_event


def _utc(hour: int, minute: int, second: int, day: int = 28, year: int = 2026) -> datetime:
    return datetime(year, 11, day, hour, minute, second, tzinfo=UTC)


def _message(
    wamid: str,
    sent_at: datetime,
    *,
    sender_id: str,
    reply_to: tuple[str, str],
    text: str | None = None,
    media: tuple[MediaRef, ...] = (),
    location: Location | None = None,
    forwarded: bool = False,
) -> InboundMessage:
    recipient, recipient_kind = reply_to
    return InboundMessage(
        channel=Channel.WHATSAPP,
        sender_id=sender_id,
        external_id=wamid,
        sent_at=sent_at,
        reply_address=ReplyAddress(
            channel=Channel.WHATSAPP, recipient=recipient, recipient_kind=recipient_kind, in_reply_to=wamid
        ),
        text=text,
        media=media,
        location=location,
        forwarded=forwarded,
    )


# Senders: BSUID is the sender id whenever present; replies go to the phone when there is one.
RAVI = {"sender_id": who.RAVI_BSUID, "reply_to": (who.RAVI_PHONE, "phone")}
SUNITA = {"sender_id": who.SUNITA_BSUID, "reply_to": (who.SUNITA_PHONE, "phone")}
AMIT = {"sender_id": who.AMIT_PHONE, "reply_to": (who.AMIT_PHONE, "phone")}
NEHA = {"sender_id": who.NEHA_BSUID, "reply_to": (who.NEHA_BSUID, "bsuid")}

HINDI_TEXT = "बैंक मोड़ बस स्टैंड के पीछे हर शाम अवैध शराब बेची जा रही है। मकान नं. 12/4 के पास।"
LOOKASIDE_URL = (
    "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1698304127561823&ext=1795840420"
    "&hash=ATu7kzQxR2Vw9mJ3cT5nH8bY1dL4fP0sA6gE"
)

CASES = [
    pytest.param(
        "text_english",
        [
            _message(
                who.WAMID_TEXT_ENGLISH,
                _utc(5, 20, 0, year=2025),
                **RAVI,
                text="Two men are selling liquor illegally behind the Bank More bus stand every evening.",
            )
        ],
        [],
        id="text_english",
    ),
    pytest.param(
        "text_hindi", [_message(who.WAMID_HINDI, _utc(4, 26, 40), **SUNITA, text=HINDI_TEXT)], [], id="text_hindi"
    ),
    pytest.param(
        "image_with_caption",
        [
            _message(
                who.WAMID_IMAGE_CAPTION,
                _utc(4, 27, 40),
                **RAVI,
                media=(
                    MediaRef(
                        kind=MediaKind.IMAGE,
                        media_id="1587392046152734",
                        mime_type="image/jpeg",
                        sha256="R83v4/k3AJL/yVnjSTo9u73ER6y3O2OTcdbTyAczMoo=",
                        caption="This truck carries illegal sand from the Damodar ghat every night",
                    ),
                ),
            )
        ],
        [],
        id="image_with_caption",
    ),
    pytest.param(
        "image_no_caption",
        [
            _message(
                who.WAMID_IMAGE_NO_CAPTION,
                _utc(4, 28, 40),
                **SUNITA,
                media=(
                    MediaRef(
                        kind=MediaKind.IMAGE,
                        media_id="1698304127561823",
                        url=LOOKASIDE_URL,
                        mime_type="image/png",
                        sha256="nMuZKTdVom4NtrocgCAjnXIbA/Rcr31z5ukADaubRHc=",
                    ),
                ),
            )
        ],
        [],
        id="image_no_caption",
    ),
    pytest.param(
        "video",
        [
            _message(
                who.WAMID_VIDEO,
                _utc(4, 29, 40),
                **AMIT,
                media=(
                    MediaRef(
                        kind=MediaKind.VIDEO,
                        media_id="1102938475610293",
                        mime_type="video/mp4",
                        sha256="tvDCu8FjNucDQ7sJc/N8+7pGUTMTq7OfEUA0mKO/JZY=",
                    ),
                ),
            )
        ],
        [],
        id="video",
    ),
    pytest.param(
        "voice_note",
        [
            _message(
                who.WAMID_VOICE,
                _utc(4, 30, 40),
                **RAVI,
                media=(
                    MediaRef(
                        kind=MediaKind.AUDIO,
                        media_id="1456372819203948",
                        mime_type="audio/ogg; codecs=opus",
                        sha256="5K1wXb9HjG2nTuLollO8m8rZc37GF9kLeRHhHnU/59U=",
                    ),
                ),
            )
        ],
        [],
        id="voice_note",
    ),
    pytest.param(
        "document_pdf",
        [
            _message(
                who.WAMID_DOCUMENT,
                _utc(4, 31, 40),
                **AMIT,
                media=(
                    MediaRef(
                        kind=MediaKind.DOCUMENT,
                        media_id="1320495867120394",
                        mime_type="application/pdf",
                        sha256="gozfauFDl7ME5W92sl6VznJSf4/3A2VXW0x1mP9Cvys=",
                        filename="shikayat_patra.pdf",
                    ),
                ),
            )
        ],
        [],
        id="document_pdf",
    ),
    pytest.param(
        "location_named",
        [
            _message(
                who.WAMID_LOCATION_NAMED,
                _utc(4, 32, 40),
                **RAVI,
                location=Location(
                    latitude=23.7957,
                    longitude=86.4304,
                    name="Bank More Bus Stand",
                    address="Bank More, Dhanbad, Jharkhand 826001",
                ),
            )
        ],
        [],
        id="location_named",
    ),
    pytest.param(
        "location_pin",
        [
            _message(
                who.WAMID_LOCATION_PIN,
                _utc(4, 33, 40),
                **SUNITA,
                location=Location(latitude=23.8143, longitude=86.4412),
            )
        ],
        [],
        id="location_pin",
    ),
    pytest.param(
        "timestamp_milliseconds",
        [
            _message(
                who.WAMID_MILLISECONDS, _utc(4, 34, 40), **RAVI, text="Chain snatching near Hirapur market just now"
            )
        ],
        [],
        id="timestamp_milliseconds",
    ),
    pytest.param(
        "username_only",
        [
            _message(
                who.WAMID_USERNAME,
                _utc(4, 35, 40),
                **NEHA,
                text="Ganja is sold to school boys near the railway colony gate",
            )
        ],
        [],
        id="username_only",
    ),
    pytest.param(
        "batch_many",
        [
            _message(who.WAMID_BATCH_RAVI_TEXT, _utc(4, 36, 40), **RAVI, text="The same group is back tonight"),
            _message(who.WAMID_BATCH_SUNITA_TEXT, _utc(4, 36, 45), **SUNITA, text="पुलिस कब आएगी?"),
            _message(
                who.WAMID_BATCH_RAVI_LOCATION,
                _utc(4, 36, 50),
                **RAVI,
                location=Location(latitude=23.7961, longitude=86.4299),
            ),
            _message(
                who.WAMID_BATCH_AMIT_TEXT,
                _utc(4, 37, 0),
                **AMIT,
                text="Power theft from the transformer at Saraidhela",
            ),
            _message(
                who.WAMID_BATCH_NEHA_TEXT, _utc(4, 37, 10), **NEHA, text="They left towards Govindpur on two bikes"
            ),
        ],
        ["status", "status"],
        id="batch_many",
    ),
    pytest.param("statuses_only", [], ["status", "status"], id="statuses_only"),
    pytest.param("status_failed", [], ["status"], id="status_failed"),
    pytest.param("unsupported_type", [], ["type_unsupported"], id="unsupported_type"),
    pytest.param("reaction", [], ["type_reaction"], id="reaction"),
    pytest.param("group_message", [], ["group"], id="group_message"),
    pytest.param("system_message", [], ["type_system"], id="system_message"),
    pytest.param(
        "forwarded_text",
        [
            _message(
                who.WAMID_FORWARDED,
                _utc(4, 45, 40),
                **SUNITA,
                text="Child kidnappers in a white van seen in Jharia, share with everyone",
                forwarded=True,
            )
        ],
        [],
        id="forwarded_text",
    ),
    pytest.param(
        "answer_to_followup",
        [
            _message(
                who.WAMID_ANSWER,
                _utc(14, 0, 0),
                **SUNITA,
                text="हाँ, वह रोज़ शाम 7 बजे आता है / yes, he comes every evening at 7",
            )
        ],
        [],
        id="answer_to_followup",
    ),
    pytest.param(
        "quotes_wanted_notice",
        [
            _message(
                who.WAMID_QUOTES_NOTICE,
                _utc(11, 40, 0),
                **AMIT,
                text="w0001 वाला आदमी आज झरिया बाज़ार में दिखा / the man of notice w0001 was at Jharia market today",
            )
        ],
        [],
        id="quotes_wanted_notice",
    ),
    pytest.param("non_messages_field", [], ["field"], id="non_messages_field"),
    pytest.param("not_whatsapp_object", [], ["not_whatsapp"], id="not_whatsapp_object"),
]


@pytest.mark.parametrize(("case", "expected_messages", "expected_ignored"), CASES)
def test_fixture_parses_to_expected_messages(
    case: str, expected_messages: list[InboundMessage], expected_ignored: list[str]
) -> None:
    # WHEN
    parsed = parse_delivery(load_event("whatsapp", case))

    # THEN
    assert len(parsed.messages) == len(expected_messages)
    assert list(parsed.messages) == expected_messages
    assert sorted(parsed.ignored) == sorted(expected_ignored)


# The fixtures this table owns (other tests add their own flow fixtures next to them).
FIXTURES = [param.id for param in CASES]


def test_sent_at_is_timezone_aware_utc() -> None:
    for case in ("text_hindi", "timestamp_milliseconds"):
        sent_at = parse_delivery(load_event("whatsapp", case)).messages[0].sent_at
        assert sent_at.utcoffset() is not None
        assert sent_at.utcoffset().total_seconds() == 0


# --- the fixtures themselves ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", FIXTURES)
def test_fixture_bytes_are_meta_wire_form(case: str) -> None:
    raw = load_event("whatsapp", case)
    # Meta escapes every non-ASCII character as lowercase \uXXXX and "/" as "\/".
    assert raw.isascii()
    assert re.search(rb"(?<!\\)/", raw) is None, "an unescaped '/'"
    escapes = re.findall(rb"\\u([0-9a-fA-F]{4})", raw)
    assert all(code == code.lower() for code in escapes)


def test_hindi_fixture_is_escaped_devanagari() -> None:
    raw = load_event("whatsapp", "text_hindi")
    assert b"\\u092c\\u0948\\u0902\\u0915" in raw  # "बैंक"
    assert b"12\\/4" in raw


def _identifiers(node: Any) -> Iterator[str]:
    """Every value in a payload that names a person, a group or a message."""
    keys = {
        "display_phone_number",
        "from",
        "wa_id",
        "user_id",
        "from_user_id",
        "recipient_id",
        "recipient_user_id",
        "group_id",
        "new_wa_id",
    }
    keys |= {"name", "username", "mid", "message_id"}
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (key in keys or (key == "id" and value.startswith("wamid."))):
                yield value
            yield from _identifiers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _identifiers(item)


def test_every_identifier_in_the_fixtures_is_listed_for_the_privacy_scan() -> None:
    # GIVEN every person, group and message id the fixtures of this table hold
    found: set[str] = set()
    for case in FIXTURES:
        payload = json.loads(load_event("whatsapp", case))
        found |= set(_identifiers(payload))
        if payload.get("object") == "page":
            found |= {m["sender"]["id"] for e in payload["entry"] for m in e["messaging"]}
    # THEN tests/identities.py lists exactly those (a place name is not an identity)
    assert found - {"Bank More Bus Stand"} == set(who.WHATSAPP_IDENTIFIERS)


# --- hostile and broken input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{not json", id="truncated"),
        pytest.param(b'{"object":"whatsapp_business_account","entry":[', id="cut_off"),
        pytest.param(b"\xff\xfe\x00{", id="not_utf8"),
        pytest.param(b"object=whatsapp_business_account", id="form_encoded"),
    ],
)
def test_malformed_json_raises_malformed_payload(raw: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        parse_delivery(raw)


def _wa(value: Any = None, *, entry: Any = None, changes: Any = None) -> bytes:
    if entry is None:
        if changes is None:
            changes = [{"field": "messages", "value": value}]
        entry = [{"id": who.BUSINESS_WABA_ID, "changes": changes}]
    return json.dumps({"object": "whatsapp_business_account", "entry": entry}).encode()


def _value(*messages: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "messages": list(messages)}


_GOOD = {
    "from": who.RAVI_PHONE,
    "id": who.WAMID_TEXT_ENGLISH,
    "timestamp": "1795840000",
    "type": "text",
    "text": {"body": "hello"},
}
# Bug: shared/channels/whatsapp.py _change_values()/_list() drop a non-list entry/changes/messages, or a non-dict
# entry, without any ignored reason: the delivery then looks empty rather than malformed.

JUNK = [
    pytest.param(
        _wa(entry={"id": "1"}),
        ["malformed"],
        id="entry_not_a_list",
    ),
    pytest.param(
        _wa(entry=["x"]),
        ["malformed"],
        id="entry_item_not_a_dict",
    ),
    pytest.param(
        _wa(changes={"field": "messages"}),
        ["malformed"],
        id="changes_not_a_list",
    ),
    pytest.param(_wa(changes=["x"]), ["malformed"], id="change_not_a_dict"),
    pytest.param(_wa("not a dict"), ["malformed"], id="change_value_not_a_dict"),
    pytest.param(_wa(changes=[{"field": "messages"}]), ["malformed"], id="change_without_value"),
    pytest.param(_wa(_value("x")), ["malformed"], id="message_not_a_dict"),
    pytest.param(_wa(_value({k: v for k, v in _GOOD.items() if k != "id"})), ["malformed"], id="message_missing_id"),
    pytest.param(_wa(_value({**_GOOD, "id": 12345})), ["malformed"], id="message_id_not_a_string"),
    pytest.param(_wa(_value({k: v for k, v in _GOOD.items() if k != "from"})), ["malformed"], id="no_sender"),
    pytest.param(_wa(_value({**_GOOD, "from": "   "})), ["malformed"], id="blank_sender"),
    pytest.param(_wa(_value({**_GOOD, "timestamp": "yesterday"})), ["malformed"], id="timestamp_not_a_number"),
    pytest.param(_wa(_value({**_GOOD, "timestamp": None})), ["malformed"], id="timestamp_null"),
    pytest.param(_wa(_value({**_GOOD, "timestamp": "9" * 30})), ["malformed"], id="timestamp_overflow"),
    pytest.param(_wa(_value({**_GOOD, "text": "hello"})), ["type_text"], id="text_body_not_an_object"),
    pytest.param(_wa(_value({k: v for k, v in _GOOD.items() if k != "type"})), ["type_missing"], id="type_missing"),
    pytest.param(
        _wa(_value({**_GOOD, "type": "location", "location": {"latitude": 123.0, "longitude": 86.4}})),
        ["type_location"],
        id="latitude_out_of_range",
    ),
    pytest.param(
        _wa(_value({**_GOOD, "type": "location", "location": {"latitude": "north"}})),
        ["type_location"],
        id="location_without_coordinates",
    ),
    pytest.param(
        _wa({"messaging_product": "whatsapp", "messages": {"0": _GOOD}}),
        ["malformed"],
        id="messages_not_a_list",
    ),
    pytest.param(json.dumps([1, 2]).encode(), ["not_whatsapp"], id="top_level_list"),
    pytest.param(b"null", ["not_whatsapp"], id="top_level_null"),
]


@pytest.mark.parametrize(("raw", "expected_ignored"), JUNK)
def test_junk_shapes_never_raise_and_are_counted(raw: bytes, expected_ignored: list[str]) -> None:
    # WHEN
    parsed = parse_delivery(raw)

    # THEN
    assert parsed.messages == ()
    assert sorted(parsed.ignored) == expected_ignored


def test_junk_next_to_a_good_message_does_not_lose_it() -> None:
    # GIVEN one broken and one good message in the same change
    raw = _wa(_value("x", {**_GOOD, "id": None}, _GOOD))

    # WHEN
    parsed = parse_delivery(raw)

    # THEN
    assert [m.external_id for m in parsed.messages] == [who.WAMID_TEXT_ENGLISH]
    assert parsed.ignored == ("malformed", "malformed")


def test_bsuid_in_from_is_not_taken_for_a_phone() -> None:
    # GIVEN a username user whose BSUID is also in "from" (seen in nyaruka/courier testdata hello_bsuid_in_from.json)
    raw = _wa(_value({**_GOOD, "from": who.NEHA_BSUID, "from_user_id": who.NEHA_BSUID}))

    # WHEN
    [message] = parse_delivery(raw).messages

    # THEN the reply goes to the BSUID as a BSUID
    assert message.sender_id == who.NEHA_BSUID
    assert (message.reply_address.recipient, message.reply_address.recipient_kind) == (who.NEHA_BSUID, "bsuid")
