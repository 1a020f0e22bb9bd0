"""Move a dead-letter queue's messages back to be processed again: `make replay-dlq QUEUE=… [MAX=…] [DRY_RUN=1]`.

Two kinds of queue hold Sampark's failures (infra/resources.json):
- the dead-letter queue of an SQS queue (its RedrivePolicy), e.g. sampark-deliveries-dlq: each message goes back to
  that source queue, body and message attributes unchanged (it becomes a new message there, with a new id and a
  receive count of 0);
- the on-failure destination of asynchronously invoked functions (sampark-inbound-sms-dlq, sampark-async-failures):
  each message is Lambda's invocation record, and the function it names is invoked again, asynchronously, with the
  event it failed on.

A message leaves the dead-letter queue only after it has been sent (or the function invoked) successfully: each is
received with a visibility timeout, so if this stops half-way what it had not finished reappears in the dead-letter
queue when the timeout ends. It is at-least-once: a message sent but not deleted (a crash in between) is sent again
by the next run, so a consumer may see a message twice and must be idempotent (docs §4.1, §4.5). Only ids and
counts are printed, never bodies: they may hold citizens' messages.

Why not SQS's own redrive (StartMessageMoveTask, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html)?
It does the same move inside SQS and is the better choice for a large backlog, but it serves only dead-letter queues
of SQS queues (not Lambda's on-failure destinations), runs asynchronously with a rate rather than a count (no --max,
no per-message outcome) and moto does not implement it, so it could not be tested here. One receive/send/delete
loop serves both kinds of queue and behaves the same on moto and AWS; Sampark's dead-letter queues hold little.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import ClientError

BATCH = 10  # the most ReceiveMessage, SendMessageBatch and DeleteMessageBatch take at once
# Long enough to send a batch and delete it; what is not deleted (a failure, a crash) is back in the queue after it.
VISIBILITY_TIMEOUT_SECONDS = 120
EMPTY_RECEIVES_TO_STOP = 2  # SQS may answer a receive with nothing while messages remain (sampled servers)
BATCH_REQUEST_BYTES = 256 * 1024  # SendMessageBatch's limit on all its messages together (the classic, smaller one)
NOT_FOUND = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}

# What Lambda sends to an SQS on-failure destination is its invocation record, as the message body ("Lambda passes
# the invocation record as the `Message` to the destination"). The example record of
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html ("Example invocation record"):
#     {
#       "version": "1.0",
#       "timestamp": "2019-11-14T18:16:05.568Z",
#       "requestContext": {
#         "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
#         "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST",
#         "condition": "RetriesExhausted",
#         "approximateInvokeCount": 3
#       },
#       "requestPayload": {"ORDER_IDS": ["9e07af03-ce31-4ff3-xmpl-36dce652cb4f", ...]},
#       "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
#       "responsePayload": {"errorMessage": "RequestId: e4b46cbf-... Process exited before completing request"}
#     }
# requestPayload is the event the function failed on; replaying it is invoking functionArn with it again.
SUCCESS_CONDITION = "Success"  # the condition of an on-success record: nothing to replay


class NoDeadLetterQueue(Exception):
    """The queue asked for is not there, or not a dead-letter queue this tool knows how to replay."""


class NotReplayable(ValueError):
    """A message this tool leaves where it is (it is counted as failed)."""


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]


@dataclass
class Summary:
    moved: int = 0
    failed: int = 0
    would_move: int = 0
    would_leave: int = 0
    left: int = 0

    def line(self, dry_run: bool) -> str:
        counts = f"moved {self.moved}, failed {self.failed}, left {self.left}"
        if dry_run:
            return f"dry run: would move {self.would_move}, would leave {self.would_leave}; {counts}"
        return counts


Message = dict[str, Any]
# Replays a batch of received messages; the ones that went through (only those are deleted) and how many failed.
Replay = Callable[[list[Message]], tuple[list[Message], int]]
Plan = Callable[[Message], str]  # what replaying one message would do (for --dry-run); raises NotReplayable


# --- finding the queue ---------------------------------------------------------------------------------------


def resolve_queue(sqs: Any, cloudformation: Any, given: str, stack_name: str) -> Queue:
    """The queue a URL, an ARN, a queue name or the stack's logical id (DeliveriesDeadLetterQueue) names."""
    if given.startswith(("https://", "http://")):
        url = given
    elif given.startswith("arn:"):
        *_, account, name = given.split(":")
        url = _queue_url(sqs, name, account) or ""
        if not url:
            raise NoDeadLetterQueue(f"no queue {given}")
    else:
        url = _queue_url(sqs, given) or _stack_queue_url(cloudformation, stack_name, given)
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    except ClientError as error:
        if _code(error) in NOT_FOUND:
            raise NoDeadLetterQueue(f"no queue {given}") from None
        raise
    return Queue(url=url, arn=attributes["QueueArn"])


