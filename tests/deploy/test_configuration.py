"""The Apex configuration, the environments and the IAM documents say what the deploy needs,
and the roles they grant are no wider than the workflow's own resources."""

import json
import re

import pytest

from deploy import iam
from deploy.config import (
    CREATE,
    ENVIRONMENTS_DIR,
    ROLES,
    Environment,
    load_apex_functions,
)
from deploy.errors import ConfigurationError
from local_stack.definition import FUNCTIONS, PROJECT, ROOT, function_folders

ACCOUNT = "111122223333"
ENVIRONMENTS = sorted(path.stem for path in ENVIRONMENTS_DIR.glob("*.json"))


def test_every_function_is_complete_apex_configuration():
    project = json.loads(PROJECT.read_text())
    functions = load_apex_functions()

    assert [function.folder for function in functions] == function_folders()
    assert (ROOT / "apex" / "project.json").resolve() == PROJECT.resolve()
    assert project["hooks"] == {
        "build": "python3 ../../../tools/bundle.py build .",
        "clean": "python3 ../../../tools/bundle.py clean .",
    }
    for function in functions:
        assert function.name == f"sysaddons_{function.folder}"
        assert function.runtime == "python3.12"
        assert function.handler == "main.handle"
        assert function.role.startswith("arn:aws:iam::")
        assert 128 <= function.memory and 1 <= function.timeout <= 900
        assert function.environment["SIGNOFF_TABLE"]


def test_dev_and_prod_are_the_two_environments():
    assert ENVIRONMENTS == ["dev", "prod"]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_environment_deploys_every_function_with_its_own_names_and_secrets(name):
    environment = Environment.load(name)
    functions = environment.functions()

    assert [function.folder for function in functions] == function_folders()
    for function in functions:
        assert function.name.startswith(environment.project_name)
        assert function.environment["SIGNOFF_TABLE"] == environment.signoff_table
        assert function.environment["LEDGER_TABLE"] == environment.ledger_table
        assert function.environment["ARCHIVE_BUCKET"] == environment.archive_bucket
        assert function.environment["EMAIL_SENDER"] == environment.sender
        secrets = {
            key: value for key, value in function.environment.items() if key.endswith("_SECRET")
        }
        assert secrets and all(
            value.startswith(f"ssm:{environment.ssm_path}/") for value in secrets.values()
        )


def test_dev_and_prod_differ_only_in_their_configuration_files():
    dev, prod = Environment.load("dev"), Environment.load("prod")

    assert {function.folder for function in dev.functions()} == {
        function.folder for function in prod.functions()
    }
    assert {function.name for function in dev.functions()}.isdisjoint(
        function.name for function in prod.functions()
    )
    assert dev.ssm_path != prod.ssm_path
    assert dev.state_machine != prod.state_machine
    assert dev.signoff_table != prod.signoff_table


def test_a_secret_outside_the_environment_path_is_refused():
    settings = json.loads((ENVIRONMENTS_DIR / "dev.json").read_text())
    del settings["secrets"]["BUGZILLA_API_KEY_SECRET"]
    environment = Environment.from_dict("dev", settings)

    with pytest.raises(ConfigurationError, match="BUGZILLA_API_KEY_SECRET.*under /sysaddons/dev/"):
        environment.functions()


def test_settings_that_follow_from_resource_names_cannot_be_set_twice():
    settings = json.loads((ENVIRONMENTS_DIR / "dev.json").read_text())
    settings["function_environment"]["SIGNOFF_TABLE"] = "another-table"

    with pytest.raises(ConfigurationError, match="SIGNOFF_TABLE"):
        Environment.from_dict("dev", settings)


def test_a_role_is_created_or_named_by_arn():
    settings = json.loads((ENVIRONMENTS_DIR / "prod.json").read_text())
    settings["roles"]["functions"] = f"arn:aws:iam::{ACCOUNT}:role/managed-elsewhere"
    environment = Environment.from_dict("prod", settings)

    arns = iam.role_arns(environment, ACCOUNT)
    assert arns["functions"] == f"arn:aws:iam::{ACCOUNT}:role/managed-elsewhere"
    assert arns["state_machine"] == f"arn:aws:iam::{ACCOUNT}:role/sysaddons-state-machine"

    settings["roles"]["functions"] = "admin"
    with pytest.raises(ConfigurationError, match="roles.functions"):
        Environment.from_dict("prod", settings)


