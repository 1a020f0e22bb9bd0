"""One adapter module per platform: handshake, signature check, parse into InboundMessage, send."""

from __future__ import annotations

from collections.abc import Callable

from shared.domain import Channel, ParsedDelivery


def parser_for(channel: Channel) -> Callable[[bytes], ParsedDelivery]:
    """The delivery parser of ``channel``; the worker needs nothing else from an adapter."""
    if channel is Channel.WHATSAPP:
        from shared.channels import whatsapp

        return whatsapp.parse_delivery
    raise NotImplementedError(f"no adapter for channel {channel}")
