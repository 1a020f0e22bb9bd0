"""Citizens subscribe to their police area's alerts, prove the number is theirs, move, and leave.

- A sign-up names a number (SMS alerts) or an email address, one police area and a language. Each number and each
  address has one home area, so a broadcast to several areas reaches nobody twice: a verified sign-up for another
  area moves it. The move happens only once the new sign-up is verified, so nobody can move or end someone else's
  alerts by typing in their number.
- A number is verified by a one-time code sent by SMS (stored keyed-hashed, valid 10 minutes, 5 attempts), or by
  writing from it (SUBSCRIBE on WhatsApp or by SMS); an address by SNS's own confirmation link.
- An active subscription is an SNS subscription on its area's topic for its language and channel
  (shared/aws/alert_topics.py). Sampark keeps the number or address only sealed (KMS) and as a keyed hash.
- Leaving (the sign-up's token, STOP by SMS or WhatsApp, SNS's unsubscribe link) ends the subscription and puts
  the number or address on the opt-out list; only a fresh verified sign-up takes it off.
- Every sign-up, verification, move and withdrawal is written to the consent record with its time and channel,
  in the same transaction as the change itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared import access, areas, clock, config, phones, privacy, sms
from shared.aws import alert_topics
from shared.domain import ConsentEvent, Subscription, SubscriptionStatus
from shared.errors import (
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    ReplyUnavailableError,
    StorageUnavailableError,
    TooManyRequestsError,
    VerificationExpiredError,
    VerificationFailedError,
)
from shared.observability import count, logger
from shared.storage import subscriptions as store
from shared.tokens import Principal

PHONE, EMAIL = "phone", "email"
LANGUAGES = alert_topics.LANGUAGES
_FIELDS = frozenset({"phone", "email", "areas", "language"})
_ACTIVATION_ATTEMPTS = 3
# Deliberately simple: one @, a dot in the domain, no spaces. SNS's confirmation mail is the real check.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_EMAIL_MAX = 254  # RFC 5321's limit on a path
_CODE = re.compile(r"[0-9]{4,8}")
_CODE_DIGITS = 6


@dataclass(frozen=True, kw_only=True)
class SignUp:
    contact_kind: str
    contact: str  # E.164 number or lower-case address; never stored or logged in clear
    area_id: str
    language: str


# --- signing up --------------------------------------------------------------------------------------------------


def sign_up(body: Any, source_address: str) -> dict[str, str]:
    """POST /subscriptions: a pending sign-up; a number gets its one-time code by SMS, an address SNS's mail."""
    request = parse_sign_up(body)
    _limit(f"address:{source_address}", "SIGNUPS_PER_MINUTE", 60, "too many sign-ups from this network; wait a minute")
    contact_hash = privacy.contact_hash(request.contact_kind, request.contact)
    _limit(f"codes:{contact_hash}", "SIGNUP_CODES_PER_HOUR", 3600, "too many codes for this number or address")
    token = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**_CODE_DIGITS):0{_CODE_DIGITS}d}" if request.contact_kind == PHONE else None
    subscription = _new_subscription(request, contact_hash, token, code, source="web")
    store.create(subscription, _consent("signed_up", "web", subscription))
    if code is not None:
        _send_code(request.contact, code)
    else:
        _subscribe_email(subscription, request)
    count("SignUps")
    logger.info("sign-up", extra={"subscription_id": subscription.subscription_id, "kind": request.contact_kind})
    return {"id": subscription.subscription_id, "status": str(SubscriptionStatus.PENDING), "token": token}


def _subscribe_email(subscription: Subscription, request: SignUp) -> None:
    """Ask SNS to mail its confirmation link; remember the subscription it made, unless it was confirmed already.

    SNS answers a Subscribe for an address already confirmed on the topic with that subscription's ARN. Such a
    sign-up is never tied to it, so nobody can take over, or end, someone else's email alerts by signing their
    address up again; it stays pending and lapses (the answer is the same, so it tells nothing either).
    """
    arn = _sns(alert_topics.subscribe, request.area_id, request.language, "email", request.contact)
    if _sns(alert_topics.state, arn) == "confirmed":
        count("SignUpsAlreadySubscribed")
        return
    store.set_sns_subscription(subscription.subscription_id, arn)


