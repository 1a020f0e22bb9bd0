"""SMS replies on moto: acknowledgements, status answers, officers' questions and new-tip notices go out as DLT
templates through shared/sms.py, from the two-way number, and are deferred, retried or failed like any channel's.

The inbound SMS are the fixtures of tests/events/sms/, published to the inbound topic as AWS End User Messaging
would; what the app publishes is read from the real requests (tests/sms_helpers.py: moto drops SMS attributes).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from shared import clock, notices, recording, sms
from shared.aws.clients import client
from shared.channels.sms import INBOUND_TOPIC
from tests.conftest import load_event
from tests.helpers import table_items, tips
from tests.officers import SUPERVISOR, json_of
from tests.sms_helpers import REGION, attribute_values, record_publishes, sent_sms
from tools import resend_acks as resend_acks_tool
from tools.local_stack import DEVELOPMENT_SETTINGS

REFERENCE = "DHN-7K3QM"  # the tip of text_english.json; status_query_*.json ask about it
INFORMANT = "+919000011101"  # text_english.json, status_query_own.json
STRANGER = "+919000011108"  # status_query_other_sender.json
TWO_WAY_NUMBER = DEVELOPMENT_SETTINGS["SMS_TWO_WAY_NUMBER"]
DLT_SETTINGS = ("SMS_SENDER_ID", "DLT_ENTITY_ID", "DLT_TEMPLATES_FILE", "SMS_TWO_WAY_NUMBER")


def configure_dlt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings of `make run`: the demo templates (tools/demo-dlt-templates.json) and the two-way number."""
    for name in DLT_SETTINGS:
        monkeypatch.setenv(name, DEVELOPMENT_SETTINGS[name])
    sms.reset()


@pytest.fixture(autouse=True)
def _fresh_templates():
    sms.reset()
    yield
    sms.reset()


@pytest.fixture
def dlt(aws, monkeypatch) -> None:
    configure_dlt(monkeypatch)


@pytest.fixture
def publishes(aws) -> list[dict[str, Any]]:
    return record_publishes()


@pytest.fixture(autouse=True)
def known_reference(monkeypatch) -> None:
    monkeypatch.setattr(recording, "new_reference", lambda: REFERENCE)


def receive(stack: Any, fixture: str) -> None:
    """Publish an inbound SMS fixture to the topic AWS End User Messaging publishes to."""
    topic_arn = stack.topic_for_name(INBOUND_TOPIC)["Ref"]
    boto3.client("sns", region_name=REGION).publish(TopicArn=topic_arn, Message=load_event("sms", fixture).decode())


def sms_to_phones(publishes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for call in publishes if "PhoneNumber" in call]


def to_topics(publishes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for call in publishes if "TopicArn" in call]


def template_id(purpose: str) -> str:
    return sms.templates()[purpose].id


def dlt_attributes(purpose: str, **origin: str) -> dict[str, str]:
    return {
        "AWS.SNS.SMS.SMSType": "Transactional",
        **origin,
        "AWS.MM.SMS.EntityId": DEVELOPMENT_SETTINGS["DLT_ENTITY_ID"],
        "AWS.MM.SMS.TemplateId": template_id(purpose),
    }


# India's long codes receive only: answers go out under the DLT header too (shared/sms.py, two_way_number).
FROM_SENDER_ID = {"AWS.SNS.SMS.SenderID": DEVELOPMENT_SETTINGS["SMS_SENDER_ID"]}


def ack_status(stack: Any) -> str:
    [tip] = tips(stack)
    return tip["ack_status"]["S"]


def raise_on_sms(code: str, times: int) -> None:
    """SNS answers ``code`` to the next ``times`` SMS publishes (its message quotes the number, as SNS's can)."""
    remaining = [times]

    def fail(params: dict[str, Any], **_: Any) -> None:
        if "PhoneNumber" in params and remaining[0] > 0:
            remaining[0] -= 1
            error = {"Code": code, "Message": f"Invalid parameter: PhoneNumber {params['PhoneNumber']}"}
            raise ClientError({"Error": error}, "Publish")

    client("sns").meta.events.register("before-parameter-build.sns.Publish", fail)


