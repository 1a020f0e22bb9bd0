"""Use cases of wanted notices: supervisors create and close them, anyone reads the active ones.

A notice is active on creation and shows a placeholder until its photo has been through the photo pipeline
(shared/wanted_photos.py). Captured and withdrawn notices leave the public list and lose their public photos.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shared import access, areas, audit, clock, config
from shared.aws import events, public_media, uploads
from shared.domain import Localized, PhotoStatus, WantedDetails, WantedNotice, WantedStatus
from shared.errors import InvalidRequestError, NotFoundError, TipChangedError
from shared.paging import is_record_id
from shared.storage import wanted as store
from shared.tokens import Principal

CREATED = "wanted_created"
UPDATED = "wanted_updated"
UPLOAD_ISSUED = "wanted_upload_issued"

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOAD_SECONDS = 600  # the presigned POST's lifetime: 10 minutes
UPLOAD_PREFIX = "uploads/wanted/"
PUBLIC_PREFIX = "wanted/"
MAX_PUBLIC_LIST = 200
_TEXT_LIMITS = {"name": 120, "alias": 120, "crime": 300, "description": 2000, "reward": 300, "caution": 300}
_FIELDS = frozenset({"name", "aliases", "areas", "crime", "description", "reward", "caution"})
_UPDATE_ATTEMPTS = 3
# "W-0042", "w0042", "W 0042": a notice quoted as it is displayed (at least four digits), a word of its own. Shorter
# forms would match everyday text: "W-2 form", "w3.org", "size W 32".
NUMBER_IN_TEXT = re.compile(r"(?<![\w.])W[- ]?(\d{4,6})(?![\w.]?\w)", re.IGNORECASE)
_MAX_QUOTES_LOOKED_UP = 3


def display_number(number: int) -> str:
    return f"W-{number:04d}"


# --- supervisors ----------------------------------------------------------------------------------------------------


def create_notice(principal: Principal, body: Any) -> dict[str, Any]:
    access.require_supervisor(principal)
    details = _details(body)
    now = clock.now()
    wanted_id = str(uuid.uuid4())
    number = store.next_number()
    upload_key = _upload_key(wanted_id)
    notice = WantedNotice(
        wanted_id=wanted_id,
        number=number,
        details=details,
        status=WantedStatus.ACTIVE,
        created_at=now,
        created_by=principal.username,
        updated_at=None,
        photo_status=PhotoStatus.AWAITING_UPLOAD,
        photo_problem=None,
        photo_upload_key=upload_key,
        photo_key=None,
        thumbnail_key=None,
        created_key=f"{now.isoformat()}#{wanted_id}",
    )
    store.create(notice, audit.pending(principal, CREATED, None, wanted_id=wanted_id, number=display_number(number)))
    return {
        "id": wanted_id,
        "number": display_number(number),
        "status": str(WantedStatus.ACTIVE),
        "upload": _upload(upload_key),
    }


def new_upload(principal: Principal, wanted_id: str) -> dict[str, Any]:
    """A fresh presigned POST for the notice's photo (the first expired, or the photo is to be replaced)."""
    access.require_supervisor(principal)
    notice = _existing(wanted_id)
    if notice.status is not WantedStatus.ACTIVE:
        raise InvalidRequestError(f"the notice is {notice.status}: it takes no photo")
    upload_key = _upload_key(wanted_id)
    audit.record(principal, UPLOAD_ISSUED, [None], wanted_id=wanted_id)
    store.expect_upload(wanted_id, upload_key, clock.now())
    return {"upload": _upload(upload_key)}


def update_notice(principal: Principal, wanted_id: str, body: Any) -> dict[str, Any]:
    """Edit fields, or close the notice (captured, withdrawn): it leaves the gallery and its photos are deleted."""
    access.require_supervisor(principal)
    if not isinstance(body, dict) or not body:
        raise InvalidRequestError("send a JSON object with the fields to change, or a status")
    status = _status(body.get("status")) if "status" in body else None
    edits = {name: value for name, value in body.items() if name != "status"}
    for _ in range(_UPDATE_ATTEMPTS):
        before = _existing(wanted_id)
        after = _changed(before, edits, status)
        try:
            trace = audit.pending(principal, UPDATED, None, wanted_id=wanted_id, changes=_changes(before, after))
            store.save_changes(before, after, trace)
            break
        except store.StaleNoticeError:
            continue
    else:
        raise TipChangedError("the notice is being changed by someone else right now; reload it and try again")
    if after.status is not WantedStatus.ACTIVE:
        _unpublish(after)
    if after.status is WantedStatus.CAPTURED:
        # Also when the same PATCH comes again (e.g. after a 503): the consumer posts each follow-up once, and only
        # where the notice was posted (shared/social.py).
        events.notice_captured(wanted_id)
    return supervisor_view(store.get(wanted_id))  # type: ignore[arg-type]


