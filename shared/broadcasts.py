"""Broadcasts to the subscribers of chosen police areas: what each SNS topic would receive, to whom, at what cost.

A broadcast names a wanted notice (or a registered alert template with its values), areas, languages and channels.
It becomes one publish per targeted topic — area x language x channel (shared/aws/alert_topics.py) — so the work
never grows with the number of subscribers: SNS does the fan-out. SMS text is a DLT template filled per topic
(the area's name differs); email carries the full notice.

A broadcast is stored with its Idempotency-Key in one transaction (the same key again returns the first broadcast
and sends nothing); a large audience waits for a second supervisor; the sending itself is a queued job
(send_broadcasts) that publishes to each topic once.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import access, areas, clock, config, sms, wanted
from shared.aws import alert_topics, events, queues
from shared.domain import Broadcast, BroadcastStatus, Localized, WantedNotice, WantedStatus
from shared.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    SmsRefusedError,
    StorageUnavailableError,
)
from shared.observability import count, logger
from shared.paging import is_record_id
from shared.storage import broadcasts as store
from shared.storage import subscriptions as subscribers
from shared.storage import wanted as notices
from shared.tokens import Principal

BROADCASTS_QUEUE = "BROADCASTS_QUEUE_URL"
# Longer than one publish takes, shorter than the queue's visibility timeout: a dead sender's topic is retried.
TOPIC_LEASE_SECONDS = 60
_KEY_MAX = 255

_FIELDS = frozenset({"wanted_id", "template_id", "variables", "areas", "languages", "channels"})
# The SMS templates of a wanted notice, per language (tools/demo-dlt-templates.json: the district registers its own).
WANTED_PURPOSES = {"en": "wanted", "hi": "wanted_hi"}
# Only templates registered for alerts may go to everyone by template id: never an OTP or a reply, and not the
# wanted templates either (a notice is broadcast by its id, so that a captured notice cannot go out).
ALERT_PURPOSE_PREFIXES = ("alert",)
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
    template = sms.template_with_id(template_id)
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
        purpose = WANTED_PURPOSES[language]
        values = {"area": area_name, "name": details.name, "crime": crime}
        values = {name: _fit(value, sms.variable_limit(purpose, name)) for name, value in values.items()}
        return purpose, {**values, "number": wanted.display_number(request.notice.number)}
    template = sms.template_with_id(request.template_id)
    base = template.purpose.removesuffix(HINDI_SUFFIX)
    # A template registered in both languages ("alert", "alert_hi") reaches each language in its own.
    purpose = base + HINDI_SUFFIX if language == "hi" and base + HINDI_SUFFIX in sms.templates() else base
    if purpose not in sms.templates():
        purpose = template.purpose
    values = dict(request.variables)
    if "area" in sms.templates()[purpose].names:
        values["area"] = _fit(area_name, sms.variable_limit(purpose, "area"))
    return purpose, values


def _fit(text: str, limit: int) -> str:
    """At most ``limit`` characters (the template's variable's), cut at a word where possible."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut if len(cut) >= limit // 2 else text[:limit]


def _subject(request: BroadcastRequest, area: areas.Area) -> str:
    """ASCII letters, digits and punctuation only, starting with one of them: SNS refuses any other Subject."""
    district = config.get("ALERT_EMAIL_DISPLAY_NAME")
    if request.notice is not None:
        subject = f"{district}: wanted {wanted.display_number(request.notice.number)} - {area.name_en}"
    else:
        subject = f"{district} alert - {area.name_en}"
    printable = "".join(c for c in subject if c.isascii() and c.isprintable())
    return " ".join(printable.split()).lstrip(" -:")[:SUBJECT_LIMIT] or "Police alert"


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
    messages = _composed(request)
    reach = audience(request)
    return {
        "dry_run": True,
        "texts": _texts_per_language_and_channel(messages),
        "audience": _audience_view(reach),
        "estimate": _estimate(messages, reach),
        "topics": len(messages),
    }


