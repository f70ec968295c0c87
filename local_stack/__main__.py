"""Ship a system add-on through the whole workflow on this machine: ``python -m local_stack``."""

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from apps.signoff import history
from apps.signoff.local import start_local_app
from local_stack.definition import ROOT
from local_stack.stack import SIGNED_BUCKET, LocalStack
from sysaddons.request import shortname

EXAMPLE = ROOT / "state_machines" / "system_addons" / "examples" / "example-addon.json"
REVIEWERS = {"qa": "qa-reviewer@mozilla.com", "relman": "relman-reviewer@mozilla.com"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack",
        description="Start the local stack and ship a system add-on through every step.",
    )
    parser.add_argument(
        "--request",
        type=Path,
        default=EXAMPLE,
        help="the release request (default: the example add-on)",
    )
    parser.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve each signoff as a local QA and release-management reviewer",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the stack up after the execution ends (Ctrl-C stops it)",
    )
    parser.add_argument("--verbose", action="store_true", help="show the functions' log lines")
    args = parser.parse_args(argv)

    request = json.loads(args.request.read_text())
    print("Starting the local stack (moto, local Lambda, Bugzilla and Balrog stand-ins)...")
    with LocalStack(quiet_lambda_logs=not args.verbose) as stack:
        app = start_local_app(stack)
        stack.use_signoff_app(app.url)
        if request["addon"]["xpi_url"].startswith(f"s3://{SIGNED_BUCKET}/"):
            stack.upload_example_xpi(request)
        _describe_stack(stack, app.url)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        name = f"{shortname(request)}-{request['addon']['version']}-{stamp}".replace(".", "-")
        arn = stack.start_execution(request, name)
        print(f"Execution {name}\n  {arn}")
        status = _follow(stack, arn, args.auto_approve, app.url)
        _report(stack, arn, request)
        print(f"See it in the signoff app: {app.url}/executions/{name}")
        if args.keep_running:
            print("The stack keeps running; press Ctrl-C to stop it.")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        app.stop()
    return 0 if status == "SUCCEEDED" else 1


def _describe_stack(stack: LocalStack, app_url: str) -> None:
    print(f"  Signoff app:       {app_url}  (sign in as any user of apps/signoff/dev_users.json)")
    print(f"  AWS (moto):        {stack.moto_url}")
    print(f"  Bugzilla:          {stack.bugzilla_server.url}")
    print(f"  Balrog:            {stack.balrog_server.url}")
    print(f"  Lambda endpoint:   {stack.functions.url}")


def _follow(stack: LocalStack, arn: str, auto_approve: bool, app_url: str) -> str:
    from sysaddons import signoffs

    keys = history.result_keys(
        json.loads(
            stack.sfn.describe_state_machine(stateMachineArn=stack.state_machine_arn)["definition"]
        )
    )
    told: set[str] = set()
    shown = 0
    execution_name = arn.rsplit(":", 1)[1]
    while True:
        lines = history.readable(stack.history(arn), keys)
        for line in lines[shown:]:
            if line.text != "entered":
                print(f"  {line.seconds:6.1f}s  {line.step:<22} {line.text}", flush=True)
        shown = len(lines)
        status = stack.sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            return status
        for role in ("qa", "relman"):
            signoff = signoffs.signoff_id(execution_name, role)
            item = signoffs.get(signoff, table_name="sysaddons-signoffs")
            if not item or item["status"] != "pending" or signoff in told:
                continue
            told.add(signoff)
            who = signoffs.ROLES[role]
            if auto_approve:
                print(f"  waiting for {who} signoff {signoff}: approving as {REVIEWERS[role]}")
                signoffs.decide(
                    signoff,
                    signoffs.Reviewer(REVIEWERS[role], {role}),
                    True,
                    "approved automatically by the local stack",
                    table_name="sysaddons-signoffs",
                )
            else:
                print(
                    f"  waiting for {who} signoff {signoff}. Decide in the signoff app:\n"
                    f"    {app_url}/signoffs/{signoff}  (sign in as {REVIEWERS[role]})\n"
                    f"  or in another terminal:\n"
                    f"    ./dev sysaddons --local approve {signoff} "
                    f"--as {REVIEWERS[role]} --role {role}\n"
                    f"    ./dev sysaddons --local reject {signoff} "
                    f"--as {REVIEWERS[role]} --role {role} --reason '...'"
                )
        time.sleep(0.3)


def _report(stack: LocalStack, arn: str, request: dict) -> None:
    described = stack.sfn.describe_execution(executionArn=arn)
    output = json.loads(described.get("output") or "{}")
    print(f"Status: {described['status']}")
    if described["status"] != "SUCCEEDED":
        print(f"  {described.get('error')}: {described.get('cause')}")
        return
    bug = stack.bugzilla.bugs[output["tracking_bug"]["id"]]
    print(f"Bug {bug['id']}: {bug['status']} {bug.get('resolution', '')} - {bug['summary']}")
    print(
        f"Balrog release {output['release']['release']} on channel {output['release']['channel']}:"
    )
    for firefox, version in output["release"]["served"].items():
        print(f"  Firefox {firefox} is served {request['addon']['id']} {version}")
    print(f"Emails sent: {len(stack.sent_emails())}")


if __name__ == "__main__":
    sys.exit(main())