def filled_documents(name: str) -> tuple[Environment, dict]:
    environment = Environment.load(name)
    functions = environment.functions()
    roles = iam.role_arns(environment, ACCOUNT)
    app_secrets = [
        environment.parameter_name(parameter)
        for parameter in environment.signoff_app.secrets.values()
    ]
    values = iam.document_values(
        environment,
        ACCOUNT,
        functions,
        roles,
        f"{environment.project_name}-signoff-app",
        app_secrets,
    )
    documents = {role: iam.role_documents(role, values) for role in ROLES}
    return environment, documents


def statements(policy: dict) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def resources(statement: dict) -> list[str]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_documents_are_filled_completely(name):
    _, documents = filled_documents(name)

    for trust, policy in documents.values():
        text = json.dumps([trust, policy])
        assert "${" not in text
        assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_state_machine_may_invoke_only_the_workflow_functions(name):
    environment, documents = filled_documents(name)
    trust, policy = documents["state_machine"]
    prefix = f"arn:aws:lambda:{environment.region}:{ACCOUNT}:function:"

    assert trust["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}
    assert [statement["Action"] for statement in policy["Statement"]] == ["lambda:InvokeFunction"]
    allowed = set(resources(policy["Statement"][0]))
    names = {function.name for function in environment.functions()}
    assert allowed == {f"{prefix}{name}" for name in names} | {
        f"{prefix}{name}:*" for name in names
    }


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_functions_role_stays_within_the_workflow_resources(name):
    environment, documents = filled_documents(name)
    by_sid = statements(documents["functions"][1])
    region = environment.region

    for arn in resources(by_sid["ReadOwnSecrets"]):
        assert arn.startswith(f"arn:aws:ssm:{region}:{ACCOUNT}:parameter{environment.ssm_path}/")
    assert set(resources(by_sid["UseWorkflowTables"])) == {
        f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{environment.signoff_table}",
        f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{environment.ledger_table}",
    }
    assert by_sid["SendOnlyFromWorkflowSender"]["Condition"] == {
        "StringEquals": {"ses:FromAddress": environment.sender}
    }
    writes = [
        statement
        for statement in documents["functions"][1]["Statement"]
        if "s3:PutObject" in statement["Action"]
    ]
    assert [resources(statement) for statement in writes] == [
        [f"arn:aws:s3:::{environment.archive_bucket}/{environment.archive_prefix}*"]
    ]
    every_resource = [
        arn for statement in documents["functions"][1]["Statement"] for arn in resources(statement)
    ]
    assert "*" not in every_resource
    # The only trailing wildcards are a log group's streams and our state machine's executions,
    # which the functions may only describe (to tell whether another execution still ships).
    executions = f"arn:aws:states:{region}:{ACCOUNT}:execution:{environment.state_machine}:*"
    assert resources(by_sid["SeeWhetherAnotherExecutionStillShips"]) == [executions]
    assert by_sid["SeeWhetherAnotherExecutionStillShips"]["Action"] == "states:DescribeExecution"
    assert not [
        arn
        for arn in every_resource
        if arn.endswith(":*") and ":log-group:" not in arn and arn != executions
    ]


def test_only_the_task_token_actions_are_granted_on_every_resource():
    _, documents = filled_documents("prod")

    for role, (_, policy) in documents.items():
        for statement in policy["Statement"]:
            if "*" in resources(statement):
                assert role == "signoff_app"
                assert statement["Action"] == ["states:SendTaskSuccess", "states:SendTaskFailure"]


def test_created_roles_are_named_after_the_environment():
    environment = Environment.load("dev")

    assert all(environment.roles[role] == CREATE for role in ROLES)
    assert environment.role_name("state_machine") == "sysaddons-dev-state-machine"


def test_functions_folder_matches_the_definition_placeholders():
    definition = (ROOT / "state_machines" / "system_addons" / "definition.asl.json").read_text()
    placeholders = set(re.findall(r"\$\{([A-Za-z]+)FunctionArn\}", definition))

    assert len(placeholders) == len(list(FUNCTIONS.glob("*/function.json")))
