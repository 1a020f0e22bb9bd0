"""Broadcasts' dry run on moto: the texts each topic would get, the audience, the cost; nothing is ever sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.sns.models import sns_backends

from shared import sms, subscriptions
from shared.aws import alert_topics
from tests.functional.test_wanted import create
from tests.officers import OFFICER_JHARIA, SUPERVISOR, json_of
from tests.sms_helpers import record_publishes
from tools.local_stack import DEVELOPMENT_SETTINGS
from tools.resources import ACCOUNT_ID

REGION = "ap-south-1"
TEMPLATE_IDS = {  # tools/demo-dlt-templates.json
    "alert": "1007000000000000007",
    "alert_hi": "1007000000000000008",
    "otp": "1007000000000000001",
}


@pytest.fixture
def supervisor(officer_api, aws, monkeypatch) -> Any:
    for name in ("SMS_SENDER_ID", "DLT_ENTITY_ID", "DLT_TEMPLATES_FILE"):
        monkeypatch.setenv(name, DEVELOPMENT_SETTINGS[name])
    sms.reset()
    alert_topics.ensure_alert_topics()
    yield officer_api
    sms.reset()


def subscribe(count: int, area: str, language: str) -> None:
    """``count`` numbers subscribed to the area's SMS alerts (as if each had written SUBSCRIBE)."""
    name = "झरिया" if language == "hi" else area
    for n in range(count):
        assert subscriptions.subscribe_from_chat(f"+9198351{n:05d}", name, language, via="sms")


def dry_run(supervisor, body: dict[str, Any], groups=SUPERVISOR) -> Any:
    return supervisor.post("/broadcasts?dry_run=true", groups=groups, body=body)


def test_a_dry_run_of_a_notice_shows_each_text_the_audience_and_the_cost_and_sends_nothing(supervisor):
    notice = create(supervisor)
    subscribe(3, "jharia", "hi")
    publishes = record_publishes()
    body = {"wanted_id": notice["id"], "areas": ["jharia"], "languages": ["hi", "en"], "channels": ["sms", "email"]}

    response = dry_run(supervisor, body)

    assert response.status_code == 200, response.body
    answer = json_of(response)
    texts = {(t["language"], t["channel"]): t for t in answer["texts"]}
    assert set(texts) == {("hi", "sms"), ("hi", "email"), ("en", "sms"), ("en", "email")}
    assert texts[("en", "sms")]["encoding"] == "GSM-7" and "W-0001" in texts[("en", "sms")]["text"]
    assert texts[("hi", "sms")]["encoding"] == "UCS-2" and "झरिया" in texts[("hi", "sms")]["text"]
    assert texts[("hi", "sms")]["parts"] == sms.parts(texts[("hi", "sms")]["text"])
    assert "लगभग 30 वर्ष" in texts[("hi", "email")]["text"]  # the whole notice by email
    assert texts[("en", "email")]["subject"].isascii()
    assert answer["audience"]["total"] == 3
    assert answer["topics"] == 4  # one publish per area x language x channel, whatever the audience
    hindi_parts = texts[("hi", "sms")]["parts"]
    assert answer["estimate"]["sms_parts"] == 3 * hindi_parts
    assert answer["estimate"]["cost_usd"] == round(3 * hindi_parts * 0.004, 4)
    assert answer["estimate"]["sms_seconds"] == round(3 * hindi_parts / 20, 1)
    assert publishes == [] and dict(sns_backends[ACCOUNT_ID][REGION].sms_messages) == {}


@pytest.mark.parametrize(
    ("subject_chars", "encoding", "parts"),
    [(None, "GSM-7", 1), ("x", "GSM-7", 1), ("क", "UCS-2", 2)],
    ids=["latin", "latin-max", "one-devanagari-letter"],
)
def test_the_encoding_and_parts_follow_the_text(supervisor, subject_chars, encoding, parts):
    subject = "road closed near bus stand" if subject_chars is None else subject_chars * 30
    body = {
        "template_id": TEMPLATE_IDS["alert"],
        "variables": {"subject": subject},
        "areas": ["bank-more"],
        "languages": ["en"],
        "channels": ["sms"],
    }

    [text] = json_of(dry_run(supervisor, body))["texts"]

    assert (text["encoding"], text["parts"]) == (encoding, parts)
    assert subject in text["text"] and "Bank More" in text["text"]


