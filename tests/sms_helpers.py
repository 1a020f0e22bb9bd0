"""What the app published by SMS on moto.

moto keeps an SMS publish as (phone number, message) in the SNS backend's ``sms_messages`` (an internal API) and
drops its MessageAttributes after checking their types, so the attributes are read from the real request: a
botocore ``before-parameter-build`` hook on the client the app uses.
"""

from __future__ import annotations

import json
from typing import Any

from moto.sns.models import sns_backends

from shared.aws.clients import client
from tools.resources import ACCOUNT_ID

REGION = "ap-south-1"


def record_publishes() -> list[dict[str, Any]]:
    """The parameters of every SNS Publish the app's client makes from now on, as they go into the request."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(json.loads(json.dumps(params)))

    client("sns").meta.events.register("before-parameter-build.sns.Publish", record)
    return calls


def sent_sms() -> dict[str, tuple[str, str]]:
    """What moto kept: message id -> (phone number, message). No attributes."""
    return dict(sns_backends[ACCOUNT_ID][REGION].sms_messages)


def attribute_values(call: dict[str, Any]) -> dict[str, str]:
    assert {attribute["DataType"] for attribute in call["MessageAttributes"].values()} == {"String"}
    return {name: attribute["StringValue"] for name, attribute in call["MessageAttributes"].items()}
