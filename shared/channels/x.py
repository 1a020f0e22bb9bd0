"""X (Twitter): CRC, webhook signature, Account Activity payload -> InboundMessage, DMs and replies.

Everything X asks us to sign (DMs, public replies, DM media downloads) is signed with OAuth 1.0a in the police
account's user context; the small signer at the end of this module follows RFC 5849 §3.4 and is checked against
X's own worked example and RFC 5849's base string in tests/unit/test_x_adapter.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from shared import config, http
from shared.channels._fields import as_dict as _dict
from shared.channels._fields import as_list as _list
from shared.channels._fields import epoch_datetime as _from_milliseconds
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
    InvalidSignatureError,
    MediaRejectedError,
    ReplyRejectedError,
    ReplyUnavailableError,
    SocialPostRejectedError,
    SocialPostUnavailableError,
)

API_URL_SETTING = "X_API_URL"
# DM media lives on ton.twitter.com (OAuth 1.0a required); tweet photos on pbs.twimg.com and tweet videos and GIFs
# (as MP4) on video.twimg.com are public. https://developer.x.com/en/docs/direct-messages/message-attachments/overview
MEDIA_HOST_SUFFIXES = ("ton.twitter.com", "pbs.twimg.com", "video.twimg.com")
SIGNATURE_HEADER = "x-twitter-webhooks-signature"

_SIGNATURE_PREFIX = "sha256="
_SCHEMES = ("https://", "http://")
_SHA256_BYTES = 32
# Hosts whose media downloads must carry the account's OAuth 1.0a signature.
_SIGNED_MEDIA_HOSTS = ("ton.twitter.com",)
# DM videos and GIFs are served from video.twimg.com under these paths and, like ton.twitter.com, want a signature.
_SIGNED_VIDEO_PATHS = ("/dm_video/", "/dm_gif/")

# Account Activity arrays that never carry a tip, each with the reason it is counted under.
_IGNORED_EVENTS = {
    "favorite_events": "favorite",
    "follow_events": "follow",
    "block_events": "block",
    "mute_events": "mute",
    "direct_message_indicate_typing_events": "typing",
    "direct_message_mark_read_events": "read",
    "tweet_delete_events": "tweet_delete",
    "user_event": "user_event",
    "replay_job_status": "replay_job_status",
}
# Keys of the envelope that describe the events rather than being events.
_ENVELOPE_KEYS = {"for_user_id", "users", "apps", "user_has_blocked", "is_blocked_by", "source"}
# The reply mentions X puts in front of a reply's text ("@DhanbadPolice @someone …"): addressing, not content.
_PLAIN_WORD = re.compile(r"[a-z_]{1,32}")
_LEADING_MENTIONS = re.compile(r"^(?:@\w{1,15}\s*)+")


# --- webhook handshake and signature -------------------------------------------------------------------------


# https://docs.x.com/x-api/webhooks/quickstart  (CRC)
# GET <webhook>?crc_token=<token>  ->  200 {"response_token": "sha256=<base64 HMAC-SHA256(consumer secret, token)>"}
def crc_response(crc_token: str) -> dict[str, str]:
    """The JSON body that answers X's challenge-response check."""
    return {"response_token": _sign_with_consumer_secret(crc_token.encode())}


