"""The Lambda Invoke API on loopback, running the Apex functions of this repository.

Step Functions (moto, in the same process) invokes Lambda tasks through boto3; with
``AWS_ENDPOINT_URL_LAMBDA`` pointing here, each Task runs the function's ``main.py`` in a warm
worker process, with the environment Apex would deploy plus the local stack's overrides.
"""

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_HANDLER = "main.handle"
DEFAULT_NAME_TEMPLATE = "{{.Project.Name}}_{{.Function.Name}}"
LATEST = "$LATEST"

_INVOKE_PREFIX = "/2015-03-31/functions/"
_INVOKE_SUFFIX = "/invocations"
_INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT")
_EXIT_GRACE_SECONDS = 5
_SHUTDOWN_POLL_SECONDS = 0.05
# The package that holds the worker module; a function folder outside this repository (as in
# tests) still needs it importable to start its worker.
_WORKER_ROOT = Path(__file__).resolve().parent.parent

LogSink = Callable[[str, str], None]


@dataclass(frozen=True)
class Invocation:
    """One finished invocation, as CloudWatch's REPORT line would describe it."""

    function_name: str
    request_id: str
    invocation_type: str
    started: float
    ended: float
    duration_ms: float
    error_type: str | None


@dataclass(frozen=True)
class FunctionConfig:
    """A function's Apex settings after merging project.json and function.json."""

    name: str
    directory: Path
    handler: str
    memory_mb: int
    timeout_seconds: float
    environment: dict[str, str]


@dataclass(frozen=True)
class FunctionReference:
    """The function a request names, with the ARN it was invoked as."""

    name: str
    arn: str


def write_to_stderr(function_name: str, line: str) -> None:
    """Default log sink: the worker's log line on this process's stderr, tagged by function."""
    sys.stderr.write(f"[{function_name}] {line}\n")


def parse_function_name(function_name: str, qualifier: str | None) -> FunctionReference:
    """Split a plain name, "name:qualifier", or a full or partial ARN into name and ARN."""
    parts = function_name.split(":")
    region, account = DEFAULT_REGION, DEFAULT_ACCOUNT
    if parts[0] == "arn" and len(parts) >= 7:
        region, account, name = parts[3], parts[4], parts[6]
        qualifier = parts[7] if len(parts) > 7 else qualifier
    elif len(parts) >= 3 and parts[1] == "function":
        account, name = parts[0], parts[2]
        qualifier = parts[3] if len(parts) > 3 else qualifier
    else:
        name = parts[0]
        qualifier = parts[1] if len(parts) > 1 else qualifier

    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    if qualifier:
        arn = f"{arn}:{qualifier}"
    return FunctionReference(name=name, arn=arn)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def deployed_names(functions_dir: Path, project_file: Path) -> dict[str, str]:
    """Every name a function answers to: its folder name, and the name Apex deploys it as."""
    project = _read_json(project_file)
    names = {}
    for function_file in sorted(functions_dir.glob("*/function.json")):
        folder = function_file.parent.name
        names[folder] = folder
        if "name" in project:
            template = project.get("nameTemplate", DEFAULT_NAME_TEMPLATE)
            deployed = template.replace("{{.Project.Name}}", project["name"])
            names[deployed.replace("{{.Function.Name}}", folder)] = folder
    return names


