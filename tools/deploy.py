"""Deploy Sampark to an AWS account with nothing but this venv (boto3): `make deploy STAGE=prod STACK=sampark`.

    python -m tools.deploy --stage prod --stack-name sampark [--region ap-south-1] [--spend-limit USD]
        [--sender-id HEADER] [--parameter Key=Value ...] [--yes]

1. Build the package of the chalice stage (tools.package: the SAM template and the zip with bytecode). A deployed
   stage must carry no environment variables in .chalice/config.json: they would override the template's Globals
   in every function (engineering notes §2, trap 1), so such a stage is refused.
2. Upload the zip and the template to the stack's artifacts bucket, `<stack>-artifacts-<account>-<region>`, made
   here if missing (every Block Public Access setting, bucket-owner-enforced, S3-managed encryption, versioning, a
   policy denying requests without TLS, old versions expired after NONCURRENT_DAYS). Keys are content hashes: an
   unchanged zip is not sent again, and CloudFormation then sees no code change. Every AWS::Serverless::Function's
   CodeUri points at the zip; the template goes by TemplateURL (ours is over the 51,200 bytes of TemplateBody).
3. A CloudFormation change set (CREATE for a new stack, else UPDATE; the SAM transform runs in CloudFormation),
   summarised, confirmed (unless --yes), executed, and followed event by event. A failure prints the failed
   resources' reasons and exits 1; CloudFormation has rolled the stack back by then.
4. After the deploy (or when there was nothing to change): the police areas' topics (tools.area_topics), the
   account's SMS settings (tools.sms_settings, when --spend-limit and --sender-id are given), the stack's outputs and
   what is left to do by hand (README, "Deploy guide").

Region: Sampark deploys to ap-south-1 (Mumbai). The SMS side (DLT-registered sender id and templates, the two-way
number for inbound SMS, the spend limit) is set up for India in one region, and the tips are kept in India. So a
region other than ap-south-1 is used only when named with --region (with a warning); a different region that merely
comes from the shell or the AWS profile (AWS_DEFAULT_REGION, ~/.aws/config) is refused rather than deployed to
by accident.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from tools import area_topics, package, sms_settings

MUMBAI = "ap-south-1"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
TEMPLATE_BODY_LIMIT = 51_200  # bytes; larger templates must be given by TemplateURL (from S3)
NONCURRENT_DAYS = 30  # an overwritten or deleted artifact is kept this long, then expired
POLL_SECONDS = 5.0
NO_CHANGES = ("The submitted information didn't contain changes", "No updates are to be performed")
SUCCEEDED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
# A stack in one of these cannot take a change set; what to do instead.
BLOCKED = {
    "ROLLBACK_COMPLETE": "its first deploy failed and was rolled back: delete the stack (CloudFormation console, "
    "Stacks, select it, Delete), then run make deploy again",
    "ROLLBACK_FAILED": "its first deploy failed and the rollback too: delete the stack in the CloudFormation "
    "console, then run make deploy again",
    "DELETE_FAILED": "deleting it failed: finish the deletion in the CloudFormation console first",
    "UPDATE_ROLLBACK_FAILED": "an update's rollback failed: in the CloudFormation console choose Stack actions, "
    "Continue update rollback, then run make deploy again",
}
# Lower case: the stack name begins every bucket name, and S3 refuses capitals; 29 characters leave room for
# "-artifacts-<account>-<region>" within S3's 63.
STACK_NAME = re.compile(r"[a-z][a-z0-9-]{0,28}")
CHALICE_CONFIG = package.ROOT / ".chalice" / "config.json"
BUILD_DIR = package.ROOT / "build"  # a stage builds into build/<stage>/: sam.json, deployment.zip, packaged.json
LOCAL_STAGES = {"local"}  # for chalice local only: its settings are not meant for AWS


class DeployError(Exception):
    """A reason to stop, told to the operator as it is (no traceback)."""


@dataclass
class Options:
    stage: str
    stack_name: str
    region: str | None  # as given with --region; None: the configured one, or ap-south-1
    spend_limit: int | None
    sender_id: str | None
    parameters: dict[str, str] = field(default_factory=dict)
    yes: bool = False


def say(*parts: object) -> None:
    print(*parts, flush=True)


def warn(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- arguments and region ------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None, stdin: TextIO) -> Options:
    parser = argparse.ArgumentParser(prog="make deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="prod", help="the chalice stage to build (default: prod)")
    parser.add_argument("--stack-name", default=os.environ.get("STACK", "sampark"))
    parser.add_argument("--region", help=f"the AWS region (default {MUMBAI}; another one only when named here)")
    parser.add_argument("--spend-limit", type=int, help="SMS spend limit, USD a month (with --sender-id)")
    parser.add_argument("--sender-id", help="the DLT-registered SMS header, e.g. DHNPOL (with --spend-limit)")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="a template parameter (repeatable)"
    )
    parser.add_argument("--yes", action="store_true", help="execute the change set without asking")
    arguments = parser.parse_args(argv)
    if not STACK_NAME.fullmatch(arguments.stack_name):
        parser.error(
            "--stack-name: lower-case letters, digits and hyphens, starting with a letter, at most 29 characters"
        )
    if (arguments.spend_limit is None) != (arguments.sender_id is None):
        parser.error("--spend-limit and --sender-id go together (or leave both out and run make sms-settings later)")
    if arguments.spend_limit is not None and arguments.spend_limit < 1:
        parser.error("--spend-limit must be at least 1 (USD)")
    parameters: dict[str, str] = {}
    for item in arguments.parameter:
        key, equals, value = item.partition("=")
        if not equals or not key:
            parser.error(f"--parameter {item!r}: expected KEY=VALUE")
        parameters[key] = value
    if not arguments.yes and not stdin.isatty():
        parser.error("the input is not a terminal, so nobody can confirm the changes: add --yes to deploy anyway")
    return Options(
        stage=arguments.stage,
        stack_name=arguments.stack_name,
        region=arguments.region,
        spend_limit=arguments.spend_limit,
        sender_id=arguments.sender_id,
        parameters=parameters,
        yes=arguments.yes,
    )


def choose_region(explicit: str | None, configured: str | None) -> str:
    """ap-south-1 unless another region is named with --region (then with a warning); see the module's doc."""
    if explicit:
        if explicit != MUMBAI:
            warn(
                f"WARNING: deploying to {explicit}, not {MUMBAI}. Sampark's SMS setup for India (DLT sender id and "
                f"templates, the two-way number, the spend limit) lives in {MUMBAI}, and tips should stay in India."
            )
        return explicit
    if configured and configured != MUMBAI:
        raise DeployError(
            f"your AWS configuration's region is {configured}, but Sampark deploys to {MUMBAI} (SMS to India is "
            f"sent from Mumbai). Run again with REGION={MUMBAI} (--region {MUMBAI}), or name {configured} with "
            "--region if you really mean it."
        )
    return MUMBAI