def parse_sign_up(body: Any) -> SignUp:
    """The sign-up in a request body; InvalidRequestError names every problem at once."""
    if not isinstance(body, dict):
        raise InvalidRequestError('the body must be an object: {"phone" or "email", "areas", "language"}')
    problems = [f"unknown field {name!r}" for name in sorted(set(body) - _FIELDS)]
    kind, contact = _contact(body, problems)
    area_id = _area(body.get("areas"), problems)
    language = body.get("language")
    if language not in LANGUAGES:
        problems.append(f"language must be one of {', '.join(map(repr, LANGUAGES))}")
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return SignUp(contact_kind=kind, contact=contact, area_id=area_id, language=language)


def _contact(body: Mapping[str, Any], problems: list[str]) -> tuple[str, str]:
    if ("phone" in body) == ("email" in body):
        problems.append('give either "phone" (an Indian mobile number) or "email", not both')
        return "", ""
    if "phone" in body:
        try:
            return PHONE, phones.indian_mobile_e164(body["phone"])
        except InvalidRequestError as error:
            problems.append(str(error))
            return PHONE, ""
    address = body["email"]
    if not isinstance(address, str) or len(address) > _EMAIL_MAX or not _EMAIL.fullmatch(address.strip()):
        problems.append("email must be an email address, e.g. name@example.com")
        return EMAIL, ""
    return EMAIL, address.strip().lower()


def _area(value: Any, problems: list[str]) -> str:
    """One police area: a number or address has one home area, so a broadcast never reaches it twice."""
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
        problems.append("areas must list exactly one police area id (see GET /areas): one home area per subscriber")
        return ""
    if areas.find_area(value[0]) is None:
        problems.append(f"areas: unknown police area id {value[0]!r} (see GET /areas)")
        return ""
    return value[0]


def _limit(key: str, setting: str, window_seconds: int, message: str) -> None:
    """Count this request in its fixed window (keyed hash: an address or number is personal data)."""
    window_start = int(clock.now().timestamp()) // window_seconds * window_seconds
    seen = store.count_in_window(privacy.contact_hash("limit", key), window_start, window_seconds)
    if seen > config.get_int(setting):
        count("SignUpsLimited")
        raise TooManyRequestsError(message)


def _new_subscription(request: SignUp, contact_hash: str, token: str, code: str | None, *, source: str) -> Subscription:
    subscription_id = str(uuid.uuid4())
    now = clock.now()
    return Subscription(
        subscription_id=subscription_id,
        contact_kind=request.contact_kind,
        contact_hash=contact_hash,
        sealed_contact=privacy.seal_contact(request.contact),
        area_id=request.area_id,
        language=request.language,
        source=source,
        status=SubscriptionStatus.PENDING,
        token_hash=_token_hash(token),
        created_at=now,
        code_hash=privacy.code_digest(subscription_id, code) if code else None,
        code_expires_at=int(now.timestamp()) + config.get_int("CODE_VALID_SECONDS") if code else None,
    )


def _send_code(phone: str, code: str) -> None:
    """The one-time code by SMS, through the DLT module (its OTP template: the code is its only long number)."""
    try:
        sms.send(phone, "otp", {"code": code})
    except ClientError:
        raise ReplyUnavailableError("the code could not be sent; try again in a minute") from None  # SNS may quote it


# --- verifying ---------------------------------------------------------------------------------------------------


