"""`make deploy` (tools.deploy): the artifacts bucket and uploads on moto, the change-set flow on a fake CloudFormation.

moto cannot run the AWS::Serverless-2016-10-31 transform (nor work out a change set's changes from a SAM template),
so CloudFormation is FakeCloudFormation below: it answers the calls tools.deploy makes, in the shapes of the real
API, and records them. S3 and STS are moto's. The package is not built here (tests/package/test_package.py builds
the real one): tools.package.build is replaced by a fake writing a small sam.json and zip.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tools import area_topics, deploy, package, sms_settings

ACCOUNT = "123456789012"  # moto's
BUCKET = f"sampark-artifacts-{ACCOUNT}-ap-south-1"
FUNCTIONS = ["APIHandler", "SendReplies", "FetchMedia"]
OUTPUTS = [
    {"OutputKey": "WebhookBaseUrl", "OutputValue": "https://abc123.execute-api.ap-south-1.amazonaws.com/api/webhooks/"},
    {"OutputKey": "PlatformSecretsArn", "OutputValue": f"arn:aws:secretsmanager:ap-south-1:{ACCOUNT}:secret:x"},
    {"OutputKey": "SmsDeliveryStatusRoleArn", "OutputValue": f"arn:aws:iam::{ACCOUNT}:role/sampark-SmsDelivery-1"},
]
TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
CHANGES = [
    {
        "Type": "Resource",
        "ResourceChange": {"Action": "Add", "LogicalResourceId": "TipsTable", "ResourceType": "AWS::DynamoDB::Table"},
    },
    {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": "APIHandler",
            "ResourceType": "AWS::Lambda::Function",
            "Replacement": "False",
        },
    },
    {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": "MediaBucket",
            "ResourceType": "AWS::S3::Bucket",
            "Replacement": "True",
        },
    },
]


# --- fakes -------------------------------------------------------------------------------------------------------


EVENT_IDS = itertools.count(1)


def event(logical_id: str, status: str, reason: str = "", resource_type: str = "AWS::Lambda::Function") -> dict:
    return {
        "EventId": f"event-{next(EVENT_IDS)}",
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
    }


class FakeCloudFormation:
    """The CloudFormation calls of tools.deploy. ``stack_status`` None: no such stack yet.

    ``change_set`` is how the change set ends: "changes" (CHANGES, over two pages), or a FAILED StatusReason.
    ``script`` is what executing it does: (stack status, events) for each DescribeStacks that follows.
    """

    def __init__(self, stack_status: str | None = None, change_set: str = "changes", script=None, parameters=()):
        self.calls: list[tuple[str, dict]] = []
        self.stack: dict | None = None
        self.events: list[dict] = []  # newest first, like the API
        if stack_status:
            self._make_stack(stack_status, list(parameters))
        self.change_set = change_set
        self.script = list(script or [])
        self.pending: list = []
        self.change_set_polls = 0

    def _make_stack(self, status: str, parameters: list) -> None:
        self.stack = {
            "StackName": "sampark",
            "StackId": "arn:aws:cloudformation:ap-south-1:123456789012:stack/sampark/1",
            "StackStatus": status,
            "Parameters": parameters,
            "Outputs": OUTPUTS,
        }
        self.events.insert(0, event("sampark", status, resource_type="AWS::CloudFormation::Stack"))

    def describe_stacks(self, StackName):
        self.calls.append(("describe_stacks", {"StackName": StackName}))
        if self.stack is None:
            error = {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}
            raise ClientError({"Error": error}, "DescribeStacks")
        if self.pending:
            status, events = self.pending.pop(0)
            self.stack["StackStatus"] = status
            self.events[:0] = list(reversed(events))
        return {"Stacks": [dict(self.stack)]}

    def create_change_set(self, **params):
        self.calls.append(("create_change_set", params))
        if self.stack is None:
            self._make_stack("REVIEW_IN_PROGRESS", [])
        return {"Id": "arn:aws:cloudformation:ap-south-1:123456789012:changeSet/x/1", "StackId": self.stack["StackId"]}

    def describe_change_set(self, ChangeSetName, NextToken=None):
        self.calls.append(("describe_change_set", {"ChangeSetName": ChangeSetName, "NextToken": NextToken}))
        self.change_set_polls += 1
        if self.change_set_polls == 1:
            return {"Status": "CREATE_IN_PROGRESS", "Changes": []}
        if self.change_set != "changes":
            return {"Status": "FAILED", "StatusReason": self.change_set, "Changes": []}
        if NextToken is None:
            return {"Status": "CREATE_COMPLETE", "Changes": CHANGES[:1], "NextToken": "page-2"}
        return {"Status": "CREATE_COMPLETE", "Changes": CHANGES[1:]}

    def delete_change_set(self, ChangeSetName):
        self.calls.append(("delete_change_set", {"ChangeSetName": ChangeSetName}))

    def execute_change_set(self, ChangeSetName):
        self.calls.append(("execute_change_set", {"ChangeSetName": ChangeSetName}))
        self.pending = list(self.script)

    def describe_stack_events(self, StackName, NextToken=None):
        self.calls.append(("describe_stack_events", {"StackName": StackName}))
        return {"StackEvents": list(self.events)}

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def created(self) -> dict:
        [params] = [params for name, params in self.calls if name == "create_change_set"]
        return params


def succeeding(kind: str = "UPDATE") -> list:
    return [
        (f"{kind}_IN_PROGRESS", [event("sampark", f"{kind}_IN_PROGRESS", resource_type="AWS::CloudFormation::Stack")]),
        (f"{kind}_IN_PROGRESS", [event("APIHandler", f"{kind}_COMPLETE")]),
        (f"{kind}_COMPLETE", [event("sampark", f"{kind}_COMPLETE", resource_type="AWS::CloudFormation::Stack")]),
    ]


class FakeSession:
    """boto3.Session's client(): moto's S3 and STS (one client each, so that tests can hook them), a fake CFN."""

    def __init__(self, cloudformation: FakeCloudFormation, region_name: str = "ap-south-1"):
        self.region_name = region_name
        self.clients: dict[str, Any] = {"cloudformation": cloudformation}

    def client(self, name: str, region_name: str | None = None):
        if name not in self.clients:
            self.clients[name] = boto3.client(name, region_name=region_name or self.region_name)
        return self.clients[name]


class Terminal(io.StringIO):
    """A stdin that is a terminal, holding the operator's answer."""

    def isatty(self) -> bool:
        return True


