"""`make run` end to end: the real process, real HTTP, moto in server mode, the fake Graph and X APIs, then Ctrl-C.

One started stack is driven channel by channel (WhatsApp, Messenger, X, SMS), each a subtest that looks only at what
changed since it began, then stopped with Ctrl-C. One test, not one per channel: with pytest 9.2, xdist 3.8's
loadgroup no longer keeps an xdist_group on one worker (pytest-dev/pytest-xdist#1386), so a module-scoped stack
shared by several tests could be started on both workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from shared.channels import meta, x
from shared.channels.sms import INBOUND_TOPIC
from tools.fake_graph import DEMO_PHOTO
from tools.local_stack import (
    DEMO_CDN_NAME,
    DEMO_X_MEDIA_PATH,
    DEVELOPMENT_SETTINGS,
    READY_LINE,
    example_delivery,
    example_messenger_delivery,
    example_x_delivery,
    port_is_free,
)

pytestmark = pytest.mark.xdist_group("e2e")

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60
PROCESSING_TIMEOUT = 20
STOP_TIMEOUT = 30  # a clean stop takes about 2 s; a loaded CI machine (2 cores, 2 test workers) needs more
VERIFY_TOKEN = "e2e-verify-token"  # set in the "shell": must win over DEVELOPMENT_SETTINGS
# Senders of the test's own deliveries; the banner's examples use others, so each paste is one more tip.
SENDER = "919000000777"
PSID = "7200000000000777"
X_USER = "1720000000000000777"
SMS_SENDER = "+919000000777"
PHOTO = DEMO_PHOTO.read_bytes()
T = TypeVar("T")


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    api: int
    moto: int
    fake_graph: int
    fake_x: int
    environment: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def webhook(self, channel: str) -> str:
        return f"http://127.0.0.1:{self.api}/webhooks/{channel}"

    def output(self) -> str:
        return "".join(self.lines)

    def read_output(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace")
            self.lines.append(line)
            if line.strip() == READY_LINE:
                self.ready.set()


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:  # all held at once, so the ports differ
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def stack_environment(api: int, moto: int, fake_graph: int, fake_x: int, example: Path) -> dict[str, str]:
    # Like a developer's shell: no AWS settings and none of the app's (tests/conftest.py set some), except one.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_")
        and name not in DEVELOPMENT_SETTINGS
        and name not in ("GRAPH_API_URL", "X_API_URL")
    }
    return {
        **inherited,
        "PORT": str(api),
        "MOTO_PORT": str(moto),
        "FAKE_GRAPH_PORT": str(fake_graph),
        "FAKE_X_PORT": str(fake_x),
        "META_VERIFY_TOKEN": VERIFY_TOKEN,
        "EXAMPLE_DELIVERY_FILE": str(example),  # not build/: a developer's `make run` may have printed those
        "SMS_OUTBOX_FILE": str(example.with_name("sms.jsonl")),
        "BROADCAST_APPROVAL_THRESHOLD": "0",  # every broadcast waits for a second supervisor: the whole path
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningStack]:
    ports = free_ports(4)
    example = tmp_path / "example-whatsapp.json"
    environment = stack_environment(*ports, example)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.local_stack"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so that the finally below can kill its whole group
    )
    running = RunningStack(process, *ports, environment=environment)
    threading.Thread(target=running.read_output, daemon=True).start()
    try:
        started = time.monotonic()
        assert running.ready.wait(STARTUP_TIMEOUT), f"no {READY_LINE!r}:\n{running.output()}"
        print(f"ready after {time.monotonic() - started:.1f} s")
        yield running
    finally:
        _kill(running)
        print(running.output())  # pytest shows it when the test fails


def _kill(running: RunningStack) -> None:
    """Whatever the tests did, leave no process behind (a clean stop has nothing left to kill)."""
    if running.process.poll() is not None:
        return
    chalice = re.search(r"chalice local started: pid (\d+)", running.output())
    groups = [running.process.pid] + ([int(chalice.group(1))] if chalice else [])
    for group in groups:  # chalice runs in a session of its own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    running.process.wait(STOP_TIMEOUT)


# --- talking to the running system ---------------------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass(frozen=True)
class Observed:
    tips: list[dict[str, Any]]
    media: dict[str, bytes]  # S3 key -> bytes
    replies: list[dict[str, Any]]  # WhatsApp, as the fake Graph API recorded them
    messenger_replies: list[dict[str, Any]]
    x_sent: list[dict[str, Any]]

    def since(self, before: Observed) -> Observed:
        """Only what is new since ``before`` (tips by key; the fakes' records only grow)."""
        known = {tip["pk"]["S"] for tip in before.tips}
        return Observed(
            tips=[tip for tip in self.tips if tip["pk"]["S"] not in known],
            media={key: body for key, body in self.media.items() if key not in before.media},
            replies=self.replies[len(before.replies) :],
            messenger_replies=self.messenger_replies[len(before.messenger_replies) :],
            x_sent=self.x_sent[len(before.x_sent) :],
        )

    def media_of(self, tip: dict[str, Any]) -> list[bytes]:
        return [body for key, body in self.media.items() if key.startswith(f"tips/{tip['tip_id']['S']}/")]


class LocalAws:
    def __init__(self, port: int) -> None:
        session = boto3.Session(region_name="ap-south-1", aws_access_key_id="local", aws_secret_access_key="local")
        endpoint = f"http://127.0.0.1:{port}"
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.sns = session.client("sns", endpoint_url=endpoint)
        # A fresh moto holds exactly what infra/resources.json defines: tips and audit tables, three buckets.
        tables = self.dynamodb.list_tables()["TableNames"]
        assert sorted(name.rsplit("-", 1)[1] for name in tables) == ["audit", "tips"]
        (self.table,) = [name for name in tables if name.endswith("-tips")]
        buckets = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        assert len(buckets) == 3  # the private media, the public photos and the media's access logs
        (self.bucket,) = [name for name in buckets if "-media-" in name and "-public-media-" not in name]
        (self.topic,) = [arn for arn in self.topic_arns() if arn.endswith(INBOUND_TOPIC)]

    def tips(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=self.table)["Items"]
        return [item for item in items if item["sk"]["S"] == "TIP"]

    def objects(self, prefix: str) -> dict[str, bytes]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        return {item["Key"]: self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read() for item in listing}

    def topic_arns(self) -> list[str]:
        return [t["TopicArn"] for page in self.sns.get_paginator("list_topics").paginate() for t in page["Topics"]]

    def publish_sms(self, body: str, sender: str, message_id: str) -> None:
        # As AWS End User Messaging publishes an inbound SMS.
        message = {
            "originationNumber": sender,
            "destinationNumber": "+919000000100",
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": body,
            "inboundMessageId": message_id,
        }
        self.sns.publish(TopicArn=self.topic, Message=json.dumps(message))

    def queued(self) -> dict[str, int]:
        """Messages waiting or in flight, per queue."""
        counts = {}
        for url in self.sqs.list_queues()["QueueUrls"]:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            counts[url.rsplit("/", 1)[-1]] = sum(int(value) for value in attributes.values())
        return counts

    def idle(self) -> bool:
        # Each function queues its follow-ups before its own message is deleted: empty queues mean all done.
        return not any(count for name, count in self.queued().items() if not name.endswith("-dlq"))


def observe(aws: LocalAws, stack: RunningStack) -> Observed:
    graph = json.loads(get(f"http://127.0.0.1:{stack.fake_graph}/_fake/replies")[1])
    sent = json.loads(get(f"http://127.0.0.1:{stack.fake_x}/_fake/sent")[1])["sent"]
    originals = {key: body for key, body in aws.objects("tips/").items() if not key.endswith(".clean.jpg")}
    return Observed(aws.tips(), originals, graph["replies"], graph["messenger_replies"], sent)


def settle(aws: LocalAws, stack: RunningStack) -> Observed:
    """What the system holds once every queue-triggered function has finished (nothing dead-lettered)."""
    assert wait_for(aws.idle, bool), f"still busy after {PROCESSING_TIMEOUT} s: {aws.queued()}"
    assert not any(aws.queued().values()), f"dead-lettered: {aws.queued()}"
    return observe(aws, stack)


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], timeout: float = PROCESSING_TIMEOUT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def now_ms() -> int:
    return int(time.time() * 1000)


