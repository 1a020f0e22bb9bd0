"""Every SMS Sampark sends goes through here: India's DLT rules, SNS's SMS attributes and the size of an SMS.

Operators in India deliver only what matches a template registered on a DLT portal, sent under a registered header
(the sender id) by a registered principal entity; anything else is scrubbed. So there is no way to send free text:
a caller names a purpose (``otp``, ``acknowledgement``, ``status``, ``followup``, ``alert``, …) and gives values,
and the SMS is that purpose's registered template with each value checked against its typed variable.

The templates come from the JSON file named by ``DLT_TEMPLATES_FILE`` (a path relative to the project root, or
absolute), read once and validated as a whole::

    {"templates": [{"id": "1007000000000000001", "purpose": "otp",
                    "text": "{#var#} is your Sampark code. Valid 10 minutes.",
                    "variables": [{"name": "code", "type": "digits", "min": 4, "max": 8}]}]}

One variable per ``{#var#}``, in order; a name may fill several slots (a bilingual text quoting the reference
twice), with the same definition each time. Types: ``digits`` (``min``/``max`` digits), ``reference`` (our
``DHN-7K3QM`` shape), ``text`` (at most ``max`` characters, one line, no emoji) and ``url`` (https, starting with
one of the ``allowed`` prefixes whitelisted on DLT).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

from shared import config
from shared.aws.clients import client
from shared.errors import ConfigurationError, SmsRefusedError
from shared.observability import count, logger
from shared.references import ALPHABET, LENGTH

ROOT = Path(__file__).resolve().parent.parent  # the repository locally, the task root (/var/task) in Lambda

Encoding = Literal["GSM-7", "UCS-2"]
VariableType = Literal["digits", "reference", "text", "url"]

# --- the size of an SMS ------------------------------------------------------------------------------------------

# 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet (0x1B is the escape to the extension table, not a
# character) and §6.2.1.1: the extension table, whose characters take two septets (escape + character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# https://docs.aws.amazon.com/sms-voice/latest/userguide/sms-limitations-character.html : one part holds 160 GSM-7
# or 70 UCS-2 characters; a message of several parts carries a header in each, leaving 153 or 67. Any character
# outside GSM-7 (Devanagari, "₹", a curly quote) makes the whole message UCS-2. Each part is billed.
GSM7_SINGLE, GSM7_CONCATENATED = 160, 153
UCS2_SINGLE, UCS2_CONCATENATED = 70, 67
# https://docs.aws.amazon.com/sns/latest/dg/sms_publish-to-phone.html : one SMS publish is at most 1,600 bytes.
MAX_PUBLISH_BYTES = 1600
# End User Messaging refuses more than 1,530 GSM-7 or 630 UCS-2 characters (the page above): 9 UCS-2 parts (603).
MAX_PARTS_LIMIT = 9


def encoding(text: str) -> Encoding:
    """GSM-7 when every character is in the default alphabet or its extension table, else UCS-2."""
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "UCS-2"


def parts(text: str) -> int:
    """How many SMS parts ``text`` is sent (and billed) as: 160/153 GSM-7 septets, 70/67 UTF-16 code units.

    A part never splits an escaped GSM-7 character or a surrogate pair (an emoji), so a character that does not
    fit in the rest of a part starts the next one.
    """
    if encoding(text) == "GSM-7":
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, concatenated = GSM7_SINGLE, GSM7_CONCATENATED
    else:
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, concatenated = UCS2_SINGLE, UCS2_CONCATENATED
    if sum(sizes) <= single:
        return 1
    count_, used = 1, 0
    for size in sizes:
        if used + size > concatenated:
            count_, used = count_ + 1, 0
        used += size
    return count_


# --- templates ---------------------------------------------------------------------------------------------------

PLACEHOLDER = "{#var#}"
# Operators cap each {#var#} at 30 characters, spaces included; more needs two slots (vendor guide, as the DLT
# portals themselves are behind logins): https://smsindiahub.in/complete-guide-to-dlt-template-registration
DLT_VARIABLE_MAX = 30
# https://docs.aws.amazon.com/sns/latest/dg/sms_publish-to-phone.html : Entity ID and Template ID are 1–50
# characters (DLT issues 19 digits).
_DLT_ID = re.compile(r"[0-9A-Za-z]{1,50}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TEMPLATE_KEYS = frozenset({"id", "purpose", "text", "variables", "note"})
# Which keys each type of variable takes besides name and type.
_VARIABLE_KEYS: dict[str, frozenset[str]] = {
    "digits": frozenset({"min", "max"}),
    "reference": frozenset(),
    "text": frozenset({"max"}),
    # Since 1 Oct 2024 a URL in an SMS must be whitelisted on DLT, or the message is blocked (TRAI direction of
    # 13 Aug 2024: https://trai.gov.in/sites/default/files/Direction_13082024.pdf ; reliability-security §1.1).
    "url": frozenset({"max", "allowed"}),
}
# Not in a text value: control characters (line breaks, tabs), line/paragraph separators, surrogates, private use,
# unassigned code points. Joiners (Cf: ZWJ/ZWNJ) stay: Devanagari uses them.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


@dataclass(frozen=True, kw_only=True)
class Variable:
    name: str
    type: VariableType
    min: int = 1
    max: int = DLT_VARIABLE_MAX
    allowed: tuple[str, ...] = ()  # url: the whitelisted prefixes


@dataclass(frozen=True, kw_only=True)
class Template:
    id: str
    purpose: str
    text: str
    variables: tuple[Variable, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(variable.name for variable in self.variables)


@dataclass(frozen=True, kw_only=True)
class RenderedSms:
    template_id: str
    text: str
    encoding: Encoding
    parts: int


def templates() -> Mapping[str, Template]:
    """The registered templates by purpose, read from DLT_TEMPLATES_FILE on first use and then kept."""
    value = config.get("DLT_TEMPLATES_FILE")
    path = Path(value) if Path(value).is_absolute() else ROOT / value
    return _load(path, config.get("REFERENCE_PREFIX"), max_parts())


def max_parts() -> int:
    value = config.get_int("SMS_MAX_PARTS")
    if not 1 <= value <= MAX_PARTS_LIMIT:
        raise ConfigurationError(f"setting SMS_MAX_PARTS must be between 1 and {MAX_PARTS_LIMIT}")
    return value


@functools.cache
def _load(path: Path, reference_prefix: str, most_parts: int) -> Mapping[str, Template]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(
            f"DLT templates file {path.name} (DLT_TEMPLATES_FILE) cannot be read: {type(error).__name__}"
        ) from error
    except ValueError as error:
        raise ConfigurationError(f"DLT templates file {path.name} (DLT_TEMPLATES_FILE) is not JSON") from error
    return parse_templates(document, source=path.name, reference_prefix=reference_prefix, most_parts=most_parts)


def reset() -> None:
    """Forget the templates read (tests, or after the file changed)."""
    _load.cache_clear()


def parse_templates(document: Any, *, source: str, reference_prefix: str, most_parts: int) -> Mapping[str, Template]:
    """The templates of a whole file by purpose; ConfigurationError names the first problem and where it is."""
    where = f"DLT templates file {source}"
    if not isinstance(document, dict) or not isinstance(document.get("templates"), list) or not document["templates"]:
        raise ConfigurationError(f'{where}: must be an object with a non-empty list "templates"')
    if unknown := set(document) - {"templates", "note"}:
        raise ConfigurationError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    by_purpose: dict[str, Template] = {}
    ids: set[str] = set()
    for index, item in enumerate(document["templates"], start=1):
        template = _parse_template(item, f"{where}, template {index}")
        where_template = f"{where}, template {index} ({template.purpose})"
        if template.purpose in by_purpose:
            raise ConfigurationError(f"{where_template}: another template has the same purpose")
        if template.id in ids:
            raise ConfigurationError(f"{where_template}: another template has the same id")
        longest = _fill(template, {v.name: _longest_value(v, reference_prefix) for v in template.variables})
        if parts(longest) > most_parts or len(longest.encode()) > MAX_PUBLISH_BYTES:
            raise ConfigurationError(
                f"{where_template}: can take {parts(longest)} parts with its longest values; "
                f"SMS_MAX_PARTS is {most_parts}"
            )
        by_purpose[template.purpose] = template
        ids.add(template.id)
    return MappingProxyType(by_purpose)


def _parse_template(item: Any, where: str) -> Template:
    if not isinstance(item, dict):
        raise ConfigurationError(f"{where}: must be an object")
    if unknown := set(item) - _TEMPLATE_KEYS:
        raise ConfigurationError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    template_id, purpose, text = item.get("id"), item.get("purpose"), item.get("text")
    if not isinstance(template_id, str) or not _DLT_ID.fullmatch(template_id):
        raise ConfigurationError(f'{where}: "id" must be the DLT template id, 1–50 letters or digits')
    if not isinstance(purpose, str) or not _NAME.fullmatch(purpose):
        raise ConfigurationError(f'{where}: "purpose" must be a lower-case name such as "otp"')
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(f'{where}: "text" must be the registered text')
    static = text.replace(PLACEHOLDER, "")
    if "{#" in static or "#}" in static:
        raise ConfigurationError(f'{where}: "text" may hold no placeholder but {PLACEHOLDER}')
    raw_variables = item.get("variables", [])
    if not isinstance(raw_variables, list):
        raise ConfigurationError(f'{where}: "variables" must be a list')
    if len(raw_variables) != text.count(PLACEHOLDER):
        raise ConfigurationError(
            f'{where}: "text" has {text.count(PLACEHOLDER)} {PLACEHOLDER} but "variables" lists {len(raw_variables)}'
        )
    variables = tuple(_parse_variable(raw, f"{where}, variable {n}") for n, raw in enumerate(raw_variables, 1))
    for variable in variables:
        if any(other.name == variable.name and other != variable for other in variables):
            raise ConfigurationError(f"{where}: {variable.name!r} fills several slots with different definitions")
    return Template(id=template_id, purpose=purpose, text=text, variables=variables)


def _parse_variable(raw: Any, where: str) -> Variable:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: must be an object")
    name, kind = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(f'{where}: "name" must be a lower-case name such as "code"')
    if kind not in _VARIABLE_KEYS:
        raise ConfigurationError(f'{where}: "type" must be one of {", ".join(_VARIABLE_KEYS)}')
    if unknown := set(raw) - {"name", "type"} - _VARIABLE_KEYS[kind]:
        raise ConfigurationError(f"{where}: a {kind} variable takes no {', '.join(sorted(unknown))}")
    lowest, highest = raw.get("min", 1), raw.get("max", DLT_VARIABLE_MAX)
    if type(lowest) is not int or type(highest) is not int or not 1 <= lowest <= highest <= DLT_VARIABLE_MAX:
        raise ConfigurationError(
            f'{where}: "min" and "max" must be whole numbers, 1 ≤ min ≤ max ≤ {DLT_VARIABLE_MAX} (DLT\'s limit)'
        )
    allowed: tuple[str, ...] = ()
    if kind == "url":
        prefixes = raw.get("allowed")
        if not isinstance(prefixes, list) or not prefixes or not all(_is_url_prefix(p) for p in prefixes):
            raise ConfigurationError(f'{where}: "allowed" must list the whitelisted https prefixes, each ending in "/"')
        if any(len(prefix) >= highest for prefix in prefixes):
            raise ConfigurationError(f'{where}: every prefix in "allowed" must be shorter than "max"')
        allowed = tuple(prefixes)
    return Variable(name=name, type=kind, min=lowest, max=highest, allowed=allowed)


def _is_url_prefix(prefix: Any) -> bool:
    # Ending in "/" keeps "https://sampark.example.in/" from also allowing "https://sampark.example.in.evil.com".
    if not isinstance(prefix, str) or not prefix.isascii() or not prefix.endswith("/"):
        return False
    parts_ = urlsplit(prefix)
    return parts_.scheme == "https" and bool(parts_.hostname) and not parts_.query and not parts_.fragment


def _longest_value(variable: Variable, reference_prefix: str) -> str:
    """A value that makes the SMS as long as this variable can make it.

    Text: Hindi, as UCS-2 costs more than any GSM-7 value (67 units a part against 153 septets, and an escaped
    character is only 2), and a text value holds no emoji. URLs: "~", two septets in GSM-7.
    """
    if variable.type == "text":
        return "क" * variable.max
    if variable.type == "url":
        return "~" * variable.max
    if variable.type == "reference":
        return f"{reference_prefix}-{'X' * LENGTH}"
    return "9" * variable.max


def _fill(template: Template, values: Mapping[str, str]) -> str:
    pieces = template.text.split(PLACEHOLDER)
    filled = [pieces[0]]
    for variable, piece in zip(template.variables, pieces[1:], strict=True):
        filled += [values[variable.name], piece]
    return "".join(filled)


# --- rendering ---------------------------------------------------------------------------------------------------


def render(purpose: str, values: Mapping[str, str]) -> RenderedSms:
    """The SMS of ``purpose`` with ``values`` in its slots; SmsRefusedError for anything DLT would not carry."""
    template = templates().get(purpose)
    if template is None:
        raise SmsRefusedError(f"no DLT template is registered for purpose {purpose!r}")
    if missing := template.names - set(values):
        raise SmsRefusedError(f"the {purpose} SMS needs {', '.join(sorted(missing))}")
    if extra := set(values) - template.names:
        raise SmsRefusedError(f"the {purpose} SMS has no variable {', '.join(sorted(extra))}")
    for variable in template.variables:
        _check(variable, values[variable.name], purpose)
    text = _fill(template, values)
    sms = RenderedSms(template_id=template.id, text=text, encoding=encoding(text), parts=parts(text))
    # Unreachable with the templates as loaded (their longest values were checked then); kept as the last guard.
    if sms.parts > max_parts():
        raise SmsRefusedError(f"the {purpose} SMS would take {sms.parts} parts; SMS_MAX_PARTS is {max_parts()}")
    if len(text.encode()) > MAX_PUBLISH_BYTES:
        raise SmsRefusedError(f"the {purpose} SMS would be over {MAX_PUBLISH_BYTES} bytes")
    return sms


def template_with_id(template_id: object) -> Template | None:
    """The registered template of that DLT template id, if there is one."""
    return next((template for template in templates().values() if template.id == template_id), None)


def variable_limit(purpose: str, name: str) -> int:
    """The most characters the variable ``name`` of the ``purpose`` template takes (DLT caps each at 30)."""
    return _variable(purpose, name).max


def check_value(purpose: str, name: str, value: str) -> None:
    """Refuse (SmsRefusedError) a value the variable would not carry, before it is kept to be sent later."""
    _check(_variable(purpose, name), value, purpose)


def _variable(purpose: str, name: str) -> Variable:
    template = templates().get(purpose)
    variable = next((v for v in template.variables if v.name == name), None) if template else None
    if variable is None:
        raise SmsRefusedError(f"no DLT template is registered for purpose {purpose!r} with a variable {name!r}")
    return variable


def _check(variable: Variable, value: Any, purpose: str) -> None:
    """Refuse a value its variable does not allow. The message names the variable, never the value."""

    def refuse(problem: str) -> SmsRefusedError:
        return SmsRefusedError(f"the {purpose} SMS: {variable.name} {problem}")

    if not isinstance(value, str):
        raise refuse("must be a string")
    if variable.type == "digits":
        if not (value.isascii() and value.isdigit() and variable.min <= len(value) <= variable.max):
            raise refuse(f"must be {variable.min} to {variable.max} digits")
    elif variable.type == "reference":
        if not _is_reference(value):
            raise refuse(f"must be a reference like {config.get('REFERENCE_PREFIX')}-7K3QM")
    elif variable.type == "text":
        if not value.strip() or len(value) > variable.max:
            raise refuse(f"must be 1 to {variable.max} characters")
        if any(ord(c) > 0xFFFF or unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in value):
            raise refuse("must be one line without control characters or emoji")
    elif variable.type == "url":
        if not (
            len(value) <= variable.max
            and value.isascii()
            and value.isprintable()
            and " " not in value
            and value.startswith(variable.allowed)
        ):
            raise refuse(f"must be a whitelisted link of at most {variable.max} characters")
    else:  # a type added to _VARIABLE_KEYS without its check
        raise refuse(f"has a type with no check: {variable.type}")


def _is_reference(value: str) -> bool:
    prefix, _, code = value.partition("-")
    return prefix == config.get("REFERENCE_PREFIX") and len(code) == LENGTH and not set(code) - set(ALPHABET)


# --- sending -----------------------------------------------------------------------------------------------------

# Only Indian mobile numbers: the DLT attributes are India's, and subscriptions take Indian mobiles only.
_INDIAN_MOBILE = re.compile(r"\+91[6-9][0-9]{9}")
# https://docs.aws.amazon.com/sms-voice/latest/userguide/registrations-sms-senderid-india-support.html : an India
# transactional sender id (DLT header) is 3–6 letters (SNS in general allows 3–11 letters, digits and hyphens).
_SENDER_ID = re.compile(r"[A-Za-z]{3,6}")
# E.164: "+" and 5–14 digits, like any origination number (https://docs.aws.amazon.com/sns/latest/dg/sms_publish-to-phone.html).
_TWO_WAY_NUMBER = re.compile(r"\+[0-9]{5,14}")


def _dlt_settings() -> tuple[str, str]:
    """The sender id and entity id, with the templates loaded: ConfigurationError names whatever is missing."""
    sender_id = config.get("SMS_SENDER_ID")
    entity_id = config.get("DLT_ENTITY_ID")
    templates()  # DLT_TEMPLATES_FILE: read and validated before anything can be sent
    if not _SENDER_ID.fullmatch(sender_id):
        raise ConfigurationError("setting SMS_SENDER_ID must be the DLT header: 3 to 6 letters")
    if not _DLT_ID.fullmatch(entity_id):
        raise ConfigurationError("setting DLT_ENTITY_ID must be the DLT principal entity id: 1–50 letters or digits")
    return sender_id, entity_id


# In India a long code receives SMS but "can't be used to send outgoing messages"
# (https://docs.aws.amazon.com/sms-voice/latest/userguide/phone-numbers.html): citizens write to the two-way number,
# and every SMS, answers included, goes out under the DLT header. An SMS that asks for an answer says "reply to the
# number you wrote to" (the follow-up template).
def two_way_number() -> str | None:
    """The number citizens write to (SMS_TWO_WAY_NUMBER, E.164, inbound only), or None when none is configured."""
    try:
        number = config.get("SMS_TWO_WAY_NUMBER")
    except ConfigurationError:
        return None
    if not _TWO_WAY_NUMBER.fullmatch(number):
        raise ConfigurationError("setting SMS_TWO_WAY_NUMBER must be the two-way number in E.164: + and 5–14 digits")
    return number


# https://docs.aws.amazon.com/sns/latest/dg/sms_publish-to-phone.html : the per-message SMS attributes. The India
# ones are AWS.MM.SMS.EntityId and AWS.MM.SMS.TemplateId (not "AWS.MN.SMS.IN.*": made-up AWS.* names are refused,
# https://github.com/boto/boto3/issues/2947). The type is set on each message, not account-wide with
# SetSMSAttributes (1 TPS and racing defaults: https://docs.aws.amazon.com/general/latest/gr/sns.html).
def message_attributes(template_id: str) -> dict[str, dict[str, str]]:
    """The MessageAttributes of an SMS of that registered template (a Publish to a phone or to a topic)."""
    sender_id, entity_id = _dlt_settings()
    if template_with_id(template_id) is None:
        raise SmsRefusedError("the template id is not one of the registered templates")
    values = {
        "AWS.SNS.SMS.SMSType": "Transactional",
        "AWS.SNS.SMS.SenderID": sender_id,
        "AWS.MM.SMS.EntityId": entity_id,
        "AWS.MM.SMS.TemplateId": template_id,
    }
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def send(phone_e164: str, purpose: str, values: Mapping[str, str]) -> str:
    """Send the SMS of ``purpose`` to one Indian mobile; SNS's MessageId ("accepted", not "delivered").

    Fails closed: nothing is published without the DLT settings, a registered template and checked values.
    """
    _dlt_settings()
    if not isinstance(phone_e164, str) or not _INDIAN_MOBILE.fullmatch(phone_e164):
        raise SmsRefusedError("the recipient must be an Indian mobile number in E.164 form (+91 and 10 digits)")
    sms = render(purpose, values)
    attributes = message_attributes(sms.template_id)
    response = client("sns").publish(PhoneNumber=phone_e164, Message=sms.text, MessageAttributes=attributes)
    count("SmsSent")
    count("SmsParts", sms.parts)
    # Never the number or the values: the template and the size say what was sent.
    logger.info("sms sent", extra={"template_id": sms.template_id, "parts": sms.parts, "encoding": sms.encoding})
    return str(response["MessageId"])
