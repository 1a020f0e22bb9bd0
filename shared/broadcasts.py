"""Broadcasts to the subscribers of chosen police areas: what each SNS topic would receive, to whom, at what cost.

A broadcast names a wanted notice (or a registered alert template with its values), areas, languages and channels.
It becomes one publish per targeted topic — area x language x channel (shared/aws/alert_topics.py) — so the work
never grows with the number of subscribers: SNS does the fan-out. SMS text is a DLT template filled per topic
(the area's name differs); email carries the full notice.

This module composes and counts (the dry run); sending comes with the rest of the broadcasts issue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import access, areas, config, sms, wanted
from shared.aws import alert_topics
from shared.domain import Localized, WantedNotice, WantedStatus
from shared.errors import InvalidRequestError, SmsRefusedError
from shared.storage import subscriptions as subscribers
from shared.storage import wanted as notices
from shared.tokens import Principal

_FIELDS = frozenset({"wanted_id", "template_id", "variables", "areas", "languages", "channels"})
# The SMS templates of a wanted notice, per language (tools/demo-dlt-templates.json: the district registers its own).
WANTED_PURPOSES = {"en": "wanted", "hi": "wanted_hi"}
# Only templates registered for alerts may go to everyone: never an OTP or a reply.
ALERT_PURPOSE_PREFIXES = ("alert", "wanted")
HINDI_SUFFIX = "_hi"
# SNS email subjects are ASCII, under 100 characters (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
SUBJECT_LIMIT = 99


@dataclass(frozen=True, kw_only=True)
class BroadcastRequest:
    areas: tuple[str, ...]
    languages: tuple[str, ...]
    channels: tuple[str, ...]
    notice: WantedNotice | None = None
    template_id: str | None = None
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Message:
    """What one topic receives."""

    area_id: str
    language: str
    channel: str
    text: str
    subject: str | None = None  # email
    template_id: str | None = None  # SMS: its DLT template
    encoding: str | None = None
    parts: int = 0


# --- the request -------------------------------------------------------------------------------------------------


def parse_request(body: Any) -> BroadcastRequest:
    """The broadcast a supervisor asked for; InvalidRequestError names every problem at once."""
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be an object: {wanted_id or template_id, areas, languages, channels}")
    problems = [f"unknown field {name!r}" for name in sorted(set(body) - _FIELDS)]
    area_ids = _choice(body.get("areas"), "areas", [a.id for a in areas.all_areas()], problems, "see GET /areas")
    languages = _choice(body.get("languages"), "languages", alert_topics.LANGUAGES, problems)
    channels = _choice(body.get("channels"), "channels", alert_topics.CHANNELS, problems)
    notice, template_id, variables = _content(body, problems)
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return BroadcastRequest(
        areas=area_ids,
        languages=languages,
        channels=channels,
        notice=notice,
        template_id=template_id,
        variables=variables,
    )


def _choice(value: Any, field: str, allowed: Any, problems: list[str], hint: str = "") -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        problems.append(f"{field} must be a non-empty list of: {', '.join(allowed) if len(allowed) < 10 else hint}")
        return ()
    if unknown := [item for item in value if item not in allowed]:
        problems.append(f"{field}: unknown {', '.join(map(repr, unknown))}" + (f" ({hint})" if hint else ""))
    return tuple(dict.fromkeys(value))  # in the order given, each once


def _content(body: Mapping[str, Any], problems: list[str]) -> tuple[WantedNotice | None, str | None, tuple]:
    if ("wanted_id" in body) == ("template_id" in body):
        problems.append('give either "wanted_id" (a notice) or "template_id" with "variables", not both')
        return None, None, ()
    if "wanted_id" in body:
        return _notice(body["wanted_id"], problems), None, ()
    return None, *_template(body.get("template_id"), body.get("variables", {}), problems)


def _notice(wanted_id: Any, problems: list[str]) -> WantedNotice | None:
    notice = notices.get(wanted_id) if isinstance(wanted_id, str) and wanted_id else None
    if notice is None:
        problems.append(f"wanted_id: no notice {wanted_id!r}")
    elif notice.status is not WantedStatus.ACTIVE:
        problems.append(f"wanted_id: the notice is {notice.status} and can no longer be broadcast")
    return notice


def _template(template_id: Any, variables: Any, problems: list[str]) -> tuple[str | None, tuple]:
    template = next((t for t in sms.templates().values() if t.id == template_id), None)
    if template is None or not template.purpose.startswith(ALERT_PURPOSE_PREFIXES):
        problems.append(f"template_id: {template_id!r} is not a registered alert template")
        return None, ()
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        problems.append("variables must be an object of texts, one per variable of the template")
        return None, ()
    expected = template.names - {"area"}  # each area's topic gets its own area name
    if set(variables) != expected:
        problems.append(f"variables must be exactly: {', '.join(sorted(expected)) or 'none'}")
    return template.id, tuple(sorted(variables.items()))


# --- what each topic receives ------------------------------------------------------------------------------------


def compose(request: BroadcastRequest) -> list[Message]:
    """One message per targeted topic (area x language x channel); SmsRefusedError if a text breaks DLT's rules."""
    return [
        _message(request, area, language, channel)
        for area in map(areas.find_area, request.areas)
        for language in request.languages
        for channel in request.channels
        if area is not None
    ]


