"""What is deployed where: the functions' Apex configuration, and one environment's settings.

The functions are configured once, for Apex, in project.json and each function.json. An
environment (deploy/environments/<name>.json) names the AWS resources of one deployment: its
region, the names it gives functions, roles, tables and the state machine, where secrets live,
and the function settings that differ from project.json. Dev and prod differ only there.
"""

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from deploy.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILE = ROOT / "project.json"
FUNCTIONS_DIR = ROOT / "apex" / "functions"
ENVIRONMENTS_DIR = Path(__file__).resolve().parent / "environments"
SIGNOFF_APP_HANDLER_FILE = ROOT / "apps" / "signoff" / "lambda_handler.py"

DEFAULT_NAME_TEMPLATE = "{{.Project.Name}}_{{.Function.Name}}"
SUPPORTED_RUNTIMES = ("python3.12",)
CREATE = "create"
ROLES = ("functions", "state_machine", "signoff_app")
# Settings the environment derives from its own resource names; setting them again in
# function_environment would leave two places to change.
DERIVED_SETTINGS = (
    "SIGNOFF_TABLE",
    "LEDGER_TABLE",
    "ARCHIVE_BUCKET",
    "ARCHIVE_PREFIX",
    "ARCHIVE_BASE_URL",
    "XPI_ALLOWED_BUCKETS",
    "EMAIL_SENDER",
)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_SSM_PATH = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")


@dataclass(frozen=True)
class FunctionConfig:
    """One Lambda function as it is deployed: name, code folder, runtime settings."""

    folder: str
    directory: Path | None
    name: str
    description: str
    runtime: str
    handler: str
    memory: int
    timeout: int
    role: str
    environment: dict[str, str]

    def with_role(self, role_arn: str) -> "FunctionConfig":
        """The same function, run with the given role."""
        return replace(self, role=role_arn)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"{path} is missing") from None
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{path} is not valid JSON: {error}") from None


def function_name(project: dict, project_name: str, folder: str) -> str:
    """The deployed name of a function folder, by the project's Apex nameTemplate."""
    template = project.get("nameTemplate", DEFAULT_NAME_TEMPLATE)
    return template.replace("{{.Project.Name}}", project_name).replace(
        "{{.Function.Name}}", folder
    )


def load_apex_functions(
    project_file: Path = PROJECT_FILE,
    functions_dir: Path = FUNCTIONS_DIR,
    project_name: str | None = None,
) -> list[FunctionConfig]:
    """Every function as Apex deploys it: function.json over project.json, key by key."""
    project = _read_json(project_file)
    if not project.get("name"):
        raise ConfigurationError(f"{project_file} has no project name")
    folders = sorted(path.parent.name for path in Path(functions_dir).glob("*/function.json"))
    if not folders:
        raise ConfigurationError(f"{functions_dir} holds no function (no */function.json)")

    functions = []
    for folder in folders:
        directory = Path(functions_dir) / folder
        own = _read_json(directory / "function.json")
        settings = {
            key: own.get(key, project.get(key))
            for key in ("runtime", "handler", "memory", "timeout", "role", "description")
        }
        missing = [
            key
            for key in ("runtime", "handler", "memory", "timeout", "role")
            if settings[key] in (None, "")
        ]
        if missing:
            raise ConfigurationError(
                f"{folder}: {', '.join(missing)} set in neither function.json nor project.json"
            )
        if settings["runtime"] not in SUPPORTED_RUNTIMES:
            raise ConfigurationError(
                f"{folder}: runtime {settings['runtime']!r} is not one of {SUPPORTED_RUNTIMES}"
            )
        module = settings["handler"].rpartition(".")[0].replace(".", "/")
        if not (directory / f"{module}.py").is_file():
            raise ConfigurationError(f"{folder}: handler {settings['handler']} has no {module}.py")
        environment = {**project.get("environment", {}), **own.get("environment", {})}
        functions.append(
            FunctionConfig(
                folder=folder,
                directory=directory.resolve(),
                name=function_name(project, project_name or project["name"], folder),
                description=settings["description"] or "",
                runtime=settings["runtime"],
                handler=settings["handler"],
                memory=_bounded_int(folder, "memory", settings["memory"], 128, 10240),
                timeout=_bounded_int(folder, "timeout", settings["timeout"], 1, 900),
                role=settings["role"],
                environment={key: str(value) for key, value in environment.items()},
            )
        )
    return functions


