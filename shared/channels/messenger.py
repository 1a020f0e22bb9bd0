"""Facebook Messenger: webhook payload -> InboundMessage, and replies through the Send API.

Handshake and signature are Meta's and live in shared.channels.meta.

What becomes a tip: text, image, video, audio, file attachments (an album is one event with several), and the
legacy location attachment. Ignored with a reason, never answered: echoes of what the Page sent (answering one
would loop), delivery and read receipts, postbacks, reactions, referrals, opt-ins, edits, unsends, standby events
(another app owns the thread), events addressed to another Page, and stickers. Stickers include the 👍 "like"
sticker: it is how people answer our acknowledgement, carries nothing an officer can use, and as text it would
open an empty tip and send a second reference (WhatsApp stickers are ignored the same way).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from shared import config, http
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
    ReplyRejectedError,
    ReplyUnavailableError,
)

API_URL_SETTING = "GRAPH_API_URL"
# Attachments are signed Facebook CDN URLs that need no token.
MEDIA_HOST_SUFFIXES = (".fbcdn.net", ".fbsbx.com")
# https://developers.facebook.com/docs/messenger-platform/reference/send-api: "text … must be UTF-8 and has a
# 2000 character limit". Our acknowledgement is about 200 characters; a longer text is refused before sending.
MAX_TEXT_CHARS = 2000

_MEDIA_TYPES = {
    "image": MediaKind.IMAGE,
    "video": MediaKind.VIDEO,
    "audio": MediaKind.AUDIO,
    "file": MediaKind.DOCUMENT,
}
# Events other than messages, by the key that carries them; each is ignored under its own name.
_OTHER_EVENTS = (
    "delivery",
    "read",
    "postback",
    "reaction",
    "referral",
    "optin",
    "message_edit",
    "account_linking",
    "policy_enforcement",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
)
# Titles Messenger gives a shared location that are not a place: "Pinned Location", "Current Location" and
# "<the sender's name>'s Location". A person's name must never be stored, and a title in another script (the app
# localises "<Name>'s Location") cannot be told from a place name, so only English place names are kept.
_NOT_A_PLACE = re.compile(r"^(pinned location|current location|.*['\u2019]s location)$", re.IGNORECASE)
# Graph error codes that mean "try later": unknown/temporary (1, 2), rate limits (4, 17, 32, 613), temporary send
# failure (1200); and an invalid or expired Page token (190), which is ours to fix, not the citizen's refusal.
_RETRYABLE_ERROR_CODES = {1, 2, 4, 17, 32, 190, 613, 1200}


# https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/messages
# {"object": "page", "entry": [{"id": "<PAGE_ID>", "time": 1795846000000, "messaging": [{
#     "sender": {"id": "<PSID>"}, "recipient": {"id": "<PAGE_ID>"}, "timestamp": 1795846000000,
#     "message": {"mid": "m_…", "text": "…",
#                 "attachments": [{"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/…"}}]}}],
#   "standby": [ …the same events, when another app owns the thread… ]}]}
# Legacy location: {"type": "location", "payload": {"coordinates": {"lat": 23.79, "long": 86.43},
#                   "title": "Pinned Location", "url": "https://l.facebook.com/…"}}; in 2018-era payloads
#                   "title" and "url" sit next to "payload". Echoes: "message": {"is_echo": true, "app_id": …}.
def parse_delivery(raw_body: bytes) -> ParsedDelivery:
    """Every message of one delivery, plus a reason for each event that is not a tip."""
    payload = load_json(raw_body, "body")
    if not isinstance(payload, dict) or payload.get("object") != "page":
        return ParsedDelivery(ignored=("not_page",))
    messages: list[InboundMessage] = []
    ignored: list[str] = []
    page = _OurPage()
    for event in _events(payload, ignored):
        message_or_reason = _parse_event(event, page)
        if isinstance(message_or_reason, str):
            ignored.append(message_or_reason)
        else:
            messages.append(message_or_reason)
    return ParsedDelivery(messages=tuple(messages), ignored=tuple(ignored))


class _OurPage:
    """MESSENGER_PAGE_ID, read only when a delivery holds a user message (a receipt needs no configuration)."""

    _id: str | None = None

    def owns(self, recipient: str) -> bool:
        if self._id is None:
            self._id = config.get("MESSENGER_PAGE_ID")
        return recipient == self._id


def _events(payload: dict[str, Any], ignored: list[str]) -> Iterator[dict[str, Any]]:
    for entry in _items(payload, "entry", ignored):
        if not isinstance(entry, dict):
            ignored.append("malformed")
            continue
        # Events of a thread another app owns (Handover Protocol): that app answers them, not us.
        ignored.extend("standby" for _ in _items(entry, "standby", ignored))
        for event in _items(entry, "messaging", ignored):
            if isinstance(event, dict):
                yield event
            else:
                ignored.append("malformed")


def _parse_event(event: dict[str, Any], page: _OurPage) -> InboundMessage | str:
    message = event.get("message")
    if message is None:
        return next((name for name in _OTHER_EVENTS if name in event), "unknown_event")
    if not isinstance(message, dict):
        return "malformed"
    if message.get("is_echo"):
        return "echo"  # what the Page itself sent: answering it would loop
    if message.get("is_deleted"):
        return "deleted"
    sender, recipient = _id_of(event.get("sender")), _id_of(event.get("recipient"))
    message_id = _str(message.get("mid"))
    sent_at = _timestamp(event.get("timestamp"))
    if not sender or not recipient or not message_id or sent_at is None:
        return "malformed"
    if not page.owns(recipient):
        return "other_page"
    content = _content(message)
    if isinstance(content, str):
        return content
    text, media, location = content
    return InboundMessage(
        channel=Channel.MESSENGER,
        sender_id=sender,
        external_id=message_id,
        sent_at=sent_at,
        reply_address=ReplyAddress(
            channel=Channel.MESSENGER, recipient=sender, recipient_kind="psid", in_reply_to=message_id
        ),
        text=text,
        media=media,
        location=location,
    )


def _content(message: dict[str, Any]) -> tuple[str | None, tuple[MediaRef, ...], Location | None] | str:
    """(text, media, location) of a user message, or the reason it holds nothing we take."""
    attachments = message.get("attachments", [])
    if not isinstance(attachments, list):
        return "malformed"
    text = _str(message.get("text")) or None  # quick_reply.payload and reply_to are not the citizen's words
    media: list[MediaRef] = []
    location: Location | None = None
    skipped: list[str] = []
    for attachment in attachments:
        taken = _attachment(attachment)
        if isinstance(taken, MediaRef):
            media.append(taken)
        elif isinstance(taken, Location):
            location = location or taken
        else:
            skipped.append(taken)
    if not (text or media or location):
        return skipped[0] if skipped else "empty"
    return text, tuple(media), location


def _attachment(attachment: Any) -> MediaRef | Location | str:
    if not isinstance(attachment, dict):
        return "malformed"
    kind = _str(attachment.get("type"))
    payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
    # Until 30 Aug 2026 a sticker also came as an "image" with a sticker_id; it is never evidence.
    if kind == "sticker" or payload.get("sticker_id"):
        return "sticker"
    if kind == "location":
        return _location(attachment, payload) or "malformed"
    if kind not in _MEDIA_TYPES:
        # fallback (a shared link; its URL is in the text if the citizen typed it), reel, post, template, …
        return f"attachment_{kind or 'missing'}"
    url = _str(payload.get("url"))
    if not url.startswith(("https://", "http://")):
        return "malformed"
    return MediaRef(kind=_MEDIA_TYPES[kind], url=url)


def _location(attachment: dict[str, Any], payload: dict[str, Any]) -> Location | None:
    coordinates = payload.get("coordinates") if isinstance(payload.get("coordinates"), dict) else {}
    try:
        latitude, longitude = float(coordinates["lat"]), float(coordinates["long"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    title = _str(payload.get("title")) or _str(attachment.get("title"))
    name = title if title and title.isascii() and not _NOT_A_PLACE.match(title) else None
    return Location(latitude=latitude, longitude=longitude, name=name)


def _id_of(party: Any) -> str:
    return _str(party.get("id")) if isinstance(party, dict) else ""


# --- calls to the Graph API ---------------------------------------------------------------------------------


def resolve_media_url(media_id: str) -> str:
    raise MediaRejectedError("no_media_id")  # Messenger attachments come with their URL only


def media_headers(url: str) -> dict[str, str]:
    return {}  # signed CDN URLs: the Page token must never travel to a download host


def send_reply(address: ReplyAddress, reply: OutgoingReply) -> str:
    """A chat channel sends the reply's text."""
    return send_text(address, reply.text)


