"""What one release costs to run: time per step, cold imports, zip sizes, state transitions,
and executions per minute, measured on the local stack and printed as one table.

    python -m benchmarks.workflow_costs [--runs 5] [--concurrent 20] [--output FILE]

Times are wall-clock on this machine, so each figure is shown beside its baseline measured
in the same run, alternating, and the ratio is the figure to read: our handlers against
no-op handlers that replay the same answers through the same engine, and each handler's
cold import against importing only its third-party packages.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from local_stack.definition import FUNCTIONS, PROJECT, ROOT, function_folders
from local_stack.example_xpi import build_xpi
from local_stack.lambda_endpoint import LocalLambda
from local_stack.stack import LocalStack
from sysaddons import signoffs
from tools.bundle import build_zip

EXAMPLE = ROOT / "state_machines" / "system_addons" / "examples" / "example-addon.json"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results.md"
TABLE = "sysaddons-signoffs"
REVIEWERS = {
    "qa": signoffs.Reviewer("qa-reviewer@mozilla.com", {"qa"}),
    "relman": signoffs.Reviewer("relman-reviewer@mozilla.com", {"relman"}),
}

# A no-op handler: answers what the real step answered in the recorded run, and for a
# signoff step sends the recorded decision straight away, as an instant reviewer would.
_REPLAY_HANDLER = """
import json, os
import boto3

ANSWERS = json.loads(open(os.environ["REPLAY_ANSWERS"]).read())


def handle(event, context):
    answer = ANSWERS[event["state"]]
    if "task_token" in event:
        boto3.client("stepfunctions").send_task_success(
            taskToken=event["task_token"], output=json.dumps(answer))
        return {}
    return answer
"""


class Decider:
    """Approves every pending signoff as soon as it appears, like a reviewer at the ready."""

    def __init__(self):
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=5)

    def _run(self):
        while not self.stopped.is_set():
            for item in signoffs.list_signoffs(signoffs.PENDING, table_name=TABLE):
                try:
                    signoffs.decide(
                        item["signoff_id"], REVIEWERS[item["role"]], True, table_name=TABLE
                    )
                except Exception:  # decided meanwhile, or already expired: nothing to do
                    pass
            self.stopped.wait(0.02)


def request_for(stack: LocalStack, shortname: str, firefox_versions: list[str]) -> dict:
    """The example request for a new add-on, with its XPI uploaded."""
    request = json.loads(EXAMPLE.read_text())
    addon_id, key = f"{shortname}@mozilla.org", f"{shortname}/{shortname}-1.0.0.xpi"
    request["addon"].update(id=addon_id, name=shortname, xpi_url=f"s3://sysaddons-signed/{key}")
    request["firefox_versions"] = firefox_versions
    stack.upload_signed_xpi(key, build_xpi(addon_id, "1.0.0", shortname))
    return request


def run_once(stack: LocalStack, request: dict, name: str) -> list[dict]:
    """Run one execution to its end; answers its history."""
    arn = stack.start_execution(request, name)
    described = stack.wait_for(arn, timeout=300)
    if described["status"] != "SUCCEEDED":
        raise RuntimeError(f"{name} {described['status']}: {described.get('cause')}")
    return stack.history(arn)


def step_seconds(history: list[dict]) -> dict[str, float]:
    """Seconds from entering to leaving each state, and the whole execution as 'total'."""
    entered, seconds = {}, {}
    for event in history:
        if event["type"].endswith("StateEntered"):
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        elif event["type"].endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            seconds[name] = (event["timestamp"] - entered[name]).total_seconds()
    seconds["total"] = (history[-1]["timestamp"] - history[0]["timestamp"]).total_seconds()
    return seconds


def recorded_answers(history: list[dict]) -> dict[str, dict]:
    """What each Task answered, keyed by state, from a real run's history."""
    answers, current = {}, None
    for event in history:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "LambdaFunctionSucceeded":
            answers[current] = json.loads(event["lambdaFunctionSucceededEventDetails"]["output"])
        elif event["type"] == "TaskSucceeded":
            answers[current] = json.loads(event["taskSucceededEventDetails"]["output"])
    return answers


def replay_functions(folder: Path, answers: dict, stack: LocalStack) -> LocalLambda:
    """A Lambda endpoint whose functions have the real names but replay recorded answers."""
    functions = folder / "apex" / "functions"
    for name in function_folders():
        (functions / name).mkdir(parents=True)
        (functions / name / "main.py").write_text(_REPLAY_HANDLER)
        (functions / name / "function.json").write_text('{"timeout": 30}')
    (folder / "answers.json").write_text(json.dumps(answers))
    environment = {**stack.function_environment(), "REPLAY_ANSWERS": str(folder / "answers.json")}
    replay = LocalLambda(functions, PROJECT, extra_env=environment, log_sink=lambda *_: None)
    replay.start()
    return replay