# --- what the banner prints, pasted as a developer would ------------------------------------------------------


@dataclass(frozen=True)
class PrintedPost:
    line: str
    url: str
    header: str
    signature: str
    body: Path


def printed_post(stack: RunningStack, channel: str) -> PrintedPost:
    pattern = (
        rf"^\s*(curl -i -X POST (\S+/webhooks/{channel}) -H 'Content-Type: application/json' "
        r"-H '([\w-]+): (sha256=\S+)' --data-binary @(\S+))$"
    )
    printed = re.search(pattern, stack.output(), flags=re.MULTILINE)
    assert printed, f"the banner has no signed curl example for {channel}"
    line, url, header, signature, path = printed.groups()
    return PrintedPost(line, url, header, signature, ROOT / path)


def paste_post(printed: PrintedPost) -> int:
    """The HTTP status of the printed curl, run as printed (or its request reproduced when there is no curl)."""
    if shutil.which("curl") is None:
        return post(printed.url, printed.body.read_bytes(), {printed.header: printed.signature})
    status, _ = paste_curl(printed.line)
    return status


def paste_curl(line: str) -> tuple[int, bytes]:
    """Run a printed `curl -i …` in a shell where `make run` runs; its status and body."""
    result = subprocess.run(line, shell=True, cwd=ROOT, capture_output=True, timeout=20, check=True)  # noqa: S602
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# --- the test ----------------------------------------------------------------------------------------------------


