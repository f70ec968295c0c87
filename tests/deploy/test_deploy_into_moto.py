"""Deploy into the local stack's moto, release an add-on on what was deployed, redeploy, change
one function, roll back.

The deployer talks to moto's server on loopback with explicit clients; the state machine it
deploys invokes the local Lambda endpoint, which runs the repository's functions. Names are the
deployed ones (sysaddons_<folder>, qualified by version) because that endpoint answers to them.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from deploy import commands
from deploy.config import Environment
from deploy.errors import NothingToRollBackTo
from deploy.plan import Plan
from deploy.state_machine import alias_version, task_functions, version_number
from local_stack.definition import ROOT, function_folders
from sysaddons import signoffs
from tests.conftest import make_request, unique_name
from tests.deploy.conftest import snapshot_sources

QA = signoffs.Reviewer("qa-reviewer@mozilla.com", {"qa"})
RELMAN = signoffs.Reviewer("relman-reviewer@mozilla.com", {"relman"})
STACK_SIGNOFF_TABLE = "sysaddons-signoffs"
MOTO_ENVIRONMENT = {
    "region": "us-east-1",
    "project_name": "sysaddons",
    "state_machine": "sysaddons-deployed",
    "alias": "live",
    "roles": {"functions": "create", "state_machine": "create", "signoff_app": "create"},
    "ssm_path": "/sysaddons/deployed",
    "secrets": {
        "BUGZILLA_API_KEY_SECRET": "bugzilla-api-key",
        "BALROG_CREDENTIALS_SECRET": "balrog-credentials",
    },
    "tables": {"signoffs": "deployed-signoffs", "ledger": "deployed-ledger"},
    "archive": {
        "bucket": "deployed-archive",
        "prefix": "pub/system-addons/",
        "base_url": "https://archive.localhost/pub/system-addons/",
        "manage_bucket_policy": True,
    },
    "signed_buckets": ["deployed-signed"],
    "sender": "deployed@mozilla.com",
    "function_environment": {"TEST_CHANNEL": "release-sysaddon"},
    "signoff_app": {
        "oidc_issuer": "https://auth.example.test/",
        "oidc_client_id": "sysaddons-signoff-deployed",
        "secrets": {
            "OIDC_CLIENT_SECRET_SECRET": "signoff-app/oidc-client-secret",
            "SECRET_KEY_SECRET": "signoff-app/secret-key",
        },
    },
}


class Deployment:
    """The deployer aimed at moto, keeping what each command printed."""

    def __init__(self, environment, clients, sources):
        self.environment = environment
        self.clients = clients
        self.sources = sources
        self.address = commands.state_machine_address(environment, clients.account)
        self.sfn = clients.client("stepfunctions")

    def deploy(self, sources=None, dry_run=False) -> Plan:
        plan = Plan(dry_run=dry_run, out=io.StringIO())
        commands.deploy(
            self.environment, self.clients, plan, sources or self.sources, revision="0123abc"
        )
        return plan

    def rollback(self, dry_run=False) -> Plan:
        plan = Plan(dry_run=dry_run, out=io.StringIO())
        commands.rollback(self.environment, self.clients, plan)
        return plan

    def live_version(self) -> int:
        return version_number(alias_version(self.sfn, self.address))

    def definition(self, version: int | None = None) -> str:
        arn = self.address.arn if version is None else self.address.version_arn(version)
        return self.sfn.describe_state_machine(stateMachineArn=arn)["definition"]

    def changed_copy(self, tmp_path, marker: str):
        """The deployed sources with one line added to stage_xpi's handler."""
        copy = replace(
            self.sources,
            project_file=tmp_path / "project.json",
            functions_dir=tmp_path / "apex" / "functions",
            build_dir=tmp_path / "build",
        )
        shutil.copytree(self.sources.functions_dir, copy.functions_dir)
        shutil.copy(self.sources.project_file, copy.project_file)
        with (copy.functions_dir / "stage_xpi" / "main.py").open("a") as main:
            main.write(f"# {marker}\n")
        return copy