# https://docs.x.com/x-api/webhooks/quickstart  (Signature verification)
# x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret, raw body)> — base64, where Meta uses hex.
def verify_signature(raw_body: bytes, header_value: str | None) -> None:
    """Return quietly when the body is signed with our consumer secret; InvalidSignatureError otherwise."""
    if not header_value or not header_value.startswith(_SIGNATURE_PREFIX):
        raise InvalidSignatureError("missing or malformed x-twitter-webhooks-signature")
    try:
        received = base64.b64decode(header_value[len(_SIGNATURE_PREFIX) :].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignatureError("x-twitter-webhooks-signature is not base64") from None
    if len(received) != _SHA256_BYTES:
        raise InvalidSignatureError("x-twitter-webhooks-signature has the wrong length")
    expected = hmac.new(config.get("X_CONSUMER_SECRET").encode(), raw_body, hashlib.sha256).digest()
    if not hmac.compare_digest(received, expected):
        raise InvalidSignatureError("x-twitter-webhooks-signature does not match")


def sign(raw_body: bytes, consumer_secret: str | None = None) -> str:
    """The x-twitter-webhooks-signature X would send for ``raw_body`` (tests and local examples)."""
    return _sign_with_consumer_secret(raw_body, consumer_secret)


def _sign_with_consumer_secret(message: bytes, consumer_secret: str | None = None) -> str:
    secret = consumer_secret if consumer_secret is not None else config.get("X_CONSUMER_SECRET")
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return _SIGNATURE_PREFIX + base64.b64encode(digest).decode()


# --- Account Activity deliveries -----------------------------------------------------------------------------


# https://docs.x.com/x-api/account-activity/introduction  (v1.1-style event objects, one array per event type)
# {"for_user_id": "<police account>",
#  "direct_message_events": [{"type": "message_create", "id": "<dm id>", "created_timestamp": "1795840000000",
#      "message_create": {"target": {"recipient_id": "<police>"}, "sender_id": "<citizen>",
#          "message_data": {"text": "… &amp; … https://t.co/x", "entities": {…},
#              "attachment": {"type": "media", "media": {"type": "photo", "url": "https://t.co/x",
#                  "media_url_https": "https://ton.twitter.com/1.1/ton/data/dm/<dm id>/<media id>/a.jpg"}}}}}],
#  "users": {"<id>": {…}}, "apps": {…}}
# {"for_user_id": "<police>", "user_has_blocked": "false",
#  "tweet_create_events": [{"id_str": "…", "timestamp_ms": "1795840000000", "text": "@DhanbadPolice …",
#      "truncated": false, "user": {"id_str": "<citizen>", …}, "entities": {"user_mentions": [{"id_str": …}]},
#      "extended_entities": {"media": [{"type": "photo", "media_url_https": "https://pbs.twimg.com/media/….jpg"}]},
#      "coordinates": {"type": "Point", "coordinates": [86.43, 23.79]}, "place": {…}}]}
def parse_delivery(raw_body: bytes) -> ParsedDelivery:
    """Every DM to us and every mention of us in one delivery, plus a reason for each event that is not a tip."""
    payload = load_json(raw_body, "body")
    if not isinstance(payload, dict):
        return ParsedDelivery(ignored=("malformed",))
    for_user_id = payload.get("for_user_id")
    if not isinstance(for_user_id, str) or not for_user_id:
        return ParsedDelivery(ignored=("not_account_activity",))
    account_id = config.get("X_ACCOUNT_ID")
    if for_user_id != account_id:
        # A delivery for another subscribed account: its DMs are not ours to read.
        return ParsedDelivery(ignored=("other_account",))
    messages: list[InboundMessage] = []
    ignored: list[str] = []
    for key, value in payload.items():
        if key in _ENVELOPE_KEYS:
            continue
        if key == "direct_message_events":
            parse_one = _parse_direct_message
        elif key == "tweet_create_events":
            parse_one = _parse_tweet
        else:
            reason = _IGNORED_EVENTS.get(key, "unknown_event")
            ignored.extend(reason for _ in (value if isinstance(value, list) else [value]))
            continue
        if not isinstance(value, list):
            ignored.append("malformed")
            continue
        for event in value:
            message_or_reason = parse_one(event, account_id)
            if isinstance(message_or_reason, str):
                ignored.append(message_or_reason)
            else:
                messages.append(message_or_reason)
    return ParsedDelivery(messages=tuple(messages), ignored=tuple(ignored))


# Display names and screen names (the "users" map, "user.name", "user.screen_name") are never read.
def _parse_direct_message(event: Any, account_id: str) -> InboundMessage | str:
    if not isinstance(event, dict):
        return "malformed"
    if event.get("type") != "message_create":
        # The reason is logged and counted: only a short, plain word of the payload goes into it.
        event_type = _str(event.get("type")) or "missing"
        return f"dm_type_{event_type if _PLAIN_WORD.fullmatch(event_type) else 'other'}"
    create = _dict(event.get("message_create"))
    sender_id = _str(create.get("sender_id"))
    recipient_id = _str(_dict(create.get("target")).get("recipient_id"))
    dm_id = _str(event.get("id"))
    sent_at = _from_milliseconds(event.get("created_timestamp"))
    if not sender_id or not recipient_id or not dm_id or sent_at is None:
        return "malformed"
    if sender_id == account_id:
        return "own_message"  # our own DMs come back too (source_app_id set): answering them would loop
    if recipient_id != account_id:
        return "not_for_us"
    data = _dict(create.get("message_data"))
    attachment = _dict(data.get("attachment"))
    media: tuple[MediaRef, ...] = ()
    location = None
    if attachment.get("type") == "media":
        media = tuple(ref for ref in [_media_ref(_dict(attachment.get("media")))] if ref)
    elif attachment.get("type") == "location":
        location = _dm_location(_dict(attachment.get("location")))
    # The t.co link of an attachment is appended to the text; it points at the attachment, which we keep.
    text = _clean_text(data.get("text"), _attachment_links([attachment.get("media")]))
    if not (text or media or location):
        return "empty"
    return InboundMessage(
        channel=Channel.X,
        sender_id=sender_id,
        external_id=f"dm:{dm_id}",
        sent_at=sent_at,
        reply_address=ReplyAddress(channel=Channel.X, recipient=sender_id, recipient_kind="dm", public=False),
        text=text,
        media=media,
        location=location,
    )


def _parse_tweet(tweet: Any, account_id: str) -> InboundMessage | str:
    if not isinstance(tweet, dict):
        return "malformed"
    author_id = _str(_dict(tweet.get("user")).get("id_str"))
    tweet_id = _str(tweet.get("id_str"))
    sent_at = _from_milliseconds(tweet.get("timestamp_ms"))
    if not author_id or not tweet_id or sent_at is None:
        return "malformed"
    if author_id == account_id:
        return "own_message"  # our own tweets, including our public replies
    if "retweeted_status" in tweet:
        return "retweet"
    extended = _dict(tweet.get("extended_tweet")) if tweet.get("truncated") else {}
    entities = _dict(extended.get("entities")) or _dict(tweet.get("entities"))
    mentioned = {_str(_dict(m).get("id_str")) for m in _list(entities.get("user_mentions"))}
    if account_id not in mentioned:
        return "not_a_mention"
    raw_media = _list(_dict(extended.get("extended_entities") or tweet.get("extended_entities")).get("media"))
    if not raw_media:
        raw_media = _list(entities.get("media"))
    media = tuple(ref for ref in (_media_ref(_dict(item)) for item in raw_media) if ref)
    raw_text = extended.get("full_text") if extended else tweet.get("text")
    text = _clean_text(raw_text, _attachment_links(raw_media), strip_leading_mentions=True)
    location = _tweet_location(tweet)
    if not (text or media or location):
        return "empty"
    return InboundMessage(
        channel=Channel.X,
        # Mentions are grouped apart from DMs: a DM after a mention must open its own tip, or the DM would join the
        # mention's tip, whose only acknowledgement is the public DM invitation, and never get its reference.
        sender_id=f"mention:{author_id}",
        external_id=f"tweet:{tweet_id}",
        sent_at=sent_at,
        reply_address=ReplyAddress(
            channel=Channel.X, recipient=author_id, recipient_kind="mention", in_reply_to=tweet_id, public=True
        ),
        text=text,
        media=media,
        location=location,
    )


# https://developer.x.com/en/docs/twitter-api/v1/data-dictionary/object-model/extended-entities
# {"type": "photo", "media_url_https": "https://pbs.twimg.com/media/….jpg", "url": "https://t.co/…"}
# {"type": "video" | "animated_gif", "media_url_https": "<thumbnail>",
#  "video_info": {"variants": [{"bitrate": 832000, "content_type": "video/mp4", "url": "https://video.twimg.com/…"}]}}
def _media_ref(media: dict[str, Any]) -> MediaRef | None:
    media_type = media.get("type")
    if media_type in ("video", "animated_gif"):
        variant = _best_mp4(_list(_dict(media.get("video_info")).get("variants")))
        if variant:
            return MediaRef(kind=MediaKind.VIDEO, url=variant, mime_type="video/mp4")
        return None  # only a thumbnail: nothing worth keeping
    if media_type == "photo":
        url = _str(media.get("media_url_https"))
        if not url.startswith(_SCHEMES):  # which hosts may be fetched is shared.media's decision
            return None
        if urlsplit(url).hostname == "pbs.twimg.com" and not urlsplit(url).query:
            url += "?name=orig"  # the full-size original, not the resized default
        return MediaRef(kind=MediaKind.IMAGE, url=url)
    return None


def _best_mp4(variants: list[Any]) -> str | None:
    mp4s = [
        (v.get("bitrate") if isinstance(v.get("bitrate"), int) else 0, _str(v.get("url")))
        for v in variants
        if isinstance(v, dict) and v.get("content_type") == "video/mp4" and _str(v.get("url")).startswith(_SCHEMES)
    ]
    return max(mp4s)[1] if mp4s else None


def _attachment_links(media: Iterable[Any]) -> list[str]:
    return [link for item in media if (link := _str(_dict(item).get("url")))]


def _clean_text(value: Any, links: list[str], *, strip_leading_mentions: bool = False) -> str | None:
    """X escapes &, < and > as HTML entities; attachment links and reply mentions are not the citizen's words."""
    text = html.unescape(value) if isinstance(value, str) else ""
    for link in links:
        text = text.replace(link, "")
    if strip_leading_mentions:
        text = _LEADING_MENTIONS.sub("", text.strip())
    return text.strip() or None


# https://developer.x.com/en/docs/x-api/v1/direct-messages/message-attachments/guides/attaching-location
# {"type": "shared_coordinate", "shared_coordinate": {"coordinates": {"type": "Point", "coordinates": [lon, lat]}}}
# A "shared_place" carries only a place id: no coordinates to keep.
def _dm_location(location: dict[str, Any]) -> Location | None:
    if location.get("type") != "shared_coordinate":
        return None
    return _point(_dict(_dict(location.get("shared_coordinate")).get("coordinates")))


# A tweet's "coordinates" is a GeoJSON Point [lon, lat] (rare since 2019). Its "place" is a city-level bounding box:
# kept only as the name of a precise point, never turned into a point itself (a centroid would look precise).
def _tweet_location(tweet: dict[str, Any]) -> Location | None:
    point = _point(_dict(tweet.get("coordinates")))
    if point is None:
        return None
    place_name = _str(_dict(tweet.get("place")).get("full_name")) or None
    return Location(latitude=point.latitude, longitude=point.longitude, name=place_name)


def _point(geometry: dict[str, Any]) -> Location | None:
    coordinates = geometry.get("coordinates")
    if geometry.get("type") != "Point" or not isinstance(coordinates, list) or len(coordinates) != 2:
        return None
    longitude, latitude = coordinates  # GeoJSON order
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in (longitude, latitude)):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return Location(latitude=float(latitude), longitude=float(longitude))


