"""Alert subscriptions through the API on moto: sign-up, one-time codes, SNS topics, moving, leaving, consent, stats.

SNS is moto's: each active subscription must exist on exactly its area's topic for its language and channel. One-time
codes are read from the SMS moto kept; the DLT attributes from the request itself (moto drops them; see
tests/functional/test_sms_sending.py).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from moto.sns.models import sns_backends

from shared import privacy, sms, subscriptions
from shared.aws import alert_topics
from shared.aws.clients import client
from tests.helpers import table_items
from tests.officers import OFFICER_SARAIDHELA, SUPERVISOR, json_of
from tools.local_stack import DEVELOPMENT_SETTINGS
from tools.resources import ACCOUNT_ID
from tools.sns_email import confirm_email, start_email_subscriptions_pending

REGION = "ap-south-1"
PHONE = "+919835011111"  # made up
OTHER_PHONE = "+919835022222"
EMAIL = "asha.kumari@example.com"
OTP_TEMPLATE_ID = "1007000000000000001"  # tools/demo-dlt-templates.json


class Subscribers:
    """The API, moto's SNS, and what was sent."""

    def __init__(self, api: Any, stack: Any, publishes: list[dict[str, Any]]) -> None:
        self.api = api
        self.stack = stack
        self.publishes = publishes

    def sign_up(self, **body: Any) -> Any:
        body.setdefault("areas", ["saraidhela"])
        body.setdefault("language", "hi")
        return self.api.post("/subscriptions", body=body)

    def signed_up(self, **body: Any) -> dict[str, str]:
        response = self.sign_up(**body)
        assert response.status_code == 201, response.body
        return json_of(response)

    def last_code(self, phone: str = PHONE) -> str:
        texts = [message for number, message in self.sms().values() if number == phone]
        assert texts, "no SMS was sent to the number"
        codes = re.findall(r"(?<!\d)\d{4,8}(?!\d)", texts[-1])
        assert len(codes) == 1, "the code must be the only 4-8 digit number in the SMS"
        return codes[0]

    def verify(self, subscription_id: str, code: str) -> Any:
        return self.api.post(f"/subscriptions/{subscription_id}/verify", body={"code": code})

    def active_phone(self, phone: str = PHONE, area: str = "saraidhela", language: str = "hi") -> dict[str, str]:
        created = self.signed_up(phone=phone, areas=[area], language=language)
        response = self.verify(created["id"], self.last_code(phone))
        assert response.status_code == 200, response.body
        return created

    @staticmethod
    def sms() -> dict[str, tuple[str, str]]:
        return dict(sns_backends[ACCOUNT_ID][REGION].sms_messages)

    @staticmethod
    def sns_subscriptions(endpoint: str) -> list[tuple[str, str]]:
        """(topic name, protocol) of every SNS subscription of the endpoint."""
        backend = sns_backends[ACCOUNT_ID][REGION]
        return sorted(
            (s.topic.arn.rsplit(":", 1)[1], s.protocol)
            for s in backend.subscriptions.values()
            if s.endpoint == endpoint
        )


@pytest.fixture
def subscribers(officer_api, aws, monkeypatch) -> Subscribers:
    for name in ("SMS_SENDER_ID", "DLT_ENTITY_ID", "DLT_TEMPLATES_FILE"):
        monkeypatch.setenv(name, DEVELOPMENT_SETTINGS[name])
    sms.reset()
    alert_topics.ensure_alert_topics()
    undo_pending = start_email_subscriptions_pending()  # as SNS: an address confirms by its link
    calls: list[dict[str, Any]] = []
    client("sns").meta.events.register(
        "before-parameter-build.sns.Publish", lambda params, **_: calls.append(json.loads(json.dumps(params)))
    )
    yield Subscribers(officer_api, aws, calls)
    undo_pending()
    sms.reset()


def opted_out(subscribers: Subscribers, phone_or_email: str = PHONE) -> bool:
    """Whether the number (or address) is on the opt-out list now: opted out and not lifted since."""
    from shared.storage import subscriptions as store

    kind = "email" if "@" in phone_or_email else "phone"
    return store.opted_out_at(privacy.contact_hash(kind, phone_or_email)) is not None


def stored(subscribers: Subscribers, prefix: str) -> list[dict[str, Any]]:
    """The table's items whose partition key starts with ``prefix``, as plain values."""
    deserializer = TypeDeserializer()
    items = ({k: deserializer.deserialize(v) for k, v in item.items()} for item in table_items(subscribers.stack))
    return [item for item in items if item["pk"].startswith(prefix)]


