"""infra/resources.json against what the code expects of it: queues, the table, the bucket, the environment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from chalice.app import SNSEventConfig, SQSEventConfig
from chalice.config import Config
from chalice.utils import to_cfn_resource_name
from pynamodb.attributes import TTLAttribute

from app import app
from shared import config
from shared.storage.models import ALL_MODELS, AuditItem, TipItem

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((ROOT / "infra" / "resources.json").read_text())
CHALICE_CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBAL_ENV: dict[str, Any] = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
DEPLOYED_STAGE = "dev"  # the stage tools.package builds
# Settings shared/ reads that have no default and are not secrets: the deployment must provide every one.
REQUIRED_SETTINGS = {
    "TIPS_TABLE_NAME",
    "MEDIA_BUCKET_NAME",
    "DELIVERIES_QUEUE_URL",
    "MEDIA_QUEUE_URL",
    "REPLIES_QUEUE_URL",
    "REPLY_KEY_ID",
    "SECRETS_ID",
    "PUBLIC_MEDIA_BUCKET_NAME",
    "PUBLIC_MEDIA_BASE_URL",
}
SQS_SOURCES = [source for source in app.event_sources if isinstance(source, SQSEventConfig)]
SNS_SOURCES = [source for source in app.event_sources if isinstance(source, SNSEventConfig)]


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == resource_type}


def queue_named(queue_name: str) -> tuple[str, dict[str, Any]]:
    matches = [(lid, p) for lid, p in of_type("AWS::SQS::Queue").items() if p["QueueName"] == queue_name]
    assert len(matches) == 1, f"one queue must be named {queue_name}"
    return matches[0]


def referenced(value: Any) -> str:
    """The logical id of {"Ref": Id} or {"Fn::GetAtt": [Id, ...]}."""
    return value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]


def lambda_timeout(function_name: str) -> int:
    """As chalice resolves it for the deployed stage: stage, function and top-level settings, in its order."""
    scoped = Config(chalice_stage=DEPLOYED_STAGE, function_name=function_name, config_from_disk=CHALICE_CONFIG)
    return scoped.lambda_timeout


def role_statements(role_id: str) -> list[dict[str, Any]]:
    """The statements of one function's role (each function has its own, in the merge template)."""
    return _policy_statements(RESOURCES[role_id])


def roles_allowing(action: str, resource: Any | None = None) -> set[str]:
    """The roles with an Allow of ``action`` (on ``resource``, when given)."""
    return {
        role_id
        for role_id, r in RESOURCES.items()
        if r["Type"] == "AWS::IAM::Role"
        for statement in _policy_statements(r)
        if statement["Effect"] == "Allow"
        and action in _as_list(statement["Action"])
        and (resource is None or resource in _as_list(statement.get("Resource", [])))
    }


# --- queues ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("queue_id", [lid for lid, p in of_type("AWS::SQS::Queue").items() if "RedrivePolicy" in p])
def test_redriven_queue_has_a_receive_limit_and_a_dead_letter_queue_in_the_template(queue_id: str) -> None:
    properties = of_type("AWS::SQS::Queue")[queue_id]
    policy = properties["RedrivePolicy"]
    assert isinstance(policy["maxReceiveCount"], int) and policy["maxReceiveCount"] >= 1
    dead_letter = RESOURCES[referenced(policy["deadLetterTargetArn"])]
    assert dead_letter["Type"] == "AWS::SQS::Queue"
    # A message keeps its first enqueue time in the DLQ: a shorter retention there would lose it early.
    retention = dead_letter["Properties"].get("MessageRetentionPeriod", 345600)
    assert retention >= properties.get("MessageRetentionPeriod", 345600)
    assert queue_id in {queue_named(s.queue)[0] for s in SQS_SOURCES}, "a redriven queue nobody consumes"


@pytest.mark.parametrize("source", SQS_SOURCES, ids=lambda source: source.name)
def test_visibility_timeout_is_at_least_six_function_timeouts(source: SQSEventConfig) -> None:
    """AWS's advice for SQS event sources: otherwise a slow batch is received again while it is still running."""
    _, properties = queue_named(source.queue)
    assert "RedrivePolicy" in properties
    assert properties["VisibilityTimeout"] >= 6 * lambda_timeout(source.name)


def test_media_max_receives_is_the_media_queue_receive_limit() -> None:
    media_queue = of_type("AWS::SQS::Queue")[referenced(GLOBAL_ENV["MEDIA_QUEUE_URL"])]
    limit = str(media_queue["RedrivePolicy"]["maxReceiveCount"])
    assert GLOBAL_ENV["MEDIA_MAX_RECEIVES"] == limit
    assert config.DEFAULTS["MEDIA_MAX_RECEIVES"] == limit


# --- SNS-triggered functions (inbound SMS) ---------------------------------------------------------------


