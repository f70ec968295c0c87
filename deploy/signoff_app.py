"""The signoff web app: one Lambda (apps.signoff via apig-wsgi) behind an API Gateway HTTP API.

The app signs reviewers in with OIDC, lists pending signoffs, sends their decisions to the
state machine and shows executions; STATE_MACHINE_ARN is the live alias's ARN. Its zip holds
apps/, the shared package and their dependencies, built by the same code as the functions'.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from deploy.config import ROOT, Environment, FunctionConfig
from deploy.errors import ConfigurationError
from deploy.functions import ensure_function
from deploy.plan import Plan
from tools import bundle

APPS_DIR = ROOT / "apps"
HANDLER = "apps.signoff.lambda_handler.handler"
HANDLER_FILE = APPS_DIR / "signoff" / "lambda_handler.py"
REQUIREMENTS = Path(__file__).resolve().parent / "signoff-app.requirements.txt"
PERMISSION_ID = "signoff-http-api"


@dataclass(frozen=True)
class SignoffApp:
    """The app's function settings and the name of its HTTP API."""

    function: FunctionConfig
    api_name: str
    secret_parameters: list[str]


def is_present(handler_file: Path = HANDLER_FILE) -> bool:
    """Whether the app's Lambda entry point exists in this checkout."""
    return handler_file.is_file()


def app_function_name(environment: Environment) -> str:
    """The app's Lambda function name in an environment."""
    return f"{environment.project_name}-signoff-app"


def signoff_app(environment: Environment, role_arn: str, alias_arn: str) -> SignoffApp:
    """The app's deployment in one environment, configured for OIDC sign-in."""
    settings = environment.signoff_app
    missing = [key for key in ("oidc_issuer", "oidc_client_id") if not getattr(settings, key)]
    if missing:
        raise ConfigurationError(
            f"environment {environment.name}: signoff_app.{' and '.join(missing)} must be set "
            "(the OIDC provider's issuer URL and this app's client id) to deploy the signoff app"
        )
    needed = {"OIDC_CLIENT_SECRET_SECRET", "SECRET_KEY_SECRET"} - set(settings.secrets)
    if needed:
        raise ConfigurationError(
            f"environment {environment.name}: signoff_app.secrets must map "
            f"{', '.join(sorted(needed))}"
        )

    variables = {
        **settings.environment,
        "AUTH_MODE": "oidc",
        "OIDC_ISSUER": settings.oidc_issuer,
        "OIDC_CLIENT_ID": settings.oidc_client_id,
        "SIGNOFF_TABLE": environment.signoff_table,
        "STATE_MACHINE_ARN": alias_arn,
        "COOKIE_SECURE": "true",
    }
    for setting, parameter in settings.secrets.items():
        variables[setting] = f"ssm:{environment.parameter_name(parameter)}"
    name = app_function_name(environment)
    environment.check_secret_references(name, variables)
    function = FunctionConfig(
        folder="signoff_app",
        directory=None,
        name=name,
        description="Signoff web app of the system add-on workflow (OIDC sign-in)",
        runtime="python3.12",
        handler=HANDLER,
        memory=settings.memory,
        timeout=settings.timeout,
        role=role_arn,
        environment=variables,
    )
    return SignoffApp(
        function, f"{environment.project_name}-signoff", environment.secret_parameters(variables)
    )


def build_zip(
    out_dir: Path,
    apps_dir: Path = APPS_DIR,
    shared_package: Path = bundle.SHARED_PACKAGE,
    runtime: str = "python3.12",
) -> Path:
    """The app's zip: apps/, the shared package and their dependencies."""
    files = bundle.bundle_files(
        [(apps_dir, "apps"), (shared_package, bundle.SHARED_PACKAGE.name)],
        [bundle.REQUIREMENTS, REQUIREMENTS],
        runtime,
    )
    return bundle.write_zip(files, out_dir / "signoff_app.zip")


