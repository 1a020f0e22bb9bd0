"""SMS without I/O: GSM-7/UCS-2 detection and part counting at the boundaries, DLT template files and rendering."""

from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared import sms
from shared.errors import ConfigurationError, SmsRefusedError

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = ROOT / "tools" / "demo-dlt-templates.json"
LINK_PREFIX = "https://dhn.example/w/"
REFERENCE = {"name": "reference", "type": "reference"}
DOCUMENT: dict[str, Any] = {
    "templates": [
        {
            "id": "1107000000000000001",
            "purpose": "otp",
            "text": "Code {#var#}. Valid 10 minutes.",
            "variables": [{"name": "code", "type": "digits", "min": 4, "max": 8}],
        },
        {
            "id": "1107000000000000002",
            "purpose": "acknowledgement",
            "text": "संदर्भ {#var#}\nReference {#var#}",
            "variables": [REFERENCE, REFERENCE],
        },
        {
            "id": "1107000000000000003",
            "purpose": "status",
            "text": "Reference {#var#}: {#var#}",
            "variables": [REFERENCE, {"name": "status", "type": "text", "max": 20}],
        },
        {
            "id": "1107000000000000004",
            "purpose": "notice",
            "text": "See {#var#} for details.",
            "variables": [{"name": "link", "type": "url", "max": 30, "allowed": [LINK_PREFIX]}],
        },
        {"id": "1107000000000000005", "purpose": "thanks", "text": "Thank you.", "variables": []},
    ]
}


@pytest.fixture(autouse=True)
def _fresh_templates():
    sms.reset()
    yield
    sms.reset()


