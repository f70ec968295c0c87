"""The deployer's commands: deploy, rollback, status and policies, for one environment."""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy import iam, resources, state_machine
from deploy import signoff_app as app_module
from deploy.aws import AwsClients
from deploy.config import CREATE, FUNCTIONS_DIR, PROJECT_FILE, ROLES, ROOT, Environment
from deploy.functions import ensure_function
from deploy.plan import Plan
from deploy.state_machine import StateMachineAddress
from tools import bundle


@dataclass(frozen=True)
class Sources:
    """Where the code and configuration being deployed are; a test may point at a changed copy."""

    project_file: Path = PROJECT_FILE
    functions_dir: Path = FUNCTIONS_DIR
    shared_package: Path = bundle.SHARED_PACKAGE
    apps_dir: Path = app_module.APPS_DIR
    build_dir: Path = bundle.BUILD_DIR / "bundles"

    @property
    def signoff_handler(self) -> Path:
        """The signoff app's Lambda entry point in these sources."""
        return self.apps_dir / app_module.HANDLER_FILE.relative_to(app_module.APPS_DIR)


def state_machine_address(environment: Environment, account: str) -> StateMachineAddress:
    """The ARNs of the environment's state machine and alias in an account."""
    arn = f"arn:aws:states:{environment.region}:{account}:stateMachine:{environment.state_machine}"
    return StateMachineAddress(arn, environment.alias)


def source_revision() -> str:
    """The commit being deployed, for version descriptions: CI's, else the checkout's."""
    if os.environ.get("CIRCLE_SHA1"):
        return os.environ["CIRCLE_SHA1"]
    try:
        answer = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return answer.stdout.strip() if answer.returncode == 0 else ""


def deploy(
    environment: Environment,
    clients: AwsClients,
    plan: Plan,
    sources: Sources = Sources(),
    revision: str | None = None,
) -> None:
    """Bring the environment to this checkout: roles, tables, app, functions, state machine."""
    revision = source_revision() if revision is None else revision
    description = f"commit {revision}" if revision else ""
    account = clients.account
    plan.say(
        f"{'Dry run: ' if plan.dry_run else ''}deploying {environment.name} to "
        f"{environment.region}, account {account}"
    )

    roles = iam.role_arns(environment, account)
    address = state_machine_address(environment, account)
    functions = environment.functions(sources.project_file, sources.functions_dir)
    app = None
    if environment.signoff_app is not None and app_module.is_present(sources.signoff_handler):
        app = app_module.signoff_app(environment, roles["signoff_app"], address.alias_arn)
    values = iam.document_values(
        environment,
        account,
        functions,
        roles,
        app_module.app_function_name(environment),
        app.secret_parameters if app else [],
    )

    # Every zip is built before anything changes, so a packaging error changes nothing.
    out_dir = sources.build_dir / environment.name
    zips = {
        function.folder: bundle.build_zip(
            function.directory, out_dir, function.runtime, sources.shared_package
        )
        for function in functions
    }
    app_zip = (
        app_module.build_zip(out_dir, sources.apps_dir, sources.shared_package) if app else None
    )
    plan.say(
        f"  built {len(zips)} function zips{' and the signoff app' if app else ''} in {out_dir}"
    )

    for role in ROLES:
        if environment.roles[role] == CREATE and (role != "signoff_app" or app):
            iam.ensure_role(clients.client("iam"), plan, environment.role_name(role), role, values)
    dynamodb = clients.client("dynamodb")
    resources.ensure_table(dynamodb, plan, environment.signoff_table, "signoff_id")
    resources.ensure_table(dynamodb, plan, environment.ledger_table, "record_id")
    if environment.manage_archive_bucket_policy:
        resources.ensure_archive_bucket_policy(
            clients.client("s3"), plan, environment.archive_bucket, values
        )

    app_url = environment.signoff_app.url if environment.signoff_app else ""
    if app:
        endpoint = app_module.ensure_app(clients, plan, app, app_zip)
        if not app_url:
            app_url = endpoint or "(the new http api's address)"
    elif environment.signoff_app is not None:
        plan.note(
            f"{_shown(sources.signoff_handler)} is not in this checkout: "
            "the signoff app is not deployed"
        )

    function_arns = {}
    lambda_client = clients.client("lambda")
    for function in environment.functions(
        sources.project_file, sources.functions_dir, signoff_app_url=app_url
    ):
        function_arns[function.folder] = ensure_function(
            lambda_client, plan, function.with_role(roles["functions"]), zips[function.folder]
        )
    state_machine.ensure_state_machine(
        clients.client("stepfunctions"),
        plan,
        address,
        environment.state_machine,
        roles["state_machine"],
        function_arns,
        description,
    )

    report_missing(environment, clients, plan, functions, app)
    plan.say(plan.summary())


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def report_missing(environment, clients, plan: Plan, functions, app) -> None:
    """Note what people must provide: SSM parameter values, buckets, a verified sender."""
    parameters = sorted(
        {
            name
            for function in functions
            for name in environment.secret_parameters(function.environment)
        }
        | set(app.secret_parameters if app else [])
    )
    for name in resources.missing_parameters(clients.client("ssm"), parameters):
        plan.note(
            f"SSM parameter {name} is missing; set its value (SecureString) "
            "as docs/deploying.md says"
        )
    buckets = [environment.archive_bucket, *environment.signed_buckets]
    for bucket in resources.missing_buckets(clients.client("s3"), buckets):
        plan.note(
            f"bucket {bucket} does not exist or cannot be seen; the deployer does not create it"
        )
    if not resources.sender_verified(clients.client("ses"), environment.sender):
        plan.note(f"SES sender {environment.sender} is not verified in {environment.region}")