def test_make_run_serves_every_channel_and_stops_cleanly(stack: RunningStack, subtests: pytest.Subtests) -> None:
    aws = LocalAws(stack.moto)
    for channel, check in (
        ("whatsapp", check_whatsapp),
        ("messenger", check_messenger),
        ("x", check_x),
        ("sms", check_sms),
        ("officers", check_officers),
        ("wanted", check_wanted),
        ("subscriptions", check_subscriptions),
        ("broadcasts", check_broadcasts),
    ):
        with subtests.test(channel):
            check(stack, aws)
    assert_stops_cleanly(stack)


# --- one channel each: own delivery -> one tip; the same again -> nothing new; the banner's example pasted ------


def check_whatsapp(stack: RunningStack, aws: LocalAws) -> None:
    body = example_delivery(DEVELOPMENT_SETTINGS["WHATSAPP_PHONE_NUMBER_ID"], int(time.time()), sender=SENDER)
    signed = {"X-Hub-Signature-256": meta.sign(body, DEVELOPMENT_SETTINGS["META_APP_SECRET"])}
    webhook = stack.webhook("whatsapp")
    before = settle(aws, stack)

    status, challenge = get(f"{webhook}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42")
    assert (status, challenge) == (200, b"42")
    assert post(webhook, body, {"X-Hub-Signature-256": "sha256=" + "0" * 64}) == 401

    assert post(webhook, body, signed) == 200
    first = settle(aws, stack)
    new = first.since(before)
    assert (len(new.tips), len(new.media), len(new.replies), new.messenger_replies, new.x_sent) == (1, 1, 1, [], [])
    (tip,) = new.tips
    assert (tip["channel"]["S"], tip["message_count"]["N"]) == ("whatsapp", "2")  # the text and the photo: one tip
    assert "बैंक मोड़" in tip["texts"]["L"][0]["S"]
    assert new.media_of(tip) == [PHOTO]
    (reply,) = new.replies
    assert reply["payload"]["to"] == SENDER
    assert tip["reference"]["S"] in reply["payload"]["text"]["body"]

    assert post(webhook, body, signed) == 200  # Meta redelivers: nothing new may happen
    assert settle(aws, stack) == first

    assert paste_post(printed_post(stack, "whatsapp")) == 200  # what a developer pastes from the banner
    pasted = settle(aws, stack).since(first)
    assert [tip["channel"]["S"] for tip in pasted.tips] == ["whatsapp"]  # another sender: another tip
    assert (len(pasted.media), len(pasted.replies)) == (1, 1)


