"""Subscriptions in the tips table: sign-ups, each number's or address's home, the opt-out list, consent, counts.

Every change of a subscription's state is one transaction with its consent line, its count and its home pointer,
so the statistics and the consent record can never disagree with the subscriptions themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, GetError, QueryError, UpdateError

from shared.domain import ConsentEvent, SubscriberCount, Subscription, SubscriptionStatus
from shared.errors import StorageUnavailableError
from shared.storage import models, senders
from shared.storage.models import (
    ConsentItem,
    ContactItem,
    OptOutItem,
    RateItem,
    SubscriberCountItem,
    SubscriptionItem,
)
from shared.storage.transactions import ConditionFailedError, commit, is_condition_failure

# Sign-ups never verified, and ended ones, disappear after this (SNS drops unconfirmed email after 48 hours);
# the consent record keeps what happened.
UNFINISHED_RETENTION = timedelta(days=7)
COUNTS_KEY = "SUBSCRIBERS"
# The states of the sparse index the scheduled sync reads (models.SnsSyncIndex).
SNS_PENDING, SNS_ACTIVE, SNS_CLEANUP = "pending", "active", "cleanup"

Operation = tuple[str, Callable]


class SubscriptionChangedError(Exception):
    """The subscription, its contact's home or its opt-out changed between the read and the write (``operation``
    names which condition failed)."""

    def __init__(self, operation: str) -> None:
        super().__init__(operation)
        self.operation = operation


def _pk(subscription_id: str) -> str:
    return f"SUBSCRIPTION#{subscription_id}"


def create(subscription: Subscription, consent: ConsentEvent) -> None:
    """A new pending sign-up and its consent line."""
    models.bind()
    item = _item(subscription)
    item.expires_at = subscription.created_at + UNFINISHED_RETENTION
    commit(
        [("subscription", lambda tx: tx.save(item, condition=SubscriptionItem.pk.does_not_exist())), _consent(consent)]
    )


def get(subscription_id: str) -> Subscription | None:
    models.bind()
    try:
        return _subscription(SubscriptionItem.get(_pk(subscription_id), "SUBSCRIPTION", consistent_read=True))
    except DoesNotExist:
        return None
    except GetError as error:
        raise StorageUnavailableError("could not read the subscription") from error


def home_of(contact_hash: str) -> str | None:
    """The id of the number's or address's home subscription (its one active area), if any."""
    models.bind()
    try:
        return ContactItem.get(f"CONTACT#{contact_hash}", "CONTACT", consistent_read=True).home_subscription_id
    except DoesNotExist:
        return None


def opted_out_at(contact_hash: str) -> datetime | None:
    """When the number or address went on the opt-out list, unless a later verified sign-up lifted it."""
    models.bind()
    try:
        item = OptOutItem.get(f"OPTOUT#{contact_hash}", "OPTOUT", consistent_read=True)
    except DoesNotExist:
        return None
    if item.opted_out_at is None or (item.lifted_at is not None and item.lifted_at > item.opted_out_at):
        return None
    return item.opted_out_at


def set_sns_subscription(subscription_id: str, arn: str) -> None:
    """Remember the SNS subscription an email sign-up created; the sync watches for SNS's confirmation."""
    models.bind()
    SubscriptionItem(pk=_pk(subscription_id)).update(
        actions=[SubscriptionItem.sns_subscription_arn.set(arn), SubscriptionItem.sns_state.set(SNS_PENDING)],
        condition=SubscriptionItem.subscription_status == str(SubscriptionStatus.PENDING),
    )


def forget_sns_subscription(subscription_id: str) -> None:
    """The ended subscription's SNS subscription was removed: nothing is left for the sync to clean up."""
    models.bind()
    SubscriptionItem(pk=_pk(subscription_id)).update(
        actions=[SubscriptionItem.sns_subscription_arn.remove(), SubscriptionItem.sns_state.remove()],
        condition=SubscriptionItem.subscription_status == str(SubscriptionStatus.ENDED),
    )


