"""The whole workflow on one machine: moto runs the real definition, local Lambda runs our
handlers, and stand-ins speak Bugzilla's and Balrog's REST APIs on loopback.

Nothing here needs an AWS account. Other processes (the CLI, the signoff app) reach the same
moto services through the moto server's loopback port, written to ``.local-stack/stack.json``.
"""

import json
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

import boto3

from local_stack.definition import FUNCTIONS, PROJECT, ROOT, local_function_arn, render
from local_stack.example_xpi import build_xpi
from local_stack.lambda_endpoint import LocalLambda
from local_stack.servers import start_wsgi_server
from local_stack.standins.balrog import BalrogStandIn
from local_stack.standins.bugzilla import BugzillaStandIn
from local_stack.standins.dynamodb import make_conditional_writes_atomic
from local_stack.tls import LocalTLS

REGION = "us-east-1"
ACCOUNT = "123456789012"
STATE_FILE = ROOT / ".local-stack" / "stack.json"
STATE_FILE_SETTING = "SYSADDONS_LOCAL_STATE"
SIGNED_BUCKET = "sysaddons-signed"
ARCHIVE_BUCKET = "sysaddons-archive"
SIGNOFF_TABLE = "sysaddons-signoffs"
LEDGER_TABLE = "sysaddons-ledger"
SENDER = "sysaddons@mozilla.com"
ARCHIVE_HOST = "archive.localhost"
BUGZILLA_PRODUCTS = {
    "Firefox": ["General", "System Add-ons"],
    "Toolkit": ["Add-ons Manager", "General"],
    "Web Compatibility": ["Interventions"],
}
# What the release channel serves before any execution: two other add-ons, one of them with
# a platform alias, which every release must keep exactly as they are.
BASELINE_RELEASE = "SystemAddons-baseline"
BASELINE_ADDONS = {
    "webcompat@mozilla.org": {
        "version": "134.1.0",
        "platforms": {
            "default": {
                "fileUrl": f"https://{ARCHIVE_HOST}/pub/system-addons/webcompat@mozilla.org/webcompat-134.1.0.xpi",
                "hashValue": "a" * 128,
                "filesize": 80432,
            }
        },
    },
    "formautofill@mozilla.org": {
        "version": "1.2.0",
        "platforms": {
            "WINNT_x86_64-msvc-x64": {
                "fileUrl": f"https://{ARCHIVE_HOST}/pub/system-addons/formautofill@mozilla.org/formautofill-1.2.0.xpi",
                "hashValue": "b" * 128,
                "filesize": 51200,
            },
            "default": {"alias": "WINNT_x86_64-msvc-x64"},
        },
    },
}


def _definition_arn(folder: str) -> str:
    return local_function_arn(folder, REGION, ACCOUNT)


