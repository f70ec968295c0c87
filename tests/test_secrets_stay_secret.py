"""Credentials come from the secret stores and never show up in logs, histories or errors."""

import json

from tests.conftest import make_request
from tests.test_workflow_end_to_end import run


def test_no_credential_appears_in_logs_history_or_output(stack):
    request = make_request(stack, "quiet", firefox_versions=["150.0"])
    stack.bugzilla.faults.add("POST", r"^/rest/bug/\d+/comment$", "error503", times=1)
    _, described = run(stack, request)
    assert described["status"] == "SUCCEEDED", described.get("cause")

    credentials = [
        stack.bugzilla_key,
        stack.balrog_credentials["client_secret"],
        *stack.balrog._tokens,
    ]
    logs = "\n".join(line for _, line in stack.lambda_log)
    history = json.dumps(stack.history(described["executionArn"]), default=str)
    assert "step failed" in logs  # the 503 was logged, as a named error
    for secret in credentials:
        assert secret not in logs
        assert secret not in history
        assert secret not in json.dumps(described, default=str)


def test_the_repository_config_names_secrets_but_holds_none():
    from local_stack.definition import FUNCTIONS, PROJECT

    environment = json.loads(PROJECT.read_text())["environment"]
    for function in FUNCTIONS.glob("*/function.json"):
        environment.update(json.loads(function.read_text()).get("environment", {}))
    secret_settings = {k: v for k, v in environment.items() if k.endswith("_SECRET")}
    assert secret_settings, "the functions must be told where their secrets are"
    assert all(v.startswith(("ssm:", "secretsmanager:")) for v in secret_settings.values())
    assert not [k for k in environment if "KEY" in k and not k.endswith("_SECRET")]