def check_messenger(stack: RunningStack, aws: LocalAws) -> None:
    photo_url = f"http://127.0.0.1:{stack.fake_graph}/cdn/{DEMO_CDN_NAME}"
    body = example_messenger_delivery(DEVELOPMENT_SETTINGS["MESSENGER_PAGE_ID"], now_ms(), photo_url, sender=PSID)
    signed = {"X-Hub-Signature-256": meta.sign(body, DEVELOPMENT_SETTINGS["META_APP_SECRET"])}
    webhook = stack.webhook("messenger")
    before = settle(aws, stack)

    assert post(webhook, body, {"X-Hub-Signature-256": "sha256=" + "0" * 64}) == 401
    assert post(webhook, body, signed) == 200
    first = settle(aws, stack)
    new = first.since(before)
    assert (len(new.tips), len(new.media), len(new.messenger_replies), new.replies, new.x_sent) == (1, 1, 1, [], [])
    (tip,) = new.tips
    assert (tip["channel"]["S"], tip["message_count"]["N"]) == ("messenger", "2")
    assert "धनसार" in tip["texts"]["L"][0]["S"]
    assert new.media_of(tip) == [PHOTO]
    (reply,) = new.messenger_replies
    assert reply["payload"]["recipient"] == {"id": PSID}
    assert tip["reference"]["S"] in reply["payload"]["message"]["text"]
    assert "access_token" not in reply["query"]  # the Page token travels in the header only

    assert post(webhook, body, signed) == 200  # Meta redelivers: nothing new may happen
    assert settle(aws, stack) == first

    assert paste_post(printed_post(stack, "messenger")) == 200
    pasted = settle(aws, stack).since(first)
    assert [tip["channel"]["S"] for tip in pasted.tips] == ["messenger"]
    assert (len(pasted.media), len(pasted.messenger_replies)) == (1, 1)


def check_x(stack: RunningStack, aws: LocalAws) -> None:
    consumer_secret = DEVELOPMENT_SETTINGS["X_CONSUMER_SECRET"]
    webhook = stack.webhook("x")
    status, answer = get(f"{webhook}?crc_token=e2eChallenge123")
    assert status == 200
    assert json.loads(answer) == {"response_token": x.sign(b"e2eChallenge123", consumer_secret)}

    printed_crc = re.search(
        r"\(answers (\{\"response_token\":\"\S+\"\})\).*\n\s*(curl -i '\S+/webhooks/x\?crc_token=\S+')", stack.output()
    )
    assert printed_crc, "the banner has no CRC example"
    if shutil.which("curl"):
        status, answer = paste_curl(printed_crc.group(2))
    else:
        status, answer = get(printed_crc.group(2).split("'")[1])
    assert (status, json.loads(answer)) == (200, json.loads(printed_crc.group(1)))

    photo_url = f"http://127.0.0.1:{stack.fake_x}{DEMO_X_MEDIA_PATH}"
    body = example_x_delivery(DEVELOPMENT_SETTINGS["X_ACCOUNT_ID"], now_ms(), photo_url, sender=X_USER)
    signed = {x.SIGNATURE_HEADER: x.sign(body, consumer_secret)}
    before = settle(aws, stack)

    assert post(webhook, body, {x.SIGNATURE_HEADER: x.sign(body, "not-the-consumer-secret")}) == 401
    assert post(webhook, body, signed) == 200
    first = settle(aws, stack)
    new = first.since(before)
    assert (len(new.tips), len(new.media), len(new.x_sent), new.replies, new.messenger_replies) == (1, 1, 1, [], [])
    (tip,) = new.tips
    assert (tip["channel"]["S"], tip["message_count"]["N"]) == ("x", "1")  # one DM: text and photo together
    assert tip["texts"]["L"][0]["S"].startswith("The truck that takes the stolen coal")
    assert "t.co" not in tip["texts"]["L"][0]["S"]  # the attachment's link is not the citizen's words
    assert new.media_of(tip) == [PHOTO]  # downloaded with the account's OAuth 1.0a signature
    (dm,) = new.x_sent
    assert (dm["kind"], dm["recipient"]) == ("dm", X_USER)
    assert tip["reference"]["S"] in dm["payload"]["text"]

    assert post(webhook, body, signed) == 200  # X redelivers: nothing new may happen
    assert settle(aws, stack) == first

    assert paste_post(printed_post(stack, "x")) == 200
    pasted = settle(aws, stack).since(first)
    assert [tip["channel"]["S"] for tip in pasted.tips] == ["x"]
    assert (len(pasted.media), len(pasted.x_sent)) == (1, 1)


