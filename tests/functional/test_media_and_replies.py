"""The media worker (download, checks, S3, dead letters) and the acknowledgement sender."""

from __future__ import annotations

import hashlib
from unittest import mock

import boto3
import pytest

from shared import media, recording, replies
from shared.channels import whatsapp
from shared.domain import Channel, ReplyAddress
from shared.errors import MediaUnavailableError, ReplyUnavailableError
from tests.conftest import FIXED_NOW, load_event
from tests.helpers import PHOTO, bucket_keys, media_items, tips


@pytest.fixture
def photo() -> bytes:
    with open(PHOTO, "rb") as file:
        return file.read()


@pytest.fixture
def recorded_photo(aws, fake_graph, photo):
    """album_photo_1 recorded as a tip; returns its (media job, reply job) without running them."""
    fake_graph.add_media("1210000000000101", photo, "image/jpeg")
    message = whatsapp.parse_delivery(load_event("whatsapp", "album_photo_1")).messages[0]
    with mock.patch.object(recording.queues, "enqueue") as enqueue:
        assert recording.record_message(message, FIXED_NOW) == "opened"
    jobs = {call.args[0]: call.args[1][0] for call in enqueue.call_args_list}
    return jobs[recording.MEDIA_QUEUE], jobs[recording.REPLIES_QUEUE]


def _job(recorded_photo, **changes) -> media.MediaJob:
    return media.MediaJob.from_dict({**recorded_photo[0], **changes})


def _media_item(aws) -> dict:
    [item] = media_items(aws)
    return item


def test_photo_is_stored_with_its_digest(aws, recorded_photo, photo):
    assert media.fetch_media(_job(recorded_photo)) == "stored"
    item = _media_item(aws)
    assert item["sha256"]["S"] == hashlib.sha256(photo).hexdigest()
    stored = boto3.client("s3").get_object(Bucket=aws.physical["MediaBucket"]["Ref"], Key=item["s3_key"]["S"])
    assert stored["Body"].read() == photo
    assert stored["ContentType"] == "image/jpeg"
    assert stored["Metadata"]["sha256"] == hashlib.sha256(photo).hexdigest()


def test_second_fetch_of_the_same_media_does_nothing(aws, recorded_photo, fake_graph):
    media.fetch_media(_job(recorded_photo))
    requests_before = len(fake_graph.state.requests)
    assert media.fetch_media(_job(recorded_photo)) == "already_done"
    assert len(fake_graph.state.requests) == requests_before


def test_expired_webhook_url_is_refreshed_through_the_media_id(aws, recorded_photo, fake_graph):
    expired = f"{fake_graph.base_url}/media/expired-url"
    assert media.fetch_media(_job(recorded_photo, url=expired)) == "stored"
    assert ("GET", "/media/expired-url") in fake_graph.state.requests


@pytest.mark.parametrize(
    ("body", "url", "reason"),
    [
        (None, "https://evil.example.com/photo.jpg", "host_not_allowed"),
        (None, "http://169.254.169.254/latest/meta-data/", "host_not_allowed"),
        (b"<html><script>alert(1)</script></html>", None, "unsupported_type"),
        (b"\xff\xd8\xff\xe0" + b"\0" * (5 * 1024 * 1024 + 1), None, "too_large"),
    ],
    ids=["foreign-host", "metadata-service", "html", "oversized-jpeg"],
)
def test_media_that_can_never_be_stored_is_rejected_and_the_tip_says_so(
    aws, recorded_photo, fake_graph, body, url, reason
):
    if body is not None:
        fake_graph.add_media("1210000000000101", body, "image/jpeg")
    job = _job(recorded_photo, url=url, media_id=None if url else "1210000000000101", sha256=None)
    assert media.fetch_media(job) == "rejected"
    item = _media_item(aws)
    assert (item["media_status"]["S"], item["failure"]["S"]) == ("rejected", reason)
    assert tips(aws)[0]["media_missing"]["N"] == "1"
    assert bucket_keys(aws, "tips/") == []


def test_checksum_mismatch_is_retried_not_stored(aws, recorded_photo):
    job = _job(recorded_photo, sha256="A" * 43 + "=")
    with pytest.raises(MediaUnavailableError):
        media.fetch_media(job)
    assert _media_item(aws)["media_status"]["S"] == "pending"