@pytest.fixture
def template_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "dlt-templates.json"
    path.write_text(json.dumps(DOCUMENT, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("DLT_TEMPLATES_FILE", str(path))
    return path


# --- encoding and parts --------------------------------------------------------------------------------------

EXTENSION = "\f^{}\\[~]|€"
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@pytest.mark.parametrize(
    ("text", "expected_encoding", "expected_parts"),
    [
        pytest.param("", "GSM-7", 1, id="empty"),
        pytest.param("a" * 160, "GSM-7", 1, id="gsm-160"),
        pytest.param("a" * 161, "GSM-7", 2, id="gsm-161"),
        pytest.param("a" * 306, "GSM-7", 2, id="gsm-306"),
        pytest.param("a" * 307, "GSM-7", 3, id="gsm-307"),
        pytest.param("a" * 459, "GSM-7", 3, id="gsm-459"),
        pytest.param("a" * 460, "GSM-7", 4, id="gsm-460"),
        # Extension characters take two septets.
        pytest.param("€" * 80, "GSM-7", 1, id="euro-160-septets"),
        pytest.param("€" * 80 + "a", "GSM-7", 2, id="euro-161-septets"),
        pytest.param("a" * 158 + "[", "GSM-7", 1, id="bracket-160-septets"),
        pytest.param("a" * 159 + "[", "GSM-7", 2, id="bracket-161-septets"),
        pytest.param("a" * 304 + "€", "GSM-7", 2, id="euro-306-septets-at-the-end"),
        pytest.param("a" * 305 + "€", "GSM-7", 3, id="euro-307-septets"),
        pytest.param("a" * 151 + "€" + "a" * 152, "GSM-7", 2, id="euro-fills-part-one-exactly"),
        # 306 septets, but the escape and its character are never split: part one ends after 152.
        pytest.param("a" * 152 + "€" + "a" * 152, "GSM-7", 3, id="euro-would-straddle-parts"),
        pytest.param("[" * 153, "GSM-7", 3, id="brackets-76-per-part"),
        pytest.param(BASIC, "GSM-7", 1, id="every-basic-character"),
        pytest.param(BASIC + EXTENSION, "GSM-7", 1, id="every-character"),
        # UCS-2: 70 single, 67 per part.
        pytest.param("क" * 70, "UCS-2", 1, id="hindi-70"),
        pytest.param("क" * 71, "UCS-2", 2, id="hindi-71"),
        pytest.param("क" * 134, "UCS-2", 2, id="hindi-134"),
        pytest.param("क" * 135, "UCS-2", 3, id="hindi-135"),
        pytest.param("क" * 201, "UCS-2", 3, id="hindi-201"),
        pytest.param("क" * 202, "UCS-2", 4, id="hindi-202"),
        pytest.param("धन्यवाद, आपका संदेश मिल गया है।", "UCS-2", 1, id="hindi-sentence"),
        # One character outside GSM-7 turns the whole message into UCS-2.
        pytest.param("a" * 69 + "₹", "UCS-2", 1, id="rupee-70"),
        pytest.param("a" * 70 + "₹", "UCS-2", 2, id="rupee-71"),
        pytest.param("a" * 100 + "’", "UCS-2", 2, id="curly-quote"),
        pytest.param("a" * 100 + "ç", "UCS-2", 2, id="small-c-cedilla-not-gsm"),
        pytest.param("a" * 100 + "`", "UCS-2", 2, id="backtick-not-gsm"),
        pytest.param("a" * 100 + "…", "UCS-2", 2, id="ellipsis-not-gsm"),
        # Emoji are two UTF-16 code units, and a pair is never split.
        pytest.param("😀" * 35, "UCS-2", 1, id="emoji-70-units"),
        pytest.param("😀" * 35 + "a", "UCS-2", 2, id="emoji-71-units"),
        pytest.param("😀" * 66 + "a", "UCS-2", 2, id="emoji-133-units"),
        pytest.param("😀" * 66 + "aa", "UCS-2", 3, id="emoji-134-units"),
        pytest.param("😀" * 67, "UCS-2", 3, id="emoji-33-per-part"),
        pytest.param("a" * 66 + "😀" + "a" * 66, "UCS-2", 3, id="emoji-would-straddle-parts"),
    ],
)
def test_encoding_and_parts(text, expected_encoding, expected_parts):
    assert sms.encoding(text) == expected_encoding
    assert sms.parts(text) == expected_parts


@pytest.mark.parametrize("character", list(EXTENSION))
def test_each_extension_character_counts_two_septets(character):
    assert sms.parts("a" * 158 + character) == 1
    assert sms.parts("a" * 159 + character) == 2


# --- template files ------------------------------------------------------------------------------------------


def _changed(change) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    change(document)
    return document


def _first(document: dict[str, Any]) -> dict[str, Any]:
    return document["templates"][0]


def _variable(document: dict[str, Any]) -> dict[str, Any]:
    return document["templates"][0]["variables"][0]


def _link(document: dict[str, Any]) -> dict[str, Any]:
    return document["templates"][3]["variables"][0]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        pytest.param([], 'non-empty list "templates"', id="not-an-object"),
        pytest.param({}, 'non-empty list "templates"', id="no-templates"),
        pytest.param({"templates": []}, 'non-empty list "templates"', id="empty-templates"),
        pytest.param(_changed(lambda d: d.update(extra=1)), "unknown keys extra", id="unknown-top-level-key"),
        pytest.param(_changed(lambda d: d["templates"].append("text")), "template 6: must be an object", id="string"),
        pytest.param(_changed(lambda d: _first(d).update(body="x")), "template 1: unknown keys body", id="unknown-key"),
        pytest.param(_changed(lambda d: _first(d).pop("id")), '"id" must be', id="no-id"),
        pytest.param(_changed(lambda d: _first(d).update(id="1107 0000")), '"id" must be', id="id-with-space"),
        pytest.param(_changed(lambda d: _first(d).update(id="1" * 51)), '"id" must be', id="id-too-long"),
        pytest.param(_changed(lambda d: _first(d).update(id=1107)), '"id" must be', id="id-a-number"),
        pytest.param(_changed(lambda d: _first(d).update(purpose="OTP")), '"purpose" must be', id="purpose-upper"),
        pytest.param(_changed(lambda d: _first(d).pop("purpose")), '"purpose" must be', id="no-purpose"),
        pytest.param(_changed(lambda d: _first(d).update(text=" ")), '"text" must be', id="blank-text"),
        pytest.param(
            _changed(lambda d: _first(d).update(text="Code {#VAR#}. {#var#}")),
            "no placeholder but {#var#}",
            id="misspelt-placeholder",
        ),
        pytest.param(
            _changed(lambda d: _first(d).update(text="Code {#var#} {#var#}")),
            'has 2 {#var#} but "variables" lists 1',
            id="more-slots-than-variables",
        ),
        pytest.param(
            _changed(lambda d: _first(d).update(text="Code.")),
            'has 0 {#var#} but "variables" lists 1',
            id="more-variables-than-slots",
        ),
        pytest.param(_changed(lambda d: _first(d).update(variables={})), '"variables" must be a list', id="dict"),
        pytest.param(_changed(lambda d: _variable(d).update(name="Code")), '"name" must be', id="variable-name"),
        pytest.param(_changed(lambda d: _variable(d).update(type="date")), '"type" must be one of', id="type"),
        pytest.param(
            _changed(lambda d: _variable(d).update(allowed=[LINK_PREFIX])),
            "variable 1: a digits variable takes no allowed",
            id="key-of-another-type",
        ),
        pytest.param(
            _changed(lambda d: d["templates"][1]["variables"][0].update(max=9)),
            "a reference variable takes no max",
            id="reference-with-max",
        ),
        pytest.param(_changed(lambda d: _variable(d).update(max=31)), "DLT's limit", id="over-dlt-30"),
        pytest.param(_changed(lambda d: _variable(d).update(min=9)), "1 ≤ min ≤ max", id="min-over-max"),
        pytest.param(_changed(lambda d: _variable(d).update(min=0)), "1 ≤ min ≤ max", id="min-zero"),
        pytest.param(_changed(lambda d: _variable(d).update(max=True)), "whole numbers", id="max-bool"),
        pytest.param(_changed(lambda d: _variable(d).update(max="8")), "whole numbers", id="max-string"),
        pytest.param(_changed(lambda d: _link(d).pop("allowed")), '"allowed" must list', id="url-without-allowed"),
        pytest.param(_changed(lambda d: _link(d).update(allowed=[])), '"allowed" must list', id="url-allowed-empty"),
        pytest.param(
            _changed(lambda d: _link(d).update(allowed=["http://dhn.example/w/"])),
            '"allowed" must list',
            id="url-not-https",
        ),
        pytest.param(
            _changed(lambda d: _link(d).update(allowed=["https://dhn.example"])),
            '"allowed" must list',
            id="url-prefix-without-slash",
        ),
        pytest.param(
            _changed(lambda d: _link(d).update(max=len(LINK_PREFIX))),
            'shorter than "max"',
            id="url-prefix-leaves-no-room",
        ),
        pytest.param(
            _changed(lambda d: d["templates"][1]["variables"].__setitem__(1, {"name": "reference", "type": "text"})),
            "'reference' fills several slots with different definitions",
            id="one-name-two-definitions",
        ),
        pytest.param(
            _changed(lambda d: d["templates"][1].update(purpose="otp")),
            "template 2 (otp): another template has the same purpose",
            id="duplicate-purpose",
        ),
        pytest.param(
            _changed(lambda d: d["templates"][1].update(id="1107000000000000001")),
            "template 2 (acknowledgement): another template has the same id",
            id="duplicate-id",
        ),
        pytest.param(
            _changed(lambda d: _first(d).update(text="क" * 200 + " {#var#}")),
            "template 1 (otp): can take 4 parts with its longest values; SMS_MAX_PARTS is 3",
            id="can-exceed-max-parts",
        ),
        pytest.param(
            _changed(lambda d: d["templates"][2].update(text="क" * 170 + " {#var#}: {#var#}")),
            "template 3 (status): can take 4 parts",
            id="can-exceed-with-a-hindi-value",
        ),
    ],
)
def test_a_bad_template_file_is_refused_naming_the_problem(document, problem):
    with pytest.raises(ConfigurationError) as refused:
        sms.parse_templates(document, source="dlt.json", reference_prefix="DHN", most_parts=3)
    assert "DLT templates file dlt.json" in str(refused.value)
    assert problem in str(refused.value)


