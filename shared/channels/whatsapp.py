"""WhatsApp Cloud API: webhook payload -> InboundMessage, media lookup, and replies.

Handshake and signature are Meta's and live in shared.channels.meta.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared import config, http
from shared.channels._fields import as_list as _list
from shared.channels._fields import epoch_datetime as _timestamp
from shared.channels._fields import listed as _items
from shared.channels._fields import load_json
from shared.channels._fields import text as _str
from shared.domain import (
    Channel,
    InboundMessage,
    Location,
    MediaKind,
    MediaRef,
    OutgoingReply,
    ParsedDelivery,
    ReplyAddress,
)
from shared.errors import (
    MediaRejectedError,
    MediaUnavailableError,
    ReplyRejectedError,
    ReplyUnavailableError,
)

API_URL_SETTING = "GRAPH_API_URL"
# https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media
MEDIA_HOST_SUFFIXES = ("lookaside.fbsbx.com", ".fbsbx.com", ".fbcdn.net", ".whatsapp.net")

_MEDIA_TYPES = {
    "image": MediaKind.IMAGE,
    "video": MediaKind.VIDEO,
    "audio": MediaKind.AUDIO,
    "document": MediaKind.DOCUMENT,
}
# Graph error codes that mean "slow down, try later" (courier handlers/meta/whatsapp/api.go).
_RETRYABLE_ERROR_CODES = {4, 80007, 130429, 131048, 131053, 131056, 133016}


# https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/overview
# {"object": "whatsapp_business_account", "entry": [{"id": "<WABA>", "changes": [{"field": "messages", "value": {
#   "messaging_product": "whatsapp", "metadata": {"phone_number_id": "…"}, "contacts": [...],
#   "messages": [{"from": "917004512389", "from_user_id": "IN.148…", "id": "wamid.…", "timestamp": "1764000000",
#                 "type": "text", "text": {"body": "…"}}], "statuses": [...]}}]}]}
def parse_delivery(raw_body: bytes) -> ParsedDelivery:
    """Every message of one delivery, plus a reason for each event that is not a tip."""
    payload = load_json(raw_body, "body")
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return ParsedDelivery(ignored=("not_whatsapp",))
    messages: list[InboundMessage] = []
    ignored: list[str] = []
    for value in _change_values(payload, ignored):
        ignored.extend("status" for _ in _items(value, "statuses", ignored))
        ignored.extend("error" for _ in _items(value, "errors", ignored))
        for raw_message in _items(value, "messages", ignored):
            message_or_reason = _parse_message(raw_message)
            if isinstance(message_or_reason, str):
                ignored.append(message_or_reason)
            else:
                messages.append(message_or_reason)
    return ParsedDelivery(messages=tuple(messages), ignored=tuple(ignored))


def _change_values(payload: dict[str, Any], ignored: list[str]) -> Iterator[dict[str, Any]]:
    for entry in _items(payload, "entry", ignored):
        if not isinstance(entry, dict):
            ignored.append("malformed")
            continue
        for change in _items(entry, "changes", ignored):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                ignored.append("malformed")
            elif change.get("field") != "messages":
                ignored.append("field")
            else:
                yield change["value"]


def _parse_message(raw: Any) -> InboundMessage | str:
    if not isinstance(raw, dict):
        return "malformed"
    if raw.get("group_id"):
        return "group"  # a tip line answers people, not groups
    sender, bsuid = _str(raw.get("from")), _str(raw.get("from_user_id"))
    # `from` is a phone number (digits) or, for username users, may itself carry the BSUID.
    phone = sender if sender.isdigit() else ""
    bsuid = bsuid or ("" if phone else sender)
    message_id, message_type = _str(raw.get("id")), _str(raw.get("type"))
    sent_at = _timestamp(raw.get("timestamp"))
    if not (phone or bsuid) or not message_id or sent_at is None:
        return "malformed"
    content = _content(message_type, raw.get(message_type))
    if content is None:
        return f"type_{message_type or 'missing'}"
    text, media, location = content
    context = raw.get("context") if isinstance(raw.get("context"), dict) else {}
    return InboundMessage(
        channel=Channel.WHATSAPP,
        # BSUID when present: it is what stays stable for username users; the phone otherwise.
        sender_id=bsuid or phone,
        external_id=message_id,
        sent_at=sent_at,
        reply_address=ReplyAddress(
            channel=Channel.WHATSAPP,
            recipient=phone or bsuid,
            recipient_kind="phone" if phone else "bsuid",
            in_reply_to=message_id,
        ),
        text=text,
        media=media,
        location=location,
        forwarded=bool(context.get("forwarded") or context.get("frequently_forwarded")),
    )


def _content(message_type: str, body: Any) -> tuple[str | None, tuple[MediaRef, ...], Location | None] | None:
    """(text, media, location) of a supported message type, or None for a type we don't take."""
    if not isinstance(body, dict):
        return None
    if message_type == "text":
        text = _str(body.get("body"))
        return (text, (), None) if text else None
    if message_type in _MEDIA_TYPES:
        media = MediaRef(
            kind=_MEDIA_TYPES[message_type],
            media_id=_str(body.get("id")) or None,
            url=_str(body.get("url")) or None,
            mime_type=_str(body.get("mime_type")) or None,
            sha256=_str(body.get("sha256")) or None,
            caption=_str(body.get("caption")) or None,
            filename=_str(body.get("filename")) or None,
        )
        return None, (media,), None
    if message_type == "location":
        location = _location(body)
        return (None, (), location) if location else None
    return None


