"""A warm Lambda container: imports one handler, then runs invocations one at a time.

Run as ``python -m local_stack.lambda_worker <function_dir> <handler>``. The parent writes one
JSON line per invocation on stdin::

    {"request_id": "...", "invoked_function_arn": "...", "deadline": <epoch seconds>,
     "event": <the event>}

and the worker answers one JSON line on its original stdout: ``{"payload": "<JSON text>"}``
for a result, or ``{"error": {"errorType", "errorMessage", "stackTrace"}}`` for a failure.
Everything the handler writes to stdout goes to stderr, which the parent treats as the log.
"""

import importlib
import json
import os
import sys
import time
import traceback
from types import TracebackType
from typing import BinaryIO, Callable, TextIO


class LambdaContext:
    """The context object a Python Lambda handler receives, for one invocation."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline: float):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = invoked_function_arn
        self.aws_request_id = request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out."""
        return max(0, int((self._deadline - time.time()) * 1000))


def describe_error(error_type: str, message: str, trace: TracebackType | None = None) -> dict:
    """The error body Lambda answers with, stack trace included when there is one."""
    stack = traceback.format_list(traceback.extract_tb(trace)) if trace else []
    return {"errorType": error_type, "errorMessage": message, "stackTrace": stack}


def load_handler(handler_name: str) -> tuple[Callable | None, dict | None]:
    """The handler named like "main.handle", or the error invocations answer while it fails."""
    module_name, _, function_name = handler_name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        traceback.print_exc()
        message = f"Unable to import module '{module_name}': {error}"
        return None, describe_error("Runtime.ImportModuleError", message)

    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return None, describe_error("Runtime.HandlerNotFound", message)
    return handler, None


def run_invocation(handler: Callable, request: dict) -> dict:
    """Call the handler with one request and build the answer line."""
    context = LambdaContext(
        request["request_id"], request["invoked_function_arn"], request["deadline"]
    )
    try:
        result = handler(request["event"], context)
    except Exception as error:
        # The first frame is this function's; the stack trace starts in the handler.
        handler_trace = error.__traceback__.tb_next
        error_type = type(error).__name__
        print(f"[ERROR] {error_type}: {error}", file=sys.stderr)
        print("Traceback (most recent call last):", file=sys.stderr)
        traceback.print_tb(handler_trace, file=sys.stderr)
        return {"error": describe_error(error_type, str(error), handler_trace)}

    try:
        return {"payload": json.dumps(result)}
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        return {"error": describe_error("Runtime.MarshalError", message)}


def take_protocol_streams() -> tuple[BinaryIO, TextIO]:
    """Keep stdin and stdout for the protocol and point the handler's fds 0 and 1 elsewhere."""
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")

    with open(os.devnull, "rb") as nothing:
        os.dup2(nothing.fileno(), 0)
    # Output written to fd 1 by the handler, its libraries or its subprocesses is log output.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return requests, answers


def serve(handler_name: str) -> None:
    """Answer invocations until the parent closes stdin."""
    requests, answers = take_protocol_streams()
    handler, init_error = load_handler(handler_name)

    for line in requests:
        request = json.loads(line)
        if handler is None:
            # Like Lambda, a failed init is retried on the next invocation.
            handler, init_error = load_handler(handler_name)
        if handler is None:
            answer = {"error": init_error}
        else:
            answer = run_invocation(handler, request)

        sys.stderr.flush()
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> None:
    """Enter the function's folder, as Lambda's /var/task, and serve its handler."""
    function_dir, handler_name = sys.argv[1], sys.argv[2]
    os.chdir(function_dir)
    if sys.path[0] != function_dir:
        sys.path.insert(0, function_dir)
    serve(handler_name)


if __name__ == "__main__":
    main()
