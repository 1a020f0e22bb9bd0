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
    assert openers == {"ReplySenderRole"}
    [statement] = [
        s
        for s in _statements(roles["ReplySenderRole"], built.template, "ReplySenderRole")
        if _may_open_reply_handles(s)
    ]
    assert statement["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "sampark-reply-handle"}}
    role_of = {
        name: properties["Role"]["Fn::GetAtt"][0] for name, properties in serverless_functions(built.template).items()
    }
    assert {name for name, role in role_of.items() if role == "ReplySenderRole"} == {"SendReplies"}


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