def check_sms(stack: RunningStack, aws: LocalAws) -> None:
    text = "Diesel is stolen from the Katras depot trucks every Sunday"
    before = settle(aws, stack)

    aws.publish_sms(text, SMS_SENDER, "e2e-sms-1")
    first = settle(aws, stack)
    new = first.since(before)
    assert (len(new.tips), new.media, new.replies, new.messenger_replies, new.x_sent) == (1, {}, [], [], [])
    (tip,) = new.tips
    # Acknowledged by SMS through moto's SNS with make run's demo DLT settings: the reply function logs it.
    assert (tip["channel"]["S"], tip["texts"]["L"], tip["ack_status"]["S"]) == ("sms", [{"S": text}], "sent")
    assert '"message":"sms sent"' in stack.output()

    aws.publish_sms(text, SMS_SENDER, "e2e-sms-1")  # SNS delivers at least once: nothing new may happen
    assert settle(aws, stack) == first

    printed = re.search(r"^\s*(\S+python\S* -c \"import boto3.*\.publish\(.*\)\"$)", stack.output(), re.MULTILINE)
    assert printed, "the banner has no SMS example"
    subprocess.run(printed.group(1), shell=True, cwd=ROOT, capture_output=True, timeout=30, check=True)  # noqa: S602
    pasted = settle(aws, stack).since(first)
    assert [(tip["channel"]["S"], tip["ack_status"]["S"]) for tip in pasted.tips] == [("sms", "sent")]


# --- officers: token -> list -> open -> triage -> note -> follow-up delivered through the fake platform ---------


