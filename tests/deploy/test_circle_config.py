"""circle.yml is a valid CircleCI 2.1 configuration that tests every push and deploys master.

Validation uses the CircleCI schema that check-jsonschema ships (``vendor.circle-ci``), so it
needs no network.
"""

import subprocess
import sys

import pytest
import yaml

from local_stack.definition import ROOT

CIRCLE_CONFIG = ROOT / "circle.yml"


def validate(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.circle-ci",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CIRCLE_CONFIG.read_text())


def test_circle_config_matches_circleci_schema():
    answer = validate(CIRCLE_CONFIG)

    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_schema_check_refuses_a_broken_config(tmp_path, config):
    broken = dict(
        config, jobs={**config["jobs"], "test": {**config["jobs"]["test"], "steps": "x"}}
    )
    path = tmp_path / "circle.yml"
    path.write_text(yaml.safe_dump(broken))

    answer = validate(path)

    assert answer.returncode != 0
    assert "jobs.test" in answer.stdout


def test_every_push_runs_the_readme_test_command(config):
    workflow = config["workflows"]["test-and-deploy"]["jobs"]
    steps = config["jobs"]["test"]["steps"]

    assert config["version"] == 2.1
    assert "test" in workflow
    assert {"run": {"name": "Tests", "command": "./dev test"}} in steps


def test_master_deploys_dev_then_prod_after_the_tests_with_context_credentials(config):
    jobs = {
        job["deploy"]["name"]: job["deploy"]
        for job in config["workflows"]["test-and-deploy"]["jobs"]
        if isinstance(job, dict) and "deploy" in job
    }
    commands = [
        step["run"]["command"]
        for step in config["jobs"]["deploy"]["steps"]
        if isinstance(step, dict) and "run" in step
    ]

    assert jobs["deploy-dev"]["requires"] == ["test"]
    assert jobs["deploy-prod"]["requires"] == ["deploy-dev"]
    for name, target in (("deploy-dev", "dev"), ("deploy-prod", "prod")):
        assert jobs[name]["target"] == target
        assert jobs[name]["context"] == f"sysaddons-deploy-{target}"
        assert jobs[name]["filters"] == {"branches": {"only": "master"}}
    assert "use-context-credentials" in config["jobs"]["deploy"]["steps"]
    assert "./dev deploy --env << parameters.target >> deploy" in commands