def test_the_longest_values_decide_whether_a_template_fits():
    # GIVEN a template of 60 Latin characters and a 30-character text slot (GSM-7 when the value is Latin)
    document = {"templates": [{"id": "1", "purpose": "alert", "text": "a" * 60 + "{#var#}", "variables": []}]}
    document["templates"][0]["variables"] = [{"name": "area", "type": "text", "max": 30}]
    # THEN it is judged with a Hindi value: 90 UCS-2 characters are 2 parts, more than 1
    with pytest.raises(ConfigurationError, match="can take 2 parts"):
        sms.parse_templates(document, source="f", reference_prefix="DHN", most_parts=1)
    assert sms.parse_templates(document, source="f", reference_prefix="DHN", most_parts=2)["alert"].id == "1"


def test_a_missing_file_is_refused_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("DLT_TEMPLATES_FILE", str(tmp_path / "absent.json"))
    with pytest.raises(ConfigurationError, match=r"absent\.json \(DLT_TEMPLATES_FILE\) cannot be read"):
        sms.templates()


def test_a_file_that_is_not_json_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "dlt.json"
    path.write_text("{templates: []}", encoding="utf-8")
    monkeypatch.setenv("DLT_TEMPLATES_FILE", str(path))
    with pytest.raises(ConfigurationError, match="is not JSON"):
        sms.templates()