# --- calls to the X API --------------------------------------------------------------------------------------


def send_reply(address: ReplyAddress, reply: OutgoingReply) -> str:
    """A chat channel sends the reply's text."""
    return send_text(address, reply.text)


# https://docs.x.com/x-api/direct-messages/manage/integrate
# POST /2/dm_conversations/with/{participant_id}/messages {"text": …} -> 201 {"data": {"dm_conversation_id",
#                                                                                       "dm_event_id"}}
# https://docs.x.com/x-api/posts/manage-tweets/introduction
# POST /2/tweets {"text": …, "reply": {"in_reply_to_tweet_id": …}} -> 201 {"data": {"id", "text"}}
def send_text(address: ReplyAddress, text: str) -> str:
    """Send ``text`` by DM, or as a public reply to a mention; returns X's id of what was sent."""
    base = config.get_url(API_URL_SETTING)
    if address.public:
        _refuse_reference_in_public(text)
        if not address.in_reply_to:
            raise ReplyRejectedError("a public reply needs the tweet it answers")
        url = f"{base}/2/tweets"
        payload: dict[str, Any] = {"text": text, "reply": {"in_reply_to_tweet_id": address.in_reply_to}}
    else:
        url = f"{base}/2/dm_conversations/with/{quote(address.recipient, safe='')}/messages"
        payload = {"text": text}
    try:
        response = http.request("POST", url, headers=_authorization("POST", url), json_body=payload)
    except http.HttpError as error:
        raise ReplyUnavailableError(str(error)) from error
    return _sent_id(response, "id" if address.public else "dm_event_id")


