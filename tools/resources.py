"""Create Sampark's AWS resources in moto from infra/resources.json: one source of truth for local and AWS.

Only the stateful resource types the app talks to are created (KMS, DynamoDB, S3 with its event notifications to
SQS, SQS, SNS with its queue subscriptions, and the officers' Cognito user pool with its app client and groups); their
properties come from the template, with the small subset of intrinsic functions it uses resolved against a local stack
name. Lambda's asynchronous-invocation settings (retries, on-failure destination) are read for the local dispatcher.

There is no CloudFront locally: what the template lets a distribution read from a bucket (its bucket policy's grant to
cloudfront.amazonaws.com), anyone may read straight from S3 (moto), and PUBLIC_MEDIA_BASE_URL points there
(local_public_media_url). Queue and bucket policies are not applied otherwise (moto ignores their conditions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.utils import to_cfn_resource_name

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"
ACCOUNT_ID = "123456789012"  # moto's default account
# The app client the app trusts is the one its COGNITO_CLIENT_ID names; its pool is the officers' pool.
CLIENT_ID_SETTING = "COGNITO_CLIENT_ID"
# Local sign-in is scripted (`make token`): a password sent by the script, not the browser's SRP exchange.
LOCAL_AUTH_FLOW = "ALLOW_USER_PASSWORD_AUTH"
# The bucket the app publishes wanted notices' photos to, and the base of their public URLs (CloudFront in AWS).
PUBLIC_MEDIA_BUCKET_SETTING = "PUBLIC_MEDIA_BUCKET_NAME"
PUBLIC_MEDIA_URL_SETTING = "PUBLIC_MEDIA_BASE_URL"
CLOUDFRONT = {"Service": "cloudfront.amazonaws.com"}
S3_TEST_EVENT = "s3:TestEvent"


@dataclass(frozen=True)
class UserPoolIds:
    """The physical ids of the officers' user pool and of the app client the app accepts tokens from."""

    pool_id: str
    client_id: str


