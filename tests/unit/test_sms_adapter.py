"""Two-way SMS: the SNS message AWS End User Messaging publishes -> ParsedDelivery (tests/events/sms/), and replies as
DLT templates through shared/sms.py."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from shared import texts
from shared.channels import adapter, sms
from shared.domain import Channel, InboundMessage, ParsedDelivery, ReplyAddress
from shared.errors import (
    ConfigurationError,
    MalformedPayloadError,
    MediaRejectedError,
    ReplyDeferredError,
    ReplyRejectedError,
    ReplyUnavailableError,
    SmsRefusedError,
)
from tests.conftest import EVENTS, load_event


def _sms(sender: str, message_id: str, text: str, now: datetime) -> InboundMessage:
    return InboundMessage(
        channel=Channel.SMS,
        sender_id=sender,
        external_id=message_id,
        sent_at=now,  # the payload carries no time: the moment it is processed
        reply_address=ReplyAddress(channel=Channel.SMS, recipient=sender, recipient_kind="phone", in_reply_to=None),
        text=text,
    )


MESSAGE_ID = "5f0c8f3a-1b7e-4c52-9a61-0d2e7b9c1a0"  # + the fixture's digit
TEXTS = {
    "text_english": (
        "+919000011101",
        "1",
        "Two men sell illegal liquor behind the Bank More bus stand every evening after 7.",
    ),
    "text_hinglish": (
        "+919000011102",
        "2",
        "Jharia thana ke paas raat ko koyla chori ho rahi hai, truck number nahi dikha.",
    ),
    "text_hindi": ("+919000011103", "3", "हीरापुर में राशन दुकान का चावल खुले बाज़ार में बेचा जा रहा है।"),
    "multipart_part1": (
        "+919000011104",
        "4",
        "The ration dealer at Katras Bazar sells PDS rice to a trader every Tuesday night from the",
    ),
    "multipart_part2": ("+919000011104", "5", "back gate of the godown, using a white pickup."),
    # A status query is a message like any other here; recording tells it from a tip.
    "status_query_own": ("+919000011101", "8", "STATUS DHN-7K3QM"),
    "status_query_other_sender": ("+919000011108", "9", "स्थिति DHN-7K3QM"),
    # Not an Indian mobile: recorded, but no SMS can answer it (shared/sms.py sends to Indian mobiles only).
    "text_foreign_number": (
        "+447700900123",
        "a",
        "A lorry without plates dumps waste near the Jharia road at night.",
    ),
}
# STOP is a message: recording turns it into an opt-out, never a tip (tests/functional/test_chat_commands.py).
TEXTS["keyword_stop"] = ("+919000011105", "6", "STOP")
IGNORED = {"empty_body": "empty", "malformed_fields": "malformed"}


def test_every_fixture_has_a_case() -> None:
    assert {path.stem for path in (EVENTS / "sms").glob("*.json")} == set(TEXTS) | set(IGNORED)


@pytest.mark.parametrize("case", sorted(TEXTS))
def test_text_fixture_is_one_message(case: str, fixed_clock: datetime) -> None:
    sender, digit, text = TEXTS[case]
    expected = ParsedDelivery(messages=(_sms(sender, MESSAGE_ID + digit, text, fixed_clock),))
    assert sms.parse_delivery(load_event("sms", case)) == expected


@pytest.mark.parametrize("case", sorted(IGNORED))
def test_fixture_that_is_no_tip_is_ignored_with_its_reason(case: str) -> None:
    assert sms.parse_delivery(load_event("sms", case)) == ParsedDelivery(ignored=(IGNORED[case],))


def test_both_parts_of_a_long_sms_come_from_one_sender_as_two_messages() -> None:
    (first,) = sms.parse_delivery(load_event("sms", "multipart_part1")).messages
    (second,) = sms.parse_delivery(load_event("sms", "multipart_part2")).messages
    assert first.sender_id == second.sender_id and first.external_id != second.external_id


def _payload(**fields: object) -> bytes:
    base = {
        "originationNumber": "+919000011199",
        "destinationNumber": "+919000000100",
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": "Tip text",
        "inboundMessageId": "id-1",
    }
    base.update(fields)
    return json.dumps({key: value for key, value in base.items() if value is not ...}).encode()


@pytest.mark.parametrize("body", ["HELP", "help!", "START", "unstop", "TD"])
def test_a_bare_keyword_that_is_no_command_is_dropped(body: str) -> None:
    assert sms.parse_delivery(_payload(messageBody=body)).ignored == ("keyword",)


@pytest.mark.parametrize("body", ["STOP", "stop", " Stop. ", "UNSUBSCRIBE", "OPT-OUT", "QUIT"])
def test_an_opt_out_keyword_goes_on_as_a_message_for_recording_to_act_on(body: str) -> None:
    (message,) = sms.parse_delivery(_payload(messageBody=body)).messages
    assert message.text == body.strip()


@pytest.mark.parametrize("body", ["STOP selling liquor near the school", "help, my neighbour is beaten daily"])
def test_a_keyword_inside_a_sentence_is_a_tip(body: str) -> None:
    (message,) = sms.parse_delivery(_payload(messageBody=body)).messages
    assert message.text == body


@pytest.mark.parametrize(
    ("origination", "sender"),
    [("+919000011199", "+919000011199"), ("919000011199", "+919000011199"), (" +447700900123 ", "+447700900123")],
)
def test_the_sender_is_kept_in_e164(origination: str, sender: str) -> None:
    (message,) = sms.parse_delivery(_payload(originationNumber=origination)).messages
    assert message.sender_id == message.reply_address.recipient == sender


@pytest.mark.parametrize(
    "fields",
    [
        {"originationNumber": ...},
        {"originationNumber": "VM-DHNPOL"},  # an alphanumeric sender id: a business, never a citizen
        {"originationNumber": "56161"},  # a short code
        {"originationNumber": "+0123456789"},
        {"inboundMessageId": ...},
        {"inboundMessageId": ""},
        {"inboundMessageId": 42},
    ],
)
def test_without_a_phone_sender_or_a_message_id_it_is_malformed(fields: dict[str, object]) -> None:
    assert sms.parse_delivery(_payload(**fields)).ignored == ("malformed",)


@pytest.mark.parametrize("body", [..., None, "", "   ", 7])
def test_without_a_text_body_it_is_empty(body: object) -> None:
    assert sms.parse_delivery(_payload(messageBody=body)).ignored == ("empty",)


def test_any_destination_number_is_accepted() -> None:
    assert len(sms.parse_delivery(_payload(destinationNumber=...)).messages) == 1
    assert len(sms.parse_delivery(_payload(destinationNumber="+15550100")).messages) == 1


@pytest.mark.parametrize("raw", [b"null", b"[]", b'"text"', b"42", b"{}"])
def test_json_that_is_not_an_sms_is_ignored_as_malformed(raw: bytes) -> None:
    assert sms.parse_delivery(raw) == ParsedDelivery(ignored=("malformed",))


@pytest.mark.parametrize("raw", [b"", b"not json", b'{"originationNumber": ', b"\xff\xfe"])
def test_bytes_that_are_not_json_raise_malformed_payload(raw: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        sms.parse_delivery(raw)


def test_the_adapter_is_registered_for_sms() -> None:
    assert adapter(Channel.SMS) is sms


# --- replies: a DLT template from the two-way number, never free text ------------------------------------------

RECIPIENT = "+919000011199"
ADDRESS = ReplyAddress(channel=Channel.SMS, recipient=RECIPIENT, recipient_kind="phone")


def test_a_reply_is_sent_as_its_template_purpose_and_values(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr("shared.sms.send", lambda *args, **kwargs: calls.append((args, kwargs)) or "sns-message-id")
    assert sms.send_reply(ADDRESS, texts.status_answer("DHN-7K3QM", "in_review")) == "sns-message-id"
    assert calls == [
        (
            (
                RECIPIENT,
                "status",
                {"reference": "DHN-7K3QM", "status_hi": "समीक्षा की जा रही है", "status_en": "under review"},
            ),
            {},
        )
    ]


def _client_error(code: str) -> ClientError:
    # SNS's own messages can quote the number: the adapter must pass on neither.
    return ClientError({"Error": {"Code": code, "Message": f"Invalid parameter: PhoneNumber {RECIPIENT}"}}, "Publish")


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        pytest.param(
            SmsRefusedError("the status SMS: status_en must be 1 to 30 characters"), ReplyRejectedError, id="refused"
        ),
        pytest.param(ConfigurationError("setting SMS_SENDER_ID is not configured"), ReplyDeferredError, id="no-dlt"),
        *(
            pytest.param(_client_error(code), ReplyUnavailableError, id=code)
            for code in (
                "Throttling",
                "ThrottlingException",
                "ThrottledException",
                "InternalError",
                "ServiceUnavailable",
                "KMSThrottlingException",
            )
        ),
        *(
            pytest.param(_client_error(code), ReplyRejectedError, id=code)
            for code in ("InvalidParameter", "OptedOut", "AuthorizationError", "KMSDisabled")
        ),
        pytest.param(
            EndpointConnectionError(endpoint_url="https://sns.ap-south-1.amazonaws.com"),
            ReplyUnavailableError,
            id="network",
        ),
    ],
)
def test_sending_failures_map_to_the_reply_errors(monkeypatch, capsys, failure, expected) -> None:
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr("shared.sms.send", fail)
    with pytest.raises(expected) as raised:
        sms.send_reply(ADDRESS, texts.acknowledgement("DHN-7K3QM"))
    assert RECIPIENT not in str(raised.value) and RECIPIENT[3:] not in str(raised.value)
    if isinstance(failure, ClientError):
        assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert RECIPIENT[3:] not in capsys.readouterr().out


def test_missing_dlt_settings_are_logged_by_name(monkeypatch, capsys) -> None:
    def fail(*args, **kwargs):
        raise ConfigurationError("setting DLT_ENTITY_ID is not configured")

    monkeypatch.setattr("shared.sms.send", fail)
    with pytest.raises(ReplyDeferredError, match="DLT_ENTITY_ID"):
        sms.send_reply(ADDRESS, texts.limit_notice())
    logs = capsys.readouterr().out
    assert "SMS replies wait for the DLT settings" in logs and "DLT_ENTITY_ID" in logs


def test_sms_has_no_media() -> None:
    with pytest.raises(MediaRejectedError):
        sms.resolve_media_url("anything")
    assert sms.MEDIA_HOST_SUFFIXES == ()
