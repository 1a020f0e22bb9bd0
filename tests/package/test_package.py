"""The deployable artefacts (make package): what Lambda will unzip into /var/task, and the SAM template.

The package is built once for the module (`chalice package` + bytecode, ~3-20 s), then unzipped into an empty
folder that stands in for /var/task.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools import package

pytestmark = pytest.mark.xdist_group("package")

PYC_TAG = sys.implementation.cache_tag  # e.g. cpython-311: the runtime's, checked by tools.package
# Things that must never ship: tests and tooling, the local AWS, and the chalice CLI's own dependencies.
NEVER_SHIPPED = {
    "tests",
    "tools",
    "vendor",
    "moto",
    "pytest",
    "_pytest",
    "xdist",
    "cfnlint",
    "ruff",
    "click",
    "inquirer",
    "yaml",
    "pip",
    "setuptools",
    "wheel",
    "werkzeug",
    "flask",
    "responses",
}


@dataclass(frozen=True)
class Built:
    template: dict[str, Any]
    sam: Path
    zip: Path
    task_root: Path  # the zip, unzipped into an empty folder
    names: list[str]  # zip entries, in order


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    sam, archive = package.build(tmp_path_factory.mktemp("build"))
    task_root = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(task_root)
        names = zipped.namelist()
    return Built(json.loads(sam.read_text()), sam, archive, task_root, names)


def serverless_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resource["Properties"] for name, resource in package.functions_of(template).items()}


# Run as Lambda would: only the task root (and the stdlib) on sys.path, no environment, no .pyc writes.
IMPORT_HANDLER = """
import importlib, sys
sys.path[0] = {root!r}
assert not [p for p in sys.path if "site-packages" in p], sys.path
module_name, _, attribute = {handler!r}.rpartition(".")
handler = getattr(importlib.import_module(module_name), attribute)
assert callable(handler), type(handler)
for name in ("shared", "functions", module_name):
    assert sys.modules[name].__file__.startswith({root!r}), sys.modules[name].__file__
