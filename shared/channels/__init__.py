"""One adapter module per platform, all with the same small contract (see ``ChannelAdapter``).

Everything after parsing — deduplication, grouping, privacy, media, acknowledgements — is shared and looks
adapters up here by channel, so adding a channel adds a module and a line below, and touches nothing else.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from shared.domain import Channel, OutgoingReply, ParsedDelivery, ReplyAddress

_MODULES = {
    Channel.WHATSAPP: "shared.channels.whatsapp",
    Channel.MESSENGER: "shared.channels.messenger",
    Channel.X: "shared.channels.x",
    Channel.SMS: "shared.channels.sms",
}


class ChannelAdapter(Protocol):
    # HTTPS hosts (exact, or suffixes starting with ".") the platform serves attachments from.
    MEDIA_HOST_SUFFIXES: tuple[str, ...]
    # The setting naming the platform's API base URL; its exact scheme, host and port may serve media too.
    API_URL_SETTING: str

    def parse_delivery(self, raw_body: bytes) -> ParsedDelivery: ...

    # Chat channels send the reply's text; SMS sends its DLT template (purpose and values) instead.
    def send_reply(self, address: ReplyAddress, reply: OutgoingReply) -> str: ...

    def resolve_media_url(self, media_id: str) -> str: ...

    def media_headers(self, url: str) -> dict[str, str]: ...


def adapter(channel: Channel) -> ChannelAdapter:
    """The adapter module of ``channel``, imported on first use (a function only pays for what it needs)."""
    try:
        module_name = _MODULES[channel]
    except KeyError:
        raise NotImplementedError(f"no adapter for channel {channel}") from None
    return importlib.import_module(module_name)  # type: ignore[return-value]


def parser_for(channel: Channel):
    return adapter(channel).parse_delivery
