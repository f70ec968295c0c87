"""Ship many add-ons on the local stack while Bugzilla and Balrog misbehave, then count the harm.

    python -m local_stack.soak --executions 100 --fault-rate 0.1 --seed 7

Each execution ships a different add-on, a bounded number at a time, and every signoff is
approved as soon as it is pending. The Bugzilla and Balrog stand-ins inject a fault into that
share of their requests: 5xx, 429 with Retry-After, answers held past the functions' HTTP
timeout, connections dropped before any work, and writes that succeed but whose answer is
lost. An execution that fails with an error the README says to start again after
(``RemoteUnavailable``, ``BalrogConflict``) is started again, as a release manager would.

The table then counts, per add-on version, what the process must do exactly once: file the
tracking bug, email the intent to implement, ship to the release channel; and, across the
bundles, that no add-on went missing and no write dropped or changed another add-on. The
command exits 1 when any figure is not as expected. ``docs/robustness.md`` explains each
figure.
"""

import argparse
import json
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from xml.etree import ElementTree

import requests

from local_stack.example_xpi import build_xpi
from local_stack.stack import SIGNED_BUCKET, SIGNOFF_TABLE, LocalStack
from local_stack.standins.balrog import UpdateQuery, rule_matches
from local_stack.standins.faults import FAULT_KINDS
from sysaddons import errors, signoffs
from sysaddons.request import release_name

RELEASE_CHANNEL = "release"
TEST_CHANNEL = "release-sysaddon"
# Errors after which the README tells a release manager to start the same request again.
RESTARTABLE_ERRORS = ("RemoteUnavailable", "BalrogConflict")
# Every error the workflow fails with by name; anything else is a failure nobody designed.
NAMED_ERRORS = tuple(
    name
    for name, value in vars(errors).items()
    if isinstance(value, type)
    and issubclass(value, errors.WorkflowError)
    and value is not errors.WorkflowError
)
REVIEWERS = {
    "qa": signoffs.Reviewer("qa-reviewer@mozilla.com", {"qa"}),
    "relman": signoffs.Reviewer("relman-reviewer@mozilla.com", {"relman"}),
}
# What a Firefox asks the public endpoint, apart from its version and channel.
_CLIENT = {
    "product": "SystemAddons",
    "build_id": "20250101000000",
    "build_target": "WINNT_x86_64-msvc-x64",
    "locale": "en-US",
    "os_version": "Windows_NT 10.0.0.0",
    "distribution": "default",
    "dist_version": "default",
}
_POLL_SECONDS = 0.5
_PROGRESS_SECONDS = 15.0
_STUCK = "stuck"
_NOT_STARTED = "not started"


@dataclass(frozen=True)
class SoakSettings:
    """How many add-ons to ship, how many at once, and how hostile the stand-ins are."""

    executions: int = 100
    concurrency: int = 10
    fault_rate: float = 0.1
    seed: int = 7
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    # The functions' HTTP timeout during the soak, and how long a slow answer is held
    # (by default one second longer than the timeout).
    # None leaves the stack's own timeout, sparing its warm workers a restart.
    http_timeout: float | None = 2.0
    hold_seconds: float | None = None
    # Add-on n targets Firefox group n % version_groups, the first group being this major.
    first_firefox: int = 170
    version_groups: int = 4
    restarts: int = 2
    execution_timeout: float = 300.0
    deadline: float = 1500.0
    # Prefix of add-on ids and execution names; each soak on one stack needs its own.
    name: str = "soak"
    # Hold every approval until every running execution waits for one, then send them all
    # at once, so that the steps after the signoffs write to Balrog at the same moment.
    approve_together: bool = False

    def slow_seconds(self, stack_timeout: float) -> float:
        """How long a slow answer is held, given the timeout the stack's functions have."""
        return self.hold_seconds or (self.http_timeout or stack_timeout) + 1.0

    def describe(self) -> str:
        faults = (
            f"faults in {self.fault_rate:.0%} of Bugzilla and Balrog requests (seed {self.seed})"
            if self.fault_rate
            else "no faults"
        )
        groups = (
            "the same Firefox versions"
            if self.version_groups == 1
            else f"{self.version_groups} groups of Firefox versions"
        )
        timing = (
            f", {self.http_timeout:g} s HTTP timeout, slow answers held {self.slow_seconds(0):g} s"
            if self.fault_rate and "slow" in self.fault_kinds and self.http_timeout
            else ""
        )
        at_once = f"{self.concurrency} at a time"
        return f"{self.executions} add-ons on {groups}, {at_once}, {faults}{timing}"


