"""A wanted notice's posts on Facebook and X in the tips table: ``WANTED#<id>`` / ``SOCIAL#<platform>#<kind>``.

A post is claimed (a conditional write with a lease) before the platform is called and marked with the platform's
post id, or its refusal, after: SQS redelivering the event finds the post done and posts nothing. Neither Graph nor
X takes an idempotency key, so a poster that dies between the platform's answer and the mark leaves a claim that
lapses, and the retry posts again: the one window where a post can be doubled.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import GetError, QueryError, UpdateError

from shared.domain import SocialPost, SocialPostStatus
from shared.errors import StorageUnavailableError
from shared.storage import models
from shared.storage.models import SocialPostItem
from shared.storage.transactions import is_condition_failure

_PREFIX = "SOCIAL#"


def _keys(wanted_id: str, platform: str, kind: str) -> tuple[str, str]:
    return f"WANTED#{wanted_id}", f"{_PREFIX}{platform}#{kind}"


def claim(wanted_id: str, platform: str, kind: str, broadcast_id: str | None, now: int, lease_seconds: int) -> bool:
    """Take the post: neither posted nor refused yet, and nobody else's claim is running."""
    models.bind()
    pk, sk = _keys(wanted_id, platform, kind)
    free = (
        SocialPostItem.post_status.does_not_exist() | (SocialPostItem.post_status == str(SocialPostStatus.CLAIMED))
    ) & (SocialPostItem.claimed_until.does_not_exist() | (SocialPostItem.claimed_until < now))
    actions = [
        SocialPostItem.platform.set(platform),
        SocialPostItem.kind.set(kind),
        SocialPostItem.post_status.set(str(SocialPostStatus.CLAIMED)),
        SocialPostItem.claimed_until.set(now + lease_seconds),
    ]
    if broadcast_id:
        actions.append(SocialPostItem.broadcast_id.set(broadcast_id))
    try:
        SocialPostItem(pk=pk, sk=sk).update(actions=actions, condition=free)
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not claim the social post") from error
    return True


def mark_posted(wanted_id: str, platform: str, kind: str, post_id: str, at: datetime) -> None:
    _finish(
        wanted_id,
        platform,
        kind,
        [
            SocialPostItem.post_status.set(str(SocialPostStatus.POSTED)),
            SocialPostItem.post_id.set(post_id),
            SocialPostItem.posted_at.set(at),
            SocialPostItem.problem.remove(),
        ],
    )


def mark_failed(wanted_id: str, platform: str, kind: str, problem: str, at: datetime) -> None:
    _finish(
        wanted_id,
        platform,
        kind,
        [
            SocialPostItem.post_status.set(str(SocialPostStatus.FAILED)),
            SocialPostItem.problem.set(problem[:300]),
            SocialPostItem.posted_at.set(at),
        ],
    )


def release(wanted_id: str, platform: str, kind: str, problem: str) -> None:
    """Give a claim back after a transient failure: the queue's retry may take it at once."""
    models.bind()
    pk, sk = _keys(wanted_id, platform, kind)
    try:
        SocialPostItem(pk=pk, sk=sk).update(
            actions=[SocialPostItem.claimed_until.remove(), SocialPostItem.problem.set(problem[:300])],
            condition=SocialPostItem.post_status == str(SocialPostStatus.CLAIMED),
        )
    except UpdateError as error:
        if not is_condition_failure(error):
            raise StorageUnavailableError("could not release the social post") from error


def _finish(wanted_id: str, platform: str, kind: str, actions: list) -> None:
    models.bind()
    pk, sk = _keys(wanted_id, platform, kind)
    try:
        SocialPostItem(pk=pk, sk=sk).update(actions=[*actions, SocialPostItem.claimed_until.remove()])
    except UpdateError as error:
        raise StorageUnavailableError("could not record the social post") from error


def get(wanted_id: str, platform: str, kind: str) -> SocialPost | None:
    models.bind()
    pk, sk = _keys(wanted_id, platform, kind)
    try:
        item = SocialPostItem.get(pk, sk, consistent_read=True)
    except SocialPostItem.DoesNotExist:
        return None
    except GetError as error:
        raise StorageUnavailableError("could not read the social post") from error
    return _post(wanted_id, item)


def list_for(wanted_id: str) -> list[SocialPost]:
    """Every post of the notice (a few: two platforms, two kinds)."""
    models.bind()
    pk, _ = _keys(wanted_id, "", "")
    try:
        items = SocialPostItem.query(pk, SocialPostItem.sk.startswith(_PREFIX), consistent_read=True)
        return [_post(wanted_id, item) for item in items]
    except QueryError as error:
        raise StorageUnavailableError("could not read the social posts") from error


def _post(wanted_id: str, item: SocialPostItem) -> SocialPost:
    return SocialPost(
        wanted_id=wanted_id,
        platform=item.platform,
        kind=item.kind,
        status=SocialPostStatus(item.post_status),
        post_id=item.post_id,
        problem=item.problem,
        broadcast_id=item.broadcast_id,
        posted_at=item.posted_at,
        claimed_until=int(item.claimed_until) if item.claimed_until is not None else None,
    )
