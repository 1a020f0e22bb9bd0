"""From a stored delivery to tips: grouping, albums, exactly-once, follow-ups after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import recording
from tests.helpers import add_album_media, bucket_keys, media_items, post_whatsapp, tips


def test_album_sent_as_parallel_webhooks_becomes_one_tip_with_one_reply(api, dispatcher, fake_graph, aws):
    # GIVEN three photos of one album, each in its own webhook, all accepted before any worker runs
    photo = add_album_media(fake_graph)
    for name in ("album_photo_1", "album_photo_2", "album_photo_3"):
        assert post_whatsapp(api, name).status_code == 200
    # WHEN the workers run
    dispatcher.drain()
    # THEN one tip holds the three photos, stored in S3 with their SHA-256, and one reply went out
    [tip] = tips(aws)
    assert tip["media_count"]["N"] == "3"
    assert tip["texts"]["L"] == [{"S": "ये वही आदमी है / this is the man"}]
    stored = media_items(aws)
    assert sorted(item["media_status"]["S"] for item in stored) == ["stored"] * 3
    assert {item["content_type"]["S"] for item in stored} == {"image/jpeg"}
    assert {item["size"]["N"] for item in stored} == {str(len(photo))}
    assert len(bucket_keys(aws, f"tips/{tip['tip_id']['S']}/")) == 3
    assert len(fake_graph.replies) == 1


def test_follow_up_text_joins_the_open_tip(api, dispatcher, fake_graph, aws):
    add_album_media(fake_graph)
    post_whatsapp(api, "album_photo_1")
    dispatcher.drain()
    post_whatsapp(api, "followup_text")
    dispatcher.drain()
    [tip] = tips(aws)
    assert tip["message_count"]["N"] == "2"
    assert tip["texts"]["L"][-1] == {"S": "वह सफ़ेद बोलेरो में था, नंबर JH10 से शुरू"}
    assert len(fake_graph.replies) == 1


def test_message_after_the_grouping_window_opens_a_new_tip(api, dispatcher, fake_graph, aws, monkeypatch, fixed_clock):
    add_album_media(fake_graph)
    post_whatsapp(api, "album_photo_1")
    dispatcher.drain()
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(hours=1))
    post_whatsapp(api, "followup_text")
    dispatcher.drain()
    assert len(tips(aws)) == 2
    assert len(fake_graph.replies) == 2
    references = {
        reply["payload"]["text"]["body"].split("Reference: ")[1].split("\n")[0] for reply in fake_graph.replies
    }
    assert len(references) == 2


@pytest.mark.parametrize("days_later", [0, 7])
def test_redelivery_creates_nothing_new(api, dispatcher, fake_graph, aws, monkeypatch, fixed_clock, days_later):
    # GIVEN a recorded photo message
    add_album_media(fake_graph)
    post_whatsapp(api, "album_photo_1")
    dispatcher.drain()
    items_before = media_items(aws) + tips(aws)
    # WHEN Meta delivers it again (minutes or 7 days later), inside a batch with a new message from someone else
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(days=days_later, minutes=5))
    assert post_whatsapp(api, "redelivery_in_new_batch").status_code == 200
    dispatcher.drain()
    # THEN only the other sender's message becomes a tip; the photo is neither stored nor answered again
    assert len(tips(aws)) == 2
    assert media_items(aws) == [item for item in items_before if item["sk"]["S"].startswith("MEDIA#")]
    assert len(fake_graph.replies) == 2
    assert len(bucket_keys(aws, "tips/")) == 1


def test_same_delivery_twice_is_one_tip_one_reply(api, dispatcher, fake_graph, aws):
    add_album_media(fake_graph)
    post_whatsapp(api, "album_photo_1")
    post_whatsapp(api, "album_photo_1")
    dispatcher.drain()
    assert len(tips(aws)) == 1
    assert len(fake_graph.replies) == 1


def test_processed_delivery_leaves_no_inbox_copy(api, dispatcher, fake_graph, aws):
    add_album_media(fake_graph)
    post_whatsapp(api, "album_photo_1")
    assert len(bucket_keys(aws, "inbox/")) == 1
    dispatcher.drain()
    assert bucket_keys(aws, "inbox/") == []


def test_crash_after_recording_still_sends_follow_ups_on_retry(api, dispatcher, fake_graph, aws, monkeypatch):
    # GIVEN the queue for follow-ups fails once, right after the tip was recorded
    add_album_media(fake_graph)
    real_enqueue = recording.queues.enqueue
    calls = {"n": 0}

    def flaky_enqueue(queue, jobs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("SQS unavailable")
        return real_enqueue(queue, jobs)

    monkeypatch.setattr(recording.queues, "enqueue", flaky_enqueue)
    # make the failed record visible again at once, as after its visibility timeout
    import boto3

    boto3.client("sqs", region_name="ap-south-1").set_queue_attributes(
        QueueUrl=aws.physical["DeliveriesQueue"]["Ref"], Attributes={"VisibilityTimeout": "0"}
    )
    post_whatsapp(api, "album_photo_1")
    # WHEN the worker fails once and the record is retried
    dispatcher.drain()
    # THEN there is still one tip, and its photo and acknowledgement were sent exactly once
    assert len(tips(aws)) == 1
    assert [item["media_status"]["S"] for item in media_items(aws)] == ["stored"]
    assert len(fake_graph.replies) == 1


def test_stale_message_beyond_the_replay_horizon_is_dropped(api, dispatcher, fake_graph, aws, monkeypatch, fixed_clock):
    monkeypatch.setattr("shared.clock.now", lambda: fixed_clock + timedelta(days=9))
    post_whatsapp(api, "followup_text")
    dispatcher.drain()
    assert tips(aws) == []
    assert fake_graph.replies == []


def test_two_workers_racing_on_one_sender_share_one_tip(aws, monkeypatch):
    # GIVEN worker B looked for the sender's open tip just before worker A opened it (parallel album webhooks)
    from shared.channels import whatsapp
    from shared.storage import tips as tip_store
    from tests.conftest import FIXED_NOW, load_event

    first, second = (whatsapp.parse_delivery(load_event("whatsapp", f"album_photo_{i}")).messages[0] for i in (1, 2))
    monkeypatch.setattr(recording.queues, "enqueue", lambda queue, jobs: None)
    assert recording.record_message(first, FIXED_NOW) == "opened"
    real_find, reads = tip_store.find_open_tip, []

    def find_open_tip(*args):
        reads.append(args)
        return None if len(reads) == 1 else real_find(*args)  # B's first read predates A's commit

    monkeypatch.setattr(tip_store, "find_open_tip", find_open_tip)
    # WHEN worker B records its photo
    outcome = recording.record_message(second, FIXED_NOW)
    # THEN B's attempt to open a second tip is refused by the open-tip condition, and it joins A's tip instead
    assert (outcome, len(reads)) == ("joined", 2)
    [tip] = tips(aws)
    assert tip["media_count"]["N"] == "2"