def leaked_numbers(capsys) -> list[str]:
    logs = capsys.readouterr().out
    return [number for number in (INFORMANT, STRANGER, INFORMANT[3:], STRANGER[3:]) if number in logs]


# --- acknowledgements ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("two_way_number", "origin"),
    [
        pytest.param(TWO_WAY_NUMBER, FROM_SENDER_ID, id="with-a-two-way-number"),
        pytest.param(None, FROM_SENDER_ID, id="without-one"),
    ],
)
def test_an_sms_tip_is_acknowledged_by_its_dlt_template(
    aws, dispatcher, dlt, publishes, monkeypatch, capsys, two_way_number, origin
):
    if two_way_number is None:
        monkeypatch.delenv("SMS_TWO_WAY_NUMBER")

    receive(aws, "text_english")
    dispatcher.drain()

    assert ack_status(aws) == "sent"
    (call,) = sms_to_phones(publishes)
    assert call["PhoneNumber"] == INFORMANT
    assert call["Message"] == sms.render("acknowledgement", {"reference": REFERENCE}).text
    assert attribute_values(call) == dlt_attributes("acknowledgement", **origin)
    assert list(sent_sms().values()) == [(INFORMANT, call["Message"])]
    assert leaked_numbers(capsys) == []


def test_without_the_dlt_settings_the_acknowledgement_waits_and_goes_out_once_they_exist(
    aws, dispatcher, publishes, monkeypatch, capsys
):
    # GIVEN no DLT settings: the SMS tip is recorded, its acknowledgement deferred, the missing setting logged
    receive(aws, "text_english")
    dispatcher.drain()
    assert ack_status(aws) == "pending"
    assert sms_to_phones(publishes) == [] and sent_sms() == {}
    logs = capsys.readouterr().out
    assert "SMS replies wait for the DLT settings" in logs and "setting SMS_SENDER_ID is not configured" in logs

    # WHEN the district configures them and runs `make resend-acks` (twice, as an operator might)
    configure_dlt(monkeypatch)
    assert resend_acks(capsys, "--dry-run") == "would queue 1 pending sms acknowledgement(s) of the last 7 days"
    dispatcher.drain()
    assert ack_status(aws) == "pending"
    assert resend_acks(capsys) == "queued 1 pending sms acknowledgement(s) of the last 7 days"
    dispatcher.drain()

    # THEN it goes out, once
    assert ack_status(aws) == "sent"
    (call,) = sms_to_phones(publishes)
    assert attribute_values(call) == dlt_attributes("acknowledgement", **FROM_SENDER_ID)
    assert resend_acks(capsys) == "queued 0 pending sms acknowledgement(s) of the last 7 days"
    dispatcher.drain()
    assert len(sms_to_phones(publishes)) == 1


def test_resending_acknowledgements_looks_back_only_the_days_asked(aws, dispatcher, publishes, monkeypatch, capsys):
    receive(aws, "text_english")
    dispatcher.drain()
    configure_dlt(monkeypatch)
    later = clock.now() + timedelta(days=3)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert resend_acks(capsys, "--days", "2") == "queued 0 pending sms acknowledgement(s) of the last 2 days"
    assert resend_acks(capsys, "--days", "4") == "queued 1 pending sms acknowledgement(s) of the last 4 days"
    dispatcher.drain()
    assert ack_status(aws) == "sent"


class _Stack:
    """The deployed stack's resources as CloudFormation names them: here, the test stack's."""

    region_name = REGION

    def client(self, service: str) -> _Stack:
        assert service == "cloudformation"
        return self

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
        setting = resend_acks_tool.RESOURCES[LogicalResourceId]
        return {"StackResourceDetail": {"PhysicalResourceId": os.environ[setting]}}


