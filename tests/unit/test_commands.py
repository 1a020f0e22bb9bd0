"""Chat commands: only a whole message that is a command counts; everything else stays a tip."""

from __future__ import annotations

import pytest

from shared.commands import ChatCommand, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", ChatCommand(kind="stop", language="en")),
        ("stop", ChatCommand(kind="stop", language="en")),
        (" Stop. ", ChatCommand(kind="stop", language="en")),
        ("STOP ALL", ChatCommand(kind="stop", language="en")),
        ("Unsubscribe!", ChatCommand(kind="stop", language="en")),
        ("opt-out", ChatCommand(kind="stop", language="en")),
        ("band karo", ChatCommand(kind="stop", language="en")),
        ("बंद", ChatCommand(kind="stop", language="hi")),
        ("बंद करें।", ChatCommand(kind="stop", language="hi")),
        ("रोकें", ChatCommand(kind="stop", language="hi")),
        ("SUBSCRIBE Jharia", ChatCommand(kind="subscribe", language="en", area_text="jharia")),
        ("subscribe: bank more", ChatCommand(kind="subscribe", language="en", area_text="bank more")),
        ("Subscribe", ChatCommand(kind="subscribe", language="en", area_text="")),
        ("सदस्यता झरिया", ChatCommand(kind="subscribe", language="hi", area_text="झरिया")),
        ("सदस्यता लें धनबाद थाना", ChatCommand(kind="subscribe", language="hi", area_text="धनबाद थाना")),
        ("सब्सक्राइब Jharia", ChatCommand(kind="subscribe", language="hi", area_text="jharia")),
        ("subscribe झरिया", ChatCommand(kind="subscribe", language="hi", area_text="झरिया")),
    ],
)
def test_commands_in_english_hindi_and_hinglish(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "stop the trucks at Katras, they carry stolen coal",
        "please stop them",
        "बंद दुकान के पीछे जुआ चल रहा है",  # "gambling behind the closed shop": a tip that starts with बंद
        "subscribers of the cable company are being cheated by the agent near the station",
        "subscription",
        "Alert: fight near Bank More",
        "STATUS DHN-7K3QM",
    ],
)
def test_anything_else_is_not_a_command(text):
    assert parse(text) is None