def _message(request: BroadcastRequest, area: areas.Area, language: str, channel: str) -> Message:
    area_name = area.name_hi if language == "hi" else area.name_en
    purpose, values = _sms_purpose_and_values(request, language, area_name)
    rendered = sms.render(purpose, values)
    where = {"area_id": area.id, "language": language, "channel": channel}
    if channel == "sms":
        return Message(
            **where,
            text=rendered.text,
            template_id=rendered.template_id,
            encoding=rendered.encoding,
            parts=rendered.parts,
        )
    return Message(**where, text=_email_text(request, rendered.text, language), subject=_subject(request, area))


def _sms_purpose_and_values(request: BroadcastRequest, language: str, area_name: str) -> tuple[str, dict[str, str]]:
    if request.notice is not None:
        details = request.notice.details
        crime = details.crime.hi if language == "hi" else details.crime.en
        values = {
            "area": _fit(area_name),
            "number": wanted.display_number(request.notice.number),
            "name": _fit(details.name),
            "crime": _fit(crime),
        }
        return WANTED_PURPOSES[language], values
    template = next(t for t in sms.templates().values() if t.id == request.template_id)
    base = template.purpose.removesuffix(HINDI_SUFFIX)
    # A template registered in both languages ("alert", "alert_hi") reaches each language in its own.
    purpose = base + HINDI_SUFFIX if language == "hi" and base + HINDI_SUFFIX in sms.templates() else base
    if purpose not in sms.templates():
        purpose = template.purpose
    values = dict(request.variables)
    if "area" in sms.templates()[purpose].names:
        values["area"] = _fit(area_name)
    return purpose, values


