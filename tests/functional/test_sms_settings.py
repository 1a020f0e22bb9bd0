"""`make sms-settings` on moto: the account's SMS settings applied once, a second run changes nothing."""

from __future__ import annotations

import boto3
import pytest

from tools import sms_settings

ROLE_ARN = "arn:aws:iam::123456789012:role/sampark-SmsDeliveryStatusRole-1"
ARGS = ["--stack-name", "sampark", "--spend-limit", "150", "--sender-id", "DHNPOL", "--role-arn", ROLE_ARN]


def test_the_settings_are_applied_once_and_a_second_run_changes_nothing(aws, capsys):
    sns = boto3.client("sns", region_name="ap-south-1")
    calls: list[dict] = []
    sns.meta.events.register("before-parameter-build.sns.SetSMSAttributes", lambda params, **_: calls.append(params))
    session = boto3.Session(region_name="ap-south-1")
    session.client = lambda name, **_: sns if name == "sns" else boto3.client(name, region_name="ap-south-1")

    assert sms_settings.main(ARGS, session=session) == 0
    assert sms_settings.main(ARGS, session=session) == 0

    assert sns.get_sms_attributes()["attributes"] == {
        "MonthlySpendLimit": "150",
        "DeliveryStatusIAMRole": ROLE_ARN,
        "DeliveryStatusSuccessSamplingRate": "100",
        "DefaultSenderID": "DHNPOL",
        "DefaultSMSType": "Transactional",
    }
    assert len(calls) == 1  # SetSMSAttributes is limited to 1 call a second: only differences are sent
    assert "nothing changed" in capsys.readouterr().out


def test_only_what_differs_is_sent(aws):
    sns = boto3.client("sns", region_name="ap-south-1")
    sns.set_sms_attributes(attributes={"MonthlySpendLimit": "150", "DefaultSMSType": "Transactional"})

    changes = sms_settings.apply(sns, sms_settings.wanted_settings(ROLE_ARN, 150, "DHNPOL"))

    assert set(changes) == {"DeliveryStatusIAMRole", "DeliveryStatusSuccessSamplingRate", "DefaultSenderID"}


def test_without_the_stack_output_it_says_to_deploy_first(aws, capsys):
    class NoStack:
        def describe_stacks(self, StackName):
            return {"Stacks": [{"StackName": StackName, "Outputs": []}]}

    session = boto3.Session(region_name="ap-south-1")
    session.client = lambda name, **_: (
        NoStack() if name == "cloudformation" else boto3.client(name, region_name="ap-south-1")
    )

    assert sms_settings.main(ARGS[:-2], session=session) == 1
    assert "SmsDeliveryStatusRoleArn" in capsys.readouterr().err


def test_a_spend_limit_below_one_dollar_is_refused():
    with pytest.raises(SystemExit):
        sms_settings.main(["--spend-limit", "0", "--sender-id", "DHNPOL", "--role-arn", ROLE_ARN])


def test_the_template_gives_sns_a_role_for_the_delivery_logs_and_outputs_it():
    from tests.functional.test_infra_template import RESOURCES, TEMPLATE

    role = RESOURCES["SmsDeliveryStatusRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sns.amazonaws.com"}
    [policy] = role["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    logs = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group"
    assert statement["Resource"] == [{"Fn::Sub": logs + ":sns/${AWS::Region}/${AWS::AccountId}/*"}]
    assert TEMPLATE["Outputs"]["SmsDeliveryStatusRoleArn"]["Value"] == {"Fn::GetAtt": ["SmsDeliveryStatusRole", "Arn"]}