"""


def import_in_task_root(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", "-E", "-B", "-c", code], cwd=root, env={}, capture_output=True, text=True, timeout=60
    )


def test_every_handler_imports_from_the_package_alone_with_no_environment(built: Built) -> None:
    functions = serverless_functions(built.template)
    assert len(functions) >= 4  # the API handler and the three queue workers
    failures = {}
    for name, properties in functions.items():
        code = IMPORT_HANDLER.format(root=str(built.task_root), handler=properties["Handler"])
        result = import_in_task_root(built.task_root, code)
        if result.returncode != 0:
            failures[f"{name} ({properties['Handler']})"] = result.stderr.strip().splitlines()[-3:]
    assert not failures, failures


def test_functions_point_at_the_zip_beside_the_template_and_run_this_python(built: Built) -> None:
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for properties in serverless_functions(built.template).values():
        assert properties["CodeUri"] == "./deployment.zip"
        assert properties["Runtime"] == runtime
    assert (built.sam.parent / "deployment.zip") == built.zip


def test_zip_holds_the_app_with_bytecode_and_nothing_else(built: Built) -> None:
    names = set(built.names)
    for source in ("app.py", "functions/__init__.py", "shared/config.py"):
        assert source in names
        assert _pyc_of(source) in names
    missing_pyc = sorted(n for n in names if n.endswith(".py") and _pyc_of(n) not in names)
    assert not missing_pyc, missing_pyc[:10]
    top_level = {name.split("/", 1)[0] for name in names}
    assert not top_level & NEVER_SHIPPED
    assert {n for n in names if n.startswith("chalice/")} == {
        "chalice/__init__.py",
        "chalice/app.py",
        _pyc_of("chalice/__init__.py"),
        _pyc_of("chalice/app.py"),
    }


def test_third_party_code_is_exactly_requirements_txt(built: Built) -> None:
    shipped = {_normalise(name.split("/", 1)[0].split("-")[0]) for name in built.names if ".dist-info/" in name}
    assert shipped == _requirements()


def test_bytecode_is_unchecked_hash_of_the_shipped_source(built: Built) -> None:
    """Lambda never compiles or stats sources for these: the flags say 'hash-based, unchecked'."""
    for source in ("app.py", "functions/__init__.py", "functions/whatsapp.py", "shared/config.py"):
        data = (built.task_root / _pyc_of(source)).read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, check_source off
        assert data[8:16] == importlib.util.source_hash((built.task_root / source).read_bytes())


def test_zip_is_deterministic(built: Built) -> None:
    with zipfile.ZipFile(built.zip) as zipped:
        infos = zipped.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {package.ZIP_EPOCH}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


def test_cfn_lint_accepts_the_template(built: Built) -> None:
    result = subprocess.run(
        [package.venv_script("cfn-lint"), str(built.sam)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_queue_functions_report_partial_failures_from_their_queue_via_app_py(built: Built) -> None:
    from chalice.app import SQSEventConfig

    import app

    queues_by_function = {s.name: s.queue for s in app.app.event_sources if isinstance(s, SQSEventConfig)}
    resources = built.template["Resources"]
    seen = set()
    for name, properties in serverless_functions(built.template).items():
        for event in properties.get("Events", {}).values():
            assert event["Type"] in ("SQS", "SNS", "Schedule"), name
            if event["Type"] != "SQS":
                continue
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
            queue = resources[_arn_target(event["Properties"]["Queue"])]
            assert queue["Type"] == "AWS::SQS::Queue", name
            function = properties["Handler"].removeprefix("app.")
            assert properties["Handler"] == f"app.{function}"  # aws/chalice#1566: app.py, so middleware runs
            assert queue["Properties"]["QueueName"] == queues_by_function[function]
            assert getattr(app, function) is app.app.handler_map[function]
            seen.add(function)
    assert seen == set(queues_by_function)


def test_the_email_subscription_sync_runs_app_py_on_a_schedule(built: Built) -> None:
    import app
    from functions.subscriptions import SYNC_EVERY_MINUTES

    properties = serverless_functions(built.template)["SyncSubscriptions"]
    [event] = properties["Events"].values()

    assert properties["Handler"] == "app.sync_subscriptions"
    assert app.sync_subscriptions is app.app.handler_map["sync_subscriptions"]
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == f"rate({SYNC_EVERY_MINUTES} minutes)"


def test_sns_functions_run_app_py_from_their_topic_with_async_retries_and_a_destination(built: Built) -> None:
    from chalice.app import SNSEventConfig

    import app

    topics_by_function = {s.name: s.topic for s in app.app.event_sources if isinstance(s, SNSEventConfig)}
    assert topics_by_function, "the SMS function is SNS-triggered"
    resources = built.template["Resources"]
    seen = set()
    for name, properties in serverless_functions(built.template).items():
        sns_events = [e for e in properties.get("Events", {}).values() if e["Type"] == "SNS"]
        if not sns_events:
            continue
        function = properties["Handler"].removeprefix("app.")
        assert properties["Handler"] == f"app.{function}", name  # aws/chalice#1566: app.py, so middleware runs
        assert getattr(app, function) is app.app.handler_map[function]
        (event,) = sns_events
        topic_name = topics_by_function[function]
        # Rendered by name, so a topic with exactly that name must be in the stack, created before the function.
        assert event["Properties"]["Topic"]["Fn::Sub"].endswith(
            f":sns:${{AWS::Region}}:${{AWS::AccountId}}:{topic_name}"
        )
        (topic_id,) = [
            lid
            for lid, r in resources.items()
            if r["Type"] == "AWS::SNS::Topic" and r["Properties"]["TopicName"] == topic_name
        ]
        assert topic_id in resources[name].get("DependsOn", [])
        (invoke_config,) = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::EventInvokeConfig" and r["Properties"]["FunctionName"] == {"Ref": name}
        ]
        assert invoke_config["MaximumRetryAttempts"] == 2
        assert 3600 <= invoke_config["MaximumEventAgeInSeconds"] <= 21600
        destination = resources[_arn_target(invoke_config["DestinationConfig"]["OnFailure"]["Destination"])]
        assert destination["Type"] == "AWS::SQS::Queue"
        seen.add(function)
    assert seen == set(topics_by_function)


def _statements(role: dict[str, Any], template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement that applies to the role: its inline policies and the AWS::IAM::Policy resources on it."""
    statements = [s for policy in role["Properties"].get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _may_open_reply_handles(statement: dict[str, Any]) -> bool:
    """Whether an Allow lets its role call kms:Decrypt directly on reply handles (not only on another purpose)."""
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    decrypts = any(action in ("kms:Decrypt", "kms:*", "*") for action in actions)
    conditions = statement.get("Condition", {}).get("StringEquals", {})
    through_a_service_only = "kms:ViaService" in conditions
    purpose = conditions.get("kms:EncryptionContext:purpose", "sampark-reply-handle")
    return (
        statement["Effect"] == "Allow" and decrypts and not through_a_service_only and purpose == "sampark-reply-handle"
    )


def test_only_the_reply_sender_can_decrypt_reply_handles(built: Built) -> None:
    resources = built.template["Resources"]
    roles = {name: r for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    openers = {
        name
        for name, role in roles.items()
        if any(map(_may_open_reply_handles, _statements(role, built.template, name)))
    }
    assert openers == {"SendRepliesRole"}
    [statement] = [
        s
        for s in _statements(roles["SendRepliesRole"], built.template, "SendRepliesRole")
        if _may_open_reply_handles(s)
    ]
    assert statement["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "sampark-reply-handle"}}
    role_of = {
        name: properties["Role"]["Fn::GetAtt"][0] for name, properties in serverless_functions(built.template).items()
    }
    assert {name for name, role in role_of.items() if role == "SendRepliesRole"} == {"SendReplies"}


def test_api_handler_cold_start_skips_worker_only_modules(built: Built) -> None:
    # The webhook only writes the inbox: batch processing and PynamoDB are the workers' cold-start cost.
    code = (
        f"import sys; sys.path[0] = {str(built.task_root)!r}; import app; "
        "print(sorted(m for m in sys.modules if m.startswith(('aws_lambda_powertools.utilities.batch', 'pynamodb'))))"
    )
    result = import_in_task_root(built.task_root, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _pyc_of(source: str) -> str:
    folder, _, filename = source.rpartition("/")
    pyc = f"__pycache__/{filename.removesuffix('.py')}.{PYC_TAG}.pyc"
    return f"{folder}/{pyc}" if folder else pyc


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements() -> set[str]:
    lines = (package.ROOT / "requirements.txt").read_text().splitlines()
    return {_normalise(re.split(r"[=<>~!\[; ]", line, maxsplit=1)[0]) for line in lines if line and line[0].isalnum()}


def _arn_target(value: Any) -> str:
    """The logical id behind {"Fn::GetAtt": [Id, "Arn"]} or {"Fn::Sub": "${Id.Arn}"}."""
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return value["Fn::GetAtt"][0]
    match = re.fullmatch(r"\$\{(\w+)\.Arn\}", value.get("Fn::Sub", ""))
    assert match, f"not a reference to a resource's Arn: {value}"
    return match.group(1)


# --- least privilege: each function's role allows every AWS request its code makes ----------------------------------
#
# Each function runs a scenario on moto (tests/conftest.py's stack of infra/resources.json), driven as in AWS: the API
# through Chalice's test client, queue- and topic-triggered functions through the local dispatcher, the others
# through lambda_.invoke. tests/iam_access.py records every AWS request (and presigned URL) of each function, adds the
# KMS use of encrypted resources and what Lambda itself does with the role, and evaluates them against the function's
# role in the built template. A new function: write its scenario and add one line to SCENARIOS.
# SAMPARK_IAM_REPORT=<folder> also writes each function's access list (logical ids, ids as *) to <folder>/<id>.txt
# (and with every key, index and topic name as recorded to <id>.exact.txt).


class Story:
    """What a scenario drives: tests/conftest.py's fixtures (aws, api, dispatcher, officer_api, fake_graph,
    monkeypatch), fetched on first use, and the settings the channels need."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return self._request.getfixturevalue(name)

    def drain(self) -> int:
        return self.dispatcher.drain()

    def with_sms(self) -> None:
        """The DLT settings (demo templates) and every area's alert topics, as after `make area-topics`."""
        from shared import sms
        from shared.aws import alert_topics
        from tools.local_stack import DEVELOPMENT_SETTINGS

        for name in ("SMS_SENDER_ID", "DLT_ENTITY_ID", "DLT_TEMPLATES_FILE"):
            self.monkeypatch.setenv(name, DEVELOPMENT_SETTINGS[name])
        sms.reset()
        self._request.addfinalizer(sms.reset)
        alert_topics.ensure_alert_topics()

    def with_page(self) -> None:
        """The police Facebook Page (Messenger and Page posts) on the fake Graph API."""
        self.monkeypatch.setenv("MESSENGER_PAGE_ID", "108827461253940")
        self.monkeypatch.setenv("MESSENGER_PAGE_ACCESS_TOKEN", "test-page-token")
        self.fake_graph.set_page_access_token("test-page-token")

    def with_x(self) -> Any:
        """The police X account on the fake X API, which serves dm_photo's photo; returns the fake."""
        from tests import x_helpers

        x_helpers.use_x_settings(self.monkeypatch)
        running = x_helpers.start_fake_x(self.monkeypatch)
        server = next(running)
        self._request.addfinalizer(lambda: next(running, None))
        path = f"/1.1/ton/data/dm/{x_helpers.DM_PHOTO}/{x_helpers.DM_PHOTO_MEDIA}/Hx7qL2pA.jpg"
        server.add_media(path, _photo(), signed=True)
        return server

    def with_pending_emails(self) -> None:
        """Email subscriptions wait for their confirmation link, as in SNS (tools/sns_email.py)."""
        from tools.sns_email import start_email_subscriptions_pending

        self._request.addfinalizer(start_email_subscriptions_pending())

    def whatsapp(self, body: str | bytes, folder: str = "whatsapp") -> None:
        from tests.conftest import load_event
        from tests.helpers import post_whatsapp

        raw = body if isinstance(body, bytes) else load_event(folder, body)
        assert post_whatsapp(self.api, raw).status_code == 200

    def messenger(self, name: str) -> None:
        from shared.channels import meta
        from tests.conftest import load_event

        raw = load_event("messenger", name)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(raw)}
        assert self.api.http.post("/webhooks/messenger", headers=headers, body=raw).status_code == 200

    def x(self, name: str, fake_x: Any) -> None:
        from tests.x_helpers import post_x

        assert post_x(self.api, name, fake_x).status_code == 200

    def sms_in(self, body: str | bytes, folder: str = "sms") -> None:
        """An inbound SMS, published to the inbound topic as AWS End User Messaging does."""
        import boto3

        from shared.channels.sms import INBOUND_TOPIC
        from tests.conftest import load_event

        assert self.dispatcher  # subscribed to the topic from now on, as Lambda's trigger is
        raw = body if isinstance(body, bytes) else load_event(folder, body)
        topic = self.aws.topic_for_name(INBOUND_TOPIC)["Ref"]
        boto3.client("sns", region_name="ap-south-1").publish(TopicArn=topic, Message=raw.decode())

    def officer(self, method: str, path: str, groups: Any, body: Any = None, headers: Any = None) -> Any:
        from tests.officers import json_of

        response = self.officer_api.request(method, path, groups=groups, body=body, headers=headers)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.body!r}"
        return json_of(response) if response.body else None

    def public(self, method: str, path: str, body: Any = None, headers: Any = None) -> Any:
        return self.officer(method, path, None, body=body, headers=headers)

    def tip_ids(self) -> list[str]:
        from tests.helpers import tips

        return [tip["tip_id"]["S"] for tip in tips(self.aws)]

    def notice_with_photo(self, photo: bytes | None = None) -> dict[str, Any]:
        """A wanted notice created by a supervisor, its photo posted through the upload link and published."""
        from tests.functional.test_wanted import create, jpeg_with_gps, upload
        from tests.officers import SUPERVISOR

        notice = create(self.officer_api)
        upload(self.aws, self.dispatcher, notice, photo or jpeg_with_gps(size=(800, 600)))
        return self.officer("GET", f"/wanted/{notice['id']}", SUPERVISOR)

    def broadcast(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        from tests.officers import SUPERVISOR

        return self.officer("POST", "/broadcasts", SUPERVISOR, body=body, headers={"Idempotency-Key": key})

    def sign_up(self, area: str = "jharia", language: str = "en", **contact: str) -> dict[str, Any]:
        """A sign-up on the web form: ``phone=…`` (a one-time code follows by SMS) or ``email=…``."""
        return self.public("POST", "/subscriptions", body={**contact, "areas": [area], "language": language})

    def subscribe_by_chat(self, phone: str, area: str) -> None:
        from shared import subscriptions

        assert subscriptions.subscribe_from_chat(phone, area, "en", via="sms")


def _photo() -> bytes:
    from tests.helpers import PHOTO

    return Path(PHOTO).read_bytes()


def _second_supervisor() -> dict[str, str]:
    from tests.officers import bearer

    return bearer("supervisor", username="second-supervisor", sub="second-supervisor-subject")


def _notice_broadcast(notice: dict[str, Any], areas: list[str]) -> dict[str, Any]:
    return {"wanted_id": notice["id"], "areas": areas, "languages": ["hi", "en"], "channels": ["sms", "email"]}


def _intake(story: Story) -> None:
    """Tips on every channel, and the citizens' other messages: a status query, SUBSCRIBE and STOP, a notice quoted."""
    from tests.functional.test_wanted import create

    story.with_sms()
    story.with_page()
    fake_x = story.with_x()
    create(story.officer_api)  # W-0001, which quotes_wanted_notice quotes
    story.fake_graph.add_media("1587392046152734", _photo(), "image/jpeg")  # image_with_caption's photo
    for name in ("image_with_caption", "text_hindi", "location_pin", "status_query_own", "quotes_wanted_notice"):
        story.whatsapp(name)
    for name in ("whatsapp-subscribe", "whatsapp-stop"):
        story.whatsapp(name, folder="commands")
    story.messenger("text_english")
    story.x("dm_photo", fake_x)
    story.sms_in("text_english")
    story.drain()
    story.whatsapp("text_hindi")  # Meta delivers it again: recorded once
    story.drain()


# --- the scenarios, one per function ----------------------------------------------------------------------------------


def api_handler(story: Story) -> None:
    """Every route that touches AWS: webhooks, the officers' tip file, wanted notices, sign-ups, broadcasts, audit."""
    from tests.officers import ADMIN, OFFICER_SARAIDHELA, SUPERVISOR

    story.with_sms()
    story.with_page()
    story.with_pending_emails()
    fake_x = story.with_x()
    story.monkeypatch.setenv("BROADCAST_APPROVAL_THRESHOLD", "0")  # every broadcast waits for a second supervisor
    # Webhooks: each delivery goes to the inbox (S3) and the deliveries queue.
    story.fake_graph.add_media("1587392046152734", _photo(), "image/jpeg")
    for name in ("image_with_caption", "text_hindi", "location_pin"):
        story.whatsapp(name)
    story.messenger("text_english")
    story.x("dm_text", fake_x)
    story.drain()
    # The officers' tip file: lists, a tip with its photo (presigned), the original, triage, a note, a question.
    story.officer("GET", "/tips", SUPERVISOR)
    story.officer("GET", "/tips?area_id=saraidhela&status=new", OFFICER_SARAIDHELA)
    story.officer("GET", "/tips?channel=whatsapp", SUPERVISOR)
    story.officer("GET", "/tips?status=new", SUPERVISOR)
    for tip_id in story.tip_ids():
        tip = story.officer("GET", f"/tips/{tip_id}", SUPERVISOR)
        for media in tip["media"]:
            story.officer("GET", f"/tips/{tip_id}/media/{media['key']}/original", ADMIN)
    [sunita] = [t["id"] for t in story.officer("GET", "/tips?area_id=saraidhela", SUPERVISOR)["tips"]]
    story.officer("PATCH", f"/tips/{sunita}", OFFICER_SARAIDHELA, body={"status": "in_review", "assignee": "si.kumari"})
    story.officer("POST", f"/tips/{sunita}/notes", OFFICER_SARAIDHELA, body={"text": "Beat constable informed"})
    story.officer("POST", f"/tips/{sunita}/messages", OFFICER_SARAIDHELA, body={"text": "What colour was it?"})
    story.officer("PATCH", f"/tips/{sunita}", OFFICER_SARAIDHELA, body={"area_id": "jharia"})
    story.drain()
    # Wanted notices: create (upload link), a new link, the gallery, an edit.
    notice = story.notice_with_photo()
    story.officer("POST", f"/wanted/{notice['id']}/photo", SUPERVISOR)
    story.public("GET", "/wanted")
    story.public("GET", f"/wanted/{notice['id']}")
    story.officer("PATCH", f"/wanted/{notice['id']}", SUPERVISOR, body={"reward": {"en": "₹50,000", "hi": "₹50,000"}})
    story.officer("PATCH", f"/tips/{sunita}", SUPERVISOR, body={"wanted_id": notice["id"]})
    story.officer("GET", f"/tips?wanted_id={notice['id']}", SUPERVISOR)
    story.officer("GET", f"/tips?wanted_id={notice['id']}&area_id=jharia", SUPERVISOR)
    story.officer("GET", "/tips?channel=whatsapp&status=in_review", SUPERVISOR)
    # Sign-ups: a number (one-time code by SMS, verified), an address (SNS confirms it), status, leaving, stats.
    from tests.sms_helpers import sent_sms

    phone = story.sign_up(phone="+919835011111", language="hi")
    [(_, text)] = sent_sms().values()
    code = re.search(r"(?<!\d)\d{6}(?!\d)", text).group(0)  # type: ignore[union-attr]
    story.public("POST", f"/subscriptions/{phone['id']}/verify", body={"code": code})
    email = story.sign_up(email="asha@example.com")
    story.public("GET", f"/subscriptions/{email['id']}", headers={"X-Subscription-Token": email["token"]})
    story.public("DELETE", f"/subscriptions/{email['id']}", headers={"X-Subscription-Token": email["token"]})
    story.officer("GET", "/subscriptions/stats", SUPERVISOR)
    # Broadcasts: a dry run, one that waits for approval, its approval, the lists.
    body = _notice_broadcast(notice, ["jharia"])
    story.officer("POST", "/broadcasts?dry_run=true", SUPERVISOR, body=body)
    created = story.broadcast(body, key="broadcast-1")
    story.officer("POST", f"/broadcasts/{created['id']}/approve", None, headers=_second_supervisor())
    story.officer("GET", "/broadcasts", SUPERVISOR)
    story.officer("GET", f"/broadcasts/{created['id']}", SUPERVISOR)
    story.drain()
    # The notice is closed: its photos leave the public bucket, the event goes out.
    story.officer("PATCH", f"/wanted/{notice['id']}", SUPERVISOR, body={"status": "captured"})
    # The audit trail, every way of reading it.
    story.officer("GET", "/audit", ADMIN)
    story.officer("GET", f"/audit?tip_id={sunita}", ADMIN)
    story.officer("GET", "/audit?officer=officer-officer-area_saraidhela", ADMIN)
    story.officer("GET", "/areas", None)


def record_deliveries(story: Story) -> None:
    """Every kind of delivery, a redelivery by Meta, and the same queue message twice (SQS is at least once)."""
    import boto3

    sqs = boto3.client("sqs", region_name="ap-south-1")
    queue = story.aws.physical["DeliveriesQueue"]
    story.whatsapp("text_english")
    [message] = sqs.receive_message(QueueUrl=queue["Ref"], VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
    _intake(story)
    record = {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"]}
    record |= {"attributes": message["Attributes"], "messageAttributes": {}, "md5OfBody": message["MD5OfBody"]}
    record |= {"eventSource": "aws:sqs", "eventSourceARN": queue["Arn"], "awsRegion": "ap-south-1"}
    result = story.api.lambda_.invoke("record_deliveries", {"Records": [record]}).payload
    assert result == {"batchItemFailures": []}  # its inbox copy is gone: processed before


def fetch_media(story: Story) -> None:
    """Photos stored with their officers' copies, and media that can never be stored."""
    story.fake_graph.add_media("1587392046152734", _photo(), "image/jpeg")
    story.fake_graph.add_media("1210000000000101", b"<html>not a photo</html>", "image/jpeg")
    for name in ("image_with_caption", "album_photo_1"):
        story.whatsapp(name)
    fake_x = story.with_x()
    story.x("dm_photo", fake_x)
    story.drain()


def send_replies(story: Story) -> None:
    """Acknowledgements on every channel (SMS through SNS), status answers, command answers, an officer's question,
    new-tip notices to the areas' topics."""
    from tests.officers import OFFICER_SARAIDHELA

    _intake(story)
    [sunita] = [t["id"] for t in story.officer("GET", "/tips?area_id=saraidhela", OFFICER_SARAIDHELA)["tips"]]
    story.officer("POST", f"/tips/{sunita}/messages", OFFICER_SARAIDHELA, body={"text": "What colour was it?"})
    story.drain()


def process_photo_uploads(story: Story) -> None:
    """A notice's photo published, replaced by a second one, and an upload that is refused."""
    from tests.functional.test_wanted import jpeg_with_gps, upload
    from tests.officers import SUPERVISOR

    notice = story.notice_with_photo()
    again = story.officer("POST", f"/wanted/{notice['id']}/photo", SUPERVISOR)
    upload(story.aws, story.dispatcher, again, jpeg_with_gps(size=(900, 700)))
    refused = story.officer("POST", f"/wanted/{notice['id']}/photo", SUPERVISOR)
    upload(story.aws, story.dispatcher, refused, b"not an image at all")


def send_broadcasts(story: Story) -> None:
    """A notice and a plain alert broadcast to their areas' SMS and email topics."""
    from tests.functional.test_wanted import create
    from tests.officers import SUPERVISOR

    story.with_sms()
    story.subscribe_by_chat("+919835011111", "jharia")
    story.broadcast(_notice_broadcast(create(story.officer_api), ["jharia", "sindri"]), key="notice")
    story.broadcast(_alert_broadcast(), key="alert")
    story.drain()
    assert [b["status"] for b in story.officer("GET", "/broadcasts", SUPERVISOR)["broadcasts"]] == ["sent", "sent"]


def _alert_broadcast() -> dict[str, Any]:
    """A plain alert (DLT template "alert", tools/demo-dlt-templates.json) by SMS to Jharia."""
    alert = {"template_id": "1007000000000000007", "variables": {"subject": "road closed near bus stand"}}
    return alert | {"areas": ["jharia"], "languages": ["en"], "channels": ["sms"]}


def post_to_social(story: Story) -> None:
    """A broadcast notice posted on the Page and X, then its capture."""
    from tests.officers import SUPERVISOR

    story.with_sms()
    story.with_page()
    story.with_x()
    notice = story.notice_with_photo()
    story.broadcast(_notice_broadcast(notice, ["jharia"]), key="notice")
    story.drain()
    story.officer("PATCH", f"/wanted/{notice['id']}", SUPERVISOR, body={"status": "captured"})
    story.drain()
    posts = story.officer("GET", f"/wanted/{notice['id']}", SUPERVISOR)["social_posts"]
    assert {(p["platform"], p["kind"], p["status"]) for p in posts} >= {("facebook", "captured", "posted")}


def receive_sms(story: Story) -> None:
    """Inbound SMS: tips (in two parts), a status query, SUBSCRIBE, STOP."""
    story.with_sms()
    for name in ("text_english", "multipart_part1", "multipart_part2", "status_query_own", "keyword_stop"):
        story.sms_in(name)
    for name in ("sms-subscribe", "sms-stop_hindi"):
        story.sms_in(name, folder="commands")
    story.drain()


def sync_subscriptions(story: Story) -> None:
    """Email sign-ups confirmed, left by SNS's link, lapsed; an unsubscribe SNS could not take finished."""
    import boto3

    from shared.aws import alert_topics
    from shared.errors import ReplyUnavailableError
    from tools.sns_email import confirm_email

    story.with_sms()
    story.with_pending_emails()
    sns = boto3.client("sns", region_name="ap-south-1")

    def sync() -> None:
        story.api.lambda_.invoke("sync_subscriptions", story.api.events.generate_cw_event("aws.events", "x", {}, []))

    kept = story.sign_up(email="kept@example.com")
    story.sign_up(email="left@example.com", area="sindri")
    story.sign_up(email="lapsed@example.com")
    sync()
    assert confirm_email("kept@example.com", "ap-south-1") == confirm_email("left@example.com", "ap-south-1") == 1
    sync()
    for page in sns.get_paginator("list_subscriptions").paginate():
        for subscription in page["Subscriptions"]:
            if subscription["Endpoint"] in ("left@example.com", "lapsed@example.com"):
                sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])  # the link, or 48 hours passed

    def unavailable(arn: str) -> None:
        raise ReplyUnavailableError("SNS is down")

    with story.monkeypatch.context() as patched:
        patched.setattr(alert_topics, "unsubscribe", unavailable)
        headers = {"X-Subscription-Token": kept["token"]}
        assert story.officer_api.delete(f"/subscriptions/{kept['id']}", headers=headers).status_code == 503
    sync()


def count_sms_deliveries(story: Story) -> None:
    """SNS's delivery-status log lines of a broadcast's SMS, handed over by the logs subscription filter."""
    from tests.functional.test_broadcasts import delivery_log_event
    from tests.officers import SUPERVISOR

    story.with_sms()
    story.monkeypatch.setenv("SMS_DELIVERY_LOG_GROUP", "sns/ap-south-1/123456789012/DirectPublishToPhoneNumber")
    story.subscribe_by_chat("+919835011111", "jharia")
    created = story.broadcast(_alert_broadcast(), key="alert")
    story.drain()
    [message_id] = story.officer("GET", f"/broadcasts/{created['id']}", SUPERVISOR)["sns_message_ids"]
    assert story.api.lambda_.invoke("count_sms_deliveries", delivery_log_event(message_id)).payload == {"counted": 1}


def check_channel_health(story: Story) -> None:
    """Every channel configured (on the fake platforms): each is asked once whether it still delivers to us."""
    story.with_page()
    story.with_x()
    event = story.api.events.generate_cw_event("aws.events", "Scheduled Event", {}, [], region="ap-south-1")
    summary = story.api.lambda_.invoke("check_channel_health", event).payload
    assert {"whatsapp", "messenger", "x"} <= set(summary)


SCENARIOS: dict[str, Any] = {
    "APIHandler": api_handler,
    "RecordDeliveries": record_deliveries,
    "FetchMedia": fetch_media,
    "SendReplies": send_replies,
    "ProcessPhotoUploads": process_photo_uploads,
    "SendBroadcasts": send_broadcasts,
    "PostToSocial": post_to_social,
    "ReceiveSms": receive_sms,
    "SyncSubscriptions": sync_subscriptions,
    "CountSmsDeliveries": count_sms_deliveries,
    "CheckChannelHealth": check_channel_health,
}


def test_every_function_of_the_template_has_a_least_privilege_scenario(built: Built) -> None:
    missing = sorted(set(package.functions_of(built.template)) - set(SCENARIOS))
    assert not missing, f"write a scenario for {missing} and add it to SCENARIOS"
    assert sorted(SCENARIOS) == sorted(package.functions_of(built.template)), "SCENARIOS names a function no more"


@pytest.mark.parametrize("function", sorted(SCENARIOS))
def test_the_role_of_each_function_allows_every_aws_request_its_code_makes(
    built: Built, request: pytest.FixtureRequest, function: str
) -> None:
    from shared import config
    from tests import iam_access

    stack = request.getfixturevalue("aws")
    policies = iam_access.Policies(
        built.template, stack.physical, stack_name=stack.stack_name, key_of_unlisted=_key_of_topic
    )
    with iam_access.Recorder() as recorder:
        recorder.attribute_handlers(iam_access.handlers_of(built.template, policies.functions()))
        recorder.watch(config, "get", _secret_reads(built.template, policies, recorder))
        SCENARIOS[function](Story(request))

    assert not recorder.errors, recorder.errors
    recorded = recorder.of(function)
    assert recorded, f"the scenario never ran {function}"
    assert policies.trusts_lambda(policies.role_of(function)), f"Lambda cannot assume {policies.role_of(function)}"
    needs = policies.requirements(function, recorded)
    _write_report(function, needs, policies)
    denied = policies.denied(function, needs)
    assert not denied, iam_access.failure_report(function, policies.role_of(function), denied, policies.logical_names)
    unused = _unused_grants(policies, policies.role_of(function), needs)
    assert not unused, f"{function}'s role grants what its code never uses (least privilege): {unused}"


# Grants no recorded request exercises, each for a reason the scenarios cannot show.
TOLERATED_UNUSED = {
    # Lambda's SQS poller may return a message early (SAM's own SQSPollerPolicy grants it too).
    ("ConsumeItsQueue", "sqs:ChangeMessageVisibility"),
    # Without ListBucket S3 answers a read of a missing object with 403, not 404: the delivery recorder and the photo
    # pipeline treat a missing inbox object or upload as already handled (moto always answers 404).
    ("MissingObjectsAreNotFound", "s3:ListBucket"),
    # boto3 uploads a file over 8 MB in parts and aborts the upload when a part fails (the tests' files are smaller:
    # one PutObject each).
    ("TipMedia", "s3:AbortMultipartUpload"),
    # DynamoDB uses a table's customer-managed key on the caller's behalf with these (AWS's key policy for
    # DynamoDB grants them through the service; the recorder models only Decrypt).
    *(
        ("TableKeyThroughDynamoDB", action)
        for action in ("kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant")
    ),
}


def _unused_grants(policies: Any, role: str, needs: list[Any]) -> list[tuple[str, str]]:
    """(Sid, action) of every Allow whose action no need of the function matches on the statement's resources."""
    unused = []
    for statement in policies.statements(role):
        sid = statement["Sid"].rsplit("/", 1)[-1]
        if statement["Effect"] != "Allow":
            continue
        for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
            narrowed = {**statement, "Action": [action]}
            if (sid, action) not in TOLERATED_UNUSED and not any(policies._applies(narrowed, a) for a in needs):
                unused.append((sid, action))
    return unused


def _secret_reads(template: dict[str, Any], policies: Any, recorder: Any) -> Any:
    """In AWS a secret setting (not in the function's environment) is read from the secret SECRETS_ID names."""
    from shared import config
    from tests.iam_access import Access

    shared_variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})

    def reads(name: str, *args: Any, **kwargs: Any) -> list[Any]:
        own = template["Resources"][recorder.current]["Properties"].get("Environment", {}).get("Variables", {})
        variables = {**shared_variables, **own}
        if name not in config.SECRET_NAMES | config.ACCOUNT_NAMES or name in variables or "SECRETS_ID" not in variables:
            return []
        secret = policies.resolve(variables["SECRETS_ID"])
        return [Access("secretsmanager:GetSecretValue", secret, origin="settings", operation=f"setting {name}")]

    return reads


def _key_of_topic(service: str, arn: str) -> str | None:
    """The KMS key of an SNS topic the app created itself (new-tip and alert topics), as moto keeps it."""
    from moto.sns.models import sns_backends

    if service != "sns":
        return None
    _, _, _, region, account, _ = arn.split(":", 5)
    topic = sns_backends[account][region].topics.get(arn)
    return (topic.kms_master_key_id or None) if topic is not None else None


_GENERALISED = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "*"),
    (re.compile(r"(-new-tips-|-alerts-)[a-z0-9-]+"), r"\1*"),
    (re.compile(r":log-stream:\S+"), ":log-stream:*"),
    # S3 keys: the leading words (inbox/whatsapp/, tips/), then *.
    (re.compile(r"(\.Arn\}/(?:[a-z][a-z_-]*/)*)[^\s\]]+"), r"\1*"),
    (re.compile(r"(s3:prefix=(?:[a-z][a-z_-]*/)*)[^\s\],]+"), r"\1*"),
]


