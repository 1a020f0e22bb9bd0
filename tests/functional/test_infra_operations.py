"""infra/resources.json: what operators rely on — named functions with their own log groups, alarms that reach the
operators' topic for everything that can fail quietly, the API's reserved concurrency, officers' MFA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((ROOT / "infra" / "resources.json").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
FUNCTIONS = {lid: r for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
ALARMS = {lid: r["Properties"] for lid, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
OPERATORS = {"Ref": "OperatorsTopic"}


def _function_name(logical_id: str) -> str:
    return FUNCTIONS[logical_id]["Properties"]["FunctionName"]["Fn::Sub"]


def _dead_letter_queues() -> set[str]:
    """Queues that hold failures: every redrive target and every asynchronous on-failure destination."""
    targets = {
        r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    }
    destinations = {
        r["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    return targets | destinations


def _alarms_on(namespace: str, metric: str) -> dict[str, dict[str, Any]]:
    return {lid: a for lid, a in ALARMS.items() if a["Namespace"] == namespace and a["MetricName"] == metric}


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_function_writes_to_its_own_log_group_with_retention_and_encryption(function_id: str) -> None:
    name = _function_name(function_id)
    assert name.startswith("${AWS::StackName}-")
    logs = RESOURCES[f"{function_id}Logs"]
    assert logs["Type"] == "AWS::Logs::LogGroup"
    assert logs["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}
    assert logs["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert logs["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    # Created before the function: Lambda would otherwise create it first, without retention, and the stack fail.
    assert f"{function_id}Logs" in FUNCTIONS[function_id]["DependsOn"]
    # Kept when the stack goes; a first deploy that rolls back removes it, so that the retry can create it again.
    assert (logs["DeletionPolicy"], logs["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


def test_log_retention_is_a_parameter_cloudwatch_accepts() -> None:
    parameter = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] in parameter["AllowedValues"]
    assert set(parameter["AllowedValues"]) <= {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 3653}


def test_cloudwatch_logs_may_use_the_key_only_for_this_accounts_log_groups() -> None:
    [statement] = [
        s
        for s in RESOURCES["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    ]
    condition = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    assert condition.startswith("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:")


def test_the_api_function_reserves_concurrency_unless_the_account_cannot() -> None:
    reserved = FUNCTIONS["APIHandler"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["ReservesApiConcurrency", {"Ref": "ApiReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert TEMPLATE["Parameters"]["ApiReservedConcurrency"]["Default"] > 0
    assert TEMPLATE["Conditions"]["ReservesApiConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ApiReservedConcurrency"}, 0]}]
    }


@pytest.mark.parametrize("alarm_id", sorted(ALARMS))
def test_every_alarm_tells_the_operators_when_it_fires_and_when_it_clears(alarm_id: str) -> None:
    alarm = ALARMS[alarm_id]
    assert alarm["AlarmActions"] == [OPERATORS] and alarm["OKActions"] == [OPERATORS]
    assert alarm["AlarmDescription"], "the description is the operators' first instruction"


@pytest.mark.parametrize("queue_id", sorted(_dead_letter_queues()))
def test_a_message_in_any_dead_letter_queue_raises_an_alarm(queue_id: str) -> None:
    [alarm] = [
        a
        for a in _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible").values()
        if a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["Statistic"] == "Maximum"
    assert "replay-dlq" in json.dumps(alarm["AlarmDescription"])


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_every_function_alarms_on_errors_and_throttles(function_id: str, metric: str) -> None:
    [alarm] = [
        a
        for a in _alarms_on("AWS/Lambda", metric).values()
        if a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    ]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")


@pytest.mark.parametrize(
    ("metric", "emitted_by"),
    [("SignatureFailures", "functions/_http.py"), ("MediaFailures", "shared/media.py")],
)
def test_signature_and_media_failures_alarm_on_the_metric_the_code_emits(metric: str, emitted_by: str) -> None:
    assert f'count("{metric}")' in (ROOT / emitted_by).read_text()
    [alarm] = _alarms_on("Sampark", metric).values()
    # Powertools adds the service as a dimension: an alarm without it would watch a metric nobody writes.
    from shared.observability import metrics

    assert alarm["Dimensions"] == [{"Name": "service", "Value": metrics.service}]
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] >= 1


def test_sms_spend_alarms_at_a_parameter_below_the_spend_limit() -> None:
    [alarm] = _alarms_on("AWS/SNS", "SMSMonthToDateSpentUSD").values()
    assert alarm["Threshold"] == {"Ref": "SmsSpendAlarmUSD"}
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "Dimensions" not in alarm  # SNS publishes the account's spend without dimensions


def test_api_server_errors_alarm_on_the_api_chalice_names() -> None:
    [alarm] = _alarms_on("AWS/ApiGateway", "5XXError").values()
    app_name = json.loads((ROOT / ".chalice" / "config.json").read_text())["app_name"]
    assert alarm["Dimensions"] == [{"Name": "ApiName", "Value": app_name}]


def test_only_this_accounts_alarms_publish_to_the_encrypted_operators_topic() -> None:
    topic = RESOURCES["OperatorsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "DataKey"}
    [policy] = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::SNS::TopicPolicy" and r["Properties"]["Topics"] == [OPERATORS]
    ]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    key_statements = RESOURCES["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in key_statements)


def test_the_operators_email_is_subscribed_only_when_given() -> None:
    [subscription] = [
        r
        for r in RESOURCES.values()
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["TopicArn"] == OPERATORS
    ]
    assert subscription["Condition"] == "HasOperatorsEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "OperatorsEmail"}
    assert "OperatorsTopicArn" in TEMPLATE["Outputs"]


def test_officers_must_use_an_authenticator_and_strong_passwords() -> None:
    pool = RESOURCES["OfficersUserPool"]["Properties"]
    assert pool["MfaConfiguration"] == "ON" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_evidence_survives_the_stack_but_not_a_failed_first_deploy() -> None:
    # Tables, buckets and logs have fixed names: kept on a failed first create, they would block every retry.
    kept = {lid: r for lid, r in RESOURCES.items() if "DeletionPolicy" in r}
    assert {"TipsTable", "AuditTable", "MediaBucket"} <= set(kept)
    assert {r["DeletionPolicy"] for r in kept.values()} == {"RetainExceptOnCreate"}