def _changed(before: WantedNotice, edits: dict[str, Any], status: WantedStatus | None) -> WantedNotice:
    if before.status is not WantedStatus.ACTIVE and (edits or status not in (None, before.status)):
        raise InvalidRequestError(f"the notice is {before.status}: it can no longer be changed")
    details = before.details
    if edits:
        merged = {**_body_of(details), **edits}
        details = _details(merged)
    return replace(before, details=details, status=status or before.status, updated_at=clock.now())


def _unpublish(notice: WantedNotice) -> None:
    """Delete the public renditions; a failure answers 503 and the same PATCH again finishes the job."""
    # Everything under the notice's prefix: also renditions a crashed replacement may have left behind.
    public_media.delete_prefix(f"{PUBLIC_PREFIX}{notice.wanted_id}/")
    if notice.photo_key or notice.thumbnail_key:
        store.forget_photo(notice.wanted_id)


def _status(raw: Any) -> WantedStatus:
    if raw not in (WantedStatus.CAPTURED, WantedStatus.WITHDRAWN):
        raise InvalidRequestError("status must be captured or withdrawn")
    return WantedStatus(raw)


def _changes(before: WantedNotice, after: WantedNotice) -> dict[str, Any]:
    old, new = _body_of(before.details), _body_of(after.details)
    changes = {name: [old[name], new[name]] for name in new if old[name] != new[name]}
    if before.status is not after.status:
        changes["status"] = [str(before.status), str(after.status)]
    return changes


def _existing(wanted_id: str) -> WantedNotice:
    notice = store.get(wanted_id) if is_record_id(wanted_id) else None
    if notice is None:
        raise NotFoundError("no such wanted notice")
    return notice


def _upload_key(wanted_id: str) -> str:
    return f"{UPLOAD_PREFIX}{wanted_id}/{uuid.uuid4()}"


def _upload(key: str) -> dict[str, Any]:
    post = uploads.presigned_post(key, max_bytes=MAX_UPLOAD_BYTES, expires_in=UPLOAD_SECONDS)
    return {"url": post["url"], "fields": post["fields"], "expires_in": UPLOAD_SECONDS, "max_bytes": MAX_UPLOAD_BYTES}


# --- validation -----------------------------------------------------------------------------------------------------


def _details(body: Any) -> WantedDetails:
    """The notice's fields from a request body; InvalidRequestError names every problem at once."""
    if not isinstance(body, dict):
        raise InvalidRequestError("send a JSON object")
    problems = [f"unknown field {name!r}" for name in sorted(set(body) - _FIELDS - {"status"})]
    name = _text(body.get("name"), "name", problems)
    aliases = _aliases(body.get("aliases", []), problems)
    area_ids = _areas(body.get("areas"), problems)
    crime = _localized(body.get("crime"), "crime", problems, required=True)
    description = _localized(body.get("description"), "description", problems, required=True)
    reward = _localized(body.get("reward"), "reward", problems, required=False)
    caution = _localized(body.get("caution"), "caution", problems, required=False)
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return WantedDetails(
        name=name,  # type: ignore[arg-type]
        aliases=aliases,
        areas=area_ids,
        crime=crime,  # type: ignore[arg-type]
        description=description,  # type: ignore[arg-type]
        reward=reward,
        caution=caution,
    )


def _text(value: Any, field: str, problems: list[str], limit_key: str | None = None) -> str | None:
    limit = _TEXT_LIMITS[limit_key or field]
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{field} is required (non-empty text)")
        return None
    if len(value) > limit:
        problems.append(f"{field} is {len(value)} characters; at most {limit}")
        return None
    return value.strip()


