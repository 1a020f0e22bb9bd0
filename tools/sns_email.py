"""Email subscriptions on moto as SNS has them: pending until the address follows the confirmation link.

moto confirms an email subscription the moment it is made; SNS mails a link and waits (reliability-security §1.6).
Sampark relies on the difference (an address already confirmed on a topic is never tied to a new sign-up), so the
tests and `make run` patch moto's SNS backend to start email subscriptions pending, and confirm them explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.sns.models import SNSBackend, sns_backends

from tools.resources import ACCOUNT_ID

EMAIL_PROTOCOLS = ("email", "email-json")


def start_email_subscriptions_pending() -> Callable[[], None]:
    """From now on, a new email subscription on moto waits for confirmation; returns the undo."""
    original = SNSBackend.subscribe

    def subscribe(self: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Any:
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = original(self, topic_arn, endpoint, protocol)
        if protocol in EMAIL_PROTOCOLS and existing is None:
            subscription.attributes["PendingConfirmation"] = "true"
        return subscription

    SNSBackend.subscribe = subscribe  # type: ignore[method-assign]
    return lambda: setattr(SNSBackend, "subscribe", original)


def confirm_email(address: str, region: str) -> int:
    """The address follows its confirmation links; how many subscriptions that confirmed."""
    confirmed = 0
    for subscription in sns_backends[ACCOUNT_ID][region].subscriptions.values():
        if subscription.endpoint == address and subscription.attributes.get("PendingConfirmation") == "true":
            subscription.attributes["PendingConfirmation"] = "false"
            confirmed += 1
    return confirmed
