"""`make run` end to end: the real process, real HTTP, moto in server mode, the fake Graph API, then Ctrl-C.

Slow (a few seconds) and uses ports, so all of it runs on one xdist worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
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

from shared.channels import meta
from tools.fake_graph import DEMO_PHOTO
from tools.local_stack import DEVELOPMENT_SETTINGS, READY_LINE, example_delivery, port_is_free

pytestmark = pytest.mark.xdist_group("e2e")

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60
PROCESSING_TIMEOUT = 20
STOP_TIMEOUT = 15
VERIFY_TOKEN = "e2e-verify-token"  # set in the "shell": must win over DEVELOPMENT_SETTINGS
SENDER = "919000000777"
T = TypeVar("T")


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    api: int
    moto: int
    fake_graph: int
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.api}/webhooks/whatsapp"

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


def stack_environment(api: int, moto: int, fake_graph: int, example: Path) -> dict[str, str]:
    # Like a developer's shell: no AWS settings and none of the app's (tests/conftest.py set some), except one.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in DEVELOPMENT_SETTINGS and name != "GRAPH_API_URL"
    }
    return {
        **inherited,
        "PORT": str(api),
        "MOTO_PORT": str(moto),
        "FAKE_GRAPH_PORT": str(fake_graph),
        "META_VERIFY_TOKEN": VERIFY_TOKEN,
        "EXAMPLE_DELIVERY_FILE": str(example),  # not build/: a developer's `make run` may have printed that one
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningStack]:
    api, moto, fake_graph = free_ports(3)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.local_stack"],
        cwd=ROOT,
        env=stack_environment(api, moto, fake_graph, tmp_path / "example-whatsapp.json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so that the finally below can kill its whole group
    )
    running = RunningStack(process, api, moto, fake_graph)
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
    """Whatever the test did, leave no process behind (a clean stop has nothing left to kill)."""
    if running.process.poll() is not None:
        return
    chalice = re.search(r"chalice local started: pid (\d+)", running.output())
    groups = [running.process.pid] + ([int(chalice.group(1))] if chalice else [])
    for group in groups:  # chalice runs in a session of its own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    running.process.wait(STOP_TIMEOUT)


# --- talking to the running system ---------------------------------------------------------------------------


def post(url: str, body: bytes, signature: str) -> int:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@dataclass(frozen=True)
class Observed:
    tips: list[dict[str, Any]]
    media: list[bytes]
    replies: list[dict[str, Any]]


class LocalAws:
    def __init__(self, port: int) -> None:
        session = boto3.Session(region_name="ap-south-1", aws_access_key_id="local", aws_secret_access_key="local")
        endpoint = f"http://127.0.0.1:{port}"
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        # A fresh moto holds exactly what infra/resources.json defines: one table and one bucket.
        (self.table,) = self.dynamodb.list_tables()["TableNames"]
        (self.bucket,) = [bucket["Name"] for bucket in self.s3.list_buckets()["Buckets"]]

    def tips(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=self.table)["Items"]
        return [item for item in items if item["sk"]["S"] == "TIP"]

    def objects(self, prefix: str) -> list[bytes]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        return [self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read() for item in listing]

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
    _, body = get(f"http://127.0.0.1:{stack.fake_graph}/_fake/replies")
    return Observed(aws.tips(), aws.objects("tips/"), json.loads(body)["replies"])


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


# --- the test ----------------------------------------------------------------------------------------------------


def test_make_run_turns_a_signed_delivery_into_one_tip_and_stops_cleanly(stack: RunningStack) -> None:
    body = example_delivery(DEVELOPMENT_SETTINGS["WHATSAPP_PHONE_NUMBER_ID"], int(time.time()), sender=SENDER)
    signature = meta.sign(body, DEVELOPMENT_SETTINGS["META_APP_SECRET"])
    aws = LocalAws(stack.moto)

    status, challenge = get(f"{stack.webhook}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42")
    assert (status, challenge) == (200, b"42")
    assert post(stack.webhook, body, "sha256=" + "0" * 64) == 401

    assert post(stack.webhook, body, signature) == 200
    first = settle(aws, stack)
    assert_one_tip_with_photo_and_reply(first)

    assert post(stack.webhook, body, signature) == 200  # Meta redelivers: nothing new may happen
    assert settle(aws, stack) == first

    assert post_printed_example(stack) == 200  # what a developer pastes from the banner
    assert len(settle(aws, stack).tips) == 2  # another sender: another tip

    assert_stops_cleanly(stack)


def post_printed_example(stack: RunningStack) -> int:
    printed = re.search(r"'X-Hub-Signature-256: (sha256=[0-9a-f]{64})' --data-binary @(\S+)", stack.output())
    assert printed, "the banner has no signed curl example"
    signature, path = printed.groups()
    return post(stack.webhook, (ROOT / path).read_bytes(), signature)


def assert_one_tip_with_photo_and_reply(seen: Observed) -> None:
    assert (len(seen.tips), len(seen.media), len(seen.replies)) == (1, 1, 1), seen
    (tip,) = seen.tips
    assert tip["message_count"]["N"] == "2"  # the text and the photo joined one tip
    assert "बैंक मोड़" in tip["texts"]["L"][0]["S"]
    assert seen.media == [DEMO_PHOTO.read_bytes()]
    (reply,) = seen.replies
    assert reply["payload"]["to"] == SENDER
    assert tip["reference"]["S"] in reply["payload"]["text"]["body"]


def assert_stops_cleanly(stack: RunningStack) -> None:
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(STOP_TIMEOUT) == 0
    for port in (stack.api, stack.moto, stack.fake_graph):
        assert port_is_free(port), f"port {port} still in use after Ctrl-C"
