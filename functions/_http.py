"""The one place where domain errors become HTTP responses."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Response

from shared import tokens
from shared.errors import (
    AuditUnavailableError,
    ConfigurationError,
    ConflictError,
    FollowUpNotAllowedError,
    ForbiddenError,
    HandshakeRejectedError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    KeysUnavailableError,
    MalformedPayloadError,
    NotFoundError,
    ReplyUnavailableError,
    SamparkError,
    SmsRefusedError,
    StorageUnavailableError,
    TipChangedError,
    TooManyRequestsError,
    VerificationExpiredError,
    VerificationFailedError,
)
from shared.observability import count, logger

_STATUS_BY_ERROR: list[tuple[type[SamparkError], int]] = [
    (InvalidSignatureError, 401),
    (InvalidTokenError, 401),
    (KeysUnavailableError, 503),
    (HandshakeRejectedError, 403),
    (MalformedPayloadError, 400),
    (InvalidRequestError, 400),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (FollowUpNotAllowedError, 409),
    (TipChangedError, 409),
    (ConflictError, 409),
    (VerificationFailedError, 400),
    (VerificationExpiredError, 410),
    (TooManyRequestsError, 429),
    # A message that would break India's DLT rules is the deployment's fault (templates), never the caller's.
    (SmsRefusedError, 500),
    (StorageUnavailableError, 503),  # Meta retries anything but 200: nothing is lost
    (ReplyUnavailableError, 503),  # SNS could not take a code or a subscription now
    (AuditUnavailableError, 503),  # no trace, no access: the officer may retry
    (ConfigurationError, 500),
]
# Officers' answers hold informants' words: no browser or proxy may keep a copy.
PRIVATE = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def error_response(error: SamparkError) -> Response:
    status = next((code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind)), 500)
    if isinstance(error, HandshakeRejectedError):
        # Echo nothing back on a failed handshake.
        return Response(body="", status_code=status, headers={"Content-Type": "text/plain"})
    message = str(error) if status < 500 else "temporarily unavailable, please retry"
    headers = dict(PRIVATE)
    if status == 401 and isinstance(error, InvalidTokenError):
        # RFC 6750 §3: a refused bearer token is answered with the scheme the client must use.
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return Response(body=json.dumps({"error": message}, ensure_ascii=False), status_code=status, headers=headers)


def signed_in(request: Any) -> tokens.Principal:
    """The officer named by the request's Cognito access token (``Authorization: Bearer <token>``)."""
    header = (request.headers or {}).get("authorization") or ""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError("sign in: send the header Authorization: Bearer <Cognito access token>")
    return tokens.verify_access_token(token.strip())


def json_body(request: Any) -> Any:
    """The request's JSON body; MalformedPayloadError (400) says why it is not JSON."""
    try:
        return json.loads(request.raw_body or b"")
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedPayloadError(f"the body is not JSON: {error}") from None


def private_json(body: Any, status: int = 200) -> Response:
    return json_response(body, status, cache="no-store")


def json_response(body: Any, status: int = 200, *, cache: str) -> Response:
    headers = {"Content-Type": "application/json", "Cache-Control": cache}
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status, headers=headers)


def maps_domain_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a route so that Sampark's errors leave as their HTTP status, logged without personal data."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except InvalidSignatureError as error:
            count("SignatureFailures")
            logger.warning("webhook signature rejected", extra={"reason": str(error)})
            return error_response(error)
        except SamparkError as error:
            log = logger.error if isinstance(error, (StorageUnavailableError, ConfigurationError)) else logger.info
            log("request refused", extra={"error": type(error).__name__, "reason": str(error)})
            return error_response(error)

    return wrapper