@dataclass
class SoakAddon:
    """One add-on version the soak ships, and what became of each execution started for it."""

    number: int
    request: dict
    executions: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)

    @property
    def addon_id(self) -> str:
        return self.request["addon"]["id"]

    @property
    def version(self) -> str:
        return self.request["addon"]["version"]

    @property
    def name(self) -> str:
        return self.request["addon"]["name"]

    @property
    def firefox_versions(self) -> list[str]:
        return self.request["firefox_versions"]

    @property
    def outcome(self) -> str:
        return self.outcomes[-1] if self.outcomes else _NOT_STARTED


@dataclass
class AddonFigures:
    """What exists at the end for one add-on version."""

    bugs: int
    intent_emails: int
    release_channel_shipments: int
    releases_created: int
    repeated_comments: int
    # Releases made for this add-on version whose bundle an earlier one of them already held.
    duplicates: list[str]

    @property
    def duplicate_releases(self) -> int:
        return len(self.duplicates)


@dataclass
class SoakReport:
    """The soak's figures; ``problems`` lists every one that is not as expected."""

    settings: SoakSettings
    addons: list[SoakAddon]
    figures: dict[str, AddonFigures]
    missing_from_bundle: list[str]
    other_addons_changed: list[str]
    overwriting_writes: list[dict]
    conflicts: int
    unserved_releases: int
    faults: dict[str, Counter]
    started_at: datetime
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.problems

    def executions(self) -> Counter:
        """Executions by outcome: succeeded, each error name, stuck, not started."""
        return Counter(outcome for addon in self.addons for outcome in addon.outcomes)


def soak_request(shortname: str, firefox_versions: list[str], timeout: int) -> dict:
    """A valid request for a new add-on named after shortname, its XPI in the signed bucket."""
    addon_id = f"{shortname}@mozilla.org"
    return {
        "addon": {
            "id": addon_id,
            "name": f"{shortname} fix",
            "version": "1.0.0",
            "xpi_url": f"s3://{SIGNED_BUCKET}/{shortname}/{shortname}-1.0.0.xpi",
            "overview": f"Soak test add-on {shortname}: ships while the stand-ins misbehave.",
        },
        "bugzilla": {"product": "Firefox", "component": "System Add-ons"},
        "firefox_versions": firefox_versions,
        "timeline": {"qa_signoff_by": "2026-12-10", "ship_by": "2026-12-15"},
        "requested_by": "relman@mozilla.com",
        "signoff_timeout_seconds": timeout,
    }


def firefox_group(settings: SoakSettings, group: int) -> list[str]:
    """The Firefox versions of one group: one or two versions of one major release."""
    major = settings.first_firefox + group
    return [f"{major}.0", f"{major}.0.1"] if group % 2 == 0 else [f"{major}.0"]


def run_soak(stack: LocalStack, settings: SoakSettings, say: Callable[[str], None] | None = None):
    """Ship settings.executions add-ons on a started stack with faults on; answers the report."""
    say = say or (lambda line: None)
    addons = [
        SoakAddon(
            number,
            soak_request(
                f"{settings.name}-{number:03d}",
                firefox_group(settings, number % settings.version_groups),
                int(settings.execution_timeout),
            ),
        )
        for number in range(settings.executions)
    ]
    for addon in addons:
        key = addon.request["addon"]["xpi_url"].split(f"s3://{SIGNED_BUCKET}/", 1)[1]
        stack.upload_signed_xpi(key, build_xpi(addon.addon_id, addon.version, addon.name))
    before = _Snapshot.take(
        stack, sorted({version for addon in addons for version in addon.firefox_versions})
    )

    started_at, clock = datetime.now(UTC), time.monotonic()
    with _http_timeout(stack, settings.http_timeout), _faults(stack, settings):
        _Driver(stack, settings, addons, say).run()
    return _measure(stack, settings, addons, before, started_at, time.monotonic() - clock)


