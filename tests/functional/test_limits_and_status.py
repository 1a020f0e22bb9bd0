"""Per-sender limits on acknowledgements, and tip status by reference."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import recording
from shared.channels import whatsapp
from shared.domain import Channel
from shared.storage import senders
from tests.conftest import FIXED_NOW, load_event
from tests.helpers import add_album_media, post_whatsapp, tips

REFERENCE = "DHN-7K3QM"


@pytest.fixture
def known_reference(monkeypatch):
    monkeypatch.setattr(recording, "new_reference", lambda: REFERENCE)


@pytest.fixture
def reported_tip(api, dispatcher, fake_graph, aws, known_reference):
    """Sunita's album photo, recorded and acknowledged under reference DHN-7K3QM."""
    add_album_media(fake_graph)
    post_whatsapp(api, "album_photo_1")
    dispatcher.drain()
    assert len(fake_graph.replies) == 1
    return tips(aws)[0]


def _last_reply_text(fake_graph) -> str:
    return fake_graph.replies[-1]["payload"]["text"]["body"]


@pytest.mark.parametrize("fixture", ["status_query_own", "status_query_hindi"])
def test_sender_gets_the_status_of_their_own_tip(api, dispatcher, fake_graph, aws, reported_tip, fixture):
    post_whatsapp(api, fixture)
    dispatcher.drain()
    text = _last_reply_text(fake_graph)
    assert REFERENCE in text and "received, awaiting review" in text and "समीक्षा" in text
    assert len(tips(aws)) == 1  # a question is not a tip


@pytest.mark.parametrize("fixture", ["status_query_other_sender", "status_query_unknown"])
def test_any_other_reference_gets_the_same_not_found(api, dispatcher, fake_graph, aws, reported_tip, fixture):
    post_whatsapp(api, fixture)
    dispatcher.drain()
    assert _last_reply_text(fake_graph).startswith("यह संदर्भ संख्या नहीं मिली")
    assert "awaiting review" not in _last_reply_text(fake_graph)
    assert len(tips(aws)) == 1


def test_a_redelivered_status_query_is_answered_once(api, dispatcher, fake_graph, aws, reported_tip):
    post_whatsapp(api, "status_query_own")
    post_whatsapp(api, "status_query_own")
    dispatcher.drain()
    assert len(fake_graph.replies) == 2  # the acknowledgement and one answer


def test_a_sender_over_the_limit_is_stored_but_told_once_and_not_acknowledged(aws, fake_graph, dispatcher, monkeypatch):
    # GIVEN a limit of 2 messages an hour, and a grouping window so short that every message opens its own tip
    monkeypatch.setenv("SENDER_MESSAGE_LIMIT", "2")
    monkeypatch.setenv("TIP_GROUPING_WINDOW_SECONDS", "0")
    add_album_media(fake_graph)
    names = ["album_photo_1", "album_photo_2", "album_photo_3", "followup_text"]
    messages = [whatsapp.parse_delivery(load_event("whatsapp", name)).messages[0] for name in names]
    # WHEN the sender's four messages arrive a second apart and everything is processed
    for second, message in enumerate(messages):
        assert recording.record_message(message, FIXED_NOW + timedelta(seconds=second)) == "opened"
    dispatcher.drain()
    # THEN all four tips are stored; two are acknowledged, then one notice, then silence
    statuses = sorted(tip["ack_status"]["S"] for tip in tips(aws))
    assert statuses == ["limited", "limited", "sent", "sent"]
    texts = [reply["payload"]["text"]["body"] for reply in fake_graph.replies]
    assert len(texts) == 3
    assert sum("Your messages are being received and kept" in text for text in texts) == 1


def test_the_limit_lifts_when_the_window_passes(aws, fake_graph, dispatcher, monkeypatch):
    monkeypatch.setenv("SENDER_MESSAGE_LIMIT", "1")
    monkeypatch.setenv("TIP_GROUPING_WINDOW_SECONDS", "0")
    add_album_media(fake_graph)
    first, second = (whatsapp.parse_delivery(load_event("whatsapp", f"album_photo_{i}")).messages[0] for i in (1, 2))
    recording.record_message(first, FIXED_NOW)
    monkeypatch.setattr("shared.clock.now", lambda: FIXED_NOW + timedelta(hours=1))
    recording.record_message(second, FIXED_NOW + timedelta(hours=1))
    dispatcher.drain()
    assert sorted(tip["ack_status"]["S"] for tip in tips(aws)) == ["sent", "sent"]


def test_counters_are_atomic_and_the_notice_is_claimed_once(aws, monkeypatch):
    # GIVEN a sender's messages counted one after another, every DynamoDB request recorded
    from shared.storage.models import RateItem

    window = 1795867200
    senders.count_message("p0", Channel.WHATSAPP, window, 3600)  # binds the model and opens its connection
    requests: list[str] = []
    client = RateItem._get_connection().connection.client
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: requests.append(model.name))
    counts = [senders.count_message("p1", Channel.WHATSAPP, window, 3600) for _ in range(40)]
    # THEN each count is exact and is one UpdateItem (ADD, value returned): never a read then a write, so parallel
    # workers in DynamoDB cannot lose a count (moto's in-process tables are not thread-safe, so no threads here)
    assert counts == list(range(1, 41))
    assert requests == ["UpdateItem"] * 40
    claims = [senders.claim_limit_notice("p1", Channel.WHATSAPP, window, 3600) for _ in range(5)]
    assert claims == [True, False, False, False, False]


@pytest.mark.parametrize(
    ("text", "public", "expected"),
    [
        ("STATUS DHN-7K3QM", False, "DHN-7K3QM"),
        ("status dhn7k3qm?", False, "DHN-7K3QM"),
        ("स्थिति: DHN-7K3QM", False, "DHN-7K3QM"),
        ("status update", False, None),  # an ordinary tip, not a query
        ("Status pending?", False, None),
        ("status report", False, None),
        ("STATUS ABC-7K3QM", False, None),  # not our district's prefix
        ("STATUS DHN-7K3Q0", False, None),  # 0 is not in the reference alphabet
        ("STATUS DHN-7K3QM", True, None),  # a public post is never answered with a status
    ],
)
def test_only_a_private_message_quoting_our_reference_shape_is_a_status_query(text, public, expected):
    from shared.domain import InboundMessage, ReplyAddress

    message = InboundMessage(
        channel=Channel.X,
        sender_id="1",
        external_id="x",
        sent_at=FIXED_NOW,
        text=text,
        reply_address=ReplyAddress(channel=Channel.X, recipient="1", recipient_kind="dm", public=public),
    )
    assert recording.status_query_reference(message) == expected