def _queue_url(sqs: Any, name: str, account: str | None = None) -> str | None:
    try:
        owner = {"QueueOwnerAWSAccountId": account} if account else {}
        return sqs.get_queue_url(QueueName=name, **owner)["QueueUrl"]
    except ClientError as error:
        if _code(error) in NOT_FOUND:
            return None
        raise


def _stack_queue_url(cloudformation: Any, stack_name: str, logical_id: str) -> str:
    try:
        resource = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    except ClientError as error:
        if _code(error) != "ValidationError":  # CloudFormation's answer for a missing stack or resource
            raise
        reason = error.response["Error"].get("Message", "")
        raise NoDeadLetterQueue(
            f"no queue {logical_id}, nor a resource {logical_id} in stack {stack_name}: {reason}"
        ) from None
    detail = resource["StackResourceDetail"]
    if detail["ResourceType"] != "AWS::SQS::Queue":
        raise NoDeadLetterQueue(f"{logical_id} of stack {stack_name} is a {detail['ResourceType']}, not a queue")
    return detail["PhysicalResourceId"]  # an AWS::SQS::Queue's physical id is its URL


def redrive_sources(sqs: Any, queue: Queue) -> list[str]:
    """The URLs of the queues whose RedrivePolicy dead-letters into ``queue`` (SQS keeps this list itself)."""
    pages = sqs.get_paginator("list_dead_letter_source_queues").paginate(QueueUrl=queue.url)
    return [url for page in pages for url in page.get("queueUrls", [])]


# --- what a replay is, for each kind of queue ----------------------------------------------------------------


def send_back(sqs: Any, source: Queue, out: TextIO) -> tuple[Plan, Replay]:
    """Send messages to the redrive source with their body, message attributes and trace header."""

    def plan(message: Message) -> str:
        return f"would move {message['MessageId']} to {source.name}"

    def replay(messages: list[Message]) -> tuple[list[Message], int]:
        sent: list[Message] = []
        failed = 0
        for chunk in _fitting_batches(messages):
            entries = [_entry(str(index), message) for index, message in enumerate(chunk)]
            try:
                response = sqs.send_message_batch(QueueUrl=source.url, Entries=entries)
            except ClientError as error:  # the whole request (access, KMS, the queue): the next would fail alike
                for message in chunk:
                    print(f"failed {message['MessageId']}: {_code(error)}", file=out)
                raise _Stop(sent, failed + len(chunk), f"sending to {source.name} failed: {_code(error)}") from error
            for result in response.get("Successful", []):
                message = chunk[int(result["Id"])]
                print(f"moved {message['MessageId']} to {source.name} as {result['MessageId']}", file=out)
                sent.append(message)
            for result in response.get("Failed", []):
                print(f"failed {chunk[int(result['Id'])]['MessageId']}: {result.get('Code', 'unknown')}", file=out)
                failed += 1
        return sent, failed

    return plan, replay


def invoke_again(lambda_client: Any, queue: Queue, out: TextIO) -> tuple[Plan, Replay]:
    """Invoke, asynchronously, the function each invocation record names with the event it failed on."""
    region, account = queue.arn.split(":")[3:5]

    def plan(message: Message) -> str:
        function_arn, record = _invocation(message, region, account)
        return f"would invoke {_function_name(function_arn)} for {message['MessageId']} ({_outcome(record)})"

    def replay(messages: list[Message]) -> tuple[list[Message], int]:
        invoked: list[Message] = []
        failed = 0
        for message in messages:
            try:
                function_arn, record = _invocation(message, region, account)
                response = lambda_client.invoke(
                    FunctionName=function_arn,
                    InvocationType="Event",
                    Payload=json.dumps(record["requestPayload"]).encode(),
                )
                if response.get("StatusCode") != 202:  # 202: Lambda queued the event
                    raise NotReplayable(f"Lambda answered {response.get('StatusCode')}")
            except (NotReplayable, ClientError) as error:
                reason = _code(error) if isinstance(error, ClientError) else str(error)
                print(f"failed {message['MessageId']}: {reason}", file=out)
                failed += 1
                continue
            print(f"invoked {_function_name(function_arn)} for {message['MessageId']} ({_outcome(record)})", file=out)
            invoked.append(message)
        return invoked, failed

    return plan, replay