def token_header(created: dict[str, str]) -> dict[str, str]:
    return {"X-Subscription-Token": created["token"]}


def topic(area: str, language: str, channel: str) -> str:
    return f"sampark-test-alerts-{area}-{language}-{channel}"


# --- signing up --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["98350 11111", "+91-98350-11111", "098350 11111", "+91 98350 11111", "0091 9835011111", "9835011111"]
)
def test_a_number_in_any_common_form_gets_one_code_by_dlt_sms(subscribers, typed):
    response = subscribers.sign_up(phone=typed)

    assert response.status_code == 201
    created = json_of(response)
    assert created["status"] == "pending" and created["id"] and len(created["token"]) >= 32
    assert [number for number, _ in subscribers.sms().values()] == [PHONE]
    attributes = {k: v["StringValue"] for k, v in subscribers.publishes[-1]["MessageAttributes"].items()}
    assert attributes == {
        "AWS.SNS.SMS.SMSType": "Transactional",
        "AWS.SNS.SMS.SenderID": "DHNPOL",
        "AWS.MM.SMS.EntityId": DEVELOPMENT_SETTINGS["DLT_ENTITY_ID"],
        "AWS.MM.SMS.TemplateId": OTP_TEMPLATE_ID,
    }
    assert len(subscribers.last_code()) == 6
    assert subscribers.sns_subscriptions(PHONE) == []  # nothing on SNS before the code comes back


def test_an_email_sign_up_is_subscribed_on_its_topic_for_sns_to_confirm(subscribers):
    created = subscribers.signed_up(email=" Asha.Kumari@Example.com ", areas=["jharia"], language="en")

    assert created["status"] == "pending"
    assert subscribers.sns_subscriptions(EMAIL) == [(topic("jharia", "en", "email"), "email")]
    assert subscribers.sms() == {}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"phone": PHONE, "areas": ["atlantis"], "language": "hi"}, "unknown police area id 'atlantis'"),
        ({"phone": PHONE, "areas": ["jharia", "sindri"], "language": "hi"}, "exactly one police area"),
        ({"phone": PHONE, "areas": [], "language": "hi"}, "exactly one police area"),
        ({"phone": PHONE, "areas": "jharia", "language": "hi"}, "exactly one police area"),
        ({"phone": "0326 222 2222", "areas": ["jharia"], "language": "hi"}, "Indian mobile number"),
        ({"phone": "+1 202 555 0143", "areas": ["jharia"], "language": "hi"}, "Indian mobile number"),
        ({"phone": "call me", "areas": ["jharia"], "language": "hi"}, "not a phone number"),
        ({"phone": 9835011111, "areas": ["jharia"], "language": "hi"}, "Indian mobile number"),
        ({"email": "asha at example", "areas": ["jharia"], "language": "en"}, "email must be an email address"),
        ({"email": "a@b", "areas": ["jharia"], "language": "en"}, "email must be an email address"),
        ({"phone": PHONE, "areas": ["jharia"], "language": "bn"}, "language must be one of 'hi', 'en'"),
        ({"phone": PHONE, "areas": ["jharia"]}, "language must be one of"),
        ({"phone": PHONE, "email": EMAIL, "areas": ["jharia"], "language": "hi"}, 'either "phone"'),
        ({"areas": ["jharia"], "language": "hi"}, 'either "phone"'),
        ({"phone": PHONE, "areas": ["jharia"], "language": "hi", "name": "Asha"}, "unknown field 'name'"),
        ([PHONE], "the body must be an object"),
    ],
)
def test_a_bad_sign_up_is_refused_naming_the_problem_and_nothing_is_sent(subscribers, body, problem):
    response = subscribers.api.post("/subscriptions", body=body)

    assert response.status_code == 400
    assert problem in json_of(response)["error"]
    assert subscribers.sms() == {}
    assert not stored(subscribers, "SUBSCRIPTION#")


def test_every_problem_is_named_at_once(subscribers):
    response = subscribers.api.post("/subscriptions", body={"phone": "123", "areas": ["x"], "language": "fr"})

    error = json_of(response)["error"]
    assert response.status_code == 400
    assert "phone" in error and "unknown police area id 'x'" in error and "language" in error


