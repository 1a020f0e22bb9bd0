"""No phone number, platform user id, display name or platform message id in any stored item or log line."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import boto3
import pytest

from tests.conftest import EVENTS
from tests.helpers import PHOTO, post_whatsapp, table_items

# Identities used by the flow fixtures written for the intake tests (the adapter fixtures list theirs in
# tests/identities.py).
FLOW_IDENTIFIERS = (
    "919835011111",
    "IN.2001882299334455667",
    "Sunita Devi",
    "917488022222",
    "IN.3009988776655443322",
    "Md. Aslam",
)


def _fixture_identifiers() -> set[str]:
    try:
        from tests.identities import WHATSAPP_IDENTIFIERS
    except ImportError:  # pragma: no cover - the adapter fixtures are not there yet
        WHATSAPP_IDENTIFIERS = ()
    return set(WHATSAPP_IDENTIFIERS) | set(FLOW_IDENTIFIERS) | _wamids()


def _wamids() -> set[str]:
    text = "".join(path.read_text() for path in EVENTS.glob("whatsapp/*.json"))
    return set(re.findall(r"wamid\.[A-Za-z0-9+=_\-]+", text))


def _searchable_forms(identifier: str) -> set[str]:
    forms = {identifier}
    if identifier.isdigit():
        forms |= {"+" + identifier, identifier[-10:]}  # E.164 and the bare 10-digit mobile number
    return forms


def _stored_text(stack) -> str:
    """Every stored item as text, binary attributes included both raw and base64-decoded."""
    items = table_items(stack)
    parts = [json.dumps(items, ensure_ascii=False, default=str)]
    for item in items:
        for value in item.values():
            if "B" in value:
                raw = value["B"] if isinstance(value["B"], bytes) else base64.b64decode(value["B"])
                parts.append(raw.decode("latin-1"))
    s3 = boto3.client("s3", region_name="ap-south-1")
    bucket = stack.physical["MediaBucket"]["Ref"]
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        parts.append(obj["Key"])
        if obj["Key"].startswith("inbox/"):
            parts.append(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("latin-1"))
    return "\n".join(parts)


@pytest.mark.parametrize("identifier_set", ["all fixtures"])
def test_no_identifier_is_stored_or_logged(api, dispatcher, fake_graph, aws, capsys, caplog, identifier_set):
    # GIVEN every WhatsApp fixture, each signed and delivered, with every media id served
    photo = Path(PHOTO).read_bytes()
    for media_id in set(
        re.findall(r'"id":"(\d{10,})"', "".join(p.read_text() for p in EVENTS.glob("whatsapp/*.json")))
    ):
        fake_graph.add_media(media_id, photo, "image/jpeg")
    for path in sorted(EVENTS.glob("whatsapp/*.json")):
        post_whatsapp(api, path.read_bytes())
    # WHEN everything is processed, acknowledgements included
    dispatcher.drain()
    # THEN tips exist, yet no identifier appears in any item, object key, inbox copy or log line
    assert any(item["sk"]["S"] == "TIP" for item in table_items(aws))
    assert fake_graph.replies, "the acknowledgements must have been sent"
    captured = capsys.readouterr()
    logs = captured.out + captured.err + "\n".join(record.getMessage() for record in caplog.records)
    assert "tip opened" in logs  # the logs were really captured
    stored = _stored_text(aws)
    leaks = sorted(
        form for identifier in _fixture_identifiers() for form in _searchable_forms(identifier) if form in stored + logs
    )
    where = {form: [line[:300] for line in (stored + logs).splitlines() if form in line][:2] for form in leaks}
    assert leaks == [], where
