"""Create every police area's SNS topics in a deployed stack (idempotent): `make area-topics`.

Each area has a new-tip notice topic (officers) and four alert topics (citizens: Hindi or English, by SMS or email).

A district's areas are data (shared/data/*.json or POLICE_AREAS_FILE), not template resources, so their topics are
made after each deploy, like `make run` does locally. Officers then subscribe their email addresses (README,
"New-tip notices").
"""

from __future__ import annotations

import argparse
import os
import sys

import boto3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", default=os.environ.get("STACK", "sampark"))
    arguments = parser.parse_args(argv)
    session = boto3.Session()
    if not session.region_name:
        print("set AWS_REGION (or AWS_DEFAULT_REGION) to the stack's region", file=sys.stderr)
        return 1
    account = session.client("sts").get_caller_identity()["Account"]
    topic_base = f"arn:aws:sns:{session.region_name}:{account}:{arguments.stack_name}"
    os.environ["NEW_TIP_TOPIC_PREFIX"] = f"{topic_base}-new-tips-"
    os.environ["ALERT_TOPIC_PREFIX"] = f"{topic_base}-alerts-"
    # The stack's data key encrypts the topics too; its alias is fixed by infra/resources.json.
    os.environ.setdefault("REPLY_KEY_ID", f"alias/{arguments.stack_name}-data")
    from shared import notices
    from shared.aws import alert_topics

    arns = notices.ensure_area_topics(session.client("sns"))
    print(f"{len(arns)} new-tip topics ready, e.g. {arns[0]}", file=sys.stderr)
    alert_arns = alert_topics.ensure_alert_topics(session.client("sns"))
    print(f"{len(alert_arns)} alert topics ready, e.g. {alert_arns[0]}", file=sys.stderr)
    for arn in arns + alert_arns:
        print(arn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