@contextmanager
def _http_timeout(stack: LocalStack, seconds: float | None):
    """Give the functions this HTTP timeout for the soak, and their own back afterwards."""
    usual = stack.function_environment()
    if seconds is None or usual.get("HTTP_TIMEOUT_SECONDS") == f"{seconds:g}":
        yield
        return
    stack.functions.set_extra_env({**usual, "HTTP_TIMEOUT_SECONDS": f"{seconds:g}"})
    try:
        yield
    finally:
        stack.functions.set_extra_env(usual)


@contextmanager
def _faults(stack: LocalStack, settings: SoakSettings):
    """Random faults in both stand-ins for the soak; none afterwards, whatever happens."""
    for offset, standin in enumerate((stack.bugzilla, stack.balrog)):
        standin.faults.clear()
        standin.faults.injected.clear()
        if settings.fault_rate:
            standin.faults.add_random(
                settings.fault_rate,
                settings.seed + offset,
                kinds=settings.fault_kinds,
                slow_seconds=settings.slow_seconds(
                    float(stack.function_environment()["HTTP_TIMEOUT_SECONDS"])
                ),
            )
    try:
        yield
    finally:
        stack.bugzilla.faults.clear()
        stack.balrog.faults.clear()


class _Driver:
    """Starts executions in bounded batches, approves their signoffs, and notes how they end."""

    def __init__(self, stack, settings: SoakSettings, addons: list[SoakAddon], say):
        self.stack = stack
        self.settings = settings
        self.addons = addons
        self.say = say
        self.waiting = deque(addons)
        self.running: dict[str, tuple[SoakAddon, float]] = {}

    def run(self) -> None:
        deadline = time.monotonic() + self.settings.deadline
        next_progress = time.monotonic() + _PROGRESS_SECONDS
        while (self.waiting or self.running) and time.monotonic() < deadline:
            self._start_more()
            self._approve_pending()
            self._collect_ended()
            if time.monotonic() >= next_progress:
                self._progress()
                next_progress += _PROGRESS_SECONDS
            time.sleep(_POLL_SECONDS)
        for arn, (addon, _) in list(self.running.items()):
            self._stop(arn, addon)

    def _start_more(self) -> None:
        while self.waiting and len(self.running) < self.settings.concurrency:
            addon = self.waiting.popleft()
            name = f"{self.settings.name}-{addon.number:03d}-{len(addon.executions) + 1}"
            arn = self.stack.start_execution(addon.request, name)
            addon.executions.append(arn)
            self.running[arn] = (addon, time.monotonic())

    def _approve_pending(self) -> None:
        names = {arn.rsplit(":", 1)[1] for arn in self.running}
        pending = [
            item
            for item in signoffs.list_signoffs(signoffs.PENDING, table_name=SIGNOFF_TABLE)
            if item.get("execution_name") in names
        ]
        if self.settings.approve_together and (
            self.waiting or len({item["execution_name"] for item in pending}) < len(names)
        ):
            return
        for item in pending:
            try:
                signoffs.decide(
                    item["signoff_id"],
                    REVIEWERS[item["role"]],
                    True,
                    "approved by the soak",
                    table_name=SIGNOFF_TABLE,
                )
            except (errors.SignoffNotDecidable, errors.RemoteUnavailable) as refusal:
                self.say(f"  could not approve {item['signoff_id']}: {refusal}")

    def _collect_ended(self) -> None:
        now = time.monotonic()
        for arn, (addon, started) in list(self.running.items()):
            described = self.stack.sfn.describe_execution(executionArn=arn)
            if described["status"] == "RUNNING":
                if now - started > self.settings.execution_timeout:
                    self._stop(arn, addon)
                continue
            del self.running[arn]
            if described["status"] == "SUCCEEDED":
                addon.outcomes.append("SUCCEEDED")
                continue
            error = described.get("error") or described["status"]
            addon.outcomes.append(error)
            cause = (described.get("cause") or "")[:200]
            self.say(f"  {arn.rsplit(':', 1)[1]} failed: {error}: {cause}")
            if error in RESTARTABLE_ERRORS and len(addon.executions) <= self.settings.restarts:
                self.waiting.append(addon)

    def _stop(self, arn: str, addon: SoakAddon) -> None:
        self.stack.sfn.stop_execution(executionArn=arn, error="SoakStopped", cause="stuck")
        addon.outcomes.append(_STUCK)
        self.running.pop(arn, None)
        self.say(f"  {arn.rsplit(':', 1)[1]} still running after its time; stopped")

    def _progress(self) -> None:
        busy = {id(addon) for addon, _ in self.running.values()} | {id(a) for a in self.waiting}
        done = sum(1 for addon in self.addons if id(addon) not in busy)
        self.say(
            f"  {done}/{len(self.addons)} add-ons done, "
            f"{len(self.running)} running, {len(self.waiting)} waiting to start"
        )