def _bounded_int(owner: str, key: str, value, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigurationError(f"{owner}: {key} must be a whole number from {low} to {high}")
    return value


@dataclass(frozen=True)
class SignoffAppSettings:
    """The signoff web app's deployment: OIDC client, secrets, size, public address."""

    oidc_issuer: str
    oidc_client_id: str
    secrets: dict[str, str]
    url: str = ""
    memory: int = 512
    timeout: int = 30
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    """One deployment of the workflow (dev, prod): where it goes, what its resources are named."""

    name: str
    region: str
    project_name: str
    state_machine: str
    alias: str
    roles: dict[str, str]
    ssm_path: str
    secrets: dict[str, str]
    signoff_table: str
    ledger_table: str
    archive_bucket: str
    archive_prefix: str
    archive_base_url: str
    manage_archive_bucket_policy: bool
    signed_buckets: tuple[str, ...]
    sender: str
    function_environment: dict[str, str]
    signoff_app: SignoffAppSettings | None

    @classmethod
    def load(cls, name_or_path: str) -> "Environment":
        """An environment by name (deploy/environments/<name>.json) or by the path of its file."""
        path = Path(name_or_path)
        if path.suffix != ".json":
            path = ENVIRONMENTS_DIR / f"{name_or_path}.json"
        return cls.from_dict(path.stem, _read_json(path), source=str(path))

    @classmethod
    def from_dict(cls, name: str, settings: dict, source: str = "environment") -> "Environment":
        """Check an environment's settings and build it; errors name the offending key."""

        def need(key: str, within: dict = settings, where: str = ""):
            value = within.get(key)
            if value in (None, "", [], {}):
                raise ConfigurationError(f"{source}: {where}{key} is required")
            return value

        roles = need("roles")
        for role in ROLES:
            value = need(role, roles, "roles.")
            if value != CREATE and not _ROLE_ARN.match(value):
                raise ConfigurationError(
                    f'{source}: roles.{role} must be "create" or a role ARN, not {value!r}'
                )
        ssm_path = need("ssm_path").rstrip("/")
        if not _SSM_PATH.match(ssm_path):
            raise ConfigurationError(f"{source}: ssm_path must look like /sysaddons/prod")
        tables, archive = need("tables"), need("archive")
        function_environment = {
            key: str(value) for key, value in settings.get("function_environment", {}).items()
        }
        doubled = sorted(set(function_environment) & set(DERIVED_SETTINGS))
        if doubled:
            raise ConfigurationError(
                f"{source}: function_environment sets {', '.join(doubled)}, which come from "
                "tables, archive, signed_buckets and sender"
            )

        app = settings.get("signoff_app")
        signoff_app = None
        if app:
            signoff_app = SignoffAppSettings(
                oidc_issuer=app.get("oidc_issuer", ""),
                oidc_client_id=app.get("oidc_client_id", ""),
                secrets=dict(need("secrets", app, "signoff_app.")),
                url=app.get("url", ""),
                memory=_bounded_int(
                    source, "signoff_app.memory", app.get("memory", 512), 128, 10240
                ),
                timeout=_bounded_int(
                    source, "signoff_app.timeout", app.get("timeout", 30), 1, 900
                ),
                environment={key: str(value) for key, value in app.get("environment", {}).items()},
            )

        project_name = need("project_name")
        return cls(
            name=name,
            region=need("region"),
            project_name=project_name,
            state_machine=settings.get("state_machine") or f"{project_name}-system-addons",
            alias=settings.get("alias", "live"),
            roles={role: roles[role] for role in ROLES},
            ssm_path=ssm_path,
            secrets=dict(settings.get("secrets", {})),
            signoff_table=need("signoffs", tables, "tables."),
            ledger_table=need("ledger", tables, "tables."),
            archive_bucket=need("bucket", archive, "archive."),
            archive_prefix=need("prefix", archive, "archive.").strip("/") + "/",
            archive_base_url=need("base_url", archive, "archive."),
            manage_archive_bucket_policy=bool(archive.get("manage_bucket_policy", False)),
            signed_buckets=tuple(need("signed_buckets")),
            sender=need("sender"),
            function_environment=function_environment,
            signoff_app=signoff_app,
        )

    def role_name(self, role: str) -> str:
        """The name of a role the deployer creates: sysaddons-dev-state-machine."""
        return f"{self.project_name}-{role.replace('_', '-')}"

    def parameter_name(self, parameter: str) -> str:
        """The full SSM name of a parameter kept under this environment's path."""
        return f"{self.ssm_path}/{parameter.strip('/')}"

    def derived_settings(self) -> dict[str, str]:
        """The function settings that follow from this environment's resources and secrets."""
        settings = {
            "SIGNOFF_TABLE": self.signoff_table,
            "LEDGER_TABLE": self.ledger_table,
            "ARCHIVE_BUCKET": self.archive_bucket,
            "ARCHIVE_PREFIX": self.archive_prefix,
            "ARCHIVE_BASE_URL": self.archive_base_url,
            "XPI_ALLOWED_BUCKETS": ",".join(self.signed_buckets),
            "EMAIL_SENDER": self.sender,
        }
        for setting, parameter in self.secrets.items():
            settings[setting] = f"ssm:{self.parameter_name(parameter)}"
        return settings

    def functions(
        self,
        project_file: Path = PROJECT_FILE,
        functions_dir: Path = FUNCTIONS_DIR,
        signoff_app_url: str = "",
    ) -> list[FunctionConfig]:
        """The Apex functions with this environment's names and settings layered on top."""
        functions = []
        for function in load_apex_functions(project_file, functions_dir, self.project_name):
            environment = {
                **function.environment,
                **self.function_environment,
                **self.derived_settings(),
            }
            if signoff_app_url:
                environment["SIGNOFF_APP_URL"] = signoff_app_url
            self.check_secret_references(function.name, environment)
            functions.append(replace(function, environment=environment))
        return functions

    def check_secret_references(self, owner: str, environment: dict[str, str]) -> None:
        """Refuse a secret outside this environment's SSM path: the roles could not read it."""
        for setting, reference in sorted(environment.items()):
            if not setting.endswith("_SECRET"):
                continue
            if not reference.startswith(f"ssm:{self.ssm_path}/"):
                raise ConfigurationError(
                    f"{owner}: {setting} is {reference!r}, but secrets must be SSM parameters "
                    f"under {self.ssm_path}/ (the roles may read nothing else); map it in "
                    "the environment's secrets"
                )

    def secret_parameters(self, environment: dict[str, str]) -> list[str]:
        """The SSM parameter names a function environment refers to."""
        return sorted(
            reference[len("ssm:") :]
            for setting, reference in environment.items()
            if setting.endswith("_SECRET") and reference.startswith("ssm:")
        )