def topic_named(topic_name: str) -> tuple[str, dict[str, Any]]:
    matches = [(lid, p) for lid, p in of_type("AWS::SNS::Topic").items() if p.get("TopicName") == topic_name]
    assert len(matches) == 1, f"one topic must be named exactly {topic_name}"
    return matches[0]


def invoke_config_of(function_name: str) -> dict[str, Any]:
    ref = {"Ref": to_cfn_resource_name(function_name)}
    (config_id,) = [lid for lid, p in of_type("AWS::Lambda::EventInvokeConfig").items() if p["FunctionName"] == ref]
    return RESOURCES[config_id]


def statements_for(principal: str, document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s["Effect"] == "Allow" and s.get("Principal") == {"Service": principal}]


def test_the_sms_function_is_triggered_by_sns() -> None:
    assert [source.name for source in SNS_SOURCES] == ["receive_sms"]


@pytest.mark.parametrize("source", SNS_SOURCES, ids=lambda source: source.name)
def test_topic_exists_with_the_exact_name_chalice_renders_and_is_encrypted(source: SNSEventConfig) -> None:
    """chalice package renders on_sns_message(topic=NAME) as arn:…:sns:<region>:<account>:NAME."""
    topic_id, topic = topic_named(source.topic)
    assert RESOURCES[referenced(topic["KmsMasterKeyId"])]["Type"] == "AWS::KMS::Key"
    function = RESOURCES[to_cfn_resource_name(source.name)]
    assert topic_id in function.get("DependsOn", []), "the subscription must not be created before the topic"


@pytest.mark.parametrize("source", SNS_SOURCES, ids=lambda source: source.name)
def test_sns_function_handler_is_in_app_py(source: SNSEventConfig) -> None:
    """aws/chalice#1566: blueprint handlers would skip app.py and with it the middleware."""
    function = RESOURCES[to_cfn_resource_name(source.name)]
    assert function["Type"] == "AWS::Serverless::Function"
    assert function["Properties"]["Handler"] == f"app.{source.name}"