def load_function_config(functions_dir: Path, project_file: Path, name: str) -> FunctionConfig:
    """Read a function's settings; function.json wins over project.json, key by key."""
    project = _read_json(project_file)
    function = _read_json(functions_dir / name / "function.json")
    environment = {**project.get("environment", {}), **function.get("environment", {})}
    return FunctionConfig(
        name=name,
        directory=(functions_dir / name).resolve(),
        handler=function.get("handler", project.get("handler", DEFAULT_HANDLER)),
        memory_mb=int(function.get("memory", project.get("memory", DEFAULT_MEMORY_MB))),
        timeout_seconds=float(
            function.get("timeout", project.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        ),
        environment={key: str(value) for key, value in environment.items()},
    )


def worker_environment(
    config: FunctionConfig, repository_root: Path, extra_env: dict[str, str]
) -> dict[str, str]:
    """The environment Lambda would give the function, with the local stack's overrides."""
    environment = {key: os.environ[key] for key in _INHERITED_VARIABLES if key in os.environ}
    # A Lambda has neither an instance metadata service nor the developer's ~/.aws: without
    # credentials in extra_env, AWS calls fail instead of reaching real accounts.
    environment.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    environment.update(config.environment)
    environment.update(extra_env)

    region = extra_env.get("AWS_REGION") or extra_env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    search_path = [str(config.directory), str(repository_root)]
    if _WORKER_ROOT != repository_root:
        search_path.append(str(_WORKER_ROOT))
    log_stream = f"{time.strftime('%Y/%m/%d')}/[{LATEST}]{uuid.uuid4().hex}"
    environment.update(
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        AWS_LAMBDA_FUNCTION_NAME=config.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(config.memory_mb),
        AWS_LAMBDA_FUNCTION_VERSION=LATEST,
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{config.name}",
        AWS_LAMBDA_LOG_STREAM_NAME=log_stream,
        LAMBDA_TASK_ROOT=str(config.directory),
        PYTHONPATH=os.pathsep.join(search_path),
    )
    return environment


def function_error(error_type: str, message: str) -> dict:
    """An error body for a failure of the runtime rather than of the handler."""
    return {"errorType": error_type, "errorMessage": message, "stackTrace": []}


class Worker:
    """One warm worker process serving one function, one invocation at a time."""

    def __init__(self, config: FunctionConfig, environment: dict[str, str], log_sink: LogSink):
        self.generation = 0
        self._answers: queue.Queue[str | None] = queue.Queue()
        command = [
            sys.executable,
            "-m",
            "local_stack.lambda_worker",
            str(config.directory),
            config.handler,
        ]
        self._process = subprocess.Popen(
            command,
            cwd=config.directory,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            errors="replace",
        )
        threading.Thread(target=self._read_answers, daemon=True).start()
        threading.Thread(
            target=self._forward_log, args=(config.name, log_sink), daemon=True
        ).start()

    def _read_answers(self) -> None:
        with self._process.stdout:
            for line in self._process.stdout:
                self._answers.put(line)
        self._answers.put(None)

    def _forward_log(self, function_name: str, log_sink: LogSink) -> None:
        with self._process.stderr:
            for line in self._process.stderr:
                log_sink(function_name, line.rstrip("\n"))

    def is_alive(self) -> bool:
        """Whether the process is still running and able to take an invocation."""
        return self._process.poll() is None

    def invoke(self, request: dict, timeout_seconds: float) -> dict:
        """Send one request and wait for its answer line, or kill the worker at the timeout."""
        request_id = request["request_id"]
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except OSError:
            return {"error": self._exit_error(request_id)}

        try:
            line = self._answers.get(timeout=timeout_seconds)
        except queue.Empty:
            self.kill()
            message = f"{request_id} Task timed out after {timeout_seconds:.2f} seconds"
            return {"error": function_error("Sandbox.Timedout", message)}
        if line is None:
            return {"error": self._exit_error(request_id)}
        return json.loads(line)

    def _exit_error(self, request_id: str) -> dict:
        try:
            status = self._process.wait(timeout=_EXIT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            status = self._process.returncode
        if status < 0:
            reason = f"signal: {signal.Signals(-status).name}"
        else:
            reason = f"exit status {status}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
        return function_error("Runtime.ExitError", message)

    def kill(self) -> None:
        """Stop the process at once, whatever it is doing."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        with contextlib.suppress(OSError):
            self._process.stdin.close()


class WorkerPool:
    """The warm workers of one function: reused when idle, started on demand up to a limit."""

    def __init__(self, config: FunctionConfig, max_workers: int):
        self.config = config
        self._max_workers = max_workers
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._starting = 0
        self._generation = 0
        self._closed = False
        self._changed = threading.Condition()

    def acquire(self, start_worker: Callable[[], Worker]) -> Worker:
        """An idle warm worker, else a new one, else wait until one is released."""
        with self._changed:
            while True:
                if self._closed:
                    raise RuntimeError(f"the worker pool of {self.config.name} is stopped")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.is_alive():
                        self._busy.add(worker)
                        return worker
                    worker.kill()
                if len(self._busy) + self._starting < self._max_workers:
                    self._starting += 1
                    generation = self._generation
                    break
                self._changed.wait()

        try:
            worker = start_worker()
        except BaseException:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
            raise

        worker.generation = generation
        with self._changed:
            self._starting -= 1
            closed = self._closed
            if not closed:
                self._busy.add(worker)
        if closed:
            worker.kill()
            raise RuntimeError(f"the worker pool of {self.config.name} is stopped")
        return worker

    def release(self, worker: Worker) -> None:
        """Return a worker after an invocation; a dead or outdated one is stopped instead."""
        with self._changed:
            self._busy.discard(worker)
            keep = worker.is_alive() and worker.generation == self._generation and not self._closed
            if keep:
                self._idle.append(worker)
            self._changed.notify()
        if not keep:
            worker.kill()

    def retire_workers(self) -> None:
        """Stop idle workers now and busy ones when they finish, so new ones start fresh."""
        with self._changed:
            self._generation += 1
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def close(self) -> None:
        """Stop every worker, busy ones included, and refuse further invocations."""
        with self._changed:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle.clear()
            self._changed.notify_all()
        for worker in workers:
            worker.kill()


class FunctionNotFound(Exception):
    """The request names a function that has no folder under the functions directory."""


class LocalLambda:
    """A loopback Lambda endpoint that runs the repository's Apex functions in warm workers."""

    def __init__(
        self,
        functions_dir: Path,
        project_file: Path,
        extra_env: dict[str, str] | None = None,
        max_workers_per_function: int = 8,
        log_sink: LogSink | None = None,
    ):
        self.functions_dir = Path(functions_dir).resolve()
        self.project_file = Path(project_file)
        self.url: str | None = None
        self._repository_root = self.functions_dir.parent.parent
        self._extra_env = dict(extra_env or {})
        self._max_workers = max_workers_per_function
        self._log_sink = log_sink or write_to_stderr
        self._pools: dict[str, WorkerPool] = {}
        self._pools_lock = threading.Lock()
        self._invocations: list[Invocation] = []
        self._invocations_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def invocations(self) -> list[Invocation]:
        """A snapshot of every finished invocation, oldest first."""
        with self._invocations_lock:
            return list(self._invocations)

    def start(self) -> str:
        """Serve the Invoke API on a free loopback port and answer its base URL."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_request_handler(self))
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, args=(_SHUTDOWN_POLL_SECONDS,), daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        return self.url

    def stop(self) -> None:
        """Stop serving and stop every worker process."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def set_extra_env(self, extra_env: dict[str, str]) -> None:
        """Use these overrides for workers started from now on, retiring the warm ones."""
        with self._pools_lock:
            self._extra_env = dict(extra_env)
            pools = list(self._pools.values())
        for pool in pools:
            pool.retire_workers()

    def resolve(self, function_name: str, qualifier: str | None) -> FunctionReference:
        """The function folder a requested name refers to, or FunctionNotFound."""
        reference = parse_function_name(function_name, qualifier)
        folder = deployed_names(self.functions_dir, self.project_file).get(reference.name)
        if folder is None:
            raise FunctionNotFound(f"Function not found: {reference.arn}")
        return FunctionReference(name=folder, arn=reference.arn)

    def _pool_for(self, function_name: str) -> WorkerPool:
        with self._pools_lock:
            pool = self._pools.get(function_name)
            if pool is None:
                config = load_function_config(self.functions_dir, self.project_file, function_name)
                pool = WorkerPool(config, self._max_workers)
                self._pools[function_name] = pool
            return pool

    def _start_worker(self, config: FunctionConfig) -> Worker:
        with self._pools_lock:
            extra_env = dict(self._extra_env)
        environment = worker_environment(config, self._repository_root, extra_env)
        return Worker(config, environment, self._log_sink)

    def invoke(
        self, function: FunctionReference, event: object, invocation_type: str = "RequestResponse"
    ) -> tuple[str, dict]:
        """Run one invocation in a warm worker and answer its request id and answer line."""
        request_id = str(uuid.uuid4())
        pool = self._pool_for(function.name)
        config = pool.config
        worker = pool.acquire(lambda: self._start_worker(config))

        started = time.time()
        request = {
            "request_id": request_id,
            "invoked_function_arn": function.arn,
            "deadline": started + config.timeout_seconds,
            "event": event,
        }
        try:
            answer = worker.invoke(request, config.timeout_seconds)
        finally:
            ended = time.time()
            pool.release(worker)

        error = answer.get("error")
        self._record(
            Invocation(
                function_name=function.name,
                request_id=request_id,
                invocation_type=invocation_type,
                started=started,
                ended=ended,
                duration_ms=(ended - started) * 1000,
                error_type=error["errorType"] if error else None,
            )
        )
        return request_id, answer

    def _record(self, invocation: Invocation) -> None:
        with self._invocations_lock:
            self._invocations.append(invocation)


def _make_request_handler(local_lambda: LocalLambda) -> type[BaseHTTPRequestHandler]:
    """The HTTP handler class that answers Invoke calls for one LocalLambda."""

    class InvokeRequestHandler(BaseHTTPRequestHandler):
        """Answers POST /2015-03-31/functions/<FunctionName>/invocations as Lambda does."""

        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            """Validate the request, run the function and answer as the Invoke API does."""
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not (url.path.startswith(_INVOKE_PREFIX) and url.path.endswith(_INVOKE_SUFFIX)):
                self._send_error(HTTPStatus.NOT_FOUND, "UnknownOperationException", self.path)
                return

            function_name = unquote(url.path[len(_INVOKE_PREFIX) : -len(_INVOKE_SUFFIX)])
            qualifier = parse_qs(url.query).get("Qualifier", [None])[0]
            try:
                function = local_lambda.resolve(function_name, qualifier)
            except FunctionNotFound as error:
                self._send_error(HTTPStatus.NOT_FOUND, "ResourceNotFoundException", str(error))
                return

            try:
                event = json.loads(body) if body.strip() else {}
            except ValueError as error:
                message = f"Could not parse request body into json: {error}"
                self._send_error(HTTPStatus.BAD_REQUEST, "InvalidRequestContentException", message)
                return

            invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if invocation_type == "DryRun":
                self._send(HTTPStatus.NO_CONTENT, b"", {})
            elif invocation_type == "Event":
                threading.Thread(
                    target=local_lambda.invoke, args=(function, event, "Event"), daemon=True
                ).start()
                self._send(HTTPStatus.ACCEPTED, b"", {})
            elif invocation_type == "RequestResponse":
                self._answer_invocation(function, event)
            else:
                message = f"Unsupported invocation type: {invocation_type}"
                self._send_error(HTTPStatus.BAD_REQUEST, "InvalidParameterValueException", message)

        def _answer_invocation(self, function: FunctionReference, event: object) -> None:
            request_id, answer = local_lambda.invoke(function, event)
            headers = {"X-Amz-Executed-Version": LATEST, "x-amzn-RequestId": request_id}
            if "error" in answer:
                headers["X-Amz-Function-Error"] = "Unhandled"
                payload = json.dumps(answer["error"])
            else:
                payload = answer["payload"]
            self._send(HTTPStatus.OK, payload.encode("utf-8"), headers)

        def _send_error(self, status: HTTPStatus, error_type: str, message: str) -> None:
            body = json.dumps({"Type": "User", "Message": message}).encode("utf-8")
            self._send(status, body, {"x-amzn-ErrorType": error_type})

        def _send(self, status: HTTPStatus, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep the access log quiet; invocations are recorded on the LocalLambda."""

    return InvokeRequestHandler
