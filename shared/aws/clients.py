"""boto3 clients, created on first use and then reused (never at import time)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts: the webhook must answer Meta quickly, and a hung call should fail over to a retry.
    return boto3.client(
        service,
        config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}),
    )


def reset() -> None:
    """Drop cached clients (tests that change endpoints or credentials)."""
    client.cache_clear()
