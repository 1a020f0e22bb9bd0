"""A local stand-in for Lambda's SQS event source mappings.

For each queue-triggered function of the Chalice app it receives batches (up to the function's batch size),
invokes the handler with a Lambda-shaped SQS event, and deletes exactly the records the handler did not
report in ``batchItemFailures`` (or none, if the handler raised). Failed records reappear after the queue's
visibility timeout, and SQS itself (moto) moves them to the dead-letter queue after ``maxReceiveCount``
receives, as the redrive policy in infra/resources.json says.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice.app import Chalice, SQSEventConfig

IDLE_SLEEP_SECONDS = 0.2  # new work is picked up well within a second


@dataclass
class Mapping:
    function_name: str
    handler: Callable[[dict[str, Any], Any], Any]
    queue_url: str
    queue_arn: str
    batch_size: int


class LambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    def __init__(self, function_name: str, timeout_seconds: int = 60) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalDispatcher:
    def __init__(self, app: Chalice, sqs_client: Any, queue_lookup: Callable[[str], tuple[str, str]]) -> None:
        self.sqs = sqs_client
        self.mappings = [
            self._mapping(app, source, queue_lookup)
            for source in app.event_sources
            if isinstance(source, SQSEventConfig)
        ]

    @staticmethod
    def _mapping(app: Chalice, source: SQSEventConfig, queue_lookup: Callable[[str], tuple[str, str]]) -> Mapping:
        url, arn = queue_lookup(source.queue)
        return Mapping(source.name, app.handler_map[source.name], url, arn, source.batch_size)

    def poll_once(self) -> int:
        """One receive per mapping; returns how many records were handed to functions."""
        return sum(self._poll(mapping) for mapping in self.mappings)

    def drain(self, max_rounds: int = 50) -> int:
        """Run until every queue is empty (for tests); returns the number of records processed."""
        total = 0
        for _ in range(max_rounds):
            processed = self.poll_once()
            total += processed
            if processed == 0:
                return total
        raise RuntimeError("queues did not drain")

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                processed = self.poll_once()
            except Exception as error:  # keep the local system up; the error is printed like Lambda would
                print(f"[dispatcher] {type(error).__name__}: {error}", flush=True)
                processed = 0
            if not processed:
                stop.wait(IDLE_SLEEP_SECONDS)

    def _poll(self, mapping: Mapping) -> int:
        response = self.sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=min(mapping.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [_record(message, mapping.queue_arn) for message in messages]}
        try:
            result = mapping.handler(event, LambdaContext(mapping.function_name))
        except Exception as error:
            # Like Lambda: the whole batch stays on the queue and comes back after the visibility timeout.
            print(f"[dispatcher] {mapping.function_name} failed: {type(error).__name__}: {error}", flush=True)
            return len(messages)
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)


def _record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping delivers it."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