def test_a_body_that_is_not_json_is_a_400_with_the_reason(subscribers):
    response = subscribers.api.post("/subscriptions", body=b"{phone:")

    assert response.status_code == 400 and "not JSON" in json_of(response)["error"]


def test_twenty_sign_ups_a_minute_from_one_address_pass_and_the_next_is_429(subscribers):
    statuses = [subscribers.sign_up(phone=f"+9198350{n:05d}").status_code for n in range(21)]

    assert statuses[:20] == [201] * 20  # a family or an office behind one address: at least 10 a minute
    assert statuses[20] == 429
    assert len(subscribers.sms()) == 20


def test_a_number_gets_at_most_three_codes_an_hour(subscribers):
    statuses = [subscribers.sign_up(phone=PHONE).status_code for _ in range(4)]

    assert statuses == [201, 201, 201, 429]
    assert len(subscribers.sms()) == 3


# --- verifying ---------------------------------------------------------------------------------------------------


def test_the_right_code_activates_the_number_on_exactly_its_areas_topic(subscribers):
    created = subscribers.signed_up(phone=PHONE, areas=["jharia"], language="hi")

    response = subscribers.verify(created["id"], subscribers.last_code())

    assert response.status_code == 200
    assert json_of(response) == {
        "id": created["id"],
        "status": "active",
        "channel": "sms",
        "area_id": "jharia",
        "language": "hi",
    }
    assert subscribers.sns_subscriptions(PHONE) == [(topic("jharia", "hi", "sms"), "sms")]


def test_verifying_again_changes_nothing(subscribers):
    created = subscribers.signed_up(phone=PHONE)
    code = subscribers.last_code()
    subscribers.verify(created["id"], code)

    again = subscribers.verify(created["id"], code)

    assert again.status_code == 200 and json_of(again)["status"] == "active"
    assert subscribers.sns_subscriptions(PHONE) == [(topic("saraidhela", "hi", "sms"), "sms")]


def test_a_wrong_code_is_400_with_the_attempts_left(subscribers):
    created = subscribers.signed_up(phone=PHONE)
    wrong = "000000" if subscribers.last_code() != "000000" else "111111"

    response = subscribers.verify(created["id"], wrong)

    assert response.status_code == 400
    assert "4 attempts left" in json_of(response)["error"]
    assert subscribers.sns_subscriptions(PHONE) == []


def test_after_five_wrong_codes_even_the_right_one_is_refused(subscribers):
    created = subscribers.signed_up(phone=PHONE)
    code = subscribers.last_code()
    wrong = "000000" if code != "000000" else "111111"

    statuses = [subscribers.verify(created["id"], wrong).status_code for _ in range(5)]
    last = subscribers.verify(created["id"], code)

    assert statuses == [400] * 5
    assert last.status_code == 429
    assert subscribers.sns_subscriptions(PHONE) == []


def test_a_code_expires_after_ten_minutes(subscribers, fixed_clock, monkeypatch):
    created = subscribers.signed_up(phone=PHONE)
    code = subscribers.last_code()
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(seconds=601))

    response = subscribers.verify(created["id"], code)

    assert response.status_code == 410
    assert "expired" in json_of(response)["error"]
    assert subscribers.sns_subscriptions(PHONE) == []


def test_a_code_nine_minutes_old_still_works(subscribers, fixed_clock, monkeypatch):
    created = subscribers.signed_up(phone=PHONE)
    code = subscribers.last_code()
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(seconds=540))

    assert subscribers.verify(created["id"], code).status_code == 200


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": "12"}, {"code": "123456789"}, {"code": 123456}, []])
def test_a_malformed_code_is_400(subscribers, body):
    created = subscribers.signed_up(phone=PHONE)

    response = subscribers.api.post(f"/subscriptions/{created['id']}/verify", body=body)

    assert response.status_code == 400


def test_an_unknown_subscription_is_404(subscribers):
    assert subscribers.verify("3f0c2a4e-0000-4000-8000-000000000000", "123456").status_code == 404
    assert subscribers.verify("not-an-id", "123456").status_code == 404


def test_codes_and_tokens_are_stored_only_hashed_and_numbers_only_sealed(subscribers):
    created = subscribers.signed_up(phone=PHONE)
    code = subscribers.last_code()
    subscribers.signed_up(email=EMAIL)

    stored = json.dumps(table_items(subscribers.stack), default=str)

    for secret in (code, created["token"], PHONE, PHONE.removeprefix("+91"), EMAIL):
        assert secret not in stored