def _generalised(text: str) -> str:
    for pattern, replacement in _GENERALISED:
        text = pattern.sub(replacement, text)
    return text


def _write_report(function: str, needs: list[Any], policies: Any) -> None:
    import os

    from tests import iam_access

    folder = os.environ.get("SAMPARK_IAM_REPORT")
    if folder:
        lines = iam_access.access_list(needs, policies.logical_names, _generalised)
        (Path(folder) / f"{function}.txt").write_text("\n".join(lines) + "\n")
        uuids = _GENERALISED[0][0]
        exact = iam_access.access_list(needs, policies.logical_names, lambda text: uuids.sub("*", text))
        (Path(folder) / f"{function}.exact.txt").write_text("\n".join(exact) + "\n")


def test_the_recorder_sees_boto3_pynamodb_and_presigned_urls_of_a_function_only(aws: Any) -> None:
    import uuid

    from shared.aws import media_store
    from shared.domain import Channel, MessageRecord, NewTip
    from shared.storage import tips
    from tests import iam_access
    from tests.conftest import FIXED_NOW

    bucket, table = aws.physical["MediaBucket"], aws.physical["TipsTable"]
    tip = NewTip(tip_id=str(uuid.uuid4()), reference="DHN-7K3QM", reply_handle=b"x", open_until=0, area_id=None)
    message = MessageRecord(
        message_key="k", channel=Channel.SMS, sender_pseudonym="p", received_at=FIXED_NOW, sent_at=FIXED_NOW
    )
    with iam_access.Recorder() as recorder:
        media_store.put_bytes("tips/before.jpg", b"x", content_type="image/jpeg")  # no function runs: not recorded
        with recorder.as_function("F"):
            media_store.put_bytes("tips/a.jpg", b"x", content_type="image/jpeg")  # boto3
            tips.open_tip(tip, message)  # PynamoDB: one TransactWriteItems
            tips.get_tip_for_reply(tip.tip_id)  # PynamoDB: GetItem
            media_store.presigned_get("tips/a.jpg", 60)  # signed here, used by an officer's browser

    found = {(a.action, a.resource.replace(table["Arn"], "T").replace(bucket["Arn"], "B")) for a in recorder.of("F")}
    assert found == {
        ("s3:PutObject", "B/tips/a.jpg"),
        ("s3:GetObject", "B/tips/a.jpg"),
        ("dynamodb:PutItem", "T"),
        ("dynamodb:GetItem", "T"),
    }
    presigned = [a for a in recorder.of("F") if a.origin == "presigned"]
    assert [a.action for a in presigned] == ["s3:GetObject"]
    transaction = [a for a in recorder.of("F") if a.operation == "dynamodb.TransactWriteItems"]
    assert len(transaction) > 1 and {a.action for a in transaction} <= {"dynamodb:PutItem", "dynamodb:UpdateItem"}