def check_stage(config: dict[str, Any], stage: str) -> None:
    """A deployable stage of .chalice/config.json, without environment variables (they would beat the Globals)."""
    stages = config.get("stages", {})
    deployable = sorted(set(stages) - LOCAL_STAGES)
    if stage not in deployable:
        raise DeployError(
            f"stage {stage!r} is not a deployable stage of .chalice/config.json ({', '.join(deployable)})"
        )
    settings = stages[stage]
    scopes = {"the top level": config, f"stage {stage}": settings}
    for scope in (config, settings):
        for name, function in scope.get("lambda_functions", {}).items():
            scopes[f"function {name}"] = function
    leaking = sorted(where for where, scope in scopes.items() if scope.get("environment_variables"))
    if leaking:
        raise DeployError(
            "environment_variables in .chalice/config.json (" + ", ".join(leaking) + ") would override the "
            "template's Globals in every function: move them to infra/resources.json (Globals) or the secret"
        )


# --- the artifacts bucket --------------------------------------------------------------------------------------


def artifacts_bucket_name(stack_name: str, account: str, region: str) -> str:
    name = f"{stack_name.lower()}-artifacts-{account}-{region}"
    if len(name) > 63:
        raise DeployError(f"the artifacts bucket name {name} is over S3's 63 characters: use a shorter stack name")
    return name