# --- one home area -----------------------------------------------------------------------------------------------


def test_a_verified_sign_up_for_another_area_moves_the_number(subscribers):
    subscribers.active_phone(area="saraidhela", language="hi")

    subscribers.active_phone(area="jharia", language="en")

    assert subscribers.sns_subscriptions(PHONE) == [(topic("jharia", "en", "sms"), "sms")]
    stats = json_of(subscribers.api.get("/subscriptions/stats", groups=SUPERVISOR))
    assert stats["counts"] == [{"area_id": "jharia", "language": "en", "channel": "sms", "active": 1}]


def test_an_unverified_sign_up_moves_nothing(subscribers):
    subscribers.active_phone(area="saraidhela")

    subscribers.signed_up(phone=PHONE, areas=["jharia"])  # someone typed the number in; no code comes back

    assert subscribers.sns_subscriptions(PHONE) == [(topic("saraidhela", "hi", "sms"), "sms")]


def test_leaving_the_old_sign_up_of_a_re_signed_number_keeps_the_new_one(subscribers):
    old = subscribers.active_phone()
    subscribers.active_phone()  # the same area again: SNS shares the one subscription between them

    response = subscribers.api.delete(f"/subscriptions/{old['id']}", headers=token_header(old))

    assert response.status_code == 200
    assert subscribers.sns_subscriptions(PHONE) == [(topic("saraidhela", "hi", "sms"), "sms")]


def test_signing_up_again_for_the_same_area_keeps_one_subscription(subscribers):
    subscribers.active_phone()
    subscribers.active_phone()

    assert subscribers.sns_subscriptions(PHONE) == [(topic("saraidhela", "hi", "sms"), "sms")]
    stats = json_of(subscribers.api.get("/subscriptions/stats", groups=SUPERVISOR))
    assert stats["active"] == 1


# --- leaving -----------------------------------------------------------------------------------------------------


def test_delete_with_the_token_ends_it_removes_it_from_sns_and_opts_the_number_out(subscribers):
    created = subscribers.active_phone()

    response = subscribers.api.delete(f"/subscriptions/{created['id']}", headers=token_header(created))

    assert response.status_code == 200 and json_of(response)["status"] == "ended"
    assert subscribers.sns_subscriptions(PHONE) == []
    assert opted_out(subscribers)
    again = subscribers.api.delete(f"/subscriptions/{created['id']}", body={"token": created["token"]})
    assert again.status_code == 200  # leaving twice is fine


@pytest.mark.parametrize(
    "how",
    [{}, {"headers": {"X-Subscription-Token": "wrong"}}, {"body": {"token": ""}}, {"body": {"token": None}}],
    ids=["none", "wrong-header", "empty-body", "null-body"],
)
def test_delete_with_a_wrong_or_missing_token_is_403_and_changes_nothing(subscribers, how):
    created = subscribers.active_phone()

    response = subscribers.api.delete(f"/subscriptions/{created['id']}", **how)

    assert response.status_code == 403
    assert subscribers.sns_subscriptions(PHONE) == [(topic("saraidhela", "hi", "sms"), "sms")]


def test_the_owner_reads_the_state_with_the_token_and_nobody_else_can(subscribers):
    created = subscribers.signed_up(phone=PHONE)

    mine = subscribers.api.get(f"/subscriptions/{created['id']}", headers=token_header(created))
    theirs = subscribers.api.get(f"/subscriptions/{created['id']}", headers={"X-Subscription-Token": "guess"})
    in_the_url = subscribers.api.get(f"/subscriptions/{created['id']}?token={created['token']}")

    assert mine.status_code == 200 and json_of(mine)["status"] == "pending"
    assert PHONE not in mine.body.decode()
    assert theirs.status_code == 403
    assert in_the_url.status_code == 403  # never in a URL: access logs and browser histories keep those


def test_cancelling_an_unverified_sign_up_does_not_opt_the_number_out(subscribers, fixed_clock, monkeypatch):
    # Anyone can start a sign-up with someone else's number and hold its token: that must not silence the number.
    theirs = subscribers.signed_up(phone=PHONE)
    owners_code = subscribers.last_code()
    mine = subscribers.signed_up(phone=PHONE)

    response = subscribers.api.delete(f"/subscriptions/{theirs['id']}", headers=token_header(theirs))

    assert response.status_code == 200 and json_of(response)["status"] == "ended"
    assert not opted_out(subscribers)
    assert subscribers.verify(mine["id"], subscribers.last_code()).status_code == 200
    assert owners_code  # the cancelled sign-up's code was never needed
    events = [c["event"] for c in _consent_items(subscribers)]
    assert events.count("cancelled") == 1 and "withdrawn" not in events


