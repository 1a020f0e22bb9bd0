"""The one place where domain errors become HTTP responses."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Response

from shared.errors import (
    ConfigurationError,
    HandshakeRejectedError,
    InvalidSignatureError,
    InvalidTokenError,
    KeysUnavailableError,
    MalformedPayloadError,
    SamparkError,
    StorageUnavailableError,
)
from shared.observability import count, logger

_STATUS_BY_ERROR: list[tuple[type[SamparkError], int]] = [
    (InvalidSignatureError, 401),
    (InvalidTokenError, 401),
    (KeysUnavailableError, 503),
    (HandshakeRejectedError, 403),
    (MalformedPayloadError, 400),
    (StorageUnavailableError, 503),  # Meta retries anything but 200: nothing is lost
    (ConfigurationError, 500),
]


def error_response(error: SamparkError) -> Response:
    status = next((code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind)), 500)
    if isinstance(error, HandshakeRejectedError):
        # Echo nothing back on a failed handshake.
        return Response(body="", status_code=status, headers={"Content-Type": "text/plain"})
    message = str(error) if status < 500 else "temporarily unavailable, please retry"
    return Response(
        body=json.dumps({"error": message}), status_code=status, headers={"Content-Type": "application/json"}
    )


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