def deny_insecure_transport(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def ensure_artifacts_bucket(s3: Any, bucket: str, account: str, region: str) -> bool:
    """Create the bucket if missing, then (re)apply its settings; whether it was created."""
    created = False
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("403", "AccessDenied", "Forbidden"):
            raise DeployError(
                f"the bucket {bucket} exists but is not this account's (or you may not read it)"
            ) from error
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            s3.create_bucket(Bucket=bucket, **where)
            created = True
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        except s3.exceptions.BucketAlreadyExists as taken:
            raise DeployError(f"the bucket name {bucket} is taken by another account") from taken
    owner = {"Bucket": bucket, "ExpectedBucketOwner": account}
    s3.put_public_access_block(
        **owner,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_ownership_controls(**owner, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_encryption(
        **owner,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_versioning(**owner, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        **owner,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-old-versions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                }
            ]
        },
    )
    s3.put_bucket_policy(**owner, Policy=json.dumps(deny_insecure_transport(bucket)))
    return created


def content_key(prefix: str, path: Path, suffix: str) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"{prefix}/{digest.hexdigest()}{suffix}"


def upload_once(s3: Any, bucket: str, key: str, path: Path, account: str) -> bool:
    """Upload unless the key is there already (keys are content hashes); whether it was uploaded."""
    try:
        s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=account)
        return False
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.upload_file(str(path), bucket, key, ExtraArgs={"ExpectedBucketOwner": account})
    return True


def point_functions_at(template: dict[str, Any], bucket: str, key: str) -> int:
    """Every AWS::Serverless::Function's CodeUri -> {Bucket, Key}; how many there are."""
    functions = package.functions_of(template)
    if not functions:
        raise DeployError("the built template has no AWS::Serverless::Function")
    for resource in functions.values():
        resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
    return len(functions)


def template_url(bucket: str, region: str, key: str) -> str:
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


# --- CloudFormation ------------------------------------------------------------------------------------------


