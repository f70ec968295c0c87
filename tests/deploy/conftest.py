"""Fixtures for the deployer's tests: a Python like Lambda's, snapshots of the sources, moto."""

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from deploy.aws import AwsClients
from deploy.commands import Sources
from local_stack.definition import ROOT
from tools import bundle

LAMBDA_PYTHON = "3.12"
# Where a Python of Lambda's version may be, besides PATH: the one running the tests, pyenv's.
_PYTHON_CANDIDATES = (
    sys.executable,
    shutil.which(f"python{LAMBDA_PYTHON}") or "",
    *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{LAMBDA_PYTHON}*/bin/python3"))),
    f"/usr/bin/python{LAMBDA_PYTHON}",
    f"/usr/local/bin/python{LAMBDA_PYTHON}",
)


def _runs_lambda_python(candidate: str) -> bool:
    if not candidate or not os.access(candidate, os.X_OK):
        return False
    try:
        answer = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0 and answer.stdout.strip() == LAMBDA_PYTHON


@pytest.fixture(scope="session")
def lambda_python() -> str:
    """A Python of the Lambda runtime's version, to import bundles as Lambda would."""
    for candidate in _PYTHON_CANDIDATES:
        if _runs_lambda_python(candidate):
            return candidate
    pytest.skip(f"no Python {LAMBDA_PYTHON} on this machine to import the bundles with")


@pytest.fixture(scope="session")
def runtime_packages() -> Path:
    """What the Lambda runtime provides besides the standard library: boto3 and its own needs."""
    return bundle.install_dependencies(["boto3"], f"python{LAMBDA_PYTHON}")


def isolated_environment() -> dict[str, str]:
    """An environment for a child interpreter that can reach no AWS account, nor metadata."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def snapshot_sources(target: Path) -> Sources:
    """A copy of the code being deployed, so edits made meanwhile by others change nothing."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "apex" / "functions", target / "apex" / "functions", ignore=ignore)
    shutil.copy(ROOT / "project.json", target / "project.json")
    shutil.copytree(ROOT / "sysaddons", target / "sysaddons", ignore=ignore)
    if (ROOT / "apps").is_dir():
        shutil.copytree(ROOT / "apps", target / "apps", ignore=ignore)
    else:
        (target / "apps").mkdir()
    return Sources(
        project_file=target / "project.json",
        functions_dir=target / "apex" / "functions",
        shared_package=target / "sysaddons",
        apps_dir=target / "apps",
        build_dir=target / "build",
    )


@pytest.fixture(scope="session")
def moto_clients(stack) -> AwsClients:
    """Clients on the local stack's moto server, with fake credentials, never on AWS."""
    session = boto3.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )
    return AwsClients("us-east-1", endpoint_url=stack.moto_url, session=session)