def rollback(
    environment: Environment, clients: AwsClients, plan: Plan, to_version: int | None = None
) -> None:
    """Move the alias back to the version before the live one (or to ``to_version``)."""
    plan.say(
        f"{'Dry run: ' if plan.dry_run else ''}rolling back {environment.name} in "
        f"{environment.region}, account {clients.account}"
    )
    address = state_machine_address(environment, clients.account)
    state_machine.rollback(clients.client("stepfunctions"), plan, address, to_version)
    plan.say(plan.summary())


def status(environment: Environment, clients: AwsClients, plan: Plan) -> None:
    """Say what the alias serves, which version came before, and what is missing."""
    address = state_machine_address(environment, clients.account)
    plan.say(f"{environment.name} in {environment.region}, account {clients.account}")
    live = state_machine.describe_live(clients.client("stepfunctions"), address)
    if live is None:
        plan.say(f"  {address.alias_arn} does not exist: not deployed yet")
    else:
        plan.say(
            f"  alias {environment.alias} -> version {live['version']}"
            + (f" ({live['description']})" if live["description"] else "")
        )
        earlier = live["earlier_version"]
        plan.say(
            f"  rollback would move it to version {earlier}"
            if earlier
            else "  no earlier version to roll back to"
        )
        for state, function in live["functions"].items():
            plan.say(f"    {state}: {function}")

    api = app_module.find_api(
        clients.client("apigatewayv2"), f"{environment.project_name}-signoff"
    )
    if api:
        plan.say(f"  signoff app: {api['ApiEndpoint']}")
    functions = environment.functions()
    app = None
    if environment.signoff_app is not None and app_module.is_present():
        roles = iam.role_arns(environment, clients.account)
        app = app_module.signoff_app(environment, roles["signoff_app"], address.alias_arn)
    report_missing(environment, clients, plan, functions, app)


def policies(environment: Environment, account: str, plan: Plan) -> None:
    """Print every role's filled-in documents and the archive bucket statements."""
    roles = iam.role_arns(environment, account)
    functions = environment.functions()
    app_secrets = []
    if environment.signoff_app is not None:
        app_secrets = sorted(
            environment.parameter_name(parameter)
            for parameter in environment.signoff_app.secrets.values()
        )
    values = iam.document_values(
        environment,
        account,
        functions,
        roles,
        app_module.app_function_name(environment),
        app_secrets,
    )
    documents = {}
    for role in ROLES:
        trust, policy = iam.role_documents(role, values)
        documents[role] = {"role": roles[role], "trust": trust, "policy": policy}
    documents["archive_bucket_policy_statements"] = iam.load_document(
        iam.ARCHIVE_BUCKET_POLICY, values
    )["Statement"]
    plan.say(json.dumps(documents, indent=2))