def test_no_templates_file_is_refused(monkeypatch):
    # Unset, the setting points at the packaged shared/data/dlt-templates.json, which a district adds itself.
    monkeypatch.delenv("DLT_TEMPLATES_FILE", raising=False)
    with pytest.raises(ConfigurationError, match=r"dlt-templates.json \(DLT_TEMPLATES_FILE\) cannot be read"):
        sms.render("otp", {"code": "1234"})


@pytest.mark.parametrize("value", ["0", "10", "x"])
def test_sms_max_parts_must_be_between_1_and_9(template_file, monkeypatch, value):
    monkeypatch.setenv("SMS_MAX_PARTS", value)
    with pytest.raises(ConfigurationError, match="SMS_MAX_PARTS"):
        sms.templates()


def test_a_relative_path_is_read_from_the_project_root(monkeypatch):
    monkeypatch.setenv("DLT_TEMPLATES_FILE", "tools/demo-dlt-templates.json")
    assert "otp" in sms.templates()


def test_the_file_is_read_once(template_file):
    first = sms.templates()
    template_file.write_text("not JSON any more", encoding="utf-8")
    assert sms.templates() is first


# --- rendering -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "values", "text", "expected_encoding"),
    [
        pytest.param("otp", {"code": "1234"}, "Code 1234. Valid 10 minutes.", "GSM-7", id="otp-4-digits"),
        pytest.param("otp", {"code": "00345678"}, "Code 00345678. Valid 10 minutes.", "GSM-7", id="otp-8-digits"),
        pytest.param(
            "acknowledgement",
            {"reference": "DHN-7K3QM"},
            "संदर्भ DHN-7K3QM\nReference DHN-7K3QM",
            "UCS-2",
            id="one-value-two-slots",
        ),
        pytest.param(
            "status", {"reference": "DHN-7K3QM", "status": "under review"}, "Reference DHN-7K3QM: under review", "GSM-7"
        ),
        pytest.param(
            "status",
            {"reference": "DHN-7K3QM", "status": "समीक्षा की जा रही है"},
            "Reference DHN-7K3QM: समीक्षा की जा रही है",
            "UCS-2",
            id="status-hindi-value",
        ),
        pytest.param(
            "status",
            {"reference": "DHN-7K3QM", "status": "क्‍या"},  # a zero-width joiner, as Devanagari uses them
            "Reference DHN-7K3QM: क्‍या",
            "UCS-2",
            id="status-joiner",
        ),
        pytest.param(
            "status",
            {"reference": "DHN-7K3QM", "status": "{#var#}"},
            "Reference DHN-7K3QM: {#var#}",
            "GSM-7",
            id="placeholder-as-a-value-is-only-text",
        ),
        pytest.param(
            "notice", {"link": LINK_PREFIX + "W-42"}, f"See {LINK_PREFIX}W-42 for details.", "GSM-7", id="link"
        ),
        pytest.param("thanks", {}, "Thank you.", "GSM-7", id="no-variables"),
    ],
)
def test_render_fills_the_registered_text(template_file, purpose, values, text, expected_encoding):
    rendered = sms.render(purpose, values)
    assert rendered.text == text
    assert rendered.template_id == sms.templates()[purpose].id
    assert rendered.encoding == expected_encoding
    assert rendered.parts == sms.parts(text) == 1


