from datetime import UTC, datetime

import boto3

from shared.channels import meta
from tests.conftest import load_event


def test_signed_text_becomes_tip_with_one_reply(api, dispatcher, fake_graph, aws, monkeypatch):
    # text_english.json was sent on 2025-11-28 05:20 UTC; receive it an hour later
    monkeypatch.setattr("shared.clock.now", lambda: datetime(2025, 11, 28, 6, 20, tzinfo=UTC))
    body = load_event("whatsapp", "text_english")
    response = api.http.post(
        "/webhooks/whatsapp",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(body)},
        body=body,
    )
    assert response.status_code == 200
    dispatcher.drain()
    items = boto3.client("dynamodb").scan(TableName=aws.physical["TipsTable"]["Ref"])["Items"]
    assert [item["sk"]["S"] for item in items].count("TIP") == 1
    assert len(fake_graph.replies) == 1