def test_parts_at_the_gsm7_and_ucs2_boundaries(supervisor, tmp_path, monkeypatch):
    # Templates made to land exactly on 160/161 GSM-7 and 70/71 UCS-2 characters.
    templates = {
        "templates": [
            {"id": "9", "purpose": "alert", "text": "A" * 130 + "{#var#}", "variables": [_subject()]},
            {"id": "10", "purpose": "alert_hi", "text": "क" * 41 + "{#var#}", "variables": [_subject()]},
        ]
    }
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(templates, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("DLT_TEMPLATES_FILE", str(path))
    sms.reset()

    def parts_of(subject: str, language: str) -> tuple[str, int]:
        body = {"template_id": "9", "variables": {"subject": subject}, "areas": ["jharia"], "languages": [language]}
        [text] = json_of(dry_run(supervisor, {**body, "channels": ["sms"]}))["texts"]
        return text["encoding"], text["parts"]

    assert parts_of("b" * 30, "en") == ("GSM-7", 1)  # 160
    assert parts_of("b" * 29 + "€", "en") == ("GSM-7", 2)  # € takes two septets: 161
    assert parts_of("b" * 29, "hi") == ("UCS-2", 1)  # 70
    assert parts_of("b" * 30, "hi") == ("UCS-2", 2)  # 71


def _subject() -> dict[str, Any]:
    return {"name": "subject", "type": "text", "max": 30}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"areas": ["atlantis"]}, "areas: unknown 'atlantis'"),
        ({"areas": []}, "areas must be a non-empty list"),
        ({"languages": ["bn"]}, "languages: unknown 'bn'"),
        ({"channels": ["fax"]}, "channels: unknown 'fax'"),
        ({"template_id": TEMPLATE_IDS["otp"], "variables": {"code": "123456"}}, "not a registered alert template"),
        ({"template_id": "nope", "variables": {}}, "not a registered alert template"),
        ({"template_id": TEMPLATE_IDS["alert"], "variables": {"subject": "x", "more": "y"}}, "variables must be"),
        ({"template_id": TEMPLATE_IDS["alert"], "variables": {"subject": "x" * 31}}, "DLT"),
        ({"wanted_id": "no-such-notice"}, "no notice"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_a_bad_broadcast_is_refused_naming_the_problem(supervisor, body, problem):
    base = {
        "template_id": TEMPLATE_IDS["alert"],
        "variables": {"subject": "road closed"},
        "areas": ["jharia"],
        "languages": ["en"],
        "channels": ["sms"],
    }
    if "wanted_id" in body:
        del base["template_id"], base["variables"]

    response = dry_run(supervisor, {**base, **body})

    assert response.status_code == 400
    assert problem in json_of(response)["error"]


def test_a_captured_notice_cannot_be_broadcast(supervisor):
    notice = create(supervisor)
    supervisor.patch(f"/wanted/{notice['id']}", groups=SUPERVISOR, body={"status": "captured"})
    body = {"wanted_id": notice["id"], "areas": ["jharia"], "languages": ["en"], "channels": ["sms"]}

    response = dry_run(supervisor, body)

    assert response.status_code == 400 and "captured" in json_of(response)["error"]


def test_only_supervisors(supervisor):
    body = {"template_id": TEMPLATE_IDS["alert"], "variables": {"subject": "x"}, "areas": ["jharia"]}
    body |= {"languages": ["en"], "channels": ["sms"]}

    assert dry_run(supervisor, body, groups=OFFICER_JHARIA).status_code == 403
    assert supervisor.post("/broadcasts?dry_run=true", body=body).status_code == 401
    assert send(supervisor, body, groups=OFFICER_JHARIA).status_code == 403


# --- sending -----------------------------------------------------------------------------------------------------


def send(supervisor, body: dict[str, Any], key: str = "key-1", groups=SUPERVISOR) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return supervisor.request("POST", "/broadcasts", groups=groups, body=body, headers=headers)


def topic_publishes(publishes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Publishes to alert topics (not the broadcast-events topic, whose events drive the social posts)."""
    return [call for call in publishes if ":sampark-test-alerts-" in call.get("TopicArn", "")]


def topic_of(call: dict[str, Any]) -> str:
    return call["TopicArn"].rsplit(":", 1)[1].removeprefix("sampark-test-alerts-")


def notice_body(notice: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "wanted_id": notice["id"],
        "areas": ["jharia"],
        "languages": ["hi", "en"],
        "channels": ["sms", "email"],
    } | overrides


def test_a_broadcast_reaches_exactly_its_areas_topics_with_dlt_attributes_on_sms_and_a_subject_on_email(
    supervisor, dispatcher
):
    notice = create(supervisor)
    subscribe(2, "jharia", "hi")
    publishes = record_publishes()

    response = send(supervisor, notice_body(notice))
    dispatcher.drain()

    assert response.status_code == 202, response.body
    assert json_of(response)["status"] == "sending" and json_of(response)["audience"]["total"] == 2
    calls = topic_publishes(publishes)
    assert sorted(topic_of(c) for c in calls) == [
        "jharia-en-email",
        "jharia-en-sms",
        "jharia-hi-email",
        "jharia-hi-sms",
    ]
    for call in calls:
        if topic_of(call).endswith("-sms"):
            attributes = {k: v["StringValue"] for k, v in call["MessageAttributes"].items()}
            assert attributes["AWS.MM.SMS.TemplateId"] in ("1007000000000000013", "1007000000000000014")
            assert attributes["AWS.SNS.SMS.SMSType"] == "Transactional" and "Subject" not in call
        else:
            assert call["Subject"].isascii() and "W-0001" in call["Subject"] and "MessageAttributes" not in call
    record = json_of(supervisor.get(f"/broadcasts/{json_of(response)['id']}", groups=SUPERVISOR))
    assert record["status"] == "sent" and len(record["sns_message_ids"]) == 4
    assert record["created_by"] and record["delivery"] == {"delivered": None, "failed": None}


def test_the_number_of_publishes_does_not_depend_on_the_number_of_subscribers(supervisor, dispatcher):
    notice = create(supervisor)
    subscribe(25, "jharia", "hi")
    publishes = record_publishes()

    send(supervisor, notice_body(notice, languages=["hi"], channels=["sms"]))
    dispatcher.drain()

    assert len(topic_publishes(publishes)) == 1  # SNS fans out to the 25


def test_the_same_key_again_returns_the_first_broadcast_and_sends_nothing(supervisor, dispatcher):
    notice = create(supervisor)
    publishes = record_publishes()

    first = send(supervisor, notice_body(notice))
    dispatcher.drain()
    again = send(supervisor, notice_body(notice))
    dispatcher.drain()

    assert json_of(again)["id"] == json_of(first)["id"] and again.status_code == 202
    assert len(topic_publishes(publishes)) == 4
    other = send(supervisor, notice_body(notice, areas=["sindri"]))  # the same key for another broadcast
    assert other.status_code == 409


def test_the_same_key_in_two_requests_at_once_sends_once(supervisor, dispatcher):
    from shared.storage.transactions import connection

    notice = create(supervisor)
    publishes = record_publishes()
    answers: list[Any] = []
    started: list[bool] = []

    def the_other_request_first(**_: Any) -> None:
        # The second request reaches DynamoDB first: the first one's write of the key must then lose.
        if not started:
            started.append(True)
            answers.append(send(supervisor, notice_body(notice)))

    dynamodb = connection(REGION).client
    dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", the_other_request_first)
    try:
        first = send(supervisor, notice_body(notice))
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.TransactWriteItems", the_other_request_first)
    dispatcher.drain()

    assert first.status_code == answers[0].status_code == 202
    assert json_of(first)["id"] == json_of(answers[0])["id"]
    assert len(topic_publishes(publishes)) == 4


def test_a_broadcast_without_an_idempotency_key_is_refused(supervisor):
    notice = create(supervisor)

    response = send(supervisor, notice_body(notice), key="")

    assert response.status_code == 400 and "Idempotency-Key" in json_of(response)["error"]


def test_a_large_audience_waits_for_a_second_supervisors_approval(supervisor, dispatcher, monkeypatch):
    monkeypatch.setenv("BROADCAST_APPROVAL_THRESHOLD", "2")
    notice = create(supervisor)
    subscribe(3, "jharia", "hi")
    publishes = record_publishes()

    created = json_of(send(supervisor, notice_body(notice), groups=SUPERVISOR))
    dispatcher.drain()
    assert created["status"] == "pending_approval" and topic_publishes(publishes) == []

    by_the_sender = supervisor.post(f"/broadcasts/{created['id']}/approve", groups=SUPERVISOR)
    assert by_the_sender.status_code == 403  # the one who created it cannot approve it
    by_an_officer = supervisor.post(f"/broadcasts/{created['id']}/approve", groups=OFFICER_JHARIA)
    assert by_an_officer.status_code == 403

    approved = supervisor.request("POST", f"/broadcasts/{created['id']}/approve", headers=other_supervisor_token())
    dispatcher.drain()

    assert approved.status_code == 200 and json_of(approved)["approved_by"] == "second-supervisor"
    assert len(topic_publishes(publishes)) == 4
    again = supervisor.request("POST", f"/broadcasts/{created['id']}/approve", headers=other_supervisor_token())
    assert again.status_code == 409


def other_supervisor_token() -> dict[str, str]:
    from tests.officers import bearer

    return bearer("supervisor", username="second-supervisor", sub="second-supervisor-subject")


def test_a_notice_captured_before_sending_is_not_sent(supervisor, dispatcher, monkeypatch):
    monkeypatch.setenv("BROADCAST_APPROVAL_THRESHOLD", "0")
    notice = create(supervisor)
    subscribe(1, "jharia", "hi")
    publishes = record_publishes()
    created = json_of(send(supervisor, notice_body(notice)))
    supervisor.patch(f"/wanted/{notice['id']}", groups=SUPERVISOR, body={"status": "captured"})

    supervisor.request("POST", f"/broadcasts/{created['id']}/approve", headers=other_supervisor_token())
    dispatcher.drain()

    record = json_of(supervisor.get(f"/broadcasts/{created['id']}", groups=SUPERVISOR))
    assert record["status"] == "cancelled" and "captured" in record["problem"]
    assert topic_publishes(publishes) == []


def test_supervisors_list_broadcasts_newest_first(supervisor, dispatcher):
    notice = create(supervisor)
    first = json_of(send(supervisor, notice_body(notice), key="a"))
    second = json_of(send(supervisor, notice_body(notice, areas=["sindri"]), key="b"))

    listed = json_of(supervisor.get("/broadcasts", groups=SUPERVISOR))["broadcasts"]

    assert {b["id"] for b in listed} == {first["id"], second["id"]}
    assert supervisor.get("/broadcasts", groups=OFFICER_JHARIA).status_code == 403
    assert supervisor.get("/broadcasts/not-an-id", groups=SUPERVISOR).status_code == 404


# --- delivery figures from SNS's SMS delivery-status logs --------------------------------------------------------


def delivery_log_event(message_id: str) -> dict[str, Any]:
    """A CloudWatch Logs subscription event (gzipped, base64) of SNS's delivery lines for ``message_id``."""
    import base64
    import gzip

    from tests.conftest import EVENTS

    lines = json.loads((EVENTS / "delivery" / "sms_status_lines.json").read_text())
    log_events = [
        {"id": str(n), "timestamp": 1795867201000, "message": (json.dumps(line) if isinstance(line, dict) else line)}
        for n, line in enumerate(lines)
    ]
    text = json.dumps(
        {
            "messageType": "DATA_MESSAGE",
            "logGroup": "sns/ap-south-1/123456789012/DirectPublishToPhoneNumber",
            "logEvents": log_events,
        }
    )
    text = text.replace("OTHER_MESSAGE_ID", "an-otp-not-a-broadcast").replace("MESSAGE_ID", message_id)
    return {"awslogs": {"data": base64.b64encode(gzip.compress(text.encode())).decode()}}


@pytest.mark.parametrize("in_aws", [True, False], ids=["aws", "make-run"])
def test_delivery_logs_give_a_broadcast_its_delivered_and_failed_counts(
    supervisor, api, dispatcher, monkeypatch, in_aws
):
    notice = create(supervisor)
    created = json_of(send(supervisor, notice_body(notice, languages=["hi"], channels=["sms"])))
    dispatcher.drain()
    [message_id] = json_of(supervisor.get(f"/broadcasts/{created['id']}", groups=SUPERVISOR))["sns_message_ids"]
    if in_aws:
        monkeypatch.setenv("SMS_DELIVERY_LOG_GROUP", "sns/ap-south-1/123456789012/DirectPublishToPhoneNumber")

    result = api.lambda_.invoke("count_sms_deliveries", delivery_log_event(message_id))

    assert result.payload == {"counted": 1}  # the other line is a one-time code's: no broadcast of ours
    record = json_of(supervisor.get(f"/broadcasts/{created['id']}", groups=SUPERVISOR))
    expected = {"delivered": 2, "failed": 1} if in_aws else {"delivered": None, "failed": None}
    assert record["delivery"] == expected


# --- review findings: replays, approvals and captures at awkward moments ------------------------------------------


def test_a_replayed_key_answers_with_the_first_broadcast_even_after_the_notice_was_captured(supervisor, dispatcher):
    notice = create(supervisor)
    first = json_of(send(supervisor, notice_body(notice)))
    dispatcher.drain()
    supervisor.patch(f"/wanted/{notice['id']}", groups=SUPERVISOR, body={"status": "captured"})

    again = send(supervisor, notice_body(notice))

    assert again.status_code == 202 and json_of(again)["id"] == first["id"]  # not "captured": it went out


def test_the_wanted_templates_cannot_be_used_without_a_notice(supervisor):
    body = {"template_id": "1007000000000000013", "variables": {"number": "W-9999", "name": "x", "crime": "y"}}
    body |= {"areas": ["jharia"], "languages": ["en"], "channels": ["sms"]}

    response = dry_run(supervisor, body)

    assert response.status_code == 400 and "not a registered alert template" in json_of(response)["error"]


def test_an_approver_who_retries_gets_the_broadcast_again_and_nothing_twice(supervisor, dispatcher, monkeypatch):
    monkeypatch.setenv("BROADCAST_APPROVAL_THRESHOLD", "0")
    notice = create(supervisor)
    subscribe(1, "jharia", "hi")
    publishes = record_publishes()
    created = json_of(send(supervisor, notice_body(notice)))

    first = supervisor.request("POST", f"/broadcasts/{created['id']}/approve", headers=other_supervisor_token())
    retry = supervisor.request("POST", f"/broadcasts/{created['id']}/approve", headers=other_supervisor_token())
    dispatcher.drain()

    assert first.status_code == retry.status_code == 200
    assert len(topic_publishes(publishes)) == 4


def test_a_notice_captured_while_its_broadcast_goes_out_stops_the_rest(supervisor, dispatcher):
    # The capture lands while the first of the four topics is being published.
    from shared.aws.clients import client

    notice = create(supervisor)
    publishes = record_publishes()

    def capture_after_the_first_publish(params: dict[str, Any], **_: Any) -> None:
        if "TopicArn" in params and "alerts" in params["TopicArn"] and len(topic_publishes(publishes)) == 1:
            supervisor.patch(f"/wanted/{notice['id']}", groups=SUPERVISOR, body={"status": "captured"})

    client("sns").meta.events.register("before-parameter-build.sns.Publish", capture_after_the_first_publish)
    created = json_of(send(supervisor, notice_body(notice)))
    dispatcher.drain()

    record = json_of(supervisor.get(f"/broadcasts/{created['id']}", groups=SUPERVISOR))
    assert record["status"] == "cancelled" and "closed after" in record["problem"]
    assert len(topic_publishes(publishes)) == 1  # the one under way when it was captured, and no more


def test_an_email_subject_is_printable_ascii_whatever_the_district_is_called(supervisor, monkeypatch):
    monkeypatch.setenv("ALERT_EMAIL_DISPLAY_NAME", "  धनबाद पुलिस\t")
    notice = create(supervisor)

    answer = json_of(dry_run(supervisor, notice_body(notice, languages=["en"], channels=["email"])))

    [text] = answer["texts"]
    assert text["subject"].isascii() and text["subject"].isprintable() and text["subject"][0].isalnum()
