"""The local Lambda endpoint runs Apex functions as Lambda and Step Functions would see them."""

import json
import os
import textwrap
import threading
import time
from pathlib import Path

import boto3
import moto
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_stack.lambda_endpoint import LocalLambda

ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"

ECHO = """
    import os
    import sys

    def handle(event, context):
        return {
            "event": event,
            "pid": os.getpid(),
            "sys_path": sys.path[:4],
            "environment": dict(os.environ),
            "context": {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining_ms": context.get_remaining_time_in_millis(),
            },
        }
"""

SLEEPER = """
    import os
    import time

    def handle(event, context):
        time.sleep(event.get("seconds", 0))
        if event.get("crash"):
            os._exit(3)
        return {"pid": os.getpid()}
"""


class Project:
    """A throwaway Apex project in a temporary folder, with the endpoints started on it."""

    def __init__(self, root: Path):
        self.root = root
        self.functions_dir = root / "apex" / "functions"
        self.project_file = root / "project.json"
        self.log: list[tuple[str, str]] = []
        self._started: list[LocalLambda] = []
        self.functions_dir.mkdir(parents=True)
        self.configure(name="sysaddons", runtime="python3.11", memory=128)

    def configure(self, **settings) -> None:
        """Write project.json with these project-wide defaults."""
        self.project_file.write_text(json.dumps(settings))

    def add_function(self, name: str, source: str, **settings) -> None:
        """Write a function folder: main.py from the source and function.json from settings."""
        folder = self.functions_dir / name
        folder.mkdir()
        (folder / "main.py").write_text(textwrap.dedent(source))
        (folder / "function.json").write_text(json.dumps({"handler": "main.handle", **settings}))

    def start(self, **options) -> LocalLambda:
        """Start an endpoint on this project; it is stopped when the test ends."""
        options.setdefault("log_sink", lambda function, line: self.log.append((function, line)))
        local_lambda = LocalLambda(self.functions_dir, self.project_file, **options)
        local_lambda.start()
        self._started.append(local_lambda)
        return local_lambda

    def stop(self) -> None:
        """Stop every endpoint this project started."""
        for local_lambda in self._started:
            local_lambda.stop()


@pytest.fixture
def project(tmp_path):
    """A throwaway Apex project; its endpoints and their workers stop with the test."""
    project = Project(tmp_path)
    yield project
    project.stop()


def lambda_client(url: str):
    """A boto3 Lambda client aimed at the local endpoint, without retries."""
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )


def invoke(url: str, function_name: str, event: object = None, **options) -> dict:
    """Invoke synchronously and answer the response with its payload parsed."""
    payload = json.dumps({} if event is None else event)
    response = lambda_client(url).invoke(FunctionName=function_name, Payload=payload, **options)
    response["Payload"] = json.loads(response["Payload"].read())
    return response


