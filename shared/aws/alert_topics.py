"""Citizens' alert topics in SNS: one per police area, language and channel. SNS does the fan-out.

One topic per area (not one topic with a filter policy per subscriber): SNS allows 200 filter policies per topic
(reliability-security §1.4), and a topic per area, language and channel lets a broadcast reach a subscriber once
with the right text, in a number of requests that does not grow with the number of subscribers.

SNS keeps each subscription's endpoint (the number, the address) in the clear and lists it to whoever may call
ListSubscriptionsByTopic: only the role that manages subscriptions gets that permission (infra/resources.json).
"""

from __future__ import annotations

import contextlib
from typing import Literal

from botocore.exceptions import ClientError

from shared import areas, config
from shared.aws.clients import client
from shared.errors import ConfigurationError

LANGUAGES = ("hi", "en")
CHANNELS = ("sms", "email")
PROTOCOL_BY_CHANNEL = {"sms": "sms", "email": "email"}
SnsState = Literal["pending", "confirmed", "gone"]
_NOT_FOUND = ("NotFound", "NotFoundException", "ResourceNotFoundException")


def topic_arn(area_id: str, language: str, channel: str) -> str:
    """ALERT_TOPIC_PREFIX is an ARN up to the area, e.g. arn:aws:sns:ap-south-1:123456789012:sampark-alerts-."""
    return f"{config.get('ALERT_TOPIC_PREFIX')}{topic_name(area_id, language, channel)}"


def subscribe(area_id: str, language: str, channel: str, endpoint: str) -> str:
    """Subscribe a number (SMS: active at once) or address (email: SNS mails a confirmation link); its ARN.

    ReturnSubscriptionArn: an email subscription's ARN even while it waits for confirmation, so that the sync can
    ask SNS about it (https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html).
    """
    response = client("sns").subscribe(
        TopicArn=topic_arn(area_id, language, channel),
        Protocol=PROTOCOL_BY_CHANNEL[channel],
        Endpoint=endpoint,
        ReturnSubscriptionArn=True,
    )
    return str(response["SubscriptionArn"])


def publish(area_id: str, language: str, channel: str, text: str, **options: object) -> str:
    """Publish to one alert topic (SNS fans it out); its MessageId. ``options``: Subject, MessageAttributes."""
    response = client("sns").publish(TopicArn=topic_arn(area_id, language, channel), Message=text, **options)
    return str(response["MessageId"])


def topic_name(area_id: str, language: str, channel: str) -> str:
    """The part of the topic's name after the prefix: what a broadcast records per publish."""
    return f"{area_id}-{language}-{channel}"


def unsubscribe(subscription_arn: str) -> None:
    """Remove the SNS subscription; one that is gone already (its email link was used) is fine."""
    try:
        client("sns").unsubscribe(SubscriptionArn=subscription_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _NOT_FOUND:
            raise


def state(subscription_arn: str) -> SnsState:
    """Whether SNS still waits for the email's confirmation, has it, or no longer has the subscription."""
    try:
        attributes = client("sns").get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
            return "gone"
        raise
    return "pending" if attributes.get("PendingConfirmation") == "true" else "confirmed"


def confirmed_subscriptions(area_id: str, language: str, channel: str) -> set[str]:
    """The ARNs of the topic's confirmed subscriptions (pending ones are listed as "PendingConfirmation")."""
    paginator = client("sns").get_paginator("list_subscriptions_by_topic")
    arns: set[str] = set()
    for page in paginator.paginate(TopicArn=topic_arn(area_id, language, channel)):
        arns |= {s["SubscriptionArn"] for s in page["Subscriptions"] if s["SubscriptionArn"].startswith("arn:")}
    return arns


def topic_name_prefix(setting: str) -> str:
    """The topic name part of an ARN prefix setting (…:sampark-alerts- -> sampark-alerts-)."""
    return config.get(setting).rsplit(":", 1)[1]


def encryption_attributes() -> dict[str, str]:
    """Topics are encrypted with the stack's data key; a bare local stack without one leaves them unencrypted."""
    with contextlib.suppress(ConfigurationError):
        return {"KmsMasterKeyId": config.get("REPLY_KEY_ID")}
    return {}


def ensure_alert_topics(sns=None) -> list[str]:
    """Create every area's topics (CreateTopic is idempotent); their ARNs.

    SMS topics have no DisplayName: SNS would put it before every SMS ("NAME> …"), and the text would no longer
    match its DLT template, so operators would block it (https://docs.aws.amazon.com/sns/latest/dg/sms_publish-to-phone.html,
    reliability-security §1.3). Email topics show it as the sender's name.
    """
    sns = sns or client("sns")
    name_prefix = topic_name_prefix("ALERT_TOPIC_PREFIX")
    encryption = encryption_attributes()
    arns = []
    for area in areas.all_areas():
        for language in LANGUAGES:
            for channel in CHANNELS:
                attributes = dict(encryption)
                if channel == "email":
                    attributes["DisplayName"] = config.get("ALERT_EMAIL_DISPLAY_NAME")
                name = f"{name_prefix}{area.id}-{language}-{channel}"
                arns.append(sns.create_topic(Name=name, Attributes=attributes)["TopicArn"])
    return arns