def test_the_policy_evaluator_denies_what_iam_denies() -> None:
    from tests import iam_access
    from tests.iam_access import Access

    table = "arn:aws:dynamodb:ap-south-1:123456789012:table/t"
    statements = [
        {"Sid": "Items", "Effect": "Allow", "Action": "dynamodb:*Item", "Resource": {"Fn::GetAtt": ["T", "Arn"]}},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
        {"Sid": "Sms", "Effect": "Allow", "Action": "sns:Publish", "NotResource": "arn:aws:sns:*:*:*"},
        {
            "Sid": "Open",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "a"}},
        },
        {
            "Sid": "List",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::b",
            "Condition": {"StringLike": {"s3:prefix": ["wanted/*"]}},
        },
    ]
    role = {"AssumeRolePolicyDocument": {"Statement": []}, "Policies": [{"PolicyDocument": {"Statement": statements}}]}
    template = {
        "Resources": {
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Role": {"Fn::GetAtt": ["R", "Arn"]}}},
            "R": {"Type": "AWS::IAM::Role", "Properties": role},
            "T": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        }
    }
    policies = iam_access.Policies(template, {"T": {"Ref": "t", "Arn": table}}, stack_name="s")

    def allowed(action: str, resource: str, **keys: str) -> bool:
        return policies.decide(policies.role_of("Fn"), Access(action, resource, tuple(keys.items()))).allowed

    assert allowed("dynamodb:PutItem", table) and allowed("DynamoDB:updateitem", table)
    assert not allowed("dynamodb:PutItem", table + "-other") and not allowed("dynamodb:Query", table)
    assert not allowed("dynamodb:DeleteItem", table)  # the Deny wins over the Allow
    assert allowed("sns:Publish", iam_access.PHONE_NUMBER) and not allowed("sns:Publish", "arn:aws:sns:r:1:topic")
    assert allowed("kms:Decrypt", "k", **{"kms:EncryptionContext:purpose": "a"})
    assert not allowed("kms:Decrypt", "k", **{"kms:EncryptionContext:purpose": "b"}) and not allowed("kms:Decrypt", "k")
    assert allowed("s3:ListBucket", "arn:aws:s3:::b", **{"s3:prefix": "wanted/1/"})
    assert not allowed("s3:ListBucket", "arn:aws:s3:::b", **{"s3:prefix": "tips/"})
    assert not allowed("s3:ListBucket", "arn:aws:s3:::b")
    assert not policies.trusts_lambda("R")
    statements.append(
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "1"}}}
    )
    policies = iam_access.Policies(template, {"T": {"Ref": "t", "Arn": table}}, stack_name="s")
    with pytest.raises(iam_access.PolicyError, match="aws:SourceIp"):
        allowed("dynamodb:PutItem", table)


