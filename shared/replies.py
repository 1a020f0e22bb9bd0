"""Use case: acknowledge a tip once, on the channel it came from."""

from __future__ import annotations

from shared import channels, clock, privacy, texts
from shared.domain import AckStatus, Channel
from shared.errors import ReplyRejectedError, ReplyUnavailableError
from shared.observability import count, logger
from shared.storage import tips

# Shorter than the replies queue's visibility timeout, so that a crashed sender's retry finds the claim lapsed.
_CLAIM_LEASE_SECONDS = 60


def send_acknowledgement(tip_id: str) -> str:
    """Send the tip's reference to its sender unless that was done; transient failures raise to be retried."""
    tip = tips.get_tip_for_reply(tip_id)
    if tip is None:
        logger.warning("acknowledgement for an unknown tip", extra={"tip_id": tip_id})
        return "unknown_tip"
    if tip.ack_status in (AckStatus.SENT, AckStatus.FAILED):
        return f"already_{tip.ack_status}"
    # The claim stops two copies of the job (a redelivery's follow-ups, an SQS retry) from both sending.
    if not tips.claim_ack(tip_id, clock.now(), _CLAIM_LEASE_SECONDS):
        return "claimed_elsewhere"
    address = privacy.open_reply_address(tip.reply_handle)
    try:
        _sender(tip.channel)(address, texts.acknowledgement_for(tip.reference, public=address.public))
    except ReplyUnavailableError:
        tips.set_ack_status(tip_id, AckStatus.PENDING, clock.now())  # release the claim for the retry
        raise
    except ReplyRejectedError as error:
        tips.set_ack_status(tip_id, AckStatus.FAILED, clock.now())
        count("ReplyFailures")
        logger.warning("acknowledgement refused by the platform", extra={"tip_id": tip_id, "reason": str(error)})
        return "rejected"
    tips.set_ack_status(tip_id, AckStatus.SENT, clock.now())
    count("RepliesSent")
    return "sent"


def _sender(channel: Channel):
    return channels.adapter(channel).send_text