def output(plan: Plan) -> str:
    return plan.out.getvalue()


def changed(plan: Plan) -> list[str]:
    return [f"{change.action} {change.resource}" for change in plan.changes]


@pytest.fixture(scope="module")
def deployment(stack, moto_clients, tmp_path_factory):
    """The workflow deployed once into moto, from a snapshot of this checkout."""
    s3 = moto_clients.client("s3")
    for bucket in ("deployed-archive", "deployed-signed"):
        s3.create_bucket(Bucket=bucket)
    moto_clients.client("ses").verify_email_identity(EmailAddress="deployed@mozilla.com")
    moto_clients.client("ssm").put_parameter(
        Name="/sysaddons/deployed/bugzilla-api-key", Value="set by a person", Type="SecureString"
    )
    environment = Environment.from_dict("moto", MOTO_ENVIRONMENT)
    running = Deployment(
        environment, moto_clients, snapshot_sources(tmp_path_factory.mktemp("sources"))
    )
    running.first = running.deploy()
    return running


def test_first_deploy_creates_roles_tables_functions_state_machine_and_alias(deployment):
    first, clients = deployment.first, deployment.clients
    folders = function_folders()

    for role in ("sysaddons-functions", "sysaddons-state-machine"):
        assert f"create iam role {role}" in changed(first)
    assert "create dynamodb table deployed-signoffs" in changed(first)
    assert "create dynamodb table deployed-ledger" in changed(first)
    assert "create bucket policy of deployed-archive" in changed(first)
    for folder in folders:
        assert f"create function sysaddons_{folder}" in changed(first)
    assert changed(first)[-2:] == ["create state machine sysaddons-deployed", "create alias live"]
    assert deployment.live_version() == 1

    lambda_client = clients.client("lambda")
    deployed = lambda_client.get_function_configuration(FunctionName="sysaddons_stage_xpi")
    assert deployed["Role"] == f"arn:aws:iam::{clients.account}:role/sysaddons-functions"
    assert deployed["Environment"]["Variables"]["SIGNOFF_TABLE"] == "deployed-signoffs"
    assert (
        deployed["Environment"]["Variables"]["BUGZILLA_API_KEY_SECRET"]
        == "ssm:/sysaddons/deployed/bugzilla-api-key"
    )
    tasks = task_functions(deployment.definition(1))
    assert tasks["StageXpi"].endswith(":function:sysaddons_stage_xpi:1")
    assert tasks["RequestQaSignoff"].endswith(":function:sysaddons_request_signoff:1")


def test_first_deploy_says_which_secrets_people_must_still_set(deployment):
    notes = deployment.first.notes

    assert any("/sysaddons/deployed/balrog-credentials is missing" in note for note in notes)
    assert not any("bugzilla-api-key" in note for note in notes)
    assert not any("SES sender" in note for note in notes)


@pytest.mark.skipif(
    not (ROOT / "apps" / "signoff" / "lambda_handler.py").is_file(),
    reason="apps/signoff/lambda_handler.py is not here yet",
)
def test_signoff_app_runs_behind_an_http_api_configured_for_oidc(deployment):
    clients = deployment.clients
    app = clients.client("lambda").get_function_configuration(FunctionName="sysaddons-signoff-app")
    variables = app["Environment"]["Variables"]

    assert app["Handler"] == "apps.signoff.lambda_handler.handler"
    assert variables["AUTH_MODE"] == "oidc"
    assert variables["COOKIE_SECURE"] == "true"
    assert variables["STATE_MACHINE_ARN"] == deployment.address.alias_arn
    assert variables["OIDC_CLIENT_SECRET_SECRET"] == (
        "ssm:/sysaddons/deployed/signoff-app/oidc-client-secret"
    )
    apigateway = clients.client("apigatewayv2")
    api = next(api for api in apigateway.get_apis()["Items"] if api["Name"] == "sysaddons-signoff")
    integration = apigateway.get_integrations(ApiId=api["ApiId"])["Items"][0]
    assert integration["IntegrationUri"] == app["FunctionArn"]
    assert [route["RouteKey"] for route in apigateway.get_routes(ApiId=api["ApiId"])["Items"]] == [
        "$default"
    ]
    workflow = clients.client("lambda").get_function_configuration(
        FunctionName="sysaddons_request_signoff"
    )
    assert workflow["Environment"]["Variables"]["SIGNOFF_APP_URL"] == api["ApiEndpoint"]


