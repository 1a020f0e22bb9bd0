"""Sending SMS on moto: every publish carries the four DLT attributes, and nothing is published that should not be.

moto drops SMS MessageAttributes, so they are read from the real request (tests/sms_helpers.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import sms
from shared.errors import ConfigurationError, SmsRefusedError
from tests.sms_helpers import attribute_values, record_publishes, sent_sms
from tools.local_stack import DEVELOPMENT_SETTINGS

PHONE = "+919835011111"  # made up
SENDER_ID = "DHNPOL"
ENTITY_ID = "1101000000000000001"
TEMPLATES = {
    "templates": [
        {
            "id": "1107000000000000001",
            "purpose": "otp",
            "text": "{#var#} is your Sampark code. Valid 10 minutes.",
            "variables": [{"name": "code", "type": "digits", "min": 4, "max": 8}],
        },
        {
            "id": "1107000000000000002",
            "purpose": "acknowledgement",
            "text": "धन्यवाद, संदेश मिल गया। संदर्भ {#var#}\nThank you, message received. Reference {#var#}",
            "variables": [{"name": "reference", "type": "reference"}] * 2,
        },
    ]
}


@pytest.fixture
def settings(aws, tmp_path, monkeypatch) -> dict[str, str]:
    path = tmp_path / "dlt-templates.json"
    path.write_text(json.dumps(TEMPLATES, ensure_ascii=False), encoding="utf-8")
    values = {"SMS_SENDER_ID": SENDER_ID, "DLT_ENTITY_ID": ENTITY_ID, "DLT_TEMPLATES_FILE": str(path)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    sms.reset()
    yield values
    sms.reset()


@pytest.fixture
def publishes(aws) -> list[dict[str, Any]]:
    return record_publishes()


# --- what is sent --------------------------------------------------------------------------------------------


def test_send_publishes_the_template_with_the_four_dlt_attributes(settings, publishes, capsys):
    # WHEN an OTP is sent
    message_id = sms.send(PHONE, "otp", {"code": "482913"})

    # THEN exactly one Publish went to the number, with the registered text and the DLT attributes
    assert len(publishes) == 1
    (call,) = publishes
    assert set(call) == {"PhoneNumber", "Message", "MessageAttributes"}
    assert call["PhoneNumber"] == PHONE
    assert call["Message"] == "482913 is your Sampark code. Valid 10 minutes."
    assert attribute_values(call) == {
        "AWS.SNS.SMS.SMSType": "Transactional",
        "AWS.SNS.SMS.SenderID": SENDER_ID,
        "AWS.MM.SMS.EntityId": ENTITY_ID,
        "AWS.MM.SMS.TemplateId": "1107000000000000001",
    }
    # AND moto accepted it: the returned id is the one it keeps the SMS under
    assert sent_sms() == {message_id: (PHONE, call["Message"])}
    # AND the log names the template and its size, never the number or the code
    logs = capsys.readouterr().out
    assert "1107000000000000001" in logs
    assert PHONE not in logs and PHONE[3:] not in logs and "482913" not in logs


def test_each_template_is_sent_with_its_own_template_id(settings, publishes):
    sms.send(PHONE, "otp", {"code": "1234"})
    sms.send(PHONE, "acknowledgement", {"reference": "DHN-7K3QM"})

    assert [attribute_values(call)["AWS.MM.SMS.TemplateId"] for call in publishes] == [
        "1107000000000000001",
        "1107000000000000002",
    ]
    assert publishes[1]["Message"].count("DHN-7K3QM") == 2
    assert len(sent_sms()) == 2


def test_make_run_development_settings_send(aws, publishes, monkeypatch):
    # GIVEN exactly the settings `make run` uses (the demo templates of tools/demo-dlt-templates.json)
    for name in ("SMS_SENDER_ID", "DLT_ENTITY_ID", "DLT_TEMPLATES_FILE"):
        monkeypatch.setenv(name, DEVELOPMENT_SETTINGS[name])
    sms.reset()

    # WHEN every kind of SMS of the issue is sent
    sms.send(PHONE, "otp", {"code": "482913"})
    sms.send(PHONE, "acknowledgement", {"reference": "DHN-7K3QM"})
    sms.send(
        PHONE, "status", {"reference": "DHN-7K3QM", "status_hi": "समीक्षा की जा रही है", "status_en": "under review"}
    )
    sms.send(PHONE, "followup", {"reference": "DHN-7K3QM", "question": "गाड़ी का रंग क्या था?"})
    sms.send(PHONE, "alert", {"area": "Bank More", "subject": "road closed near the bus stand"})
    sms.reset()

    # THEN each carries the demo header, entity and its own template id
    assert len(sent_sms()) == 5
    assert {attribute_values(call)["AWS.SNS.SMS.SenderID"] for call in publishes} == {"DHNPOL"}
    assert len({attribute_values(call)["AWS.MM.SMS.TemplateId"] for call in publishes}) == 5


# --- fail closed ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["SMS_SENDER_ID", "DLT_ENTITY_ID", "DLT_TEMPLATES_FILE"])
def test_a_missing_dlt_setting_publishes_nothing(settings, publishes, monkeypatch, missing):
    monkeypatch.delenv(missing)

    # Unset, the templates file is the packaged shared/data/dlt-templates.json, which a district adds itself.
    reason = "cannot be read" if missing == "DLT_TEMPLATES_FILE" else f"setting {missing} is not configured"
    with pytest.raises(ConfigurationError, match=reason):
        sms.send(PHONE, "otp", {"code": "1234"})

    assert publishes == []
    assert sent_sms() == {}


def test_an_empty_dlt_setting_counts_as_missing(settings, publishes, monkeypatch):
    monkeypatch.setenv("DLT_ENTITY_ID", "")

    with pytest.raises(ConfigurationError, match="setting DLT_ENTITY_ID is not configured"):
        sms.send(PHONE, "otp", {"code": "1234"})

    assert publishes == [] and sent_sms() == {}


def test_templates_that_can_exceed_the_part_limit_publish_nothing(settings, publishes, monkeypatch):
    # GIVEN a limit of 1 part, which the bilingual acknowledgement (UCS-2, 2 parts) cannot keep
    monkeypatch.setenv("SMS_MAX_PARTS", "1")

    # WHEN even the short OTP is sent, THEN the whole file is refused before anything is published
    with pytest.raises(ConfigurationError, match=r"template 2 \(acknowledgement\): can take 2 parts"):
        sms.send(PHONE, "otp", {"code": "1234"})

    assert publishes == [] and sent_sms() == {}


def test_an_sms_over_the_part_limit_publishes_nothing(settings, publishes, monkeypatch):
    # GIVEN templates read while the limit was 3, and a limit lowered to 1 since
    document = {"templates": [{"id": "1107000000000000009", "purpose": "long", "text": "क" * 71, "variables": []}]}
    parsed = sms.parse_templates(document, source="f", reference_prefix="DHN", most_parts=3)
    monkeypatch.setattr(sms, "templates", lambda: parsed)
    monkeypatch.setenv("SMS_MAX_PARTS", "1")

    with pytest.raises(SmsRefusedError, match="would take 2 parts"):
        sms.send(PHONE, "long", {})

    assert publishes == [] and sent_sms() == {}


@pytest.mark.parametrize(
    ("purpose", "values"),
    [
        ("free_text", {"text": "Come to the station at 5"}),
        ("otp", {"code": "12"}),
        ("otp", {"code": "1234", "extra": "x"}),
        ("acknowledgement", {"reference": "DHN-7K3QM\nCall 9835011111"}),
    ],
)
def test_refused_values_publish_nothing(settings, publishes, purpose, values):
    with pytest.raises(SmsRefusedError):
        sms.send(PHONE, purpose, values)

    assert publishes == [] and sent_sms() == {}


@pytest.mark.parametrize(
    "phone",
    [
        "9835011111",  # no country code
        "+91 98350 11111",  # not E.164
        "+91983501111",  # 9 digits
        "+915835011111",  # not a mobile number
        "+12065550100",  # not India
        "+9198350111112",
    ],
)
def test_only_indian_mobiles_in_e164_are_sent_to(settings, publishes, phone):
    with pytest.raises(SmsRefusedError) as refused:
        sms.send(phone, "otp", {"code": "1234"})

    assert phone not in str(refused.value)
    assert publishes == [] and sent_sms() == {}
