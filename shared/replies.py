"""Use cases of the reply sender: acknowledge a tip once, answer status queries, respect per-sender limits."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from shared import channels, clock, config, notices, privacy, texts
from shared.aws import queues
from shared.domain import AckStatus, Channel, FollowUpStatus, OutgoingReply, ReplyAddress
from shared.errors import ReplyDeferredError, ReplyRejectedError, ReplyUnavailableError
from shared.observability import count, logger
from shared.storage import casework, senders, tips

# Shorter than the replies queue's visibility timeout, so that a crashed sender's retry finds the claim lapsed.
_CLAIM_LEASE_SECONDS = 60


def send_reply(job: dict[str, Any]) -> str:
    """One job of the replies queue: a tip's acknowledgement, a status answer, an officer's question, or the
    new-tip notice to the tip's area."""
    kind = job.get("kind")
    if kind == "status":
        return answer_status_query(job)
    if kind == "followup":
        return send_followup(job["tip_id"], job["followup_id"])
    if kind == "new_tip_notice":
        return notices.publish_new_tip(job["tip_id"])
    if kind == "subscription_reply":
        return answer_subscription_command(job)
    return send_acknowledgement(job["tip_id"], job.get("sender_count"))


def send_acknowledgement(tip_id: str, sender_count: int | None = None) -> str:
    """Send the tip's reference to its sender unless that was done; transient failures raise to be retried."""
    tip = tips.get_tip_for_reply(tip_id)
    if tip is None:
        logger.warning("acknowledgement for an unknown tip", extra={"tip_id": tip_id})
        return "unknown_tip"
    if tip.ack_status not in (AckStatus.PENDING, AckStatus.SENDING):
        return f"already_{tip.ack_status}"
    # The claim stops two copies of the job (a redelivery's follow-ups, an SQS retry) from both sending.
    if not tips.claim_ack(tip_id, clock.now(), _CLAIM_LEASE_SECONDS):
        return "claimed_elsewhere"
    address = privacy.open_reply_address(tip.reply_handle)
    if _over_limit(tip.sender_pseudonym, tip.channel, sender_count):
        return _limit_instead_of_acknowledgement(tip_id, tip.sender_pseudonym, tip.channel, address)
    reply = texts.acknowledgement_for(tip.reference, public=address.public)
    outcome = _send(tip.channel, address, reply, tip_id)
    tips.set_ack_status(tip_id, _ACK_STATUS_BY_OUTCOME[outcome], clock.now())
    return outcome


def requeue_pending_acknowledgements(channel: Channel, since: datetime, *, dry_run: bool = False) -> list[str]:
    """Queue the acknowledgement of every tip of ``channel`` since ``since`` that is still pending (SMS replies wait,
    failing closed, until the DLT settings exist); the ids of those tips. Safe to repeat: a job finds an
    acknowledgement sent or claimed and sends nothing."""
    waiting = tips.tips_awaiting_acknowledgement(channel, since)
    if waiting and not dry_run:
        queues.enqueue("REPLIES_QUEUE_URL", [{"tip_id": tip_id} for tip_id in waiting])
        count("AcknowledgementsRequeued", len(waiting))
    return waiting


def answer_status_query(job: dict[str, Any]) -> str:
    """Tell the sender the status of their own tip; any other reference gets the same "not found"."""
    channel = Channel(job["channel"])
    address = privacy.open_reply_address(base64.b64decode(job["reply_handle"]))
    if _over_limit(job["sender_pseudonym"], channel, job.get("sender_count")):
        return "limited"
    outcome = _send(channel, address, texts.status_answer(job["reference"], job.get("status")), None)
    return outcome


def answer_subscription_command(job: dict[str, Any]) -> str:
    """Tell the citizen what their STOP or SUBSCRIBE did (recording.py did it)."""
    channel = Channel(job["channel"])
    address = privacy.open_reply_address(base64.b64decode(job["reply_handle"]))
    values = dict(job.get("values") or {})
    if job["purpose"] == "subscribe_link":
        values["link"] = config.get_optional("SUBSCRIBE_PAGE_URL") or ""
    return _send(channel, address, texts.subscription_reply(job["purpose"], values), None)


