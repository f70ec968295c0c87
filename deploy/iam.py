"""The workflow's roles, from the policy and trust documents in iam/ with placeholders filled.

A placeholder is ``${Name}``. A string that is exactly one placeholder takes the value as it
is, so a list fills a whole ``Resource``; a placeholder inside a longer string takes text.
"""

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from botocore.exceptions import ClientError

from deploy.config import CREATE, Environment, FunctionConfig
from deploy.errors import ConfigurationError
from deploy.plan import Plan

IAM_DIR = Path(__file__).resolve().parent.parent / "iam"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


@dataclass(frozen=True)
class RoleDocuments:
    """Where one role's trust and permission documents are, and what the role is for."""

    trust: str
    policy: str
    description: str


ROLE_DOCUMENTS = {
    "functions": RoleDocuments(
        "lambda-trust.json",
        "functions-policy.json",
        "Runs the system add-on workflow's Lambda functions",
    ),
    "state_machine": RoleDocuments(
        "state-machine-trust.json",
        "state-machine-policy.json",
        "Runs the system add-on workflow's state machine",
    ),
    "signoff_app": RoleDocuments(
        "lambda-trust.json",
        "signoff-app-policy.json",
        "Runs the system add-on signoff web app",
    ),
}
ARCHIVE_BUCKET_POLICY = "archive-bucket-policy.json"


def fill(document, values: dict):
    """The document with every ${Name} replaced by values[Name]; unknown names are an error."""
    if isinstance(document, dict):
        return {key: fill(value, values) for key, value in document.items()}
    if isinstance(document, list):
        filled = []
        for item in document:
            value = fill(item, values)
            filled.extend(value if isinstance(value, list) and isinstance(item, str) else [value])
        return filled
    if not isinstance(document, str):
        return document

    whole = _PLACEHOLDER.fullmatch(document)
    if whole:
        return _value(whole.group(1), values)

    def text(match: re.Match) -> str:
        value = _value(match.group(1), values)
        if isinstance(value, list):
            raise ConfigurationError(f"${{{match.group(1)}}} is a list and cannot sit inside text")
        return value

    return _PLACEHOLDER.sub(text, document)


def _value(name: str, values: dict):
    if name not in values:
        raise ConfigurationError(f"an IAM document names ${{{name}}}, which nothing fills")
    return values[name]


def load_document(file_name: str, values: dict) -> dict:
    """A document from iam/, filled; a statement left with no resource at all is dropped."""
    document = fill(json.loads((IAM_DIR / file_name).read_text()), values)
    document["Statement"] = [
        statement for statement in document["Statement"] if statement.get("Resource", "*") != []
    ]
    return document