def measure_steps(stack: LocalStack, runs: int) -> tuple[dict, dict, int, int]:
    """Per-step seconds of our handlers and of replaying no-ops, alternating run by run."""
    first = run_once(stack, request_for(stack, "bench-record", ["160.0"]), "bench-record")
    transitions = sum(event["type"].endswith("StateEntered") for event in first)
    events = len(first)

    ours, noops = [], []
    with tempfile.TemporaryDirectory() as folder:
        replay = replay_functions(Path(folder), recorded_answers(first), stack)
        real_url = os.environ["AWS_ENDPOINT_URL_LAMBDA"]
        try:
            # One untimed replay first, so both sides are timed with warm workers.
            os.environ["AWS_ENDPOINT_URL_LAMBDA"] = replay.url
            run_once(stack, request_for(stack, "bench-warm", ["161.0"]), "bench-noop-warm")
            for run in range(runs):
                # Each run ships a new add-on, so no step finds its work already done.
                request = request_for(stack, f"bench-{run}", ["161.0"])
                os.environ["AWS_ENDPOINT_URL_LAMBDA"] = real_url
                ours.append(step_seconds(run_once(stack, request, f"bench-ours-{run}")))
                os.environ["AWS_ENDPOINT_URL_LAMBDA"] = replay.url
                noops.append(step_seconds(run_once(stack, request, f"bench-noop-{run}")))
        finally:
            os.environ["AWS_ENDPOINT_URL_LAMBDA"] = real_url
            replay.stop()
    return _medians(ours), _medians(noops), transitions, events


def measure_throughput(stack: LocalStack, concurrent: int) -> float:
    """Executions per minute with ``concurrent`` releases to the same channel at once."""
    requests = [request_for(stack, f"burst-{n}", ["162.0"]) for n in range(concurrent)]
    started = time.monotonic()
    arns = [stack.start_execution(r, f"burst-{n}") for n, r in enumerate(requests)]
    for arn in arns:
        described = stack.wait_for(arn, timeout=600)
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(f"{arn} {described['status']}: {described.get('cause')}")
    return concurrent / ((time.monotonic() - started) / 60)


def measure_imports(repeats: int) -> dict[str, tuple[float, float]]:
    """Per handler: median cold import seconds of main.py, and of its third-party imports."""
    results = {}
    for name in function_folders():
        folder = FUNCTIONS / name
        environment = {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}
        probe = (
            "import json, sys; before = set(sys.modules); import main; "
            "tops = {m.split('.')[0] for m in set(sys.modules) - before}; "
            "print(json.dumps(sorted(t for t in tops if t not in sys.stdlib_module_names "
            "and not t.startswith('_') and t not in ('main', 'sysaddons'))))"
        )
        third_party = json.loads(_python(probe, folder, environment))
        timer = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"
        handler, packages = [], []
        for _ in range(repeats):
            handler.append(float(_python(timer.format("import main"), folder, environment)))
            imports = "; ".join(f"import {module}" for module in third_party) or "pass"
            packages.append(float(_python(timer.format(imports), folder, environment)))
        results[name] = (statistics.median(handler), statistics.median(packages))
    return results


def measure_zip_sizes() -> dict[str, int]:
    """Each function's deployment zip in bytes, built the way the deployer builds it."""
    with tempfile.TemporaryDirectory() as folder:
        return {
            name: build_zip(FUNCTIONS / name, Path(folder)).stat().st_size
            for name in function_folders()
        }


def _python(code: str, folder: Path, environment: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _medians(runs: list[dict]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def report(ours, noops, transitions, events, per_minute, concurrent, imports, sizes, runs) -> str:
    """The results as Markdown."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {stamp} on {os.cpu_count()} cores with "
        f"`python -m benchmarks.workflow_costs --runs {runs} --concurrent {concurrent}`.",
        "",
        "| step | our handlers (s) | no-op handlers (s) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for step, seconds in ours.items():
        baseline = noops.get(step)
        ratio = f"{seconds / baseline:.1f}x" if baseline else "-"
        shown = f"{baseline:.3f}" if baseline is not None else "-"
        lines.append(f"| {step} | {seconds:.3f} | {shown} | {ratio} |")
    lines += [
        "",
        f"State transitions per happy-path execution: **{transitions}** "
        f"({events} history events).",
        f"Executions per minute with {concurrent} releases to one channel at once: "
        f"**{per_minute:.1f}**.",
        "",
        "| function | cold import (ms) | its third-party packages alone (ms) | ratio "
        "| zip (KiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (handler, packages) in imports.items():
        size = f"{sizes[name] / 1024:.0f}" if name in sizes else "-"
        lines.append(
            f"| {name} | {handler * 1000:.0f} | {packages * 1000:.0f} | "
            f"{handler / packages:.2f}x | {size} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.workflow_costs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=5, help="executions per side (default 5)")
    parser.add_argument(
        "--concurrent",
        type=int,
        default=20,
        help="executions at once for the throughput figure (default 20)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the table (default {DEFAULT_OUTPUT.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        stack = LocalStack(work_dir=Path(folder), state_file=Path(folder) / "stack.json")
        with stack, Decider():
            print(
                f"Timing {args.runs} executions with our handlers and {args.runs} with no-ops..."
            )
            ours, noops, transitions, events = measure_steps(stack, args.runs)
            print(f"Running {args.concurrent} executions at once...")
            per_minute = measure_throughput(stack, args.concurrent)
    print("Timing cold imports and building zips...")
    imports = measure_imports(repeats=5)
    sizes = measure_zip_sizes()

    table = report(
        ours, noops, transitions, events, per_minute, args.concurrent, imports, sizes, args.runs
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(table)
    print(f"Written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
