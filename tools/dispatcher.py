"""A local stand-in for Lambda's SQS event source mappings and its SNS subscriptions.

For each queue-triggered function of the Chalice app it receives batches (up to the function's batch size),
invokes the handler with a Lambda-shaped SQS event, and deletes exactly the records the handler did not
report in ``batchItemFailures`` (or none, if the handler raised). Failed records reappear after the queue's
visibility timeout, and SQS itself (moto) moves them to the dead-letter queue after ``maxReceiveCount``
receives, as the redrive policy in infra/resources.json says.

For each SNS-triggered function it subscribes a local-only queue to the topic (raw delivery off, so the SNS
envelope arrives) and invokes the handler with a Lambda-shaped SNS event, one record per invocation, as an
asynchronous invocation: a failure is retried (``MaximumRetryAttempts`` of the function's EventInvokeConfig,
at once here, after about 1 and 2 minutes on AWS), then an invocation record goes to its on-failure queue.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice.app import Chalice, SNSEventConfig, SQSEventConfig

from tools.resources import AsyncInvokeConfig, async_invoke_config

IDLE_SLEEP_SECONDS = 0.2  # new work is picked up well within a second
SNS_VISIBILITY_SECONDS = 900  # Lambda's longest timeout


@dataclass
class Mapping:
    function_name: str
    handler: Callable[[dict[str, Any], Any], Any]
    queue_url: str
    queue_arn: str
    batch_size: int


@dataclass
class Subscription:
    function_name: str
    handler: Callable[[dict[str, Any], Any], Any]
    topic_arn: str
    subscription_arn: str
    queue_url: str  # the local-only queue the topic delivers to
    retries: int
    on_failure_queue_url: str | None


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
    """``queue_lookup`` maps a queue name to (url, arn). For SNS-triggered functions, ``sns_client`` defaults to
    one beside ``sqs_client``, ``topic_lookup`` (topic name -> arn) to a search of the topics, and
    ``invoke_config_lookup`` (function name -> retries and on-failure queue) to infra/resources.json.
    """

    def __init__(
        self,
        app: Chalice,
        sqs_client: Any,
        queue_lookup: Callable[[str], tuple[str, str]],
        sns_client: Any = None,
        topic_lookup: Callable[[str], str] | None = None,
        invoke_config_lookup: Callable[[str], AsyncInvokeConfig] = async_invoke_config,
    ) -> None:
        self.sqs = sqs_client
        self.mappings = [
            self._mapping(app, source, queue_lookup)
            for source in app.event_sources
            if isinstance(source, SQSEventConfig)
        ]
        sns_sources = [source for source in app.event_sources if isinstance(source, SNSEventConfig)]
        self.sns = sns_client if sns_client is not None or not sns_sources else _sibling_client(sqs_client, "sns")
        find_topic = topic_lookup or self._find_topic
        self.subscriptions = [
            self._subscribe(app, source, find_topic(source.topic), invoke_config_lookup(source.name))
            for source in sns_sources
        ]

    @staticmethod
    def _mapping(app: Chalice, source: SQSEventConfig, queue_lookup: Callable[[str], tuple[str, str]]) -> Mapping:
        url, arn = queue_lookup(source.queue)
        return Mapping(source.name, app.handler_map[source.name], url, arn, source.batch_size)

    def _find_topic(self, topic_name: str) -> str:
        for page in self.sns.get_paginator("list_topics").paginate():
            for topic in page["Topics"]:
                if topic["TopicArn"].rsplit(":", 1)[-1] == topic_name:
                    return topic["TopicArn"]
        raise KeyError(f"no SNS topic named {topic_name}")

    def _subscribe(
        self, app: Chalice, source: SNSEventConfig, topic_arn: str, invoke_config: AsyncInvokeConfig
    ) -> Subscription:
        # Local only (not in the template): stands in for Lambda's own queue of asynchronous invocations.
        # Its visibility timeout outlasts every attempt, so an event is never handed out twice at once.
        queue_url = self.sqs.create_queue(
            QueueName=f"local-sns-{source.name}", Attributes={"VisibilityTimeout": str(SNS_VISIBILITY_SECONDS)}
        )["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        subscription_arn = self.sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        on_failure = invoke_config.on_failure_queue
        return Subscription(
            function_name=source.name,
            handler=app.handler_map[source.name],
            topic_arn=topic_arn,
            subscription_arn=subscription_arn,
            queue_url=queue_url,
            retries=invoke_config.maximum_retry_attempts,
            on_failure_queue_url=self.sqs.get_queue_url(QueueName=on_failure)["QueueUrl"] if on_failure else None,
        )

    def poll_once(self) -> int:
        """One receive per mapping and subscription; returns how many records were handed to functions."""
        return sum(self._poll(mapping) for mapping in self.mappings) + sum(
            self._poll_topic(subscription) for subscription in self.subscriptions
        )

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

    def _poll_topic(self, subscription: Subscription) -> int:
        response = self.sqs.receive_message(QueueUrl=subscription.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        for message in messages:
            event = {"Records": [_sns_record(json.loads(message["Body"]), subscription.subscription_arn)]}
            self._invoke_async(subscription, event)
            self.sqs.delete_message(QueueUrl=subscription.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _invoke_async(self, subscription: Subscription, event: dict[str, Any]) -> None:
        """Like Lambda's asynchronous invocation: 1 + retries attempts, then the on-failure destination."""
        request_id = str(uuid.uuid4())  # Lambda keeps the request id across the retries of one event
        attempts = 1 + subscription.retries
        for attempt in range(1, attempts + 1):
            context = LambdaContext(subscription.function_name)
            context.aws_request_id = request_id
            try:
                subscription.handler(event, context)
                return
            except Exception as error:
                name = subscription.function_name
                print(f"[dispatcher] {name} failed ({attempt}/{attempts}): {type(error).__name__}: {error}", flush=True)
                if attempt == attempts:
                    self._dead_letter(subscription, event, request_id, attempts, error)

    def _dead_letter(
        self, subscription: Subscription, event: dict[str, Any], request_id: str, attempts: int, error: Exception
    ) -> None:
        if subscription.on_failure_queue_url is None:
            print(f"[dispatcher] {subscription.function_name}: event discarded (no on-failure destination)", flush=True)
            return
        record = _invocation_record(subscription.function_name, event, request_id, attempts, error)
        self.sqs.send_message(QueueUrl=subscription.on_failure_queue_url, MessageBody=json.dumps(record))
        print(f"[dispatcher] {subscription.function_name}: event sent to its on-failure destination", flush=True)


def _sibling_client(client: Any, service: str) -> Any:
    """A client of ``service`` in the same region, and at the same endpoint unless that is AWS's own."""
    import boto3

    endpoint = client.meta.endpoint_url
    local = endpoint if "amazonaws.com" not in endpoint else None
    return boto3.client(service, region_name=client.meta.region_name, endpoint_url=local)


def _sns_record(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """An SNS notification (as SNS delivers it to SQS) as Lambda's SNS trigger delivers it."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope["MessageId"],
            "TopicArn": envelope["TopicArn"],
            "Subject": envelope.get("Subject"),
            "Message": envelope["Message"],
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
            "MessageAttributes": envelope.get("MessageAttributes", {}),
        },
    }


def _invocation_record(
    function_name: str, event: dict[str, Any], request_id: str, attempts: int, error: Exception
) -> dict[str, Any]:
    """What Lambda sends to an on-failure destination once the retries are exhausted."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{LambdaContext(function_name).invoked_function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)},
    }


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