def document_values(
    environment: Environment,
    account: str,
    functions: list[FunctionConfig],
    role_arns: dict[str, str],
    app_function_name: str,
    app_secret_parameters: list[str],
) -> dict:
    """Every placeholder's value for one environment in one account."""
    region = environment.region
    lambda_prefix = f"arn:aws:lambda:{region}:{account}:function"
    logs_prefix = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda"
    ssm_prefix = f"arn:aws:ssm:{region}:{account}:parameter"
    table_prefix = f"arn:aws:dynamodb:{region}:{account}:table"
    state_machine_arn = (
        f"arn:aws:states:{region}:{account}:stateMachine:{environment.state_machine}"
    )
    secrets = sorted(
        {
            name
            for function in functions
            for name in environment.secret_parameters(function.environment)
        }
    )
    sender_domain = environment.sender.rpartition("@")[2]
    return {
        "Region": region,
        "AccountId": account,
        "FunctionArns": [
            arn
            for function in functions
            for arn in (f"{lambda_prefix}:{function.name}", f"{lambda_prefix}:{function.name}:*")
        ],
        "FunctionLogGroupArns": [
            arn
            for function in functions
            for arn in (f"{logs_prefix}/{function.name}", f"{logs_prefix}/{function.name}:*")
        ],
        "FunctionSecretArns": [f"{ssm_prefix}{name}" for name in secrets],
        "SignoffTableArn": f"{table_prefix}/{environment.signoff_table}",
        "LedgerTableArn": f"{table_prefix}/{environment.ledger_table}",
        "Sender": environment.sender,
        "SenderIdentityArns": [
            f"arn:aws:ses:{region}:{account}:identity/{identity}"
            for identity in (environment.sender, sender_domain)
        ],
        "SignedBucketArns": [f"arn:aws:s3:::{bucket}" for bucket in environment.signed_buckets],
        "SignedObjectArns": [f"arn:aws:s3:::{bucket}/*" for bucket in environment.signed_buckets],
        "ArchiveBucket": environment.archive_bucket,
        "ArchivePrefix": environment.archive_prefix,
        "StateMachineArn": state_machine_arn,
        "AliasArn": f"{state_machine_arn}:{environment.alias}",
        "ExecutionArns": (
            f"arn:aws:states:{region}:{account}:execution:{environment.state_machine}:*"
        ),
        "AppLogGroupArns": [
            f"{logs_prefix}/{app_function_name}",
            f"{logs_prefix}/{app_function_name}:*",
        ],
        "AppSecretArns": [f"{ssm_prefix}{name}" for name in app_secret_parameters],
        "FunctionsRoleArn": role_arns["functions"],
    }


def role_arns(environment: Environment, account: str) -> dict[str, str]:
    """Each role's ARN: the configured one, or the one the deployer creates."""
    return {
        role: (
            f"arn:aws:iam::{account}:role/{environment.role_name(role)}"
            if configured == CREATE
            else configured
        )
        for role, configured in environment.roles.items()
    }


def role_documents(role: str, values: dict) -> tuple[dict, dict]:
    """A role's trust document and permission policy, filled."""
    documents = ROLE_DOCUMENTS[role]
    return load_document(documents.trust, values), load_document(documents.policy, values)


def _as_document(value) -> dict:
    # IAM answers documents URL-encoded; boto3 decodes some of them and not others.
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def _same(left: dict, right: dict) -> bool:
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


def ensure_role(iam, plan: Plan, role_name: str, role: str, values: dict) -> None:
    """Create the role from its documents, or bring its trust and inline policy back to them."""
    trust, policy = role_documents(role, values)
    policy_name = ROLE_DOCUMENTS[role].policy.removesuffix(".json")
    resource = f"iam role {role_name}"
    try:
        current = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        current = None

    if current is None:

        def create() -> None:
            iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=ROLE_DOCUMENTS[role].description,
            )
            iam.put_role_policy(
                RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
            )

        plan.change(
            "create", resource, f"trust and policy from iam/{ROLE_DOCUMENTS[role].policy}", create
        )
        return

    if not _same(_as_document(current["AssumeRolePolicyDocument"]), trust):
        plan.change(
            "update",
            resource,
            "trust document",
            lambda: iam.update_assume_role_policy(
                RoleName=role_name, PolicyDocument=json.dumps(trust)
            ),
        )
    try:
        existing = _as_document(
            iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        existing = None
    if existing is None or not _same(existing, policy):
        plan.change(
            "update",
            resource,
            f"policy {policy_name}",
            lambda: iam.put_role_policy(
                RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(policy)
            ),
        )


def retry_while_role_propagates(call, *, attempts: int = 8, first_delay: float = 2.0):
    """Call, retrying while AWS does not yet let a service assume a role created moments ago.

    IAM is eventually consistent: a new role can be refused for several seconds.
    """
    delay = first_delay
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as error:
            message = error.response["Error"].get("Message", "")
            # Lambda: "...cannot be assumed by Lambda"; Step Functions: "Neither the global
            # service principal states.amazonaws.com, nor the regional one is authorized to
            # assume the provided role".
            refused_role = "cannot be assumed" in message or "authorized to assume" in message
            if not refused_role or attempt == attempts - 1:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 15.0)
