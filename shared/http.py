"""Outbound HTTP to the platforms: one lazily created urllib3 pool (urllib3 already ships with botocore)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared import config

_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


class HttpError(Exception):
    """The request never got an HTTP answer (DNS, connection, timeout).

    Raised ``from None``: urllib3's own error text holds the whole URL, which can carry a citizen's platform id.
    """


@functools.cache
def _pool() -> Any:
    import logging

    import urllib3

    # urllib3 logs retried URLs at WARNING, and our URLs can hold a citizen's platform id (X DM paths).
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    timeout = config.get_int("HTTP_TIMEOUT_SECONDS")
    # No automatic redirects: every URL we follow is checked against the allow-list first.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=timeout),
        retries=urllib3.Retry(total=1, connect=1, read=0, redirect=False, status=0),
        headers={"User-Agent": "Sampark/1.0"},
    )


def request(method: str, url: str, *, headers: dict[str, str] | None = None, json_body: Any = None) -> HttpResponse:
    """Send one request and read the whole (small) answer."""
    import urllib3

    body = None
    all_headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body, ensure_ascii=False).encode()
        all_headers["Content-Type"] = "application/json"
    try:
        response = _pool().request(method, url, body=body, headers=all_headers, redirect=False)
    except urllib3.exceptions.HTTPError as error:
        raise HttpError(f"{method} {_host(url)} failed: {type(error).__name__}") from None
    return HttpResponse(response.status, response.data, dict(response.headers))


def stream(url: str, *, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Iterator[bytes]]:
    """Start a GET and return its status, headers and a chunk iterator; the caller enforces size caps."""
    import urllib3

    try:
        response = _pool().request("GET", url, headers=headers or {}, preload_content=False, redirect=False)
    except urllib3.exceptions.HTTPError as error:
        raise HttpError(f"GET {_host(url)} failed: {type(error).__name__}") from None

    def chunks() -> Iterator[bytes]:
        try:
            yield from response.stream(_CHUNK_BYTES)
        except urllib3.exceptions.HTTPError as error:
            raise HttpError(f"reading from {_host(url)} failed: {type(error).__name__}") from None
        finally:
            response.release_conn()

    return response.status, dict(response.headers), chunks()


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or "?"