def _invocation(message: Message, region: str, account: str) -> tuple[str, dict[str, Any]]:
    """The function to invoke and the record, if the message is a failed invocation's record of this account."""
    try:
        record = json.loads(message["Body"])
        function_arn = record["requestContext"]["functionArn"]
        condition = record["requestContext"].get("condition")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise NotReplayable("not a Lambda invocation record") from None
    if "requestPayload" not in record:  # even null is an event: the one the function was given
        raise NotReplayable("an invocation record without its requestPayload")
    if condition == SUCCESS_CONDITION:
        raise NotReplayable("a record of a successful invocation")
    parts = str(function_arn).split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function" or parts[3:5] != [region, account]:
        raise NotReplayable("not a function of this account and region")
    return function_arn, record


def _function_name(function_arn: str) -> str:
    return ":".join(function_arn.split(":")[6:])  # name[:qualifier]


def _outcome(record: dict[str, Any]) -> str:
    context = record["requestContext"]
    return f"{context.get('condition')} after {context.get('approximateInvokeCount')} attempts"


def _entry(entry_id: str, message: Message) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": message["Body"]}
    attributes = {
        name: {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
        for name, value in message.get("MessageAttributes", {}).items()
    }
    if attributes:
        entry["MessageAttributes"] = attributes
    trace = message.get("Attributes", {}).get("AWSTraceHeader")
    if trace:  # the only system attribute a sender may set
        entry["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    return entry


def _size(message: Message) -> int:
    size = len(message["Body"].encode())
    for name, value in message.get("MessageAttributes", {}).items():
        size += len(name) + len(value["DataType"])
        size += len(value.get("StringValue", "").encode()) + len(value.get("BinaryValue", b""))
    return size


def _fitting_batches(messages: list[Message]) -> Iterator[list[Message]]:
    """The messages in SendMessageBatch requests within the size limit (a message too big for company goes alone)."""
    chunk: list[Message] = []
    size = 0
    for message in messages:
        if chunk and size + _size(message) > BATCH_REQUEST_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += _size(message)
    if chunk:
        yield chunk


class _Stop(Exception):
    """A failure that every further message would meet too: what was done so far, and why it stops."""

    def __init__(self, done: list[Message], failed: int, reason: str) -> None:
        super().__init__(reason)
        self.done, self.failed, self.reason = done, failed, reason


# --- the loop ------------------------------------------------------------------------------------------------


def drain(
    sqs: Any,
    queue: Queue,
    plan: Plan,
    replay: Replay,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    wait_seconds: int = 1,
    out: TextIO | None = None,
) -> Summary:
    """Replay the queue's messages, deleting each one replayed; at most ``limit``; a dry run only lists them."""
    out = out or sys.stdout
    summary = Summary()
    seen: set[str] = set()  # a message failed before and visible again (a long run) is not tried twice
    held: list[Message] = []  # a dry run's messages, made visible again at the end
    empty = 0
    try:
        while empty < EMPTY_RECEIVES_TO_STOP and (limit is None or len(seen) < limit):
            wanted = BATCH if limit is None else min(BATCH, limit - len(seen))
            received = sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=wanted,
                VisibilityTimeout=VISIBILITY_TIMEOUT_SECONDS,
                WaitTimeSeconds=wait_seconds,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            messages = [message for message in received if message["MessageId"] not in seen]
            if not messages:
                empty += 1
                continue
            empty = 0
            seen.update(message["MessageId"] for message in messages)
            if dry_run:
                held.extend(messages)
                for message in messages:
                    try:
                        print(plan(message), file=out)
                        summary.would_move += 1
                    except NotReplayable as error:
                        print(f"would leave {message['MessageId']}: {error}", file=out)
                        summary.would_leave += 1
                continue
            try:
                done, failed = replay(messages)
            except _Stop as stop:
                summary.moved += _delete(sqs, queue, stop.done, out)
                summary.failed += stop.failed
                print(f"stopped: {stop.reason}", file=sys.stderr)
                break
            summary.moved += _delete(sqs, queue, done, out)
            summary.failed += failed
    finally:
        if held:
            _release(sqs, queue, held)
    summary.left = _count(sqs, queue)
    return summary


def _delete(sqs: Any, queue: Queue, messages: list[Message], out: TextIO) -> int:
    """Delete replayed messages from the dead-letter queue; how many were replayed (deleted or not)."""
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        entries = [{"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(chunk)]
        try:
            failures = sqs.delete_message_batch(QueueUrl=queue.url, Entries=entries).get("Failed", [])
        except ClientError as error:
            failures = [{"Id": entry["Id"], "Code": _code(error)} for entry in entries]
        for result in failures:
            message_id = chunk[int(result["Id"])]["MessageId"]
            print(f"replayed, not deleted {message_id} ({result.get('Code')}): a next run replays it again", file=out)
    return len(messages)


def _release(sqs: Any, queue: Queue, messages: list[Message]) -> None:
    """Make a dry run's messages visible again at once rather than after the visibility timeout."""
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=queue.url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, message in enumerate(chunk)
            ],
        )


def _count(sqs: Any, queue: Queue) -> int:
    """The messages in the queue, waiting or in flight (SQS's figures are approximate)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=names).get("Attributes", {})
    return sum(int(attributes.get(name, 0)) for name in names)


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "unknown")


# --- command line --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, session: Any = None, wait_seconds: int = 1) -> int:
    parser = argparse.ArgumentParser(prog="make replay-dlq", description=__doc__.splitlines()[0])
    parser.add_argument("--queue", required=True, help="a name (sampark-deliveries-dlq), URL, ARN or logical id")
    parser.add_argument("--stack-name", default=os.environ.get("STACK", "sampark"), help="to find a logical id")
    parser.add_argument("--max", type=int, help="move at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="list what would be moved; move nothing")
    arguments = parser.parse_args(argv)
    if not arguments.queue.strip():
        parser.error("--queue needs a queue: a name, URL, ARN or logical id (QUEUE=…)")
    if arguments.max is not None and arguments.max < 1:
        parser.error("--max must be at least 1")
    import boto3

    session = session or boto3.Session()
    if session.region_name is None:  # the stack lives in Mumbai unless the shell or profile says otherwise
        session = boto3.Session(region_name="ap-south-1")
    sqs = session.client("sqs")
    try:
        queue = resolve_queue(sqs, session.client("cloudformation"), arguments.queue.strip(), arguments.stack_name)
        sources = redrive_sources(sqs, queue)
        if len(sources) > 1:
            raise NoDeadLetterQueue(
                f"{queue.name} is the dead-letter queue of {len(sources)} queues: which to send to?"
            )
        if sources:
            source = resolve_queue(sqs, None, sources[0], arguments.stack_name)
            print(f"{queue.name}: dead-letter queue of {source.name}; its messages go back there")
            plan, replay = send_back(sqs, source, sys.stdout)
        else:
            attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["RedrivePolicy"]).get(
                "Attributes", {}
            )
            if "RedrivePolicy" in attributes:  # a working queue: receiving from it would delay (and dead-letter) work
                raise NoDeadLetterQueue(
                    f"{queue.name} is not a dead-letter queue: it has a dead-letter queue of its own"
                )
            print(f"{queue.name}: no queue dead-letters into it; its messages are Lambda invocation records to replay")
            plan, replay = invoke_again(session.client("lambda"), queue, sys.stdout)
        if arguments.dry_run:
            print("dry run: nothing is moved")
        summary = drain(
            sqs,
            queue,
            plan,
            replay,
            limit=arguments.max,
            dry_run=arguments.dry_run,
            wait_seconds=wait_seconds,
        )
    except NoDeadLetterQueue as error:
        print(f"make replay-dlq: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        print(f"make replay-dlq: {_code(error)}: {error.response.get('Error', {}).get('Message', '')}", file=sys.stderr)
        return 1
    print(summary.line(arguments.dry_run))
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