@pytest.mark.parametrize(
    ("purpose", "values", "problem"),
    [
        pytest.param("free_text", {"text": "Meet me at the station"}, "no DLT template", id="unknown-purpose"),
        pytest.param("", {}, "no DLT template", id="empty-purpose"),
        pytest.param("otp", {}, "needs code", id="missing"),
        pytest.param("status", {"reference": "DHN-7K3QM"}, "needs status", id="one-missing"),
        pytest.param("otp", {"code": "1234", "text": "hi"}, "has no variable text", id="extra"),
        pytest.param("thanks", {"text": "Also: come at 5"}, "has no variable text", id="extra-on-a-fixed-text"),
        pytest.param("otp", {"code": 1234}, "code must be a string", id="digits-int"),
        pytest.param("otp", {"code": "123"}, "code must be 4 to 8 digits", id="digits-short"),
        pytest.param("otp", {"code": "123456789"}, "code must be 4 to 8 digits", id="digits-long"),
        pytest.param("otp", {"code": "12a4"}, "code must be 4 to 8 digits", id="digits-letter"),
        pytest.param("otp", {"code": " 1234"}, "code must be 4 to 8 digits", id="digits-space"),
        pytest.param("otp", {"code": "१२३४"}, "code must be 4 to 8 digits", id="digits-devanagari"),
        pytest.param("otp", {"code": "１２３４"}, "code must be 4 to 8 digits", id="digits-fullwidth"),
        pytest.param("acknowledgement", {"reference": "DHN-7K3Q"}, "like DHN-7K3QM", id="reference-short"),
        pytest.param("acknowledgement", {"reference": "DHN-7K3QMM"}, "like DHN-7K3QM", id="reference-long"),
        pytest.param("acknowledgement", {"reference": "dhn-7k3qm"}, "like DHN-7K3QM", id="reference-lower"),
        pytest.param("acknowledgement", {"reference": "DHN7K3QM"}, "like DHN-7K3QM", id="reference-no-dash"),
        pytest.param("acknowledgement", {"reference": "BOK-7K3QM"}, "like DHN-7K3QM", id="reference-other-prefix"),
        pytest.param("acknowledgement", {"reference": "DHN-0O1IL"}, "like DHN-7K3QM", id="reference-alphabet"),
        pytest.param("acknowledgement", {"reference": "Call 9835011111"}, "like DHN-7K3QM", id="reference-text"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": ""}, "1 to 20 characters", id="text-empty"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": "   "}, "1 to 20 characters", id="text-blank"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": "a" * 21}, "1 to 20 characters", id="text-21"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": "in\nreview"}, "one line", id="text-newline"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": "in\rreview"}, "one line", id="text-return"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": "in\treview"}, "one line", id="text-tab"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": "in\u2028review"}, "one line", id="text-ls"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": "done 😀"}, "emoji", id="text-emoji"),
        pytest.param("status", {"reference": "DHN-7K3QM", "status": "\x1bescape"}, "one line", id="text-escape"),
        pytest.param("notice", {"link": "http://dhn.example/w/1"}, "whitelisted link", id="url-http"),
        pytest.param("notice", {"link": "https://evil.example/w/1"}, "whitelisted link", id="url-other-host"),
        pytest.param("notice", {"link": "https://dhn.example/x/1"}, "whitelisted link", id="url-other-path"),
        pytest.param("notice", {"link": LINK_PREFIX + "a b"}, "whitelisted link", id="url-space"),
        pytest.param("notice", {"link": LINK_PREFIX + "ह"}, "whitelisted link", id="url-not-ascii"),
        pytest.param("notice", {"link": LINK_PREFIX + "a\n"}, "whitelisted link", id="url-newline"),
        pytest.param("notice", {"link": LINK_PREFIX + "a" * 9}, "whitelisted link", id="url-over-max"),
    ],
)
def test_render_refuses_anything_dlt_would_not_carry(template_file, purpose, values, problem):
    with pytest.raises(SmsRefusedError) as refused:
        sms.render(purpose, values)
    assert problem in str(refused.value)
    for value in values.values():  # the message names the variable, never the value
        if isinstance(value, str) and len(value) > 3 and value not in "DHN-7K3QM":
            assert value not in str(refused.value)


