"""Where the command line's AWS calls go: the local stack, an endpoint, or an AWS account."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from sysaddons.settings import XpiSettings

ROOT = Path(__file__).resolve().parent.parent
LOCAL_STATE = ROOT / ".local-stack" / "stack.json"
LOCAL_STATE_SETTING = "SYSADDONS_LOCAL_STATE"
PROJECT = ROOT / "project.json"
DEV_USERS = ROOT / "apps" / "signoff" / "dev_users.json"


class NotConfigured(Exception):
    """The command line does not know where the workflow runs."""


@dataclass
class Connection:
    """The state machine to talk to and the clients to talk to it with."""

    state_machine_arn: str
    signoff_table: str
    ledger_table: str
    region: str
    local: bool
    xpi: XpiSettings
    endpoint_url: str | None = None
    profile: str | None = None
    _clients: dict = field(default_factory=dict)

    @property
    def role_mapping_source(self) -> str:
        """Where reviewers and their roles are listed."""
        return str(DEV_USERS) if self.local else "ROLE_MAPPING"

    def reviewer_roles(self) -> dict[str, set[str]]:
        """Reviewer email to roles, from the same source the signoff app uses."""
        if self.local:
            users = json.loads(DEV_USERS.read_text())["users"]
            return {user["email"].lower(): set(user.get("roles", [])) for user in users}
        try:
            mapping = json.loads(os.environ.get("ROLE_MAPPING") or "{}")
        except ValueError:
            raise NotConfigured("ROLE_MAPPING is not a JSON object") from None
        return {
            key.lower(): set(roles)
            for key, roles in mapping.items()
            if "@" in key and isinstance(roles, list)
        }

    def client(self, service: str):
        """A boto3 client for the service, made once."""
        if service not in self._clients:
            session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
            self._clients[service] = session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def console_link(self, execution_arn: str) -> str | None:
        """The AWS console page of an execution (none for the local stack)."""
        if self.local:
            return None
        return (
            f"https://{self.region}.console.aws.amazon.com/states/home?region={self.region}"
            f"#/v2/executions/details/{execution_arn}"
        )


def connect(args) -> Connection:
    """Work out the connection from the command line's options and the environment."""
    if args.local:
        return _local(args)

    project = json.loads(PROJECT.read_text())["environment"]
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile
    state_machine = args.state_machine or os.environ.get("SYSADDONS_STATE_MACHINE_ARN")
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region and state_machine and state_machine.startswith("arn:"):
        region = state_machine.split(":")[3]
    return Connection(
        state_machine_arn=state_machine or "",
        signoff_table=args.table or os.environ.get("SIGNOFF_TABLE", project["SIGNOFF_TABLE"]),
        ledger_table=os.environ.get("LEDGER_TABLE", project["LEDGER_TABLE"]),
        region=region or "us-east-1",
        local=False,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
        xpi=_xpi_settings(
            _split(os.environ.get("XPI_ALLOWED_HOSTS", project["XPI_ALLOWED_HOSTS"])),
            _split(os.environ.get("XPI_ALLOWED_BUCKETS", project["XPI_ALLOWED_BUCKETS"])),
        ),
    )


def _local(args) -> Connection:
    state_file = Path(os.environ.get(LOCAL_STATE_SETTING) or LOCAL_STATE)
    if not state_file.exists():
        raise NotConfigured(
            "no local stack is running: start one with ./dev ship-example --keep-running"
        )
    state = json.loads(state_file.read_text())
    # The CLI's own boto3 calls, and the XPI fetch from the signed bucket, go to moto.
    os.environ.update(
        AWS_ENDPOINT_URL=state["aws_endpoint_url"],
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=state["region"],
    )
    os.environ.pop("AWS_PROFILE", None)
    return Connection(
        state_machine_arn=state["state_machine_arn"],
        signoff_table=state["signoff_table"],
        ledger_table=state.get("ledger_table", "sysaddons-ledger"),
        region=state["region"],
        local=True,
        endpoint_url=state["aws_endpoint_url"],
        xpi=_xpi_settings(state["xpi_allowed_hosts"], state["xpi_allowed_buckets"]),
    )


def _split(listed: str) -> list[str]:
    return [item.strip() for item in listed.split(",") if item.strip()]


def _xpi_settings(hosts: list[str], buckets: list[str]) -> XpiSettings:
    return XpiSettings(
        allowed_hosts=hosts,
        allowed_buckets=buckets,
        max_bytes=50 * 1024 * 1024,
        timeout_seconds=20,
    )