class LocalStack:
    """Starts, seeds and stops every local service the workflow talks to."""

    def __init__(
        self,
        work_dir: Path | None = None,
        quiet_lambda_logs: bool = True,
        extra_function_env: dict[str, str] | None = None,
        state_file: Path | None = None,
    ):
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="sysaddons-local-"))
        self.quiet_lambda_logs = quiet_lambda_logs
        self.extra_function_env = extra_function_env or {}
        # Where other processes (the command line, the signoff app) find this stack.
        self.state_file = Path(state_file or os.environ.get(STATE_FILE_SETTING) or STATE_FILE)
        self.lambda_log: list[tuple[str, str]] = []
        self._mock = None
        self._servers = []

    def start(self) -> "LocalStack":
        """Start every service, create the AWS resources and seed Bugzilla and Balrog."""
        self._set_process_environment()
        from moto import mock_aws
        from moto.server import ThreadedMotoServer

        # moto's interpreter logs a long traceback for every Fail state; the history says it.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        # moto's server logs one line per request through werkzeug; the stack prints steps.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        make_conditional_writes_atomic()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"

        self.tls = LocalTLS.create(self.work_dir / "tls")
        self.bugzilla_key = secrets.token_urlsafe(24)
        self.bugzilla = BugzillaStandIn(api_key=self.bugzilla_key, products=BUGZILLA_PRODUCTS)
        self.bugzilla_server = start_wsgi_server(self.bugzilla.app, tls=self.tls)
        self.balrog_credentials = {
            "client_id": "sysaddons-workflow",
            "client_secret": secrets.token_urlsafe(24),
            "audience": "balrog-local",
        }
        self.balrog = BalrogStandIn(allowed_file_domains=[ARCHIVE_HOST], **self.balrog_credentials)
        self.balrog_server = start_wsgi_server(self.balrog.app, tls=self.tls)
        self._servers += [self.bugzilla_server, self.balrog_server]

        self._create_aws_resources()
        self._seed_balrog()

        self.functions = LocalLambda(
            FUNCTIONS, PROJECT, extra_env=self.function_environment(), log_sink=self._lambda_log
        )
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = self.functions.start()
        self.state_machine_arn = self.sfn.create_state_machine(
            name="system-addons",
            definition=render(_definition_arn),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/sysaddons-state-machine",
        )["stateMachineArn"]
        self._write_state_file()
        return self

    def stop(self) -> None:
        """Stop every service; the state file goes too, so no client talks to a dead stack."""
        if getattr(self, "functions", None):
            self.functions.stop()
        for server in self._servers:
            server.stop()
        if getattr(self, "moto", None):
            self.moto.stop()
        if self._mock:
            self._mock.stop()
        os.environ.pop("AWS_ENDPOINT_URL_LAMBDA", None)
        state = self.state_file
        if state.exists() and json.loads(state.read_text()).get("pid") == os.getpid():
            state.unlink()

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def sfn(self):
        """A Step Functions client on the in-process moto."""
        return boto3.client("stepfunctions", region_name=REGION)

    def function_environment(self) -> dict[str, str]:
        """What the functions get on top of project.json: local endpoints and secret names."""
        return {
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "REQUESTS_CA_BUNDLE": str(self.tls.ca_path),
            "BUGZILLA_URL": self.bugzilla_server.url,
            "BUGZILLA_API_KEY_SECRET": "ssm:/sysaddons/local/bugzilla-api-key",
            "BALROG_API_ROOT": f"{self.balrog_server.url}/api",
            "BALROG_PUBLIC_URL": self.balrog_server.url,
            "BALROG_CREDENTIALS_SECRET": "secretsmanager:sysaddons/local/balrog-credentials",
            "ARCHIVE_BUCKET": ARCHIVE_BUCKET,
            "ARCHIVE_BASE_URL": f"https://{ARCHIVE_HOST}/pub/system-addons/",
            "XPI_ALLOWED_BUCKETS": SIGNED_BUCKET,
            "XPI_ALLOWED_HOSTS": "127.0.0.1",
            "SIGNOFF_TABLE": SIGNOFF_TABLE,
            "LEDGER_TABLE": LEDGER_TABLE,
            "EMAIL_SENDER": SENDER,
            "SIGNOFF_APP_URL": "",
            "HTTP_TIMEOUT_SECONDS": "5",
            **self.extra_function_env,
        }

    def _set_process_environment(self) -> None:
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            os.environ.pop(name, None)

    def _create_aws_resources(self) -> None:
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (SIGNED_BUCKET, ARCHIVE_BUCKET):
            s3.create_bucket(Bucket=bucket)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for table, key in ((SIGNOFF_TABLE, "signoff_id"), (LEDGER_TABLE, "record_id")):
            dynamodb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/sysaddons/local/bugzilla-api-key", Value=self.bugzilla_key, Type="SecureString"
        )
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="sysaddons/local/balrog-credentials",
            SecretString=json.dumps(
                {"domain": self.balrog_server.host_port, **self.balrog_credentials}
            ),
        )

    def _seed_balrog(self) -> None:
        self.balrog.seed_release(
            BASELINE_RELEASE,
            {
                "name": BASELINE_RELEASE,
                "schema_version": 5000,
                "hashFunction": "sha512",
                "addons": BASELINE_ADDONS,
            },
        )
        for channel in ("release", "release-sysaddon"):
            self.balrog.seed_rule(
                product="SystemAddons",
                channel=channel,
                mapping=BASELINE_RELEASE,
                backgroundRate=100,
                priority=50,
                update_type="minor",
                comment=f"every Firefox on {channel}",
            )

    def use_signoff_app(self, url: str) -> None:
        """Let the functions link their signoff emails and bug comments to the app at url."""
        self.extra_function_env["SIGNOFF_APP_URL"] = url
        self.functions.set_extra_env(self.function_environment())

    def upload_signed_xpi(self, key: str, content: bytes) -> str:
        """Put an XPI where signed XPIs come from; answers its s3:// address."""
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=SIGNED_BUCKET, Key=key, Body=content
        )
        return f"s3://{SIGNED_BUCKET}/{key}"

    def upload_example_xpi(self, request: dict) -> None:
        """Build the request's add-on as a signed XPI and upload it to its s3:// address."""
        addon = request["addon"]
        key = addon["xpi_url"].split(f"s3://{SIGNED_BUCKET}/", 1)[1]
        self.upload_signed_xpi(key, build_xpi(addon["id"], addon["version"], addon["name"]))

    def start_execution(self, request: dict, name: str) -> str:
        """Start the workflow on a request; always named, as moto needs."""
        return self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(request)
        )["executionArn"]

    def wait_for(self, execution_arn: str, timeout: float = 120.0, until=None) -> dict:
        """Poll until the execution ends or ``until(history)`` holds; answers its description."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if until and until(self.history(execution_arn)):
                return described
            time.sleep(0.2)
        raise TimeoutError(f"{execution_arn} still running after {timeout:.0f}s")

    def history(self, execution_arn: str) -> list[dict]:
        """Every history event of the execution, oldest first."""
        events, token = [], None
        while True:
            page = self.sfn.get_execution_history(
                executionArn=execution_arn,
                maxResults=1000,
                **({"nextToken": token} if token else {}),
            )
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def sent_emails(self) -> list[dict]:
        """Every email SES accepted, as moto keeps them."""
        from moto.ses.models import ses_backends

        return [
            {
                "to": message.destinations.get("ToAddresses", []),
                "subject": message.subject,
                "body": message.body,
            }
            for message in ses_backends[ACCOUNT][REGION].sent_messages
        ]

    def _lambda_log(self, function: str, line: str) -> None:
        self.lambda_log.append((function, line))
        if not self.quiet_lambda_logs:
            print(f"  [{function}] {line}", flush=True)

    def _write_state_file(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "aws_endpoint_url": self.moto_url,
                    "region": REGION,
                    "state_machine_arn": self.state_machine_arn,
                    "signoff_table": SIGNOFF_TABLE,
                    "ledger_table": LEDGER_TABLE,
                    "bugzilla_url": self.bugzilla_server.url,
                    "balrog_url": self.balrog_server.url,
                    "xpi_allowed_buckets": [SIGNED_BUCKET],
                    "xpi_allowed_hosts": ["127.0.0.1"],
                },
                indent=2,
            )
        )
