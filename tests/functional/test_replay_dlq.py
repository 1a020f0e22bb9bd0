"""`make replay-dlq` on moto: dead-lettered messages go back to their source queue, invocation records to Lambda.

The queues are the template's (infra/resources.json), made by CloudFormation in moto so that logical ids resolve.
Lambda is a stand-in recording the invocations (moto's Lambda would need docker to run anything).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tools import replay_dlq
from tools.resources import ACCOUNT_ID, TEMPLATE

REGION = "ap-south-1"
STACK = "sampark"
DLQ, SOURCE = "sampark-deliveries-dlq", "sampark-deliveries"
FAILURES = "sampark-async-failures"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:sampark-SyncSubscriptions-1A2B3C:$LATEST"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


class Clients:
    """A session whose clients are moto's, but for the ones a test replaces."""

    region_name = REGION

    def __init__(self, **replaced: Any) -> None:
        self.replaced = replaced

    def client(self, name: str, **_: Any) -> Any:
        return self.replaced.get(name) or boto3.client(name, region_name=REGION)


class RecordingLambda:
    """Lambda's Invoke as it answers an asynchronous invocation (202), or a given error for some functions."""

    def __init__(self, failing: dict[str, str] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failing = failing or {}

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if request["FunctionName"] in self.failing:
            error = {"Code": self.failing[request["FunctionName"]], "Message": "injected"}
            raise ClientError({"Error": error}, "Invoke")
        return {"StatusCode": 202}


@pytest.fixture
def stack() -> Iterator[Any]:
    """The template's queues (and the key they name), deployed as the stack `sampark` on moto."""
    from moto import mock_aws

    resources = json.loads(TEMPLATE.read_text())["Resources"]
    wanted = {"AWS::SQS::Queue", "AWS::KMS::Key"}
    template = {"Resources": {name: value for name, value in resources.items() if value["Type"] in wanted}}
    with mock_aws():
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=json.dumps(template)
        )
        yield boto3.client("sqs", region_name=REGION)


def url(sqs: Any, name: str) -> str:
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def dead_letter(sqs: Any, *bodies: str, queue: str = DLQ) -> list[str]:
    """Messages as they sit in a dead-letter queue (with message attributes and a trace header); their ids."""
    ids = []
    for number, body in enumerate(bodies):
        ids.append(
            sqs.send_message(
                QueueUrl=url(sqs, queue),
                MessageBody=body,
                MessageAttributes={
                    "channel": {"DataType": "String", "StringValue": "sms"},
                    "attempt": {"DataType": "Number", "StringValue": str(number)},
                    "digest": {"DataType": "Binary", "BinaryValue": bytes([number, 255])},
                },
                MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}},
            )["MessageId"]
        )
    return ids


def drain(sqs: Any, name: str) -> list[dict[str, Any]]:
    """Every message now visible in a queue, received and deleted."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url(sqs, name),
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    ).get("Messages", []):
        messages.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=url(sqs, name), ReceiptHandle=message["ReceiptHandle"])
    return messages


def count(sqs: Any, name: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url(sqs, name), AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def replay(*arguments: str, session: Any = None) -> int:
    return replay_dlq.main(["--stack-name", STACK, *arguments], session=session or Clients(), wait_seconds=0)


def record(payload: Any, function_arn: str = FUNCTION_ARN, condition: str = "RetriesExhausted") -> str:
    """An on-failure invocation record, in the format of Lambda's documentation (see tools/replay_dlq.py)."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-28T10:16:05.568Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-4a0d-8880-a18cdf61200e",
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": 1,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "RuntimeError", "errorMessage": "table unavailable"},
        }
    )


# --- (a) a redrive dead-letter queue goes back to its source ---------------------------------------------------