class LocalStack:
    """Resolves the template's names and creates its resources through boto3 clients (pointed at moto)."""

    def __init__(self, session: Any, stack_name: str = "sampark-local", template: Path = TEMPLATE) -> None:
        self.session = session
        self.stack_name = stack_name
        self.region = session.region_name
        self.template = json.loads(template.read_text())
        self.resources: dict[str, dict[str, Any]] = self.template["Resources"]
        self.physical: dict[str, dict[str, str]] = {}  # logical id -> {"Ref": ..., "Arn": ...}

    def create_all(self) -> dict[str, str]:
        """Create every supported resource (dependencies first) and return the app's environment variables."""
        for logical_id in self._ordered(("AWS::KMS::Key",)):
            self._create_kms_key(logical_id)
        for logical_id in self._ordered(("AWS::SQS::Queue",)):
            if "RedrivePolicy" not in self.resources[logical_id]["Properties"]:
                self._create_queue(logical_id)
        for logical_id in self._ordered(("AWS::SQS::Queue",)):
            if "RedrivePolicy" in self.resources[logical_id]["Properties"]:
                self._create_queue(logical_id)
        for logical_id in self._ordered(("AWS::DynamoDB::Table",)):
            self._create_table(logical_id)
        for logical_id in self._ordered(("AWS::S3::Bucket",)):
            self._create_bucket(logical_id)
        for logical_id in self._ordered(("AWS::S3::BucketPolicy",)):
            self._open_what_cloudfront_reads(logical_id)
        for logical_id in self._ordered(("AWS::SNS::Topic",)):
            self._create_topic(logical_id)
        for logical_id in self._ordered(("AWS::SNS::Subscription",)):
            self._create_subscription(logical_id)
        for logical_id in self._ordered(("AWS::Cognito::UserPool",)):
            self._create_user_pool(logical_id)
        for logical_id in self._ordered(("AWS::Cognito::UserPoolClient",)):
            self._create_user_pool_client(logical_id)
        for logical_id in self._ordered(("AWS::Cognito::UserPoolGroup",)):
            self._create_user_pool_group(logical_id)
        return self.environment()

    def environment(self) -> dict[str, str]:
        """The Globals environment of the template, resolved; values that need AWS-only resources are left out.

        Except PUBLIC_MEDIA_BASE_URL (a CloudFront domain in AWS): the public bucket's own S3 URL, which moto's
        in-process mock serves; with a moto server, use local_public_media_url(its endpoint) instead (`make run` does).
        """
        variables = self.template["Globals"]["Function"]["Environment"]["Variables"]
        environment = {}
        for name, value in variables.items():
            try:
                environment[name] = str(self.resolve(value))
            except KeyError:
                continue  # e.g. SECRETS_ID: locally, secrets come from the environment
        if PUBLIC_MEDIA_URL_SETTING in variables:
            environment[PUBLIC_MEDIA_URL_SETTING] = self.local_public_media_url()
        return environment

    def local_public_media_url(self, moto_endpoint: str | None = None) -> str:
        """PUBLIC_MEDIA_BASE_URL locally: a URL under which anyone can GET what the distribution serves in AWS.

        With a moto server at ``moto_endpoint`` (e.g. http://127.0.0.1:5000), the bucket path-style on that server:
        moto serves objects to unauthenticated GETs when the bucket policy allows them (_open_what_cloudfront_reads).
        Without, the bucket's virtual-hosted S3 URL, for moto's in-process mock (it intercepts boto3 and requests,
        not urllib). Either way, the URL of an object is this base + "/" + its key, as under the distribution.
        """
        variables = self.template["Globals"]["Function"]["Environment"]["Variables"]
        bucket = self._ref(variables[PUBLIC_MEDIA_BUCKET_SETTING]["Ref"])
        if moto_endpoint:
            return f"{moto_endpoint.rstrip('/')}/{bucket}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com"

    def local_cognito_settings(self, moto_endpoint: str) -> dict[str, str]:
        """COGNITO_* for the app when the stack lives in a moto server at ``moto_endpoint`` (e.g. http://127.0.0.1:5000).

        moto stamps Cognito's own issuer, https://cognito-idp.<region>.amazonaws.com/<pool id>, on every token, in
        server mode too (moto/cognitoidp/models.py, create_jwt): the same value as the template's COGNITO_ISSUER. The
        pool's keys, though, are served by the moto server itself, not by Cognito's host.
        """
        ids = self.officers_pool()
        return {
            "COGNITO_ISSUER": f"https://cognito-idp.{self.region}.amazonaws.com/{ids.pool_id}",
            "COGNITO_CLIENT_ID": ids.client_id,
            "COGNITO_JWKS_URL": f"{moto_endpoint.rstrip('/')}/{ids.pool_id}/.well-known/jwks.json",
        }

    def officers_pool(self) -> UserPoolIds:
        """The ids create_all (or find_officers_pool) recorded for the officers' pool and app client."""
        pool_logical_id, client_logical_id = self._officers_cognito()
        return UserPoolIds(
            pool_id=self.physical[pool_logical_id]["Ref"], client_id=self.physical[client_logical_id]["Ref"]
        )

    def find_officers_pool(self) -> UserPoolIds:
        """The officers' pool and app client of a stack created earlier (by `make run`), found by their names.

        LookupError when this stack has no such pool or client.
        """
        pool_logical_id, client_logical_id = self._officers_cognito()
        pool_name = self.resolve(self.resources[pool_logical_id]["Properties"]["UserPoolName"])
        client_name = self.resolve(self.resources[client_logical_id]["Properties"]["ClientName"])
        idp = self.session.client("cognito-idp")
        pools = idp.get_paginator("list_user_pools").paginate(MaxResults=60)
        pool_id = next((pool["Id"] for page in pools for pool in page["UserPools"] if pool["Name"] == pool_name), None)
        if pool_id is None:
            raise LookupError(f"there is no user pool named {pool_name}")
        clients = idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60)
        client_id = next(
            (
                client["ClientId"]
                for page in clients
                for client in page["UserPoolClients"]
                if client["ClientName"] == client_name
            ),
            None,
        )
        if client_id is None:
            raise LookupError(f"user pool {pool_name} has no app client named {client_name}")
        self.physical[pool_logical_id] = self._user_pool_physical(pool_id)
        self.physical[client_logical_id] = {"Ref": client_id, "Name": client_name}
        return self.officers_pool()

    def queue_for_name(self, queue_name: str) -> dict[str, str]:
        for physical in self.physical.values():
            if physical.get("QueueName") == queue_name:
                return physical
        raise KeyError(queue_name)

    def topic_for_name(self, topic_name: str) -> dict[str, str]:
        for physical in self.physical.values():
            if physical.get("TopicName") == topic_name:
                return physical
        raise KeyError(topic_name)

    # --- intrinsic functions -------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt":
                return self.physical[argument[0]][argument[1]]
            if function == "Fn::Sub":
                return self._sub(argument)
            if function == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if condition_holds(self.template, condition) else when_false)
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        return self.physical[name]["Ref"]

    def _sub(self, text: str) -> str:
        import re

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.physical[logical_id][attribute]
            return self._ref(name)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _officers_cognito(self) -> tuple[str, str]:
        """The logical ids of the user pool and app client behind the app's COGNITO_CLIENT_ID setting."""
        variables = self.template["Globals"]["Function"]["Environment"]["Variables"]
        client_logical_id = variables[CLIENT_ID_SETTING]["Ref"]
        pool_logical_id = self.resources[client_logical_id]["Properties"]["UserPoolId"]["Ref"]
        return pool_logical_id, client_logical_id

    def _ordered(self, types: tuple[str, ...]) -> list[str]:
        """The resources of these types; those behind a deploy parameter's Condition (the operators' email
        subscription) exist only in AWS."""
        return [
            logical_id
            for logical_id, resource in self.resources.items()
            if resource["Type"] in types and "Condition" not in resource
        ]

    def _properties(self, logical_id: str) -> dict[str, Any]:
        return self.resolve(self.resources[logical_id]["Properties"])

    # --- creators ------------------------------------------------------------------------------------------

    def _create_kms_key(self, logical_id: str) -> None:
        properties = self._properties(logical_id)
        kms = self.session.client("kms")
        key = kms.create_key(Description=properties.get("Description", logical_id))["KeyMetadata"]
        self.physical[logical_id] = {"Ref": key["KeyId"], "Arn": key["Arn"]}

    def _create_queue(self, logical_id: str) -> None:
        properties = self._properties(logical_id)
        name = properties.pop("QueueName")
        attributes = {
            # As the SQS API spells them: JSON for a redrive policy, "true" for SqsManagedSseEnabled.
            key: json.dumps(value) if isinstance(value, dict | bool) else str(value)
            for key, value in properties.items()
        }
        attributes.pop("KmsMasterKeyId", None)  # moto accepts it, but local queues need no key
        sqs = self.session.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.physical[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name}

    def _create_table(self, logical_id: str) -> None:
        properties = self._properties(logical_id)
        dynamodb = self.session.client("dynamodb")
        dynamodb.create_table(
            TableName=properties["TableName"],
            BillingMode=properties["BillingMode"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            GlobalSecondaryIndexes=properties.get("GlobalSecondaryIndexes", []),
        )
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=properties["TableName"], TimeToLiveSpecification=ttl)
        arn = dynamodb.describe_table(TableName=properties["TableName"])["Table"]["TableArn"]
        self.physical[logical_id] = {"Ref": properties["TableName"], "Arn": arn}

    def _create_bucket(self, logical_id: str) -> None:
        properties = self._properties(logical_id)
        name = properties["BucketName"]
        s3 = self.session.client("s3")
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
        )
        encryption = properties.get("BucketEncryption")
        if encryption:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": _encryption_by_default(
                                rule["ServerSideEncryptionByDefault"]
                            ),
                            "BucketKeyEnabled": rule.get("BucketKeyEnabled", False),
                        }
                        for rule in encryption["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        lifecycle = properties.get("LifecycleConfiguration")
        if lifecycle:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in lifecycle["Rules"]]}
            )
        notifications = properties.get("NotificationConfiguration")
        if notifications:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration=_notification_configuration(notifications)
            )
            self._discard_test_events({queue["Queue"] for queue in notifications["QueueConfigurations"]})
        self.physical[logical_id] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}

    def _discard_test_events(self, queue_arns: set[str]) -> None:
        """Take the s3:TestEvent S3 sends each destination when notifications are configured (moto does too).

        In AWS it reaches the queue when the stack creates the bucket, long before any upload; a local stack starts
        with its queues empty, as the dispatcher and the tests expect.
        """
        sqs = self.session.client("sqs")
        for arn in queue_arns:
            url = next(physical["Ref"] for physical in self.physical.values() if physical.get("Arn") == arn)
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            for message in messages:
                if json.loads(message["Body"]).get("Event") == S3_TEST_EVENT:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                else:  # not ours to take: visible again at once
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )

    def _open_what_cloudfront_reads(self, logical_id: str) -> None:
        """The local stand-in for a CloudFront distribution: what it may read from the bucket, anyone may read.

        Only the grants to CloudFront become a bucket policy (Principal "*", same actions and objects). The rest of
        the template's policy is left out: moto ignores conditions, so the TLS-only Deny would deny every request.
        """
        properties = self.resources[logical_id]["Properties"]
        grants = [
            statement
            for statement in properties["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Allow" and statement.get("Principal") == CLOUDFRONT
        ]
        if not grants:
            return
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": f"LocalStandInFor{statement.get('Sid', 'CloudFront')}",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": statement["Action"],
                    "Resource": self.resolve(statement["Resource"]),  # not the condition: it names the distribution
                }
                for statement in grants
            ],
        }
        bucket = self.resolve(properties["Bucket"])
        self.session.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    def _create_topic(self, logical_id: str) -> None:
        properties = self._properties(logical_id)
        name = properties["TopicName"]
        # Like the queues: moto accepts KmsMasterKeyId, but a local topic needs no key (and no policy).
        arn = self.session.client("sns").create_topic(Name=name)["TopicArn"]
        self.physical[logical_id] = {"Ref": arn, "TopicArn": arn, "TopicName": name}

    def _create_subscription(self, logical_id: str) -> None:
        """A topic's subscription (SQS only: the broadcast-events topic -> the social-posts queue); moto delivers to
        the queue on every publish. Its other properties (RawMessageDelivery, FilterPolicy, …) are SNS attributes."""
        properties = self._properties(logical_id)
        if properties["Protocol"] != "sqs":
            raise NotImplementedError(
                f"local SNS subscriptions support the sqs protocol only, not {properties['Protocol']}"
            )
        attributes = {
            key: json.dumps(value)
            if isinstance(value, dict)
            else str(value).lower()
            if isinstance(value, bool)
            else value
            for key, value in properties.items()
            if key not in ("TopicArn", "Protocol", "Endpoint", "Region")
        }
        arn = self.session.client("sns").subscribe(
            TopicArn=properties["TopicArn"],
            Protocol="sqs",
            Endpoint=properties["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.physical[logical_id] = {"Ref": arn}

    def _create_user_pool(self, logical_id: str) -> None:
        properties = self._properties(logical_id)
        # The CloudFormation-only names; every other property is a CreateUserPool parameter as it is, so that a new
        # one in the template reaches moto (or fails here, loudly) rather than being dropped.
        name = properties.pop("UserPoolName")
        enabled_mfas = properties.pop("EnabledMfas", [])
        idp = self.session.client("cognito-idp")
        pool_id = idp.create_user_pool(PoolName=name, **properties)["UserPool"]["Id"]
        if "SOFTWARE_TOKEN_MFA" in enabled_mfas:
            # CloudFormation's EnabledMfas is the API's SetUserPoolMfaConfig.
            idp.set_user_pool_mfa_config(
                UserPoolId=pool_id,
                SoftwareTokenMfaConfiguration={"Enabled": True},
                MfaConfiguration=properties.get("MfaConfiguration", "OFF"),
            )
        self.physical[logical_id] = self._user_pool_physical(pool_id)

    def _user_pool_physical(self, pool_id: str) -> dict[str, str]:
        provider_name = f"cognito-idp.{self.region}.amazonaws.com/{pool_id}"
        return {
            "Ref": pool_id,
            "UserPoolId": pool_id,
            "Arn": f"arn:aws:cognito-idp:{self.region}:{ACCOUNT_ID}:userpool/{pool_id}",
            "ProviderName": provider_name,
            "ProviderURL": f"https://{provider_name}",
        }

    def _create_user_pool_client(self, logical_id: str) -> None:
        properties = self._properties(logical_id)
        # Local sign-in is scripted (`make token` sends a password): the SRP exchange the template allows needs a
        # client-side SRP implementation, so the local client also allows USER_PASSWORD_AUTH. In AWS it stays off.
        flows = properties.get("ExplicitAuthFlows", [])
        properties["ExplicitAuthFlows"] = [*flows, LOCAL_AUTH_FLOW] if LOCAL_AUTH_FLOW not in flows else flows
        client = self.session.client("cognito-idp").create_user_pool_client(**properties)["UserPoolClient"]
        self.physical[logical_id] = {"Ref": client["ClientId"], "Name": client["ClientName"]}

    def _create_user_pool_group(self, logical_id: str) -> None:
        properties = self._properties(logical_id)
        self.session.client("cognito-idp").create_group(**properties)
        self.physical[logical_id] = {"Ref": properties["GroupName"]}


def condition_holds(template: dict[str, Any], name: str) -> bool:
    """A template condition, with every parameter at its default (local stacks and tests take no parameters)."""

    def evaluate(expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((function, argument),) = expression.items()
            if function == "Fn::Equals":
                left, right = (str(evaluate(item)) for item in argument)
                return left == right
            if function == "Fn::Not":
                return not evaluate(argument[0])
            if function == "Fn::And":
                return all(evaluate(item) for item in argument)
            if function == "Fn::Or":
                return any(evaluate(item) for item in argument)
            if function == "Condition":
                return condition_holds(template, argument)
            if function == "Ref" and argument in template.get("Parameters", {}):
                return template["Parameters"][argument]["Default"]
        if isinstance(expression, dict | list):
            raise NotImplementedError(f"conditions here know Fn::Equals/Not/And/Or and parameters: {expression}")
        return expression

    return bool(evaluate(template["Conditions"][name]))


def _encryption_by_default(by_default: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's default encryption -> the S3 API's (a key id only with SSE-KMS)."""
    api: dict[str, Any] = {"SSEAlgorithm": by_default["SSEAlgorithm"]}
    if "KMSMasterKeyID" in by_default:
        api["KMSMasterKeyID"] = by_default["KMSMasterKeyID"]
    return api


def _notification_configuration(notifications: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's bucket NotificationConfiguration -> the S3 API's; only SQS destinations are used."""
    unsupported = set(notifications) - {"QueueConfigurations"}
    if unsupported:
        raise NotImplementedError(f"local S3 notifications support QueueConfigurations only, not {sorted(unsupported)}")
    queues = []
    for queue in notifications["QueueConfigurations"]:
        api_queue: dict[str, Any] = {"QueueArn": queue["Queue"], "Events": [queue["Event"]]}
        rules = queue.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            api_queue["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
        queues.append(api_queue)
    return {"QueueConfigurations": queues}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    api_rule: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        api_rule["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "NoncurrentVersionExpiration" in rule:
        api_rule["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        }
    if "AbortIncompleteMultipartUpload" in rule:
        api_rule["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return api_rule


# --- Lambda asynchronous invocation (SNS -> Lambda) ----------------------------------------------------------

# Lambda's defaults for a function without an AWS::Lambda::EventInvokeConfig.
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_SECONDS = 21600


@dataclass(frozen=True)
class AsyncInvokeConfig:
    """How Lambda treats a function's failed asynchronous invocations, as the template configures it."""

    maximum_retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    maximum_event_age_seconds: int = DEFAULT_MAX_EVENT_AGE_SECONDS
    on_failure_queue: str | None = None  # the QueueName of an SQS on-failure destination


def async_invoke_config(function_name: str, template: Path = TEMPLATE) -> AsyncInvokeConfig:
    """The EventInvokeConfig of the Chalice function ``function_name`` (its logical id is chalice's: ReceiveSms)."""
    resources: dict[str, dict[str, Any]] = json.loads(template.read_text())["Resources"]
    function_ref = {"Ref": to_cfn_resource_name(function_name)}
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig" and properties.get("FunctionName") == function_ref:
            return AsyncInvokeConfig(
                maximum_retry_attempts=properties.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS),
                maximum_event_age_seconds=properties.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS),
                on_failure_queue=_queue_name(resources, properties),
            )
    return AsyncInvokeConfig()


def _queue_name(resources: dict[str, dict[str, Any]], invoke_config: dict[str, Any]) -> str | None:
    """The name of the SQS queue {"Fn::GetAtt": [Id, "Arn"]} an on-failure destination points at, if it is one."""
    destination = invoke_config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if not isinstance(destination, dict) or "Fn::GetAtt" not in destination:
        return None
    target = resources.get(destination["Fn::GetAtt"][0], {})
    return target["Properties"]["QueueName"] if target.get("Type") == "AWS::SQS::Queue" else None