def wait_for(condition, seconds: float = 30):
    """Poll until the condition answers something true, or fail after the given seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = condition()
        if answer:
            return answer
        time.sleep(0.05)
    pytest.fail(f"still waiting after {seconds} seconds")


@pytest.mark.parametrize(
    ("function_name", "qualifier", "invoked_arn"),
    [
        ("echo", None, f"{FUNCTION_ARN}:echo"),
        ("echo:$LATEST", None, f"{FUNCTION_ARN}:echo:$LATEST"),
        ("echo:live", None, f"{FUNCTION_ARN}:echo:live"),
        ("echo", "live", f"{FUNCTION_ARN}:echo:live"),
        (f"{FUNCTION_ARN}:echo", None, f"{FUNCTION_ARN}:echo"),
        (f"{FUNCTION_ARN}:echo:live", None, f"{FUNCTION_ARN}:echo:live"),
        (f"{ACCOUNT}:function:echo", None, f"{FUNCTION_ARN}:echo"),
        ("sysaddons_echo", None, f"{FUNCTION_ARN}:sysaddons_echo"),
    ],
)
def test_function_answers_to_its_name_arn_and_qualifier(
    project, function_name, qualifier, invoked_arn
):
    project.add_function("echo", ECHO)
    local_lambda = project.start()
    options = {"Qualifier": qualifier} if qualifier else {}

    response = invoke(local_lambda.url, function_name, {"bug": 1}, **options)

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert response["Payload"]["context"]["invoked_function_arn"] == invoked_arn
    assert [record.function_name for record in local_lambda.invocations] == ["echo"]


def test_event_and_result_round_trip_through_a_warm_worker(project):
    project.add_function("echo", ECHO)
    local_lambda = project.start()
    event = {"addon": "pictureinpicture@mozilla.org", "versions": ["1.0", "1.1"], "note": "é ✓"}

    first = invoke(local_lambda.url, "echo", event)["Payload"]
    second = invoke(local_lambda.url, "echo", event)["Payload"]

    assert first["event"] == event
    assert second["pid"] == first["pid"]
    assert first["context"]["aws_request_id"] != second["context"]["aws_request_id"]
    assert [record.error_type for record in local_lambda.invocations] == [None, None]


def test_handler_exception_answers_its_class_name(project):
    project.add_function(
        "check_request",
        """
        class InvalidRequest(Exception):
            pass

        def handle(event, context):
            raise InvalidRequest("version is missing")
        """,
    )
    local_lambda = project.start()

    response = invoke(local_lambda.url, "check_request")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["Payload"]["errorType"] == "InvalidRequest"
    assert response["Payload"]["errorMessage"] == "version is missing"
    assert "main.py" in response["Payload"]["stackTrace"][0]
    assert local_lambda.invocations[0].error_type == "InvalidRequest"


def test_handler_output_goes_to_the_log_not_to_the_answer(project):
    project.add_function(
        "chatty",
        """
        import os

        print("importing")

        def handle(event, context):
            print('{"payload": "not the answer"}')
            os.write(1, b"written to fd 1\\n")
            return {"answer": 42}
        """,
    )
    local_lambda = project.start()

    first = invoke(local_lambda.url, "chatty")
    second = invoke(local_lambda.url, "chatty")

    assert first["Payload"] == second["Payload"] == {"answer": 42}
    wait_for(lambda: [line for _, line in project.log].count("written to fd 1") == 2)
    assert ("chatty", "importing") in project.log
    assert ("chatty", '{"payload": "not the answer"}') in project.log


def test_environment_is_project_then_function_then_extra(project, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "parent-key")
    project.configure(
        name="sysaddons",
        memory=128,
        environment={"CHANNEL": "project", "BUGZILLA_URL": "project", "BALROG_URL": "project"},
    )
    project.add_function(
        "echo",
        ECHO,
        memory=512,
        environment={"BUGZILLA_URL": "function", "BALROG_URL": "function"},
    )
    local_lambda = project.start(extra_env={"BALROG_URL": "extra", "AWS_REGION": "eu-west-1"})

    answer = invoke(local_lambda.url, "echo")["Payload"]

    environment = answer["environment"]
    assert environment["CHANNEL"] == "project"
    assert environment["BUGZILLA_URL"] == "function"
    assert environment["BALROG_URL"] == "extra"
    assert "AWS_ENDPOINT_URL_LAMBDA" not in environment
    assert "AWS_ACCESS_KEY_ID" not in environment
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    function_dir = str(project.functions_dir / "echo")
    assert answer["sys_path"][0] == function_dir
    assert [entry for entry in answer["sys_path"] if entry != function_dir][0] == str(project.root)


def test_region_defaults_to_us_east_1(project):
    project.add_function("echo", ECHO)
    local_lambda = project.start()

    environment = invoke(local_lambda.url, "echo")["Payload"]["environment"]

    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "us-east-1"


def test_context_describes_the_function_and_its_time_left(project):
    project.add_function("echo", ECHO, timeout=30)
    local_lambda = project.start()

    context = invoke(local_lambda.url, "echo")["Payload"]["context"]

    assert context["function_name"] == "echo"
    assert context["function_version"] == "$LATEST"
    assert context["memory_limit_in_mb"] == "128"
    assert context["log_group_name"] == "/aws/lambda/echo"
    assert context["log_stream_name"]
    assert context["aws_request_id"] == local_lambda.invocations[0].request_id
    assert 0 < context["remaining_ms"] <= 30_000


def test_new_extra_env_reaches_workers_started_after_it(project):
    project.add_function("echo", ECHO)
    local_lambda = project.start(extra_env={"BALROG_URL": "http://127.0.0.1:1"})
    before = invoke(local_lambda.url, "echo")["Payload"]

    local_lambda.set_extra_env({"BALROG_URL": "http://127.0.0.1:2"})
    after = invoke(local_lambda.url, "echo")["Payload"]

    assert before["environment"]["BALROG_URL"] == "http://127.0.0.1:1"
    assert after["environment"]["BALROG_URL"] == "http://127.0.0.1:2"
    assert after["pid"] != before["pid"]


def test_timeout_kills_the_worker_and_the_next_call_gets_a_fresh_one(project):
    project.add_function("sleeper", SLEEPER, timeout=1)
    local_lambda = project.start()
    warm_pid = invoke(local_lambda.url, "sleeper")["Payload"]["pid"]

    timed_out = invoke(local_lambda.url, "sleeper", {"seconds": 30})
    after = invoke(local_lambda.url, "sleeper")

    request_id = local_lambda.invocations[1].request_id
    assert timed_out["FunctionError"] == "Unhandled"
    assert timed_out["Payload"]["errorType"] == "Sandbox.Timedout"
    assert timed_out["Payload"]["errorMessage"] == (
        f"{request_id} Task timed out after 1.00 seconds"
    )
    assert "FunctionError" not in after
    assert after["Payload"]["pid"] != warm_pid
    with pytest.raises(ProcessLookupError):
        os.kill(warm_pid, 0)


def test_concurrent_invocations_run_side_by_side_in_two_workers(project):
    project.add_function("sleeper", SLEEPER)
    local_lambda = project.start()
    answers = []

    callers = [
        threading.Thread(
            target=lambda: answers.append(invoke(local_lambda.url, "sleeper", {"seconds": 1}))
        )
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()

    first, second = local_lambda.invocations
    assert first.started < second.ended and second.started < first.ended
    assert len({answer["Payload"]["pid"] for answer in answers}) == 2


def test_invocations_wait_for_a_worker_at_the_limit(project):
    project.add_function("sleeper", SLEEPER)
    local_lambda = project.start(max_workers_per_function=1)
    answers = []

    callers = [
        threading.Thread(
            target=lambda: answers.append(invoke(local_lambda.url, "sleeper", {"seconds": 0.5}))
        )
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()

    first, second = sorted(local_lambda.invocations, key=lambda record: record.started)
    assert first.ended <= second.started
    assert len({answer["Payload"]["pid"] for answer in answers}) == 1


def test_crashed_worker_answers_a_function_error_and_is_replaced(project):
    project.add_function("sleeper", SLEEPER)
    local_lambda = project.start()
    warm_pid = invoke(local_lambda.url, "sleeper")["Payload"]["pid"]

    crashed = invoke(local_lambda.url, "sleeper", {"crash": True})
    after = invoke(local_lambda.url, "sleeper")

    assert crashed["FunctionError"] == "Unhandled"
    assert crashed["Payload"]["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed["Payload"]["errorMessage"]
    assert after["Payload"]["pid"] != warm_pid


def test_import_error_is_answered_and_retried_on_the_next_call(project):
    project.add_function("broken", "import missing_module_of_nobody\n")
    local_lambda = project.start()

    first = invoke(local_lambda.url, "broken")
    (project.functions_dir / "broken" / "main.py").write_text(
        "def handle(event, context):\n    return 1\n"
    )
    second = invoke(local_lambda.url, "broken")

    assert first["Payload"]["errorType"] == "Runtime.ImportModuleError"
    assert second["Payload"] == 1


def test_unknown_function_is_not_found(project):
    local_lambda = project.start()
    client = lambda_client(local_lambda.url)

    with pytest.raises(client.exceptions.ResourceNotFoundException) as error:
        client.invoke(FunctionName="file_tracking_bug", Payload=b"{}")

    assert error.value.response["Error"]["Message"] == (
        f"Function not found: {FUNCTION_ARN}:file_tracking_bug"
    )


def test_body_that_is_not_json_is_refused(project):
    project.add_function("echo", ECHO)
    local_lambda = project.start()

    with pytest.raises(ClientError) as error:
        lambda_client(local_lambda.url).invoke(FunctionName="echo", Payload=b"{not json")

    assert error.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert local_lambda.invocations == []


def test_event_invocation_is_accepted_and_runs_in_the_background(project):
    project.add_function("sleeper", SLEEPER)
    local_lambda = project.start()

    response = lambda_client(local_lambda.url).invoke(
        FunctionName="sleeper", InvocationType="Event", Payload=b'{"seconds": 0.2}'
    )

    assert response["StatusCode"] == 202
    (record,) = wait_for(lambda: local_lambda.invocations)
    assert record.invocation_type == "Event"
    assert record.error_type is None


def test_dry_run_checks_the_function_without_running_it(project):
    project.add_function("echo", ECHO)
    local_lambda = project.start()

    response = lambda_client(local_lambda.url).invoke(FunctionName="echo", InvocationType="DryRun")

    assert response["StatusCode"] == 204
    assert local_lambda.invocations == []


FLAKY_REMOTE = """
    from pathlib import Path

    class RemoteUnavailable(Exception):
        pass

    def handle(event, context):
        attempts_file = Path(event["attempts_file"])
        attempts = int(attempts_file.read_text()) + 1 if attempts_file.exists() else 1
        attempts_file.write_text(str(attempts))
        if attempts < 3:
            raise RemoteUnavailable(f"Bugzilla answered 503 on attempt {attempts}")
        return {"bug": 1234, "attempts": attempts}