def count_attempt(subscription_id: str, max_attempts: int) -> bool:
    """Use one of the code's attempts; False when they are used up (the attempt is not counted then)."""
    models.bind()
    try:
        SubscriptionItem(pk=_pk(subscription_id)).update(
            actions=[SubscriptionItem.code_attempts.add(1)],
            condition=(SubscriptionItem.code_attempts < max_attempts)
            & (SubscriptionItem.subscription_status == str(SubscriptionStatus.PENDING)),
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise StorageUnavailableError("could not count the attempt") from error
    return True


def count_in_window(key: str, window_start: int, window_seconds: int) -> int:
    """How many times ``key`` (a keyed hash of an address or number) was counted in this window, this one included."""
    return senders.count_once(RateItem(pk=f"LIMIT#{key}", sk=f"WINDOW#{window_start}"), window_start, window_seconds)


def activate(
    subscription: Subscription,
    sns_subscription_arn: str,
    previous: Subscription | None,
    consent: list[ConsentEvent],
    at: datetime,
) -> None:
    """Make the pending sign-up the contact's home, active on its topic; the previous home ends ("moved").

    Conditions: the sign-up is still pending, the contact's home is still ``previous``, and the contact did not
    opt out after this sign-up began. A fresh verified sign-up lifts an earlier opt-out.
    """
    models.bind()
    actions = [
        SubscriptionItem.subscription_status.set(str(SubscriptionStatus.ACTIVE)),
        SubscriptionItem.sns_subscription_arn.set(sns_subscription_arn),
        SubscriptionItem.code_hash.remove(),
        SubscriptionItem.code_expires_at.remove(),
        SubscriptionItem.expires_at.remove(),
        SubscriptionItem.updated_at.set(at),
    ]
    if subscription.contact_kind == "email":
        actions.append(SubscriptionItem.sns_state.set(SNS_ACTIVE))
    if previous is not None:
        actions.append(SubscriptionItem.replaces_id.set(previous.subscription_id))
    pending = SubscriptionItem.subscription_status == str(SubscriptionStatus.PENDING)
    operations: list[Operation] = [
        ("subscription", lambda tx: tx.update(_ref(subscription), actions=actions, condition=pending)),
        _home(subscription.contact_hash, subscription.subscription_id, previous, at),
        _lift_opt_out(subscription, at),
        *[_consent(event) for event in consent],
    ]
    operations += _count_changes(added=subscription, removed=previous)
    if previous is not None:
        operations.append(_end_operation(previous, "moved", at))
    _commit(operations)


def end(
    subscription: Subscription,
    reason: str,
    consent: list[ConsentEvent],
    at: datetime,
    *,
    opt_out_channel: str | None,
) -> None:
    """End a pending or active sign-up (its count and the contact's home with it); opt the contact out if asked."""
    models.bind()
    operations: list[Operation] = [_end_operation(subscription, reason, at), *[_consent(e) for e in consent]]
    if subscription.status is SubscriptionStatus.ACTIVE:
        operations += _count_changes(added=None, removed=subscription)
        operations.append(_home(subscription.contact_hash, None, subscription, at))
    if opt_out_channel is not None:
        operations.append(_opt_out(subscription.contact_hash, opt_out_channel, at))
    _commit(operations)


def opt_out(contact_hash: str, channel: str, consent: ConsentEvent) -> None:
    """Put a number or address that has no home subscription on the opt-out list."""
    models.bind()
    _commit([_opt_out(contact_hash, channel, consent.at), _consent(consent)])


def consent_record(contact_hash: str) -> list[ConsentEvent]:
    """What happened to one number's or address's subscriptions, oldest first: the proof of consent."""
    models.bind()
    try:
        return [_event(item) for item in ConsentItem.query(f"CONSENT#{contact_hash}")]
    except QueryError as error:
        raise StorageUnavailableError("could not read the consent record") from error


def counts() -> list[SubscriberCount]:
    """Active subscriptions per area, language and channel (one partition: at most 4 items an area)."""
    models.bind()
    try:
        items = list(SubscriberCountItem.query(COUNTS_KEY))
    except QueryError as error:
        raise StorageUnavailableError("could not read the subscriber counts") from error
    return [
        SubscriberCount(area_id=i.area_id, language=i.language, channel=i.channel, active=int(i.active))
        for i in items
        if i.active
    ]


def ids_in_sns_state(state: str) -> list[str]:
    """Ids of subscriptions in an SNS sync state: pending or active emails, ended ones to clean up on SNS."""
    models.bind()
    try:
        keys = SubscriptionItem.by_sns_state.query(state)
        return [item.pk.removeprefix("SUBSCRIPTION#") for item in keys]
    except QueryError as error:
        raise StorageUnavailableError("could not list email subscriptions") from error


# --- operations --------------------------------------------------------------------------------------------------


def _commit(operations: list[Operation]) -> None:
    try:
        commit(operations)
    except ConditionFailedError as error:
        raise SubscriptionChangedError(error.operation) from error


def _ref(subscription: Subscription) -> SubscriptionItem:
    return SubscriptionItem(pk=_pk(subscription.subscription_id))


def _home(contact_hash: str, new_home: str | None, previous: Subscription | None, at: datetime) -> Operation:
    """Point the contact at ``new_home`` if its home is still ``previous``'s (or it has none)."""
    item = ContactItem(pk=f"CONTACT#{contact_hash}", home_subscription_id=new_home, updated_at=at)
    if previous is None:
        condition = ContactItem.pk.does_not_exist() | ContactItem.home_subscription_id.does_not_exist()
    else:
        condition = ContactItem.home_subscription_id == previous.subscription_id
    return "home", lambda tx: tx.save(item, condition=condition)


def _end_operation(subscription: Subscription, reason: str, at: datetime) -> Operation:
    actions = [
        SubscriptionItem.subscription_status.set(str(SubscriptionStatus.ENDED)),
        SubscriptionItem.ended_reason.set(reason),
        SubscriptionItem.code_hash.remove(),
        # Until its SNS subscription is known to be gone, the sync keeps removing it (a failed Unsubscribe, a crash).
        SubscriptionItem.sns_state.set(SNS_CLEANUP)
        if subscription.sns_subscription_arn
        else SubscriptionItem.sns_state.remove(),
        SubscriptionItem.expires_at.set(at + UNFINISHED_RETENTION),
        SubscriptionItem.updated_at.set(at),
    ]
    unchanged = SubscriptionItem.subscription_status == str(subscription.status)
    return f"end {reason}", lambda tx: tx.update(_ref(subscription), actions=actions, condition=unchanged)


def _count_changes(*, added: Subscription | None, removed: Subscription | None) -> list[Operation]:
    """+1 on the added one's count and -1 on the removed one's; nothing when both are the same count."""
    changes = {}
    if added is not None:
        changes[_count_key(added)] = (added, 1)
    if removed is not None:
        key = _count_key(removed)
        if key in changes:
            del changes[key]
        else:
            changes[key] = (removed, -1)
    return [_count_change(subscription, delta) for subscription, delta in changes.values()]


def _count_key(subscription: Subscription) -> str:
    return f"{subscription.area_id}#{subscription.language}#{subscription.channel}"


def _count_change(subscription: Subscription, delta: int) -> Operation:
    item = SubscriberCountItem(sk=_count_key(subscription))
    actions = [
        SubscriberCountItem.active.add(delta),
        SubscriberCountItem.area_id.set(subscription.area_id),
        SubscriberCountItem.language.set(subscription.language),
        SubscriberCountItem.channel.set(subscription.channel),
    ]
    return f"count {delta:+d}", lambda tx: tx.update(item, actions=actions)


def _opt_out(contact_hash: str, channel: str, at: datetime) -> Operation:
    item = OptOutItem(pk=f"OPTOUT#{contact_hash}")
    actions = [OptOutItem.opted_out_at.set(at), OptOutItem.channel.set(channel)]
    return "opt-out", lambda tx: tx.update(item, actions=actions)


def _lift_opt_out(subscription: Subscription, at: datetime) -> Operation:
    """Lift the contact's opt-out, unless it opted out after this sign-up began (a code sent before a STOP)."""
    item = OptOutItem(pk=f"OPTOUT#{subscription.contact_hash}")
    before_sign_up = OptOutItem.opted_out_at.does_not_exist() | (OptOutItem.opted_out_at < subscription.created_at)
    return "opt-out", lambda tx: tx.update(item, actions=[OptOutItem.lifted_at.set(at)], condition=before_sign_up)


def _consent(event: ConsentEvent) -> Operation:
    item = ConsentItem(
        pk=f"CONSENT#{event.contact_hash}",
        sk=f"{event.at.isoformat()}#{event.event}#{uuid.uuid4().hex[:8]}",
        event=event.event,
        channel=event.channel,
        subscription_id=event.subscription_id,
        contact_kind=event.contact_kind,
        area_id=event.area_id,
        language=event.language,
        at=event.at,
    )
    return f"consent {event.event}", lambda tx: tx.save(item, condition=ConsentItem.pk.does_not_exist())


# --- items -------------------------------------------------------------------------------------------------------


def _item(subscription: Subscription) -> SubscriptionItem:
    return SubscriptionItem(
        pk=_pk(subscription.subscription_id),
        subscription_id=subscription.subscription_id,
        contact_kind=subscription.contact_kind,
        contact_hash=subscription.contact_hash,
        sealed_contact=subscription.sealed_contact,
        area_id=subscription.area_id,
        language=subscription.language,
        source=subscription.source,
        subscription_status=str(subscription.status),
        token_hash=subscription.token_hash,
        code_hash=subscription.code_hash,
        code_expires_at=subscription.code_expires_at,
        code_attempts=subscription.code_attempts,
        sns_subscription_arn=subscription.sns_subscription_arn,
        created_at=subscription.created_at,
        updated_at=subscription.created_at,
    )


def _subscription(item: SubscriptionItem) -> Subscription:
    return Subscription(
        subscription_id=item.subscription_id,
        contact_kind=item.contact_kind,
        contact_hash=item.contact_hash,
        sealed_contact=item.sealed_contact,
        area_id=item.area_id,
        language=item.language,
        source=item.source,
        status=SubscriptionStatus(item.subscription_status),
        token_hash=item.token_hash,
        created_at=item.created_at,
        code_hash=item.code_hash,
        code_expires_at=int(item.code_expires_at) if item.code_expires_at is not None else None,
        code_attempts=int(item.code_attempts or 0),
        sns_subscription_arn=item.sns_subscription_arn,
        replaces_id=item.replaces_id,
    )


def _event(item: ConsentItem) -> ConsentEvent:
    return ConsentEvent(
        event=item.event,
        channel=item.channel,
        contact_hash=item.pk.removeprefix("CONSENT#"),
        contact_kind=item.contact_kind,
        at=item.at,
        subscription_id=item.subscription_id,
        area_id=item.area_id,
        language=item.language,
    )
