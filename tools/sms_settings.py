"""The account's SNS SMS settings after a deploy (idempotent): `make sms-settings STACK=… SPEND_LIMIT=…`.

SNS's SMS settings are account-wide and have no CloudFormation resource, so they are applied here, after each
deploy: the monthly spend limit (SNS stops sending within minutes of crossing it; raising it beyond the account's
quota needs a support case), the role SNS writes SMS delivery-status logs with (the stack's SmsDeliveryStatusRole:
without it there are no delivered/failed figures for broadcasts), the share of successful deliveries logged, and
the defaults for anything that sets no attribute of its own (Sampark sets them on every SMS). SetSMSAttributes is
limited to one call a second, so only what differs is sent, in one call.
https://docs.aws.amazon.com/sns/latest/api/API_SetSMSAttributes.html
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

SAMPLING_RATE = "100"  # every success logged: the broadcast figures count them all


def wanted_settings(role_arn: str, spend_limit: int, sender_id: str) -> dict[str, str]:
    return {
        "MonthlySpendLimit": str(spend_limit),
        "DeliveryStatusIAMRole": role_arn,
        "DeliveryStatusSuccessSamplingRate": SAMPLING_RATE,
        "DefaultSenderID": sender_id,
        "DefaultSMSType": "Transactional",
    }


def apply(sns: Any, wanted: Mapping[str, str]) -> dict[str, str]:
    """Set what differs from the account's current settings; what was changed (nothing on a second run)."""
    current = sns.get_sms_attributes()["attributes"]  # all of them: a short list, and moto filters only by the first
    changes = {name: value for name, value in wanted.items() if current.get(name) != value}
    if changes:
        sns.set_sms_attributes(attributes=changes)
    return changes


def stack_output(cloudformation: Any, stack_name: str, key: str) -> str:
    [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    if key not in outputs:
        raise LookupError(f"stack {stack_name} has no output {key}: deploy the current template first")
    return outputs[key]


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="make sms-settings", description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", default=os.environ.get("STACK", "sampark"))
    parser.add_argument("--spend-limit", type=int, required=True, help="USD a month (the account's quota at most)")
    parser.add_argument("--sender-id", required=True, help="the DLT-registered header, e.g. DHNPOL")
    parser.add_argument("--role-arn", help="the delivery-status role (default: the stack's SmsDeliveryStatusRoleArn)")
    arguments = parser.parse_args(argv)
    if arguments.spend_limit < 1:
        parser.error("--spend-limit must be at least 1 (USD)")
    import boto3

    session = session or boto3.Session()
    try:
        role_arn = arguments.role_arn or stack_output(
            session.client("cloudformation"), arguments.stack_name, "SmsDeliveryStatusRoleArn"
        )
    except LookupError as error:
        print(f"make sms-settings: {error}", file=sys.stderr)
        return 1
    changes = apply(session.client("sns"), wanted_settings(role_arn, arguments.spend_limit, arguments.sender_id))
    print(f"changed: {', '.join(sorted(changes))}" if changes else "SMS settings already as wanted: nothing changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