def wait_until_pending(sfn, execution_arn, signoff, deadline) -> bool:
    """True once the signoff waits for a decision; False if the execution ended first."""
    while (signoffs.get(signoff, table_name=STACK_SIGNOFF_TABLE) or {}).get("status") != "pending":
        assert time.monotonic() < deadline, f"signoff {signoff} never became pending"
        if sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
            return False
        time.sleep(0.2)
    return True


def run_release(sfn, state_machine_arn, request, timeout=90) -> dict:
    """Start an execution, approve both signoffs as they come up, and wait for the end."""
    name = unique_name("deployed")
    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(request)
    )["executionArn"]
    deadline = time.monotonic() + timeout
    for role, reviewer in (("qa", QA), ("relman", RELMAN)):
        signoff = signoffs.signoff_id(name, role)
        if not wait_until_pending(sfn, execution_arn, signoff, deadline):
            break
        signoffs.decide(signoff, reviewer, True, "", table_name=STACK_SIGNOFF_TABLE)

    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            described["history"] = sfn.get_execution_history(
                executionArn=execution_arn, maxResults=1000
            )["events"]
            return described
        time.sleep(0.2)
    raise TimeoutError(f"{execution_arn} still running after {timeout}s")


def test_release_on_the_deployed_alias_runs_to_success(deployment, stack):
    sfn = deployment.sfn
    live = deployment.live_version()
    # moto 5.2.5 starts executions on neither an alias nor a version ARN (see the test below):
    # the alias's version is checked to be the state machine's latest revision, which is then
    # what runs.
    assert deployment.definition(live) == deployment.definition()
    request = make_request(stack, "deployed", firefox_versions=["141.0"])

    described = run_release(sfn, deployment.address.arn, request)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    invoked = {
        event["lambdaFunctionScheduledEventDetails"]["resource"]
        for event in described["history"]
        if event["type"] == "LambdaFunctionScheduled"
    }
    pinned = set(task_functions(deployment.definition(live)).values())
    assert invoked and invoked <= pinned


@pytest.mark.xfail(
    strict=True,
    reason="moto 5.2.5 answers StateMachineDoesNotExist for an "
    "alias ARN in StartExecution; when this passes, start releases on the alias",
)
def test_moto_starts_an_execution_on_an_alias(deployment):
    deployment.sfn.start_execution(
        stateMachineArn=deployment.address.alias_arn, name=unique_name("alias"), input="{}"
    )


def test_redeploy_with_nothing_changed_changes_nothing(deployment):
    live = deployment.live_version()

    dry_run = deployment.deploy(dry_run=True)
    again = deployment.deploy()

    assert dry_run.changes == [] and "Dry run: nothing would change." in output(dry_run)
    assert again.changes == []
    assert "Nothing changed: everything is already as configured." in output(again)
    assert deployment.live_version() == live