def _fit(text: str, limit: int = sms.DLT_VARIABLE_MAX) -> str:
    """At most ``limit`` characters, cut at a word where possible (a DLT variable holds 30)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut if len(cut) >= limit // 2 else text[:limit]


def _subject(request: BroadcastRequest, area: areas.Area) -> str:
    district = config.get("ALERT_EMAIL_DISPLAY_NAME")
    if request.notice is not None:
        subject = f"{district}: wanted {wanted.display_number(request.notice.number)} - {area.name_en}"
    else:
        subject = f"{district} alert - {area.name_en}"
    return subject.encode("ascii", "ignore").decode()[:SUBJECT_LIMIT]


def _email_text(request: BroadcastRequest, sms_text: str, language: str) -> str:
    """The full notice in the subscriber's language, with its photo; a template's text as it is."""
    if request.notice is None:
        return sms_text
    details = request.notice.details

    def local(value: Localized | None) -> str | None:
        return None if value is None else (value.hi if language == "hi" else value.en)

    photo_url = wanted.notice_view(request.notice)["photo_url"]
    lines = [
        sms_text,
        "",
        f"{wanted.display_number(request.notice.number)}: {details.name}",
        f"Aliases / उपनाम: {', '.join(details.aliases)}" if details.aliases else None,
        local(details.crime),
        local(details.description),
        local(details.reward),
        local(details.caution),
        f"Photo / फ़ोटो: {photo_url}" if photo_url else None,
        "",
        "Dial 112 in an emergency. / आपात स्थिति में 112 पर कॉल करें।",
    ]
    return "\n".join(line for line in lines if line is not None)


# --- audience and cost -------------------------------------------------------------------------------------------


def audience(request: BroadcastRequest) -> dict[tuple[str, str, str], int]:
    """Active subscribers per targeted (area, language, channel): SNS will deliver to these."""
    counts = {(c.area_id, c.language, c.channel): c.active for c in subscribers.counts()}
    return {
        (area, language, channel): counts.get((area, language, channel), 0)
        for area in request.areas
        for language in request.languages
        for channel in request.channels
    }


def dry_run(principal: Principal, body: Any) -> dict[str, Any]:
    """POST /broadcasts?dry_run=true: the texts, the audience, the cost and the time; nothing is sent."""
    access.require_supervisor(principal)
    request = parse_request(body)
    try:
        messages = compose(request)
    except SmsRefusedError as error:
        raise InvalidRequestError(f"the SMS cannot be sent as DLT requires: {error}") from None
    reach = audience(request)
    return {
        "dry_run": True,
        "texts": _texts_per_language_and_channel(messages),
        "audience": _audience_view(reach),
        "estimate": _estimate(messages, reach),
        "topics": len(messages),
    }


def _texts_per_language_and_channel(messages: list[Message]) -> list[dict[str, Any]]:
    """One example per language and channel (the first area's: only the area's name differs), with the most parts."""
    shown: dict[tuple[str, str], dict[str, Any]] = {}
    for message in messages:
        key = (message.language, message.channel)
        most_parts = max(m.parts for m in messages if (m.language, m.channel) == key)
        if key not in shown:
            shown[key] = {"language": message.language, "channel": message.channel, "text": message.text}
            if message.channel == "sms":
                shown[key] |= {"encoding": message.encoding, "parts": most_parts, "template_id": message.template_id}
            else:
                shown[key]["subject"] = message.subject
    return list(shown.values())


def _audience_view(reach: dict[tuple[str, str, str], int]) -> dict[str, Any]:
    return {
        "total": sum(reach.values()),
        "by_channel": {c: sum(n for (_, _, ch), n in reach.items() if ch == c) for c in alert_topics.CHANNELS},
        "counts": [
            {"area_id": area, "language": language, "channel": channel, "subscribers": n}
            for (area, language, channel), n in reach.items()
        ],
    }


def _estimate(messages: list[Message], reach: dict[tuple[str, str, str], int]) -> dict[str, Any]:
    """SMS parts are what India's routes bill and what the account's rate (parts per second) limits."""
    sms_parts = sum(m.parts * reach[(m.area_id, m.language, m.channel)] for m in messages if m.channel == "sms")
    emails = sum(reach[(m.area_id, m.language, m.channel)] for m in messages if m.channel == "email")
    part_price = float(config.get("SMS_PRICE_PER_PART_USD"))
    email_price = float(config.get("EMAIL_PRICE_PER_MESSAGE_USD"))
    rate = config.get_int("SMS_PARTS_PER_SECOND")
    return {
        "sms_parts": sms_parts,
        "sms_price_per_part_usd": part_price,
        "emails": emails,
        "cost_usd": round(sms_parts * part_price + emails * email_price, 4),
        "sms_parts_per_second": rate,
        "sms_seconds": round(sms_parts / rate, 1),
    }