def _composed(request: BroadcastRequest) -> list[Message]:
    try:
        return compose(request)
    except SmsRefusedError as error:
        raise InvalidRequestError(f"the SMS cannot be sent as DLT requires: {error}") from None


# --- sending -----------------------------------------------------------------------------------------------------


def create(principal: Principal, body: Any, idempotency_key: str | None) -> dict[str, Any]:
    """POST /broadcasts: stored with its key, then queued (or left for a second supervisor's approval)."""
    access.require_supervisor(principal)
    key_pk = _key_pk(principal, idempotency_key)
    request_hash = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    if (used := store.find_key(key_pk)) is not None:
        # Before any check: a retry whose first answer was lost gets that answer, even if the notice was captured
        # since (checking first would tell the supervisor that a broadcast which went out had failed).
        return _replay(used, request_hash)
    request = parse_request(body)
    _composed(request)  # every text is checked before anything is stored
    normalised = _normalised(request)
    reach = audience(request)
    total = sum(reach.values())
    needs_approval = total > config.get_int("BROADCAST_APPROVAL_THRESHOLD")
    broadcast = Broadcast(
        broadcast_id=str(uuid.uuid4()),
        status=BroadcastStatus.PENDING_APPROVAL if needs_approval else BroadcastStatus.SENDING,
        request=normalised,
        audience=_audience_view(reach)["counts"],
        audience_total=total,
        created_by=principal.username,
        created_by_subject=principal.subject,
        created_at=clock.now(),
    )
    try:
        store.create(broadcast, key_pk, request_hash)
    except store.KeyUsedError as used:
        return _replay(used, request_hash)
    count("BroadcastsCreated")
    logger.info("broadcast created", extra={"broadcast_id": broadcast.broadcast_id, "status": str(broadcast.status)})
    if broadcast.status is BroadcastStatus.SENDING:
        queues.enqueue(BROADCASTS_QUEUE, [{"broadcast_id": broadcast.broadcast_id}])
    return broadcast_view(broadcast)


