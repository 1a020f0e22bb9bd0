"""New-tip notices: the officers of an area hear that a tip arrived there, by email or SMS through an SNS topic per
area.

A notice carries the reference and the area, nothing of the tip itself: email and SMS are not places for informants'
words. Tips without an area go to the "unassigned" topic, which supervisors subscribe to.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from shared import areas, config, sms
from shared.areas import Area
from shared.aws import alert_topics
from shared.aws.clients import client
from shared.errors import ConfigurationError, SmsRefusedError
from shared.observability import count, logger
from shared.storage import tips

UNASSIGNED = "unassigned"
NO_AREA_NAME = "no police area yet"


def topic_arn(area_id: str | None) -> str:
    """NEW_TIP_TOPIC_PREFIX is an ARN up to the area, e.g. arn:aws:sns:ap-south-1:123456789012:sampark-new-tips-."""
    return config.get("NEW_TIP_TOPIC_PREFIX") + (area_id or UNASSIGNED)


def publish_new_tip(tip_id: str) -> str:
    """Tell the tip's area that it arrived; a missing topic is logged and counted (an alarm), not retried."""
    tip = tips.get_tip_for_reply(tip_id)
    if tip is None:
        return "unknown_tip"
    area = areas.find_area(tip.area_id) if tip.area_id else None
    try:
        client("sns").publish(
            TopicArn=topic_arn(tip.area_id), Subject=f"Sampark: new tip {tip.reference}", **_notice(tip.reference, area)
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("NotFound", "NotFoundException"):
            raise
        count("NewTipNoticeFailures")
        logger.error("no new-tip topic for the area: run the area-topics step", extra={"area_id": tip.area_id})
        return "no_topic"
    count("NewTipNotices")
    return "notified"


def _notice(reference: str, area: Area | None) -> dict[str, Any]:
    """Message (and attributes) of the notice: the DLT template ``new_tip``, which SMS subscribers can receive too.

    One String message: SNS sends message attributes, here the DLT ones, only when the structure is String, not
    JSON (https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html); email subscribers get the same
    text. Without the DLT settings or that template, today's email text goes out without them.
    """
    try:
        rendered = sms.render("new_tip", {"reference": reference, "area": area.name_en if area else NO_AREA_NAME})
        return {"Message": rendered.text, "MessageAttributes": sms.message_attributes(rendered.template_id)}
    except (ConfigurationError, SmsRefusedError) as error:
        logger.warning("new-tip notice sent without SMS attributes", extra={"reason": str(error)})
        return {"Message": _email_text(reference, area)}


def _email_text(reference: str, area: Area | None) -> str:
    where_en = f"{area.name_en} ({area.id})" if area else NO_AREA_NAME
    where_hi = area.name_hi if area else "क्षेत्र तय नहीं"
    return (
        f"नई सूचना {reference} — {where_hi}\n"
        f"New tip {reference} in {where_en}.\n\n"
        "Open it in Sampark. Do not forward this email: the tip's contents stay in Sampark."
    )


def ensure_area_topics(sns=None) -> list[str]:
    """Create the topic of every area and the unassigned one (CreateTopic is idempotent); their ARNs."""
    sns = sns or client("sns")
    name_prefix = alert_topics.topic_name_prefix("NEW_TIP_TOPIC_PREFIX")
    attributes = alert_topics.encryption_attributes()
    arns = []
    # No DisplayName: SNS would put it before every SMS, which then no longer matches its DLT template.
    for area_id in [area.id for area in areas.all_areas()] + [UNASSIGNED]:
        arns.append(sns.create_topic(Name=f"{name_prefix}{area_id}", Attributes=attributes)["TopicArn"])
    return arns
