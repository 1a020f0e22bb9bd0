"""Alert subscriptions: citizens sign up, verify and leave (public routes); supervisors see counts; a schedule
keeps email subscriptions in step with SNS's confirmation and unsubscribe links."""

import base64
import functools
import hashlib
import re
from pathlib import Path

from chalice import Blueprint, CORSConfig, Rate, Response

from functions._http import json_body, maps_domain_errors, private_json, signed_in

bp = Blueprint(__name__)

# The sign-up form may live on the police website: any origin may call these routes (they take no cookies).
PUBLIC = CORSConfig(allow_origin="*", max_age=600, allow_headers=["X-Subscription-Token"])
# SNS deletes unconfirmed email subscriptions after 48 hours; a confirmation shows up here within this time.
SYNC_EVERY_MINUTES = 15
TOKEN_HEADER = "x-subscription-token"  # noqa: S105 - a header name, not a secret


SIGN_UP_PAGE = Path(__file__).parent / "pages" / "subscribe.html"


@functools.cache
def _sign_up_page() -> tuple[str, str]:
    """The page and its Content-Security-Policy: only its own inline script and style (by hash) may run."""
    html = SIGN_UP_PAGE.read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies)

    policy = (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )
    return html, policy


def _subscriptions():
    # Imported on first use: the webhooks share this Lambda and must not pay for PynamoDB on a cold start.
    from shared import subscriptions

    return subscriptions


def _source_address() -> str:
    """The caller's network address as API Gateway saw it (counted for the sign-up limit, keyed-hashed)."""
    context = bp.current_request.context or {}
    return str((context.get("identity") or {}).get("sourceIp") or "unknown")


def _token() -> object:
    """The sign-up's token: the X-Subscription-Token header or {"token": "…"} in the body. Never the query string,
    which ends up in access logs and browser histories."""
    request = bp.current_request
    token = (request.headers or {}).get(TOKEN_HEADER)
    if token is None and request.raw_body:
        body = json_body(request)
        token = body.get("token") if isinstance(body, dict) else None
    return token


@bp.route("/subscribe", methods=["GET"])
def sign_up_page() -> Response:
    """The sign-up form that chat replies link to (Messenger and username users cannot sign up from the chat)."""
    html, policy = _sign_up_page()
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "public, max-age=300",
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body=html, status_code=200, headers=headers)


@bp.route("/subscriptions", methods=["POST"], content_types=["application/json"], cors=PUBLIC)
@maps_domain_errors
def sign_up() -> Response:
    request = bp.current_request
    return private_json(_subscriptions().sign_up(json_body(request), _source_address()), status=201)


@bp.route("/subscriptions/stats", methods=["GET"])
@maps_domain_errors
def statistics() -> Response:
    return private_json(_subscriptions().statistics(signed_in(bp.current_request)))


@bp.route("/subscriptions/{subscription_id}", methods=["GET"], cors=PUBLIC)
@maps_domain_errors
def subscription_status(subscription_id: str) -> Response:
    return private_json(_subscriptions().status(subscription_id, _token()))


@bp.route("/subscriptions/{subscription_id}/verify", methods=["POST"], content_types=["application/json"], cors=PUBLIC)
@maps_domain_errors
def verify(subscription_id: str) -> Response:
    return private_json(_subscriptions().verify(subscription_id, json_body(bp.current_request)))


@bp.route("/subscriptions/{subscription_id}", methods=["DELETE"], cors=PUBLIC)
@maps_domain_errors
def leave(subscription_id: str) -> Response:
    return private_json(_subscriptions().leave(subscription_id, _token()))


@bp.schedule(Rate(SYNC_EVERY_MINUTES, unit=Rate.MINUTES), name="sync_subscriptions")
def sync_subscriptions(event) -> dict:
    return _subscriptions().sync_with_sns()