def send_followup(tip_id: str, followup_id: str) -> str:
    """Send an officer's question once; the platform's refusal (e.g. its window closed) is recorded on it."""
    followup = casework.get_followup(tip_id, followup_id)
    tip = tips.get_tip_for_reply(tip_id)
    if followup is None or tip is None:
        logger.warning("follow-up for an unknown tip or question", extra={"tip_id": tip_id})
        return "unknown_followup"
    if followup.status not in (FollowUpStatus.QUEUED, FollowUpStatus.SENDING):
        return f"already_{followup.status}"
    lease = casework.claim_followup(tip_id, followup_id, clock.now(), _CLAIM_LEASE_SECONDS)
    if lease is None:
        return "claimed_elsewhere"
    address = privacy.open_reply_address(tip.reply_handle)
    try:
        channels.adapter(tip.channel).send_reply(address, texts.followup(tip.reference, followup.text))
    except (ReplyRejectedError, ReplyDeferredError) as error:
        count("FollowUpFailures")
        logger.warning("follow-up refused", extra={"tip_id": tip_id, "reason": str(error)})
        casework.finish_followup(tip_id, followup_id, lease, FollowUpStatus.FAILED, clock.now(), str(error)[:300])
        return "rejected"
    except ReplyUnavailableError:
        casework.finish_followup(tip_id, followup_id, lease, FollowUpStatus.QUEUED, clock.now())  # release it
        raise
    casework.finish_followup(tip_id, followup_id, lease, FollowUpStatus.SENT, clock.now())
    count("FollowUpsSent")
    return "sent"


_ACK_STATUS_BY_OUTCOME = {"sent": AckStatus.SENT, "rejected": AckStatus.FAILED, "deferred": AckStatus.PENDING}


def _send(channel: Channel, address: ReplyAddress, reply: OutgoingReply, tip_id: str | None) -> str:
    """ "sent", "rejected" (for good) or "deferred" (channel cannot send yet); ReplyUnavailableError is retried."""
    try:
        channels.adapter(channel).send_reply(address, reply)
    except ReplyDeferredError:
        count("RepliesDeferred")
        return "deferred"
    except ReplyRejectedError as error:
        count("ReplyFailures")
        logger.warning("reply refused by the platform", extra={"tip_id": tip_id, "reason": str(error)})
        return "rejected"
    except ReplyUnavailableError:
        if tip_id is not None:
            tips.set_ack_status(tip_id, AckStatus.PENDING, clock.now())  # release the claim for the retry
        raise
    count("RepliesSent")
    return "sent"


def _window_start() -> int:
    window = config.get_int("SENDER_LIMIT_WINDOW_SECONDS")
    return int(clock.now().timestamp()) // window * window


def _over_limit(pseudonym: str, channel: Channel, sender_count: int | None) -> bool:
    """Whether the message that asked for this reply was over the limit (its count when it was recorded)."""
    if sender_count is None:  # follow-ups finished after a crash: judge by the window as it is now
        sender_count = senders.current_rate(pseudonym, channel, _window_start()).count
    return sender_count > config.get_int("SENDER_MESSAGE_LIMIT")


def _limit_instead_of_acknowledgement(tip_id: str, pseudonym: str, channel: Channel, address: ReplyAddress) -> str:
    """Over the limit: the tip is kept, unacknowledged; the sender hears about the limit once per window."""
    count("SendersLimited")
    notice_due = not address.public and senders.claim_limit_notice(
        pseudonym, channel, _window_start(), config.get_int("SENDER_LIMIT_WINDOW_SECONDS")
    )
    sent = notice_due and _send(channel, address, texts.limit_notice(), tip_id) == "sent"
    tips.set_ack_status(tip_id, AckStatus.LIMITED, clock.now())
    return "limit_notice_sent" if sent else "limited"
