"""Command line: python -m deploy [--env dev|prod] [--dry-run] [deploy|rollback|status]."""

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from deploy import commands
from deploy.aws import AwsClients
from deploy.config import Environment
from deploy.errors import DeployError
from deploy.plan import Plan
from tools.bundle import BundleError


def parse_arguments(arguments: list[str]) -> argparse.Namespace:
    """The command line, checked."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy",
        description="Deploy the system add-on workflow to AWS, roll it back, or say what is live.",
    )
    parser.add_argument(
        "--env",
        default="dev",
        help="environment name (deploy/environments/NAME.json) or the path of such a file",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change, change nothing"
    )
    parser.add_argument(
        "--endpoint-url",
        help="send every AWS call there instead of AWS, for example a local moto server",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="deploy",
        choices=("deploy", "rollback", "status", "policies"),
        help="deploy (default): bring AWS to this checkout; rollback: move the alias to the "
        "previous version; status: what the alias serves; policies: print the IAM documents",
    )
    parser.add_argument(
        "--to", type=int, metavar="VERSION", help="rollback: the version to move to"
    )
    parser.add_argument(
        "--account",
        help="policies: the account id to fill in, instead of asking AWS",
    )
    return parser.parse_args(arguments)


def main(arguments: list[str] | None = None) -> int:
    """Run one command; answer the exit status."""
    options = parse_arguments(sys.argv[1:] if arguments is None else arguments)
    plan = Plan(dry_run=options.dry_run)
    try:
        environment = Environment.load(options.env)
        clients = AwsClients(environment.region, endpoint_url=options.endpoint_url)
        if options.command == "deploy":
            commands.deploy(environment, clients, plan)
        elif options.command == "rollback":
            commands.rollback(environment, clients, plan, to_version=options.to)
        elif options.command == "status":
            commands.status(environment, clients, plan)
        else:
            commands.policies(environment, options.account or clients.account, plan)
    except (DeployError, BundleError) as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print(
            "deploy: no AWS credentials (set AWS_PROFILE or the AWS_* variables)", file=sys.stderr
        )
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"deploy: AWS refused: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
