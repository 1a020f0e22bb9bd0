"""Wanted notices on the police Facebook Page and X account, driven by broadcast events (shared/aws/events.py).

- ``broadcast_sent``: the notice goes out once per platform, whatever the number of broadcasts or redeliveries:
  Facebook gets the photo with a Hindi and English caption (a text post while the notice has no published photo),
  X a short English tweet with the notice's number (no media upload: the tweet has no photo).
- ``notice_captured``: where a notice's post exists, a "captured" follow-up (Facebook: a new Page post; X: a reply to
  the notice's tweet, so the thread tells the whole story).

A template broadcast (not a notice) posts nothing: alert templates are DLT texts for SMS, not public posts.
Each post is claimed before the platform is called and recorded with its id or its refusal (shared/storage/
social_posts.py). A transient failure (5xx, 429, throttling, no answer) raises, so SQS redelivers the event; a
refusal is recorded as failed and not retried. A platform whose account settings are missing is skipped (logged).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared import clock, wanted
from shared.aws import events
from shared.channels import facebook_page, x
from shared.domain import SocialPost, SocialPostStatus, WantedNotice, WantedStatus
from shared.errors import SocialPostRejectedError, SocialPostUnavailableError
from shared.observability import count, logger
from shared.storage import social_posts as store
from shared.storage import wanted as notices

FACEBOOK = "facebook"
X = "x"
PLATFORMS = (FACEBOOK, X)
NOTICE = "notice"
CAPTURED = "captured"
# Longer than post_to_social's timeout (60 s), shorter than the social-posts queue's visibility timeout (360 s):
# the redelivery of a poster that died finds its claim lapsed.
LEASE_SECONDS = 120
ELLIPSIS = "…"


def handle(event: Any) -> dict[str, str]:
    """One broadcast event as the social-posts queue delivers it (raw): the outcome per platform."""
    kind = event.get("event") if isinstance(event, dict) else None
    wanted_id = event.get("wanted_id") if isinstance(event, dict) else None
    if not isinstance(wanted_id, str) or not wanted_id:
        logger.warning("broadcast event without a notice ignored", extra={"event": str(kind)[:40]})
        return {}
    if kind == events.BROADCAST_SENT:
        return post_notice(wanted_id, event.get("broadcast_id"))
    if kind == events.NOTICE_CAPTURED:
        return post_captured(wanted_id)
    logger.warning("unknown broadcast event ignored", extra={"event": str(kind)[:40]})
    return {}


def post_notice(wanted_id: str, broadcast_id: str | None = None) -> dict[str, str]:
    notice = notices.get(wanted_id)
    if notice is None or notice.status is not WantedStatus.ACTIVE:
        logger.info("the notice is no longer active: not posted", extra={"wanted_id": wanted_id})
        return {}
    photo_url = wanted.notice_view(notice)["photo_url"]
    text = notice_text(notice)

    def on_facebook() -> str:
        return facebook_page.post_photo(photo_url, text) if photo_url else facebook_page.post_text(text)

    return _post_each(
        notice, NOTICE, broadcast_id, {FACEBOOK: on_facebook, X: lambda: x.post_tweet(notice_tweet(notice))}
    )


def post_captured(wanted_id: str) -> dict[str, str]:
    notice = notices.get(wanted_id)
    if notice is None or notice.status is not WantedStatus.CAPTURED:
        return {}
    firsts = {p.platform: p for p in store.list_for(wanted_id) if p.kind == NOTICE}
    now = int(clock.now().timestamp())
    # A notice post under way right now (its claim's lease running) must come before its follow-up: that platform
    # waits (the event is retried once the others are done). One given back or lapsed will not be made any more
    # (the notice is captured): it holds nobody up.
    in_progress = [
        p.platform
        for p in firsts.values()
        if p.status is SocialPostStatus.CLAIMED and p.claimed_until is not None and p.claimed_until >= now
    ]
    posted = {platform: p for platform, p in firsts.items() if p.status is SocialPostStatus.POSTED}
    actions: dict[str, Callable[[], str]] = {}
    if FACEBOOK in posted:
        actions[FACEBOOK] = lambda: facebook_page.post_text(captured_text(notice))
    if X in posted:
        first_tweet = posted[X].post_id
        actions[X] = lambda: x.post_tweet(captured_tweet(notice), in_reply_to=first_tweet)
    broadcast_ids = {p.broadcast_id for p in posted.values()} - {None}
    outcomes = _post_each(notice, CAPTURED, next(iter(broadcast_ids), None), actions)
    if in_progress:
        waiting = ", ".join(in_progress)
        raise SocialPostUnavailableError(f"the notice's post on {waiting} is under way; its follow-up waits")
    return outcomes


def _post_each(
    notice: WantedNotice, kind: str, broadcast_id: str | None, actions: dict[str, Callable[[], str]]
) -> dict[str, str]:
    """Every platform is tried; if any failed transiently, the event is retried (posts made stay made)."""
    outcomes: dict[str, str] = {}
    transient: list[str] = []
    for platform, action in actions.items():
        if not _enabled(platform):
            logger.warning("social platform not configured: not posted", extra={"platform": platform})
            count("SocialPostsSkipped")
            outcomes[platform] = "not_configured"
            continue
        try:
            outcomes[platform] = _post_once(notice.wanted_id, platform, kind, broadcast_id, action)
        except SocialPostUnavailableError as error:
            transient.append(f"{platform}: {error}")
    if transient:
        raise SocialPostUnavailableError("; ".join(transient))
    return outcomes


def _enabled(platform: str) -> bool:
    return facebook_page.configured() if platform == FACEBOOK else x.posting_configured()


def _post_once(wanted_id: str, platform: str, kind: str, broadcast_id: str | None, action: Callable[[], str]) -> str:
    where = {"wanted_id": wanted_id, "platform": platform, "kind": kind}
    if not store.claim(wanted_id, platform, kind, broadcast_id, int(clock.now().timestamp()), LEASE_SECONDS):
        existing = store.get(wanted_id, platform, kind)
        if existing is not None and existing.status is not SocialPostStatus.CLAIMED:
            return f"already_{existing.status}"  # a redelivered event: posted (or refused) before
        raise SocialPostUnavailableError(f"the {platform} post is being made by another worker")
    try:
        post_id = action()
    except SocialPostRejectedError as error:
        store.mark_failed(wanted_id, platform, kind, str(error), clock.now())
        count("SocialPostsFailed")
        logger.warning("social post refused", extra={**where, "reason": str(error)})
        return "failed"
    except Exception as error:
        reason = str(error) if isinstance(error, SocialPostUnavailableError) else type(error).__name__
        store.release(wanted_id, platform, kind, reason)
        logger.warning("social post failed for now; it will be retried", extra={**where, "reason": reason})
        raise SocialPostUnavailableError(reason) from error
    store.mark_posted(wanted_id, platform, kind, post_id, clock.now())
    count("SocialPosts")
    logger.info("social post made", extra={**where, "post_id": post_id})
    return "posted"


# --- texts ----------------------------------------------------------------------------------------------------------


def notice_text(notice: WantedNotice) -> str:
    """The Facebook caption: the notice in Hindi, then English, with its number to quote."""
    number = wanted.display_number(notice.number)
    details = notice.details

    def lines(language: str) -> list[str]:
        def local(value: Any) -> str | None:
            return None if value is None else getattr(value, language)

        heading = f"वांछित {number}: {details.name}" if language == "hi" else f"Wanted {number}: {details.name}"
        closing = (
            f"जानकारी हो तो हमें संदेश भेजें और {number} लिखें। आपकी पहचान गोपनीय रहेगी। आपात स्थिति में 112 पर कॉल करें।"
            if language == "hi"
            else f"Seen this person? Message us quoting {number}. Your identity stays confidential. "
            "In an emergency, dial 112."
        )
        found = [local(details.crime), local(details.description), local(details.reward), local(details.caution)]
        return [heading, *[line for line in found if line], closing]

    aliases = [f"Aliases / उपनाम: {', '.join(details.aliases)}"] if details.aliases else []
    return "\n".join([*lines("hi"), *aliases, "", *lines("en")])


def notice_tweet(notice: WantedNotice) -> str:
    number = wanted.display_number(notice.number)
    return _fit_tweet(
        f"WANTED {number}: ",
        f"{notice.details.name}, {notice.details.crime.en}",
        (f". Seen this person? DM us quoting {number}. Emergency: 112."),
    )


def captured_text(notice: WantedNotice) -> str:
    number = wanted.display_number(notice.number)
    name = notice.details.name
    return (
        f"पकड़ा गया: वांछित {number}, {name}, अब पुलिस की गिरफ़्त में है। आपकी मदद के लिए धन्यवाद।\n\n"
        f"Captured: wanted {number}, {name}, is now in police custody. Thank you for your help."
    )


def captured_tweet(notice: WantedNotice) -> str:
    number = wanted.display_number(notice.number)
    return _fit_tweet(
        f"CAPTURED: {number}, ", notice.details.name, ", is now in police custody. Thank you for your help."
    )


def _fit_tweet(head: str, middle: str, tail: str) -> str:
    """Shorten the middle (name, crime) until the tweet fits X's 280 weighted characters."""
    budget = x.TWEET_MAX_WEIGHTED_LENGTH - x.weighted_length(head + tail)
    if x.weighted_length(middle) > budget:
        while middle and x.weighted_length(middle + ELLIPSIS) > budget:
            middle = middle[:-1]
        middle = middle.rstrip() + ELLIPSIS
    return head + middle + tail


# --- views ----------------------------------------------------------------------------------------------------------


def post_view(post: SocialPost) -> dict[str, Any]:
    return {
        "platform": post.platform,
        "kind": post.kind,
        "status": str(post.status),
        "post_id": post.post_id,
        "problem": post.problem,
        "broadcast_id": post.broadcast_id,
        "posted_at": post.posted_at.isoformat() if post.posted_at else None,
    }


def posts_of(wanted_id: str) -> list[dict[str, Any]]:
    """The notice's posts, notice posts first, then the captured follow-ups."""
    posts = sorted(store.list_for(wanted_id), key=lambda p: (p.kind != NOTICE, PLATFORMS.index(p.platform)))
    return [post_view(post) for post in posts]