def test_changed_function_deploys_only_that_function(deployment, tmp_path):
    deployment.deploy()
    live = deployment.live_version()
    versions_before = {
        folder: len(
            deployment.clients.client("lambda").list_versions_by_function(
                FunctionName=f"sysaddons_{folder}"
            )["Versions"]
        )
        for folder in function_folders()
    }
    copy = deployment.changed_copy(tmp_path, "never overwrite the archive")

    dry_run = deployment.deploy(copy, dry_run=True)
    assert deployment.live_version() == live
    deployed = deployment.deploy(copy)

    expected = [
        "update function sysaddons_stage_xpi",
        "publish state machine sysaddons-deployed",
        "move alias live",
    ]
    assert changed(dry_run) == expected
    assert changed(deployed) == expected
    assert deployment.live_version() == live + 1
    old, new = (task_functions(deployment.definition(version)) for version in (live, live + 1))
    assert [state for state in old if old[state] != new[state]] == ["StageXpi"]
    versions_after = {
        folder: len(
            deployment.clients.client("lambda").list_versions_by_function(
                FunctionName=f"sysaddons_{folder}"
            )["Versions"]
        )
        for folder in function_folders()
    }
    assert {
        folder for folder in versions_after if versions_after[folder] != versions_before[folder]
    } == {"stage_xpi"}
    assert deployment.deploy(copy).changes == []


def test_rollback_moves_the_alias_back_and_a_deploy_moves_it_forward(deployment, tmp_path):
    deployment.deploy(deployment.changed_copy(tmp_path / "a", "first change"))
    live = deployment.live_version()

    dry_run = deployment.rollback(dry_run=True)
    assert deployment.live_version() == live
    rolled_back = deployment.rollback()

    assert changed(dry_run) == changed(rolled_back) == ["move alias live"]
    assert f"version {live} -> {live - 1}" in output(rolled_back)
    assert "StageXpi" in output(rolled_back)
    assert deployment.live_version() == live - 1

    again = deployment.deploy(deployment.changed_copy(tmp_path / "b", "first change"))
    assert changed(again) == ["publish state machine sysaddons-deployed", "move alias live"], (
        output(again)
    )
    assert deployment.live_version() > live
    assert deployment.definition(deployment.live_version()) == deployment.definition(live)


def test_command_line_shows_status_and_dry_runs_a_rollback(deployment, tmp_path):
    environment_file = tmp_path / "moto.json"
    environment_file.write_text(json.dumps(MOTO_ENVIRONMENT))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    command = [
        sys.executable,
        "-m",
        "deploy",
        "--env",
        str(environment_file),
        "--endpoint-url",
        deployment.clients.endpoint_url,
    ]
    live = deployment.live_version()

    status = subprocess.run(
        [*command, "status"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
    )
    rollback = subprocess.run(
        [*command, "--dry-run", "rollback"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
    )

    assert status.returncode == 0, status.stderr
    assert f"alias live -> version {live} (commit 0123abc)" in status.stdout
    assert f"rollback would move it to version {live - 1}" in status.stdout
    assert rollback.returncode == 0, rollback.stderr
    assert f"would move     alias live: version {live} -> {live - 1}" in rollback.stdout
    assert deployment.live_version() == live


def test_rollback_with_nothing_earlier_says_so(stack, moto_clients):
    sfn = moto_clients.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    role = f"arn:aws:iam::{moto_clients.account}:role/sysaddons-state-machine"
    created = sfn.create_state_machine(
        name="single-version", definition=definition, roleArn=role, publish=True
    )
    sfn.create_state_machine_alias(
        name="live",
        routingConfiguration=[
            {"stateMachineVersionArn": created["stateMachineVersionArn"], "weight": 100}
        ],
    )
    environment = Environment.from_dict(
        "moto", {**MOTO_ENVIRONMENT, "state_machine": "single-version"}
    )
    plan = Plan(out=io.StringIO())

    with pytest.raises(
        NothingToRollBackTo, match="serves version 1, and no earlier version exists"
    ):
        commands.rollback(environment, moto_clients, plan)
    assert plan.changes == []


def test_deployer_reaches_only_the_endpoint_it_is_given(moto_clients):
    assert moto_clients.endpoint_url.startswith("http://127.0.0.1:")
    for service in ("lambda", "stepfunctions", "iam", "sts"):
        assert moto_clients.client(service).meta.endpoint_url == moto_clients.endpoint_url
    with pytest.raises(ClientError):
        moto_clients.client("lambda").get_function(FunctionName="not-deployed-anywhere")
