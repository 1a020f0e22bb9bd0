"""The local stack's wanted-photo plumbing, as infra/resources.json builds it in AWS (tools.resources).

- S3 event notifications: an object created under uploads/ in the private media bucket is announced on the
  sampark-photo-uploads queue, which the local dispatcher hands to process_photo_uploads (as Lambda's mapping does).
- The public photos: under `make run`, PUBLIC_MEDIA_BASE_URL is the public bucket on the moto server, which anyone
  can GET from (a plain, unauthenticated request), as anyone can through CloudFront in AWS.
- The upload itself: a browser's multipart POST to a presigned POST lands in the bucket and is announced.
The last two run against a real moto server on 127.0.0.1, as `make run` starts it.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import pytest

from functions.workers import PHOTO_UPLOADS_QUEUE
from tools.local_stack import HOST, MotoSession
from tools.resources import LocalStack

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"  # the bytes only need to be bytes here


def _s3(aws: LocalStack) -> Any:
    return aws.session.client("s3")


def _sqs(aws: LocalStack) -> Any:
    return aws.session.client("sqs")


def _take_messages(stack: LocalStack) -> list[dict[str, Any]]:
    """Every message on the photo uploads queue (bodies as JSON), deleted as they are read."""
    sqs = _sqs(stack)
    url = stack.queue_for_name(PHOTO_UPLOADS_QUEUE)["Ref"]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _announced_keys(bodies: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(event name, bucket, key) of each record; S3 sends keys URL-encoded (quote_plus), as moto does."""
    return [
        (record["eventName"], record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"]))
        for body in bodies
        for record in body["Records"]
    ]


# --- in-process moto (the tests' `aws` fixture) -----------------------------------------------------------------


def test_the_stack_starts_with_an_empty_uploads_queue(aws: LocalStack) -> None:
    """S3 sends an s3:TestEvent when notifications are configured (moto too); the local stack takes it away."""
    assert _take_messages(aws) == []


def test_an_upload_to_the_media_bucket_is_announced_on_the_photo_uploads_queue(aws: LocalStack) -> None:
    # GIVEN the media bucket of the stack
    bucket = aws.environment()["MEDIA_BUCKET_NAME"]

    # WHEN an object is created under uploads/ (and others elsewhere)
    _s3(aws).put_object(Bucket=bucket, Key="uploads/wanted/x/y", Body=JPEG)
    _s3(aws).put_object(Bucket=bucket, Key="tips/t1/m1.jpg", Body=JPEG)
    _s3(aws).put_object(Bucket=bucket, Key="inbox/whatsapp/d1.json", Body=b"{}")

    # THEN exactly the upload is announced, as an S3 event notification
    bodies = _take_messages(aws)
    assert _announced_keys(bodies) == [("ObjectCreated:Put", bucket, "uploads/wanted/x/y")]
    (record,) = bodies[0]["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["s3"]["object"]["size"] == len(JPEG)


def test_the_key_in_the_notification_is_url_encoded_like_s3s(aws: LocalStack) -> None:
    bucket = aws.environment()["MEDIA_BUCKET_NAME"]

    _s3(aws).put_object(Bucket=bucket, Key="uploads/wanted/x/a b+c.jpg", Body=JPEG)

    (body,) = _take_messages(aws)
    assert body["Records"][0]["s3"]["object"]["key"] == "uploads%2Fwanted%2Fx%2Fa+b%2Bc.jpg"


def test_the_dispatcher_hands_each_upload_to_process_photo_uploads(aws: LocalStack, dispatcher: Any) -> None:
    # GIVEN the dispatcher's mapping for the pipeline function, its handler replaced by a recorder
    (mapping,) = [m for m in dispatcher.mappings if m.function_name == "process_photo_uploads"]
    queue = aws.queue_for_name(PHOTO_UPLOADS_QUEUE)
    assert (mapping.queue_url, mapping.queue_arn, mapping.batch_size) == (queue["Ref"], queue["Arn"], 1)
    events: list[dict[str, Any]] = []
    mapping.handler = lambda event, context: events.append(event) or {"batchItemFailures": []}
    bucket = aws.environment()["MEDIA_BUCKET_NAME"]

    # WHEN two photos are uploaded
    _s3(aws).put_object(Bucket=bucket, Key="uploads/wanted/n1/u1", Body=JPEG)
    _s3(aws).put_object(Bucket=bucket, Key="uploads/wanted/n2/u2", Body=JPEG)
    dispatcher.drain()

    # THEN the function got one Lambda-shaped SQS record per invocation, each an S3 notification, and none is left
    assert [len(event["Records"]) for event in events] == [1, 1]
    records = [event["Records"][0] for event in events]
    assert {record["eventSourceARN"] for record in records} == {queue["Arn"]}
    keys = _announced_keys([json.loads(record["body"]) for record in records])
    assert sorted(key for _, _, key in keys) == ["uploads/wanted/n1/u1", "uploads/wanted/n2/u2"]
    assert _take_messages(aws) == []


def test_in_process_the_public_base_url_is_the_buckets_s3_url(aws: LocalStack) -> None:
    environment = aws.environment()
    bucket = environment["PUBLIC_MEDIA_BUCKET_NAME"]
    assert environment["PUBLIC_MEDIA_BASE_URL"] == f"https://{bucket}.s3.ap-south-1.amazonaws.com"
    assert aws.local_public_media_url() == environment["PUBLIC_MEDIA_BASE_URL"]


# --- a real moto server, as `make run` starts it ----------------------------------------------------------------


@dataclass(frozen=True)
class MotoStack:
    endpoint: str
    stack: LocalStack
    environment: dict[str, str]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.fixture
def moto_stack() -> Iterator[MotoStack]:
    """A moto server holding the stack, fresh for each test.

    A moto server in this process shares its backends with mock_aws (the `aws` fixture) and with other tests'
    servers, and stopping it keeps them: it is reset before and after.
    """
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    endpoint = f"http://{HOST}:{port}"
    try:
        _reset(endpoint)
        stack = LocalStack(MotoSession(endpoint))
        yield MotoStack(endpoint=endpoint, stack=stack, environment=stack.create_all())
    finally:
        _reset(endpoint)
        server.stop()


def _get(url: str) -> tuple[int, bytes, str | None]:
    """A plain GET, as a browser or a phone fetches an <img>: no credentials, no signature."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Content-Type")
    except urllib.error.HTTPError as error:
        return error.code, b"", None


def test_a_published_photo_is_public_under_the_local_base_url(moto_stack: MotoStack) -> None:
    # GIVEN the base URL `make run` gives the app, and a photo published as the pipeline does
    base_url = moto_stack.stack.local_public_media_url(moto_stack.endpoint)
    public_bucket = moto_stack.environment["PUBLIC_MEDIA_BUCKET_NAME"]
    assert base_url == f"{moto_stack.endpoint}/{public_bucket}"
    key = "wanted/n1/photo-1080.jpg"
    _s3(moto_stack.stack).put_object(Bucket=public_bucket, Key=key, Body=JPEG, ContentType="image/jpeg")

    # WHEN anyone fetches it at base + "/" + key
    status, body, content_type = _get(f"{base_url}/{key}")

    # THEN it is served as stored
    assert (status, body, content_type) == (200, JPEG, "image/jpeg")


def test_only_what_the_distribution_may_read_is_public(moto_stack: MotoStack) -> None:
    # GIVEN objects outside wanted/ in the public bucket, and an upload in the private media bucket
    s3 = _s3(moto_stack.stack)
    public_bucket = moto_stack.environment["PUBLIC_MEDIA_BUCKET_NAME"]
    media_bucket = moto_stack.environment["MEDIA_BUCKET_NAME"]
    s3.put_object(Bucket=public_bucket, Key="drafts/n1.jpg", Body=JPEG)
    s3.put_object(Bucket=media_bucket, Key="uploads/wanted/n1/u1", Body=JPEG)

    # WHEN they are fetched without credentials THEN they are refused (CloudFront may read wanted/* only)
    base_url = moto_stack.stack.local_public_media_url(moto_stack.endpoint)
    assert _get(f"{base_url}/drafts/n1.jpg")[0] == 403
    assert _get(f"{moto_stack.endpoint}/{media_bucket}/uploads/wanted/n1/u1")[0] == 403
    # and a photo that was removed (a captured notice) is gone
    assert _get(f"{base_url}/wanted/n1/photo-1080.jpg")[0] == 404


def _multipart(fields: dict[str, str], file_name: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    """A form as a browser sends it: the presigned fields, then the file (S3 ignores fields after the file)."""
    boundary = f"----sampark{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_a_browser_post_to_a_presigned_post_stores_the_upload_and_announces_it(moto_stack: MotoStack) -> None:
    # GIVEN a presigned POST for one key under uploads/, as the app creates it (credentials of the app's role)
    media_bucket = moto_stack.environment["MEDIA_BUCKET_NAME"]
    key = f"uploads/wanted/n7/{uuid.uuid4().hex}"
    post = _s3(moto_stack.stack).generate_presigned_post(
        media_bucket,
        key,
        Fields={"Content-Type": "image/jpeg"},
        Conditions=[["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, 10 * 1024 * 1024]],
        ExpiresIn=600,
    )
    assert post["url"] == f"{moto_stack.endpoint}/{media_bucket}"

    # WHEN a browser posts the form, with no credentials of its own
    body, content_type = _multipart(post["fields"], "IMG_0001.jpg", "image/jpeg", JPEG)
    request = urllib.request.Request(post["url"], data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        status = response.status

    # THEN the object is stored under the presigned key, and the pipeline's queue hears of it
    assert 200 <= status < 300
    stored = _s3(moto_stack.stack).get_object(Bucket=media_bucket, Key=key)
    assert stored["Body"].read() == JPEG
    assert stored["ContentType"] == "image/jpeg"
    assert _announced_keys(_take_messages(moto_stack.stack)) == [("ObjectCreated:Post", media_bucket, key)]


def test_the_server_stack_starts_with_an_empty_uploads_queue(moto_stack: MotoStack) -> None:
    assert _take_messages(moto_stack.stack) == []
    (queue,) = _s3(moto_stack.stack).get_bucket_notification_configuration(
        Bucket=moto_stack.environment["MEDIA_BUCKET_NAME"]
    )["QueueConfigurations"]
    assert queue["QueueArn"] == moto_stack.stack.queue_for_name(PHOTO_UPLOADS_QUEUE)["Arn"]
    assert queue["Events"] == ["s3:ObjectCreated:*"]
    assert queue["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}
