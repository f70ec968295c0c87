"""``sysaddons``: start, follow and sign off system add-on releases, on AWS or the local stack.

Exit codes: 0 started, shipped or decided; 1 the execution failed; 2 the request or the
command line is invalid; 3 a decision was refused; 4 AWS or the local stack cannot be
reached or is not configured; 5 the execution waits for a signoff.
"""

import argparse
import json
import sys

from botocore.exceptions import BotoCoreError, ClientError

from sysaddons.errors import (
    InvalidRequest,
    ReleaseInProgress,
    RemoteUnavailable,
    SignoffNotDecidable,
)
from sysaddons_cli import commands
from sysaddons_cli.connection import NotConfigured, connect

EXIT_INVALID = 2
EXIT_REFUSED = 3
EXIT_UNREACHABLE = 4


def parser() -> argparse.ArgumentParser:
    """The command line's options and commands."""
    top = argparse.ArgumentParser(
        prog="sysaddons",
        description="Start, follow and sign off system add-on releases.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = top.add_argument_group("where the workflow runs")
    where.add_argument(
        "--local", action="store_true", help="the local stack (./dev ship-example --keep-running)"
    )
    where.add_argument(
        "--state-machine",
        help="the state machine or its live alias ARN (default: $SYSADDONS_STATE_MACHINE_ARN)",
    )
    where.add_argument("--region", help="AWS region (default: from the ARN or AWS config)")
    where.add_argument("--profile", help="AWS profile")
    where.add_argument("--endpoint-url", help="another Step Functions/DynamoDB endpoint")
    where.add_argument("--table", help="the signoff table (default: $SIGNOFF_TABLE)")
    top.add_argument("--json", action="store_true", help="machine-readable output")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    start = sub.add_parser("start", help="check a request as the workflow would, then start it")
    start.add_argument("request", type=argparse.FileType("r"), help="the request JSON file")
    start.add_argument("--watch", action="store_true", help="follow the execution once started")

    for name, text in (
        ("status", "the steps of an execution, with their state and timing"),
        ("watch", "follow an execution until it ends or waits for a signoff"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("execution", help="the execution's name or ARN")

    listing = sub.add_parser("list", help="recent executions, newest first")
    listing.add_argument("--limit", type=int, default=20, help="how many (default: 20)")

    signoffs = sub.add_parser("signoffs", help="pending signoffs (--all for every one)")
    signoffs.add_argument("--all", action="store_true", help="include decided and expired")

    for verb in ("approve", "reject"):
        command = sub.add_parser(verb, help=f"{verb} a pending signoff")
        command.add_argument("signoff", help="the signoff id, as `sysaddons signoffs` shows it")
        command.add_argument("--as", dest="reviewer", required=True, help="your email address")
        command.add_argument(
            "--role", required=True, choices=["qa", "relman"], help="the role you decide in"
        )
        command.add_argument("--reason", default="", help="why (required to reject)")

    graph = sub.add_parser("graph", help="draw the workflow (SVG, or PNG with chromium)")
    graph.add_argument("--execution", help="mark each state as this execution left it")
    graph.add_argument(
        "--definition",
        type=argparse.FileType("r"),
        help="an ASL file (default: the deployed definition)",
    )
    graph.add_argument("--output", "-o", required=True, help="the .svg or .png file to write")
    return top


def main(argv=None) -> int:
    """Run one command; answers the exit code."""
    args = parser().parse_args(argv)
    try:
        connection = connect(args)
        return commands.BY_NAME[args.command](connection, args)
    except (InvalidRequest, ReleaseInProgress, commands.UsageError) as refusal:
        return _fail(args, type(refusal).__name__, str(refusal), EXIT_INVALID)
    except SignoffNotDecidable as refusal:
        return _fail(args, type(refusal).__name__, str(refusal), EXIT_REFUSED)
    except (NotConfigured, RemoteUnavailable, BotoCoreError) as error:
        return _fail(args, type(error).__name__, str(error), EXIT_UNREACHABLE)
    except ClientError as error:
        detail = error.response.get("Error", {})
        return _fail(args, str(detail.get("Code")), str(detail.get("Message")), EXIT_UNREACHABLE)


def _fail(args, kind: str, message: str, code: int) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": kind, "message": message}))
    else:
        print(f"{kind}: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