def verify(subscription_id: str, body: Any) -> dict[str, str]:
    """POST /subscriptions/{id}/verify: the right code within 10 minutes and 5 attempts makes it active."""
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not _CODE.fullmatch(code.strip()):
        raise InvalidRequestError('send {"code": "…"}: the 4 to 8 digits of the SMS')
    subscription = _existing(subscription_id)
    if subscription.status is SubscriptionStatus.ACTIVE:
        _finish_move(subscription)  # a retry after a crash: finish what the first call left
        return {"id": subscription.subscription_id, "status": str(SubscriptionStatus.ACTIVE)}  # no code was checked
    if subscription.contact_kind == EMAIL:
        raise InvalidRequestError("an email subscription is confirmed by the link in SNS's email, not by a code")
    _check_code_usable(subscription)
    if not store.count_attempt(subscription_id, config.get_int("CODE_MAX_ATTEMPTS")):
        raise TooManyRequestsError("too many wrong codes: sign up again for a new code")
    if not hmac.compare_digest(privacy.code_digest(subscription_id, code.strip()), subscription.code_hash or ""):
        count("WrongCodes")
        left = config.get_int("CODE_MAX_ATTEMPTS") - subscription.code_attempts - 1
        raise VerificationFailedError(f"the code is not right; {max(left, 0)} attempts left")
    activate(subscription, via="web")
    return _status(subscription, SubscriptionStatus.ACTIVE)


def _check_code_usable(subscription: Subscription) -> None:
    if subscription.status is SubscriptionStatus.ENDED or subscription.code_expires_at is None:
        raise VerificationExpiredError("this sign-up has ended: sign up again")
    if int(clock.now().timestamp()) > subscription.code_expires_at:
        raise VerificationExpiredError("the code has expired (10 minutes): sign up again for a new one")
    left_at = store.opted_out_at(subscription.contact_hash)
    if left_at is not None and left_at >= subscription.created_at:
        # The number left after this code was sent: only a new sign-up, with a new code, brings it back.
        raise VerificationExpiredError("this number left the alerts after this code was sent: sign up again")


def activate(subscription: Subscription, *, via: str) -> None:
    """Subscribe on SNS, then make it the contact's home in one transaction; the previous home is then removed."""
    arn = subscription.sns_subscription_arn
    if subscription.contact_kind == PHONE:
        phone = privacy.open_contact(subscription.sealed_contact)
        arn = _sns(alert_topics.subscribe, subscription.area_id, subscription.language, "sms", phone)
    if arn is None:
        raise StorageUnavailableError("the email sign-up has no SNS subscription")
    for _ in range(_ACTIVATION_ATTEMPTS):
        previous = _home(subscription.contact_hash, except_id=subscription.subscription_id)
        events = [_consent("verified", via, subscription)]
        if previous is not None:
            events.append(_consent("moved", via, previous))
        try:
            store.activate(subscription, arn, previous, events, clock.now())
        except store.SubscriptionChangedError as error:
            if error.operation == "opt-out":  # STOP arrived after this sign-up began: its code no longer counts
                _settle_lost_activation(subscription, arn)
                raise VerificationExpiredError(
                    "this number left the alerts after this code was sent: sign up again"
                ) from None
            current = store.get(subscription.subscription_id)
            if current is None or current.status is SubscriptionStatus.PENDING:
                continue  # the contact's home changed meanwhile: read it again
            _settle_lost_activation(current, arn)
            return
        count("SubscriptionsActivated")
        if previous is not None:
            _remove_from_sns(previous)
        return
    raise StorageUnavailableError("the subscription kept changing; try again")


def _settle_lost_activation(current: Subscription, arn: str) -> None:
    """The sign-up was not activated here: finish a parallel activation's move, or take back our SNS subscription."""
    if current.status is SubscriptionStatus.ACTIVE:
        _finish_move(current)
        return
    home = _home(current.contact_hash, except_id=current.subscription_id)
    if home is None or home.sns_subscription_arn != arn:  # the same number on the same topic shares one ARN
        _sns(alert_topics.unsubscribe, arn)


def _home(contact_hash: str, *, except_id: str) -> Subscription | None:
    home_id = store.home_of(contact_hash)
    return store.get(home_id) if home_id and home_id != except_id else None


def _finish_move(subscription: Subscription) -> None:
    """Remove the moved-from subscription from SNS if a crash left it there (it would get alerts twice)."""
    current = store.get(subscription.subscription_id)
    replaced = store.get(current.replaces_id) if current and current.replaces_id else None
    if replaced is not None and replaced.status is SubscriptionStatus.ENDED:
        _remove_from_sns(replaced)