@pytest.mark.parametrize("given", ["name", "logical id", "url"])
def test_the_messages_go_back_to_their_source_queue_as_they_were(stack, capsys, given):
    bodies = ["delivery of tip 1 to 98xxxxxx01", "delivery of tip 2", "délivrance ३"]
    ids = dead_letter(stack, *bodies)
    queue = {"name": DLQ, "logical id": "DeliveriesDeadLetterQueue", "url": url(stack, DLQ)}[given]
    sent: list[dict[str, Any]] = []
    stack.meta.events.register("before-parameter-build.sqs.SendMessageBatch", lambda params, **_: sent.append(params))

    assert replay("--queue", queue, session=Clients(sqs=stack)) == 0

    moved = drain(stack, SOURCE)
    assert sorted(message["Body"] for message in moved) == sorted(bodies)
    for message in moved:
        number = int(message["MessageAttributes"]["attempt"]["StringValue"])
        assert message["MessageAttributes"] == {
            "channel": {"DataType": "String", "StringValue": "sms"},
            "attempt": {"DataType": "Number", "StringValue": str(number)},
            "digest": {"DataType": "Binary", "BinaryValue": bytes([number, 255])},
        }
        assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # a fresh start in the source queue
    # The X-Ray trace header goes along too (moto's SendMessageBatch drops it: checked on the request).
    [request] = sent
    assert [entry["MessageSystemAttributes"] for entry in request["Entries"]] == 3 * [
        {"AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}}
    ]
    assert count(stack, DLQ) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "moved 3, failed 0, left 0"
    assert all(f"moved {message_id} to {SOURCE}" in out for message_id in ids)
    assert not any(body in out for body in bodies)  # ids and counts only: bodies may hold citizens' messages


# --- (b) a message that could not be sent stays ----------------------------------------------------------------


def test_a_message_whose_send_fails_stays_in_the_dead_letter_queue_alone(stack, capsys, monkeypatch):
    ids = dead_letter(stack, "tip 1", "tip 2", "tip 3")
    real_send = stack.send_message_batch
    attempts: list[str] = []

    def send_failing_tip_2(QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        failing = [entry for entry in Entries if entry["MessageBody"] == "tip 2"]
        attempts.extend(entry["MessageBody"] for entry in failing)
        response = real_send(QueueUrl=QueueUrl, Entries=[entry for entry in Entries if entry not in failing])
        response["Failed"] = [
            {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            for entry in failing
        ]
        return response

    monkeypatch.setattr(stack, "send_message_batch", send_failing_tip_2)
    # The failed message is visible again at once: it must be tried once, not again and again in the same run.
    monkeypatch.setattr(replay_dlq, "VISIBILITY_TIMEOUT_SECONDS", 0)

    assert replay("--queue", DLQ, session=Clients(sqs=stack)) == 1

    assert attempts == ["tip 2"]
    assert sorted(message["Body"] for message in drain(stack, SOURCE)) == ["tip 1", "tip 3"]
    [left] = drain(stack, DLQ)
    assert (left["Body"], left["MessageId"]) == ("tip 2", ids[1])
    out = capsys.readouterr().out
    assert f"failed {ids[1]}: InternalError" in out
    assert out.splitlines()[-1] == "moved 2, failed 1, left 1"


def test_when_the_source_queue_refuses_every_send_it_stops_and_nothing_is_lost(stack, capsys, monkeypatch):
    dead_letter(stack, *(f"tip {number}" for number in range(12)))

    def denied(**_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "KMS.AccessDeniedException", "Message": "injected"}}, "SendMessageBatch")

    monkeypatch.setattr(stack, "send_message_batch", denied)

    assert replay("--queue", DLQ, session=Clients(sqs=stack)) == 1

    assert count(stack, DLQ) == 12
    assert count(stack, SOURCE) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == "moved 0, failed 10, left 12"  # the first batch, then it stopped
    assert "KMS.AccessDeniedException" in captured.err


# --- (c) --max and (d) --dry-run ---------------------------------------------------------------------------------


def test_max_moves_at_most_that_many(stack, capsys):
    dead_letter(stack, *(f"tip {number}" for number in range(13)))

    assert replay("--queue", DLQ, "--max", "12") == 0

    assert count(stack, SOURCE) == 12
    assert count(stack, DLQ) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "moved 12, failed 0, left 1"


def test_a_dry_run_shows_what_would_move_and_moves_nothing(stack, capsys):
    ids = dead_letter(stack, "tip 1", "tip 2", "tip 3")

    assert replay("--queue", "DeliveriesDeadLetterQueue", "--dry-run") == 0

    assert count(stack, SOURCE) == 0
    assert len(drain(stack, DLQ)) == 3  # all still there, and visible again at once
    out = capsys.readouterr().out
    assert all(f"would move {message_id} to {SOURCE}" in out for message_id in ids)
    assert out.splitlines()[-1] == "dry run: would move 3, would leave 0; moved 0, failed 0, left 3"


# --- (e) Lambda's on-failure queues: the function is invoked again ------------------------------------------------


def test_an_invocation_record_is_replayed_as_an_asynchronous_invocation_then_deleted(stack, capsys):
    payloads = [{"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "STOP 98xxxxxx01"}}]}, {"time": "2026"}]
    ids = dead_letter(stack, *(record(payload) for payload in payloads), queue=FAILURES)
    lambda_client = RecordingLambda()

    assert replay("--queue", "AsyncFailuresQueue", session=Clients(**{"lambda": lambda_client})) == 0

    assert [call["FunctionName"] for call in lambda_client.calls] == [FUNCTION_ARN, FUNCTION_ARN]
    assert {call["InvocationType"] for call in lambda_client.calls} == {"Event"}
    assert sorted((json.loads(call["Payload"]) for call in lambda_client.calls), key=str) == sorted(payloads, key=str)
    assert count(stack, FAILURES) == 0
    out = capsys.readouterr().out
    assert all(f"invoked sampark-SyncSubscriptions-1A2B3C:$LATEST for {message_id}" in out for message_id in ids)
    assert "98xxxxxx01" not in out
    assert out.splitlines()[-1] == "moved 2, failed 0, left 0"


def test_what_cannot_be_invoked_again_stays_in_the_on_failure_queue(stack, capsys, monkeypatch):
    missing = FUNCTION_ARN.replace("SyncSubscriptions", "Deleted")
    elsewhere = FUNCTION_ARN.replace(ACCOUNT_ID, "999999999999")
    bodies = [
        record({"ok": 1}),
        record({"gone": 1}, function_arn=missing),
        record({"other account": 1}, function_arn=elsewhere),
        record({"fine": 1}, condition="Success"),
        "not a record",
    ]
    ids = dead_letter(stack, *bodies, queue="sampark-inbound-sms-dlq")
    lambda_client = RecordingLambda(failing={missing: "ResourceNotFoundException"})
    monkeypatch.setattr(replay_dlq, "VISIBILITY_TIMEOUT_SECONDS", 0)

    assert replay("--queue", "InboundSmsDeadLetterQueue", session=Clients(**{"lambda": lambda_client})) == 1

    assert [json.loads(call["Payload"]) for call in lambda_client.calls] == [{"ok": 1}, {"gone": 1}]
    assert sorted(message["Body"] for message in drain(stack, "sampark-inbound-sms-dlq")) == sorted(bodies[1:])
    out = capsys.readouterr().out
    assert f"failed {ids[1]}: ResourceNotFoundException" in out
    assert f"failed {ids[2]}: not a function of this account and region" in out
    assert f"failed {ids[3]}: a record of a successful invocation" in out
    assert f"failed {ids[4]}: not a Lambda invocation record" in out
    assert out.splitlines()[-1] == "moved 1, failed 4, left 4"


def test_a_dry_run_of_an_on_failure_queue_invokes_nothing(stack, capsys):
    [message_id] = dead_letter(stack, record({"n": 1}), queue=FAILURES)
    lambda_client = RecordingLambda()

    assert replay("--queue", FAILURES, "--dry-run", session=Clients(**{"lambda": lambda_client})) == 0

    assert lambda_client.calls == []
    assert count(stack, FAILURES) == 1
    out = capsys.readouterr().out
    assert f"would invoke sampark-SyncSubscriptions-1A2B3C:$LATEST for {message_id} (RetriesExhausted" in out


# --- (f) what is not a dead-letter queue ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("NoSuchQueue", "nor a resource NoSuchQueue in stack sampark"),
        ("DataKey", "DataKey of stack sampark is a AWS::KMS::Key, not a queue"),
        (f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/sampark-nope-dlq", "no queue https://"),
        (SOURCE, "sampark-deliveries is not a dead-letter queue"),
    ],
)
def test_what_is_not_a_dead_letter_queue_is_refused_clearly(stack, capsys, given, said):
    dead_letter(stack, "a tip", queue=SOURCE)

    assert replay("--queue", given) == 1

    captured = capsys.readouterr()
    assert said in captured.err
    assert captured.err.startswith("make replay-dlq: ")
    assert count(stack, SOURCE) == 1
    assert len(drain(stack, SOURCE)) == 1  # not even received: still visible


def test_an_empty_queue_argument_is_refused():
    with pytest.raises(SystemExit):
        replay_dlq.main(["--queue", ""])
