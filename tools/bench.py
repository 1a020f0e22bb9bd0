"""Benchmark figures (make bench), each next to a baseline measured in the same run; prints, asserts nothing.

AWS is moto in-process, created from infra/resources.json (tools.resources), with the test settings; replies go to
the fake Graph API. Timings are from whatever machine runs this: compare the ratios, not the milliseconds.

  webhook    one signed WhatsApp text through the real Lambda entry point (app.app), vs json.loads + HMAC
  requests   AWS requests made before the webhook answers (warm, and cold with secrets in Secrets Manager)
  bulk       one delivery of 1,000 texts, webhook + every queue drained (replies included), per-message requests
  cold       `import app` from the unzipped package vs `import boto3, chalice`, fresh `python -S -E -B` each run
  tip list   GET /tips (signed in, audited) with 1,000 and 20,000 tips, per filter, first page and a deep one: time
             vs a bare handler, items read per page (ScannedCount; target ≈ page size, flat as the table grows).
             moto's GSI Query walks and sorts the whole table, so its time grows with the table; DynamoDB's does not
             (it reads the items it returns): the items read are the figure that carries over to AWS.
  broadcast  one broadcast (one area, Hindi, SMS) to 100 and to 10,000 subscribers: SNS requests made by the
             sender (target: the same for both: SNS fans out) and the sender's time, after a warm-up broadcast.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEBHOOK_CALLS = 200
FLOOR_CALLS = 5000
COLD_RUNS = 7
BULK_MESSAGES = int(os.environ.get("BENCH_MESSAGES", "1000"))  # smaller for a quick look
REGION = "ap-south-1"
ROWS: list[tuple[str, str, str, str]] = []  # (measure, figure, baseline, note)


def row(measure: str, figure: str, baseline: str = "", note: str = "") -> None:
    ROWS.append((measure, figure, baseline, note))


# --- instruments -------------------------------------------------------------------------------------------


class AwsCalls:
    """Counts botocore requests (boto3 and PynamoDB both go through BaseClient._make_api_call) and their time."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds = 0.0
        self.seconds_by_call: dict[str, float] = {}
        self.ignored_clients: list[Any] = []  # e.g. the dispatcher's: Lambda's event source mapping, not our code

    @contextlib.contextmanager
    def installed(self) -> Iterator[AwsCalls]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        recorder = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return original(client, operation, params)
            finally:
                if not any(client is ignored for ignored in recorder.ignored_clients):
                    seconds = time.perf_counter() - started
                    name = f"{client.meta.service_model.service_name}.{operation}"
                    recorder.seconds += seconds
                    recorder.calls[name] += 1
                    recorder.seconds_by_call[name] = recorder.seconds_by_call.get(name, 0.0) + seconds

        BaseClient._make_api_call = counted
        try:
            yield self
        finally:
            BaseClient._make_api_call = original

    def reset(self) -> None:
        self.calls.clear()
        self.seconds = 0.0
        self.seconds_by_call.clear()


class Sink:
    """Swallows the JSON logs and EMF metrics printed per invocation, keeping errors and dispatcher notes."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        self.kept += [line for line in lines if '"level":"ERROR"' in line or line.startswith("[dispatcher]")]
        return len(text)

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def quiet(sink: Sink) -> Iterator[None]:
    from shared.observability import logger

    logger.registered_handler.setStream(sink)
    try:
        with contextlib.redirect_stdout(sink):  # type: ignore[type-var]
            yield
    finally:
        logger.registered_handler.setStream(sys.stdout)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


# --- the system on moto ------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_aws() -> Iterator[Any]:
    """A new moto with every resource of infra/resources.json; the app's environment points at it."""
    import boto3
    from moto import mock_aws

    from shared import config, notices
    from shared.aws import clients
    from tools.resources import LocalStack

    with mock_aws():
        stack = LocalStack(boto3.Session(region_name=REGION), stack_name="sampark-bench")
        os.environ.update(stack.create_all())
        clients.reset()
        config.reset()
        notices.ensure_area_topics()  # as `make area-topics` after a deploy
        yield stack
        clients.reset()


