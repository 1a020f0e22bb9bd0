"""What each Lambda function asks of AWS, and whether its IAM role in the packaged template allows it.

Two halves, used by tests/package/test_package.py:

- ``Recorder`` records, while a scenario runs on moto, every AWS request the app makes, attributed to the function
  whose handler is running (``attribute_handlers``) or named explicitly (``as_function``). It patches
  ``botocore.client.BaseClient._make_api_call``, which every boto3 client method and PynamoDB
  (``pynamodb.connection.base.Connection._make_api_call`` -> ``self.client._make_api_call``) go through, and the S3
  presigners ``generate_presigned_url`` / ``generate_presigned_post``: no request is made when a URL is signed, but
  whoever signs it needs the permission when the URL is used. Each request becomes the IAM authorisations it needs
  (``Access``: action, resource ARN, request context keys such as the KMS encryption context).
- ``Policies`` reads a function's role from the SAM template (inline policies, AWS::IAM::Policy and
  AWS::IAM::ManagedPolicy resources that name the role, the AWS managed policies we use), substitutes the template's
  intrinsics with the names the test stack's resources have in moto, and evaluates Allow/Deny, Action/NotAction,
  Resource/NotResource wildcards and the condition keys we use. A condition key or operator it does not know raises:
  a statement it cannot judge must never pass silently. It also adds what a function needs without its code asking
  (``requirements``): KMS use by the services that encrypt with a customer managed key (kms:ViaService), and what
  Lambda does with the function's role (logs, polling its SQS event sources, its on-failure destinations).
"""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from tools.resources import condition_holds

REGION = "ap-south-1"
ACCOUNT_ID = "123456789012"  # moto's
PARTITION = "aws"
# Publishing an SMS to a phone number has no topic ARN: IAM evaluates such a Publish against resource "*", which an
# Allow on "*" or a NotResource on "arn:aws:sns:*:*:*" matches, and an Allow on topic ARNs does not. (Not the number
# itself: failure messages must never show one.)
PHONE_NUMBER = "<phone number>"
LAMBDA_ORIGIN = "lambda"  # what Lambda does with the function's role, not its code


@dataclass(frozen=True, order=True)
class Access:
    """One IAM authorisation a request needs: ``action`` on ``resource`` with the request's condition ``keys``."""

    action: str
    resource: str
    keys: tuple[tuple[str, str], ...] = ()  # e.g. ("kms:EncryptionContext:purpose", "sampark-reply-handle")
    origin: str = field(default="code", compare=False)  # "code", "presigned", "implied: …", "lambda", "settings"
    operation: str = field(default="", compare=False)  # the API call behind it, e.g. "dynamodb.TransactWriteItems"

    def describe(self, rename: Callable[[str], str] = str) -> str:
        keys = ", ".join(f"{name}={rename(value)}" for name, value in self.keys)
        where = f" [{keys}]" if keys else ""
        how = f"  ({rename(self.origin)}{', ' + self.operation if self.operation else ''})"
        return f"{self.action} on {rename(self.resource)}{where}{how}"


def encryption_context_keys(context: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((f"kms:EncryptionContext:{name}", str(value)) for name, value in (context or {}).items()))


# --- requests -> IAM ---------------------------------------------------------------------------------------------

