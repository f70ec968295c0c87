"""The local stack, built once per test session, and helpers to make release requests on it."""

import copy
import itertools
import json

import boto3
import pytest

from local_stack.definition import ROOT
from local_stack.example_xpi import build_xpi
from local_stack.stack import LocalStack

EXAMPLE = json.loads(
    (ROOT / "state_machines" / "system_addons" / "examples" / "example-addon.json").read_text()
)
_names = itertools.count(1)
EXECUTION_ARN_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:system-addons:"


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """Every local service, with the real definition deployed on moto."""
    work_dir = tmp_path_factory.mktemp("stack")
    with LocalStack(work_dir=work_dir, state_file=work_dir / "stack.json") as running:
        yield running


@pytest.fixture
def lambda_client(stack):
    """A Lambda client on the local endpoint, to invoke one function on its own."""
    return boto3.client(
        "lambda",
        endpoint_url=stack.functions.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def unique_name(prefix: str) -> str:
    """An execution or add-on name no other test uses."""
    return f"{prefix}-{next(_names)}"


def make_request(stack, shortname: str, version: str = "1.0.0", upload=True, **overrides):
    """A valid request for a new add-on, its signed XPI uploaded where the workflow takes it."""
    request = copy.deepcopy(EXAMPLE)
    addon_id = f"{shortname}@mozilla.org"
    key = f"{shortname}/{shortname}-{version}.xpi"
    request["addon"].update(
        id=addon_id,
        name=f"{shortname} fix",
        version=version,
        xpi_url=f"s3://sysaddons-signed/{key}",
    )
    for field, value in overrides.items():
        request[field] = value
    if upload:
        stack.upload_signed_xpi(key, build_xpi(addon_id, version, f"{shortname} fix"))
    return request


def step_event(request: dict, execution_name: str, state: str, **workflow) -> dict:
    """The event the definition sends a Task, for invoking a function on its own."""
    return {
        "workflow": {**request, **workflow},
        "execution": f"{EXECUTION_ARN_PREFIX}{execution_name}",
        "execution_name": execution_name,
        "state": state,
    }


def invoke(lambda_client, function: str, event: dict) -> tuple[dict, str | None]:
    """Invoke one function; answers its result and the error type if it failed."""
    answer = lambda_client.invoke(FunctionName=f"sysaddons_{function}", Payload=json.dumps(event))
    payload = json.loads(answer["Payload"].read())
    return payload, answer.get("FunctionError") and payload.get("errorType")