def describe_stack(cloudformation: Any, stack_name: str) -> dict[str, Any] | None:
    try:
        [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationError" and "does not exist" in str(error):
            return None
        raise
    return stack


def change_set_type(stack: dict[str, Any] | None) -> str:
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":  # REVIEW: a create never executed
        return "CREATE"
    status = stack["StackStatus"]
    if status in BLOCKED:
        raise DeployError(f"the stack {stack['StackName']} is {status}: {BLOCKED[status]}")
    if status.endswith("_IN_PROGRESS"):
        raise DeployError(f"the stack {stack['StackName']} is {status}: wait until it is done, then try again")
    return "UPDATE"


def change_set_parameters(
    template: dict[str, Any], given: dict[str, str], stack: dict[str, Any] | None, kind: str
) -> list[dict[str, Any]]:
    """The given values; on an update, the previous value of any other parameter the stack has; else the default."""
    declared = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise DeployError(f"the template has no parameter {', '.join(unknown)} (it has: {', '.join(declared) or '-'})")
    previous = {p["ParameterKey"] for p in (stack or {}).get("Parameters", [])} if kind == "UPDATE" else set()
    parameters: list[dict[str, Any]] = []
    missing = []
    for key, spec in declared.items():
        if key in given:
            parameters.append({"ParameterKey": key, "ParameterValue": given[key]})
        elif key in previous:
            parameters.append({"ParameterKey": key, "UsePreviousValue": True})
        elif "Default" not in spec:
            missing.append(key)
    if missing:
        raise DeployError(f"give a value for {', '.join(missing)}: --parameter KEY=VALUE (make: PARAMETERS=...)")
    return parameters


def wait_for_change_set(cloudformation: Any, change_set_id: str, sleep: Callable[[float], None]) -> dict[str, Any]:
    while True:
        change_set = cloudformation.describe_change_set(ChangeSetName=change_set_id)
        if change_set["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return change_set
        sleep(POLL_SECONDS)


def all_changes(cloudformation: Any, change_set_id: str) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    page = cloudformation.describe_change_set(ChangeSetName=change_set_id)
    changes.extend(page.get("Changes", []))
    while page.get("NextToken"):
        page = cloudformation.describe_change_set(ChangeSetName=change_set_id, NextToken=page["NextToken"])
        changes.extend(page.get("Changes", []))
    return changes


def change_lines(changes: list[dict[str, Any]]) -> list[str]:
    """One line a resource: action, logical id, type, replacement ("!" where something is deleted or replaced)."""
    rows = []
    for change in changes:
        resource = change.get("ResourceChange", {})
        action = resource.get("Action", "?")
        replacement = resource.get("Replacement", "") if action == "Modify" else ""
        risky = action == "Remove" or replacement in ("True", "Conditional")
        rows.append(
            (
                "!" if risky else " ",
                action,
                resource.get("LogicalResourceId", "?"),
                resource.get("ResourceType", "?"),
                f"replacement: {replacement}" if replacement else "",
            )
        )
    if not rows:
        return []
    id_width = max(len(row[2]) for row in rows)
    type_width = max(len(row[3]) for row in rows)
    return [
        f" {mark} {action:<7} {logical:<{id_width}}  {kind:<{type_width}}  {replacement}".rstrip()
        for mark, action, logical, kind, replacement in rows
    ]


def new_events(cloudformation: Any, stack_id: str, seen: set[str]) -> list[dict[str, Any]]:
    """The stack's events not seen yet, oldest first (the API lists newest first)."""
    fresh: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StackName": stack_id}
    while True:
        page = cloudformation.describe_stack_events(**kwargs)
        for event in page["StackEvents"]:
            if event["EventId"] in seen:
                break
            fresh.append(event)
        else:
            if page.get("NextToken"):
                kwargs["NextToken"] = page["NextToken"]
                continue
        break
    seen.update(event["EventId"] for event in fresh)
    return list(reversed(fresh))


def event_line(event: dict[str, Any]) -> str:
    when = event["Timestamp"]
    clock = when.astimezone().strftime("%H:%M:%S") if isinstance(when, datetime) else str(when)  # local time
    line = f"  {clock}  {event['ResourceStatus']:<36} {event['LogicalResourceId']}  ({event.get('ResourceType', '')})"
    reason = event.get("ResourceStatusReason")
    if reason and event["ResourceStatus"].endswith("_FAILED"):
        line += f": {reason}"
    return line


def follow_stack(
    cloudformation: Any, stack_id: str, seen: set[str], sleep: Callable[[float], None]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Print the stack's events until it is in a final state; the stack and the events of this run."""
    events: list[dict[str, Any]] = []
    while True:
        [stack] = cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
        for event in new_events(cloudformation, stack_id, seen):  # read after the status: the final events too
            say(event_line(event))
            events.append(event)
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack, events
        sleep(POLL_SECONDS)


def failure_reasons(stack: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    reasons = [
        f"{event['LogicalResourceId']} ({event.get('ResourceType', '')}): {event['ResourceStatusReason']}"
        for event in events
        if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason")
    ]
    if stack.get("StackStatusReason"):
        reasons.append(f"{stack['StackName']}: {stack['StackStatusReason']}")
    return reasons


# --- the whole deploy --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def default_region(region: str) -> Iterator[None]:
    """tools.area_topics makes its own boto3 session: give it the stack's region, then put the shell's back."""
    before = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = before


def post_deploy(options: Options, region: str, session: Any) -> None:
    say("\n==> 4/4 after the deploy")
    say("Police area topics (tools.area_topics):")
    with default_region(region), contextlib.redirect_stdout(io.StringIO()):  # its stdout: every topic ARN
        status = area_topics.main(["--stack-name", options.stack_name])
    if status != 0:
        raise DeployError(f"creating the area topics failed: run make area-topics STACK={options.stack_name}")
    if options.spend_limit is not None and options.sender_id is not None:
        say("SMS settings (tools.sms_settings):")
        arguments = ["--stack-name", options.stack_name, "--spend-limit", str(options.spend_limit)]
        if sms_settings.main([*arguments, "--sender-id", options.sender_id], session=session) != 0:
            raise DeployError(f"the SMS settings failed: run make sms-settings STACK={options.stack_name} ...")
    else:
        say(
            "SMS settings not applied (no SPEND_LIMIT and SENDER_ID). Once the DLT sender id is registered, run:\n"
            f"  make sms-settings STACK={options.stack_name} SPEND_LIMIT=<USD a month> SENDER_ID=<DLT header>"
        )


def print_outputs_and_next_steps(stack: dict[str, Any], options: Options, region: str) -> None:
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    say(f"\nStack {stack['StackName']} ({region}) outputs:")
    width = max((len(key) for key in outputs), default=0)
    for key in sorted(outputs):
        say(f"  {key:<{width}}  {outputs[key]}")
    webhooks = outputs.get("WebhookBaseUrl", "<WebhookBaseUrl>")
    secret = outputs.get("PlatformSecretsArn", "<PlatformSecretsArn>")
    say(
        '\nNext steps (README.md, "Deploy guide"):\n'
        "  1. Put the platform credentials into the stack's secret (Secrets Manager console, the secret below,\n"
        "     Retrieve secret value, Edit). SENDER_PEPPER is generated for you: never change it.\n"
        f"       {secret}\n"
        "  2. Register the webhooks, with META_VERIFY_TOKEN for Meta's:\n"
        f"       WhatsApp (Meta App Dashboard)   {webhooks}whatsapp\n"
        f"       Messenger (Meta App Dashboard)  {webhooks}messenger\n"
        f"       X (Account Activity API)        {webhooks}x\n"
        "  3. Create the officers in the user pool, add them to their role and area:<id> groups; officers\n"
        f"     subscribe their email addresses to the {options.stack_name}-new-tips-<area id> topics."
    )
    if options.spend_limit is None:
        say(f"  4. make sms-settings STACK={options.stack_name} SPEND_LIMIT=<USD a month> SENDER_ID=<DLT header>")


# Lambda refuses a reservation that leaves fewer than 100 executions unreserved in the account.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
MINIMUM_UNRESERVED = 100
API_CONCURRENCY = "ApiReservedConcurrency"


def fit_api_concurrency(
    lambda_client: Any, template: dict[str, Any], given: dict[str, str], kind: str
) -> dict[str, str]:
    """On a first deploy without an explicit ApiReservedConcurrency, 0 (no reservation) when the account cannot
    spare the default, so that a new account (limit 10) deploys; the given parameters, possibly with that one."""
    declared = (template.get("Parameters") or {}).get(API_CONCURRENCY)
    if kind != "CREATE" or declared is None or API_CONCURRENCY in given:
        return given
    wanted = int(declared["Default"])
    unreserved = lambda_client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    if unreserved - wanted >= MINIMUM_UNRESERVED:
        return given
    warn(
        f"this account has {unreserved} unreserved Lambda executions: the API gets no reserved concurrency "
        f"({API_CONCURRENCY}=0) for now; ask Service Quotas for more (1,000 is usual), then deploy again with "
        f'PARAMETERS="{API_CONCURRENCY}={wanted}"'
    )
    return {**given, API_CONCURRENCY: "0"}


DATA_PROTECTION = "DataDeletionProtection"


def unprotected_on_create(template: dict[str, Any], given: dict[str, str], kind: str) -> dict[str, str]:
    """A stack is created with its tables' and user pool's deletion protection off: if the first create fails,
    CloudFormation can then roll back (protected resources cannot be deleted, which would leave ROLLBACK_FAILED and
    names the retry cannot reuse). deploy() turns it on right after a successful create."""
    if kind != "CREATE" or DATA_PROTECTION not in (template.get("Parameters") or {}) or DATA_PROTECTION in given:
        return given
    return {**given, DATA_PROTECTION: "false"}


def deploy(
    options: Options,
    session: Any,
    region: str,
    *,
    ask: Callable[[str], str],
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    check_stage(json.loads(CHALICE_CONFIG.read_text()), options.stage)
    build_dir = BUILD_DIR / options.stage
    s3 = session.client("s3", region_name=region)
    cloudformation = session.client("cloudformation", region_name=region)
    account = session.client("sts", region_name=region).get_caller_identity()["Account"]
    say(f"Deploying stage {options.stage} as stack {options.stack_name} to account {account}, region {region}")
    stack = describe_stack(cloudformation, options.stack_name)
    kind = change_set_type(stack)  # before the build: a stack that cannot take a change set stops us early

    say(f"\n==> 1/4 build (stage {options.stage})")
    sam, deployment = package.build(build_dir, stage=options.stage)

    say("\n==> 2/4 upload")
    bucket = artifacts_bucket_name(options.stack_name, account, region)
    created = ensure_artifacts_bucket(s3, bucket, account, region)
    say(f"artifacts bucket {bucket} ({'created' if created else 'exists'}; settings applied)")
    code_key = content_key("packages", deployment, ".zip")
    sent = upload_once(s3, bucket, code_key, deployment, account)
    say(f"{'uploaded' if sent else 'already there, not sent again:'} s3://{bucket}/{code_key}")
    template = json.loads(sam.read_text())
    count = point_functions_at(template, bucket, code_key)
    packaged = build_dir / "packaged.json"
    packaged.write_text(json.dumps(template, indent=1) + "\n")
    template_key = content_key("templates", packaged, ".json")
    upload_once(s3, bucket, template_key, packaged, account)
    # Always by TemplateURL: one path, and ours is well over the TemplateBody limit anyway.
    size = packaged.stat().st_size
    say(
        f"template s3://{bucket}/{template_key} ({count} functions, {size:,} bytes; TemplateBody stops at "
        f"{TEMPLATE_BODY_LIMIT:,})"
    )

    say("\n==> 3/4 CloudFormation")
    given = fit_api_concurrency(session.client("lambda", region_name=region), template, options.parameters, kind)
    given = unprotected_on_create(template, given, kind)
    parameters = change_set_parameters(template, given, stack, kind)
    created_at = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = cloudformation.create_change_set(
        StackName=options.stack_name,
        ChangeSetName=f"deploy-{options.stage}-{created_at}",
        ChangeSetType=kind,
        TemplateURL=template_url(bucket, region, template_key),
        Parameters=parameters,
        Capabilities=CAPABILITIES,
        Description=f"make deploy STAGE={options.stage}",
    )
    change_set_id, stack_id = response["Id"], response["StackId"]
    say(f"change set ({kind}) created; waiting for CloudFormation to work out the changes...")
    change_set = wait_for_change_set(cloudformation, change_set_id, sleep)
    if change_set["Status"] == "FAILED":
        reason = change_set.get("StatusReason", "")
        if not any(text in reason for text in NO_CHANGES):
            raise DeployError(f"CloudFormation refused the change set: {reason}")
        cloudformation.delete_change_set(ChangeSetName=change_set_id)
        say(f"No changes: the stack {options.stack_name} is already up to date.")
    else:
        changes = all_changes(cloudformation, change_set_id)
        say(f"{len(changes)} changes to the stack {options.stack_name} ({kind}; ! = deleted or replaced):")
        for line in change_lines(changes):
            say(line)
        if not options.yes:
            answer = ask(f"Execute these changes on {options.stack_name} in {region}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                cloudformation.delete_change_set(ChangeSetName=change_set_id)
                say("Nothing executed; the change set was deleted.")
                return 1
        seen = {event["EventId"] for event in cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]}
        cloudformation.execute_change_set(ChangeSetName=change_set_id)
        say("executing (Ctrl-C stops only this display; CloudFormation carries on):")
        final, events = follow_stack(cloudformation, stack_id, seen, sleep)
        if final["StackStatus"] not in SUCCEEDED:
            warn(f"\nDeploy failed: the stack {options.stack_name} is {final['StackStatus']}. Why:")
            for reason in failure_reasons(final, events) or ["(no reason given: see the CloudFormation console)"]:
                warn(f"  {reason}")
            if final["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE":
                warn("The previous version has been restored and keeps running.")
            elif final["StackStatus"] in BLOCKED:
                warn(f"Before the next try: {BLOCKED[final['StackStatus']]}.")
            return 1
        say(f"The stack {options.stack_name} is {final['StackStatus']}.")
        if given.get(DATA_PROTECTION) == "false" and DATA_PROTECTION not in options.parameters:
            say("\nThe stack exists: now turning on deletion protection of the tables and the user pool (an update).")
            protected = replace(options, yes=True, parameters={**options.parameters, DATA_PROTECTION: "true"})
            return deploy(protected, session, region, ask=ask, sleep=sleep)

    post_deploy(options, region, session)
    stack = describe_stack(cloudformation, options.stack_name)
    assert stack is not None
    print_outputs_and_next_steps(stack, options, region)
    return 0


def terminal_ask(stdin: TextIO) -> Callable[[str], str]:
    def ask(prompt: str) -> str:
        print(prompt, end="", flush=True)
        return stdin.readline()

    return ask


def main(argv: Sequence[str] | None = None, session: Any = None, stdin: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    options = parse_arguments(argv, stdin)
    try:
        import boto3

        configured = session.region_name if session is not None else boto3.Session().region_name
        region = choose_region(options.region, configured)
        session = session or boto3.Session(region_name=region)
        return deploy(options, session, region, ask=terminal_ask(stdin))
    except DeployError as error:
        warn(f"make deploy: {error}")
    except (NoCredentialsError, NoRegionError) as error:
        warn(f"make deploy: {error}. Give AWS credentials: AWS_PROFILE=<profile> or AWS_ACCESS_KEY_ID/…")
    except ClientError as error:
        warn(f"make deploy: AWS refused: {error}")
    except KeyboardInterrupt:
        warn("\nmake deploy: interrupted. A change set already executing carries on: see the CloudFormation console.")
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
