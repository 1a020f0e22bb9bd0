"""Use cases of the officers' API: list, open and triage tips, keep notes, ask the informant a question.

Every function takes the signed-in Principal, checks it first (shared/access.py), records the access in the audit
trail before answering (shared/audit.py), and returns plain dicts that never hold a phone number, platform id,
pseudonym or reply handle.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import access, areas, audit, clock, config, sms, texts
from shared.aws import media_store, queues
from shared.domain import (
    Channel,
    FollowUp,
    FollowUpStatus,
    MediaStatus,
    Note,
    StoredMedia,
    TipChange,
    TipFile,
    TipListQuery,
    TipStatus,
    TipSummary,
)
from shared.errors import (
    ConfigurationError,
    FollowUpNotAllowedError,
    InvalidRequestError,
    NotFoundError,
    SmsRefusedError,
    StorageUnavailableError,
    TipChangedError,
)
from shared.observability import logger
from shared.paging import decode_cursor, encode_cursor, is_record_id, page_size
from shared.storage import casework
from shared.storage.models import NO_AREA
from shared.tokens import Principal

MAX_PAGE = 100
MAX_NOTE_CHARS = 4000
# WhatsApp text bodies take 4,096 characters, Messenger 2,000, X DMs 10,000: the smallest, less our framing.
MAX_FOLLOWUP_CHARS = 1500
# Presigned media links last less than the 5 minutes the issue allows: long enough to open, too short to share.
MEDIA_URL_SECONDS = 240
REPLIES_QUEUE = "REPLIES_QUEUE_URL"
# https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages#customer-service-windows
# and the Messenger platform policy: free-form messages only within 24 h of the user's last message.
PLATFORM_REPLY_WINDOW = timedelta(hours=24)
_WINDOWED_CHANNELS = (Channel.WHATSAPP, Channel.MESSENGER)
_ASSIGNEE = re.compile(r"[A-Za-z0-9._@+\-]{1,128}")
_PATCH_FIELDS = frozenset({"status", "area_id", "assignee", "wanted_id"})
_UPDATE_ATTEMPTS = 3


# --- GET /tips -------------------------------------------------------------------------------------------------------


def list_tips(principal: Principal, params: Mapping[str, str]) -> dict[str, Any]:
    query = _list_query(principal, params)
    page = casework.list_tips(query)
    audit.record(principal, audit.LISTED, [tip.tip_id for tip in page.tips])
    return {"tips": [_summary_view(tip) for tip in page.tips], "next": encode_cursor(page.after)}


def _list_query(principal: Principal, params: Mapping[str, str]) -> TipListQuery:
    """The filters of a list request, checked all at once so that the error names every problem."""
    problems: list[str] = []
    unknown = set(params) - {"status", "area_id", "channel", "wanted_id", "since", "until", "limit", "cursor"}
    if unknown:
        problems.append(f"unknown parameters: {', '.join(sorted(unknown))}")
    status = _enum_param(TipStatus, params.get("status"), "status", problems)
    channel = _enum_param(Channel, params.get("channel"), "channel", problems)
    requested_area = params.get("area_id")
    if requested_area is not None and requested_area != NO_AREA and areas.find_area(requested_area) is None:
        problems.append(f"area_id {requested_area!r} is not a police area (see GET /areas, or 'none')")
    wanted_id = params.get("wanted_id")
    if wanted_id is not None and not is_record_id(wanted_id):
        problems.append("wanted_id must be a wanted notice's id")
    since, until = _time_param(params, "since", problems), _time_param(params, "until", problems)
    if since and until and since > until:
        problems.append("since must not be after until")
    try:
        limit = page_size(params, MAX_PAGE)
        after = decode_cursor(params.get("cursor"))
    except InvalidRequestError as error:
        problems.append(str(error))
        limit, after = 0, None
    if problems:
        raise InvalidRequestError("; ".join(problems))
    area_id = access.default_area(principal, requested_area)
    if channel is not None and area_id is not None:
        # by-channel indexes have no area key: an officer's list is always limited to an area.
        raise InvalidRequestError(f"channel cannot be combined with an area; {casework.describe_indexed_filters()}")
    return TipListQuery(
        status=status,
        area_id=area_id,
        channel=channel,
        wanted_id=wanted_id,
        since=since,
        until=until,
        limit=limit,
        after=after,
    )


def _enum_param(kind, raw: str | None, name: str, problems: list[str]):
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        problems.append(f"{name} must be one of {', '.join(member.value for member in kind)}")
        return None


def _time_param(params: Mapping[str, str], name: str, problems: list[str]) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "+"))  # a "+" in a query string arrives as a space
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        problems.append(f"{name} must be an ISO 8601 time, e.g. 2026-11-28T09:30:00+05:30")
        return None
    if not 2000 <= moment.year <= 2100:
        problems.append(f"{name} must be between the years 2000 and 2100")
        return None
    return moment


# --- GET /tips/{id} --------------------------------------------------------------------------------------------------


def open_tip(principal: Principal, tip_id: str) -> dict[str, Any]:
    """The whole tip; photos as links to copies without metadata, each link audited."""
    tip = _readable_tip(principal, tip_id)
    media = [_media_view(item) for item in tip.media]
    issued = [view["key"] for view in media if view["url"]]
    traces = [(audit.VIEWED, {})]
    if issued:
        traces.append((audit.MEDIA_URL_ISSUED, {"media_keys": issued, "variant": "officer_copy"}))
    audit.record_actions(principal, tip_id, traces)  # one transaction for the opening and its links
    return _file_view(tip, media)


def original_media_link(principal: Principal, tip_id: str, media_key: str) -> dict[str, Any]:
    """Admins only: a short-lived link to the original as received (evidence), audited."""
    access.require_admin(principal)
    item = casework.get_media(tip_id, media_key)
    if item is None:
        raise NotFoundError("no such tip or attachment")
    if item.status is not MediaStatus.STORED or not item.s3_key:
        raise NotFoundError(f"the attachment is {item.status}: there is no original to open")
    audit.record(principal, audit.ORIGINAL_URL_ISSUED, [tip_id], media_key=media_key, sha256=item.sha256)
    return {
        "key": media_key,
        "content_type": item.content_type,
        "size": item.size,
        "sha256": item.sha256,
        "url": media_store.presigned_get(item.s3_key, MEDIA_URL_SECONDS),
        "expires_in": MEDIA_URL_SECONDS,
    }


def _readable_tip(principal: Principal, tip_id: str) -> TipFile:
    access.require_officer(principal)
    tip = casework.get_tip_file(tip_id) if is_record_id(tip_id) else None
    if tip is None:
        raise NotFoundError("no such tip")
    access.require_area(principal, tip.summary.area_id)
    return tip


def _media_view(item: StoredMedia) -> dict[str, Any]:
    """Officers see photos only as copies without metadata (GPS in EXIF can locate the informant's home)."""
    view: dict[str, Any] = {
        "key": item.media_key,
        "kind": str(item.kind),
        "status": str(item.status),
        "caption": item.caption,
        "content_type": None,
        "url": None,
        "metadata_removed": None,
    }
    if item.status is not MediaStatus.STORED:
        view["problem"] = item.failure
        return view
    if (item.content_type or "").startswith("image/"):
        if not item.clean_s3_key:
            view["problem"] = "the photo could not be cleaned of its metadata; an admin can open the original"
            return view
        view.update(content_type="image/jpeg", url=media_store.presigned_get(item.clean_s3_key, MEDIA_URL_SECONDS))
        view["metadata_removed"] = True
    else:
        # Video, audio and documents are passed on as received (README, "What officers see").
        view.update(content_type=item.content_type, url=media_store.presigned_get(item.s3_key, MEDIA_URL_SECONDS))
        view["metadata_removed"] = False
    view["expires_in"] = MEDIA_URL_SECONDS
    return view


# --- PATCH /tips/{id} ------------------------------------------------------------------------------------------------


def update_tip(principal: Principal, tip_id: str, body: Any) -> dict[str, Any]:
    """Change status, assignee or area; the change and its audit entry are one transaction."""
    change = _tip_change(body)
    for _ in range(_UPDATE_ATTEMPTS):
        before = _readable_tip(principal, tip_id).summary  # read again after a conflict: apply to what is there now
        trace = audit.pending(principal, audit.UPDATED, tip_id, changes=_changes(before, change))
        try:
            casework.update_tip(before, change, clock.now(), trace)
            break
        except casework.StaleTipError:
            continue
    else:
        raise TipChangedError("the tip is being changed by someone else right now; reload it and try again")
    if change.area_id is not None and change.area_id != before.area_id:
        _announce_to_new_area(tip_id)
    return _summary_view(casework.get_tip_file(tip_id).summary)  # type: ignore[union-attr]


def _announce_to_new_area(tip_id: str) -> None:
    """The officers of the area a tip moves to hear of it like of a new tip (best effort: the move stands)."""
    try:
        queues.enqueue(REPLIES_QUEUE, [{"kind": "new_tip_notice", "tip_id": tip_id}])
    except Exception:
        logger.exception("could not queue the new-area notice", extra={"tip_id": tip_id})


def _tip_change(body: Any) -> TipChange:
    if not isinstance(body, dict) or not body:
        raise InvalidRequestError("send a JSON object with one or more of: status, area_id, assignee, wanted_id")
    problems = [f"unknown field {name!r}" for name in sorted(set(body) - _PATCH_FIELDS)]
    status = None
    if "status" in body:
        status = _enum_param(TipStatus, body["status"], "status", problems)
        if body["status"] is None:
            problems.append(f"status must be one of {', '.join(member.value for member in TipStatus)}")
    area_id = body.get("area_id")
    if "area_id" in body and (not isinstance(area_id, str) or areas.find_area(area_id) is None):
        problems.append(f"area_id {area_id!r} is not a police area (see GET /areas)")
    assignee = body.get("assignee")
    if assignee is not None and (not isinstance(assignee, str) or not _ASSIGNEE.fullmatch(assignee)):
        problems.append("assignee must be an officer's user name (letters, digits, . _ @ + -) or null")
    wanted_id = body.get("wanted_id")
    if wanted_id is not None and not (
        isinstance(wanted_id, str) and is_record_id(wanted_id) and _notice_exists(wanted_id)
    ):
        problems.append(f"wanted_id {wanted_id!r} is not a wanted notice")
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return TipChange(
        status=status,
        area_id=area_id,
        assignee=assignee,
        unassign="assignee" in body and not assignee,
        wanted_id=wanted_id,
        unlink_wanted="wanted_id" in body and wanted_id is None,
    )


def _notice_exists(wanted_id: str) -> bool:
    from shared.storage import wanted as notices_store

    return notices_store.get(wanted_id) is not None


def _changes(before: TipSummary, change: TipChange) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if change.status is not None:
        changes["status"] = [str(before.status), str(change.status)]
    if change.area_id is not None:
        changes["area_id"] = [before.area_id, change.area_id]
    if change.assignee is not None or change.unassign:
        changes["assignee"] = [before.assignee, change.assignee]
    if change.wanted_id is not None or change.unlink_wanted:
        changes["wanted_id"] = [before.wanted_id, change.wanted_id]
    return changes


# --- POST /tips/{id}/notes -------------------------------------------------------------------------------------------


def add_note(principal: Principal, tip_id: str, body: Any) -> dict[str, Any]:
    text = _text_field(body, MAX_NOTE_CHARS)
    _readable_tip(principal, tip_id)
    note = Note(note_id=str(uuid.uuid4()), author=principal.username, written_at=clock.now(), text=text)
    casework.add_note(tip_id, note, audit.pending(principal, audit.NOTE_ADDED, tip_id, note_id=note.note_id))
    return _note_view(note)


# --- POST /tips/{id}/messages ----------------------------------------------------------------------------------------


def ask_informant(principal: Principal, tip_id: str, body: Any) -> dict[str, Any]:
    """Queue a question to the informant; the reply sender (the only one that can open the address) sends it."""
    text = _text_field(body, MAX_FOLLOWUP_CHARS)
    tip = _readable_tip(principal, tip_id)
    now = clock.now()
    _check_reply_window(tip, now)
    if tip.summary.channel is Channel.SMS:
        _check_sms_question(text)
    followup = FollowUp(
        followup_id=str(uuid.uuid4()),
        author=principal.username,
        written_at=now,
        text=text,
        status=FollowUpStatus.QUEUED,
    )
    key = casework.followup_key(followup.written_at, followup.followup_id)
    # The answer joins this tip: the sender's open tip points here for as long as the platform lets us talk.
    open_until = int(now.timestamp()) + config.get_int("FOLLOWUP_ANSWER_WINDOW_SECONDS")
    try:
        casework.add_followup(
            tip_id,
            followup,
            audit.pending(principal, audit.FOLLOWUP_QUEUED, tip_id, followup_id=key),
            sender_pseudonym=tip.sender_pseudonym,
            channel=tip.summary.channel,
            open_until=open_until,
        )
    except casework.SenderBusyError:
        raise FollowUpNotAllowedError(
            "the informant is writing another tip right now and their next messages belong to it; "
            "try again in a few minutes"
        ) from None
    try:
        queues.enqueue(REPLIES_QUEUE, [{"kind": "followup", "tip_id": tip_id, "followup_id": key}])
    except Exception as error:
        casework.mark_followup_unqueued(tip_id, key)
        raise StorageUnavailableError("the question could not be queued") from error
    return {"id": key, "status": str(FollowUpStatus.QUEUED), "channel": str(tip.summary.channel)}


def reply_window_closes(tip: TipFile) -> datetime | None:
    """When the platform stops taking free-form messages to this informant (None: no such window)."""
    if tip.summary.channel in _WINDOWED_CHANNELS:
        return tip.last_message_at + PLATFORM_REPLY_WINDOW
    return None


def _check_reply_window(tip: TipFile, now: datetime) -> None:
    channel = tip.summary.channel
    recent = [f for f in tip.followups if f.written_at > now - PLATFORM_REPLY_WINDOW]
    limit = config.get_int("FOLLOWUP_LIMIT_PER_DAY")
    if len(recent) >= limit:
        # An informant pestered by the police stops helping, and WhatsApp lowers the number's quality rating.
        raise FollowUpNotAllowedError(f"at most {limit} questions per tip in 24 hours; this tip has had {len(recent)}")
    if channel is Channel.SMS:
        _check_sms_two_way()
    if tip.public_post:
        raise FollowUpNotAllowedError(
            "the informant wrote in a public post: a follow-up would be public and could expose them"
        )
    closes = reply_window_closes(tip)
    if closes is not None and now >= closes:
        raise FollowUpNotAllowedError(
            f"{channel} allows messages only within 24 hours of the informant's last message "
            f"(closed {closes.isoformat()}); wait for them to write again"
        )


def _check_sms_two_way() -> None:
    """An SMS question is only worth sending from a number the informant can answer."""
    try:
        number = sms.two_way_number()
    except ConfigurationError as error:
        raise FollowUpNotAllowedError(f"SMS follow-ups need a valid two-way SMS number: {error}") from None
    if number is None:
        raise FollowUpNotAllowedError(
            "SMS follow-ups need the district's two-way SMS number (setting SMS_TWO_WAY_NUMBER), "
            "so that the informant can answer"
        )


def _check_sms_question(text: str) -> None:
    """By SMS the question fills one variable of the registered follow-up template (India's DLT rules): refuse
    here what could never be sent, rather than fail later."""
    limit = sms.variable_limit(texts.FOLLOWUP_PURPOSE, texts.FOLLOWUP_QUESTION)
    if len(text) > limit:
        raise InvalidRequestError(f"an SMS question is at most {limit} characters (DLT variable limit)")
    try:
        sms.check_value(texts.FOLLOWUP_PURPOSE, texts.FOLLOWUP_QUESTION, text)
    except SmsRefusedError:
        raise InvalidRequestError("an SMS question must be one line, without emoji or control characters") from None


def _text_field(body: Any, max_chars: int) -> str:
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequestError('send a JSON object {"text": "..."} with a non-empty text')
    if len(text) > max_chars:
        raise InvalidRequestError(f"text is {len(text)} characters; at most {max_chars}")
    if set(body) - {"text"}:
        raise InvalidRequestError(f"unknown fields: {', '.join(sorted(set(body) - {'text'}))}")
    return text.strip()


# --- views -----------------------------------------------------------------------------------------------------------


def _summary_view(tip: TipSummary) -> dict[str, Any]:
    return {
        "id": tip.tip_id,
        "reference": tip.reference,
        "status": str(tip.status),
        "channel": str(tip.channel),
        "area_id": tip.area_id,
        "received_at": tip.received_at.isoformat(),
        "text": "\n".join(tip.texts),
        "media_count": tip.media_count,
        "location": _location_view(tip),
        "assignee": tip.assignee,
        "wanted_id": tip.wanted_id,
    }


def _location_view(tip: TipSummary) -> dict[str, Any] | None:
    if tip.location is None:
        return None
    return {
        "lat": tip.location.latitude,
        "lon": tip.location.longitude,
        "name": tip.location.name,
        "address": tip.location.address,
    }


def _file_view(tip: TipFile, media: list[dict[str, Any]]) -> dict[str, Any]:
    closes = reply_window_closes(tip)
    messages = [{"from": "informant", "at": text.at.isoformat(), "text": text.text} for text in tip.texts]
    messages += [
        {
            "from": "police",
            "at": followup.written_at.isoformat(),
            "text": followup.text,
            "author": followup.author,
            "status": str(followup.status),
            "id": followup.followup_id,
            "problem": followup.failure,
        }
        for followup in tip.followups
    ]
    messages.sort(key=lambda message: message["at"])
    return {
        **_summary_view(tip.summary),
        "last_message_at": tip.last_message_at.isoformat(),
        "message_count": tip.message_count,
        "forwarded": tip.forwarded,
        "updated_at": tip.updated_at.isoformat() if tip.updated_at else None,
        "messages": messages,
        "media": media,
        "notes": [_note_view(note) for note in sorted(tip.notes, key=lambda note: note.written_at)],
        "follow_up": _follow_up_state(tip, closes),
    }


def _follow_up_state(tip: TipFile, closes: datetime | None) -> dict[str, Any]:
    try:
        _check_reply_window(tip, clock.now())
    except FollowUpNotAllowedError as error:
        return {"possible": False, "reason": str(error), "window_closes_at": None}
    return {"possible": True, "reason": None, "window_closes_at": closes.isoformat() if closes else None}


def _note_view(note: Note) -> dict[str, Any]:
    return {"id": note.note_id, "author": note.author, "at": note.written_at.isoformat(), "text": note.text}
