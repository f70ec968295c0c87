"""How the signoff app holds up under reviewers: latency and throughput of its four pages,
with a full table of pending signoffs and many executions, beside a bare Flask page.

    python -m benchmarks.signoff_load [--reviewers 20] [--seconds 20] [--signoffs 1000]
        [--executions 10000] [--output benchmarks/signoff-load.md]

The store is moto in this process: the signoff table holds pending signoffs as the
RequestSignoff step records them, and the state machine, with the real definition, holds
executions that moto records but does not run (the app only reads executions, their
histories and the definition, and running thousands of real releases would take hours).
Both apps are served on 127.0.0.1; the reviewers are threads in a separate process, so the
load generator does not share the servers' interpreter lock. The signoff app and the bare
page are measured in turns, each for the same time with the same number of reviewers, and
the ratio to the bare page is the figure to read.
"""

import argparse
import json
import math
import multiprocessing
import os
import random
import re
import secrets
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import requests
from flask import Flask

from apps.signoff import create_app
from apps.signoff.config import DEV_USERS_FILE
from apps.signoff.local import local_settings
from local_stack.definition import ROOT, local_function_arn, render
from local_stack.servers import start_wsgi_server
from local_stack.stack import ACCOUNT, ARCHIVE_HOST, BASELINE_ADDONS, REGION, SIGNOFF_TABLE
from sysaddons import signoffs
from sysaddons.bundles import bundle_changes