def resend_acks(capsys, *arguments: str) -> str:
    capsys.readouterr()
    assert resend_acks_tool.main(["--stack-name", "sampark", *arguments], session=_Stack()) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("fixture", "sns_error"),
    [
        pytest.param("text_foreign_number", None, id="not-an-indian-mobile"),
        pytest.param("text_english", "InvalidParameter", id="sns-refuses"),
    ],
)
def test_an_sms_that_can_never_be_sent_marks_the_acknowledgement_failed(
    aws, dispatcher, dlt, publishes, capsys, fixture, sns_error
):
    if sns_error:
        raise_on_sms(sns_error, times=1)

    receive(aws, fixture)
    dispatcher.drain()

    assert ack_status(aws) == "failed"
    assert len(sms_to_phones(publishes)) == (1 if sns_error else 0)
    assert sent_sms() == {}
    logs = capsys.readouterr().out
    assert "reply refused by the platform" in logs
    assert "+447700900123" not in logs and INFORMANT[3:] not in logs


@pytest.mark.parametrize("code", ["Throttling", "ThrottledException", "InternalError", "ServiceUnavailable"])
def test_a_throttled_sms_is_retried_until_it_goes_out(aws, dispatcher, dlt, publishes, capsys, code):
    # GIVEN SNS throttles the first attempt, and a failed job comes back at once
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.set_queue_attributes(QueueUrl=aws.physical["RepliesQueue"]["Ref"], Attributes={"VisibilityTimeout": "0"})
    raise_on_sms(code, times=1)

    receive(aws, "text_english")
    dispatcher.drain()

    # THEN the retry sends it: two attempts, one SMS, nothing dead-lettered
    assert ack_status(aws) == "sent"
    assert [call["PhoneNumber"] for call in sms_to_phones(publishes)] == [INFORMANT, INFORMANT]
    assert len(sent_sms()) == 1
    dead = sqs.receive_message(QueueUrl=aws.physical["RepliesDeadLetterQueue"]["Ref"])
    assert dead.get("Messages", []) == []
    assert leaked_numbers(capsys) == []


# --- status by reference -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "recipient", "purpose", "values"),
    [
        pytest.param(
            "status_query_own",
            INFORMANT,
            "status",
            {"reference": REFERENCE, "status_hi": "प्राप्त हुआ, समीक्षा बाकी है", "status_en": "received, awaiting review"},
            id="own-tip",
        ),
        pytest.param("status_query_other_sender", STRANGER, "status_not_found", {}, id="someone-elses-tip"),
    ],
)
def test_a_status_query_by_sms_is_answered_by_its_template(
    aws, dispatcher, dlt, publishes, capsys, fixture, recipient, purpose, values
):
    receive(aws, "text_english")  # the informant's tip DHN-7K3QM
    dispatcher.drain()

    receive(aws, fixture)
    dispatcher.drain()

    acknowledgement, answer = sms_to_phones(publishes)
    assert acknowledgement["PhoneNumber"] == INFORMANT
    assert answer["PhoneNumber"] == recipient
    assert answer["Message"] == sms.render(purpose, values).text
    assert attribute_values(answer) == dlt_attributes(purpose, **FROM_SENDER_ID)
    assert len(tips(aws)) == 1  # a question is not a tip
    assert leaked_numbers(capsys) == []


# --- officers' questions --------------------------------------------------------------------------------------


@pytest.fixture
def sms_tip(aws, dispatcher) -> str:
    receive(aws, "text_english")
    dispatcher.drain()
    [tip] = tips(aws)
    return tip["tip_id"]["S"]


def followup_items(stack: Any) -> list[dict[str, Any]]:
    return [item for item in table_items(stack) if item["sk"]["S"].startswith("FOLLOWUP#")]


