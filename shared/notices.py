"""New-tip notices: the officers of an area hear that a tip arrived there, by email through an SNS topic per area.

A notice carries the reference and the area, nothing of the tip itself: email is not a place for informants' words.
Tips without an area go to the "unassigned" topic, which supervisors subscribe to.
"""

from __future__ import annotations

import contextlib

from botocore.exceptions import ClientError

from shared import areas, config
from shared.aws.clients import client
from shared.errors import ConfigurationError
from shared.observability import count, logger
from shared.storage import tips

UNASSIGNED = "unassigned"


def topic_arn(area_id: str | None) -> str:
    """NEW_TIP_TOPIC_PREFIX is an ARN up to the area, e.g. arn:aws:sns:ap-south-1:123456789012:sampark-new-tips-."""
    return config.get("NEW_TIP_TOPIC_PREFIX") + (area_id or UNASSIGNED)


def publish_new_tip(tip_id: str) -> str:
    """Tell the tip's area that it arrived; a missing topic is logged and counted (an alarm), not retried."""
    tip = tips.get_tip_for_reply(tip_id)
    if tip is None:
        return "unknown_tip"
    area = areas.find_area(tip.area_id) if tip.area_id else None
    where_en = f"{area.name_en} ({area.id})" if area else "no police area yet"
    where_hi = area.name_hi if area else "क्षेत्र तय नहीं"
    try:
        client("sns").publish(
            TopicArn=topic_arn(tip.area_id),
            Subject=f"Sampark: new tip {tip.reference}",
            Message=(
                f"नई सूचना {tip.reference} — {where_hi}\n"
                f"New tip {tip.reference} in {where_en}.\n\n"
                "Open it in Sampark. Do not forward this email: the tip's contents stay in Sampark."
            ),
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("NotFound", "NotFoundException"):
            raise
        count("NewTipNoticeFailures")
        logger.error("no new-tip topic for the area: run the area-topics step", extra={"area_id": tip.area_id})
        return "no_topic"
    count("NewTipNotices")
    return "notified"


def ensure_area_topics(sns=None) -> list[str]:
    """Create the topic of every area and the unassigned one (CreateTopic is idempotent); their ARNs."""
    sns = sns or client("sns")
    prefix = config.get("NEW_TIP_TOPIC_PREFIX")
    name_prefix = prefix.rsplit(":", 1)[1]
    attributes = {}
    with contextlib.suppress(ConfigurationError):  # no key in a bare local stack: the topic is then unencrypted
        attributes["KmsMasterKeyId"] = config.get("REPLY_KEY_ID")
    arns = []
    for area_id in [area.id for area in areas.all_areas()] + [UNASSIGNED]:
        arns.append(sns.create_topic(Name=f"{name_prefix}{area_id}", Attributes=attributes)["TopicArn"])
    return arns