def officer_token(stack: RunningStack, *arguments: str) -> str:
    """What `make token` prints last, for the running system."""
    result = subprocess.run(
        [sys.executable, "-m", "tools.officer_token", *arguments],
        cwd=ROOT,
        env={**os.environ, "MOTO_PORT": str(stack.moto)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


ANSWERS: list[bytes] = []  # every officers' API answer of the run, scanned for the informant's number


def call(
    stack: RunningStack, method: str, path: str, token: str | None, body: Any = None, headers: dict | None = None
) -> tuple[int, Any]:
    headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(f"http://127.0.0.1:{stack.api}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    ANSWERS.append(raw)
    return status, json.loads(raw or b"null")


def check_officers(stack: RunningStack, aws: LocalAws) -> None:
    supervisor = officer_token(stack, "--role", "supervisor")
    admin = officer_token(stack, "--role", "admin")
    officer = officer_token(stack, "--role", "officer", "--area", "jharia")
    assert call(stack, "GET", "/tips", None)[0] == 401

    status, listed = call(stack, "GET", "/tips?channel=whatsapp", supervisor)
    assert status == 200
    # check_whatsapp's own tip: the oldest of the two with this text (the banner's example came after it)
    tip = [tip for tip in listed["tips"] if "बैंक मोड़" in tip["text"]][-1]
    assert call(stack, "GET", f"/tips/{tip['id']}", officer)[0] == 403  # no area yet: supervisors only

    status, opened = call(stack, "GET", f"/tips/{tip['id']}", supervisor)
    assert status == 200 and opened["follow_up"]["possible"] is True
    (photo,) = opened["media"]
    assert photo["metadata_removed"] is True
    status, copy = get(photo["url"])  # a presigned URL of moto's S3, fetched like a browser would
    assert status == 200 and copy.startswith(b"\xff\xd8\xff") and b"Exif" not in copy

    status, triaged = call(
        stack, "PATCH", f"/tips/{tip['id']}", supervisor, {"status": "in_review", "area_id": "jharia"}
    )
    assert (status, triaged["status"], triaged["area_id"]) == (200, "in_review", "jharia")
    assert call(stack, "POST", f"/tips/{tip['id']}/notes", officer, {"text": "Beat patrol informed"})[0] == 201

    before = settle(aws, stack)
    status, queued = call(stack, "POST", f"/tips/{tip['id']}/messages", officer, {"text": "गाड़ी का नंबर?"})
    assert (status, queued["status"]) == (202, "queued")
    (question,) = settle(aws, stack).since(before).replies
    assert question["payload"]["to"] == SENDER and "गाड़ी का नंबर?" in question["payload"]["text"]["body"]

    status, trail = call(stack, "GET", f"/audit?tip_id={tip['id']}", admin)
    assert status == 200
    assert {"tip_listed", "tip_viewed", "media_url_issued", "tip_updated", "note_added", "followup_queued"} <= {
        entry["action"] for entry in trail["entries"]
    }
    assert len(ANSWERS) == 8 and not [answer for answer in ANSWERS if SENDER.encode() in answer]


# --- wanted notices: create -> upload through the presigned POST -> public with its photo -> captured -> gone -----


def multipart(fields: dict[str, str], file_field: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    """A browser's multipart/form-data body (RFC 7578): the policy fields first, the file last, as S3 requires."""
    boundary = "----sampark-e2e-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="photo.jpg"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def check_wanted(stack: RunningStack, aws: LocalAws) -> None:
    supervisor = officer_token(stack, "--role", "supervisor")
    notice = {
        "name": "Raju Mahto",
        "aliases": ["Kalia"],
        "areas": ["jharia"],
        "crime": {"en": "Armed robbery", "hi": "सशस्त्र लूट"},
        "description": {"en": "About 30, scar on the left cheek", "hi": "लगभग 30 वर्ष, बाएँ गाल पर निशान"},
    }
    status, created = call(stack, "POST", "/wanted", supervisor, notice)
    assert status == 201 and created["number"].startswith("W-")
    status, public = call(stack, "GET", f"/wanted/{created['id']}", None)
    assert (status, public["photo_url"]) == (200, None)

    upload = created["upload"]
    body, content_type = multipart({**upload["fields"], "Content-Type": "image/jpeg"}, "file", PHOTO, "image/jpeg")
    request = urllib.request.Request(upload["url"], data=body, headers={"Content-Type": content_type}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201, 204)
    assert wait_for(lambda: call(stack, "GET", f"/wanted/{created['id']}", None)[1]["photo_url"], bool)

    status, gallery = call(stack, "GET", "/wanted?area_id=jharia", None)
    (shown,) = [n for n in gallery["notices"] if n["id"] == created["id"]]
    status, photo = get(shown["photo_url"])  # anyone can fetch it: the public URL, no signature
    assert status == 200 and photo.startswith(b"\xff\xd8\xff") and b"Exif" not in photo
    assert get(shown["thumbnail_url"])[0] == 200

    status, captured = call(stack, "PATCH", f"/wanted/{created['id']}", supervisor, {"status": "captured"})
    assert (status, captured["status"]) == (200, "captured")
    assert created["id"] not in [n["id"] for n in call(stack, "GET", "/wanted", None)[1]["notices"]]
    assert get(shown["photo_url"])[0] in (403, 404)  # the public photo is gone


# --- subscriptions: the sign-up page, a code by SMS, verified, on its SNS topic, counted, left -------------------

SUBSCRIBER = "+919835077777"


def sms_sent_to(stack: RunningStack, number: str) -> list[str]:
    """The texts `make run`'s SMS outbox holds for ``number``."""
    outbox = Path(stack.environment["SMS_OUTBOX_FILE"])
    lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
    return [sms["text"] for sms in map(json.loads, lines) if sms["to"] == number]


def check_subscriptions(stack: RunningStack, aws: LocalAws) -> None:
    status, page = get(f"http://127.0.0.1:{stack.api}/subscribe")
    assert status == 200 and b"subscriptions" in page and "अलर्ट".encode() in page

    status, created = call(
        stack, "POST", "/subscriptions", None, {"phone": "98350 77777", "areas": ["jharia"], "language": "hi"}
    )
    assert (status, created["status"]) == (201, "pending")
    [text] = wait_for(lambda: sms_sent_to(stack, SUBSCRIBER), bool)
    [code] = re.findall(r"(?<![0-9])[0-9]{4,8}(?![0-9])", text)
    wrong = "000000" if code != "000000" else "111111"
    assert call(stack, "POST", f"/subscriptions/{created['id']}/verify", None, {"code": wrong})[0] == 400
    status, verified = call(stack, "POST", f"/subscriptions/{created['id']}/verify", None, {"code": code})
    assert (status, verified["status"]) == (200, "active")
    topic = next(arn for arn in aws.topic_arns() if arn.endswith("-alerts-jharia-hi-sms"))
    endpoints = [s["Endpoint"] for s in aws.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
    assert endpoints == [SUBSCRIBER]

    status, stats = call(stack, "GET", "/subscriptions/stats", officer_token(stack, "--role", "supervisor"))
    assert status == 200 and stats["counts"] == [{"area_id": "jharia", "language": "hi", "channel": "sms", "active": 1}]
    assert SUBSCRIBER[3:].encode() not in json.dumps(stats).encode()

    status, left = call(stack, "DELETE", f"/subscriptions/{created['id']}", None, {"token": created["token"]})
    assert (status, left["status"]) == (200, "ended")
    assert aws.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


# --- broadcasts: a subscriber, a notice, dry run, send with a key, the SMS arrives once, the record -----------------

ALERTED = "+919835088888"


def check_broadcasts(stack: RunningStack, aws: LocalAws) -> None:
    supervisor = officer_token(stack, "--role", "supervisor")
    status, signed_up = call(
        stack, "POST", "/subscriptions", None, {"phone": ALERTED, "areas": ["sindri"], "language": "en"}
    )
    [text] = wait_for(lambda: sms_sent_to(stack, ALERTED), bool)
    [code] = re.findall(r"(?<![0-9])[0-9]{4,8}(?![0-9])", text)
    assert call(stack, "POST", f"/subscriptions/{signed_up['id']}/verify", None, {"code": code})[0] == 200
    notice = {
        "name": "Shankar Rawani",
        "aliases": [],
        "areas": ["sindri"],
        "crime": {"en": "Cable theft", "hi": "केबल चोरी"},
        "description": {"en": "About 40, limps", "hi": "लगभग 40 वर्ष, लंगड़ाकर चलता है"},
    }
    status, created = call(stack, "POST", "/wanted", supervisor, notice)
    body = {"wanted_id": created["id"], "areas": ["sindri"], "languages": ["en", "hi"], "channels": ["sms", "email"]}

    status, preview = call(stack, "POST", "/broadcasts?dry_run=true", supervisor, body)
    assert status == 200 and preview["audience"]["total"] == 1 and preview["topics"] == 4
    assert len(sms_sent_to(stack, ALERTED)) == 1  # only the code so far: a dry run sends nothing

    key = {"Idempotency-Key": "e2e-broadcast-1"}
    status, sent = call(stack, "POST", "/broadcasts", supervisor, body, headers=key)
    assert (status, sent["status"]) == (202, "pending_approval")
    assert call(stack, "POST", f"/broadcasts/{sent['id']}/approve", supervisor)[0] == 403  # not by its sender
    second = officer_token(stack, "--role", "supervisor", "--name", "second")
    status, approved = call(stack, "POST", f"/broadcasts/{sent['id']}/approve", second)
    assert (status, approved["status"], approved["approved_by"]) == (200, "sending", "local-supervisor-second")
    record = wait_for(
        lambda: call(stack, "GET", f"/broadcasts/{sent['id']}", supervisor)[1], lambda r: r["status"] == "sent"
    )
    assert len(record["sns_message_ids"]) == 4
    alerts = wait_for(lambda: sms_sent_to(stack, ALERTED)[1:], bool)
    assert len(alerts) == 1 and created["number"] in alerts[0] and "Sindri" in alerts[0]

    # The notice on the police Page (the fake Graph API) and X (the fake X API), each once, recorded on the broadcast.
    posts = wait_for(
        lambda: call(stack, "GET", f"/broadcasts/{sent['id']}", supervisor)[1]["social_posts"],
        lambda found: len(found) == 2 and all(post["status"] == "posted" for post in found),
    )
    assert sorted(post["platform"] for post in posts) == ["facebook", "x"]

    status, again = call(stack, "POST", "/broadcasts", supervisor, body, headers=key)
    assert (status, again["id"]) == (202, sent["id"])  # the same key: the first broadcast, nothing new sent
    settle(aws, stack)
    assert len(sms_sent_to(stack, ALERTED)) == 2


def assert_stops_cleanly(stack: RunningStack) -> None:
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(STOP_TIMEOUT) == 0
    for port in (stack.api, stack.moto, stack.fake_graph, stack.fake_x):
        assert port_is_free(port), f"port {port} still in use after Ctrl-C"
