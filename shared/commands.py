"""Chat commands about alerts: STOP and SUBSCRIBE <area>, in English, Hindi and Hinglish, as a whole message only.

A command is a message that is nothing but the command: "STOP", "बंद करें", "SUBSCRIBE Jharia", "सदस्यता झरिया".
Anything longer or different is a tip ("stop the trucks at Katras…" is a tip), so no citizen's report is ever
mistaken for an instruction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# What people send to leave, by SMS or WhatsApp: AWS's opt-out keywords
# (https://docs.aws.amazon.com/sms-voice/latest/userguide/opt-out-list-keywords.html) and their Hindi / Hinglish
# equivalents ("band karo" = "switch it off", "rokein" = "stop").
STOP_WORDS = frozenset(
    {
        *("stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "optout", "opt-out", "opt out"),
        *("remove", "band", "band karo", "band karein", "band kare"),
        *("बंद", "बंद करें", "बंद करो", "बंद कीजिए", "रोकें", "रोको", "अनसब्सक्राइब", "सदस्यता समाप्त", "सदस्यता रद्द"),
    }
)
# "SUBSCRIBE <area>", "सदस्यता <area>", "सदस्यता लें <area>", "सब्सक्राइब <area>".
_SUBSCRIBE = re.compile(r"^(?:subscribe|सब्सक्राइब|सदस्यता(?:\s+लें)?)(?:\s*[:\-]\s*|\s+|$)(?P<area>.*)$", re.I)
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
# Trailing punctuation people add, including the Devanagari full stop (danda).
_TRAILING = ".!?।"
# An area name is a few words; anything longer after SUBSCRIBE is a message, not a command.
_MAX_AREA_CHARS = 40


@dataclass(frozen=True, kw_only=True)
class ChatCommand:
    kind: Literal["stop", "subscribe"]
    language: Literal["hi", "en"]  # the script the citizen wrote in: the language of the alerts they get
    area_text: str = ""  # for subscribe: what names the area (may be empty or unknown: the reply explains)


def parse(text: str | None) -> ChatCommand | None:
    """The command a whole message is, or None for anything else."""
    if not text:
        return None
    message = " ".join(text.split()).strip(_TRAILING + " ").casefold()
    language: Literal["hi", "en"] = "hi" if _DEVANAGARI.search(message) else "en"
    if message in STOP_WORDS:
        return ChatCommand(kind="stop", language=language)
    match = _SUBSCRIBE.match(message)
    if match is None or len(match.group("area")) > _MAX_AREA_CHARS:
        return None
    return ChatCommand(kind="subscribe", language=language, area_text=match.group("area").strip())
