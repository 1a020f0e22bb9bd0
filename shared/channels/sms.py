"""Two-way SMS (AWS End User Messaging -> SNS): the SNS message -> InboundMessage. No media, no MMS in India.

One SNS message is one inbound SMS. A long SMS may arrive as several messages in any order (platform-contracts
§5); each becomes its own InboundMessage and the shared grouping joins them into the sender's open tip. Replies go
out as DLT-registered templates through shared/sms.py, never as free text.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

from shared import clock, commands, sms
from shared.channels._fields import load_json
from shared.channels._fields import text as _str
from shared.domain import Channel, InboundMessage, OutgoingReply, ParsedDelivery, ReplyAddress
from shared.errors import (
    ConfigurationError,
    MediaRejectedError,
    ReplyDeferredError,
    ReplyRejectedError,
    ReplyUnavailableError,
    SmsRefusedError,
)
from shared.observability import count, logger

API_URL_SETTING = "GRAPH_API_URL"  # unused: SMS carries no media
MEDIA_HOST_SUFFIXES: tuple[str, ...] = ()
INBOUND_TOPIC = "sampark-inbound-sms"

_E164 = re.compile(r"\+?([1-9][0-9]{7,14})")
# A body that is nothing but one of these is an instruction to the number, never a tip: AWS End User Messaging's
# required opt-out and help keywords, and START/UNSTOP to opt back in. The opt-out words go on as messages: recording
# turns them into the opt-out they ask for (shared/commands.py); the others are dropped here.
KEYWORDS = frozenset(
    {
        *("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT-OUT", "REMOVE", "ARRET", "TD"),
        "HELP",
        *("START", "UNSTOP"),
    }
)


# https://docs.aws.amazon.com/sms-voice/latest/userguide/two-way-sms-payload.html
# {"originationNumber": "+91…", "destinationNumber": "+91…", "messageKeyword": "KEYWORD_<account>",
#  "messageBody": "…", "inboundMessageId": "<uuid>", "previousPublishedMessageId": "…"}
def parse_delivery(raw_body: bytes) -> ParsedDelivery:
    """The SMS in one SNS message, or the reason it is not a tip. Only bytes that are not JSON raise."""
    payload = load_json(raw_body, "SNS message")
    message_or_reason = _parse_message(payload)
    if isinstance(message_or_reason, str):
        return ParsedDelivery(ignored=(message_or_reason,))
    return ParsedDelivery(messages=(message_or_reason,))


def _parse_message(payload: Any) -> InboundMessage | str:
    if not isinstance(payload, dict):
        return "malformed"
    sender = _e164(payload.get("originationNumber"))
    message_id = _str(payload.get("inboundMessageId"))
    if not sender or not message_id:
        return "malformed"
    # destinationNumber is not checked: the topic only receives our numbers' messages, and none is configured.
    text = _str(payload.get("messageBody"))
    if not text:
        return "empty"
    if text.rstrip(".!").upper() in KEYWORDS and commands.parse(text) is None:
        return "keyword"
    return InboundMessage(
        channel=Channel.SMS,
        sender_id=sender,
        external_id=message_id,
        # The payload has no timestamp; the message is processed moments after AWS received it.
        sent_at=clock.now(),
        reply_address=ReplyAddress(channel=Channel.SMS, recipient=sender, recipient_kind="phone", in_reply_to=None),
        text=text,
    )


def _e164(value: Any) -> str:
    """``+<digits>``, or "" for anything else (a short code or an alphanumeric sender cannot be a citizen)."""
    match = _E164.fullmatch(_str(value))
    return f"+{match.group(1)}" if match else ""


# SNS error codes worth retrying (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors
# and https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html); any other refusal (InvalidParameter,
# AuthorizationError, KMSDisabled, …) would be refused again.
_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottlingException",
    }
)


def send_reply(address: ReplyAddress, reply: OutgoingReply) -> str:
    """Send the reply's DLT template (India sends no free text: reliability-security §1.1) under the DLT header;
    SNS's message id. No error message or log line holds the number or the values."""
    try:
        return sms.send(address.recipient, reply.purpose, dict(reply.values))
    except SmsRefusedError as error:
        raise ReplyRejectedError(str(error)) from error
    except ConfigurationError as error:
        # Fail closed: the reply stays pending until the district's DLT settings exist.
        count("SmsSettingsMissing")
        logger.error("SMS replies wait for the DLT settings", extra={"reason": str(error)})
        raise ReplyDeferredError(str(error)) from error
    except ClientError as error:
        # SNS's message can quote the number: only the code goes on, and the original is not chained.
        code = error.response.get("Error", {}).get("Code", "unknown")
        if code in _RETRYABLE_CODES:
            raise ReplyUnavailableError(f"SNS could not take the SMS now ({code})") from None
        raise ReplyRejectedError(f"SNS refused the SMS ({code})") from None
    except (AwsConnectionError, HTTPClientError) as error:
        raise ReplyUnavailableError(f"SNS could not be reached ({type(error).__name__})") from None


def resolve_media_url(media_id: str) -> str:
    raise MediaRejectedError("no_media_on_sms")


def media_headers(url: str) -> dict[str, str]:
    return {}
