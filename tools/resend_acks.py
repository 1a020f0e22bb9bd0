"""Queue again the acknowledgements that waited for the DLT settings: `make resend-acks STACK=… [DAYS=7]`.

An SMS acknowledgement fails closed while the district's DLT settings (sender id, entity id, templates) are missing:
the tip is recorded, its acknowledgement stays `pending` and `SmsSettingsMissing` is counted. Once the settings are
in the secret, this step queues those acknowledgements again for the reply sender (the deployed `send_replies`),
for tips received in the last DAYS days. It is safe to repeat: a job whose acknowledgement went out meanwhile sends
nothing. Prints the number of tips, never their ids' senders or texts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from shared.domain import Channel

# The stack's resources this step reads and writes, and the settings that name them for shared/.
RESOURCES = {"TipsTable": "TIPS_TABLE_NAME", "RepliesQueue": "REPLIES_QUEUE_URL"}


def settings_of_stack(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The table name and queue URL of the deployed stack, as its functions' settings name them."""
    settings = {}
    for logical_id, setting in RESOURCES.items():
        detail = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
        settings[setting] = detail["StackResourceDetail"]["PhysicalResourceId"]
    return settings


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="make resend-acks", description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", default=os.environ.get("STACK", "sampark"))
    parser.add_argument("--days", type=int, default=7, help="tips received in the last DAYS days (default 7)")
    parser.add_argument("--channel", default=str(Channel.SMS), choices=[str(channel) for channel in Channel])
    parser.add_argument("--dry-run", action="store_true", help="count them, queue nothing")
    arguments = parser.parse_args(argv)
    if arguments.days < 1:
        parser.error("--days must be at least 1")
    if session is None:
        import boto3

        session = boto3.session.Session()
        if session.region_name is None:  # the stack lives in Mumbai unless the shell or profile says otherwise
            session = boto3.session.Session(region_name="ap-south-1")
    os.environ.setdefault("AWS_DEFAULT_REGION", session.region_name)
    os.environ.update(settings_of_stack(session.client("cloudformation"), arguments.stack_name))

    from shared import clock, replies

    since = clock.now() - timedelta(days=arguments.days)
    waiting = replies.requeue_pending_acknowledgements(Channel(arguments.channel), since, dry_run=arguments.dry_run)
    verb = "would queue" if arguments.dry_run else "queued"
    print(f"{verb} {len(waiting)} pending {arguments.channel} acknowledgement(s) of the last {arguments.days} days")
    return 0


if __name__ == "__main__":
    sys.exit(main())