@pytest.mark.parametrize("source", SNS_SOURCES, ids=lambda source: source.name)
def test_async_invocations_have_explicit_retries_age_and_an_on_failure_queue(source: SNSEventConfig) -> None:
    invoke_config = invoke_config_of(source.name)
    properties = invoke_config["Properties"]
    assert properties["Qualifier"] == "$LATEST"
    assert properties["MaximumRetryAttempts"] == 2
    assert 3600 <= properties["MaximumEventAgeInSeconds"] <= 21600
    queue_id = referenced(properties["DestinationConfig"]["OnFailure"]["Destination"])
    queue = RESOURCES[queue_id]
    assert queue["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" not in queue["Properties"]
    assert RESOURCES[referenced(queue["Properties"]["KmsMasterKeyId"])]["Type"] == "AWS::KMS::Key"
    # The failed events hold the citizen's number and text: kept no longer than the inbox keeps raw bodies.
    assert 86400 <= queue["Properties"]["MessageRetentionPeriod"] <= 7 * 86400
    # Lambda checks that the role may send to the destination when the config is created.
    function_id = invoke_config["Properties"]["FunctionName"]["Ref"]
    assert f"{function_id}Role" in invoke_config.get("DependsOn", [])
    assert f"{function_id}Role" in roles_allowing("sqs:SendMessage", {"Fn::GetAtt": [queue_id, "Arn"]})


@pytest.mark.parametrize("source", SNS_SOURCES, ids=lambda source: source.name)
def test_only_end_user_messaging_of_this_account_may_publish_to_the_encrypted_topic(source: SNSEventConfig) -> None:
    topic_id, topic = topic_named(source.topic)
    policies = [p for p in of_type("AWS::SNS::TopicPolicy").values() if {"Ref": topic_id} in p["Topics"]]
    publishers = [s for p in policies for s in statements_for("sms-voice.amazonaws.com", p["PolicyDocument"])]
    assert len(publishers) == 1 and _as_list(publishers[0]["Action"]) == ["sns:Publish"]
    key = RESOURCES[referenced(topic["KmsMasterKeyId"])]["Properties"]["KeyPolicy"]
    key_users = statements_for("sms-voice.amazonaws.com", key)
    assert len(key_users) == 1 and set(key_users[0]["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    for statement in (publishers[0], key_users[0]):  # no confused deputy: only this account's SMS service
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
        assert ":sms-voice:" in statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]


# --- table -------------------------------------------------------------------------------------------------


TABLES = {
    "TIPS_TABLE_NAME": (TipItem, ALL_MODELS),
    "AUDIT_TABLE_NAME": (AuditItem, (AuditItem,)),
}


def table_for(setting: str) -> dict[str, Any]:
    return of_type("AWS::DynamoDB::Table")[referenced(GLOBAL_ENV[setting])]


def the_table() -> dict[str, Any]:
    return table_for("TIPS_TABLE_NAME")


def key_names(key_schema: list[dict[str, str]]) -> tuple[str, str | None]:
    keys = {key["KeyType"]: key["AttributeName"] for key in key_schema}
    return keys["HASH"], keys.get("RANGE")


def test_every_table_is_bound_to_a_setting() -> None:
    assert {referenced(GLOBAL_ENV[setting]) for setting in TABLES} == set(of_type("AWS::DynamoDB::Table"))


@pytest.mark.parametrize("setting", TABLES)
def test_table_keys_are_the_models_keys(setting: str) -> None:
    main, models_in_table = TABLES[setting]
    assert key_names(table_for(setting)["KeySchema"]) == (main._hash_keyname, main._range_keyname)
    for model in models_in_table:  # one table: every item type must use the same key attributes
        assert (model._hash_keyname, model._range_keyname) == (main._hash_keyname, main._range_keyname)


@pytest.mark.parametrize("setting", TABLES)
def test_table_indexes_are_the_models_indexes(setting: str) -> None:
    _, models_in_table = TABLES[setting]
    declared = {}
    for index in (index for model in models_in_table for index in model._indexes.values()):
        attributes = index.Meta.attributes.values()
        hash_key = next(a.attr_name for a in attributes if a.is_hash_key)
        range_key = next((a.attr_name for a in attributes if a.is_range_key), None)
        projection = index.Meta.projection
        declared[index.Meta.index_name] = (
            hash_key,
            range_key,
            projection.projection_type,
            sorted(getattr(projection, "non_key_attributes", None) or []),
        )
    in_template = {
        index["IndexName"]: (
            *key_names(index["KeySchema"]),
            index["Projection"]["ProjectionType"],
            sorted(index["Projection"].get("NonKeyAttributes", [])),
        )
        for index in table_for(setting).get("GlobalSecondaryIndexes", [])
    }
    assert in_template == declared


def test_tip_lists_never_copy_the_informants_pseudonym_or_reply_handle() -> None:
    tip_indexes = {index.Meta.index_name for index in TipItem._indexes.values()}
    for index in (i for i in the_table()["GlobalSecondaryIndexes"] if i["IndexName"] in tip_indexes):
        assert index["Projection"]["ProjectionType"] == "INCLUDE"
        assert not {"sender_pseudonym", "reply_handle"} & set(index["Projection"]["NonKeyAttributes"])


@pytest.mark.parametrize("setting", TABLES)
def test_table_attribute_definitions_are_the_models_key_attributes(setting: str) -> None:
    _, models_in_table = TABLES[setting]
    expected = {
        (d["AttributeName"], d["AttributeType"])
        for model in models_in_table
        for d in model._get_schema()["attribute_definitions"]
    }
    assert {(d["AttributeName"], d["AttributeType"]) for d in table_for(setting)["AttributeDefinitions"]} == expected


def test_ttl_is_on_the_models_ttl_attribute() -> None:
    ttl_names = {
        attribute.attr_name
        for model in ALL_MODELS
        for attribute in model.get_attributes().values()
        if isinstance(attribute, TTLAttribute)
    }
    assert ttl_names == {"expires_at"}
    assert the_table()["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_audit_trail_never_expires_and_survives_the_stack() -> None:
    table = RESOURCES[referenced(GLOBAL_ENV["AUDIT_TABLE_NAME"])]
    assert "TimeToLiveSpecification" not in table["Properties"]
    assert not any(isinstance(a, TTLAttribute) for a in AuditItem.get_attributes().values())
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # Protected once the stack exists (make deploy creates it unprotected so that a failed first create rolls back).
    assert table["Properties"]["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectsData", True, False]}
    assert TEMPLATE["Parameters"]["DataDeletionProtection"]["Default"] == "true"
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


def test_functions_may_only_append_to_the_audit_trail() -> None:
    audit_arn = {"Fn::GetAtt": [referenced(GLOBAL_ENV["AUDIT_TABLE_NAME"]), "Arn"]}
    allowed, denied, roles = set(), set(), set()
    for role_id, role in RESOURCES.items():
        for statement in _policy_statements(role):
            if audit_arn in _as_list(statement.get("Resource", [])):
                roles.add(role_id)
                (allowed if statement["Effect"] == "Allow" else denied).update(_as_list(statement["Action"]))
    # Only the API writes the trail. Puts are conditional (attribute_not_exists) in the code; IAM allows nothing
    # that changes or deletes.
    assert roles == {"APIHandlerRole"}
    assert allowed == {"dynamodb:PutItem", "dynamodb:Query"}
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= denied


# --- bucket ------------------------------------------------------------------------------------------------

BUCKET_ID = referenced(GLOBAL_ENV["MEDIA_BUCKET_NAME"])


def bucket() -> dict[str, Any]:
    return of_type("AWS::S3::Bucket")[BUCKET_ID]


def test_bucket_blocks_all_public_access() -> None:
    assert bucket()["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


def test_bucket_encrypts_with_kms_and_a_bucket_key_and_keeps_versions() -> None:
    (rule,) = bucket()["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert RESOURCES[referenced(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])]["Type"] == "AWS::KMS::Key"
    assert rule["BucketKeyEnabled"] is True
    assert bucket()["VersioningConfiguration"] == {"Status": "Enabled"}


def test_inbox_objects_expire_within_a_week() -> None:
    """Raw webhook bodies hold phone numbers; the worker deletes them, the lifecycle rule catches leftovers."""
    rules = [
        rule
        for rule in bucket()["LifecycleConfiguration"]["Rules"]
        if rule["Status"] == "Enabled" and (rule.get("Prefix") or rule.get("Filter", {}).get("Prefix")) == "inbox/"
    ]
    assert rules and all(rule["ExpirationInDays"] <= 7 for rule in rules)


def test_bucket_policy_denies_insecure_transport() -> None:
    policies = [p for p in of_type("AWS::S3::BucketPolicy").values() if referenced(p["Bucket"]) == BUCKET_ID]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    denials = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s["Principal"] in ("*", {"AWS": "*"})
        and "s3:*" in _as_list(s["Action"])
        and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
    ]
    assert len(denials) == 1
    resources = json.dumps(denials[0]["Resource"])
    assert BUCKET_ID in resources and "/*" in resources  # the bucket and its objects


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- environment -------------------------------------------------------------------------------------------


def test_globals_provide_every_required_setting() -> None:
    assert REQUIRED_SETTINGS - set(GLOBAL_ENV) == set()


def test_every_setting_read_by_name_has_a_default_a_secret_or_a_global() -> None:
    """Catches a new config.get("X") that nobody deploys (dynamic names are in REQUIRED_SETTINGS)."""
    pattern = re.compile(r"config\.get(?:_int|_url)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
    sources = [*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py"), ROOT / "app.py"]
    read = {name for path in sources for name in pattern.findall(path.read_text())}
    assert read, "the scan found no config.get calls: has the reader been renamed?"
    provided = set(config.DEFAULTS) | config.SECRET_NAMES | config.ACCOUNT_NAMES | set(GLOBAL_ENV)
    assert read - provided == set()


def test_no_secret_is_a_plain_environment_variable() -> None:
    """Secrets live in Secrets Manager: neither the template nor chalice's config (copied into every function)."""
    stage = CHALICE_CONFIG.get("stages", {}).get(DEPLOYED_STAGE, {})
    plain = [GLOBAL_ENV, CHALICE_CONFIG.get("environment_variables", {}), stage.get("environment_variables", {})]
    plain += [f.get("environment_variables", {}) for f in CHALICE_CONFIG.get("lambda_functions", {}).values()]
    plain += [f.get("environment_variables", {}) for f in stage.get("lambda_functions", {}).values()]
    plain += [p.get("Environment", {}).get("Variables", {}) for p in of_type("AWS::Serverless::Function").values()]
    leaked = {name for variables in plain for name in variables} & config.SECRET_NAMES
    assert leaked == set()


# --- wanted-notice photo uploads: S3 event notifications to SQS --------------------------------------------------

UPLOADS_PREFIX = "uploads/"
(PHOTO_SOURCE,) = [source for source in SQS_SOURCES if source.name == "process_photo_uploads"]


def photo_uploads_queue() -> tuple[str, dict[str, Any]]:
    return queue_named(PHOTO_SOURCE.queue)


def test_uploads_to_the_media_bucket_are_announced_on_the_pipelines_queue() -> None:
    """Chalice cannot package S3-triggered functions: S3 notifies a queue, the pipeline consumes the queue."""
    queue_id, _ = photo_uploads_queue()
    (notification,) = bucket()["NotificationConfiguration"]["QueueConfigurations"]
    assert set(bucket()["NotificationConfiguration"]) == {"QueueConfigurations"}
    assert notification["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert notification["Event"] == "s3:ObjectCreated:*"  # Put, Post (the presigned form), Copy, multipart
    assert notification["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": UPLOADS_PREFIX}]}}


def test_photo_uploads_queue_is_redriven_to_its_own_dead_letter_queue_and_encrypted_by_sqs() -> None:
    """SQS-managed SSE, not the data key: S3 can send to a queue under a customer key only if the key policy lets
    s3.amazonaws.com use it. The messages hold bucket and key names, never photo bytes."""
    _, queue = photo_uploads_queue()
    assert queue["QueueName"] == "sampark-photo-uploads"
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    dead_letter = RESOURCES[referenced(queue["RedrivePolicy"]["deadLetterTargetArn"])]["Properties"]
    assert dead_letter["QueueName"] == "sampark-photo-uploads-dlq"
    for properties in (queue, dead_letter):
        assert properties["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in properties
    assert queue["VisibilityTimeout"] >= 6 * lambda_timeout(PHOTO_SOURCE.name) == 360


def test_only_s3_for_this_accounts_media_bucket_may_send_to_the_photo_uploads_queue() -> None:
    queue_id, _ = photo_uploads_queue()
    policies = [p for p in of_type("AWS::SQS::QueuePolicy").values() if {"Ref": queue_id} in p["Queues"]]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert len(statements) == 1
    (statement,) = statements
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert _as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert _as_list(statement.get("Resource", [])) == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    # No confused deputy: only S3 acting for this account's media bucket. The bucket's ARN is built from its name,
    # not read from the bucket: the bucket depends on this policy (S3 checks the destination when it is configured).
    conditions = statement["Condition"]
    assert conditions["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    bucket_name = bucket()["BucketName"]["Fn::Sub"]
    assert conditions["ArnEquals"] == {"aws:SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket_name}"}}


def test_media_bucket_is_created_after_the_queue_policy_that_lets_s3_notify() -> None:
    (policy_id,) = [
        lid for lid, p in of_type("AWS::SQS::QueuePolicy").items() if {"Ref": photo_uploads_queue()[0]} in p["Queues"]
    ]
    assert policy_id in RESOURCES[BUCKET_ID]["DependsOn"]
    assert BUCKET_ID not in _references(RESOURCES[policy_id])  # else: a circular dependency


def test_dead_uploads_expire_after_a_day() -> None:
    """A processed upload is replaced by its renditions; one never processed (or rejected) goes within a day."""
    rules = [
        rule
        for rule in bucket()["LifecycleConfiguration"]["Rules"]
        if rule["Status"] == "Enabled"
        and (rule.get("Prefix") or rule.get("Filter", {}).get("Prefix")) == UPLOADS_PREFIX
    ]
    assert len(rules) == 1
    assert rules[0]["ExpirationInDays"] == 1
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}  # the bucket is versioned


@pytest.mark.parametrize("source", SQS_SOURCES, ids=lambda source: source.name)
def test_queue_function_runs_app_py_and_reports_partial_failures_from_its_queue(source: SQSEventConfig) -> None:
    """What Chalice cannot say itself, merged over its function: app.py's handler (aws/chalice#1566), the queue
    resource (so the mapping waits for it), ReportBatchItemFailures. The event name is Chalice's."""
    logical_id = to_cfn_resource_name(source.name)
    function = RESOURCES[logical_id]
    assert function["Type"] == "AWS::Serverless::Function"
    assert function["Properties"]["Handler"] == f"app.{source.name}"
    event = function["Properties"]["Events"][f"{logical_id}SqsEventSource"]["Properties"]
    assert event["Queue"] == {"Fn::Sub": f"${{{queue_named(source.queue)[0]}.Arn}}"}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_photo_pipeline_function_is_process_photo_uploads() -> None:
    assert to_cfn_resource_name(PHOTO_SOURCE.name) == "ProcessPhotoUploads"
    assert PHOTO_SOURCE.batch_size == 1


# --- public media: the published photos of wanted notices, served by CloudFront -------------------------------

PUBLIC_BUCKET_ID = referenced(GLOBAL_ENV["PUBLIC_MEDIA_BUCKET_NAME"])
PUBLISHED_PREFIX = "wanted/"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS's managed cache policy


def public_bucket() -> dict[str, Any]:
    return of_type("AWS::S3::Bucket")[PUBLIC_BUCKET_ID]


def distribution_id() -> str:
    (match,) = re.fullmatch(r"https://\$\{(\w+)\.DomainName\}", GLOBAL_ENV["PUBLIC_MEDIA_BASE_URL"]["Fn::Sub"]).groups()
    return match


def distribution() -> dict[str, Any]:
    return of_type("AWS::CloudFront::Distribution")[distribution_id()]["DistributionConfig"]


def public_bucket_statements() -> list[dict[str, Any]]:
    policies = [p for p in of_type("AWS::S3::BucketPolicy").values() if referenced(p["Bucket"]) == PUBLIC_BUCKET_ID]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def test_public_media_bucket_is_not_public_itself() -> None:
    """Only CloudFront reads it, through its origin access control; nothing public, no ACLs, no old versions."""
    assert PUBLIC_BUCKET_ID != BUCKET_ID
    assert public_bucket()["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert public_bucket()["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    # A captured notice's photos are deleted: with versioning, the "deleted" photo would stay in the bucket.
    assert "VersioningConfiguration" not in public_bucket()


def test_public_media_bucket_encrypts_with_s3_managed_keys() -> None:
    """SSE-S3: CloudFront's OAC could read SSE-KMS objects only if the data key's policy let it."""
    (rule,) = public_bucket()["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_public_media_bucket_policy_denies_insecure_transport() -> None:
    denials = [
        s
        for s in public_bucket_statements()
        if s["Effect"] == "Deny"
        and s["Principal"] in ("*", {"AWS": "*"})
        and "s3:*" in _as_list(s["Action"])
        and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
    ]
    assert len(denials) == 1
    assert _as_list(denials[0]["Resource"]) == [
        {"Fn::GetAtt": [PUBLIC_BUCKET_ID, "Arn"]},
        {"Fn::Sub": f"${{{PUBLIC_BUCKET_ID}.Arn}}/*"},
    ]


def test_only_the_distribution_may_read_and_only_published_photos() -> None:
    allowed = [s for s in public_bucket_statements() if s["Effect"] == "Allow"]
    assert len(allowed) == 1
    (statement,) = allowed
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert _as_list(statement["Action"]) == ["s3:GetObject"]
    assert _as_list(statement.get("Resource", [])) == [{"Fn::Sub": f"${{{PUBLIC_BUCKET_ID}.Arn}}/{PUBLISHED_PREFIX}*"}]
    the_distribution = f"arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{distribution_id()}}}"
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": the_distribution}}}


def test_distribution_reads_the_public_bucket_through_a_signing_origin_access_control() -> None:
    (origin,) = distribution()["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [PUBLIC_BUCKET_ID, "RegionalDomainName"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not the legacy identity
    assert "OriginPath" not in origin  # a photo's URL is the base URL + "/" + its key
    oac_id = referenced(origin["OriginAccessControlId"])
    oac = of_type("AWS::CloudFront::OriginAccessControl")[oac_id]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )


def test_distribution_serves_https_cached_to_india() -> None:
    settings = distribution()
    assert settings["Enabled"] is True
    assert settings["PriceClass"] == "PriceClass_200"  # the cheapest class with edge locations in India
    assert settings["HttpVersion"] == "http2and3"
    assert settings.get("DefaultRootObject", "") == ""  # no listing, no index: only the keys the app publishes
    behaviour = settings["DefaultCacheBehavior"]
    assert behaviour["TargetOriginId"] == settings["Origins"][0]["Id"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["CachePolicyId"] == CACHING_OPTIMIZED
    assert sorted(behaviour["AllowedMethods"]) == ["GET", "HEAD"]
    assert "CacheBehaviors" not in settings


def test_public_media_settings_and_output_name_the_bucket_and_the_distribution() -> None:
    assert GLOBAL_ENV["PUBLIC_MEDIA_BUCKET_NAME"] == {"Ref": "PublicMediaBucket"}
    assert GLOBAL_ENV["PUBLIC_MEDIA_BASE_URL"] == {"Fn::Sub": "https://${PublicMediaDistribution.DomainName}"}
    assert TEMPLATE["Outputs"]["PublicMediaBaseUrl"]["Value"] == GLOBAL_ENV["PUBLIC_MEDIA_BASE_URL"]


def test_functions_may_read_and_delete_uploads_and_publish_only_under_wanted() -> None:
    from shared.wanted import UPLOAD_PREFIX  # uploads/wanted/: the only uploads there are

    uploads = {"Fn::Sub": f"${{{BUCKET_ID}.Arn}}/{UPLOAD_PREFIX}*"}
    published = {"Fn::Sub": f"${{{PUBLIC_BUCKET_ID}.Arn}}/{PUBLISHED_PREFIX}*"}
    bucket = {"Fn::GetAtt": [PUBLIC_BUCKET_ID, "Arn"]}
    # The API signs the uploads (presigned POSTs); only the photo pipeline reads, deletes and publishes them.
    assert roles_allowing("s3:PutObject", uploads) == {"APIHandlerRole"}
    assert roles_allowing("s3:GetObject", uploads) == roles_allowing("s3:DeleteObject", uploads)
    assert roles_allowing("s3:GetObject", uploads) == {"ProcessPhotoUploadsRole"}
    assert roles_allowing("s3:PutObject", published) == {"ProcessPhotoUploadsRole"}
    # Closing a notice (the API) or replacing its photo (the pipeline) deletes every rendition under wanted/<id>/.
    assert roles_allowing("s3:DeleteObject", published) == {"ProcessPhotoUploadsRole", "APIHandlerRole"}
    for role_id in roles_allowing("s3:ListBucket", bucket):
        [listing] = [s for s in role_statements(role_id) if bucket in _as_list(s.get("Resource", []))]
        assert listing["Action"] == ["s3:ListBucket"]
        assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{PUBLISHED_PREFIX}*"]}}
    # The private bucket may be listed only where a missing object must read as missing (404, not 403).
    private = {"Fn::GetAtt": [BUCKET_ID, "Arn"]}
    assert roles_allowing("s3:ListBucket", private) == {"RecordDeliveriesRole", "ProcessPhotoUploadsRole"}
    public_objects = {
        json.dumps(resource)
        for role_id, r in RESOURCES.items()
        if r["Type"] == "AWS::IAM::Role"
        for statement in _policy_statements(r)
        for resource in _as_list(statement.get("Resource", []))
        if PUBLIC_BUCKET_ID in json.dumps(resource)
    }
    assert public_objects == {json.dumps(published), json.dumps(bucket)}


# --- dependencies ----------------------------------------------------------------------------------------------


def _references(value: Any) -> set[str]:
    """Logical ids a template value refers to: Ref, Fn::GetAtt, ${Id} and ${Id.Attr} in Fn::Sub (not AWS::…)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= _references(item[1] if isinstance(item, list) else None)
            else:
                found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return {name for name in found if not name.startswith("AWS::")}


def test_the_merge_template_has_no_circular_dependency() -> None:
    """Engineering notes §2: Globals reach every function, so a resource that needs a function must not be needed
    by the Globals. (cfn-lint checks the packaged template too: E3004.)"""
    functions = {lid for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
    globals_needs = _references(TEMPLATE["Globals"])
    needs = {
        lid: (
            _references(r.get("Properties", {}))
            | set(_as_list(r.get("DependsOn", [])))
            | (globals_needs if lid in functions else set())
        )
        & set(RESOURCES)
        for lid, r in RESOURCES.items()
    }

    def cycle_from(start: str) -> list[str] | None:
        path, seen = [start], set()
        stack = [(start, iter(sorted(needs[start])))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                seen.add(node)
            elif child == start:
                return [*path, child]
            elif child not in seen and child not in path:
                path.append(child)
                stack.append((child, iter(sorted(needs[child]))))
        return None

    cycles = [cycle for lid in sorted(RESOURCES) if (cycle := cycle_from(lid))]
    assert cycles == []


def _statements_by_sid() -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in RESOURCES.values():
        for statement in _policy_statements(resource):
            if "Sid" in statement:
                found.setdefault(statement["Sid"], []).append(statement)
    return found


def _roles_with(sid: str) -> set[str]:
    return {
        role_id
        for role_id, r in RESOURCES.items()
        if any(statement.get("Sid") == sid for statement in _policy_statements(r))
    }


def test_only_the_email_sync_may_list_alert_topics_subscriptions() -> None:
    prefix = GLOBAL_ENV["ALERT_TOPIC_PREFIX"]["Fn::Sub"]
    for managing in _statements_by_sid()["AlertSubscriptions"]:
        assert managing["Resource"] == [{"Fn::Sub": prefix + "*"}]
        assert set(managing["Action"]) <= {"sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes"}
    # SNS lists endpoints (numbers, addresses) in clear: only the sync's own role may list, and only alert topics.
    listing = [
        (name, statement)
        for name, resource in RESOURCES.items()
        for statement in _policy_statements(resource)
        if {"sns:ListSubscriptionsByTopic", "sns:ListSubscriptions", "sns:*", "*"} & set(_as_list(statement["Action"]))
    ]
    assert [(name, s["Action"], s["Resource"]) for name, s in listing] == [
        ("SyncSubscriptionsRole", ["sns:ListSubscriptionsByTopic"], [{"Fn::Sub": prefix + "*"}])
    ]
    assert RESOURCES["SyncSubscriptions"]["Properties"]["Role"] == {"Fn::GetAtt": ["SyncSubscriptionsRole", "Arn"]}


def _policy_statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::Policy"):
        return []
    properties = resource["Properties"]
    documents = [properties["PolicyDocument"]] if "PolicyDocument" in properties else []
    documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    return [statement for document in documents for statement in document["Statement"]]


def test_sms_to_phone_numbers_may_not_publish_to_any_topic() -> None:
    for sms in _statements_by_sid()["SmsToPhoneNumbers"]:
        # A phone number has no ARN; NotResource keeps this grant off every topic (those have their own statements).
        assert sms["Action"] == ["sns:Publish"] and "Resource" not in sms
        assert sms["NotResource"] == [{"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}]


def test_subscribers_numbers_are_decrypted_only_under_their_own_purpose() -> None:
    for contacts in _statements_by_sid()["SubscriberContacts"]:
        assert contacts["Action"] == ["kms:Encrypt", "kms:Decrypt"]
        assert contacts["Condition"] == {
            "StringEquals": {"kms:EncryptionContext:purpose": "sampark-subscriber-contact"}
        }


def test_subscriber_data_and_sms_sending_go_only_to_the_roles_that_need_them() -> None:
    # GetSubscriptionAttributes shows an endpoint in clear, like the listing: the reply sender never gets it.
    assert roles_allowing("sns:GetSubscriptionAttributes") == {"APIHandlerRole", "SyncSubscriptionsRole"}
    # One-time codes (the API) and answers to informants (the reply sender); alerts go through topics.
    assert _roles_with("SmsToPhoneNumbers") == {"APIHandlerRole", "SendRepliesRole"}
    # Sign-ups on the web (the API) and SUBSCRIBE/STOP by chat (the delivery recorder) and by SMS.
    assert _roles_with("SubscriberContacts") == {"APIHandlerRole", "RecordDeliveriesRole", "ReceiveSmsRole"}


def test_no_function_may_delete_from_the_tips_table() -> None:
    # Opt-outs are lifted by an update, never deleted (shared/storage/subscriptions.py); expiry is DynamoDB's TTL.
    for tips in _statements_by_sid()["Tips"]:
        assert "dynamodb:DeleteItem" not in tips["Action"] and "dynamodb:BatchWriteItem" not in tips["Action"]


# --- broadcast events: SNS topic -> social-posts queue (raw) -> post_to_social -------------------------------------

(SOCIAL_SOURCE,) = [source for source in SQS_SOURCES if source.name == "post_to_social"]


def test_broadcast_events_fan_out_from_an_encrypted_topic_to_the_social_posts_queue_raw() -> None:
    topic_id, topic = topic_named("sampark-broadcast-events")
    assert GLOBAL_ENV["BROADCAST_EVENTS_TOPIC_ARN"] == {"Ref": topic_id}
    assert RESOURCES[referenced(topic["KmsMasterKeyId"])]["Type"] == "AWS::KMS::Key"
    queue_id, queue = queue_named(SOCIAL_SOURCE.queue)
    assert SOCIAL_SOURCE.batch_size == 1 and queue["QueueName"] == "sampark-social-posts"
    subscriptions = [p for p in of_type("AWS::SNS::Subscription").values() if p["TopicArn"] == {"Ref": topic_id}]
    assert subscriptions == [
        {
            "TopicArn": {"Ref": topic_id},
            "Protocol": "sqs",
            "Endpoint": {"Fn::GetAtt": [queue_id, "Arn"]},
            "RawMessageDelivery": True,  # the function reads the event itself, not SNS's envelope
        }
    ]
    # SQS-managed encryption: SNS could deliver to a queue under the data key only if the key policy let
    # sns.amazonaws.com use it. The events hold ids only.
    dead_letter = RESOURCES[referenced(queue["RedrivePolicy"]["deadLetterTargetArn"])]["Properties"]
    for properties in (queue, dead_letter):
        assert properties["SqsManagedSseEnabled"] is True and "KmsMasterKeyId" not in properties


def test_only_the_broadcast_events_topic_may_send_to_the_social_posts_queue() -> None:
    topic_id, _ = topic_named("sampark-broadcast-events")
    queue_id, _ = queue_named(SOCIAL_SOURCE.queue)
    policies = {lid: p for lid, p in of_type("AWS::SQS::QueuePolicy").items() if {"Ref": queue_id} in p["Queues"]}
    [(policy_id, policy)] = policies.items()
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert _as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id}}}
    (subscription_id,) = [
        lid
        for lid, r in RESOURCES.items()
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]
    assert policy_id in RESOURCES[subscription_id]["DependsOn"]


def test_the_functions_may_publish_broadcast_events() -> None:
    topic_id, _ = topic_named("sampark-broadcast-events")
    for statement in _statements_by_sid()["BroadcastEvents"]:
        assert statement["Action"] == ["sns:Publish"] and statement["Resource"] == [{"Ref": topic_id}]
    # Approving or capturing (the API) and sending (the broadcast sender) announce it.
    assert _roles_with("BroadcastEvents") == {"APIHandlerRole", "SendBroadcastsRole"}


@pytest.mark.parametrize(
    ("function", "retries"),
    [("ReceiveSms", 2), ("SyncSubscriptions", 0), ("CountSmsDeliveries", 2), ("CheckChannelHealth", 0)],
)
def test_every_asynchronously_invoked_function_has_retries_an_age_and_an_on_failure_destination(function, retries):
    [config] = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig" and r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert config["MaximumRetryAttempts"] == retries and 60 <= config["MaximumEventAgeInSeconds"] <= 21600
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert RESOURCES[destination]["Type"] == "AWS::SQS::Queue"
    assert f"{function}Role" in roles_allowing("sqs:SendMessage", {"Fn::GetAtt": [destination, "Arn"]})


def test_the_prod_stage_make_deploy_builds_is_the_tested_stage_with_no_settings_of_its_own() -> None:
    # Engineering notes §2: a stage's environment variables would override the template's Globals.
    prod = CHALICE_CONFIG["stages"]["prod"]
    assert "environment_variables" not in prod and "lambda_functions" not in prod
    for function_name in [None, *CHALICE_CONFIG["lambda_functions"]]:
        tested = Config(chalice_stage=DEPLOYED_STAGE, function_name=function_name, config_from_disk=CHALICE_CONFIG)
        deployed = Config(chalice_stage="prod", function_name=function_name, config_from_disk=CHALICE_CONFIG)
        assert (deployed.lambda_timeout, deployed.lambda_memory_size) == (
            tested.lambda_timeout,
            tested.lambda_memory_size,
        )
        assert deployed.manage_iam_role is False  # each function's role is in infra/resources.json