@dataclass
class _Snapshot:
    """What the channels served and what Balrog and the stand-ins held before the soak."""

    served: dict[tuple[str, str], dict]
    releases: set[str]
    rule_changes: int
    balrog_requests: int

    @classmethod
    def take(cls, stack, firefox_versions: list[str]) -> "_Snapshot":
        return cls(
            served={
                (channel, version): served_entries(stack, channel, version)
                for channel in (RELEASE_CHANNEL, TEST_CHANNEL)
                for version in firefox_versions
            },
            releases=set(stack.balrog.releases),
            rule_changes=len(stack.balrog.rule_changes),
            balrog_requests=len(stack.balrog.requests),
        )


def served_entries(stack, channel: str, firefox_version: str) -> dict:
    """The add-on entries of the release the Balrog stand-in serves a Firefox, as stored."""
    query = UpdateQuery(version=firefox_version, channel=channel, **_CLIENT)
    rules = [rule for rule in stack.balrog.rules.values() if rule_matches(rule, query)]
    rule = max(rules, key=lambda rule: rule["priority"], default=None)
    if rule is None or not rule["mapping"]:
        return {}
    return json.loads(json.dumps(stack.balrog.releases[rule["mapping"]]["blob"].get("addons", {})))


def served_versions(stack, channel: str, firefox_version: str) -> dict[str, str]:
    """What Balrog's public endpoint answers a Firefox: add-on id to version."""
    path = "/".join(
        [
            "update/3/SystemAddons",
            firefox_version,
            _CLIENT["build_id"],
            _CLIENT["build_target"],
            _CLIENT["locale"],
            channel,
            requests.utils.quote(_CLIENT["os_version"], safe=""),
            "default/default/update.xml",
        ]
    )
    answer = requests.get(
        f"{stack.balrog_server.url}/{path}", verify=str(stack.tls.ca_path), timeout=10
    )
    answer.raise_for_status()
    addons = ElementTree.fromstring(answer.content).find("addons")
    return {} if addons is None else {a.get("id"): a.get("version") for a in addons}


