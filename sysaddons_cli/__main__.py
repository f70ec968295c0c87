"""``sysaddons``: list, approve and reject pending signoffs, on AWS or on the local stack."""

import argparse
import json
import os
import sys
from datetime import datetime, timezone

from sysaddons import signoffs
from sysaddons.errors import RemoteUnavailable, SignoffNotDecidable

LOCAL_STATE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".local-stack", "stack.json"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="sysaddons", description=__doc__.split(":", 1)[1].strip()
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="talk to the local stack started by ./dev ship-example",
    )
    parser.add_argument("--region", help="AWS region (default: from your AWS configuration)")
    parser.add_argument("--profile", help="AWS profile to use")
    parser.add_argument(
        "--table",
        default=os.environ.get("SIGNOFF_TABLE", "sysaddons-signoffs"),
        help="the signoff table (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("signoffs", help="list signoffs (pending ones by default)")
    listing.add_argument("--all", action="store_true", help="include decided and expired ones")

    for verb in ("approve", "reject"):
        command = commands.add_parser(verb, help=f"{verb} a pending signoff")
        command.add_argument("signoff", help="the signoff id, as `sysaddons signoffs` shows it")
        command.add_argument("--as", dest="reviewer", required=True, help="your email address")
        command.add_argument(
            "--role", required=True, choices=sorted(signoffs.ROLES), help="the role you decide in"
        )
        command.add_argument("--reason", default="", help="why (required to reject)")

    args = parser.parse_args(argv)
    _configure_aws(args)

    try:
        if args.command == "signoffs":
            return _list(args)
        return _decide(args)
    except SignoffNotDecidable as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 3
    except RemoteUnavailable as error:
        print(f"not sent: {error}", file=sys.stderr)
        return 4


def _configure_aws(args) -> None:
    if args.local:
        if not os.path.exists(LOCAL_STATE):
            sys.exit("no local stack is running: start one with ./dev ship-example")
        with open(LOCAL_STATE) as state_file:
            state = json.load(state_file)
        os.environ.update(
            AWS_ENDPOINT_URL=state["aws_endpoint_url"],
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION=state["region"],
        )
        args.table = state["signoff_table"]
        return
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region


def _list(args) -> int:
    items = signoffs.list_signoffs(None if args.all else signoffs.PENDING, table_name=args.table)
    shown = [{key: value for key, value in item.items() if key != "task_token"} for item in items]
    if args.json:
        print(json.dumps(shown, indent=2, default=str))
        return 0
    if not shown:
        print("no pending signoffs" if not args.all else "no signoffs")
        return 0
    for item in shown:
        expires = datetime.fromtimestamp(int(item["expires_at"]), timezone.utc)
        print(
            f"{item['signoff_id']}  {item['status']:<8} {signoffs.ROLES[item['role']]:<19} "
            f"{item['addon_name']} {item['version']}  bug {item['bug_id']}  "
            f"by {item['requested_by']}  expires {expires:%Y-%m-%d %H:%M}Z"
        )
    return 0


def _decide(args) -> int:
    reviewer = signoffs.Reviewer(args.reviewer, {args.role})
    decision = signoffs.decide(
        args.signoff, reviewer, args.command == "approve", args.reason, table_name=args.table
    )
    if args.json:
        print(json.dumps(decision, indent=2))
    else:
        print(f"{decision['decision']} {args.signoff} as {args.reviewer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
