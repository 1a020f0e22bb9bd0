"""The channel health use case without any platform: checks that raise or hang, and the Graph error reasons."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from shared import channel_health
from shared.channel_health import ChannelHealth, Status
from shared.channels import meta
from shared.domain import Channel


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every checked channel has its settings (values never reach a platform here)."""
    for settings in channel_health._REQUIRED_SETTINGS.values():
        for name in settings:
            monkeypatch.setenv(name, "set")


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """Lets a hanging check finish once the test is over."""
    event = threading.Event()
    yield event
    event.set()


def test_a_check_that_raises_fails_its_channel_only_and_keeps_only_the_errors_type(configured):
    def broken() -> str | None:
        raise RuntimeError("token=EAAG-secret-looking-value in a message")

    results = channel_health._run_checks(
        {Channel.WHATSAPP: broken, Channel.MESSENGER: lambda: None, Channel.X: lambda: "webhook_invalid"}, timeout=5
    )

    assert results == [
        ChannelHealth(channel=Channel.WHATSAPP, status=Status.UNHEALTHY, reason="check_failed (RuntimeError)"),
        ChannelHealth(channel=Channel.MESSENGER, status=Status.HEALTHY),
        ChannelHealth(channel=Channel.X, status=Status.UNHEALTHY, reason="webhook_invalid"),
    ]


def test_a_hanging_check_times_out_without_holding_up_the_others(configured, released):
    def hangs() -> str | None:
        released.wait(10)
        return None

    results = channel_health._run_checks(
        {Channel.WHATSAPP: lambda: None, Channel.MESSENGER: hangs, Channel.X: lambda: None}, timeout=0.2
    )

    assert [(r.channel, r.status, r.reason) for r in results] == [
        (Channel.WHATSAPP, Status.HEALTHY, None),
        (Channel.MESSENGER, Status.UNHEALTHY, "timeout (0.2 s)"),
        (Channel.X, Status.HEALTHY, None),
    ]


def test_a_channel_without_its_settings_is_not_configured_and_not_checked(configured, monkeypatch):
    monkeypatch.delenv("X_ACCOUNT_ID")
    asked = []

    results = channel_health._run_checks({Channel.X: lambda: asked.append("x")}, timeout=5)

    assert results == [ChannelHealth(channel=Channel.X, status=Status.NOT_CONFIGURED)]
    assert asked == []


def test_a_malformed_deadline_is_a_configuration_error(monkeypatch):
    from shared.errors import ConfigurationError

    monkeypatch.setenv("CHANNEL_HEALTH_TIMEOUT_SECONDS", "soon")

    with pytest.raises(ConfigurationError, match="CHANNEL_HEALTH_TIMEOUT_SECONDS"):
        channel_health._timeout_seconds()


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        pytest.param(
            400, {"code": 190, "error_subcode": 463}, "token_invalid (HTTP 400, code 190, subcode 463)", id="expired"
        ),
        pytest.param(401, {"code": 190}, "token_invalid (HTTP 401, code 190)", id="invalid"),
        pytest.param(
            400, {"code": 100, "error_subcode": 33}, "gone (HTTP 400, code 100, subcode 33)", id="not-visible"
        ),
        pytest.param(403, {"code": 200}, "permission_denied (HTTP 403, code 200)", id="permission"),
        pytest.param(400, {"code": 10}, "permission_denied (HTTP 400, code 10)", id="permission-10"),
        pytest.param(400, {"code": 4}, "rate_limited (HTTP 400, code 4)", id="app-rate-limit"),
        pytest.param(429, {}, "rate_limited (HTTP 429, code None)", id="429"),
        pytest.param(500, {"code": 1}, "platform_unavailable (HTTP 500, code 1)", id="500"),
        pytest.param(502, {}, "platform_unavailable (HTTP 502, code None)", id="502-no-body"),
        pytest.param(400, {"code": 803}, "unexpected_answer (HTTP 400, code 803)", id="other"),
        # Only integers are kept: the body is the platform's (or an impostor's) to fill, and the reason is logged.
        pytest.param(
            400, {"code": "190 EAAG…", "error_subcode": True}, "unexpected_answer (HTTP 400, code None)", id="junk"
        ),
    ],
)
def test_graph_errors_become_short_reasons(status, error, reason):
    assert meta._graph_problem(status, {"error": error}, not_visible="gone") == reason