def _refuse_reference_in_public(text: str) -> None:
    """Defence in depth: a reference in a public tweet would tie the informant to a tip for everyone to see."""
    prefix = re.escape(config.get("REFERENCE_PREFIX"))
    if re.search(rf"{prefix}\s*-\s*[0-9A-Z]", text, flags=re.IGNORECASE):
        raise ReplyRejectedError("a public reply must not carry a reference")


def _sent_id(response: http.HttpResponse, id_field: str) -> str:
    body = response.json()
    if response.status in (200, 201):
        data = body.get("data") if isinstance(body, dict) else None
        return _str(_dict(data).get(id_field))
    reason = f"X API answered {response.status}"
    if response.status >= 500 or response.status in (401, 429):
        raise ReplyUnavailableError(reason)
    raise ReplyRejectedError(reason)


# --- the police account's own posts (wanted notices) ---------------------------------------------------------

TWEET_MAX_WEIGHTED_LENGTH = 280
# https://docs.x.com/fundamentals/counting-characters: code points in these ranges count 1, every other 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_POSTING_SETTINGS = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")


def weighted_length(text: str) -> int:
    """X's tweet length: Latin, Devanagari and the other scripts up to U+10FF count 1, the rest (CJK, emoji) 2."""
    return sum(1 if any(low <= ord(char) <= high for low, high in _LIGHT_RANGES) else 2 for char in text)