@contextlib.contextmanager
def shallow_transaction_snapshots() -> Iterator[None]:
    """moto deep-copies the whole table for every item of every TransactWriteItems (to roll back on failure),
    which makes 1,000 tips quadratic (minutes). Snapshot the item containers instead: Put and Delete still roll
    back; an Update's in-place change would not, but this sequential run has no conflicts (see tips/replies)."""
    import copy
    import types

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        clone = copy.copy(value)
        clone.items = type(value.items)(value.items.default_factory)  # type: ignore[attr-defined]
        clone.items.update({key: dict(v) if isinstance(v, dict) else v for key, v in value.items.items()})
        return clone

    original = models.copy
    models.copy = types.SimpleNamespace(deepcopy=deepcopy)  # type: ignore[assignment]
    try:
        yield
    finally:
        models.copy = original


def dispatcher_for(stack: Any) -> Any:
    import boto3

    from app import app
    from tools.dispatcher import LocalDispatcher

    def lookup(queue_name: str) -> tuple[str, str]:
        queue = stack.queue_for_name(queue_name)
        return queue["Ref"], queue["Arn"]

    return LocalDispatcher(app, boto3.client("sqs", region_name=REGION), lookup)


@dataclass(frozen=True)
class Webhook:
    """One channel's POST: its path, its signature header, how it signs, and the floor (parse + HMAC) to beat."""

    channel: str
    header: str
    sign: Callable[[bytes], str]
    floor: Callable[[bytes], object]

    @property
    def path(self) -> str:
        return f"/webhooks/{self.channel}"


