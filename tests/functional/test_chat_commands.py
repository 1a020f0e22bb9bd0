"""STOP and SUBSCRIBE <area> by WhatsApp, SMS and Messenger: the subscription changes on moto's SNS and the citizen
is answered on the same channel. Payloads: tests/events/commands/<channel>-<case>.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from moto.sns.models import sns_backends

from shared import recording
from shared.aws import alert_topics
from shared.domain import Channel
from tests.conftest import EVENTS, FIXED_NOW, load_event
from tests.helpers import table_items, tips
from tests.sms_helpers import attribute_values, record_publishes, sent_sms
from tools.local_stack import DEVELOPMENT_SETTINGS
from tools.resources import ACCOUNT_ID

REGION = "ap-south-1"
WHATSAPP_PHONE = "+917004599001"
SMS_PHONE = "+919000011120"
SIGN_UP_PAGE = "https://dhanbadpolice.example.in/alerts"
MESSENGER_PAGE_ID = "108827461253940"


@pytest.fixture
def chat(aws, fake_graph, dispatcher, monkeypatch) -> Any:
    for name in ("SMS_SENDER_ID", "DLT_ENTITY_ID", "DLT_TEMPLATES_FILE"):
        monkeypatch.setenv(name, DEVELOPMENT_SETTINGS[name])
    monkeypatch.setenv("MESSENGER_PAGE_ID", MESSENGER_PAGE_ID)
    monkeypatch.setenv("MESSENGER_PAGE_ACCESS_TOKEN", "test-page-token")
    fake_graph.set_page_access_token("test-page-token")
    monkeypatch.setenv("SUBSCRIBE_PAGE_URL", SIGN_UP_PAGE)
    from shared import sms

    sms.reset()
    alert_topics.ensure_alert_topics()
    yield Chat(aws, fake_graph, dispatcher, record_publishes())
    sms.reset()


class Chat:
    def __init__(self, stack: Any, graph: Any, dispatcher: Any, publishes: list[dict[str, Any]]) -> None:
        self.stack, self.graph, self.dispatcher, self.publishes = stack, graph, dispatcher, publishes

    def send(self, case: str) -> str:
        """Record the command as the deliveries worker would, then let the reply sender answer."""
        channel, _, _ = case.partition("-")
        raw = load_event("commands", case)
        outcome = recording.record_delivery(Channel(channel), raw, FIXED_NOW)
        self.dispatcher.drain()
        return "ignored" if outcome.ignored else "recorded"

    def answers(self) -> list[str]:
        """Every answer the citizen got, on any channel."""
        whatsapp = [reply["payload"]["text"]["body"] for reply in self.graph.replies]
        messenger = [reply["payload"]["message"]["text"] for reply in self.graph.messenger_replies]
        return whatsapp + messenger + [text for _, text in sent_sms().values()]

    @staticmethod
    def sns_topics(endpoint: str) -> list[str]:
        backend = sns_backends[ACCOUNT_ID][REGION]
        return sorted(s.topic.arn.rsplit(":", 1)[1] for s in backend.subscriptions.values() if s.endpoint == endpoint)

    def stored(self, prefix: str) -> list[dict[str, Any]]:
        deserializer = TypeDeserializer()
        items = ({k: deserializer.deserialize(v) for k, v in item.items()} for item in table_items(self.stack))
        return [item for item in items if item["pk"].startswith(prefix)]


def topic(area: str, language: str) -> str:
    return f"sampark-test-alerts-{area}-{language}-sms"


SUBSCRIPTIONS = [
    # (case, endpoint, SNS topics after it, words of the answer)
    pytest.param("whatsapp-subscribe", WHATSAPP_PHONE, [topic("jharia", "en")], ["Jharia", "STOP"], id="wa-en"),
    pytest.param("whatsapp-subscribe_hindi", WHATSAPP_PHONE, [topic("jharia", "hi")], ["झरिया"], id="wa-hi"),
    pytest.param("whatsapp-subscribe_unknown_area", WHATSAPP_PHONE, [], ["SUBSCRIBE Dhanbad"], id="wa-unknown-area"),
    pytest.param("whatsapp-subscribe_username", None, [], [SIGN_UP_PAGE], id="wa-username-user"),
    pytest.param("whatsapp-subscribe_foreign", "+447700900123", [], [SIGN_UP_PAGE], id="wa-foreign-number"),
    pytest.param("messenger-subscribe", None, [], [SIGN_UP_PAGE], id="messenger"),
    pytest.param("sms-subscribe", SMS_PHONE, [topic("bank-more", "en")], ["Bank More", "STOP"], id="sms-en"),
    pytest.param("sms-subscribe_hindi", SMS_PHONE, [topic("bank-more", "hi")], ["बैंक मोड़"], id="sms-hi"),
]


def test_the_table_covers_every_subscribe_fixture():
    cases = {param.values[0] for param in SUBSCRIPTIONS}
    assert cases == {path.stem for path in (EVENTS / "commands").glob("*-subscribe*.json")}


@pytest.mark.parametrize(("case", "endpoint", "topics", "words"), SUBSCRIPTIONS)
def test_subscribe_from_a_chat(chat, case, endpoint, topics, words):
    chat.send(case)

    if endpoint is not None:
        assert chat.sns_topics(endpoint) == topics
    assert len(chat.answers()) == 1
    assert all(word in chat.answers()[0] for word in words)
    assert tips(chat.stack) == []  # a command is never a tip
    active = [s for s in chat.stored("SUBSCRIPTION#") if s["subscription_status"] == "active"]
    assert len(active) == len(topics)
    assert all(s["source"] == case.partition("-")[0] for s in active)  # verified by writing from the number


def test_a_sign_up_link_needs_the_page_setting_else_the_answer_says_how_to_subscribe_by_phone(chat, monkeypatch):
    monkeypatch.delenv("SUBSCRIBE_PAGE_URL")

    chat.send("messenger-subscribe")

    [answer] = chat.answers()
    assert "SUBSCRIBE <police area>" in answer and "http" not in answer


def test_an_sms_answer_is_its_dlt_template(chat):
    chat.send("sms-subscribe")

    [call] = [c for c in chat.publishes if c.get("PhoneNumber") == SMS_PHONE]
    assert attribute_values(call)["AWS.MM.SMS.TemplateId"] == _template_id("subscribed")
    assert attribute_values(call)["AWS.SNS.SMS.SenderID"] == DEVELOPMENT_SETTINGS["SMS_SENDER_ID"]


@pytest.mark.parametrize(
    ("subscribe", "stop", "endpoint"),
    [
        pytest.param("whatsapp-subscribe", "whatsapp-stop", WHATSAPP_PHONE, id="whatsapp"),
        pytest.param("whatsapp-subscribe", "whatsapp-stop_hindi", WHATSAPP_PHONE, id="whatsapp-hindi"),
        pytest.param("sms-subscribe", "sms-stop_hindi", SMS_PHONE, id="sms-hindi"),
    ],
)
def test_stop_ends_the_subscription_and_opts_the_number_out(chat, subscribe, stop, endpoint):
    chat.send(subscribe)
    assert chat.sns_topics(endpoint) != []

    chat.send(stop)

    assert chat.sns_topics(endpoint) == []
    assert len(chat.stored("OPTOUT#")) == 1
    assert "no more" in chat.answers()[-1]
    consent = [(c["event"], c["channel"]) for c in sorted(chat.stored("CONSENT#"), key=lambda c: c["sk"])]
    channel = subscribe.partition("-")[0]
    assert consent == [("signed_up", channel), ("verified", channel), ("withdrawn", channel)]


def test_sms_stop_is_acted_on_even_though_it_is_an_sms_keyword(chat):
    chat.send("sms-subscribe")
    raw = json.loads(load_event("commands", "sms-stop_hindi"))
    raw["messageBody"], raw["inboundMessageId"] = "STOP", "5f0c8f3a-1b7e-4c52-9a61-0d2e7b9c1bff"

    recording.record_delivery(Channel.SMS, json.dumps(raw).encode(), FIXED_NOW)
    chat.dispatcher.drain()

    assert chat.sns_topics(SMS_PHONE) == []


def test_a_redelivered_command_is_carried_out_and_answered_once(chat):
    chat.send("whatsapp-subscribe")
    chat.send("whatsapp-subscribe")

    assert len(chat.answers()) == 1
    assert len(chat.stored("CONSENT#")) == 2  # one sign-up, one verification


def test_no_number_is_stored_or_logged_in_clear(chat, capsys):
    for case in ("whatsapp-subscribe", "sms-subscribe", "whatsapp-stop", "whatsapp-subscribe_foreign"):
        chat.send(case)

    stored = json.dumps(table_items(chat.stack), default=str)
    logs = capsys.readouterr().out
    for number in (WHATSAPP_PHONE, SMS_PHONE, "+447700900123"):
        for form in (number, number.lstrip("+"), number[-10:]):
            assert form not in stored
            assert form not in logs


def _template_id(purpose: str) -> str:
    document = json.loads(Path(DEVELOPMENT_SETTINGS["DLT_TEMPLATES_FILE"]).read_text(encoding="utf-8"))
    return next(t["id"] for t in document["templates"] if t["purpose"] == purpose)
