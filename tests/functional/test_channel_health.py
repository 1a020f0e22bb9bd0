"""check_channel_health through Chalice's test client against the fake Graph and X APIs: for each channel and each
way it can break, the ChannelHealthy metric it emits (parsed from the EMF records Powertools prints), the WARNING
naming it, and the other channels still reported on their own. No token may appear in any output."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client

from tests.conftest import TEST_SETTINGS
from tests.x_helpers import X_SETTINGS, start_fake_x, use_x_settings
from tools.fake_graph import FAKE_APP_ID
from tools.fake_x import FAKE_WEBHOOK_ID

PHONE_NUMBER_ID = TEST_SETTINGS["WHATSAPP_PHONE_NUMBER_ID"]
PAGE_ID = "100000000000077"
PAGE_TOKEN = "test-page-access-token-health"
BEARER_TOKEN = "test-x-bearer-token-health"
TOKENS = (
    TEST_SETTINGS["WHATSAPP_ACCESS_TOKEN"],
    TEST_SETTINGS["META_APP_SECRET"],
    PAGE_TOKEN,
    BEARER_TOKEN,
    X_SETTINGS["X_CONSUMER_KEY"],
    X_SETTINGS["X_CONSUMER_SECRET"],
    X_SETTINGS["X_ACCESS_TOKEN"],
    X_SETTINGS["X_ACCESS_TOKEN_SECRET"],
)
CHECKED = ("whatsapp", "messenger", "x")
DEADLINE_SECONDS = "0.5"  # CHANNEL_HEALTH_TIMEOUT_SECONDS in the timeout cases (8 s otherwise)
SLOW_SECONDS = 2.0  # how late a slow platform answers: well past the deadline


@dataclass
class Platforms:
    graph: Any
    x: Any
    monkeypatch: pytest.MonkeyPatch

    def setenv(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)

    def delenv(self, name: str) -> None:
        self.monkeypatch.delenv(name, raising=False)


@pytest.fixture
def platforms(fake_graph: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platforms]:
    """Every channel configured and healthy: the phone number visible, the Page subscribed, the X webhook valid."""
    fake_graph.add_phone_number(PHONE_NUMBER_ID)
    fake_graph.set_page_access_token(PAGE_TOKEN)
    monkeypatch.setenv("MESSENGER_PAGE_ID", PAGE_ID)
    monkeypatch.setenv("MESSENGER_PAGE_ACCESS_TOKEN", PAGE_TOKEN)
    use_x_settings(monkeypatch)
    monkeypatch.setenv("X_BEARER_TOKEN", BEARER_TOKEN)
    for fake_x in start_fake_x(monkeypatch):
        fake_x.set_bearer_token(BEARER_TOKEN)
        yield Platforms(fake_graph, fake_x, monkeypatch)


def check(capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], dict[str, float], str]:
    """Invoke the scheduled function as EventBridge would: its summary, the metrics it emitted, everything printed."""
    from app import app

    with Client(app, stage_name="local") as client:
        event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [], region="ap-south-1")
        summary = client.lambda_.invoke("check_channel_health", event).payload
    captured = capsys.readouterr()
    return summary, emitted(captured.out), captured.out + captured.err


def emitted(out: str) -> dict[str, float]:
    """ChannelHealthy by Channel, from the EMF records; each must carry exactly the alarm's namespace and dimensions."""
    values: dict[str, float] = {}
    for line in out.splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        directives = record.get("_aws", {}).get("CloudWatchMetrics", [])
        if not any(metric["Name"] == "ChannelHealthy" for d in directives for metric in d["Metrics"]):
            continue
        [directive] = directives
        assert directive["Namespace"] == "Sampark"
        assert [sorted(dimensions) for dimensions in directive["Dimensions"]] == [["Channel", "service"]]
        assert record["service"] == "sampark-service"
        assert record["Channel"] not in values, "one metric per channel and run"
        [values[record["Channel"]]] = record["ChannelHealthy"]
    return values


