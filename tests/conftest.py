"""Shared fixtures: test settings, moto with the resources of infra/resources.json, a fake Graph API."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

# Settings every test may rely on, fixed before the app is imported. The AWS endpoint is removed so that moto's
# in-process mock intercepts every call and nothing can reach a real or local AWS by accident.
TEST_SETTINGS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "ap-south-1",
    "AWS_REGION": "ap-south-1",
    "META_APP_SECRET": "test-app-secret",
    "META_VERIFY_TOKEN": "test-verify-token",
    "WHATSAPP_ACCESS_TOKEN": "test-whatsapp-token",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "SENDER_PEPPER": "test-pepper-not-for-production",
    "POWERTOOLS_METRICS_NAMESPACE": "Sampark",
    "POWERTOOLS_DEV": "false",
}
for _name in ("AWS_ENDPOINT_URL", "SECRETS_ID", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(TEST_SETTINGS)

EVENTS = Path(__file__).parent / "events"


def load_event(channel: str, name: str) -> bytes:
    """A recorded payload exactly as its bytes are on disk (signatures are computed over these bytes)."""
    return (EVENTS / channel / f"{name}.json").read_bytes()


class _CurrentStdout:
    """Powertools keeps the stream it saw at import; forward to whatever sys.stdout is now (pytest's capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture(autouse=True, scope="session")
def _logs_follow_capture() -> None:
    from shared.observability import logger

    logger.registered_handler.setStream(_CurrentStdout())


# Recorded payloads carry fixed timestamps; the clock is fixed a few hours after them so that they are fresh
# (inside the replay horizon) whatever day the tests run.
FIXED_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr("shared.clock.now", lambda: FIXED_NOW)
    return FIXED_NOW


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """moto with every resource of infra/resources.json, and the app's environment pointing at them."""
    import boto3
    from moto import mock_aws

    from shared import config, notices
    from shared.aws import clients
    from tools.resources import LocalStack

    with mock_aws():
        stack = LocalStack(boto3.Session(region_name="ap-south-1"), stack_name="sampark-test")
        for name, value in stack.create_all().items():
            monkeypatch.setenv(name, value)
        clients.reset()
        config.reset()
        notices.ensure_area_topics()
        yield stack
        clients.reset()


@pytest.fixture
def fake_graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from tools.fake_graph import FakeGraphServer

    server = FakeGraphServer(access_token=TEST_SETTINGS["WHATSAPP_ACCESS_TOKEN"]).start()
    monkeypatch.setenv("GRAPH_API_URL", server.graph_api_url)
    yield server
    server.stop()


@pytest.fixture
def api(aws: object) -> Iterator[object]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as client:
        yield client


@pytest.fixture
def dispatcher(aws: object) -> object:
    """Runs the queue-triggered functions like Lambda's event source mappings would."""
    import boto3

    from app import app
    from tools.dispatcher import LocalDispatcher

    def lookup(queue_name: str) -> tuple[str, str]:
        queue = aws.queue_for_name(queue_name)  # type: ignore[attr-defined]
        return queue["Ref"], queue["Arn"]

    return LocalDispatcher(app, boto3.client("sqs", region_name="ap-south-1"), lookup)


@pytest.fixture
def officer_api(api: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """The API client with the test user pool's keys served; see tests/officers.py for the users."""
    from tests.officers import CheckedClient, serve_jwks

    serve_jwks(monkeypatch)
    return CheckedClient(api)