# The IAM service prefix where it differs from the signing name of the API.
_IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "sms-voice": "sms-voice"}
# DynamoDB data-plane calls (each needs the table key when the table is encrypted with a customer managed key).
_DYNAMODB_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
_DYNAMODB_TRANSACT_ACTIONS = {"ConditionCheck": "ConditionCheckItem", "Get": "GetItem", **_DYNAMODB_ITEM_ACTIONS}
DYNAMODB_DATA_ACTIONS = frozenset(
    f"dynamodb:{name}"
    for name in (
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "ConditionCheckItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
    )
)
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_SNS_ACCOUNT_WIDE = {
    "ListTopics",
    "ListSubscriptions",
    "GetSMSAttributes",
    "SetSMSAttributes",
    "CheckIfPhoneNumberIsOptedOut",
    "ListPhoneNumbersOptedOut",
    "OptInPhoneNumber",
    "GetSMSSandboxAccountStatus",
}
_S3_MULTIPART_PUT = {"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "UploadPartCopy"}


class UnmappedRequestError(Exception):
    """A request the recorder cannot turn into IAM authorisations: teach ``accesses_of_request``."""


def accesses_of_request(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    response: Mapping[str, Any] | None,
    *,
    region: str = REGION,
    account: str = ACCOUNT_ID,
    origin: str = "code",
) -> list[Access]:
    """The IAM authorisations of one API request (``service`` as botocore signs it: dynamodb, s3, sqs, sns, kms…)."""
    prefix = _IAM_PREFIX.get(service, service)
    label = f"{service}.{operation}"

    def access(action: str, resource: str, keys: tuple[tuple[str, str], ...] = ()) -> Access:
        return Access(action, resource, keys, origin, label)

    arn = f"arn:{PARTITION}:{{}}:{region}:{account}:{{}}".format
    if prefix == "dynamodb":
        return _dynamodb(operation, params, access, arn)
    if prefix == "s3":
        return _s3(operation, params, access)
    if prefix == "sqs":
        return _sqs(operation, params, access, arn)
    if prefix == "sns":
        return _sns(operation, params, access, arn)
    if prefix == "kms":
        key = params.get("KeyId") or (response or {}).get("KeyId") or params.get("DestinationKeyId") or "*"
        if key != "*" and not str(key).startswith("arn:"):
            key = arn("kms", key if str(key).startswith("alias/") else f"key/{key}")
        return [access(f"kms:{operation}", key, encryption_context_keys(params.get("EncryptionContext")))]
    if prefix == "secretsmanager":
        secret = (response or {}).get("ARN") or params.get("SecretId") or "*"
        if secret != "*" and not str(secret).startswith("arn:"):
            secret = arn("secretsmanager", f"secret:{secret}")  # AWS adds a 6-character suffix: match with -??????
        return [access(f"secretsmanager:{operation}", secret)]
    if prefix == "logs":
        group = params.get("logGroupName")
        if not group:
            return [access(f"logs:{operation}", "*")]
        stream = params.get("logStreamName")
        resource = arn("logs", f"log-group:{group}" + (f":log-stream:{stream}" if stream else ""))
        return [access(f"logs:{operation}", resource)]
    for name in ("ResourceArn", "ResourceARN", "Arn", "arn"):
        if isinstance(params.get(name), str):
            return [access(f"{prefix}:{operation}", params[name])]
    return [access(f"{prefix}:{operation}", "*")]


def _dynamodb(operation: str, params: Mapping[str, Any], access: Any, arn: Any) -> list[Access]:
    def table(name: str, index: str | None = None) -> str:
        return arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))

    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params["TransactItems"]:
            [(kind, request)] = item.items()
            found.append(access(f"dynamodb:{_DYNAMODB_TRANSACT_ACTIONS[kind]}", table(request["TableName"])))
        return found
    if operation in ("BatchGetItem", "BatchWriteItem"):
        # IAM checks these as themselves, on each table named (not as GetItem/PutItem/DeleteItem).
        return [access(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
    if operation in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
        raise UnmappedRequestError(f"PartiQL ({operation}): map its statements to tables before using it")
    if "TableName" in params:
        return [access(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    return [access(f"dynamodb:{operation}", "*")]


def _s3(operation: str, params: Mapping[str, Any], access: Any) -> list[Access]:
    bucket = params.get("Bucket")
    if not bucket:
        return [access(f"s3:{operation}", "*")]
    bucket_arn = f"arn:{PARTITION}:s3:::{bucket}"

    def obj(key: str) -> str:
        return f"{bucket_arn}/{key}"

    versioned = "Version" if params.get("VersionId") else ""
    if operation == "PutObject" or operation in _S3_MULTIPART_PUT:
        found = [access("s3:PutObject", obj(params["Key"]))]
        if operation == "UploadPartCopy":
            found.append(_copy_source(params["CopySource"], access))
        return found
    if operation in ("GetObject", "HeadObject"):
        return [access(f"s3:GetObject{versioned}", obj(params["Key"]))]
    if operation == "DeleteObject":
        return [access(f"s3:DeleteObject{versioned}", obj(params["Key"]))]
    if operation == "DeleteObjects":
        return [
            access("s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject", obj(item["Key"]))
            for item in params["Delete"]["Objects"]
        ]
    if operation == "CopyObject":
        return [_copy_source(params["CopySource"], access), access("s3:PutObject", obj(params["Key"]))]
    if operation in ("ListObjectsV2", "ListObjects", "HeadBucket"):
        keys = (("s3:prefix", params["Prefix"]),) if params.get("Prefix") is not None else ()
        return [access("s3:ListBucket", bucket_arn, keys)]
    if operation == "ListObjectVersions":
        keys = (("s3:prefix", params["Prefix"]),) if params.get("Prefix") is not None else ()
        return [access("s3:ListBucketVersions", bucket_arn, keys)]
    if operation == "AbortMultipartUpload":
        return [access("s3:AbortMultipartUpload", obj(params["Key"]))]
    if "Key" in params:
        return [access(f"s3:{operation}", obj(params["Key"]))]
    return [access(f"s3:{operation}", bucket_arn)]


def _copy_source(source: Any, access: Any) -> Access:
    if isinstance(source, str):
        bucket, _, key = unquote(source.lstrip("/")).partition("/")
        key, _, version = key.partition("?versionId=")
    else:
        bucket, key, version = source["Bucket"], source["Key"], source.get("VersionId")
    return access("s3:GetObjectVersion" if version else "s3:GetObject", f"arn:{PARTITION}:s3:::{bucket}/{key}")


def _queue_arn(url: str, arn: Any) -> str:
    """https://sqs.<region>.amazonaws.com/<account>/<name> (or the legacy <region>.queue.amazonaws.com) -> ARN."""
    parts = urlsplit(url)
    host = (parts.hostname or "").split(".")
    account, name = parts.path.strip("/").split("/")[-2:]
    region = host[1] if host[0] == "sqs" else host[0] if host[1:2] == ["queue"] else None
    return f"arn:{PARTITION}:sqs:{region}:{account}:{name}" if region else arn("sqs", name)


def _sqs(operation: str, params: Mapping[str, Any], access: Any, arn: Any) -> list[Access]:
    action = f"sqs:{_SQS_ACTIONS.get(operation, operation)}"
    if "QueueUrl" in params:
        return [access(action, _queue_arn(params["QueueUrl"], arn))]
    if "QueueName" in params:
        return [access(action, arn("sqs", params["QueueName"]))]
    return [access(action, "*")]


def _sns(operation: str, params: Mapping[str, Any], access: Any, arn: Any) -> list[Access]:
    action = "sns:Publish" if operation == "PublishBatch" else f"sns:{operation}"
    if operation == "Publish" and params.get("PhoneNumber"):
        return [access(action, PHONE_NUMBER)]
    if operation == "CreateTopic":
        return [access(action, arn("sns", params["Name"]))]
    if operation in _SNS_ACCOUNT_WIDE:
        return [access(action, "*")]
    for name in ("TopicArn", "TargetArn", "SubscriptionArn", "ResourceArn"):
        if params.get(name):
            return [access(action, params[name])]
    return [access(action, "*")]


# --- the recorder --------------------------------------------------------------------------------------------------


class Recorder:
    """Records the IAM authorisations of every AWS request made while a function runs (see the module docstring).

    Attribution is a stack shared by all threads (s3transfer uploads in worker threads); scenarios run functions
    one at a time, so whatever request is made while a handler runs is that handler's. Requests made outside any
    function (test setup, the local event-source dispatcher) are not recorded.
    """

    def __init__(self, *, region: str = REGION, account: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account = account
        self.recorded: dict[str, list[Access]] = {}
        self.errors: list[str] = []  # requests that could not be turned into accesses: the test must fail on them
        self._running: list[str] = []
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []

    # -- attribution

    @property
    def current(self) -> str | None:
        return self._running[-1] if self._running else None

    @contextlib.contextmanager
    def as_function(self, function: str) -> Iterator[None]:
        self._running.append(function)
        try:
            yield
        finally:
            self._running.pop()

    def attribute_handlers(self, handlers: Mapping[str, Any]) -> None:
        """Attribute what each handler object does to its function: ``{logical id: handler}`` (see handlers_of)."""
        by_id = {id(handler): function for function, handler in handlers.items()}
        for kind in {type(handler) for handler in handlers.values()}:
            self._patch(kind, "__call__", self._attributing(kind.__call__, by_id))

    def _attributing(self, original: Callable[..., Any], by_id: Mapping[int, str]) -> Callable[..., Any]:
        recorder = self

        def call(handler: Any, *args: Any, **kwargs: Any) -> Any:
            function = by_id.get(id(handler))
            if function is None:
                return original(handler, *args, **kwargs)
            with recorder.as_function(function):
                return original(handler, *args, **kwargs)

        return call

    # -- what is recorded

    def note(self, *accesses: Access) -> None:
        function = self.current
        if function is None:
            return
        with self._lock:
            self.recorded.setdefault(function, []).extend(accesses)

    def of(self, function: str) -> list[Access]:
        return list(self.recorded.get(function, []))

    def watch(self, owner: Any, name: str, to_accesses: Callable[..., Iterable[Access]]) -> None:
        """Also note ``to_accesses(*args, **kwargs)`` whenever ``owner.name(...)`` is called inside a function."""
        original = getattr(owner, name)

        def watched(*args: Any, **kwargs: Any) -> Any:
            if self.current is not None:
                try:
                    self.note(*to_accesses(*args, **kwargs))
                except Exception as error:  # never into the app, which may catch it: the test reports it
                    self.errors.append(f"{self.current}: {name}: {type(error).__name__}: {error}")
            return original(*args, **kwargs)

        self._patch(owner, name, watched)

    # -- installing

    def __enter__(self) -> Recorder:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def install(self) -> None:
        import botocore.signers
        from botocore.client import BaseClient

        recorder = self
        make_api_call = BaseClient._make_api_call

        def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if recorder.current is None:
                return make_api_call(client, operation_name, api_params)
            try:
                response = make_api_call(client, operation_name, api_params)
            except Exception:
                recorder._note_request(client, operation_name, api_params, None)
                raise
            recorder._note_request(client, operation_name, api_params, response)
            return response

        self._patch(BaseClient, "_make_api_call", _make_api_call)
        url_signer = botocore.signers.generate_presigned_url
        post_signer = botocore.signers.generate_presigned_post

        def generate_presigned_url(
            client: Any, ClientMethod: str, Params: Any = None, ExpiresIn: int = 3600, HttpMethod: Any = None
        ) -> Any:
            operation = client.meta.method_to_api_mapping.get(ClientMethod, ClientMethod)
            recorder._note_request(client, operation, Params or {}, None, origin="presigned")
            return url_signer(client, ClientMethod, Params, ExpiresIn, HttpMethod)

        def generate_presigned_post(
            client: Any, Bucket: str, Key: str, Fields: Any = None, Conditions: Any = None, ExpiresIn: int = 3600
        ) -> Any:
            # ${filename} is the browser's choice: any key under the prefix.
            params = {"Bucket": Bucket, "Key": Key.replace("${filename}", "*")}
            recorder._note_request(client, "PutObject", params, None, origin="presigned")
            return post_signer(client, Bucket, Key, Fields, Conditions, ExpiresIn)

        # Future clients get them from botocore.signers; clients made already carry them as class attributes.
        self._patch(botocore.signers, "generate_presigned_url", generate_presigned_url)
        self._patch(botocore.signers, "generate_presigned_post", generate_presigned_post)
        for kind in _subclasses(BaseClient):
            if "generate_presigned_url" in vars(kind):
                self._patch(kind, "generate_presigned_url", generate_presigned_url)
            if "generate_presigned_post" in vars(kind):
                self._patch(kind, "generate_presigned_post", generate_presigned_post)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        had = name in vars(owner)
        original = vars(owner).get(name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, original) if had else delattr(owner, name))

    def _note_request(
        self, client: Any, operation: str, params: Mapping[str, Any], response: Any, *, origin: str = "code"
    ) -> None:
        service = client.meta.service_model.signing_name or client.meta.service_model.endpoint_prefix
        region = client.meta.region_name or self.region
        try:
            accesses = accesses_of_request(
                service, operation, params, response, region=region, account=self.account, origin=origin
            )
        except Exception as error:  # never into the app, which may catch it: the test reports it
            self.errors.append(f"{self.current}: {service}.{operation}: {type(error).__name__}: {error}")
            return
        self.note(*accesses)


def _subclasses(kind: type) -> list[type]:
    found, todo = [], [kind]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def handlers_of(template: Mapping[str, Any], functions: Iterable[str]) -> dict[str, Any]:
    """The in-process handler object of each function: its ``Handler`` ("app.fetch_media") imported."""
    handlers = {}
    for function in functions:
        module_name, _, attribute = template["Resources"][function]["Properties"]["Handler"].rpartition(".")
        handlers[function] = getattr(importlib.import_module(module_name), attribute)
    return handlers


# --- the policies ----------------------------------------------------------------------------------------------------


class PolicyError(Exception):
    """The template holds something the evaluator cannot judge (a condition key, an intrinsic, a managed policy)."""


# The AWS managed policies the template may attach, as AWS defines them.
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}

_STRING_OPERATORS = {
    "StringEquals": (lambda value, pattern: value == pattern, False),
    "StringNotEquals": (lambda value, pattern: value == pattern, True),
    "StringEqualsIgnoreCase": (lambda value, pattern: value.lower() == pattern.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda value, pattern: value.lower() == pattern.lower(), True),
    "StringLike": (lambda value, pattern: _wildcard(pattern).fullmatch(value) is not None, False),
    "StringNotLike": (lambda value, pattern: _wildcard(pattern).fullmatch(value) is not None, True),
    "ArnEquals": (lambda value, pattern: value == pattern, False),
    "ArnLike": (lambda value, pattern: _wildcard(pattern).fullmatch(value) is not None, False),
    "ArnNotEquals": (lambda value, pattern: value == pattern, True),
    "ArnNotLike": (lambda value, pattern: _wildcard(pattern).fullmatch(value) is not None, True),
}
# The request keys a recorded Access can carry; a condition on any other key cannot be judged here.
_KNOWN_KEY = re.compile(r"kms:EncryptionContext:.+|kms:ViaService|kms:CallerAccount|s3:prefix")


def _wildcard(pattern: str, flags: int = 0) -> re.Pattern[str]:
    if "${" in pattern:
        raise PolicyError(f"policy variables are not evaluated: {pattern}")
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), flags)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    why: str  # the Sid (or position) of the statement that decided, or "no statement allows it"


class Policies:
    """The functions' roles in a SAM template, with physical names from the test stack; see the module docstring.

    ``physical`` maps logical ids to their attributes ({"Ref": …, "Arn": …}) as tools.resources.LocalStack created
    them; resources it does not create (the secret, log groups, functions, roles) get names here.
    ``key_of_unlisted`` gives the KMS key ARN of a resource the template does not declare (e.g. the SNS topics the app
    creates per police area), or None.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        physical: Mapping[str, Mapping[str, str]],
        *,
        stack_name: str,
        region: str = REGION,
        account: str = ACCOUNT_ID,
        key_of_unlisted: Callable[[str, str], str | None] = lambda service, arn: None,
    ) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template["Resources"]
        self.physical = {name: dict(value) for name, value in physical.items()}
        self.stack_name, self.region, self.account = stack_name, region, account
        self.key_of_unlisted = key_of_unlisted
        self._statements: dict[str, list[dict[str, Any]]] = {}

    # -- functions and roles

    def functions(self) -> list[str]:
        return [name for name, r in self.resources.items() if r["Type"] in _FUNCTION_TYPES]

    def role_of(self, function: str) -> str:
        properties = self.resources[function]["Properties"]
        role = properties.get("Role", self.template.get("Globals", {}).get("Function", {}).get("Role"))
        if role is None or "Policies" in properties:
            raise PolicyError(f"{function}: only an explicit Role is evaluated, not a role SAM generates")
        if isinstance(role, dict) and "Fn::GetAtt" in role and _as_list(role["Fn::GetAtt"])[1:] == ["Arn"]:
            return role["Fn::GetAtt"][0]
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}", role.get("Fn::Sub", "") if isinstance(role, dict) else "")
        if match:
            return match.group(1)
        raise PolicyError(f"{function}: Role must be the Arn of a role in the template, not {role}")

    def trusts_lambda(self, role: str) -> bool:
        """Whether Lambda may assume the role (its trust policy allows lambda.amazonaws.com sts:AssumeRole)."""
        document = self.resolve(self.resources[role]["Properties"]["AssumeRolePolicyDocument"])
        return any(
            statement["Effect"] == "Allow"
            and "lambda.amazonaws.com" in _as_list(statement.get("Principal", {}).get("Service", []))
            and any(_wildcard(p, re.I).fullmatch("sts:AssumeRole") for p in _as_list(statement.get("Action", [])))
            and "Condition" not in statement
            for statement in _as_list(document["Statement"])
        )

    def statements(self, role: str) -> list[dict[str, Any]]:
        """Every statement that applies to the role, intrinsics resolved, each with a "Sid" naming where it is."""
        if role not in self._statements:
            self._statements[role] = self._collect(role)
        return self._statements[role]

    def _collect(self, role: str) -> list[dict[str, Any]]:
        properties = self.resources[role]["Properties"]
        if "PermissionsBoundary" in properties:
            raise PolicyError(f"{role}: permissions boundaries are not evaluated")
        found: list[tuple[str, Any]] = []
        for policy in properties.get("Policies", []):
            found.append((f"{role}/{policy.get('PolicyName', '?')}", policy["PolicyDocument"]))
        for arn in properties.get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and set(arn) == {"Ref"} and arn["Ref"] in self.resources:
                found.append((arn["Ref"], self.resources[arn["Ref"]]["Properties"]["PolicyDocument"]))
                continue
            resolved = self.resolve(arn)
            name = resolved.split(":policy/", 1)[-1]
            if not resolved.startswith(f"arn:{PARTITION}:iam::aws:policy/") or name not in MANAGED_POLICIES:
                raise PolicyError(f"{role}: managed policy {resolved} is unknown to tests/iam_access.py")
            found.append((name, {"Statement": MANAGED_POLICIES[name]}))
        for name, resource in self.resources.items():
            if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                continue
            roles = [*resource["Properties"].get("Roles", []), resource["Properties"].get("RoleName")]
            if {"Ref": role} in roles and self._condition_holds(resource):
                found.append((name, resource["Properties"]["PolicyDocument"]))
        statements = []
        for where, document in found:
            for index, statement in enumerate(_as_list(self.resolve(document)["Statement"])):
                statements.append({**statement, "Sid": f"{where}/{statement.get('Sid') or index}"})
        return statements

    # -- decisions

    def decide(self, role: str, access: Access) -> Verdict:
        allowed_by = None
        for statement in self.statements(role):
            if not self._applies(statement, access):
                continue
            if statement["Effect"] == "Deny":
                return Verdict(False, f"explicitly denied by {statement['Sid']}")
            allowed_by = allowed_by or statement["Sid"]
        return Verdict(True, allowed_by) if allowed_by else Verdict(False, "no statement allows it")

    def denied(self, function: str, accesses: Iterable[Access]) -> list[tuple[Access, Verdict]]:
        role = self.role_of(function)
        unique = sorted(set(accesses))
        return [(a, v) for a in unique if not (v := self.decide(role, a)).allowed]

    def _applies(self, statement: Mapping[str, Any], access: Access) -> bool:
        if "Action" in statement:
            if not any(_wildcard(p, re.I).fullmatch(access.action) for p in _as_list(statement["Action"])):
                return False
        elif any(_wildcard(p, re.I).fullmatch(access.action) for p in _as_list(statement["NotAction"])):
            return False
        if "Resource" in statement:
            if not any(_wildcard(p).fullmatch(access.resource) for p in _as_list(statement["Resource"])):
                return False
        elif any(_wildcard(p).fullmatch(access.resource) for p in _as_list(statement["NotResource"])):
            return False
        return all(
            self._condition(operator, key, values, access, statement["Sid"])
            for operator, block in statement.get("Condition", {}).items()
            for key, values in block.items()
        )

    def _condition(self, operator: str, key: str, values: Any, access: Access, sid: str) -> bool:
        if not _KNOWN_KEY.fullmatch(key):
            raise PolicyError(f"{sid}: condition key {key} cannot be judged here; teach tests/iam_access.py")
        request = dict(access.keys)
        if access.action.startswith("kms:"):
            request.setdefault("kms:CallerAccount", self.account)
        present = key in request
        base, if_exists = (operator[: -len("IfExists")], True) if operator.endswith("IfExists") else (operator, False)
        if base == "Null":
            return (not present) == (str(values[0] if isinstance(values, list) else values).lower() == "true")
        if base not in _STRING_OPERATORS or ":" in base:
            raise PolicyError(f"{sid}: condition operator {operator} cannot be judged here; teach tests/iam_access.py")
        compare, negated = _STRING_OPERATORS[base]
        if not present:
            return if_exists or negated
        matched = any(compare(request[key], str(pattern)) for pattern in _as_list(values))
        return not matched if negated else matched

    # -- what a function needs besides its code's requests

    def requirements(self, function: str, recorded: Iterable[Access]) -> list[Access]:
        """The recorded accesses, the KMS use they imply, and what Lambda does with the function's role."""
        needs = list(recorded) + self.lambda_needs(function)
        return needs + [implied for access in needs for implied in self.implied_kms(access)]

    def lambda_needs(self, function: str) -> list[Access]:
        properties = self.resources[function]["Properties"]
        name = self._physical(function)["Ref"]
        group = self.resolve(properties.get("LoggingConfig", {}).get("LogGroup", f"/aws/lambda/{name}"))
        stream = f"arn:{PARTITION}:logs:{self.region}:{self.account}:log-group:{group}:log-stream:2026/01/01/[$LATEST]0"
        needs = [
            Access("logs:CreateLogStream", stream, origin=LAMBDA_ORIGIN, operation="function logs"),
            Access("logs:PutLogEvents", stream, origin=LAMBDA_ORIGIN, operation="function logs"),
        ]
        if properties.get("Tracing", self._global("Tracing")) == "Active":
            for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
                needs.append(Access(action, "*", origin=LAMBDA_ORIGIN, operation="active tracing"))
        for event in properties.get("Events", {}).values():
            if event["Type"] == "SQS":
                queue = self.resolve(event["Properties"]["Queue"])
                for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                    needs.append(Access(action, queue, origin=LAMBDA_ORIGIN, operation="SQS event source"))
            elif event["Type"] in ("Kinesis", "DynamoDB", "MSK", "MQ", "SelfManagedKafka", "DocumentDB"):
                raise PolicyError(f"{function}: what Lambda needs to poll a {event['Type']} source is not listed")
        targets = []
        if "DeadLetterConfig" in properties:
            targets.append(("dead-letter queue", properties["DeadLetterConfig"]["TargetArn"]))
        configs = [properties.get("EventInvokeConfig", {})] + [
            r["Properties"]
            for r in self.resources.values()
            if r["Type"] == "AWS::Lambda::EventInvokeConfig"
            and r["Properties"].get("FunctionName") in ({"Ref": function}, {"Fn::GetAtt": [function, "Arn"]})
        ]
        for config in configs:
            for outcome in ("OnFailure", "OnSuccess"):
                destination = config.get("DestinationConfig", {}).get(outcome, {}).get("Destination")
                if destination is not None:
                    targets.append((f"{outcome} destination", destination))
        for label, target in targets:
            arn = self.resolve(target)
            service = arn.split(":")[2]
            action = {
                "sqs": "sqs:SendMessage",
                "sns": "sns:Publish",
                "lambda": "lambda:InvokeFunction",
                "events": "events:PutEvents",
            }.get(service)
            if action is None:
                raise PolicyError(f"{function}: what Lambda needs to send to {arn} is not listed")
            needs.append(Access(action, arn, origin=LAMBDA_ORIGIN, operation=label))
        return needs

    def implied_kms(self, access: Access) -> list[Access]:
        """KMS use by the service an access goes to, when that resource is encrypted with a customer managed key.

        S3 (SSE-KMS): PutObject needs GenerateDataKey (multipart uploads Decrypt too), GetObject needs Decrypt.
        SQS: SendMessage needs GenerateDataKey and Decrypt, ReceiveMessage Decrypt. SNS: Publish needs
        GenerateDataKey and Decrypt. DynamoDB: every item request needs Decrypt (of the table key, cached by
        DynamoDB for minutes). Secrets Manager: GetSecretValue needs Decrypt. Each with kms:ViaService =
        <service>.<region>.amazonaws.com and the service's encryption context ("*" for a value unknown here).
        """
        service = access.action.split(":", 1)[0]
        kms_actions: list[str] = []
        if access.action in DYNAMODB_DATA_ACTIONS:
            kms_actions = ["kms:Decrypt"]
        elif access.action == "s3:PutObject":
            multipart = access.operation.split(".", 1)[-1] in _S3_MULTIPART_PUT
            kms_actions = ["kms:GenerateDataKey"] + (["kms:Decrypt"] if multipart else [])
        elif access.action in ("s3:GetObject", "s3:GetObjectVersion"):
            kms_actions = ["kms:Decrypt"]
        elif access.action == "sqs:SendMessage" or (access.action == "sns:Publish" and access.resource != PHONE_NUMBER):
            kms_actions = ["kms:GenerateDataKey", "kms:Decrypt"]
        elif access.action in ("sqs:ReceiveMessage", "secretsmanager:GetSecretValue"):
            kms_actions = ["kms:Decrypt"]
        if not kms_actions:
            return []
        encryption = self.encryption_of(service, access.resource)
        if encryption is None:
            return []
        key, context = encryption
        keys = (("kms:ViaService", f"{service}.{self.region}.amazonaws.com"), *encryption_context_keys(context))
        origin = f"implied: {service} uses the key of {access.resource}"
        return [Access(action, key, tuple(sorted(keys)), origin, access.operation) for action in kms_actions]

    def encryption_of(self, service: str, arn: str) -> tuple[str, dict[str, str]] | None:
        """(KMS key ARN, encryption context) the service uses for the resource, or None (no customer managed key)."""
        for name, resource in self.resources.items():
            properties = resource.get("Properties", {})
            kind = resource["Type"]
            if service == "dynamodb" and kind == "AWS::DynamoDB::Table":
                table_arn = self._physical(name)["Arn"]
                if arn != table_arn and not arn.startswith(table_arn + "/"):
                    continue
                sse = properties.get("SSESpecification", {})
                if not sse.get("SSEEnabled") or "KMSMasterKeyId" not in sse:
                    return None
                context = {"aws:dynamodb:tableName": table_arn.split("/")[1], "aws:dynamodb:subscriberId": self.account}
                return self._key(sse["KMSMasterKeyId"], context)
            if service == "s3" and kind == "AWS::S3::Bucket":
                bucket_arn = self._physical(name)["Arn"]
                if not arn.startswith(bucket_arn + "/"):
                    continue
                for rule in properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
                    default = rule.get("ServerSideEncryptionByDefault", {})
                    if default.get("SSEAlgorithm", "").startswith("aws:kms") and "KMSMasterKeyID" in default:
                        context = {"aws:s3:arn": bucket_arn if rule.get("BucketKeyEnabled") else arn}
                        return self._key(default["KMSMasterKeyID"], context)
                return None
            if service == "sqs" and kind == "AWS::SQS::Queue" and self._physical(name)["Arn"] == arn:
                key = properties.get("KmsMasterKeyId")
                return self._key(key, {"aws:sqs:arn": arn}) if key else None
            if service == "sns" and kind == "AWS::SNS::Topic" and self._physical(name)["Ref"] == arn:
                key = properties.get("KmsMasterKeyId")
                return self._key(key, {"aws:sns:topicArn": arn}) if key else None
            secret = kind == "AWS::SecretsManager::Secret"
            if service == "secretsmanager" and secret and self._physical(name)["Ref"] == arn:
                key = properties.get("KmsKeyId")  # none: the AWS managed key aws/secretsmanager
                return self._key(key, {"SecretARN": arn, "SecretVersionId": "*"}) if key else None
        key = self.key_of_unlisted(service, arn)
        if key is None:
            return None
        context = {"sqs": {"aws:sqs:arn": arn}, "sns": {"aws:sns:topicArn": arn}}.get(service, {})
        return self._key(key, context)

    def _key(self, key: Any, context: dict[str, str]) -> tuple[str, dict[str, str]] | None:
        value = str(self.resolve(key))
        if value.startswith("alias/aws/"):
            return None  # an AWS managed key: its key policy lets the service use it for the account
        if not value.startswith("arn:"):
            value = next(
                (p["Arn"] for p in self.physical.values() if p.get("Ref") == value and "Arn" in p),
                f"arn:{PARTITION}:kms:{self.region}:{self.account}:key/{value}",
            )
        return value, context

    # -- intrinsic functions

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._attribute(logical_id, attribute)
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                return self._sub(text, self.resolve(variables))
            if function == "Fn::Join":
                return argument[0].join(str(part) for part in self.resolve(argument[1]))
            if function == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self._condition_named(condition) else when_false)
            if function == "Fn::Select":
                return self.resolve(argument[1])[int(self.resolve(argument[0]))]
            if function.startswith("Fn::"):
                raise PolicyError(f"intrinsic {function} is not evaluated by tests/iam_access.py")
        return {key: self.resolve(item) for key, item in value.items()}

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            parameter = self.template["Parameters"][name]
            if "Default" not in parameter:
                raise PolicyError(f"parameter {name} has no default to evaluate with")
            return parameter["Default"]
        return self._physical(name)["Ref"]

    def _attribute(self, logical_id: str, attribute: str) -> str:
        physical = self._physical(logical_id)
        if attribute not in physical:
            raise PolicyError(f"{logical_id}.{attribute} has no value in the test stack")
        return physical[attribute]

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._attribute(logical_id, attribute)
            return str(self._ref(name))

        return re.sub(r"\$\{(?!!)([^}]+)\}", replace, text).replace("${!", "${")

    def _physical(self, logical_id: str) -> dict[str, str]:
        if logical_id not in self.physical:
            self.physical[logical_id] = self._name(logical_id)
        return self.physical[logical_id]

    def _name(self, logical_id: str) -> dict[str, str]:
        """Names for resources the test stack does not create (as CloudFormation would name them)."""
        if logical_id not in self.resources:
            raise PolicyError(f"{logical_id} is not a resource of the template")
        kind = self.resources[logical_id]["Type"]
        properties = self.resources[logical_id].get("Properties", {})
        prefix = f"arn:{PARTITION}:{{}}:{self.region}:{self.account}:{{}}".format

        def named(key: str, default: str) -> str:
            return str(self.resolve(properties[key])) if key in properties else default

        generated = f"{self.stack_name}-{logical_id}-ABCDEF012345"
        if kind == "AWS::SecretsManager::Secret":
            return {"Ref": prefix("secretsmanager", f"secret:{named('Name', logical_id)}-AbCdEf")}
        if kind == "AWS::Logs::LogGroup":
            name = named("LogGroupName", generated)
            return {"Ref": name, "Arn": prefix("logs", f"log-group:{name}:*")}
        if kind in _FUNCTION_TYPES:
            name = named("FunctionName", generated)
            return {"Ref": name, "Arn": prefix("lambda", f"function:{name}")}
        if kind == "AWS::IAM::Role":
            name = named("RoleName", generated)
            return {"Ref": name, "Arn": f"arn:{PARTITION}:iam::{self.account}:role/{name}"}
        if kind == "AWS::SNS::Topic":
            arn = prefix("sns", named("TopicName", generated))
            return {"Ref": arn, "TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]}
        if kind == "AWS::SQS::Queue":
            name = named("QueueName", generated)
            url = f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
            return {"Ref": url, "Arn": prefix("sqs", name), "QueueName": name}
        raise PolicyError(f"{logical_id} ({kind}) has no physical name in the test stack; name it in _name")

    # -- template conditions (evaluated with the parameters' defaults)

    def _condition_holds(self, resource: Mapping[str, Any]) -> bool:
        return "Condition" not in resource or self._condition_named(resource["Condition"])

    def _condition_named(self, name: str) -> bool:
        return condition_holds(self.template, name)

    def _global(self, name: str) -> Any:
        return self.template.get("Globals", {}).get("Function", {}).get(name)

    # -- physical names back to logical ids

    def logical_names(self, text: str) -> str:
        """``text`` with the test stack's ARNs written as the template would: ${TipsTable.Arn}, ${AWS::Region}…"""
        names = []
        for logical_id, physical in self.physical.items():
            for attribute, value in physical.items():
                if attribute == "Arn" or (attribute == "Ref" and value.startswith("arn:")):
                    names.append((value, f"${{{logical_id}{'.Arn' if attribute == 'Arn' else ''}}}"))
        for value, name in sorted(names, key=lambda pair: -len(pair[0])):
            text = text.replace(value, name)
        if text == self.account:
            return "${AWS::AccountId}"
        for value, name in (
            (f"arn:{PARTITION}:", "arn:${AWS::Partition}:"),
            (f":{self.region}:", ":${AWS::Region}:"),
            (f":{self.account}:", ":${AWS::AccountId}:"),
            (f"/{self.region}/", "/${AWS::Region}/"),
            (f"/{self.account}/", "/${AWS::AccountId}/"),
            (f".{self.region}.", ".${AWS::Region}."),
            (f"{self.stack_name}-", "${AWS::StackName}-"),
        ):
            text = text.replace(value, name)
        return text


_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_NO_VALUE = object()


def failure_report(function: str, role: str, denied: list[tuple[Access, Verdict]], rename: Callable[[str], str]) -> str:
    lines = [f"{function}'s role {role} does not allow {len(denied)} of the requests its scenario made:"]
    lines += [f"  - {access.describe(rename)}\n      {verdict.why}" for access, verdict in denied]
    return "\n".join(lines)


def access_list(
    accesses: Iterable[Access], rename: Callable[[str], str], generalise: Callable[[str], str] = str
) -> list[str]:
    """Distinct "action  resource  [keys]" lines, with logical ids for physical names and ids generalised."""
    lines = set()
    for access in accesses:
        keys = ", ".join(f"{name}={generalise(rename(value))}" for name, value in access.keys)
        origin = "" if access.origin in ("code", "presigned") else f"   ({access.origin.split(' uses ', 1)[0]})"
        lines.add(f"{access.action:<28} {generalise(rename(access.resource))}{f'  [{keys}]' if keys else ''}{origin}")
    return sorted(lines)