# https://developers.facebook.com/docs/messenger-platform/reference/send-api
# POST /me/messages {"recipient": {"id": "<PSID>"}, "messaging_type": "RESPONSE", "message": {"text": "…"}}
#   -> {"recipient_id": "<PSID>", "message_id": "m_…"}
# The token goes in the Authorization header, never in the URL (URLs end up in logs and error messages).
def send_text(address: ReplyAddress, text: str) -> str:
    """Send ``text`` to ``address`` inside the 24-hour window; returns the platform's message id."""
    if len(text) > MAX_TEXT_CHARS:
        raise ReplyRejectedError(f"text longer than Messenger's {MAX_TEXT_CHARS} characters")
    payload = {"recipient": {"id": address.recipient}, "messaging_type": "RESPONSE", "message": {"text": text}}
    url = f"{config.get_url(API_URL_SETTING)}/me/messages"
    headers = {"Authorization": f"Bearer {config.get('MESSENGER_PAGE_ACCESS_TOKEN')}"}
    try:
        response = http.request("POST", url, headers=headers, json_body=payload)
    except http.HttpError as error:
        raise ReplyUnavailableError(str(error)) from error
    return _sent_message_id(response)


def _sent_message_id(response: http.HttpResponse) -> str:
    body = response.json() if isinstance(response.json(), dict) else {}
    if response.status == 200:
        return _str(body.get("message_id"))
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code, subcode = error.get("code"), error.get("error_subcode")
    reason = f"Graph API answered {response.status} (code {code}, subcode {subcode})"
    if response.status >= 500 or response.status in (401, 403, 429) or code in _RETRYABLE_ERROR_CODES:
        raise ReplyUnavailableError(reason)
    # e.g. code 10 / subcode 2018278 (outside the 24-hour window), 551 (the person is unavailable)
    raise ReplyRejectedError(reason)