TEMPLATE_PARAMETERS = {"LogRetentionDays": {"Type": "Number", "Default": 365}}


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """tools.package.build replaced by a small sam.json (3 functions, an API, a table) and zip; the stages built."""
    stages: list[str] = []

    def fake_build(outdir: Path, stage: str = package.STAGE) -> tuple[Path, Path]:
        stages.append(stage)
        outdir.mkdir(parents=True, exist_ok=True)
        function = {"Runtime": "python3.11", "Handler": "app.app", "CodeUri": package.CODE_URI}
        resources: dict[str, Any] = {
            name: {"Type": "AWS::Serverless::Function", "Properties": dict(function)} for name in FUNCTIONS
        }
        resources["RestAPI"] = {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "api"}}
        resources["TipsTable"] = {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "PAY_PER_REQUEST"}}
        template = {
            "Transform": "AWS::Serverless-2016-10-31",
            "Parameters": TEMPLATE_PARAMETERS,
            "Resources": resources,
        }
        sam, archive = outdir / "sam.json", outdir / "deployment.zip"
        sam.write_text(json.dumps(template))
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr(zipfile.ZipInfo("app.py", date_time=package.ZIP_EPOCH), "app = None\n")
        return sam, archive

    monkeypatch.setattr(package, "build", fake_build)
    monkeypatch.setattr(deploy, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(deploy, "POLL_SECONDS", 0)
    return stages


@pytest.fixture
def post_deploy_steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """tools.area_topics and tools.sms_settings replaced by recorders: (step, argv, region or session)."""
    steps: list[tuple] = []

    def topics(argv):
        steps.append(("area_topics", argv, os.environ.get("AWS_DEFAULT_REGION")))
        return 0

    def settings(argv, session=None):
        steps.append(("sms_settings", argv, session))
        return 0

    monkeypatch.setattr(area_topics, "main", topics)
    monkeypatch.setattr(sms_settings, "main", settings)
    return steps


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto, with the artifacts bucket's TLS-only statement evaluated as S3 would for our (HTTPS) requests.

    moto's bucket policies ignore Conditions (its put_bucket_policy says so), so the statement "deny when
    aws:SecureTransport is false" would deny every object request. boto3 talks HTTPS, so S3 would not apply it.
    """
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(bucket: Any, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(bucket.policy)
        kept = [statement for statement in document["Statement"] if statement.get("Condition") != TLS_ONLY]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(action, resource)

    monkeypatch.setattr(FakeBucket, "get_permission", get_permission)
    with mock_aws():
        yield


ARGS = ["--stage", "prod", "--stack-name", "sampark"]


def run(cloudformation: FakeCloudFormation, *extra: str, stdin=None, region: str = "ap-south-1") -> tuple[int, Any]:
    session = FakeSession(cloudformation, region)
    status = deploy.main([*ARGS, *extra], session=session, stdin=stdin)
    return status, session


def uploads(session: FakeSession) -> list[str]:
    """Every object upload the S3 client makes from now on (single PUT or multipart)."""
    keys: list[str] = []
    s3 = session.client("s3")
    for operation in ("PutObject", "CreateMultipartUpload"):
        s3.meta.events.register(f"before-call.s3.{operation}", lambda params, **_: keys.append(params["Key"]))
    return keys


# --- the artifacts bucket and the uploads (moto) ------------------------------------------------------------------


def test_the_artifacts_bucket_is_private_encrypted_versioned_tls_only_and_expires_old_versions(
    moto, builds, post_deploy_steps
):
    cloudformation = FakeCloudFormation(script=succeeding("CREATE"))
    status, session = run(cloudformation, "--yes")
    assert status == 0

    s3 = session.client("s3")
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == "ap-south-1"
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    [ownership] = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert ownership == {"ObjectOwnership": "BucketOwnerEnforced"}
    [statement] = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert set(statement["Resource"]) == {f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"}
    assert statement["Condition"] == TLS_ONLY
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert lifecycle["Status"] == "Enabled"
    assert lifecycle["NoncurrentVersionExpiration"] == {"NoncurrentDays": deploy.NONCURRENT_DAYS}


def test_every_function_runs_the_uploaded_zip_and_the_template_goes_by_url(moto, builds, post_deploy_steps, tmp_path):
    cloudformation = FakeCloudFormation(script=succeeding("CREATE"))
    status, session = run(cloudformation, "--yes")
    assert status == 0
    assert builds == ["prod"]

    s3 = session.client("s3")
    url = cloudformation.created()["TemplateURL"]
    prefix = f"https://{BUCKET}.s3.ap-south-1.amazonaws.com/"
    assert url.startswith(prefix)
    template = json.loads(s3.get_object(Bucket=BUCKET, Key=url.removeprefix(prefix))["Body"].read())
    zip_bytes = (tmp_path / "build" / "prod" / "deployment.zip").read_bytes()
    code = {"Bucket": BUCKET, "Key": f"packages/{hashlib.sha256(zip_bytes).hexdigest()}.zip"}
    for name in FUNCTIONS:
        assert template["Resources"][name]["Properties"]["CodeUri"] == code
    assert s3.get_object(**code)["Body"].read() == zip_bytes
    assert template["Resources"]["RestAPI"] == {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "api"}}
    assert "TemplateBody" not in cloudformation.created()


def test_a_second_run_sends_nothing_again_and_finds_no_changes(moto, builds, post_deploy_steps, capsys):
    first = FakeCloudFormation(script=succeeding("CREATE"))
    status, session = run(first, "--yes")
    assert status == 0
    sent = uploads(session)
    creates: list[str] = []
    session.client("s3").meta.events.register("before-call.s3.CreateBucket", lambda **_: creates.append("bucket"))

    second = FakeCloudFormation("CREATE_COMPLETE", change_set=NO_CHANGES)
    session.clients["cloudformation"] = second
    capsys.readouterr()
    assert deploy.main([*ARGS, "--yes"], session=session) == 0

    assert sent == []  # the zip and the template are where their content hashes say
    assert creates == []
    assert second.created()["TemplateURL"] == first.created()["TemplateURL"]
    assert second.created()["ChangeSetType"] == "UPDATE"
    assert "execute_change_set" not in second.operations()
    assert "delete_change_set" in second.operations()  # no empty change set left behind
    out = capsys.readouterr().out
    assert "already there, not sent again" in out
    assert "No changes: the stack sampark is already up to date." in out
    assert [step for step, *_ in post_deploy_steps] == ["area_topics", "area_topics"]  # ran after "no changes" too


def test_an_explicit_other_region_is_used_with_a_warning(moto, builds, post_deploy_steps, capsys):
    cloudformation = FakeCloudFormation(script=succeeding("CREATE"))
    status, session = run(cloudformation, "--yes", "--region", "eu-west-1", region="eu-west-1")
    assert status == 0
    assert "WARNING: deploying to eu-west-1, not ap-south-1" in capsys.readouterr().err
    bucket = f"sampark-artifacts-{ACCOUNT}-eu-west-1"
    assert session.client("s3").get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"
    assert cloudformation.created()["TemplateURL"].startswith(f"https://{bucket}.s3.eu-west-1.amazonaws.com/")
    assert post_deploy_steps[0][2] == "eu-west-1"  # area_topics makes its own session: the region reaches it


# --- the change set (fake CloudFormation) ------------------------------------------------------------------------


def test_a_new_stack_gets_a_create_change_set_with_the_capabilities_and_defaults(moto, builds, post_deploy_steps):
    cloudformation = FakeCloudFormation(script=succeeding("CREATE"))
    status, _ = run(cloudformation, "--yes")
    assert status == 0
    created = cloudformation.created()
    assert created["StackName"] == "sampark"
    assert created["ChangeSetType"] == "CREATE"
    assert created["Capabilities"] == ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
    assert created["Parameters"] == []  # LogRetentionDays: the template's default


def test_an_existing_stack_gets_an_update_keeping_its_previous_parameter_values(moto, builds, post_deploy_steps):
    previous = [{"ParameterKey": "LogRetentionDays", "ParameterValue": "400"}]
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=succeeding(), parameters=previous)
    status, _ = run(cloudformation, "--yes")
    assert status == 0
    assert cloudformation.created()["ChangeSetType"] == "UPDATE"
    assert cloudformation.created()["Parameters"] == [{"ParameterKey": "LogRetentionDays", "UsePreviousValue": True}]


def test_a_given_parameter_is_passed(moto, builds, post_deploy_steps):
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=succeeding())
    status, _ = run(cloudformation, "--yes", "--parameter", "LogRetentionDays=90")
    assert status == 0
    assert cloudformation.created()["Parameters"] == [{"ParameterKey": "LogRetentionDays", "ParameterValue": "90"}]


def test_parameters_the_template_lacks_or_needs_are_refused_before_any_change_set():
    declared = {"AlertEmail": {"Type": "String"}, "Days": {"Type": "Number", "Default": 1}}
    with pytest.raises(deploy.DeployError, match="no parameter Typo"):
        deploy.change_set_parameters({"Parameters": declared}, {"Typo": "1"}, None, "CREATE")
    with pytest.raises(deploy.DeployError, match="AlertEmail"):
        deploy.change_set_parameters({"Parameters": declared}, {}, None, "CREATE")
    # a parameter new to the stack cannot use a previous value: its default applies
    stack = {"Parameters": [{"ParameterKey": "AlertEmail", "ParameterValue": "a@example.org"}]}
    assert deploy.change_set_parameters({"Parameters": declared}, {}, stack, "UPDATE") == [
        {"ParameterKey": "AlertEmail", "UsePreviousValue": True}
    ]


def test_the_changes_are_summarised_then_confirmed_then_followed(moto, builds, post_deploy_steps, capsys):
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=succeeding())
    status, _ = run(cloudformation, stdin=Terminal("y\n"))
    assert status == 0
    out = capsys.readouterr().out
    summary = out[out.index("3 changes") : out.index("Execute these changes")]
    assert "   Add     TipsTable " in summary  # both pages of the change set
    assert "   Modify  APIHandler " in summary and "replacement: False" in summary
    assert " ! Modify  MediaBucket " in summary and "replacement: True" in summary
    progress = out[out.index("executing") : out.index("The stack sampark is UPDATE_COMPLETE.")].splitlines()[1:]
    assert len(progress) == 3  # this run's events only, oldest first
    assert "UPDATE_IN_PROGRESS" in progress[0] and "APIHandler" in progress[1] and "UPDATE_COMPLETE" in progress[2]
    operations = cloudformation.operations()
    assert operations.index("execute_change_set") > operations.index("create_change_set")


def test_refused_confirmation_executes_nothing(moto, builds, post_deploy_steps, capsys):
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=succeeding())
    status, _ = run(cloudformation, stdin=Terminal("n\n"))
    assert status == 1
    assert "execute_change_set" not in cloudformation.operations()
    assert "delete_change_set" in cloudformation.operations()
    assert post_deploy_steps == []
    assert "Nothing executed" in capsys.readouterr().out


def test_without_a_terminal_it_needs_yes_and_does_nothing(moto, builds, post_deploy_steps, capsys):
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE")
    with pytest.raises(SystemExit) as exit_:
        run(cloudformation, stdin=io.StringIO(""))
    assert exit_.value.code == 2
    assert "add --yes" in capsys.readouterr().err
    assert builds == [] and cloudformation.calls == []


def test_a_failed_deploy_prints_the_reasons_and_exits_non_zero(moto, builds, post_deploy_steps, capsys):
    reason = "Resource handler returned message: User is not authorized to perform: dynamodb:UpdateTable"
    script = [
        ("UPDATE_IN_PROGRESS", [event("TipsTable", "UPDATE_FAILED", reason, "AWS::DynamoDB::Table")]),
        ("UPDATE_ROLLBACK_IN_PROGRESS", [event("APIHandler", "UPDATE_FAILED", "Resource update cancelled")]),
        ("UPDATE_ROLLBACK_COMPLETE", [event("sampark", "UPDATE_ROLLBACK_COMPLETE")]),
    ]
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=script)
    status, _ = run(cloudformation, "--yes")
    assert status == 1
    err = capsys.readouterr().err
    assert "Deploy failed: the stack sampark is UPDATE_ROLLBACK_COMPLETE" in err
    assert f"TipsTable (AWS::DynamoDB::Table): {reason}" in err
    assert "APIHandler (AWS::Lambda::Function): Resource update cancelled" in err
    assert "previous version has been restored" in err
    assert post_deploy_steps == []


def test_a_failed_first_deploy_says_to_delete_the_stack_before_the_next_try(moto, builds, post_deploy_steps, capsys):
    reason = "sampark-media-123456789012 already exists"
    script = [
        ("CREATE_IN_PROGRESS", [event("MediaBucket", "CREATE_FAILED", reason, "AWS::S3::Bucket")]),
        ("ROLLBACK_COMPLETE", [event("sampark", "ROLLBACK_COMPLETE", resource_type="AWS::CloudFormation::Stack")]),
    ]
    status, _ = run(FakeCloudFormation(script=script), "--yes")
    assert status == 1
    err = capsys.readouterr().err
    assert f"MediaBucket (AWS::S3::Bucket): {reason}" in err
    assert "Before the next try: its first deploy failed and was rolled back: delete the stack" in err
    assert post_deploy_steps == []


def test_a_change_set_cloudformation_refuses_is_reported_and_nothing_executed(moto, builds, post_deploy_steps, capsys):
    reason = "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document."
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", change_set=reason)
    status, _ = run(cloudformation, "--yes")
    assert status == 1
    assert reason in capsys.readouterr().err
    assert "execute_change_set" not in cloudformation.operations()
    assert post_deploy_steps == []


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "UPDATE_IN_PROGRESS"])
def test_a_stack_that_cannot_take_a_change_set_is_explained(moto, builds, post_deploy_steps, capsys, status):
    cloudformation = FakeCloudFormation(status)
    assert run(cloudformation, "--yes")[0] == 1
    assert f"the stack sampark is {status}" in capsys.readouterr().err
    assert "create_change_set" not in cloudformation.operations()
    assert builds == []  # found out before the build


def test_a_stack_left_in_review_is_created_again():
    assert deploy.change_set_type({"StackName": "sampark", "StackStatus": "REVIEW_IN_PROGRESS"}) == "CREATE"
    assert deploy.change_set_type({"StackName": "sampark", "StackStatus": "UPDATE_ROLLBACK_COMPLETE"}) == "UPDATE"


# --- after the deploy ----------------------------------------------------------------------------------------------


def test_after_the_deploy_the_topics_then_the_sms_settings_then_the_outputs(moto, builds, post_deploy_steps, capsys):
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=succeeding())
    status, session = run(cloudformation, "--yes", "--spend-limit", "150", "--sender-id", "DHNPOL")
    assert status == 0
    assert post_deploy_steps == [
        ("area_topics", ["--stack-name", "sampark"], "ap-south-1"),
        ("sms_settings", ["--stack-name", "sampark", "--spend-limit", "150", "--sender-id", "DHNPOL"], session),
    ]
    out = capsys.readouterr().out
    assert out.index("after the deploy") < out.index("WebhookBaseUrl") < out.index("Next steps")
    assert "https://abc123.execute-api.ap-south-1.amazonaws.com/api/webhooks/whatsapp" in out
    assert '"Deploy guide"' in out


def test_the_real_steps_make_the_topics_and_apply_the_sms_settings_in_the_stacks_region(
    moto, builds, monkeypatch, capsys
):
    from shared import areas

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")  # the shell's; the stack's region must win, then be put back
    for name in ("NEW_TIP_TOPIC_PREFIX", "ALERT_TOPIC_PREFIX", "REPLY_KEY_ID"):  # tools.area_topics sets them
        monkeypatch.delenv(name, raising=False)  # restored after the test
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=succeeding())
    status, session = run(
        cloudformation, "--yes", "--region", "ap-south-1", "--spend-limit", "150", "--sender-id", "DHNPOL"
    )
    assert status == 0

    pages = boto3.client("sns", region_name="ap-south-1").get_paginator("list_topics").paginate()
    topics = [topic["TopicArn"] for page in pages for topic in page["Topics"]]
    assert len([arn for arn in topics if ":sampark-new-tips-" in arn]) == len(areas.all_areas()) + 1
    assert f"arn:aws:sns:ap-south-1:{ACCOUNT}:sampark-new-tips-jharia" in topics
    attributes = session.client("sns").get_sms_attributes()["attributes"]
    assert attributes["DeliveryStatusIAMRole"] == OUTPUTS[2]["OutputValue"]
    assert attributes["MonthlySpendLimit"] == "150"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-west-2"
    assert "arn:aws:sns" not in capsys.readouterr().out.split("==> 4/4")[1].split("outputs:")[0]  # no ARN list


def test_without_spend_limit_and_sender_id_it_says_what_to_run_later(moto, builds, post_deploy_steps, capsys):
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=succeeding())
    assert run(cloudformation, "--yes")[0] == 0
    assert [step for step, *_ in post_deploy_steps] == ["area_topics"]
    assert "make sms-settings STACK=sampark SPEND_LIMIT=<USD a month> SENDER_ID=<DLT header>" in capsys.readouterr().out


def test_spend_limit_and_sender_id_go_together():
    with pytest.raises(SystemExit):
        deploy.parse_arguments([*ARGS, "--yes", "--spend-limit", "150"], io.StringIO())


# --- region and stage ----------------------------------------------------------------------------------------


def test_a_configured_region_other_than_mumbai_is_refused_before_anything_is_built(builds, capsys):
    cloudformation = FakeCloudFormation()
    status, _ = run(cloudformation, "--yes", region="us-east-1")
    assert status == 1
    assert "your AWS configuration's region is us-east-1" in capsys.readouterr().err
    assert builds == [] and cloudformation.calls == []


def test_the_region_is_mumbai_unless_named():
    assert deploy.choose_region(None, None) == "ap-south-1"
    assert deploy.choose_region(None, "ap-south-1") == "ap-south-1"
    assert deploy.choose_region("ap-south-1", "us-east-1") == "ap-south-1"


def test_the_prod_stage_is_deployable_and_sets_no_environment_variables():
    config = json.loads(deploy.CHALICE_CONFIG.read_text())
    assert config["stages"]["prod"] == {"api_gateway_stage": "api"}
    deploy.check_stage(config, "prod")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"stages": {"local": {}}}, "not a deployable stage"),
        ({"stages": {"prod": {"environment_variables": {"TIPS_TABLE_NAME": "x"}}}}, "stage prod"),
        ({"environment_variables": {"X": "1"}, "stages": {"prod": {}}}, "the top level"),
        ({"lambda_functions": {"f": {"environment_variables": {"X": "1"}}}, "stages": {"prod": {}}}, "function f"),
    ],
)
def test_a_stage_that_is_local_or_sets_environment_variables_is_refused(config, message):
    stage = "local" if "local" in config["stages"] else "prod"
    with pytest.raises(deploy.DeployError, match=message):
        deploy.check_stage(config, stage)


def test_the_package_is_built_for_the_given_stage(monkeypatch, tmp_path):
    commands: list[list[str]] = []
    monkeypatch.setattr(package.subprocess, "run", lambda command, **_: commands.append(command))
    package._run_chalice_package(tmp_path, "prod")
    [command] = commands
    assert command[command.index("--stage") + 1] == "prod"
    package._run_chalice_package(tmp_path, package.STAGE)
    assert commands[1][commands[1].index("--stage") + 1] == "dev"


class _Lambda:
    def __init__(self, unreserved: int) -> None:
        self.unreserved, self.calls = unreserved, 0

    def get_account_settings(self) -> dict[str, Any]:
        self.calls += 1
        return {"AccountLimit": {"UnreservedConcurrentExecutions": self.unreserved}}


API_TEMPLATE = {"Parameters": {"ApiReservedConcurrency": {"Type": "Number", "Default": 50}}}


@pytest.mark.parametrize(
    ("unreserved", "given", "kind", "expected"),
    [
        pytest.param(10, {}, "CREATE", {"ApiReservedConcurrency": "0"}, id="new-account-limit-10"),
        pytest.param(149, {}, "CREATE", {"ApiReservedConcurrency": "0"}, id="one-short-of-100-left"),
        pytest.param(150, {}, "CREATE", {}, id="exactly-100-left"),
        pytest.param(1000, {}, "CREATE", {}, id="raised-quota"),
        pytest.param(10, {"ApiReservedConcurrency": "5"}, "CREATE", {"ApiReservedConcurrency": "5"}, id="explicit"),
        pytest.param(10, {}, "UPDATE", {}, id="update-keeps-its-value"),
    ],
)
def test_a_first_deploy_reserves_api_concurrency_only_where_the_account_can_spare_it(
    unreserved, given, kind, expected, capsys
) -> None:
    lambda_client = _Lambda(unreserved)
    assert deploy.fit_api_concurrency(lambda_client, API_TEMPLATE, dict(given), kind) == expected
    if expected.get("ApiReservedConcurrency") == "0" and not given:
        assert "Service Quotas" in capsys.readouterr().err + capsys.readouterr().out
    if given or kind == "UPDATE":
        assert lambda_client.calls == 0


def test_a_new_stack_is_created_unprotected_then_protected_by_a_second_update(
    moto, builds, post_deploy_steps, monkeypatch
):
    # Protected tables and user pools cannot be deleted: a failed first create would end ROLLBACK_FAILED.
    protection = {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"]}
    monkeypatch.setitem(TEMPLATE_PARAMETERS, "DataDeletionProtection", protection)
    cloudformation = FakeCloudFormation(script=succeeding("CREATE"))
    status, _ = run(cloudformation, "--yes")
    assert status == 0

    first, second = [params for name, params in cloudformation.calls if name == "create_change_set"]
    assert first["ChangeSetType"] == "CREATE"
    assert {"ParameterKey": "DataDeletionProtection", "ParameterValue": "false"} in first["Parameters"]
    assert second["ChangeSetType"] == "UPDATE"
    assert {"ParameterKey": "DataDeletionProtection", "ParameterValue": "true"} in second["Parameters"]
    assert cloudformation.operations().count("execute_change_set") == 2
    assert [step for step, *_ in post_deploy_steps] == ["area_topics"]  # once, after both


def test_an_update_keeps_the_stacks_protection(moto, builds, post_deploy_steps, monkeypatch):
    protection = {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"]}
    monkeypatch.setitem(TEMPLATE_PARAMETERS, "DataDeletionProtection", protection)
    previous = [{"ParameterKey": "DataDeletionProtection", "ParameterValue": "true"}]
    cloudformation = FakeCloudFormation("UPDATE_COMPLETE", script=succeeding(), parameters=previous)
    status, _ = run(cloudformation, "--yes")
    assert status == 0
    assert {"ParameterKey": "DataDeletionProtection", "UsePreviousValue": True} in cloudformation.created()[
        "Parameters"
    ]