def warnings_in(out: str) -> dict[str, str]:
    """The WARNING log lines of unhealthy channels: channel -> reason."""
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"level"' in line]
    return {
        r["channel"]: r["reason"] for r in records if r["level"] == "WARNING" and r["message"] == "channel unhealthy"
    }


def closed_port_url() -> str:
    """An http URL on which nothing listens: connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_every_configured_channel_is_healthy_by_default(platforms, capsys):
    # WHEN the schedule fires with every platform working
    summary, metrics, output = check(capsys)

    # THEN each checked channel emits ChannelHealthy = 1 and nothing is logged at WARNING
    assert metrics == {"whatsapp": 1.0, "messenger": 1.0, "x": 1.0}
    assert summary == {
        "whatsapp": {"status": "healthy"},
        "messenger": {"status": "healthy"},
        "x": {"status": "healthy"},
        "sms": {"status": "not_checked"},
    }
    assert warnings_in(output) == {}
    # Each platform was really asked, the X account's subscription with the user token included.
    assert ("GET", f"/v25.0/{PHONE_NUMBER_ID}") in platforms.graph.state.requests
    assert ("GET", f"/v25.0/{PAGE_ID}/subscribed_apps") in platforms.graph.state.requests
    subscription = f"/2/account_activity/webhooks/{FAKE_WEBHOOK_ID}/subscriptions/all"
    assert ("GET", subscription, True) in platforms.x.state.requests
    assert [token for token in TOKENS if token in output] == []


@dataclass(frozen=True)
class Case:
    channel: str
    break_it: Callable[[Platforms], None]
    reason: str | None  # how the reported reason starts; None: the channel is not configured


def _wrong(name: str) -> Callable[[Platforms], None]:
    return lambda p: p.setenv(name, "revoked-token-value")


def _slow(platform: str, path_prefix: str) -> Callable[[Platforms], None]:
    def break_it(p: Platforms) -> None:
        p.setenv("CHANNEL_HEALTH_TIMEOUT_SECONDS", DEADLINE_SECONDS)
        getattr(p, platform).delay_next(path_prefix, SLOW_SECONDS)

    return break_it


CASES = [
    # WhatsApp: GET /{phone-number-id} with the system-user token
    pytest.param(
        Case("whatsapp", lambda p: p.graph.reject_next(f"/v25.0/{PHONE_NUMBER_ID}", 400, 190, 463), "token_invalid"),
        id="whatsapp-expired-token",
    ),
    pytest.param(Case("whatsapp", _wrong("WHATSAPP_ACCESS_TOKEN"), "token_invalid"), id="whatsapp-revoked-token"),
    pytest.param(
        Case("whatsapp", lambda p: p.setenv("WHATSAPP_PHONE_NUMBER_ID", "106540352200000"), "phone_number_not_visible"),
        id="whatsapp-number-not-visible",
    ),
    pytest.param(
        Case("whatsapp", lambda p: p.graph.fail_next(f"/v25.0/{PHONE_NUMBER_ID}", 500), "platform_unavailable"),
        id="whatsapp-500",
    ),
    pytest.param(
        Case("whatsapp", _slow("graph", f"/v25.0/{PHONE_NUMBER_ID}"), "timeout"),
        id="whatsapp-timeout",
    ),
    pytest.param(Case("whatsapp", lambda p: p.delenv("WHATSAPP_ACCESS_TOKEN"), None), id="whatsapp-not-configured"),
    # Messenger: GET /{page-id}/subscribed_apps with the Page token
    pytest.param(
        Case(
            "messenger",
            lambda p: p.graph.reject_next(f"/v25.0/{PAGE_ID}/subscribed_apps", 400, 190, 460),
            "token_invalid",
        ),
        id="messenger-expired-token",
    ),
    pytest.param(Case("messenger", _wrong("MESSENGER_PAGE_ACCESS_TOKEN"), "token_invalid"), id="messenger-revoked"),
    pytest.param(
        Case("messenger", lambda p: p.graph.unsubscribe_page(), "app_not_subscribed"), id="messenger-unsubscribed"
    ),
    pytest.param(
        Case(
            "messenger",
            lambda p: p.graph.set_subscribed_fields("messaging_postbacks"),
            "messages_field_not_subscribed",
        ),
        id="messenger-without-messages-field",
    ),
    pytest.param(
        Case("messenger", lambda p: p.setenv("META_APP_ID", "1000000000000999"), "app_not_subscribed"),
        id="messenger-another-app-subscribed",
    ),
    pytest.param(
        Case(
            "messenger", lambda p: p.graph.fail_next(f"/v25.0/{PAGE_ID}/subscribed_apps", 503), "platform_unavailable"
        ),
        id="messenger-503",
    ),
    pytest.param(
        Case("messenger", _slow("graph", f"/v25.0/{PAGE_ID}/subscribed_apps"), "timeout"),
        id="messenger-timeout",
    ),
    pytest.param(
        Case("messenger", lambda p: p.delenv("MESSENGER_PAGE_ACCESS_TOKEN"), None), id="messenger-not-configured"
    ),
    # X: GET /2/webhooks with the app's bearer token, then the account's subscription with its user token
    pytest.param(Case("x", lambda p: p.x.invalidate_webhook(), "webhook_invalid"), id="x-invalid-webhook"),
    pytest.param(Case("x", lambda p: p.x.remove_webhooks(), "webhook_not_registered"), id="x-no-webhook"),
    pytest.param(Case("x", _wrong("X_BEARER_TOKEN"), "bearer_token_invalid"), id="x-revoked-bearer-token"),
    pytest.param(
        Case("x", lambda p: p.delenv("X_BEARER_TOKEN"), "bearer_token_not_configured"), id="x-no-bearer-token"
    ),
    pytest.param(Case("x", _wrong("X_ACCESS_TOKEN"), "user_token_invalid"), id="x-revoked-user-token"),
    pytest.param(Case("x", lambda p: p.x.unsubscribe_account(), "account_not_subscribed"), id="x-account-unsubscribed"),
    pytest.param(Case("x", lambda p: p.x.fail_next("/2/webhooks", 500), "platform_unavailable"), id="x-500"),
    pytest.param(Case("x", lambda p: p.setenv("X_API_URL", closed_port_url()), "unreachable"), id="x-refused"),
    pytest.param(Case("x", _slow("x", "/2/webhooks"), "timeout"), id="x-timeout"),
    pytest.param(Case("x", lambda p: p.delenv("X_CONSUMER_SECRET"), None), id="x-not-configured"),
]


@pytest.mark.parametrize("case", CASES)
def test_a_broken_channel_is_reported_alone(platforms, capsys, case: Case):
    # GIVEN one channel broken (or not configured)
    case.break_it(platforms)

    # WHEN the schedule fires
    summary, metrics, output = check(capsys)

    # THEN that channel is 0 with a WARNING naming it and the reason, or, not configured, has no metric at all
    others = {channel: 1.0 for channel in CHECKED if channel != case.channel}
    if case.reason is None:
        assert summary[case.channel] == {"status": "not_configured"}
        assert metrics == others
        assert warnings_in(output) == {}
    else:
        assert summary[case.channel]["status"] == "unhealthy"
        assert summary[case.channel]["reason"].startswith(case.reason), summary
        assert metrics == {**others, case.channel: 0.0}
        assert warnings_in(output) == {case.channel: summary[case.channel]["reason"]}
    # ... and every other channel is still checked and healthy
    assert {channel: summary[channel]["status"] for channel in others} == dict.fromkeys(others, "healthy")
    assert [token for token in (*TOKENS, "revoked-token-value") if token in output] == []


def test_the_graph_api_down_fails_both_meta_channels_but_not_x(platforms, capsys):
    platforms.setenv("GRAPH_API_URL", f"{closed_port_url()}/v25.0")

    summary, metrics, output = check(capsys)

    assert metrics == {"whatsapp": 0.0, "messenger": 0.0, "x": 1.0}
    assert summary["whatsapp"]["reason"].startswith("unreachable (GET 127.0.0.1 failed")
    assert set(warnings_in(output)) == {"whatsapp", "messenger"}


def test_without_a_user_token_the_webhook_alone_decides_x(platforms, capsys):
    # GIVEN no user token for the police account (no DMs, no replies), the webhook still valid
    platforms.delenv("X_ACCESS_TOKEN_SECRET")

    summary, metrics, _ = check(capsys)

    # THEN X is healthy, and only the app-level webhook list was asked
    assert metrics["x"] == 1.0 and summary["x"] == {"status": "healthy"}
    assert [path for _, path, _ in platforms.x.state.requests] == ["/2/webhooks"]


def test_our_app_named_by_meta_app_id_is_found(platforms, capsys):
    platforms.setenv("META_APP_ID", FAKE_APP_ID)

    summary, metrics, _ = check(capsys)

    assert metrics["messenger"] == 1.0 and summary["messenger"] == {"status": "healthy"}


def test_nothing_configured_emits_nothing_and_warns_of_nothing(platforms, capsys):
    for name in ("WHATSAPP_ACCESS_TOKEN", "MESSENGER_PAGE_ACCESS_TOKEN", "X_CONSUMER_SECRET"):
        platforms.delenv(name)

    summary, metrics, output = check(capsys)

    assert metrics == {}
    assert {channel: result["status"] for channel, result in summary.items()} == {
        "whatsapp": "not_configured",
        "messenger": "not_configured",
        "x": "not_configured",
        "sms": "not_checked",
    }
    assert warnings_in(output) == {}


# --- the deployed configuration: tokens in the Secrets Manager secret -------------------------------------------

SECRET_KEYS = (
    "WHATSAPP_ACCESS_TOKEN",
    "MESSENGER_PAGE_ACCESS_TOKEN",
    "X_BEARER_TOKEN",
    "X_CONSUMER_KEY",
    "X_CONSUMER_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
)


@pytest.fixture
def secrets_manager(platforms: Platforms) -> Iterator[Any]:
    """moto's Secrets Manager, with every token moved from the environment into the secret, as in AWS."""
    import boto3
    from moto import mock_aws

    from shared import config
    from shared.aws import clients

    values = {name: os.environ[name] for name in SECRET_KEYS}
    for name in SECRET_KEYS:
        platforms.delenv(name)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="ap-south-1")
        arn = client.create_secret(Name="sampark-test-secrets", SecretString=json.dumps(values))["ARN"]
        platforms.setenv("SECRETS_ID", arn)
        clients.reset()
        config.reset()
        yield client
        config.reset()
        clients.reset()


def test_tokens_are_read_from_the_secret(secrets_manager, capsys):
    summary, metrics, output = check(capsys)

    assert metrics == {"whatsapp": 1.0, "messenger": 1.0, "x": 1.0}, summary
    assert [token for token in TOKENS if token in output] == []


def test_an_unreadable_secret_fails_every_channel_instead_of_the_function(secrets_manager, platforms, capsys):
    # GIVEN the secret is gone (deleted, or the role may not read it)
    secrets_manager.delete_secret(SecretId="sampark-test-secrets", ForceDeleteWithoutRecovery=True)

    summary, metrics, output = check(capsys)

    # THEN every channel is 0 with the reason, and the function still returned its summary
    assert metrics == {"whatsapp": 0.0, "messenger": 0.0, "x": 0.0}
    assert {summary[channel]["reason"] for channel in CHECKED} == {"settings_unreadable (ResourceNotFoundException)"}
    assert set(warnings_in(output)) == set(CHECKED)