def test_free_text_has_no_way_in():
    # The only ways to send are a purpose and values; nothing takes a message text.
    assert list(inspect.signature(sms.send).parameters) == ["phone_e164", "purpose", "values"]
    assert list(inspect.signature(sms.render).parameters) == ["purpose", "values"]


def test_render_refuses_more_parts_than_configured(monkeypatch):
    # GIVEN templates that were valid for 3 parts, and a limit lowered to 1 without re-reading them
    document = {"templates": [{"id": "1", "purpose": "long", "text": "क" * 71, "variables": []}]}
    parsed = sms.parse_templates(document, source="f", reference_prefix="DHN", most_parts=3)
    monkeypatch.setattr(sms, "templates", lambda: parsed)
    monkeypatch.setenv("SMS_MAX_PARTS", "1")
    # WHEN / THEN the rendered SMS is refused, not sent in 2 parts
    with pytest.raises(SmsRefusedError, match="would take 2 parts; SMS_MAX_PARTS is 1"):
        sms.render("long", {})


def test_references_follow_the_configured_prefix(template_file, monkeypatch):
    monkeypatch.setenv("REFERENCE_PREFIX", "BOK")
    assert sms.render("acknowledgement", {"reference": "BOK-7K3QM"}).text.endswith("BOK-7K3QM")
    with pytest.raises(SmsRefusedError):
        sms.render("acknowledgement", {"reference": "DHN-7K3QM"})


# --- attributes ----------------------------------------------------------------------------------------------


def test_message_attributes_name_the_template(template_file, monkeypatch):
    monkeypatch.setenv("SMS_SENDER_ID", "DHNPOL")
    monkeypatch.setenv("DLT_ENTITY_ID", "1101000000000000001")
    assert sms.message_attributes("1107000000000000004") == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "DHNPOL"},
        "AWS.MM.SMS.EntityId": {"DataType": "String", "StringValue": "1101000000000000001"},
        "AWS.MM.SMS.TemplateId": {"DataType": "String", "StringValue": "1107000000000000004"},
    }
    with pytest.raises(SmsRefusedError, match="not one of the registered templates"):
        sms.message_attributes("1107000000000000099")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="unset"),
        pytest.param("", None, id="empty"),
        pytest.param("+919000000100", "+919000000100", id="indian-long-code"),
        pytest.param("+12345", "+12345", id="5-digits"),
        pytest.param("+12345678901234", "+12345678901234", id="14-digits"),
    ],
)
def test_the_two_way_number_is_read_when_configured(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("SMS_TWO_WAY_NUMBER", raising=False)
    else:
        monkeypatch.setenv("SMS_TWO_WAY_NUMBER", value)
    assert sms.two_way_number() == expected


@pytest.mark.parametrize("value", ["919000000100", "+1234", "+123456789012345", "+91 90000 00100", "DHNPOL"])
def test_a_malformed_two_way_number_is_refused(monkeypatch, value):
    monkeypatch.setenv("SMS_TWO_WAY_NUMBER", value)
    with pytest.raises(ConfigurationError, match="setting SMS_TWO_WAY_NUMBER must be"):
        sms.two_way_number()


def test_variable_limit_and_check_value_use_the_registered_variable(template_file):
    assert sms.variable_limit("status", "status") == 20
    sms.check_value("status", "status", "under review")
    with pytest.raises(SmsRefusedError, match="status must be 1 to 20 characters"):
        sms.check_value("status", "status", "x" * 21)
    with pytest.raises(SmsRefusedError, match="one line"):
        sms.check_value("status", "status", "under\nreview")
    with pytest.raises(SmsRefusedError, match="emoji"):
        sms.check_value("status", "status", "ok 👍")


@pytest.mark.parametrize(("purpose", "name"), [("status", "question"), ("followup", "question"), ("otp", "")])
def test_an_unregistered_variable_has_no_limit(template_file, purpose, name):
    with pytest.raises(SmsRefusedError, match="no DLT template is registered"):
        sms.variable_limit(purpose, name)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMS_SENDER_ID", "DH"),
        ("SMS_SENDER_ID", "DHNPOLICE"),
        ("SMS_SENDER_ID", "DHN-PL"),
        ("SMS_SENDER_ID", "123456"),
        ("DLT_ENTITY_ID", "1101 0000"),
        ("DLT_ENTITY_ID", "1" * 51),
    ],
)
def test_malformed_dlt_settings_are_refused(template_file, monkeypatch, name, value):
    monkeypatch.setenv("SMS_SENDER_ID", "DHNPOL")
    monkeypatch.setenv("DLT_ENTITY_ID", "1101000000000000001")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=f"setting {name} must be"):
        sms.message_attributes("1107000000000000001")