def _measure(stack, settings, addons, before: _Snapshot, started_at, seconds) -> SoakReport:
    balrog = stack.balrog
    new_releases = [name for name in balrog.releases if name not in before.releases]
    changes = balrog.rule_changes[before.rule_changes :]

    def addons_in(release: str | None) -> dict:
        if not release:
            return {}
        return balrog.releases[release]["blob"].get("addons") or {}

    overwriting = []
    release_shipments: Counter = Counter()
    for change in changes:
        if change["channel"] not in (RELEASE_CHANNEL, TEST_CHANNEL):
            continue
        old, new = addons_in(change["mapping_before"]), addons_in(change["mapping_after"])
        changed = sorted(
            addon for addon in set(old) | set(new) if old.get(addon) != new.get(addon)
        )
        if len(changed) > 1:
            overwriting.append({**change, "changed": changed})
        if change["channel"] == RELEASE_CHANNEL:
            for addon in changed:
                if addon in new:
                    release_shipments[addon, new[addon]["version"]] += 1

    emails = Counter(email["subject"] for email in stack.sent_emails())
    figures = {}
    for addon in addons:
        family = release_name(addon.request)
        made = [name for name in new_releases if name == family or name.startswith(family + "-")]
        seen, duplicates = {}, []
        for name in made:
            bundle = json.dumps(addons_in(name), sort_keys=True)
            if bundle in seen:
                duplicates.append(f"{name} = {seen[bundle]}")
            seen.setdefault(bundle, name)
        bugs = [
            bug
            for bug in stack.bugzilla.bugs.values()
            if f"({addon.addon_id})" in bug["summary"] and f" {addon.version} " in bug["summary"]
        ]
        repeated = 0
        for bug in bugs:
            texts = Counter(comment["text"] for comment in bug["comments"])
            repeated += sum(count - 1 for count in texts.values())
        figures[addon.addon_id] = AddonFigures(
            bugs=len(bugs),
            intent_emails=emails[
                f"Intent to implement: system add-on {addon.name} {addon.version}"
            ],
            release_channel_shipments=release_shipments[addon.addon_id, addon.version],
            releases_created=len(made),
            repeated_comments=repeated,
            duplicates=duplicates,
        )

    shipped = {addon.addon_id: addon for addon in addons if addon.outcome == "SUCCEEDED"}
    missing, changed_others = set(), set()
    for (channel, firefox), entries_before in before.served.items():
        if channel != RELEASE_CHANNEL:
            continue
        served = served_versions(stack, channel, firefox)
        entries_after = served_entries(stack, channel, firefox)
        expected = {addon_id: entry["version"] for addon_id, entry in entries_before.items()}
        for addon in shipped.values():
            if firefox in addon.firefox_versions:
                expected[addon.addon_id] = addon.version
        missing |= {
            addon_id for addon_id, version in expected.items() if served.get(addon_id) != version
        }
        changed_others |= {
            addon_id
            for addon_id, entry in entries_before.items()
            if addon_id not in shipped and entries_after.get(addon_id) != entry
        }

    mapped = {change["mapping_after"] for change in changes} | {
        rule["mapping"] for rule in balrog.rules.values()
    }
    report = SoakReport(
        settings=settings,
        addons=addons,
        figures=figures,
        missing_from_bundle=sorted(missing),
        other_addons_changed=sorted(changed_others),
        overwriting_writes=overwriting,
        conflicts=sum(
            1
            for method, path, status in balrog.requests[before.balrog_requests :]
            if method == "POST" and path.startswith("/api/rules/") and status == 400
        ),
        unserved_releases=sum(1 for name in new_releases if name not in mapped),
        faults={
            "Bugzilla": Counter(stack.bugzilla.faults.injected),
            "Balrog": Counter(balrog.faults.injected),
        },
        started_at=started_at,
        seconds=seconds,
    )
    report.problems = _problems(report)
    return report


# Per add-on version: (label, attribute, the exact figure expected).
_EXACT_FIGURES = (
    ("tracking bugs filed", "bugs", 1),
    ("intent-to-implement emails", "intent_emails", 1),
    ("releases shipped to the release channel", "release_channel_shipments", 1),
    ("duplicate releases (same add-on version, same bundle)", "duplicate_releases", 0),
)


# Per add-on version, shown as min and max with no exact figure to meet.
_SHOWN_FIGURES = (
    ("Balrog releases made per add-on version", "releases_created"),
    ("bug comments posted twice per add-on version", "repeated_comments"),
)


def _problems(report: SoakReport) -> list[str]:
    problems = []
    not_shipped = [addon for addon in report.addons if addon.outcome != "SUCCEEDED"]
    if not_shipped:
        problems.append(
            f"{len(not_shipped)} add-on versions did not ship: "
            + ", ".join(f"{addon.addon_id} ({addon.outcome})" for addon in not_shipped[:10])
        )
    unnamed = [
        outcome
        for outcome in report.executions()
        if outcome not in ("SUCCEEDED", _STUCK, _NOT_STARTED) and outcome not in NAMED_ERRORS
    ]
    if unnamed:
        problems.append(f"executions failed with errors that have no name: {sorted(unnamed)}")
    for label, attribute, expected in _EXACT_FIGURES:
        off = [
            f"{addon_id} {getattr(figures, attribute)}"
            + (f" ({'; '.join(figures.duplicates)})" if attribute == "duplicate_releases" else "")
            for addon_id, figures in report.figures.items()
            if getattr(figures, attribute) != expected
        ]
        if off:
            problems.append(f"{label}: not {expected} for {', '.join(off[:10])}")
    if report.missing_from_bundle:
        problems.append(f"missing from the final bundle: {report.missing_from_bundle}")
    if report.other_addons_changed:
        problems.append(f"other add-ons changed: {report.other_addons_changed}")
    if report.overwriting_writes:
        problems.append(
            f"rule writes that changed more than one add-on: {report.overwriting_writes[:3]}"
        )
    return problems