# https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/location
# {"latitude": 23.7957, "longitude": 86.4304, "name": "…", "address": "…"}; a dropped pin has only the coordinates.
def _location(body: dict[str, Any]) -> Location | None:
    try:
        latitude, longitude = float(body["latitude"]), float(body["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return Location(
        latitude=latitude,
        longitude=longitude,
        name=_str(body.get("name")) or None,
        address=_str(body.get("address")) or None,
    )


# --- calls to the Graph API ---------------------------------------------------------------------------------


def _auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {config.get('WHATSAPP_ACCESS_TOKEN')}"}


def media_headers(url: str) -> dict[str, str]:
    """Meta refuses a media download without the same bearer token."""
    return _auth_headers()


# https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media
# GET /{media-id}?phone_number_id=… -> {"url": "https://lookaside.fbsbx.com/…", "mime_type": "image/jpeg",
#                                        "sha256": "…", "file_size": "…", "id": "…"}; the url lives 5 minutes.
def resolve_media_url(media_id: str) -> str:
    """A fresh download URL for ``media_id``."""
    url = f"{config.get_url(API_URL_SETTING)}/{media_id}?phone_number_id={config.get('WHATSAPP_PHONE_NUMBER_ID')}"
    try:
        response = http.request("GET", url, headers=_auth_headers())
    except http.HttpError as error:
        raise MediaUnavailableError(str(error)) from error
    if response.status != 200:
        if response.status >= 500 or response.status in (401, 403, 404, 429):
            raise MediaUnavailableError(f"media lookup answered {response.status}")
        raise MediaRejectedError(f"media_lookup_status_{response.status}")
    body = response.json()
    media_url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(media_url, str) or not media_url:
        raise MediaUnavailableError("media lookup returned no url")
    return media_url


def send_reply(address: ReplyAddress, reply: OutgoingReply) -> str:
    """A chat channel sends the reply's text."""
    return send_text(address, reply.text)


# https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/text-messages
# POST /{phone-number-id}/messages {"messaging_product": "whatsapp", "to" | "recipient": …, "type": "text", …}
def send_text(address: ReplyAddress, body: str) -> str:
    """Send ``body`` to ``address``; returns the platform's message id."""
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": "text",
        "text": {"body": body, "preview_url": False},
    }
    # Username users have no phone in the webhook; they are answered by BSUID with "recipient".
    payload["to" if address.recipient_kind == "phone" else "recipient"] = address.recipient
    if address.in_reply_to:
        payload["context"] = {"message_id": address.in_reply_to}
    url = f"{config.get_url(API_URL_SETTING)}/{config.get('WHATSAPP_PHONE_NUMBER_ID')}/messages"
    try:
        response = http.request("POST", url, headers=_auth_headers(), json_body=payload)
    except http.HttpError as error:
        raise ReplyUnavailableError(str(error)) from error
    return _sent_message_id(response)


def _sent_message_id(response: http.HttpResponse) -> str:
    body = response.json() if isinstance(response.json(), dict) else {}
    if response.status == 200:
        messages = _list(body.get("messages"))
        return _str(messages[0].get("id")) if messages and isinstance(messages[0], dict) else ""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = error.get("code")
    reason = f"Graph API answered {response.status} (code {code})"
    if response.status >= 500 or response.status in (401, 403, 429) or code in _RETRYABLE_ERROR_CODES:
        raise ReplyUnavailableError(reason)
    raise ReplyRejectedError(reason)