def posting_configured() -> bool:
    return all(config.get_optional(name) for name in _POSTING_SETTINGS)


# https://docs.x.com/x-api/posts/manage-tweets/introduction
# POST /2/tweets {"text": …, "reply": {"in_reply_to_tweet_id": …}} -> 201 {"data": {"id", "text"}}
def post_tweet(text: str, in_reply_to: str | None = None) -> str:
    """Tweet ``text`` from the police account (as a reply to ``in_reply_to``); the tweet's id."""
    if weighted_length(text) > TWEET_MAX_WEIGHTED_LENGTH:
        raise SocialPostRejectedError(f"tweet longer than {TWEET_MAX_WEIGHTED_LENGTH} weighted characters")
    url = f"{config.get_url(API_URL_SETTING)}/2/tweets"
    payload: dict[str, Any] = {"text": text}
    if in_reply_to:
        payload["reply"] = {"in_reply_to_tweet_id": in_reply_to}
    try:
        response = http.request("POST", url, headers=_authorization("POST", url), json_body=payload)
    except http.HttpError as error:
        raise SocialPostUnavailableError(str(error)) from error
    body = response.json()
    tweet_id = _str(_dict(_dict(body).get("data")).get("id"))
    if response.status in (200, 201) and tweet_id:
        return tweet_id
    reason = f"X API answered {response.status}"
    if response.status >= 500 or response.status == 429 or response.status in (200, 201):
        raise SocialPostUnavailableError(reason)
    # e.g. 403 (duplicate text, the account is locked), 401 (the credentials were revoked), 400
    raise SocialPostRejectedError(reason)


def resolve_media_url(media_id: str) -> str:
    """X puts every media URL in the webhook itself; there is no id to look up."""
    raise MediaRejectedError("no_media_id")


def media_headers(url: str) -> dict[str, str]:
    """DM media wants the account's OAuth 1.0a signature; public tweet media gets no credentials at all."""
    parts = urlsplit(url)
    api = urlsplit(config.get_url(API_URL_SETTING))
    host = (parts.hostname or "").lower()
    same_origin = (parts.scheme, parts.hostname, parts.port) == (api.scheme, api.hostname, api.port)
    dm_video = host == "video.twimg.com" and parts.path.startswith(_SIGNED_VIDEO_PATHS)
    if same_origin or (parts.scheme == "https" and (host in _SIGNED_MEDIA_HOSTS or dm_video)):
        return _authorization("GET", url)
    return {}


def _authorization(method: str, url: str) -> dict[str, str]:
    header = oauth_header(
        method,
        url,
        consumer_key=config.get("X_CONSUMER_KEY"),
        consumer_secret=config.get("X_CONSUMER_SECRET"),
        token=config.get("X_ACCESS_TOKEN"),
        token_secret=config.get("X_ACCESS_TOKEN_SECRET"),
    )
    return {"Authorization": header}


# --- health check (shared.channel_health) -----------------------------------------------------------------------
# Returns None when X can deliver to us, else a short reason made of HTTP statuses only (never a token or a body).

WEBHOOK_PATH = "/webhooks/x"  # the route of functions/x.py: our webhook is the registered URL whose path ends so


def check_health() -> str | None:
    """Is our Account Activity webhook registered and valid and, given a user token, is the account subscribed?"""
    bearer = config.get_optional("X_BEARER_TOKEN")
    if not bearer:
        return "bearer_token_not_configured (X_BEARER_TOKEN)"
    webhook_id, problem = _our_webhook(bearer)
    if problem or not webhook_id:
        return problem or "unexpected_answer (a webhook without an id)"
    if not posting_configured():  # the user token: the four settings that also sign DMs and posts
        return None
    return _subscription_problem(webhook_id)