def test_an_officers_question_goes_by_sms_in_the_followup_template(
    officer_api, aws, dispatcher, dlt, sms_tip, publishes
):
    assert json_of(officer_api.get(f"/tips/{sms_tip}", groups=SUPERVISOR))["follow_up"]["possible"] is True

    response = officer_api.post(f"/tips/{sms_tip}/messages", groups=SUPERVISOR, body={"text": "गाड़ी का रंग क्या था?"})
    assert response.status_code == 202
    dispatcher.drain()

    (call,) = sms_to_phones(publishes)
    assert call["PhoneNumber"] == INFORMANT
    assert call["Message"] == sms.render("followup", {"reference": REFERENCE, "question": "गाड़ी का रंग क्या था?"}).text
    assert attribute_values(call) == dlt_attributes("followup", **FROM_SENDER_ID)
    [police] = [
        m for m in json_of(officer_api.get(f"/tips/{sms_tip}", groups=SUPERVISOR))["messages"] if m["from"] == "police"
    ]
    assert police["status"] == "sent"


@pytest.mark.parametrize(
    ("two_way_number", "question", "status", "reason"),
    [
        pytest.param(None, "Which house?", 409, "need the district's two-way SMS number", id="no-two-way-number"),
        pytest.param("12345", "Which house?", 409, "need a valid two-way SMS number", id="malformed-two-way-number"),
        pytest.param(
            TWO_WAY_NUMBER,
            "Which house, and at what time?!",  # 31 characters
            400,
            "an SMS question is at most 30 characters (DLT variable limit)",
            id="over-the-dlt-variable",
        ),
        pytest.param(TWO_WAY_NUMBER, "Which house?\nWhich street?", 400, "must be one line", id="two-lines"),
        pytest.param(TWO_WAY_NUMBER, "Which house? 🏠", 400, "without emoji", id="emoji"),
    ],
)
def test_a_question_sms_cannot_carry_is_refused_before_it_is_kept(
    officer_api, aws, dispatcher, dlt, sms_tip, publishes, monkeypatch, two_way_number, question, status, reason
):
    if two_way_number is None:
        monkeypatch.delenv("SMS_TWO_WAY_NUMBER")
    else:
        monkeypatch.setenv("SMS_TWO_WAY_NUMBER", two_way_number)

    response = officer_api.post(f"/tips/{sms_tip}/messages", groups=SUPERVISOR, body={"text": question})

    assert response.status_code == status
    assert reason in json_of(response)["error"]
    assert followup_items(aws) == []
    dispatcher.drain()
    assert sms_to_phones(publishes) == []  # nothing after the acknowledgement (sent before ``publishes`` records)
    follow_up = json_of(officer_api.get(f"/tips/{sms_tip}", groups=SUPERVISOR))["follow_up"]
    assert follow_up["possible"] is (status == 400)


# --- new-tip notices to officers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("area_id", "area_name"), [(None, "no police area yet"), ("jharia", "Jharia")], ids=["unassigned", "jharia"]
)
def test_the_new_tip_notice_is_the_new_tip_template_with_its_dlt_attributes(
    officer_api, aws, dispatcher, dlt, publishes, area_id, area_name
):
    receive(aws, "text_english")  # no location: the tip has no area
    dispatcher.drain()
    if area_id:
        [tip] = tips(aws)
        officer_api.patch(f"/tips/{tip['tip_id']['S']}", groups=SUPERVISOR, body={"area_id": area_id})
        dispatcher.drain()

    notice = to_topics(publishes)[-1]
    assert notice["TopicArn"] == notices.topic_arn(area_id)
    assert notice["Subject"] == f"Sampark: new tip {REFERENCE}"
    assert "MessageStructure" not in notice  # attributes are sent only with a String message
    assert notice["Message"] == sms.render("new_tip", {"reference": REFERENCE, "area": area_name}).text
    assert attribute_values(notice) == dlt_attributes("new_tip", **FROM_SENDER_ID)


def test_without_the_dlt_settings_the_new_tip_notice_is_todays_email(aws, dispatcher, publishes, capsys):
    receive(aws, "text_english")
    dispatcher.drain()

    (notice,) = to_topics(publishes)
    assert notice["TopicArn"] == notices.topic_arn(None)
    assert notice["Message"].startswith(
        f"नई सूचना {REFERENCE} — क्षेत्र तय नहीं\nNew tip {REFERENCE} in no police area yet."
    )
    assert "MessageAttributes" not in notice
    assert "new-tip notice sent without SMS attributes" in capsys.readouterr().out
