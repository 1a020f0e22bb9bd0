"""What WhatsApp and Messenger share: Meta's webhook handshake and X-Hub-Signature-256."""

from __future__ import annotations

import hashlib
import hmac

from shared import config
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