def _remove_from_sns(subscription: Subscription) -> None:
    """Unsubscribe an ended subscription on SNS, unless its ARN is the contact's home's too: SNS answers a
    Subscribe of the same number to the same topic with the same subscription (a verified re-sign-up)."""
    arn = subscription.sns_subscription_arn
    if not arn:
        return
    home = _home(subscription.contact_hash, except_id=subscription.subscription_id)
    if home is None or home.sns_subscription_arn != arn:
        _sns(alert_topics.unsubscribe, arn)
    store.forget_sns_subscription(subscription.subscription_id)


# --- leaving -----------------------------------------------------------------------------------------------------


def leave(subscription_id: str, token: Any) -> dict[str, str]:
    """DELETE /subscriptions/{id}: with the sign-up's token, the subscription ends and the contact opts out."""
    subscription = _with_token(subscription_id, token)
    # Only a verified subscription opts its number or address out: anyone can start a sign-up with someone else's
    # number and hold its token, and must not be able to silence that number with it.
    verified = subscription.status is SubscriptionStatus.ACTIVE
    end(subscription, reason="left" if verified else "cancelled", via="web", opt_out=verified)
    return _status(subscription, SubscriptionStatus.ENDED)


def status(subscription_id: str, token: Any) -> dict[str, str]:
    """GET /subscriptions/{id}: the sign-up's state for its owner (never the number or address)."""
    subscription = _with_token(subscription_id, token)
    return _status(subscription, subscription.status)


def end(subscription: Subscription, *, reason: str, via: str, opt_out: bool = True) -> None:
    """End a sign-up; SNS stops delivering to it; with ``opt_out`` the contact goes on the opt-out list."""
    if subscription.status is SubscriptionStatus.ENDED:
        _remove_from_sns(subscription)  # a retry: make sure SNS forgot it too
        return
    event = "withdrawn" if opt_out else ("cancelled" if reason == "cancelled" else "lapsed")
    try:
        store.end(
            subscription,
            reason,
            [_consent(event, via, subscription)],
            clock.now(),
            opt_out_channel=via if opt_out else None,
        )
    except store.SubscriptionChangedError:
        current = store.get(subscription.subscription_id)
        if current is None or current == subscription:
            raise StorageUnavailableError("the subscription could not be ended; try again") from None
        return end(current, reason=reason, via=via, opt_out=opt_out)
    _remove_from_sns(subscription)
    count("SubscriptionsEnded")


def opt_out_contact(contact_kind: str, contact: str, *, via: str) -> bool:
    """STOP from a number (SMS, WhatsApp): its subscription ends and it goes on the opt-out list. Whether it had one."""
    contact_hash = privacy.contact_hash(contact_kind, contact)
    home_id = store.home_of(contact_hash)
    home = store.get(home_id) if home_id else None
    if home is not None and home.status is not SubscriptionStatus.ENDED:
        end(home, reason="stopped", via=via)
        return True
    store.opt_out(
        contact_hash,
        via,
        ConsentEvent(
            event="opted_out", channel=via, contact_hash=contact_hash, contact_kind=contact_kind, at=clock.now()
        ),
    )
    return False


def subscribe_from_chat(phone: str, area_text: str, language: str, *, via: str) -> areas.Area | None:
    """SUBSCRIBE <area> written from the number itself: that proves it is theirs, no code needed. The area or None."""
    area = areas.find_area_by_name(area_text)
    if area is None:
        return None
    request = SignUp(contact_kind=PHONE, contact=phone, area_id=area.id, language=language)
    contact_hash = privacy.contact_hash(PHONE, phone)
    subscription = _new_subscription(request, contact_hash, secrets.token_urlsafe(24), None, source=via)
    store.create(subscription, _consent("signed_up", via, subscription))
    activate(subscription, via=via)
    return area


# --- email: SNS's confirmation and unsubscribe links -------------------------------------------------------------