def format_report(report: SoakReport) -> str:
    """The soak's figures as a plain-text table, with a short legend."""
    settings = report.settings
    outcomes = report.executions()
    restarted = Counter(outcome for addon in report.addons for outcome in addon.outcomes[:-1])
    final_named = Counter(
        addon.outcome for addon in report.addons if addon.outcome in NAMED_ERRORS
    )
    unnamed = sum(
        count
        for outcome, count in outcomes.items()
        if outcome not in ("SUCCEEDED", _STUCK, _NOT_STARTED) and outcome not in NAMED_ERRORS
    )
    lines = [
        f"Soak: {settings.describe()}",
        f"Ran {report.started_at:%Y-%m-%d %H:%M} UTC for {report.seconds:.0f} s",
        "",
        _row("Executions", "count", indent=""),
        _row("started", sum(outcomes.values())),
        _row("succeeded", outcomes["SUCCEEDED"]),
        _row("failed with a named error, then started again", sum(restarted.values()))
        + _breakdown(restarted),
        _row("failed with a named error, not started again", sum(final_named.values()))
        + _breakdown(final_named),
        _row("failed with an error that has no name", unnamed),
        _row("stuck (still running after its time, then stopped)", outcomes[_STUCK]),
        _row("never started before the deadline", outcomes[_NOT_STARTED]),
        "",
        _row(
            f"Per add-on version ({len(report.addons)})",
            "expected",
            "as expected",
            "min",
            "max",
            indent="",
        ),
    ]
    for label, attribute, expected in _EXACT_FIGURES:
        values = [getattr(figures, attribute) for figures in report.figures.values()]
        matching = sum(value == expected for value in values)
        lines.append(
            _row(label, expected, matching, min(values, default=0), max(values, default=0))
        )
    lines += [
        "",
        _row("Bundles", "count", indent=""),
        _row(
            "add-ons missing from the final release-channel bundle",
            len(report.missing_from_bundle),
        ),
        _row("other add-ons changed", len(report.other_addons_changed)),
        _row("rule writes that changed more than one add-on", len(report.overwriting_writes)),
        _row("rule writes refused as outdated, then re-read and re-merged", report.conflicts),
        "",
        _row("Not exact, for what they show (see legend)", "min", "max", indent=""),
    ]
    for label, attribute in _SHOWN_FIGURES:
        values = [getattr(figures, attribute) for figures in report.figures.values()]
        lines.append(_row(label, min(values, default=0), max(values, default=0)))
    lines += [
        _row("releases made and never served, in all", "", report.unserved_releases),
    ]
    if settings.fault_rate:
        lines += [
            "",
            f"{'Faults injected (reads/writes)':<30}"
            + "".join(f"{kind:>17}" for kind in settings.fault_kinds),
        ]
    for standin, injected in report.faults.items() if settings.fault_rate else ():
        counts = (
            f"{injected[kind, 'read']}/{injected[kind, 'write']}" for kind in settings.fault_kinds
        )
        lines.append(f"  {standin:<28}" + "".join(f"{count:>17}" for count in counts))
    lines += [
        "",
        "Legend (docs/robustness.md says more): a figure per add-on version counts what",
        "exists at the end, whatever the retries and re-starts. Releases shipped counts the",
        "release-channel rule writes that added this version. A duplicate release holds the",
        "same bundle as another release made for the same add-on version. Releases made has",
        "no exact figure: a write that loses a data_version race leaves its merged release",
        "unserved, and the re-merge makes another. Bug comments posted twice is 0 only while",
        "a held write lands before the retry looks for it: Bugzilla has no idempotency key",
        "for comments.",
        "",
        "Result: every figure is as expected"
        if report.exact
        else "Result: NOT as expected:\n" + "\n".join(f"  - {p}" for p in report.problems),
    ]
    return "\n".join(lines)