def test_a_code_sent_before_the_number_opted_out_no_longer_works(subscribers):
    created = subscribers.signed_up(phone=PHONE)
    code = subscribers.last_code()
    subscriptions.opt_out_contact("phone", PHONE, via="sms")

    response = subscribers.verify(created["id"], code)

    assert response.status_code == 410
    assert subscribers.sns_subscriptions(PHONE) == []


def test_after_opting_out_only_a_fresh_verified_sign_up_brings_the_number_back(subscribers, fixed_clock, monkeypatch):
    subscribers.active_phone()
    subscriptions.opt_out_contact("phone", PHONE, via="sms")
    assert subscribers.sns_subscriptions(PHONE) == []
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(minutes=5))

    created = subscribers.signed_up(phone=PHONE)
    assert subscribers.sns_subscriptions(PHONE) == []  # pending: the opt-out holds until the code comes back
    subscribers.verify(created["id"], subscribers.last_code())

    assert subscribers.sns_subscriptions(PHONE) == [(topic("saraidhela", "hi", "sms"), "sms")]
    assert not opted_out(subscribers)


# --- email: SNS's links ------------------------------------------------------------------------------------------


def _sns_subscription(endpoint: str):
    backend = sns_backends[ACCOUNT_ID][REGION]
    return next(s for s in backend.subscriptions.values() if s.endpoint == endpoint)


def test_the_sync_activates_an_email_sns_confirmed_and_waits_for_one_it_did_not(subscribers):
    created = subscribers.signed_up(email=EMAIL, areas=["jharia"], language="en")

    assert subscriptions.sync_with_sns()["activated"] == 0
    assert confirm_email(EMAIL, REGION) == 1  # the citizen followed the link
    outcome = subscriptions.sync_with_sns()

    assert outcome == {"activated": 1, "lapsed": 0, "unsubscribed": 0, "cleaned": 0}
    state = json_of(subscribers.api.get(f"/subscriptions/{created['id']}", headers=token_header(created)))
    assert state["status"] == "active"
    stats = json_of(subscribers.api.get("/subscriptions/stats", groups=SUPERVISOR))
    assert stats["by_channel"] == {"sms": 0, "email": 1}


def test_the_sync_ends_an_email_whose_unsubscribe_link_was_used(subscribers):
    created = subscribers.signed_up(email=EMAIL, areas=["jharia"], language="en")
    confirm_email(EMAIL, REGION)
    subscriptions.sync_with_sns()
    client("sns").unsubscribe(SubscriptionArn=_sns_subscription(EMAIL).arn)  # SNS's link in an alert

    outcome = subscriptions.sync_with_sns()

    assert outcome["unsubscribed"] == 1
    state = json_of(subscribers.api.get(f"/subscriptions/{created['id']}", headers=token_header(created)))
    assert state["status"] == "ended"
    events = [(c["event"], c["channel"]) for c in _consent_items(subscribers)]
    assert events == [("signed_up", "web"), ("verified", "email"), ("withdrawn", "email")]


def test_the_sync_lets_an_unconfirmed_email_lapse_without_opting_it_out(subscribers):
    subscribers.signed_up(email=EMAIL)
    client("sns").unsubscribe(SubscriptionArn=_sns_subscription(EMAIL).arn)  # SNS deleted it after 48 hours

    assert subscriptions.sync_with_sns()["lapsed"] == 1
    assert not stored(subscribers, "OPTOUT#")


def test_signing_up_a_confirmed_address_again_cannot_take_it_over_or_end_it(subscribers):
    # The owner's address is confirmed on Jharia's English topic.
    owner = subscribers.signed_up(email=EMAIL, areas=["jharia"], language="en")
    confirm_email(EMAIL, REGION)
    subscriptions.sync_with_sns()
    # Someone else signs the same address up for the same topic; SNS answers with the owner's subscription.
    intruder = subscribers.signed_up(email=EMAIL, areas=["jharia"], language="en")

    subscribers.api.delete(f"/subscriptions/{intruder['id']}", headers=token_header(intruder))
    subscriptions.sync_with_sns()

    assert subscribers.sns_subscriptions(EMAIL) == [(topic("jharia", "en", "email"), "email")]
    state = json_of(subscribers.api.get(f"/subscriptions/{owner['id']}", headers=token_header(owner)))
    assert state["status"] == "active"
    assert not opted_out(subscribers)