def _key_pk(principal: Principal, idempotency_key: str | None) -> str:
    """Keys are a supervisor's own: two supervisors who pick the same key do not see each other's broadcast."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > _KEY_MAX or not key.isascii() or not key.isprintable():
        raise InvalidRequestError("send an Idempotency-Key header (1 to 255 characters, e.g. a UUID) with a broadcast")
    return f"IDEMPOTENCY#{principal.subject}#{hashlib.sha256(key.encode()).hexdigest()}"


def _replay(used: store.KeyUsedError, request_hash: str) -> dict[str, Any]:
    """The first broadcast of this key, sending nothing new; a different request under the same key is a conflict."""
    if used.request_hash != request_hash:
        raise ConflictError("this Idempotency-Key was used for a different broadcast: use a new key")
    broadcast = store.get(used.broadcast_id)
    if broadcast is None:
        raise ConflictError("this Idempotency-Key is being used by a broadcast right now: retry in a moment")
    if broadcast.status is BroadcastStatus.SENDING:
        # The first request may have died before queueing it; the sender publishes to each topic once anyway.
        queues.enqueue(BROADCASTS_QUEUE, [{"broadcast_id": broadcast.broadcast_id}])
    count("BroadcastKeyReplays")
    return broadcast_view(broadcast)


def _normalised(request: BroadcastRequest) -> dict[str, Any]:
    content = (
        {"wanted_id": request.notice.wanted_id}
        if request.notice is not None
        else {"template_id": request.template_id, "variables": dict(request.variables)}
    )
    return {
        **content,
        "areas": list(request.areas),
        "languages": list(request.languages),
        "channels": list(request.channels),
    }


def approve(principal: Principal, broadcast_id: str) -> dict[str, Any]:
    """POST /broadcasts/{id}/approve: a second supervisor lets a large broadcast go out."""
    access.require_supervisor(principal)
    broadcast = _existing(broadcast_id)
    if broadcast.created_by_subject == principal.subject:
        raise ForbiddenError("a second supervisor must approve a broadcast this large, not the one who created it")
    if broadcast.status is BroadcastStatus.SENDING and broadcast.approved_by_subject == principal.subject:
        # The approver retries (their first answer, or the queueing, may have been lost): queue it again; the
        # sender publishes to each topic once anyway.
        queues.enqueue(BROADCASTS_QUEUE, [{"broadcast_id": broadcast_id}])
        return broadcast_view(broadcast)
    if broadcast.status is not BroadcastStatus.PENDING_APPROVAL:
        raise ConflictError(f"the broadcast is {broadcast.status}, not waiting for approval")
    approved = store.set_status(
        broadcast_id,
        BroadcastStatus.SENDING,
        BroadcastStatus.PENDING_APPROVAL,
        clock.now(),
        approved_by=principal.username,
        approved_by_subject=principal.subject,
        approved_at=clock.now(),
    )
    if not approved:
        raise ConflictError("the broadcast was approved or changed meanwhile: reload it")
    queues.enqueue(BROADCASTS_QUEUE, [{"broadcast_id": broadcast_id}])
    count("BroadcastsApproved")
    return broadcast_view(_existing(broadcast_id))


def get_broadcast(principal: Principal, broadcast_id: str) -> dict[str, Any]:
    from shared import social

    access.require_supervisor(principal)
    broadcast = _existing(broadcast_id)
    wanted_id = broadcast.request.get("wanted_id")
    return broadcast_view(broadcast, social.posts_of(wanted_id) if wanted_id else [])


def list_broadcasts(principal: Principal) -> dict[str, Any]:
    access.require_supervisor(principal)
    return {"broadcasts": [broadcast_view(b) for b in store.list_recent(limit=100)]}


def _existing(broadcast_id: str) -> Broadcast:
    broadcast = store.get(broadcast_id) if is_record_id(broadcast_id) else None
    if broadcast is None:
        raise NotFoundError("no such broadcast")
    return broadcast


def send(broadcast_id: str) -> str:
    """The queued job: publish to each targeted topic once (claimed first), then mark the broadcast sent."""
    broadcast = store.get(broadcast_id)
    if broadcast is None or broadcast.status is not BroadcastStatus.SENDING:
        return "nothing_to_send"
    try:
        messages = compose(parse_request(broadcast.request))
    except (InvalidRequestError, SmsRefusedError) as error:  # e.g. the notice was captured before sending
        store.set_status(
            broadcast_id, BroadcastStatus.CANCELLED, BroadcastStatus.SENDING, clock.now(), problem=str(error)[:300]
        )
        logger.warning("broadcast cancelled", extra={"broadcast_id": broadcast_id, "reason": str(error)})
        return "cancelled"
    published = dict(broadcast.sns_message_ids)
    for done, message in enumerate(messages):
        topic = alert_topics.topic_name(message.area_id, message.language, message.channel)
        if topic in published:
            continue
        if _notice_closed(broadcast):  # captured while this broadcast was going out: the rest is not sent
            problem = f"the notice was closed after {done} of {len(messages)} topics were published"
            store.set_status(
                broadcast_id, BroadcastStatus.CANCELLED, BroadcastStatus.SENDING, clock.now(), problem=problem
            )
            return "cancelled"
        now = int(clock.now().timestamp())
        if not store.claim_topic(broadcast_id, topic, now, TOPIC_LEASE_SECONDS):
            raise RuntimeError(f"topic {topic} is being published by another sender: retry later")
        _mark_published(broadcast_id, topic, _publish(message))
        count("BroadcastPublishes")
    if wanted_id := broadcast.request.get("wanted_id"):
        # Before the status: a sender that dies in between publishes the event again on its retry (the social
        # posts are made once per notice whatever the number of events); after it, a retry would find nothing to do.
        events.broadcast_sent(broadcast_id, wanted_id)
    store.set_status(broadcast_id, BroadcastStatus.SENT, BroadcastStatus.SENDING, clock.now())
    logger.info("broadcast sent", extra={"broadcast_id": broadcast_id, "topics": len(messages)})
    return "sent"


def _notice_closed(broadcast: Broadcast) -> bool:
    wanted_id = broadcast.request.get("wanted_id")
    if not wanted_id:
        return False
    notice = notices.get(wanted_id)
    return notice is None or notice.status is not WantedStatus.ACTIVE


_MARK_ATTEMPTS = 3


def _mark_published(broadcast_id: str, topic: str, message_id: str) -> None:
    """Record the publish SNS accepted, trying a few times: once the topic's claim lapses unrecorded, a retry of the
    job would publish to it again."""
    for attempt in range(1, _MARK_ATTEMPTS + 1):
        try:
            store.mark_published(broadcast_id, topic, message_id, clock.now())
            return
        except StorageUnavailableError:
            if attempt == _MARK_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)


def count_sms_deliveries(statuses: list[tuple[str, str]]) -> int:
    """SNS's delivery-status log lines (message id, SUCCESS/FAILURE) added to their broadcasts' figures."""
    counts: dict[str, tuple[int, int]] = {}
    for message_id, status in statuses:
        delivered, failed = counts.get(message_id, (0, 0))
        counts[message_id] = (delivered + (status == "SUCCESS"), failed + (status == "FAILURE"))
    return store.count_deliveries(counts)


def _publish(message: Message) -> str:
    where = (message.area_id, message.language, message.channel)
    if message.channel == "sms":
        # The DLT attributes go on the topic publish; whether SNS passes them on to each SMS subscriber must be
        # checked once in a real account (README, "Broadcasts").
        return alert_topics.publish(*where, message.text, MessageAttributes=sms.message_attributes(message.template_id))
    return alert_topics.publish(*where, message.text, Subject=message.subject)


def broadcast_view(broadcast: Broadcast, social_posts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``social_posts``: the notice's posts on Facebook and X (shared/social.py), made once per notice: a second
    broadcast of the same notice shows the first one's (each names its broadcast_id). Only GET /broadcasts/{id}
    reads them."""
    return {
        "id": broadcast.broadcast_id,
        "status": str(broadcast.status),
        "request": broadcast.request,
        "audience": {"total": broadcast.audience_total, "counts": broadcast.audience},
        "sns_message_ids": [message_id for _, message_id in broadcast.sns_message_ids],
        "topics": [{"topic": topic, "message_id": message_id} for topic, message_id in broadcast.sns_message_ids],
        "created_by": broadcast.created_by,
        "created_at": broadcast.created_at.isoformat(),
        "approved_by": broadcast.approved_by,
        "approved_at": broadcast.approved_at.isoformat() if broadcast.approved_at else None,
        "finished_at": broadcast.finished_at.isoformat() if broadcast.finished_at else None,
        "problem": broadcast.problem,
        # SMS delivery counts come from SNS's delivery-status logs in AWS (README, "Broadcasts"); unknown locally.
        "delivery": (
            {"delivered": broadcast.delivered, "failed": broadcast.failed}
            if config.get_optional("SMS_DELIVERY_LOG_GROUP")  # set by the template in AWS, nowhere locally
            else {"delivered": None, "failed": None}
        ),
        "social_posts": social_posts or [],
    }


def _texts_per_language_and_channel(messages: list[Message]) -> list[dict[str, Any]]:
    """One example per language and channel (the first area's: only the area's name differs), with the most parts."""
    most_parts: dict[tuple[str, str], int] = {}
    for message in messages:
        key = (message.language, message.channel)
        most_parts[key] = max(most_parts.get(key, 0), message.parts)
    shown: dict[tuple[str, str], dict[str, Any]] = {}
    for message in messages:
        key = (message.language, message.channel)
        if key in shown:
            continue
        shown[key] = {"language": message.language, "channel": message.channel, "text": message.text}
        if message.channel == "sms":
            shown[key] |= {"encoding": message.encoding, "parts": most_parts[key], "template_id": message.template_id}
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