# https://docs.x.com/x-api/webhooks/quickstart  (View webhooks: OAuth 2.0 app-only bearer token)
# GET /2/webhooks  ->  200 {"data": [{"id": "1234567890", "url": "https://…/api/webhooks/x", "valid": true,
#                                     "created_at": "2025-01-15T12:00:00.000Z"}], "meta": {"result_count": 1}}
# X re-runs the CRC every hour; a webhook that fails it turns "valid": false and gets no events until it passes.
def _our_webhook(bearer: str) -> tuple[str | None, str | None]:
    """(the id of our valid webhook, None), or (None, what is wrong)."""
    url = f"{config.get_url(API_URL_SETTING)}/2/webhooks"
    try:
        response = http.request("GET", url, headers={"Authorization": f"Bearer {bearer}"})
    except http.HttpError as error:
        return None, f"unreachable ({error})"  # the error names the method and host only
    if response.status != 200:
        return None, _health_problem(response.status, unauthorized="bearer_token_invalid")
    webhooks = [_dict(item) for item in _list(_dict(response.json()).get("data"))]
    ours = [hook for hook in webhooks if urlsplit(_str(hook.get("url"))).path.rstrip("/").endswith(WEBHOOK_PATH)]
    if not ours:
        return None, "webhook_not_registered"
    if any(hook.get("valid") is not True for hook in ours):
        return None, "webhook_invalid"
    return _str(ours[0].get("id")), None


# https://docs.x.com/x-api/account-activity/quickstart  (Checking a subscription: OAuth 1.0a user context)
# GET /2/account_activity/webhooks/{webhook_id}/subscriptions/all  ->  200 {"data": {"subscribed": true}}
def _subscription_problem(webhook_id: str) -> str | None:
    """Does the police account's token still work, and is the account still subscribed to the webhook?"""
    base = config.get_url(API_URL_SETTING)
    url = f"{base}/2/account_activity/webhooks/{quote(webhook_id, safe='')}/subscriptions/all"
    try:
        response = http.request("GET", url, headers=_authorization("GET", url))
    except http.HttpError as error:
        return f"unreachable ({error})"
    if response.status == 200:
        subscribed = _dict(_dict(response.json()).get("data")).get("subscribed")
        return None if subscribed is True else "account_not_subscribed"
    return _health_problem(response.status, unauthorized="user_token_invalid", refused="account_not_subscribed")


# https://docs.x.com/x-api/fundamentals/response-codes-and-errors
# 401 {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}: keep only the status.
def _health_problem(status: int, *, unauthorized: str, refused: str = "unexpected_answer") -> str:
    if status == 401:
        return f"{unauthorized} (HTTP 401)"
    if status == 403:
        return "forbidden (HTTP 403)"  # e.g. the app lost its Account Activity access, or the account is suspended
    if status == 429:
        return "rate_limited (HTTP 429)"
    if status >= 500:
        return f"platform_unavailable (HTTP {status})"
    return f"{refused} (HTTP {status})"


# --- OAuth 1.0a (RFC 5849), HMAC-SHA1 ------------------------------------------------------------------------
# https://docs.x.com/fundamentals/authentication/oauth-1-0a/creating-a-signature
# X signs the method, the base URL, the query parameters and the oauth_* values; a JSON body is not part of it
# (only an application/x-www-form-urlencoded body would be, passed as ``body_params``).


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, then every byte but the unreserved A-Z a-z 0-9 - . _ ~ as %XX (upper case)."""
    return quote(value.encode(), safe="-._~")


def base_string_uri(url: str) -> str:
    """RFC 5849 §3.4.1.2: scheme and host in lower case, default port dropped, no query or fragment."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1: METHOD&encoded base URI&encoded sorted parameters (query, body and oauth_* together)."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in [*query, *params])
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join(percent_encode(part) for part in (method.upper(), base_string_uri(url), normalized))


def oauth_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()).decode()


def oauth_header(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    body_params: Iterable[tuple[str, str]] = (),
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The Authorization header value of one request signed in the user context of ``token``."""
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),  # X allows a few minutes
        "oauth_token": token,
        "oauth_version": "1.0",
    }
    base = signature_base_string(method, url, [*oauth.items(), *body_params])
    oauth["oauth_signature"] = oauth_signature(base, consumer_secret, token_secret)
    return "OAuth " + ", ".join(f'{percent_encode(k)}="{percent_encode(v)}"' for k, v in sorted(oauth.items()))


def parse_oauth_header(value: str) -> dict[str, str]:
    """The parameters of an ``OAuth k="v", …`` header (used by the fake X API to check our signatures)."""
    if not value.startswith("OAuth "):
        return {}
    params = {}
    for match in re.finditer(r'([A-Za-z0-9_%.~-]+)="([^"]*)"', value[len("OAuth ") :]):
        params[unquote(match.group(1))] = unquote(match.group(2))
    return params