def sync_with_sns() -> dict[str, int]:
    """Scheduled: activate email sign-ups SNS has confirmed, end those whose unsubscribe link was used, and remove
    from SNS what ended subscriptions may have left there (a failed Unsubscribe, a crash)."""
    outcome = {"activated": 0, "lapsed": 0, "unsubscribed": 0, "cleaned": 0}
    for subscription in _in_sns_state(store.SNS_PENDING):
        sns_state = _sns(alert_topics.state, subscription.sns_subscription_arn)
        if sns_state == "confirmed":
            activate(subscription, via="email")
            outcome["activated"] += 1
        elif sns_state == "gone":  # never confirmed: SNS deletes it after 48 hours
            end(subscription, reason="unconfirmed", via="email", opt_out=False)
            outcome["lapsed"] += 1
    confirmed: dict[tuple[str, str], set[str]] = {}
    for subscription in _in_sns_state(store.SNS_ACTIVE):
        topic = (subscription.area_id, subscription.language)
        if topic not in confirmed:
            confirmed[topic] = _sns(alert_topics.confirmed_subscriptions, *topic, "email")
        arn = subscription.sns_subscription_arn
        # Missing from the listing, and SNS confirms it is gone: the unsubscribe link in an alert was used.
        if arn not in confirmed[topic] and (arn is None or _sns(alert_topics.state, arn) == "gone"):
            end(subscription, reason="unsubscribed", via="email")
            outcome["unsubscribed"] += 1
    for subscription in _in_sns_state(store.SNS_CLEANUP):
        _remove_from_sns(subscription)
        outcome["cleaned"] += 1
    logger.info("subscriptions synchronised with SNS", extra=outcome)
    return outcome


def _in_sns_state(state: str) -> list[Subscription]:
    found = (store.get(subscription_id) for subscription_id in store.ids_in_sns_state(state))
    return [subscription for subscription in found if subscription is not None]


# --- statistics --------------------------------------------------------------------------------------------------


def statistics(principal: Principal) -> dict[str, Any]:
    """GET /subscriptions/stats (supervisors): active subscriptions per area, language and channel; no identifiers."""
    access.require_supervisor(principal)
    rows = sorted(store.counts(), key=lambda c: (c.area_id, c.language, c.channel))
    return {
        "active": sum(row.active for row in rows),
        "by_channel": {
            channel: sum(r.active for r in rows if r.channel == channel) for channel in alert_topics.CHANNELS
        },
        "by_language": {language: sum(r.active for r in rows if r.language == language) for language in LANGUAGES},
        "counts": [
            {"area_id": r.area_id, "language": r.language, "channel": r.channel, "active": r.active} for r in rows
        ],
    }


# --- helpers -----------------------------------------------------------------------------------------------------


def _existing(subscription_id: str) -> Subscription:
    subscription = store.get(subscription_id) if _is_uuid(subscription_id) else None
    if subscription is None:
        raise NotFoundError("no such subscription")
    return subscription


def _with_token(subscription_id: str, token: Any) -> Subscription:
    subscription = _existing(subscription_id)
    if not isinstance(token, str) or not hmac.compare_digest(_token_hash(token), subscription.token_hash):
        raise ForbiddenError("the token does not belong to this subscription (it was given at sign-up)")
    return subscription


def _token_hash(token: str) -> str:
    # The token is 192 random bits: a plain hash is enough to make a copy of the table useless.
    return hashlib.sha256(token.encode()).hexdigest()


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _status(subscription: Subscription, state: SubscriptionStatus) -> dict[str, str]:
    return {
        "id": subscription.subscription_id,
        "status": str(state),
        "channel": subscription.channel,
        "area_id": subscription.area_id,
        "language": subscription.language,
    }


def _consent(event: str, via: str, subscription: Subscription) -> ConsentEvent:
    return ConsentEvent(
        event=event,
        channel=via,
        contact_hash=subscription.contact_hash,
        contact_kind=subscription.contact_kind,
        at=clock.now(),
        subscription_id=subscription.subscription_id,
        area_id=subscription.area_id,
        language=subscription.language,
    )


def _sns(call, *args):
    """An SNS call whose failure is temporary for the caller (503), with nothing personal in the error."""
    try:
        return call(*args)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "unknown")
        logger.error("SNS refused a subscription call", extra={"code": code, "call": call.__name__})
        raise ReplyUnavailableError("the alert service is unavailable; try again") from None
