"""The one configuration reader.

Every setting has one name, the same locally and in AWS. A value is looked up, on first use only, in:
1. the process environment (``make run`` and tests set it there);
2. for secrets, the JSON secret named by ``SECRETS_ID`` in AWS Secrets Manager (cached for 5 minutes);
3. the defaults below.
Nothing is read at import time, so a handler imports with no environment at all.
"""

from __future__ import annotations

import json
import os
import time
from urllib.parse import urlsplit

from shared.errors import ConfigurationError

DEFAULTS: dict[str, str] = {
    "GRAPH_API_URL": "https://graph.facebook.com/v25.0",
    "X_API_URL": "https://api.x.com",
    "REFERENCE_PREFIX": "DHN",
    # A follow-up message or another photo within this many seconds joins the sender's open tip.
    "TIP_GROUPING_WINDOW_SECONDS": "600",
    # Meta retries a failed delivery for up to 7 days; anything older is a replay, and dedupe keys outlive it.
    "REPLAY_HORIZON_SECONDS": str(8 * 24 * 3600),
    "DEDUPE_RETENTION_SECONDS": str(30 * 24 * 3600),
    # Must equal maxReceiveCount of the media queue's redrive policy (infra/resources.json).
    "MEDIA_MAX_RECEIVES": "5",
    "HTTP_TIMEOUT_SECONDS": "10",
    # check_channel_health waits this long for all platforms together (they are asked in parallel); a platform
    # that has not answered by then is reported unhealthy ("timeout"). Well under the function's 20 s timeout.
    "CHANNEL_HEALTH_TIMEOUT_SECONDS": "8",
    # A sender over this many messages in a window still has them stored, but is acknowledged no more (one notice).
    "SENDER_MESSAGE_LIMIT": "20",
    "SENDER_LIMIT_WINDOW_SECONDS": "3600",
    # After an officer's follow-up question, the informant's messages join that tip for this long (the platforms'
    # 24-hour reply window).
    "FOLLOWUP_ANSWER_WINDOW_SECONDS": str(24 * 3600),
    # Questions officers may send about one tip within 24 hours.
    "FOLLOWUP_LIMIT_PER_DAY": "3",
    # An SMS longer than this many parts (each billed) is refused before it is sent (shared/sms.py).
    # The district's DLT-registered SMS templates (README, "SMS"); packaged with the code. Missing: no SMS is sent.
    "DLT_TEMPLATES_FILE": "shared/data/dlt-templates.json",
    "SMS_MAX_PARTS": "3",
    # Sign-ups from one network address per minute before 429 (a family or office behind one address: at least 10).
    "SIGNUPS_PER_MINUTE": "20",
    # One-time codes (or SNS confirmation mails) per number or address per hour: no one is flooded with codes.
    "SIGNUP_CODES_PER_HOUR": "3",
    "CODE_VALID_SECONDS": "600",
    "CODE_MAX_ATTEMPTS": "5",
    # The name alert emails come from (the email topics' DisplayName; SMS topics have none).
    "ALERT_EMAIL_DISPLAY_NAME": "Dhanbad Police",
    # A broadcast's estimate (README, "Broadcasts": where each figure comes from; check the pricing page).
    "SMS_PRICE_PER_PART_USD": "0.004",
    "EMAIL_PRICE_PER_MESSAGE_USD": "0.00002",
    "SMS_PARTS_PER_SECOND": "20",
    # A broadcast to more recipients than this waits for a second supervisor's approval.
    "BROADCAST_APPROVAL_THRESHOLD": "5000",
}

# Credentials and keys: in AWS they live in the Secrets Manager secret, never in a plain environment variable.
SECRET_NAMES: frozenset[str] = frozenset(
    {
        "META_APP_SECRET",
        "META_VERIFY_TOKEN",
        "WHATSAPP_ACCESS_TOKEN",
        "MESSENGER_PAGE_ACCESS_TOKEN",
        "X_CONSUMER_KEY",
        "X_CONSUMER_SECRET",
        "X_ACCESS_TOKEN",
        "X_ACCESS_TOKEN_SECRET",
        # The X app's app-only bearer token: only the health check uses it (GET /2/webhooks).
        "X_BEARER_TOKEN",
        "SENDER_PEPPER",
    }
)

# Identifiers of the platforms' accounts: not secret, but looked up in the secret too so that one place holds them.
ACCOUNT_NAMES: frozenset[str] = frozenset(
    {
        # Optional: the health check then insists that this app (not just any) is subscribed to the Page.
        "META_APP_ID",
        "WHATSAPP_PHONE_NUMBER_ID",
        "MESSENGER_PAGE_ID",
        "X_ACCOUNT_ID",
        "SMS_SENDER_ID",
        "DLT_ENTITY_ID",
        "SMS_TWO_WAY_NUMBER",
        "SUBSCRIBE_PAGE_URL",
    }
)


def get(name: str) -> str:
    """The value of setting ``name``; ConfigurationError names it when it is set nowhere."""
    value = os.environ.get(name)
    if value:
        return value
    if name in SECRET_NAMES or name in ACCOUNT_NAMES:
        value = _secret_values().get(name)
        if value:
            return value
    if name in DEFAULTS:
        return DEFAULTS[name]
    raise ConfigurationError(f"setting {name} is not configured")


def get_optional(name: str) -> str | None:
    """The value of setting ``name``, or None where it is set nowhere."""
    try:
        return get(name)
    except ConfigurationError:
        return None


def get_int(name: str) -> int:
    try:
        return int(get(name))
    except ValueError as error:
        raise ConfigurationError(f"setting {name} must be an integer") from error


def get_url(name: str) -> str:
    """A base URL without its trailing slash; ConfigurationError unless it is http(s) with a host."""
    value = get(name).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"setting {name} must be an http(s) URL")
    return value


# A changed secret (a new token, the DLT settings) reaches warm functions within this time, without a redeploy.
SECRET_CACHE_SECONDS = 300
_secret_cache: dict[str, tuple[float, dict[str, str]]] = {}


def _secret_values() -> dict[str, str]:
    secret_id = os.environ.get("SECRETS_ID")
    if not secret_id:
        return {}
    cached = _secret_cache.get(secret_id)
    if cached is not None and time.monotonic() - cached[0] < SECRET_CACHE_SECONDS:
        return cached[1]
    from shared.aws.clients import client  # deferred: only AWS deployments read the secret

    response = client("secretsmanager").get_secret_value(SecretId=secret_id)
    try:
        values = json.loads(response["SecretString"])
    except (KeyError, ValueError) as error:
        raise ConfigurationError("the Secrets Manager secret must be a JSON object") from error
    fresh = {key: str(value) for key, value in values.items()}
    _secret_cache[secret_id] = (time.monotonic(), fresh)
    return fresh


def reset() -> None:
    """Forget cached secrets (tests, or after a rotation)."""
    _secret_cache.clear()
