"""Queue-triggered functions: record deliveries, fetch media, send replies, publish photos and broadcasts, post
notices to Facebook and X.

Each reports partial batch failures (Powertools BatchProcessor); only the failed records come back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from chalice import Blueprint

from shared.domain import Channel
from shared.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

bp = Blueprint(__name__)

# Queue names are fixed so that `chalice package` can render the event sources; infra/ creates them.
DELIVERIES_QUEUE = "sampark-deliveries"
MEDIA_QUEUE = "sampark-media"
REPLIES_QUEUE = "sampark-replies"
PHOTO_UPLOADS_QUEUE = "sampark-photo-uploads"  # S3 event notifications of uploads/ (Chalice cannot package S3 triggers)
BROADCASTS_QUEUE = "sampark-broadcasts"
SOCIAL_POSTS_QUEUE = "sampark-social-posts"  # subscribed (raw delivery) to the broadcast-events topic


def _process(event, record_handler):
    # Imported on first use: the API handler imports this module too and should not pay for it on a cold start.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event.to_dict(), record_handler=_logged(record_handler), processor=processor, context=event.context
    )


def _logged(record_handler):
    """Log a failed record (it will be retried, then dead-lettered) before the batch processor reports it."""

    def handle(record: SQSRecord) -> None:
        try:
            record_handler(record)
        except Exception:
            logger.exception("record failed; it will be retried", extra={"message_id": record.message_id})
            raise

    return handle


# One delivery per invocation: a delivery can hold up to 1,000 messages (README, "Throughput").
@bp.on_sqs_message(queue=DELIVERIES_QUEUE, batch_size=1, name="record_deliveries")
def record_deliveries(event):
    return _process(event, _record_delivery)


def _record_delivery(record: SQSRecord) -> None:
    from shared import recording  # use cases are imported on first use: the API handler shares this module

    job = json.loads(record.body)
    recording.process_delivery(Channel(job["channel"]), job["inbox_key"], datetime.fromisoformat(job["received_at"]))


@bp.on_sqs_message(queue=MEDIA_QUEUE, batch_size=5, name="fetch_media")
def fetch_media(event):
    return _process(event, _fetch_one)


def _fetch_one(record: SQSRecord) -> None:
    from shared import media

    receive_count = int(record.attributes.approximate_receive_count or 1)
    media.fetch_media(media.MediaJob.from_dict(json.loads(record.body)), receive_count)


@bp.on_sqs_message(queue=REPLIES_QUEUE, batch_size=10, name="send_replies")
def send_replies(event):
    return _process(event, _send_one)


def _send_one(record: SQSRecord) -> None:
    from shared import replies

    replies.send_reply(json.loads(record.body))


# One upload per invocation: decoding and re-encoding a photo is the heaviest work Sampark does.
@bp.on_sqs_message(queue=PHOTO_UPLOADS_QUEUE, batch_size=1, name="process_photo_uploads")
def process_photo_uploads(event):
    return _process(event, _process_upload)


def _process_upload(record: SQSRecord) -> None:
    from shared import wanted_photos

    receive_count = int(record.attributes.approximate_receive_count or 1)
    wanted_photos.process_notification(json.loads(record.body), receive_count)


# One broadcast per invocation: it publishes once per targeted topic (at most areas x 2 languages x 2 channels).
@bp.on_sqs_message(queue=BROADCASTS_QUEUE, batch_size=1, name="send_broadcasts")
def send_broadcasts(event):
    return _process(event, _send_broadcast)


def _send_broadcast(record: SQSRecord) -> None:
    from shared import broadcasts

    broadcasts.send(json.loads(record.body)["broadcast_id"])


# One event per invocation: it makes at most one post per platform.
@bp.on_sqs_message(queue=SOCIAL_POSTS_QUEUE, batch_size=1, name="post_to_social")
def post_to_social(event):
    return _process(event, _post_one)


def _post_one(record: SQSRecord) -> None:
    from shared import social

    social.handle(json.loads(record.body))


# SNS's SMS delivery-status logs (CloudWatch Logs subscription filters in infra/resources.json): a broadcast's
# delivered and failed figures. Chalice has no Logs trigger, so the filters and the permission are in the template.
@bp.lambda_function(name="count_sms_deliveries")
def count_sms_deliveries(event, context) -> dict:
    from shared import broadcasts
    from shared.aws import delivery_logs

    return {"counted": broadcasts.count_sms_deliveries(delivery_logs.statuses(event))}