# --- one role per function, named resources only -----------------------------------------------------------------

DATA_SERVICES = ("dynamodb:", "s3:", "sqs:", "sns:", "kms:", "secretsmanager:")


def test_every_function_runs_under_a_role_of_its_own_and_chalice_makes_none(built: Built) -> None:
    resources = built.template["Resources"]
    role_of = {name: properties["Role"] for name, properties in serverless_functions(built.template).items()}
    for function, role in role_of.items():
        assert role == {"Fn::GetAtt": [f"{function}Role", "Arn"]}, f"{function} runs under {role}"
        assert resources[f"{function}Role"]["Type"] == "AWS::IAM::Role"
    assert "DefaultRole" not in resources  # .chalice/config.json: manage_iam_role false
    roles = [name for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    # Besides the functions': the roles SNS (SMS delivery logs) and API Gateway (access logs) write logs with.
    assert sorted(roles) == sorted(
        [f"{f}Role" for f in role_of] + ["SmsDeliveryStatusRole", "ApiGatewayCloudWatchRole"]
    )
    assert not [name for name, r in resources.items() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]


@pytest.mark.parametrize("function", sorted(SCENARIOS))
def test_no_role_grants_a_wildcard_action_or_a_wildcard_resource_on_data_services(built: Built, function: str) -> None:
    resources = built.template["Resources"]
    role_id = f"{function}Role"
    for statement in _statements(resources[role_id], built.template, role_id):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if a == "*" or a.endswith(":*")], statement
        if statement["Effect"] != "Allow" or not any(a.startswith(DATA_SERVICES) for a in actions):
            continue
        targets = statement.get("Resource", statement.get("NotResource"))
        for target in targets if isinstance(targets, list) else [targets]:
            assert target != "*", f"{role_id}/{statement.get('Sid')}: * on a data service"
        if "NotResource" in statement:  # only SMS to phone numbers: every topic ARN is excluded
            assert actions == ["sns:Publish"] and statement["NotResource"] == [
                {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}
            ]


def test_every_function_is_named_and_logs_to_its_own_group_with_retention(built: Built) -> None:
    resources = built.template["Resources"]
    for function, properties in serverless_functions(built.template).items():
        name = properties["FunctionName"]["Fn::Sub"]
        logs = resources[f"{function}Logs"]
        assert logs["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}
        assert logs["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert f"{function}Logs" in resources[function]["DependsOn"]
        # Writing its own log group only: no logs:CreateLogGroup, no logs on *.
        [logging] = [
            s
            for s in _statements(resources[f"{function}Role"], built.template, f"{function}Role")
            if any(a.startswith("logs:") for a in s["Action"])
        ]
        assert logging["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert logging["Resource"] == [{"Fn::GetAtt": [f"{function}Logs", "Arn"]}]