"""

REJECTING = """
    class InvalidRequest(Exception):
        pass

    def handle(event, context):
        raise InvalidRequest("xpi_url must be https")
"""


def run_execution(stepfunctions, definition: dict, name: str, execution_input: dict) -> dict:
    """Create a state machine, run one named execution, and answer its final description."""
    state_machine = stepfunctions.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/system-addons",
    )
    execution = stepfunctions.start_execution(
        stateMachineArn=state_machine["stateMachineArn"],
        name=f"{name}-execution",
        input=json.dumps(execution_input),
    )

    def finished():
        description = stepfunctions.describe_execution(executionArn=execution["executionArn"])
        return description if description["status"] != "RUNNING" else None

    return wait_for(finished)


def test_step_functions_retries_and_catches_handler_errors_by_name(project, monkeypatch, tmp_path):
    project.add_function("file_tracking_bug", FLAKY_REMOTE)
    project.add_function("check_request", REJECTING)
    local_lambda = project.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", local_lambda.url)
    retrying = {
        "StartAt": "FileTrackingBug",
        "States": {
            "FileTrackingBug": {
                "Type": "Task",
                "Resource": f"{FUNCTION_ARN}:file_tracking_bug",
                "Retry": [
                    {
                        "ErrorEquals": ["RemoteUnavailable"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 3,
                        "BackoffRate": 1,
                    }
                ],
                "End": True,
            }
        },
    }
    catching = {
        "StartAt": "CheckRequest",
        "States": {
            "CheckRequest": {
                "Type": "Task",
                "Resource": f"{FUNCTION_ARN}:check_request",
                "Catch": [{"ErrorEquals": ["InvalidRequest"], "Next": "RequestRejected"}],
                "End": True,
            },
            "RequestRejected": {
                "Type": "Fail",
                "Error": "RequestRejected",
                "Cause": "the request was caught as InvalidRequest",
            },
        },
    }

    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        stepfunctions = boto3.client("stepfunctions", region_name="us-east-1")
        retried = run_execution(
            stepfunctions,
            retrying,
            "file-tracking-bug",
            {"attempts_file": str(tmp_path / "attempts")},
        )
        rejected = run_execution(stepfunctions, catching, "check-request", {"addon": "x"})

    assert retried["status"] == "SUCCEEDED"
    assert json.loads(retried["output"]) == {"bug": 1234, "attempts": 3}
    assert rejected["status"] == "FAILED"
    assert rejected["error"] == "RequestRejected"
    outcomes = [(record.function_name, record.error_type) for record in local_lambda.invocations]
    assert outcomes == [
        ("file_tracking_bug", "RemoteUnavailable"),
        ("file_tracking_bug", "RemoteUnavailable"),
        ("file_tracking_bug", None),
        ("check_request", "InvalidRequest"),
    ]
