"""Inbound SMS end to end on moto: published to the SNS topic of infra/resources.json, run by the dispatcher as
Lambda's SNS trigger would (one record per asynchronous invocation, retries, then the on-failure queue)."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from shared.channels.sms import INBOUND_TOPIC
from tests.conftest import EVENTS, load_event
from tests.helpers import table_items, tips
from tools.resources import async_invoke_config

REGION = "ap-south-1"
FIXTURE_SENDERS = sorted(
    {json.loads(path.read_bytes())["originationNumber"] for path in (EVENTS / "sms").glob("*.json")}, key=str
)


def publish(stack: Any, message: bytes | str, *, subject: str | None = None) -> str:
    """Publish ``message`` (bytes or a fixture name) to the inbound topic as AWS End User Messaging would."""
    raw = load_event("sms", message) if isinstance(message, str) else message
    topic_arn = stack.topic_for_name(INBOUND_TOPIC)["Ref"]
    extra = {"Subject": subject} if subject else {}
    return boto3.client("sns", region_name=REGION).publish(TopicArn=topic_arn, Message=raw.decode(), **extra)[
        "MessageId"
    ]


def dead_letters(stack: Any) -> list[dict[str, Any]]:
    queue_name = async_invoke_config("receive_sms").on_failure_queue
    url = stack.queue_for_name(queue_name)["Ref"]
    response = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in response.get("Messages", [])]


def texts(tip: dict[str, Any]) -> list[str]:
    return [text["S"] for text in tip["texts"]["L"]]


# --- fixtures -> tips ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected_tips"),
    [
        ("text_english", 1),
        ("text_hinglish", 1),
        ("text_hindi", 1),
        ("multipart_part1", 1),
        ("multipart_part2", 1),
        ("text_foreign_number", 1),
        ("status_query_own", 0),  # a question about a tip is not a tip
        ("status_query_other_sender", 0),
        ("keyword_stop", 0),
        ("empty_body", 0),
        ("malformed_fields", 0),
    ],
)
def test_fixture_published_to_the_topic_makes_the_expected_tips(aws, dispatcher, case, expected_tips):
    publish(aws, case)
    assert dispatcher.drain() >= 1
    found = tips(aws)
    assert len(found) == expected_tips
    for tip in found:
        assert tip["channel"]["S"] == "sms"
        assert texts(tip) == [json.loads(load_event("sms", case))["messageBody"]]
        assert tip["message_count"]["N"] == "1"
        assert tip["media_count"]["N"] == "0"
    assert dead_letters(aws) == []


def test_hindi_text_arrives_intact(aws, dispatcher):
    publish(aws, "text_hindi")
    dispatcher.drain()
    [tip] = tips(aws)
    assert texts(tip) == ["हीरापुर में राशन दुकान का चावल खुले बाज़ार में बेचा जा रहा है।"]


def test_the_same_inbound_message_published_twice_is_one_tip(aws, dispatcher):
    # SNS and Lambda deliver at least once: the inboundMessageId is the dedupe key.
    publish(aws, "text_english")
    dispatcher.drain()
    publish(aws, "text_english")
    dispatcher.drain()
    [tip] = tips(aws)
    assert tip["message_count"]["N"] == "1"
    assert texts(tip) == [json.loads(load_event("sms", "text_english"))["messageBody"]]


def test_the_parts_of_a_long_sms_join_one_tip_in_whatever_order_they_arrive(aws, dispatcher):
    publish(aws, "multipart_part2")  # inbound SMS is not ordered
    dispatcher.drain()
    publish(aws, "multipart_part1")
    dispatcher.drain()
    [tip] = tips(aws)
    assert tip["message_count"]["N"] == "2"
    parts = [json.loads(load_event("sms", f"multipart_part{n}"))["messageBody"] for n in (1, 2)]
    assert sorted(texts(tip)) == sorted(parts)


def test_stop_is_no_tip_but_an_opt_out(aws, dispatcher):
    publish(aws, "keyword_stop")
    dispatcher.drain()
    keys = sorted(item["pk"]["S"].split("#")[0] for item in table_items(aws))
    # No tip, no open tip: the number's opt-out, its consent line, and the message's dedupe record.
    assert keys == ["CONSENT", "MSG", "OPTOUT"]
    assert dead_letters(aws) == []


def test_the_acknowledgement_of_an_sms_tip_stays_pending_without_the_dlt_settings(aws, dispatcher):
    # No DLT settings here: the SMS adapter fails closed and the reply worker defers, never fails
    # (tests/functional/test_sms_replies.py sends them with the settings).
    publish(aws, "text_english")
    dispatcher.drain()
    [tip] = tips(aws)
    assert tip["ack_status"]["S"] == "pending"
    assert dead_letters(aws) == []


# --- Lambda's asynchronous invocation: one record per event, retries, on-failure destination ------------------


def test_the_function_gets_one_lambda_shaped_sns_record_per_message(aws, dispatcher):
    (subscription,) = dispatcher.subscriptions
    events: list[dict[str, Any]] = []
    subscription.handler = lambda event, context: events.append(event)
    message_ids = [publish(aws, "multipart_part1", subject="inbound"), publish(aws, "multipart_part2")]
    assert dispatcher.drain() == 2
    assert [len(event["Records"]) for event in events] == [1, 1]
    records = [event["Records"][0] for event in events]
    assert {record["Sns"]["MessageId"] for record in records} == set(message_ids)
    for record in records:
        assert record["EventSource"] == "aws:sns"
        assert record["EventVersion"] == "1.0"
        assert record["EventSubscriptionArn"] == subscription.subscription_arn
        assert record["Sns"]["Type"] == "Notification"
        assert record["Sns"]["TopicArn"] == aws.topic_for_name(INBOUND_TOPIC)["Ref"]
        assert record["Sns"]["Timestamp"].endswith("Z")
        assert record["Sns"]["MessageAttributes"] == {}
    by_id = {record["Sns"]["MessageId"]: record["Sns"] for record in records}
    assert by_id[message_ids[0]]["Subject"] == "inbound"
    assert by_id[message_ids[1]]["Subject"] is None
    assert by_id[message_ids[0]]["Message"].encode() == load_event("sms", "multipart_part1")  # the JSON string


def test_a_failing_handler_is_retried_twice_then_its_event_goes_to_the_on_failure_queue(aws, dispatcher, monkeypatch):
    calls = []

    def broken(channel, raw_body, received_at):
        calls.append(raw_body)
        raise RuntimeError("table unavailable")

    monkeypatch.setattr("shared.recording.record_delivery", broken)
    message_id = publish(aws, "text_english")
    dispatcher.drain()
    assert len(calls) == 1 + async_invoke_config("receive_sms").maximum_retry_attempts == 3
    assert tips(aws) == []
    [record] = dead_letters(aws)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"] == {"errorType": "RuntimeError", "errorMessage": "table unavailable"}
    [sns_record] = record["requestPayload"]["Records"]
    assert sns_record["Sns"]["MessageId"] == message_id
    assert sns_record["Sns"]["Message"].encode() == load_event("sms", "text_english")
    assert dispatcher.drain() == 0  # nothing left to retry


def test_a_failure_that_passes_is_recorded_once_on_the_retry(aws, dispatcher, monkeypatch):
    from shared import recording

    real = recording.record_delivery
    attempts = []

    def flaky(*args):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("throttled")
        return real(*args)

    monkeypatch.setattr("shared.recording.record_delivery", flaky)
    publish(aws, "text_hindi")
    dispatcher.drain()
    assert len(attempts) == 2
    assert len(tips(aws)) == 1
    assert dead_letters(aws) == []


def test_a_message_that_is_not_json_is_dead_lettered_not_dropped(aws, dispatcher):
    publish(aws, b"this is not json")
    dispatcher.drain()
    [record] = dead_letters(aws)
    assert record["responsePayload"]["errorType"] == "MalformedPayloadError"
    assert tips(aws) == []


def test_a_dispatcher_built_like_make_run_builds_it_uses_the_stack_it_is_given(aws):
    from app import app
    from tools.dispatcher import LocalDispatcher

    def queue(name: str) -> tuple[str, str]:
        return aws.queue_for_name(name)["Ref"], aws.queue_for_name(name)["Arn"]

    dispatcher = LocalDispatcher(
        app,
        boto3.client("sqs", region_name=REGION),
        queue,
        sns_client=boto3.client("sns", region_name=REGION),
        topic_lookup=lambda name: aws.topic_for_name(name)["Ref"],
    )
    publish(aws, "text_english")
    dispatcher.drain()
    assert len(tips(aws)) == 1


# --- privacy -----------------------------------------------------------------------------------------------


def _forms(number: Any) -> set[str]:
    digits = str(number).lstrip("+")
    return {"+" + digits, digits, digits[-10:]}


def test_no_phone_number_is_stored_or_logged(aws, dispatcher, capsys, caplog):
    # GIVEN every SMS fixture published, one of them twice
    for path in sorted((EVENTS / "sms").glob("*.json")):
        publish(aws, path.read_bytes())
    publish(aws, "text_english")
    # WHEN everything is processed, the reply worker included
    dispatcher.drain()
    # THEN tips exist, yet no sender's number appears in any item (binary values decoded too) or log line
    items = table_items(aws)
    # english, hinglish, hindi, the two parts joined, the foreign number; the status queries are no tips
    assert sum(item["sk"]["S"] == "TIP" for item in items) == 5
    stored = json.dumps(items, ensure_ascii=False, default=str)
    stored += "".join(
        (value["B"] if isinstance(value["B"], bytes) else base64.b64decode(value["B"])).decode("latin-1")
        for item in items
        for value in item.values()
        if "B" in value
    )
    captured = capsys.readouterr()
    logs = captured.out + captured.err + "\n".join(record.getMessage() for record in caplog.records)
    assert "tip opened" in logs  # the logs were really captured
    leaks = sorted(form for number in FIXTURE_SENDERS for form in _forms(number) if form in stored + logs)
    assert leaks == [], {
        form: [line[:300] for line in (stored + logs).splitlines() if form in line][:2] for form in leaks
    }
