"""What WhatsApp and Messenger share: Meta's webhook handshake and X-Hub-Signature-256."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from shared import config, http
from shared.channels._fields import as_dict as _dict
from shared.channels._fields import as_list as _list
from shared.channels._fields import text as _str
from shared.errors import HandshakeRejectedError, InvalidSignatureError

SIGNATURE_HEADER = "x-hub-signature-256"
_SIGNATURE_PREFIX = "sha256="
_MAX_CHALLENGE_LENGTH = 128


# https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests
# GET <callback>?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=<ours>  ->  200, body "1158201444"
def verify_subscription(query: dict[str, str]) -> str:
    """The challenge to echo back as text/plain, or HandshakeRejectedError."""
    mode = query.get("hub.mode", "")
    token = query.get("hub.verify_token", "")
    challenge = query.get("hub.challenge", "")
    expected = config.get("META_VERIFY_TOKEN")
    token_ok = hmac.compare_digest(token.encode(), expected.encode())
    # The challenge is echoed, so accept only short printable ASCII: nothing a browser could run.
    challenge_ok = 0 < len(challenge) <= _MAX_CHALLENGE_LENGTH and challenge.isascii() and challenge.isalnum()
    if mode != "subscribe" or not token_ok or not challenge_ok:
        raise HandshakeRejectedError("verification handshake rejected")
    return challenge


# https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications
# X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(app secret, raw body)>. Meta signs the body *as sent*
# (non-ASCII escaped as \uXXXX, "/" as "\/"), so the HMAC must cover the raw bytes, never re-serialised JSON.
def verify_signature(raw_body: bytes, header_value: str | None) -> None:
    """Return quietly when the body is signed with our app secret; InvalidSignatureError otherwise."""
    if not header_value or not header_value.startswith(_SIGNATURE_PREFIX):
        raise InvalidSignatureError("missing or malformed X-Hub-Signature-256")
    received = header_value[len(_SIGNATURE_PREFIX) :].strip().lower()
    expected = sign(raw_body)[len(_SIGNATURE_PREFIX) :]
    if not hmac.compare_digest(received.encode(), expected.encode()):
        raise InvalidSignatureError("X-Hub-Signature-256 does not match")


def sign(raw_body: bytes, app_secret: str | None = None) -> str:
    """The X-Hub-Signature-256 value Meta would send for ``raw_body`` (also used by make run's example)."""
    secret = app_secret if app_secret is not None else config.get("META_APP_SECRET")
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return _SIGNATURE_PREFIX + digest


# --- health checks (shared.channel_health) -----------------------------------------------------------------------
# Each returns None when the channel works, else a short reason built only from HTTP statuses and Graph error codes:
# never a token, an id or Meta's message text (which can quote the request).

_API_URL_SETTING = "GRAPH_API_URL"
# https://developers.facebook.com/docs/graph-api/guides/error-handling
_TOKEN_INVALID_CODE = 190  # expired, revoked, or the password/permissions changed (subcodes 458-467)
_NOT_VISIBLE_CODE = 100  # subcode 33: "Object with ID … does not exist, cannot be loaded due to missing permissions"
_PERMISSION_CODES = {10, *range(200, 300)}
_RATE_LIMIT_CODES = {4, 17, 32, 613}
_TRANSIENT_CODES = {1, 2}


# https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/
# GET /{phone-number-id}?fields=id (Bearer = the system-user token)  ->  200 {"id": "106540352242922"}
# Only the id is asked for, so that the answer carries no phone number.
def check_whatsapp() -> str | None:
    """Is the access token still valid, and can it still see our phone number id?"""
    phone_number_id = config.get("WHATSAPP_PHONE_NUMBER_ID")
    answer = _graph_get(f"{phone_number_id}?fields=id", config.get("WHATSAPP_ACCESS_TOKEN"))
    if isinstance(answer, str):
        return answer
    status, body = answer
    if status != 200:
        return _graph_problem(status, body, not_visible="phone_number_not_visible")
    if _str(body.get("id")) != phone_number_id:
        return "unexpected_answer (no phone number id)"
    return None


# https://developers.facebook.com/docs/graph-api/reference/page/subscribed_apps/
# GET /{page-id}/subscribed_apps?fields=id,subscribed_fields (Bearer = the Page token)
#   ->  200 {"data": [{"id": "<app id>", "subscribed_fields": ["messages", "messaging_postbacks"]}]}
# Meta unsubscribes an app whose webhook keeps failing (docs/platform-contracts.md §1.4); then the list is empty.
def check_messenger() -> str | None:
    """Is the Page token still valid, and is the Page still subscribed to our app with the messages field?"""
    path = f"{config.get('MESSENGER_PAGE_ID')}/subscribed_apps?fields=id,subscribed_fields"
    answer = _graph_get(path, config.get("MESSENGER_PAGE_ACCESS_TOKEN"))
    if isinstance(answer, str):
        return answer
    status, body = answer
    if status != 200:
        return _graph_problem(status, body, not_visible="page_not_visible")
    # Without META_APP_ID any app subscribed with "messages" counts; with it, only ours does.
    app_id = config.get_optional("META_APP_ID")
    ours = [app for app in _list(body.get("data")) if app_id is None or _str(_dict(app).get("id")) == app_id]
    if not ours:
        return "app_not_subscribed"
    if not any("messages" in _list(_dict(app).get("subscribed_fields")) for app in ours):
        return "messages_field_not_subscribed"
    return None


def _graph_get(path: str, token: str) -> tuple[int, dict[str, Any]] | str:
    """The status and JSON object of GET <Graph API>/<path>, or a reason when no answer came."""
    url = f"{config.get_url(_API_URL_SETTING)}/{path}"
    try:
        response = http.request("GET", url, headers={"Authorization": f"Bearer {token}"})
    except http.HttpError as error:
        return f"unreachable ({error})"  # the error names the method and host only
    body = response.json()
    return response.status, body if isinstance(body, dict) else {}


# https://developers.facebook.com/docs/graph-api/guides/error-handling
# {"error": {"message": "Error validating access token: …", "type": "OAuthException", "code": 190,
#            "error_subcode": 463, "fbtrace_id": "…"}}
def _graph_problem(status: int, body: dict[str, Any], *, not_visible: str) -> str:
    error = _dict(body.get("error"))
    # Only integers go into the reason: it is logged, and the body is the platform's to fill.
    code, subcode = (_int(error.get(key)) for key in ("code", "error_subcode"))
    detail = f"HTTP {status}, code {code}" + (f", subcode {subcode}" if subcode is not None else "")
    if code == _TOKEN_INVALID_CODE:
        return f"token_invalid ({detail})"
    if code == _NOT_VISIBLE_CODE:
        return f"{not_visible} ({detail})"
    if code in _PERMISSION_CODES:
        return f"permission_denied ({detail})"
    if status == 429 or code in _RATE_LIMIT_CODES:
        return f"rate_limited ({detail})"
    if status >= 500 or code in _TRANSIENT_CODES:
        return f"platform_unavailable ({detail})"
    return f"unexpected_answer ({detail})"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