EXAMPLE = ROOT / "state_machines" / "system_addons" / "examples" / "example-addon.json"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "signoff-load.md"
PAGES = ["signoffs list", "signoff page", "executions list", "execution page"]
BARE = "bare page"
SIGN_IN = "sign in"
REQUEST_TIMEOUT_SECONDS = 60
# After a turn, requests the server still works on (answers that came too late for their
# reviewer) must end before the other target's turn, or they would slow it down.
DRAIN_TIMEOUT_SECONDS = 180
SIGNOFF_TIMEOUT_SECONDS = 7 * 86400
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def start_store(signoff_count: int, execution_count: int, links_url: str) -> SimpleNamespace:
    """Create the table and state machine in moto, and record the executions and signoffs.

    Answers what the app's settings need, with the execution names and signoff ids.
    """
    import boto3
    from moto import mock_aws

    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    # Without the stepfunctions config, moto records each started execution and runs nothing.
    mock = mock_aws()
    mock.start()

    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=SIGNOFF_TABLE,
        KeySchema=[{"AttributeName": "signoff_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "signoff_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    machine_arn = stepfunctions.create_state_machine(
        name="system-addons",
        definition=render(lambda folder: local_function_arn(folder, REGION, ACCOUNT)),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sysaddons-state-machine",
    )["stateMachineArn"]

    example = json.loads(EXAMPLE.read_text())
    names, execution_arns = [], {}
    for number in range(execution_count):
        request = release_request(example, number)
        name = f"release-{number:05d}-{request['addon']['id'].split('@')[0]}"
        execution_arns[name] = stepfunctions.start_execution(
            stateMachineArn=machine_arn, name=name, input=json.dumps(request)
        )["executionArn"]
        names.append(name)

    signoff_ids = []
    for number, name in enumerate(names[:signoff_count]):
        request = release_request(example, number)
        role = "qa" if number % 2 == 0 else "relman"
        item = pending_signoff(request, name, execution_arns[name], role, number, links_url)
        signoffs.record_pending(item, table_name=SIGNOFF_TABLE)
        signoff_ids.append(item["signoff_id"])

    return SimpleNamespace(
        mock=mock,
        state_machine_arn=machine_arn,
        bugzilla_server=SimpleNamespace(url=links_url),
        balrog_server=SimpleNamespace(url=links_url),
        execution_names=names,
        signoff_ids=signoff_ids,
    )


def release_request(example: dict, number: int) -> dict:
    """The example request for one of 400 add-ons, in the version its turn has reached."""
    shortname = f"fix-{number % 400:03d}"
    version = f"1.{number // 400}.0"
    request = json.loads(json.dumps(example))
    request["addon"].update(
        id=f"{shortname}@mozilla.org",
        name=f"{shortname} fix",
        version=version,
        xpi_url=f"s3://sysaddons-signed/{shortname}/{shortname}-{version}.xpi",
    )
    request["firefox_versions"] = [f"{134 + number % 6}.0", f"{134 + number % 6}.0.1"]
    return request


def pending_signoff(
    request: dict, name: str, execution_arn: str, role: str, number: int, links_url: str
) -> dict:
    """A signoff as RequestSignoff records it; the task token is a made-up string."""
    addon = request["addon"]
    release = f"SystemAddons-{name}"
    after = {
        **BASELINE_ADDONS,
        addon["id"]: {"version": addon["version"], "platforms": {"default": {}}},
    }
    return {
        "signoff_id": signoffs.signoff_id(name, role),
        "task_token": "AQC" + secrets.token_urlsafe(480),
        "execution_arn": execution_arn,
        "execution_name": name,
        "step": "RequestQaSignoff" if role == "qa" else "RequestRelmanSignoff",
        "role": role,
        "addon_id": addon["id"],
        "addon_name": addon["name"],
        "version": addon["version"],
        "bug_id": 1900000 + number,
        "bug_url": f"{links_url}/show_bug.cgi?id={1900000 + number}",
        "requested_by": request["requested_by"],
        "reviewers": [f"{role}-reviewer@mozilla.com"],
        "requested_at": signoffs.now_iso(),
        "expires_at": int(time.time()) + SIGNOFF_TIMEOUT_SECONDS,
        "xpi_url": (
            f"https://{ARCHIVE_HOST}/pub/system-addons/{addon['id']}/"
            f"{addon['id'].split('@')[0]}-{addon['version']}.xpi"
        ),
        "sha512": secrets.token_hex(64),
        "size": 40000 + number,
        "release": release,
        "test_channel": "release-sysaddon",
        "firefox_versions": request["firefox_versions"],
        "changes": bundle_changes(BASELINE_ADDONS, after),
    }


class InFlight:
    """Counts the requests an app is working on, so a turn can wait for the last of them."""

    def __init__(self, app):
        self.app = app
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.count += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.count -= 1

    def wait_idle(self, timeout: float) -> float:
        """Wait until no request is in flight (at most ``timeout``); answers seconds waited."""
        started = time.monotonic()
        while self.count and time.monotonic() - started < timeout:
            time.sleep(0.1)
        return time.monotonic() - started


def bare_app() -> Flask:
    """A Flask app with one page that answers a short HTML string: the baseline."""
    app = Flask("bare")
    app.add_url_rule("/", "page", lambda: "<!doctype html><title>bare</title><p>Hello.</p>")
    return app


def run_reviewers(
    target: str,
    base_url: str,
    reviewers: int,
    seconds: float,
    max_requests: int,
    emails: list[str],
    signoff_ids: list[str],
    execution_names: list[str],
) -> dict:
    """Load one target from ``reviewers`` threads until time or the request budget runs out.

    Answers, per page type, every latency in seconds and the errors, and the seconds spent.
    """
    latencies = {page: [] for page in [*PAGES, BARE]}
    errors = {page: [] for page in [*PAGES, BARE, SIGN_IN]}
    lock = threading.Lock()
    per_reviewer = max(1, max_requests // reviewers)
    started = time.monotonic()
    deadline = started + seconds

    def review(number: int) -> None:
        chooser = random.Random(number)
        session = requests.Session()
        if target == "signoff":
            problem = sign_in(session, base_url, emails[number % len(emails)])
            if problem:
                with lock:
                    errors[SIGN_IN].append(problem)
                return
        sent = 0
        while sent < per_reviewer and time.monotonic() < deadline:
            for page, path in pages_to_visit(
                target, chooser, signoff_ids, execution_names, number % len(PAGES)
            ):
                if sent >= per_reviewer or time.monotonic() >= deadline:
                    break
                took, problem = timed_get(session, base_url + path)
                sent += 1
                with lock:
                    latencies[page].append(took)
                    if problem:
                        errors[page].append(f"{path}: {problem}")
        session.close()

    threads = [threading.Thread(target=review, args=(n,), daemon=True) for n in range(reviewers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 2 * REQUEST_TIMEOUT_SECONDS)
    return {
        "latencies": latencies,
        "errors": errors,
        "seconds": time.monotonic() - started,
    }


def sign_in(session: requests.Session, base_url: str, email: str) -> str:
    """Sign in through the dev login form, as a person would; answers what went wrong, if.

    The redirect after signing in is not followed: the reviewer's loop times the list.
    """
    try:
        form = session.get(f"{base_url}/login", timeout=REQUEST_TIMEOUT_SECONDS)
        token = _CSRF.search(form.text).group(1)
        answer = session.post(
            f"{base_url}/login",
            data={"csrf_token": token, "email": email},
            timeout=REQUEST_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except (requests.RequestException, AttributeError) as error:
        return f"{email}: {type(error).__name__}"
    return "" if answer.status_code in (302, 303) else f"{email}: HTTP {answer.status_code}"


def pages_to_visit(target: str, chooser, signoff_ids, execution_names, start: int = 0):
    """One round of a reviewer's visit: the four pages, or the bare page four times.

    Reviewers start the round at different pages (``start``), as people do not click in step.
    """
    if target == "bare":
        return [(BARE, "/")] * len(PAGES)
    visit = [
        ("signoffs list", "/signoffs/"),
        ("signoff page", f"/signoffs/{chooser.choice(signoff_ids)}"),
        ("executions list", "/executions/"),
        ("execution page", f"/executions/{chooser.choice(execution_names)}"),
    ]
    return visit[start:] + visit[:start]


def timed_get(session: requests.Session, url: str) -> tuple[float, str]:
    """Seconds one GET took, and what went wrong ("" when it answered 200)."""
    started = time.perf_counter()
    try:
        # requests reads the whole body before it answers (no stream=True).
        answer = session.get(url, timeout=REQUEST_TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as error:
        return time.perf_counter() - started, type(error).__name__
    took = time.perf_counter() - started
    return took, "" if answer.status_code == 200 else f"HTTP {answer.status_code}"


def merge(runs: list[dict]) -> dict:
    """Every run's latencies and errors together, and seconds per page type."""
    pages = [*PAGES, BARE]
    merged = {"latencies": {p: [] for p in pages}, "errors": {p: [] for p in [*pages, SIGN_IN]}}
    merged["seconds"] = {p: 0.0 for p in pages}
    for target, run in runs:
        for page in pages:
            merged["latencies"][page] += run["latencies"][page]
            merged["errors"][page] += run["errors"][page]
            if run["latencies"][page]:
                merged["seconds"][page] += run["seconds"]
        merged["errors"][SIGN_IN] += run["errors"][SIGN_IN]
    return merged


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def report(merged: dict, args, seeding_seconds: float, rounds: int, drained: list) -> str:
    """The results as Markdown."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    bare = merged["latencies"][BARE]
    bare_p50 = percentile(bare, 0.50) if bare else None
    bare_p99 = percentile(bare, 0.99) if bare else None
    command = (
        f"python -m benchmarks.signoff_load --reviewers {args.reviewers} "
        f"--seconds {args.seconds:g} --signoffs {args.signoffs} --executions {args.executions}"
    )
    store = (
        f"Store: {args.signoffs} pending signoffs and {args.executions} executions in moto "
        f"(recorded, not run), seeded in {seeding_seconds:.1f} s. {args.reviewers} reviewers "
        f"per target, {rounds} turns of {args.seconds:g} s on each target, alternating."
    )
    lines = [
        f"Measured {stamp} on {os.cpu_count()} cores with `{command}`.",
        "",
        store,
        "",
        "| page | requests | errors | p50 (ms) | p99 (ms) | requests/s | p50 / bare "
        "| p99 / bare |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for page in [*PAGES, BARE]:
        latencies = merged["latencies"][page]
        if not latencies:
            lines.append(f"| {page} | 0 | {len(merged['errors'][page])} | - | - | - | - | - |")
            continue
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        per_second = len(latencies) / merged["seconds"][page]
        ratio50 = f"{p50 / bare_p50:.0f}x" if bare_p50 else "-"
        ratio99 = f"{p99 / bare_p99:.0f}x" if bare_p99 else "-"
        lines.append(
            f"| {page} | {len(latencies)} | {len(merged['errors'][page])} | "
            f"{p50 * 1000:.1f} | {p99 * 1000:.1f} | {per_second:.1f} | {ratio50} | {ratio99} |"
        )
    note = (
        "Requests/s is per page type: each signoff-app reviewer visits the four pages in turn, "
        "so the four share the app's time. A request that timed out "
        f"({REQUEST_TIMEOUT_SECONDS} s) counts as an error, with the timeout as its latency. "
        "The store is moto in the servers' process: its scans and its lookups of an execution "
        "(through all of them) are part of these figures."
    )
    lines += ["", note]
    if any(seconds > 0.5 for seconds in drained):
        shown = ", ".join(f"{seconds:.0f} s" for seconds in drained)
        late = (
            f"After each turn the signoff app went on working on late answers for {shown} "
            "before the next turn started."
        )
        lines += ["", late]
    shown = [
        f"- {page}: {problem}"
        for page in [*PAGES, BARE, SIGN_IN]
        for problem in sorted(set(merged["errors"][page]))[:3]
    ]
    if merged["errors"][SIGN_IN]:
        lines += ["", f"Reviewers who could not sign in: {len(merged['errors'][SIGN_IN])}."]
    if shown:
        lines += ["", "First errors seen:", "", *shown]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.signoff_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--reviewers", type=int, default=20, help="threads (default 20)")
    parser.add_argument(
        "--seconds", type=float, default=20, help="seconds per turn on a target (default 20)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="turns on each target, alternating (default 2)"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=100_000,
        help="at most this many requests per turn (default 100000)",
    )
    parser.add_argument("--signoffs", type=int, default=1000, help="pending (default 1000)")
    parser.add_argument("--executions", type=int, default=10000, help="(default 10000)")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the table (default {DEFAULT_OUTPUT.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    if args.signoffs > args.executions:
        parser.error("every signoff belongs to an execution: --signoffs <= --executions")
    emails = list(json.loads(DEV_USERS_FILE.read_text()).get("users", []))
    emails = [user["email"] for user in emails]

    bare = bare_app()
    bare.wsgi_app = bare_in_flight = InFlight(bare.wsgi_app)
    bare_server = start_wsgi_server(bare, host="127.0.0.1")
    print(f"Seeding {args.signoffs} signoffs and {args.executions} executions...", flush=True)
    seeding_started = time.monotonic()
    store = start_store(args.signoffs, args.executions, bare_server.url)
    seeding_seconds = time.monotonic() - seeding_started
    print(f"Seeded in {seeding_seconds:.1f} s.", flush=True)
    app = create_app(local_settings(store))
    app.wsgi_app = app_in_flight = InFlight(app.wsgi_app)
    app_server = start_wsgi_server(app, host="127.0.0.1")
    targets = (("signoff", app_server, app_in_flight), ("bare", bare_server, bare_in_flight))

    runs, drained = [], []
    spawn = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as reviewers:
            for turn in range(args.rounds):
                for target, server, in_flight in targets:
                    print(f"Turn {turn + 1}: {target}, {args.seconds:g} s...", flush=True)
                    run = reviewers.submit(
                        run_reviewers,
                        target,
                        server.url,
                        args.reviewers,
                        args.seconds,
                        args.max_requests,
                        emails,
                        store.signoff_ids,
                        store.execution_names,
                    ).result(timeout=args.seconds + 4 * REQUEST_TIMEOUT_SECONDS + 60)
                    runs.append((target, run))
                    waited = in_flight.wait_idle(DRAIN_TIMEOUT_SECONDS)
                    if target == "signoff":
                        drained.append(waited)
                    if waited > 0.5:
                        print(f"  waited {waited:.0f} s for late answers to finish", flush=True)
    finally:
        app_server.stop()
        bare_server.stop()
        store.mock.stop()

    table = report(merge(runs), args, seeding_seconds, args.rounds, drained)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(table)
    print(f"Written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