def _row(label: str, *values, indent: str = "  ") -> str:
    widths = {1: (7,), 2: (7, 7)}.get(len(values), (9, 13, 6, 6))
    cells = "".join(f"{value:>{width}}" for value, width in zip(values, widths, strict=False))
    return f"{indent}{label:<{60 - len(indent)}}{cells}"


def _breakdown(counts: Counter) -> str:
    if not counts:
        return ""
    return "  (" + ", ".join(f"{name} {count}" for name, count in counts.most_common()) + ")"


def parser(prog: str = "python -m local_stack.soak") -> argparse.ArgumentParser:
    """The soak's command-line options; the race uses the same with other defaults."""
    defaults = SoakSettings()
    options = argparse.ArgumentParser(
        prog=prog,
        description="Ship many add-ons on the local stack with faults on, and count the harm.",
    )
    options.add_argument("--executions", type=int, default=defaults.executions)
    options.add_argument(
        "--concurrency",
        type=int,
        default=defaults.concurrency,
        help="executions running at once (default %(default)s)",
    )
    options.add_argument(
        "--fault-rate",
        type=float,
        default=defaults.fault_rate,
        help="share of stand-in requests that get a fault (default %(default)s)",
    )
    options.add_argument("--seed", type=int, default=defaults.seed)
    options.add_argument(
        "--faults",
        default=",".join(defaults.fault_kinds),
        help="fault kinds, comma-separated (default: all of %(default)s)",
    )
    options.add_argument(
        "--http-timeout",
        type=float,
        default=defaults.http_timeout,
        help="the functions' HTTP timeout in seconds (default %(default)s)",
    )
    options.add_argument(
        "--slow-seconds",
        type=float,
        default=None,
        help="how long a slow answer is held (default: the HTTP timeout plus one second)",
    )
    options.add_argument(
        "--version-groups",
        type=int,
        default=defaults.version_groups,
        help="how many groups of Firefox versions the add-ons target (default %(default)s)",
    )
    options.add_argument(
        "--restarts",
        type=int,
        default=defaults.restarts,
        help="times an add-on is started again after RemoteUnavailable or BalrogConflict",
    )
    options.add_argument(
        "--deadline",
        type=float,
        default=defaults.deadline,
        help="seconds after which the soak stops whatever still runs (default %(default)s)",
    )
    options.add_argument("--verbose", action="store_true", help="show the functions' log lines")
    return options


def settings_from(args: argparse.Namespace, **preset) -> SoakSettings:
    """Settings from parsed options."""
    kinds = tuple(kind.strip() for kind in args.faults.split(",") if kind.strip())
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        raise SystemExit(f"unknown fault kinds {unknown}; known: {', '.join(FAULT_KINDS)}")
    return replace(
        SoakSettings(),
        executions=args.executions,
        concurrency=args.concurrency,
        fault_rate=args.fault_rate,
        seed=args.seed,
        fault_kinds=kinds,
        http_timeout=args.http_timeout,
        hold_seconds=args.slow_seconds,
        version_groups=args.version_groups,
        restarts=args.restarts,
        deadline=args.deadline,
        **preset,
    )


def run_from_command_line(settings: SoakSettings, verbose: bool) -> int:
    """Start a local stack, run the soak on it, print the table; 0 if every figure is exact."""
    print("Starting the local stack (moto, local Lambda, Bugzilla and Balrog stand-ins)...")
    with LocalStack(quiet_lambda_logs=not verbose) as stack:
        print(f"Soak: {settings.describe()}", flush=True)
        report = run_soak(stack, settings, say=lambda line: print(line, flush=True))
    print()
    print(format_report(report))
    return 0 if report.exact else 1


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return run_from_command_line(settings_from(args), args.verbose)


if __name__ == "__main__":
    sys.exit(main())