def _meta_floor(body: bytes) -> object:
    json.loads(body)
    return hmac.new(os.environ["META_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()


def _x_floor(body: bytes) -> object:
    json.loads(body)
    return base64.b64encode(hmac.new(os.environ["X_CONSUMER_SECRET"].encode(), body, hashlib.sha256).digest())


def webhooks() -> list[Webhook]:
    from shared.channels import meta, x

    return [
        Webhook("whatsapp", "X-Hub-Signature-256", meta.sign, _meta_floor),
        Webhook("messenger", "X-Hub-Signature-256", meta.sign, _meta_floor),
        Webhook("x", "x-twitter-webhooks-signature", x.sign, _x_floor),
    ]


def api_event(webhook: Webhook, body: bytes) -> dict[str, Any]:
    """An API Gateway (REST, proxy) event for the platform's POST, as Lambda hands it to app.app."""
    headers = {"Content-Type": "application/json", webhook.header: webhook.sign(body)}
    return gateway_event("POST", webhook.path, headers, body=body.decode())


def gateway_event(
    method: str, path: str, headers: dict[str, str], *, body: str | None = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway (REST, proxy) event for a route without path parameters."""
    headers = {**headers, "Host": "example.execute-api.ap-south-1.amazonaws.com"}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "173.252.127.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def call_webhook(body: bytes, webhook: Webhook | None = None) -> dict[str, Any]:
    from app import app
    from tools.dispatcher import LambdaContext

    webhook = webhook or webhooks()[0]
    response = app(api_event(webhook, body), LambdaContext("sampark-dev", timeout_seconds=20))
    if response["statusCode"] != 200:
        raise RuntimeError(f"{webhook.path} answered {response['statusCode']}: {response.get('body')}")
    return response


# --- (a) + (b): one delivery per channel ------------------------------------------------------------------


def bench_webhook(webhook: Webhook, body: bytes, recorder: AwsCalls, sink: Sink) -> None:
    floor = []
    for _ in range(FLOOR_CALLS):
        started = time.perf_counter()
        webhook.floor(body)
        floor.append(time.perf_counter() - started)
    with fresh_aws(), quiet(sink):
        for _ in range(20):  # warm-up: clients, connection pools, first-call caches
            call_webhook(body, webhook)
        total, in_aws = [], []
        for _ in range(WEBHOOK_CALLS):
            recorder.reset()
            started = time.perf_counter()
            call_webhook(body, webhook)
            total.append(time.perf_counter() - started)
            in_aws.append(recorder.seconds)
        recorder.reset()
        call_webhook(body, webhook)
        warm_calls = dict(recorder.calls)
    own = [t - a for t, a in zip(total, in_aws, strict=True)]
    floor_ms = median_ms(floor)
    print(f"(a) {webhook.channel} webhook, warm", flush=True)
    row(
        f"{webhook.channel} webhook per call",
        f"{median_ms(total):.2f} ms",
        f"floor {floor_ms * 1000:.1f} µs",
        f"×{median_ms(total) / floor_ms:.0f}",
    )
    row("  of which in botocore + moto", f"{median_ms(in_aws):.2f} ms", "", "(moto stands in for AWS)")
    row(
        "  our code", f"{median_ms(own):.3f} ms", f"floor {floor_ms * 1000:.1f} µs", f"×{median_ms(own) / floor_ms:.0f}"
    )
    print(f"(b) {webhook.channel}: AWS requests before the webhook answers", flush=True)
    row("  warm", f"{sum(warm_calls.values())}", "target ≤ 2", _ops(warm_calls))


def cold_webhook_calls(body: bytes, recorder: AwsCalls, sink: Sink) -> dict[str, int]:
    """As deployed: secrets come from the SECRETS_ID secret (read once per process), clients are new."""
    import boto3

    from app import app
    from shared import config
    from tools.dispatcher import LambdaContext

    names = sorted((config.SECRET_NAMES | config.ACCOUNT_NAMES) & os.environ.keys())
    values = {name: os.environ[name] for name in names}
    event = api_event(webhooks()[0], body)  # signed while the app secret is still in the environment
    with fresh_aws(), quiet(sink):
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(Name="sampark-bench-secrets", SecretString=json.dumps(values))["ARN"]
        try:
            for name in names:
                del os.environ[name]
            os.environ["SECRETS_ID"] = arn
            config.reset()
            recorder.reset()
            app(event, LambdaContext("sampark-dev", timeout_seconds=20))
            return dict(recorder.calls)
        finally:
            os.environ.pop("SECRETS_ID", None)
            os.environ.update(values)
            config.reset()


def _ops(calls: dict[str, int], per: int = 1) -> str:
    ordered = sorted(calls.items(), key=lambda item: (-item[1], item[0]))
    if per == 1:
        return ", ".join(f"{name}×{count}" for name, count in ordered)
    # Per message where it scales with messages; once-per-delivery requests as plain counts.
    return ", ".join(
        f"{name} {count / per:.2f}" if count >= per / 100 else f"{name}×{count}" for name, count in ordered
    )


# --- (c): a thousand messages -----------------------------------------------------------------------------


def bulk_payload(messages: int, senders: int) -> bytes:
    """One WhatsApp delivery with ``messages`` texts sent now, from ``senders`` distinct numbers."""
    now = str(int(time.time()))
    numbers = [f"9170{index:08d}" for index in range(senders)]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "919431100100", "phone_number_id": os.environ["WHATSAPP_PHONE_NUMBER_ID"]},
        "contacts": [{"profile": {"name": f"Sender {n}"}, "wa_id": n} for n in numbers],
        "messages": [
            {
                "from": numbers[index % senders],
                "id": f"wamid.BENCH{index:06d}{uuid.uuid4().hex}",
                "timestamp": now,
                "type": "text",
                "text": {"body": f"Bench tip {index}: liquor sold behind the bus stand every evening."},
            }
            for index in range(messages)
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def bench_bulk(senders: int, recorder: AwsCalls, sink: Sink, graph: Any) -> None:
    body = bulk_payload(BULK_MESSAGES, senders)
    replies_before = len(graph.replies)
    with fresh_aws() as stack, quiet(sink), shallow_transaction_snapshots():
        dispatcher = dispatcher_for(stack)
        recorder.ignored_clients = [dispatcher.sqs]
        durations = time_invocations(dispatcher)
        recorder.reset()
        started = time.perf_counter()
        call_webhook(body)
        webhook_s = time.perf_counter() - started
        processed = dispatcher.drain(max_rounds=10 * BULK_MESSAGES)
        total_s = time.perf_counter() - started
        calls = dict(recorder.calls)
        recorder.ignored_clients = []
        tips = count_tips(stack)
    replies = len(graph.replies) - replies_before
    label = f"{BULK_MESSAGES} texts / {senders} senders"
    row(
        f"{label}: end to end",
        f"{total_s:.1f} s",
        f"webhook {webhook_s * 1000:.0f} ms",
        f"{processed} records, {tips} tips, {replies} replies",
    )
    row("  AWS requests per message", f"{sum(calls.values()) / BULK_MESSAGES:.2f}", "", _ops(calls, per=BULK_MESSAGES))
    for name, seconds in sorted(durations.items()):
        timeout = f"Lambda timeout {lambda_timeout(name)} s"
        row(f"  {name}", f"max {max(seconds):.2f} s", f"{len(seconds)} invocations, Σ {sum(seconds):.1f} s", timeout)


def lambda_timeout(function_name: str) -> int:
    from chalice.config import Config

    from tools.package import ROOT, STAGE

    on_disk = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return Config(chalice_stage=STAGE, function_name=function_name, config_from_disk=on_disk).lambda_timeout


def time_invocations(dispatcher: Any) -> dict[str, list[float]]:
    """Wrap each mapped function so that every invocation's duration is recorded by function name."""
    durations: dict[str, list[float]] = {}

    def timed(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(event: dict[str, Any], context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                durations.setdefault(name, []).append(time.perf_counter() - started)

        return run

    for mapping in dispatcher.mappings:
        mapping.handler = timed(mapping.function_name, mapping.handler)
    return durations


def count_tips(stack: Any) -> int:
    import boto3

    table = stack.physical["TipsTable"]["Ref"]
    pages = (
        boto3.client("dynamodb", region_name=REGION)
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="sk = :tip",
            ExpressionAttributeValues={":tip": {"S": "TIP"}},
            Select="COUNT",
        )
    )
    return sum(page["Count"] for page in pages)


# --- (e): the officers' tip list ---------------------------------------------------------------------------

LIST_SIZES = tuple(int(size) for size in os.environ.get("BENCH_TIPS", "1000,20000").split(","))
LIST_CALLS = 15  # timed requests per page and filter
DEEP_PAGE = 5  # the page reached by following `next` from the first
LIST_PAGE = 25  # the API's default page size (shared/paging.py), which these requests use
LIST_DAYS = 90  # seeded tips are spread over this many days before now


@dataclass(frozen=True)
class ListCase:
    label: str
    groups: tuple[str, ...]  # the officer's Cognito groups
    params: dict[str, str]


def list_cases(area_id: str) -> list[ListCase]:
    return [
        ListCase("no filter (supervisor)", ("supervisor",), {}),
        ListCase("area_id (officer)", ("officer", f"area:{area_id}"), {"area_id": area_id}),
        ListCase("area_id + status (officer)", ("officer", f"area:{area_id}"), {"area_id": area_id, "status": "new"}),
    ]


@contextlib.contextmanager
def officers_pool() -> Iterator[None]:
    """The app trusts the tests' signing key (tests/officers.py); its JWKS is answered in process."""
    from shared import http, tokens
    from tests.officers import CLIENT_ID, ISSUER, JWKS_URL, jwks

    real_request = http.request

    def request(method: str, url: str, **kwargs: Any) -> Any:
        if url == JWKS_URL:
            return http.HttpResponse(200, json.dumps(jwks()).encode(), {"Content-Type": "application/json"})
        return real_request(method, url, **kwargs)

    os.environ.update(COGNITO_ISSUER=ISSUER, COGNITO_CLIENT_ID=CLIENT_ID, COGNITO_JWKS_URL=JWKS_URL)
    http.request = request  # type: ignore[assignment]
    tokens.reset()
    try:
        yield
    finally:
        http.request = real_request  # type: ignore[assignment]
        tokens.reset()


@contextlib.contextmanager
def items_read_per_page() -> Iterator[list[int]]:
    """The ScannedCount of every list Query (TipPage.items_read), in order."""
    from shared.storage import casework

    original = casework.list_tips
    reads: list[int] = []

    def counted(query: Any) -> Any:
        page = original(query)
        reads.append(page.items_read)
        return page

    casework.list_tips = counted  # type: ignore[assignment]
    try:
        yield reads
    finally:
        casework.list_tips = original  # type: ignore[assignment]


def seed_tips(count: int, area_ids: list[str | None]) -> int:
    """``count`` tips as open_tip writes them (same attributes and index keys), by BatchWriteItem; returns requests."""
    import random
    from datetime import UTC, datetime, timedelta

    from shared.domain import AckStatus, Channel, TipStatus
    from shared.storage import models
    from shared.storage.models import TipItem

    models.bind()
    rng = random.Random(count)
    statuses = [str(status) for status in TipStatus]
    status_weights = [50, 20, 15, 10, 5]  # new, in_review, actioned, closed, spam
    channels = [str(channel) for channel in Channel]
    now = datetime.now(UTC)
    with TipItem.batch_write() as batch:
        for index in range(count):
            tip_id = str(uuid.uuid4())
            received_at = now - timedelta(days=LIST_DAYS) * (index + 1) / count
            area_id, channel = rng.choice(area_ids), rng.choice(channels)
            status = rng.choices(statuses, status_weights)[0]
            batch.save(
                TipItem(
                    pk=f"TIP#{tip_id}",
                    tip_id=tip_id,
                    reference=f"DHN-B{index:06d}",
                    channel=channel,
                    status=status,
                    area_id=area_id,
                    **models.tip_index_keys(area_id, status, channel),
                    received_at=received_at,
                    received_key=f"{received_at.isoformat()}#{tip_id}",
                    sent_at=received_at,
                    last_message_at=received_at,
                    texts=[f"Bench tip {index}: liquor sold behind the bus stand every evening."],
                    text_times=[received_at.isoformat()],
                    message_count=1,
                    media_count=0,
                    forwarded=False,
                    sender_pseudonym=hashlib.sha256(f"sender-{index % 5000}".encode()).hexdigest(),
                    reply_handle=b"bench-sealed-reply-handle",
                    ack_status=str(AckStatus.SENT),
                )
            )
    return -(-count // 25)


def call_route(path: str, headers: dict[str, str], query: dict[str, str] | None = None) -> dict[str, Any]:
    from app import app
    from tools.dispatcher import LambdaContext

    response = app(gateway_event("GET", path, headers, query=query), LambdaContext("sampark-dev", timeout_seconds=20))
    if response["statusCode"] != 200:
        raise RuntimeError(f"GET {path} answered {response['statusCode']}: {response.get('body')}")
    return json.loads(response["body"])


@dataclass
class PageSamples:
    total: list[float]
    own: list[float]  # outside botocore + moto
    query: list[float]  # the tip list's Query, in botocore + moto
    audit: list[float]  # the rest of botocore + moto: the audit entries' write
    reads: list[int]
    shown: list[int]
    calls: list[tuple[tuple[str, int], ...]]


def time_list(headers: dict[str, str], query: dict[str, str], recorder: AwsCalls, reads: list[int]) -> PageSamples:
    samples = PageSamples([], [], [], [], [], [], [])
    for _ in range(LIST_CALLS):
        recorder.reset()
        started = time.perf_counter()
        body = call_route("/tips", headers, query)
        samples.total.append(time.perf_counter() - started)
        samples.own.append(samples.total[-1] - recorder.seconds)
        samples.query.append(recorder.seconds_by_call.get("dynamodb.Query", 0.0))
        samples.audit.append(recorder.seconds - samples.query[-1])
        samples.reads.append(reads[-1])
        samples.shown.append(len(body["tips"]))
        samples.calls.append(tuple(sorted(recorder.calls.items())))
    return samples


def bare_handler_ms() -> float:
    """GET /areas in process: API Gateway event to Chalice response, no sign-in and no AWS."""
    samples = []
    for _ in range(WEBHOOK_CALLS):
        started = time.perf_counter()
        call_route("/areas", {})
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


def bench_tip_list(recorder: AwsCalls, sink: Sink) -> None:
    from shared import areas
    from tests.officers import token

    area_ids: list[str | None] = [area.id for area in areas.all_areas()[:3]] + [None]
    smallest: dict[str, float] = {}  # ms per page and filter with the first table size
    with quiet(sink):
        bare_ms = bare_handler_ms()
    baseline = f"bare handler {bare_ms:.2f} ms"
    for size in LIST_SIZES:
        print(f"(e) GET /tips with {size:,} tips", flush=True)
        with (
            fresh_aws(),
            shallow_transaction_snapshots(),  # the audit entries are written in transactions
            quiet(sink),
            officers_pool(),
            items_read_per_page() as reads,
        ):
            started = time.perf_counter()
            requests = seed_tips(size, area_ids)
            seeded_s = time.perf_counter() - started
            row(f"GET /tips, {size:,} tips: seeding", f"{seeded_s:.1f} s", f"{requests} BatchWriteItem", "")
            calls_seen: Counter[tuple[tuple[str, int], ...]] = Counter()
            all_reads: list[int] = []
            for case in list_cases(area_ids[0]):  # type: ignore[arg-type]
                headers = {"Authorization": f"Bearer {token(*case.groups)}"}
                call_route("/tips", headers, case.params)  # warm-up: JWKS, clients, first-call caches
                query = dict(case.params)
                for _ in range(DEEP_PAGE - 1):
                    query["cursor"] = call_route("/tips", headers, query)["next"]
                for page, params in ((1, case.params), (DEEP_PAGE, query)):
                    samples = time_list(headers, params, recorder, reads)
                    calls_seen.update(samples.calls)
                    all_reads += samples.reads
                    total_ms = median_ms(samples.total)
                    key = f"{case.label}, page {page}"
                    versus = f"; ×{total_ms / smallest[key]:.1f} of {LIST_SIZES[0]:,} tips" if key in smallest else ""
                    smallest.setdefault(key, total_ms)
                    read = "/".join(str(n) for n in sorted(set(samples.reads)))
                    shown = "/".join(str(n) for n in sorted(set(samples.shown)))
                    own_ms = median_ms(samples.own)
                    row(
                        f"  {key}",
                        f"{total_ms:.1f} ms",
                        baseline,
                        f"×{total_ms / bare_ms:.0f}{versus}; read {read} for {shown}; in moto: Query"
                        f" {median_ms(samples.query):.1f} ms, audit {median_ms(samples.audit):.1f} ms;"
                        f" our code {own_ms:.2f} ms ×{own_ms / bare_ms:.0f}",
                    )
            row(
                "  items read per page (ScannedCount)",
                f"{statistics.median(all_reads):.0f}",
                f"page {LIST_PAGE}, target ≈ page",
                f"min {min(all_reads)}, max {max(all_reads)} over {len(all_reads)} requests",
            )
            for calls, count in calls_seen.most_common():
                total = sum(n for _, n in calls)
                row("  AWS requests per list request", f"{total}", f"in {count} requests", _ops(dict(calls)))


# --- (d): cold import from the package --------------------------------------------------------------------

COLD_CODE = (
    "import sys, time; sys.path[0] = {folder!r}; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
)


def import_seconds(folder: Path, statement: str) -> float:
    """One fresh interpreter as in Lambda: no site-packages, no PYTHON* variables, no environment, no pyc writes."""
    code = COLD_CODE.format(folder=str(folder), statement=statement)
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-B", "-c", code], env={}, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def bench_cold_import() -> None:
    from tools import package

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        raw = package.chalice_package(root / "raw") / "deployment.zip"
        package.add_bytecode(raw, root / "with-pyc.zip")
        for label, archive in (("with pyc", root / "with-pyc.zip"), ("as chalice zips it", raw)):
            folder = root / label.replace(" ", "-")
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(folder)
            floor, handler, first_request = [], [], []
            for _ in range(COLD_RUNS):  # interleaved, so that machine noise hits both alike
                floor.append(import_seconds(folder, "import boto3, chalice"))
                handler.append(import_seconds(folder, "import app"))
                # app imports botocore (via PynamoDB) but not boto3, which its first request then imports.
                first_request.append(import_seconds(folder, "import app, boto3"))
            baseline = f"boto3+chalice {median_ms(floor):.0f} ms"
            for measure, samples in ((f"import app, {label}", handler), ("  + boto3 (first request)", first_request)):
                ratio = statistics.median(samples) / statistics.median(floor)
                target = "target ≤ 1.3×" if label == "with pyc" and samples is handler else ""
                row(measure, f"{median_ms(samples):.0f} ms", baseline, f"×{ratio:.2f} {target}".rstrip())


# --- main --------------------------------------------------------------------------------------------------


BROADCAST_AUDIENCES = (100, 10_000)


def bench_broadcast(recorder: AwsCalls, sink: Sink) -> None:
    """Requests and time of sending one broadcast, with a small and a large audience on the same topic."""
    figures: dict[int, tuple[int, float, str]] = {}
    for audience in BROADCAST_AUDIENCES:
        print(f"(f) a broadcast to {audience:,} subscribers", flush=True)
        with fresh_aws(), quiet(sink):
            from shared import broadcasts

            warm_up, broadcast_id = _broadcast_with_audience(audience), _broadcast_with_audience(0)
            assert broadcasts.send(warm_up) == "sent"  # clients, templates and the table binding are ready after it
            recorder.reset()
            started = time.perf_counter()
            assert broadcasts.send(broadcast_id) == "sent"
            seconds = time.perf_counter() - started
            sns_calls = sum(n for name, n in recorder.calls.items() if name.startswith("sns."))
            figures[audience] = (sns_calls, seconds, _ops(dict(recorder.calls)))
    small, large = (figures[n] for n in BROADCAST_AUDIENCES)
    for audience, (sns_calls, seconds, ops) in figures.items():
        row(f"broadcast, {audience:,} subscribers: SNS requests", f"{sns_calls}", "", ops)
        note = "SNS answers Publish before its fan-out"
        row(f"broadcast, {audience:,} subscribers: sender time", f"{seconds * 1000:.0f} ms", "", note)
    row("broadcast: SNS requests, 10,000 vs 100 subscribers", f"x{large[0] / small[0]:.2f}", "target x1.00")


def _broadcast_with_audience(audience: int) -> str:
    """A queued broadcast of the demo alert template to Jharia's Hindi SMS topic, after ``audience`` more numbers
    subscribed to it."""
    from moto.sns.models import sns_backends

    from shared import broadcasts, sms
    from shared.aws import alert_topics
    from shared.storage import models
    from shared.storage.models import SubscriberCountItem
    from shared.tokens import Principal
    from tools.local_stack import DEVELOPMENT_SETTINGS
    from tools.resources import ACCOUNT_ID

    for name in ("SMS_SENDER_ID", "DLT_ENTITY_ID", "DLT_TEMPLATES_FILE"):
        os.environ[name] = DEVELOPMENT_SETTINGS[name]
    os.environ["BROADCAST_APPROVAL_THRESHOLD"] = "1000000"  # no second supervisor here
    sms.reset()
    alert_topics.ensure_alert_topics()
    backend = sns_backends[ACCOUNT_ID][REGION]
    topic = alert_topics.topic_arn("jharia", "hi", "sms")
    for n in range(audience):  # straight into moto's backend: 10,000 Subscribe calls would only time moto
        backend.subscribe(topic, f"+9198{n:08d}", "sms")
    models.bind()
    counted = SubscriberCountItem(sk="jharia#hi#sms", area_id="jharia", language="hi", channel="sms")
    counted.update(
        actions=[
            SubscriberCountItem.active.add(audience),
            SubscriberCountItem.area_id.set("jharia"),
            SubscriberCountItem.language.set("hi"),
            SubscriberCountItem.channel.set("sms"),
        ]
    )
    supervisor = Principal(subject="bench-supervisor", username="bench", roles=frozenset({"supervisor"}))
    body = {
        "template_id": "1007000000000000008",  # alert_hi of the demo templates
        "variables": {"subject": "राशन वितरण की सूचना"},
        "areas": ["jharia"],
        "languages": ["hi"],
        "channels": ["sms"],
    }
    return broadcasts.create(supervisor, body, idempotency_key=str(uuid.uuid4()))["id"]


def main() -> None:
    from tests.conftest import TEST_SETTINGS, load_event  # noqa: F401  (importing it sets the test environment)
    from tests.identities import MESSENGER_PAGE_ID
    from tests.x_helpers import X_SETTINGS

    os.environ.update(X_SETTINGS, MESSENGER_PAGE_ID=MESSENGER_PAGE_ID, MESSENGER_PAGE_ACCESS_TOKEN="bench-page-token")
    from tools.fake_graph import FakeGraphServer

    # Handlers that add no metric warn on every invocation; Lambda would just log it.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    started = time.perf_counter()
    print("(d) cold import of the API handler from the package (median of", COLD_RUNS, "runs)", flush=True)
    bench_cold_import()
    recorder, sink = AwsCalls(), Sink()
    graph = FakeGraphServer(access_token=os.environ["WHATSAPP_ACCESS_TOKEN"]).start()
    os.environ["GRAPH_API_URL"] = graph.graph_api_url
    try:
        with recorder.installed():
            fixtures = {"whatsapp": "text_english", "messenger": "text_english", "x": "dm_text"}
            for webhook in webhooks():
                bench_webhook(webhook, load_event(webhook.channel, fixtures[webhook.channel]), recorder, sink)
            cold_calls = cold_webhook_calls(load_event("whatsapp", "text_english"), recorder, sink)
            row("whatsapp, cold, secrets in Secrets Manager", f"{sum(cold_calls.values())}", "", _ops(cold_calls))
            print("(c) bulk delivery, processed end to end", flush=True)
            for senders in (BULK_MESSAGES, max(1, BULK_MESSAGES // 20)):  # all distinct, then 50 per 1,000
                bench_bulk(senders, recorder, sink, graph)
            bench_tip_list(recorder, sink)
            bench_broadcast(recorder, sink)
    finally:
        graph.stop()
    print_table(time.perf_counter() - started, sink)


def print_table(elapsed: float, sink: Sink) -> None:
    widths = [max(len(r[i]) for r in ROWS) for i in range(3)]
    print("\nSampark bench (moto in-process; ratios are to baselines measured in this run)")
    for measure, figure, baseline, note in ROWS:
        print(f"  {measure:<{widths[0]}}  {figure:>{widths[1]}}  {baseline:<{widths[2]}}  {note}".rstrip())
    errors = len(sink.kept)
    print(f"  errors logged: {errors}" + (f" (first: {sink.kept[0][:300]})" if errors else ""))
    print(f"  bench took {elapsed:.0f} s")


if __name__ == "__main__":
    main()