def find_api(apigateway, name: str) -> dict | None:
    """The HTTP API of that name, or None."""
    for page in apigateway.get_paginator("get_apis").paginate():
        for api in page["Items"]:
            if api["Name"] == name:
                return api
    return None


def ensure_app(clients, plan: Plan, app: SignoffApp, zip_path: Path) -> str | None:
    """Deploy the app's function and HTTP API; answer the API's URL (None in a dry run)."""
    lambda_client, apigateway = clients.client("lambda"), clients.client("apigatewayv2")
    function_arn = ensure_function(lambda_client, plan, app.function, zip_path, publish=False)
    if function_arn is None:
        function_arn = (
            f"arn:aws:lambda:{clients.region}:{clients.account}:function:{app.function.name}"
        )

    api = find_api(apigateway, app.api_name)
    if api is None:
        api = plan.change(
            "create",
            f"http api {app.api_name}",
            "HTTP protocol",
            lambda: apigateway.create_api(Name=app.api_name, ProtocolType="HTTP"),
        )
        if api is None:
            return None
    api_id = api["ApiId"]

    integration_id = _ensure_integration(apigateway, plan, app.api_name, api_id, function_arn)
    _ensure_route(apigateway, plan, app.api_name, api_id, integration_id)
    _ensure_stage(apigateway, plan, app.api_name, api_id)
    _ensure_invoke_permission(lambda_client, plan, app.function.name, clients, api_id)
    return api["ApiEndpoint"]


def _ensure_integration(apigateway, plan, api_name, api_id, function_arn) -> str | None:
    for integration in apigateway.get_integrations(ApiId=api_id)["Items"]:
        if integration.get("IntegrationUri") == function_arn:
            return integration["IntegrationId"]
    created = plan.change(
        "create",
        f"http api {api_name}",
        "Lambda proxy integration (payload 2.0)",
        lambda: apigateway.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=function_arn,
            PayloadFormatVersion="2.0",
        ),
    )
    return created["IntegrationId"] if created else None


def _ensure_route(apigateway, plan, api_name, api_id, integration_id) -> None:
    target = f"integrations/{integration_id}"
    for route in apigateway.get_routes(ApiId=api_id)["Items"]:
        if route["RouteKey"] != "$default":
            continue
        if route.get("Target") != target:
            plan.change(
                "update",
                f"http api {api_name}",
                "route $default target",
                lambda route_id=route["RouteId"]: apigateway.update_route(
                    ApiId=api_id, RouteId=route_id, Target=target
                ),
            )
        return
    plan.change(
        "create",
        f"http api {api_name}",
        "route $default",
        lambda: apigateway.create_route(ApiId=api_id, RouteKey="$default", Target=target),
    )


def _ensure_stage(apigateway, plan, api_name, api_id) -> None:
    stages = {stage["StageName"] for stage in apigateway.get_stages(ApiId=api_id)["Items"]}
    if "$default" not in stages:
        plan.change(
            "create",
            f"http api {api_name}",
            "stage $default (deploys automatically)",
            lambda: apigateway.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True),
        )


def _ensure_invoke_permission(lambda_client, plan, function_name, clients, api_id) -> None:
    source_arn = f"arn:aws:execute-api:{clients.region}:{clients.account}:{api_id}/*"
    try:
        policy = json.loads(lambda_client.get_policy(FunctionName=function_name)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        policy = {"Statement": []}
    ours = [
        statement
        for statement in policy.get("Statement", [])
        if statement.get("Sid") == PERMISSION_ID
    ]
    if ours and source_arn in json.dumps(ours[0].get("Condition", {})):
        return

    def allow() -> None:
        if ours:
            lambda_client.remove_permission(FunctionName=function_name, StatementId=PERMISSION_ID)
        lambda_client.add_permission(
            FunctionName=function_name,
            StatementId=PERMISSION_ID,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=source_arn,
        )

    plan.change("allow", f"function {function_name}", f"invocation by http api {api_id}", allow)
