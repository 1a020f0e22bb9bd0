"""Settings from the Secrets Manager secret: read on first use, and a change reaches warm functions in minutes."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from shared import config


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch):
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="ap-south-1")
        arn = client.create_secret(Name="sampark-secret", SecretString=json.dumps({"SMS_SENDER_ID": ""}))["ARN"]
        monkeypatch.setenv("SECRETS_ID", arn)
        monkeypatch.delenv("SMS_SENDER_ID", raising=False)
        config.reset()
        yield client, arn
        config.reset()


def test_a_changed_secret_is_read_again_after_the_cache_time(secret, monkeypatch: pytest.MonkeyPatch) -> None:
    client, arn = secret
    clock = [1000.0]
    monkeypatch.setattr(config.time, "monotonic", lambda: clock[0])
    assert config.get_optional("SMS_SENDER_ID") is None  # the district has not registered its header yet

    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"SMS_SENDER_ID": "DHNPOL"}))
    clock[0] += config.SECRET_CACHE_SECONDS - 1
    assert config.get_optional("SMS_SENDER_ID") is None  # cached: one GetSecretValue per environment and period

    clock[0] += 2
    assert config.get("SMS_SENDER_ID") == "DHNPOL"  # e.g. `make resend-acks` then finds senders that know it