def test_transient_failure_is_retried_and_marked_missing_on_the_last_try(aws, recorded_photo, fake_graph):
    fake_graph.fail_next("/media/", 500, 500)
    with pytest.raises(MediaUnavailableError):
        media.fetch_media(_job(recorded_photo), receive_count=1)
    assert _media_item(aws)["media_status"]["S"] == "pending"
    with pytest.raises(MediaUnavailableError):
        media.fetch_media(_job(recorded_photo), receive_count=5)
    assert _media_item(aws)["media_status"]["S"] == "missing"
    assert tips(aws)[0]["media_missing"]["N"] == "1"


def test_media_that_keeps_failing_ends_in_the_dead_letter_queue(aws, recorded_photo, fake_graph, dispatcher):
    # GIVEN the media host is down and a failed job becomes visible again at once
    sqs = boto3.client("sqs", region_name="ap-south-1")
    queue_url = aws.physical["MediaQueue"]["Ref"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})
    fake_graph.fail_next("/media/", *[503] * 20)
    recording.queues.enqueue(recording.MEDIA_QUEUE, [recorded_photo[0]])
    # WHEN the dispatcher keeps retrying it as Lambda would
    for _ in range(10):
        dispatcher.poll_once()
    # THEN after maxReceiveCount (5) receives it sits in the dead-letter queue, and the tip says it is missing
    dead = sqs.receive_message(QueueUrl=aws.physical["MediaDeadLetterQueue"]["Ref"], MaxNumberOfMessages=10)
    assert len(dead.get("Messages", [])) == 1
    assert _media_item(aws)["media_status"]["S"] == "missing"


def test_acknowledgement_is_bilingual_discreet_and_quotes_the_reference(aws, recorded_photo, fake_graph):
    assert replies.send_acknowledgement(recorded_photo[1]["tip_id"]) == "sent"
    [reply] = fake_graph.replies
    payload = reply["payload"]
    text = payload["text"]["body"]
    reference = tips(aws)[0]["reference"]["S"]
    assert reference in text and "112" in text
    assert "धन्यवाद" in text and "Thank you" in text
    assert not {"police", "crime", "informant"} & set(text.lower().replace(".", " ").split())
    assert payload["to"] == "919835011111"
    assert payload["context"]["message_id"].startswith("wamid.")
    assert reply["phone_number_id"] == "106540352242922"
    assert tips(aws)[0]["ack_status"]["S"] == "sent"


def test_acknowledgement_is_sent_once(aws, recorded_photo, fake_graph):
    replies.send_acknowledgement(recorded_photo[1]["tip_id"])
    assert replies.send_acknowledgement(recorded_photo[1]["tip_id"]) == "already_sent"
    assert len(fake_graph.replies) == 1


def test_platform_refusal_marks_the_acknowledgement_failed(aws, recorded_photo, fake_graph):
    fake_graph.fail_next("/v25.0/106540352242922/messages", 400)
    assert replies.send_acknowledgement(recorded_photo[1]["tip_id"]) == "rejected"
    assert tips(aws)[0]["ack_status"]["S"] == "failed"


def test_platform_outage_is_retried(aws, recorded_photo, fake_graph):
    fake_graph.fail_next("/v25.0/106540352242922/messages", 503)
    with pytest.raises(ReplyUnavailableError):
        replies.send_acknowledgement(recorded_photo[1]["tip_id"])
    assert replies.send_acknowledgement(recorded_photo[1]["tip_id"]) == "sent"
    assert len(fake_graph.replies) == 1


def test_username_users_are_answered_by_bsuid(fake_graph):
    address = ReplyAddress(
        channel=Channel.WHATSAPP, recipient="IN.2001882299334455667", recipient_kind="bsuid", in_reply_to="wamid.X"
    )
    whatsapp.send_text(address, "hello")
    [reply] = fake_graph.replies
    assert reply["payload"]["recipient"] == "IN.2001882299334455667"
    assert "to" not in reply["payload"]


def test_a_claimed_acknowledgement_is_not_sent_twice_until_the_claim_lapses(
    aws, recorded_photo, fake_graph, monkeypatch
):
    # GIVEN another reply sender claimed the acknowledgement and then crashed
    from datetime import timedelta

    from shared.storage import tips as tip_store

    tip_id = recorded_photo[1]["tip_id"]
    assert tip_store.claim_ack(tip_id, FIXED_NOW, lease_seconds=60)
    # WHEN a second copy of the job runs during the lease, and again after it
    during = replies.send_acknowledgement(tip_id)
    monkeypatch.setattr("shared.clock.now", lambda: FIXED_NOW + timedelta(minutes=2))
    after = replies.send_acknowledgement(tip_id)
    # THEN only the run after the lease sends, once
    assert (during, after) == ("claimed_elsewhere", "sent")
    assert len(fake_graph.replies) == 1