# --- the demo file of make run -------------------------------------------------------------------------------


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("DLT_TEMPLATES_FILE", str(DEMO_FILE))
    return sms.templates()


def test_demo_file_has_the_purposes_of_the_issue(demo):
    assert {"otp", "acknowledgement", "status", "status_not_found", "followup", "limit_notice", "alert"} <= set(demo)
    assert {"new_tip", "subscribed", "unsubscribed", "subscribe_help"} <= set(demo)
    for template in demo.values():
        assert len(template.id) == 19 and template.id.isdigit()


def test_demo_otp_is_one_gsm_part_and_its_only_long_number_is_the_code(demo):
    rendered = sms.render("otp", {"code": "482913"})
    assert (rendered.encoding, rendered.parts) == ("GSM-7", 1)
    assert [number for number in re.findall(r"\d+", rendered.text) if 4 <= len(number) <= 8] == ["482913"]


def test_demo_acknowledgement_is_discreet_and_two_parts(demo):
    rendered = sms.render("acknowledgement", {"reference": "DHN-7K3QM"})
    assert rendered.text.count("DHN-7K3QM") == 2
    assert (rendered.encoding, rendered.parts) == ("UCS-2", 2)
    assert not re.search(r"police|crime|informant|पुलिस|अपराध", rendered.text, re.I)


def test_demo_status_and_followup_render(demo):
    status = sms.render(
        "status", {"reference": "DHN-7K3QM", "status_hi": "समीक्षा की जा रही है", "status_en": "under review"}
    )
    assert "under review" in status.text and status.parts <= 3
    followup = sms.render("followup", {"reference": "DHN-7K3QM", "question": "गाड़ी का रंग क्या था?"})
    assert followup.text.count("DHN-7K3QM") == 2 and "गाड़ी का रंग क्या था?" in followup.text
    assert followup.parts <= 3 and sms.variable_limit("followup", "question") == 30
    alert = sms.render("alert", {"area": "Bank More", "subject": "road closed near the bus stand"})
    assert (alert.encoding, alert.parts) == ("GSM-7", 1)


def _every_sms_reply() -> list[Any]:
    from shared import texts

    statuses = ["new", "in_review", "actioned", "closed", "spam"]
    return [
        texts.acknowledgement("DHN-7K3QM"),
        *(texts.status_answer("DHN-7K3QM", status) for status in statuses),
        texts.status_answer("DHN-7K3QM", None),
        texts.followup("DHN-7K3QM", "गाड़ी का रंग क्या था?"),
        texts.limit_notice(),
    ]


@pytest.mark.parametrize("reply", _every_sms_reply(), ids=lambda reply: reply.purpose)
def test_every_reply_texts_py_composes_fits_its_demo_template(demo, reply):
    # The SMS adapter sends purpose and values: each must match a registered template's variables and limits.
    rendered = sms.render(reply.purpose, dict(reply.values))
    assert rendered.parts <= 3
    assert all(value in rendered.text for _, value in reply.values)


@pytest.mark.parametrize(
    ("purpose", "values", "expected"),
    [
        ("new_tip", {"reference": "DHN-7K3QM", "area": "Saraidhela"}, ["DHN-7K3QM", "Saraidhela"]),
        ("subscribed", {"area_hi": "बैंक मोड़", "area_en": "Bank More"}, ["बैंक मोड़", "Bank More", "STOP"]),
        ("unsubscribed", {}, ["no more"]),
        ("subscribe_help", {}, ["SUBSCRIBE Dhanbad", "सदस्यता धनबाद"]),
    ],
)
def test_demo_notice_and_subscription_templates_render(demo, purpose, values, expected):
    rendered = sms.render(purpose, values)
    assert all(piece in rendered.text for piece in expected)
    assert rendered.parts <= 3