def test_a_confirmed_move_of_an_address_leaves_only_the_new_topic(subscribers):
    subscribers.signed_up(email=EMAIL, areas=["jharia"], language="en")
    confirm_email(EMAIL, REGION)
    subscriptions.sync_with_sns()

    subscribers.signed_up(email=EMAIL, areas=["sindri"], language="hi")
    subscriptions.sync_with_sns()
    assert len(subscribers.sns_subscriptions(EMAIL)) == 2  # the new one waits for its link: the old one stays
    confirm_email(EMAIL, REGION)
    subscriptions.sync_with_sns()

    assert subscribers.sns_subscriptions(EMAIL) == [(topic("sindri", "hi", "email"), "email")]


def test_a_failed_unsubscribe_is_finished_by_the_sync(subscribers, monkeypatch):
    created = subscribers.active_phone()
    real_unsubscribe = alert_topics.unsubscribe

    def unavailable(arn: str) -> None:
        raise subscriptions.ReplyUnavailableError("SNS is down")

    monkeypatch.setattr(alert_topics, "unsubscribe", unavailable)
    response = subscribers.api.delete(f"/subscriptions/{created['id']}", headers=token_header(created))
    assert response.status_code == 503  # ended in Sampark, still on SNS
    assert subscribers.sns_subscriptions(PHONE) != []
    monkeypatch.setattr(alert_topics, "unsubscribe", real_unsubscribe)

    assert subscriptions.sync_with_sns()["cleaned"] == 1

    assert subscribers.sns_subscriptions(PHONE) == []
    assert subscriptions.sync_with_sns()["cleaned"] == 0  # nothing left to clean


# --- consent and statistics --------------------------------------------------------------------------------------


def _consent_items(subscribers: Subscribers) -> list[dict[str, Any]]:
    return sorted(stored(subscribers, "CONSENT#"), key=lambda i: i["sk"])


def test_every_step_is_in_the_consent_record_with_time_and_channel(subscribers, fixed_clock, monkeypatch):
    first = subscribers.active_phone(area="saraidhela")
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(minutes=1))
    second = subscribers.active_phone(area="jharia")
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(minutes=2))
    subscribers.api.delete(f"/subscriptions/{second['id']}", headers=token_header(second))

    record = [(c["event"], c["channel"], c["subscription_id"], c["area_id"]) for c in _consent_items(subscribers)]

    assert record == [
        ("signed_up", "web", first["id"], "saraidhela"),
        ("verified", "web", first["id"], "saraidhela"),
        ("moved", "web", first["id"], "saraidhela"),
        ("signed_up", "web", second["id"], "jharia"),
        ("verified", "web", second["id"], "jharia"),
        ("withdrawn", "web", second["id"], "jharia"),
    ]
    assert all(c["at"] for c in _consent_items(subscribers))
    assert len({c["pk"] for c in _consent_items(subscribers)}) == 1  # one number: one record


def test_stats_count_per_area_language_and_channel_without_identifiers(subscribers):
    subscribers.active_phone(PHONE, area="jharia", language="hi")
    subscribers.active_phone(OTHER_PHONE, area="jharia", language="en")
    subscribers.signed_up(email=EMAIL, areas=["sindri"], language="en")
    confirm_email(EMAIL, REGION)
    subscriptions.sync_with_sns()

    response = subscribers.api.get("/subscriptions/stats", groups=SUPERVISOR)

    assert response.status_code == 200
    assert json_of(response) == {
        "active": 3,
        "by_channel": {"sms": 2, "email": 1},
        "by_language": {"hi": 1, "en": 2},
        "counts": [
            {"area_id": "jharia", "language": "en", "channel": "sms", "active": 1},
            {"area_id": "jharia", "language": "hi", "channel": "sms", "active": 1},
            {"area_id": "sindri", "language": "en", "channel": "email", "active": 1},
        ],
    }
    body = response.body.decode()
    assert "9835" not in body and "@" not in body


def test_stats_are_for_supervisors_only(subscribers):
    assert subscribers.api.get("/subscriptions/stats", groups=OFFICER_SARAIDHELA).status_code == 403
    assert subscribers.api.get("/subscriptions/stats").status_code == 401