def _aliases(value: Any, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > 10:
        problems.append("aliases must be a list of at most 10 names")
        return ()
    found = [_text(alias, "aliases", problems, "alias") for alias in value]
    return tuple(alias for alias in found if alias)


def _areas(value: Any, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(area, str) for area in value):
        problems.append("areas must be a non-empty list of police area ids (see GET /areas)")
        return ()
    unknown = [area for area in value if areas.find_area(area) is None]
    if unknown:
        problems.append(f"areas: unknown police area ids {', '.join(map(repr, unknown))} (see GET /areas)")
    return tuple(dict.fromkeys(value))


def _localized(value: Any, field: str, problems: list[str], *, required: bool) -> Localized | None:
    if value is None and not required:
        return None
    if not isinstance(value, dict) or set(value) != {"en", "hi"}:
        problems.append(f'{field} must be {{"en": "...", "hi": "..."}}' + ("" if required else " or left out"))
        return None
    en = _text(value["en"], f"{field}.en", problems, field)
    hi = _text(value["hi"], f"{field}.hi", problems, field)
    return Localized(en=en, hi=hi) if en and hi else None


def _body_of(details: WantedDetails) -> dict[str, Any]:
    def plain(value: Localized | None) -> dict[str, str] | None:
        return {"en": value.en, "hi": value.hi} if value else None

    return {
        "name": details.name,
        "aliases": list(details.aliases),
        "areas": list(details.areas),
        "crime": plain(details.crime),
        "description": plain(details.description),
        "reward": plain(details.reward),
        "caution": plain(details.caution),
    }


# --- the public -----------------------------------------------------------------------------------------------------


def public_list(params: Mapping[str, str]) -> dict[str, Any]:
    """Active notices, newest first, optionally of one area."""
    unknown = set(params) - {"area_id"}
    if unknown:
        raise InvalidRequestError(f"unknown parameters: {', '.join(sorted(unknown))}")
    area_id = params.get("area_id")
    if area_id is not None and areas.find_area(area_id) is None:
        raise InvalidRequestError(f"area_id {area_id!r} is not a police area (see GET /areas)")
    notices = store.list_active(MAX_PUBLIC_LIST)
    if area_id is not None:
        notices = [notice for notice in notices if area_id in notice.details.areas]
    return {"notices": [notice_view(notice) for notice in notices]}


def public_notice(wanted_id: str) -> dict[str, Any]:
    """An active notice in full; a closed one only says that it is closed (a withdrawn notice may have named the
    wrong person: its details must not stay public)."""
    notice = _existing(wanted_id)
    if notice.status is not WantedStatus.ACTIVE:
        return {"id": notice.wanted_id, "number": display_number(notice.number), "status": str(notice.status)}
    return notice_view(notice)


def notice_for(principal: Principal, wanted_id: str) -> dict[str, Any]:
    """A supervisor's view: the full notice, whatever its status, and the state of the photo upload."""
    if not access.sees_all_areas(principal):
        return public_notice(wanted_id)
    return supervisor_view(_existing(wanted_id))


def notice_view(notice: WantedNotice) -> dict[str, Any]:
    """What anyone may read: never who wrote it, never the upload."""
    listed = notice.status is WantedStatus.ACTIVE
    return {
        "id": notice.wanted_id,
        "number": display_number(notice.number),
        "status": str(notice.status),
        **_body_of(notice.details),
        "photo_url": _public_url(notice.photo_key) if listed else None,
        "thumbnail_url": _public_url(notice.thumbnail_key) if listed else None,
        "created_at": notice.created_at.isoformat(),
    }


def supervisor_view(notice: WantedNotice) -> dict[str, Any]:
    from shared import social  # it builds on this module

    return {
        **notice_view(notice),
        "photo_status": str(notice.photo_status),
        "photo_problem": notice.photo_problem,
        "social_posts": social.posts_of(notice.wanted_id),
    }


def _public_url(key: str | None) -> str | None:
    return f"{config.get_url('PUBLIC_MEDIA_BASE_URL')}/{key}" if key else None


# --- citizens quoting a notice ----------------------------------------------------------------------------------------


def quoted_notice(text: str | None) -> str | None:
    """The id of the active or closed notice whose number a message quotes (the first that exists), or None."""
    if not text:
        return None
    for match in list(NUMBER_IN_TEXT.finditer(text))[:_MAX_QUOTES_LOOKED_UP]:
        notice = store.find_by_number(int(match.group(1)))
        if notice is not None:
            return notice.wanted_id
    return None
