import json
from datetime import UTC, datetime
from unittest import mock

import boto3

from shared.channels import meta
from tests.conftest import load_event


def test_signed_text_becomes_tip_with_one_reply(api, dispatcher, fake_graph):
    body = load_event("whatsapp", "text_english")
    with mock.patch("shared.intake.datetime") as fake_dt:
        fake_dt.now.return_value = datetime(2025, 11, 28, 6, 0, tzinfo=UTC)
        response = api.http.post(
            "/webhooks/whatsapp",
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(body)},
            body=body,
        )
    assert response.status_code == 200
    print("processed", dispatcher.drain())
    items = boto3.client("dynamodb").scan(TableName="sampark-test-tips")["Items"]
    kinds = sorted(i["sk"]["S"] for i in items)
    print(json.dumps(items, default=str)[:2000])
    assert "TIP" in kinds
    assert len(fake_graph.replies) == 1
