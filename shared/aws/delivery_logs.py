"""SNS's SMS delivery-status logs, as a CloudWatch Logs subscription filter hands them to a function.

SNS writes one JSON line per SMS to ``sns/<region>/<account>/DirectPublishToPhoneNumber`` (and ``…/Failure``) once
the account's SMS attributes name a delivery-status role (the deploy step sets them: README, "Broadcasts"):
https://repost.aws/knowledge-center/monitor-sns-texts-cloudwatch . A subscription filter delivers them base64-encoded
and gzipped: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html#LambdaFunctionExample
Only the message id and the status are read: the lines also hold the destination number, which stays in the logs.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

SUCCESS, FAILURE = "SUCCESS", "FAILURE"


def statuses(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(SNS message id, SUCCESS or FAILURE) of each delivery line in the event; other lines are skipped."""
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    found = []
    for log_event in data.get("logEvents", []):
        try:
            line = json.loads(log_event["message"])
            message_id, status = line["notification"]["messageId"], line["status"]
        except (ValueError, KeyError, TypeError):
            continue
        if status in (SUCCESS, FAILURE) and isinstance(message_id, str):
            found.append((message_id, status))
    return found
