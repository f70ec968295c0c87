"""Hostile release requests end in InvalidRequest with a readable message, in bounded time,
and create nothing: no bug, release, rule, email, archive file, signoff or ledger record.

Two corpora: hand-made requests, each run as a whole execution; and requests generated with
Hypothesis from the request schema and then broken, each sent to ValidateRequest and then to
ReportFailure, the two steps such a request meets (HOSTILE_EXAMPLES sets how many; 80 by
default, the same ones every run).
"""

import copy
import json
import os
import time

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from sysaddons.request import SCHEMA_PATH
from tests.conftest import EXAMPLE, make_request, step_event, unique_name
from tests.robustness.corpus import CASE_SECONDS, everything_created, readable, run_all

SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
HUGE = 200_000  # characters; Step Functions itself refuses inputs over 256 KiB
# Loopback, but not a host the workflow takes XPIs from: refused before any connection.
UNFETCHABLE = "https://localhost:9/hostile.xpi"
HOSTILE_TEXT = [
    "<script>alert(document.cookie)</script>",
    '"><img src=x onerror=alert(1)>',
    "Fix\u202egnp.exe",  # right-to-left override
    "exam\u200bple",  # zero-width space
    "\u0435xample",  # Cyrillic e
    "１.０.０",  # full-width digits
    "a\x00b",
    "line\r\nBcc: everyone@mozilla.com",
    "../../../../etc/passwd",
    "'; DROP TABLE bugs; --",
    "\ufeffbom",
    "e\u0301\u0301\u0301\u0301\u0301",
    "\U0001f4a5" * 10,
]


def _set(request: dict, path: tuple, value) -> dict:
    target = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return request


def _drop(request: dict, path: tuple) -> dict:
    target = request
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return request


# Each case: a change to a valid request (its XPI uploaded) and what the cause must say.
CASES = {
    "addon-is-a-string": (lambda r: _set(r, ("addon",), "ship it"), 'addon "ship it"'),
    "version-is-a-number": (lambda r: _set(r, ("addon", "version"), 1.0), "addon.version 1.0"),
    "versions-is-a-string": (
        lambda r: _set(r, ("firefox_versions",), "134.0"),
        'firefox_versions "134.0"',
    ),
    "id-missing": (lambda r: _drop(r, ("addon", "id")), "addon.id is missing"),
    "huge-overview": (
        lambda r: _set(r, ("addon", "overview"), "x" * HUGE),
        'addon.overview "xxxx',
    ),
    "huge-unknown-field-name": (lambda r: _set(r, ("y" * HUGE,), 1), 'unknown fields: "yyy'),
    "thousand-unknown-fields": (
        lambda r: r.update({f"field{n}": n for n in range(1000)}) or r,
        "and 995 more",
    ),
    "deep-nesting-in-an-unknown-field": (
        # 300 levels: deeper, moto's interpreter (not the workflow) runs out of stack.
        lambda r: _set(r, ("nested",), json.loads("[" * 300 + "]" * 300)),
        'unknown fields: "nested"',
    ),
    "right-to-left-override-in-name": (
        lambda r: _set(r, ("addon", "name"), "Fix\u202egnp.exe"),
        'addon.name "Fix\\u202egnp.exe"',
    ),
    "zero-width-space-in-id": (
        lambda r: _set(r, ("addon", "id"), "exam\u200bple@mozilla.org"),
        "addon.id",
    ),
    "cyrillic-letter-in-xpi-host": (
        lambda r: _set(r, ("addon", "xpi_url"), "https://\u0430rchive.mozilla.org/x.xpi"),
        "addon.xpi_url",
    ),
    "full-width-digits-in-version": (
        lambda r: _set(r, ("addon", "version"), "１.0.0"),
        "addon.version",
    ),
    "script-tag-in-name": (
        lambda r: _set(r, ("addon", "name"), "<script>alert(1)</script>"),
        "addon.name",
    ),
    "script-tag-in-xpi-url": (
        lambda r: _set(r, ("addon", "xpi_url"), "https://127.0.0.1/<script>alert(1)</script>.xpi"),
        "addon.xpi_url",
    ),
    "nul-in-overview": (lambda r: _set(r, ("addon", "overview"), "a\x00b"), "addon.overview"),
    "header-in-requested-by": (
        lambda r: _set(r, ("requested_by",), "relman@mozilla.com\nBcc: all@mozilla.com"),
        "requested_by",
    ),
    "versions-out-of-order": (
        lambda r: _set(r, ("firefox_versions",), ["134.0.1", "134.0"]),
        "must be listed oldest first",
    ),
    "versions-repeated": (
        lambda r: _set(r, ("firefox_versions",), ["134.0", "134.0"]),
        "different Firefox versions",
    ),
    "beta-version": (
        lambda r: _set(r, ("firefox_versions",), ["134.0b3"]),
        "must be a Firefox release version",
    ),
    "unknown-channel": (lambda r: _set(r, ("channel",), "nightly"), 'unknown fields: "channel"'),
    "channel-in-addon": (
        lambda r: _set(r, ("addon", "channel"), "release"),
        'addon has unknown fields: "channel"',
    ),
    "timeline-backwards": (
        lambda r: _set(r, ("timeline",), {"qa_signoff_by": "2026-12-20", "ship_by": "2026-12-01"}),
        "is before timeline.qa_signoff_by",
    ),
    "impossible-date": (
        lambda r: _set(r, ("timeline", "ship_by"), "2026-02-30"),
        "timeline.ship_by",
    ),
    "bug-id-beyond-bugzilla": (
        lambda r: _set(r, ("bugzilla",), {"bug_id": 10**30}),
        "bugzilla.bug_id",
    ),
    "bug-id-true": (lambda r: _set(r, ("bugzilla",), {"bug_id": True}), "bugzilla.bug_id true"),
    "timeout-zero": (
        lambda r: _set(r, ("signoff_timeout_seconds",), 0),
        "signoff_timeout_seconds 0",
    ),
    "timeout-as-text": (
        lambda r: _set(r, ("signoff_timeout_seconds",), "3600"),
        'signoff_timeout_seconds "3600"',
    ),
    "plain-http-xpi": (
        lambda r: _set(r, ("addon", "xpi_url"), "http://127.0.0.1/x.xpi"),
        "addon.xpi_url",
    ),
    "file-xpi": (lambda r: _set(r, ("addon", "xpi_url"), "file:///etc/passwd.xpi"), "xpi_url"),
    "userinfo-hides-the-host": (
        lambda r: _set(r, ("addon", "xpi_url"), "https://127.0.0.1@localhost:9/x.xpi"),
        "is on https://localhost, which is not an allowed XPI host",
    ),
    "bucket-not-allowed": (
        lambda r: _set(r, ("addon", "xpi_url"), "s3://someone-else/x/x-1.0.0.xpi"),
        "bucket 'someone-else' is not one the workflow takes XPIs from",
    ),
    "script-tag-as-bugzilla-product": (
        lambda r: _set(r, ("bugzilla",), {"product": "<script>", "component": "General"}),
        "Bugzilla refused filing the tracking bug",
    ),
}


@pytest.fixture(scope="module")
def endings(stack):
    """Every hand-made case run as an execution, ten at a time, and what existed before."""
    requests = {}
    for number, (case, (change, _)) in enumerate(CASES.items()):
        request = make_request(stack, f"hostile-{number}", firefox_versions=["188.0"])
        requests[case] = change(request)
    before = everything_created(stack)
    ended = run_all(stack, requests, unique_name("hostile"))
    return before, ended


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_request_ends_in_invalid_request_and_says_why(endings, case):
    ending = endings[1][case]

    assert (ending.described["status"], ending.described.get("error")) == (
        "FAILED",
        "InvalidRequest",
    ), ending.cause
    assert CASES[case][1] in ending.cause
    assert readable(ending.cause), ending.cause[:300]
    assert ending.seconds < CASE_SECONDS
    assert ending.states[-2:] == ["ReportFailure", "Stopped"]
    assert "PublishToTestChannel" not in ending.states


def test_hostile_requests_create_nothing_anywhere(stack, endings):
    before, _ = endings
    assert everything_created(stack) == before


def from_schema(node: dict):
    """Valid values for a node of the request schema (the keywords that schema uses)."""
    kind = node.get("type")
    if kind == "object":
        return _objects(node)
    if kind == "array":
        return st.lists(
            from_schema(node["items"]),
            min_size=node.get("minItems", 0),
            max_size=node.get("maxItems", 5),
            unique=node.get("uniqueItems", False),
        )
    if kind == "integer":
        return st.integers(node.get("minimum"), node.get("maximum"))
    if node.get("format") == "date":
        return st.dates().map(lambda day: day.isoformat())
    low, high = node.get("minLength", 0), node.get("maxLength", 200)
    if "pattern" in node:
        texts = st.from_regex(node["pattern"], fullmatch=True)
        return texts.filter(lambda text: low <= len(text) <= high)
    return st.text(min_size=low, max_size=min(high, 200))


def _objects(node: dict):
    properties, required = node["properties"], set(node.get("required", ()))
    choices = [set(option["required"]) for option in node.get("anyOf", [])] or [set()]
    return st.sampled_from(choices).flatmap(
        lambda chosen: st.fixed_dictionaries(
            {name: from_schema(properties[name]) for name in required | chosen},
            optional={
                name: from_schema(value)
                for name, value in properties.items()
                if name not in required | chosen
            },
        )
    )


@st.composite
def hostile_requests(draw):
    """A request from the schema, broken in one way (or not at all), never fetchable."""
    request = draw(from_schema(SCHEMA).filter(VALIDATOR.is_valid))
    break_it = draw(st.sampled_from([_retype, _remove, _add_unknown, _hostile_text, _keep]))
    break_it(draw, request)
    if VALIDATOR.is_valid(request):
        request["addon"]["xpi_url"] = UNFETCHABLE
    return request


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _retype(draw, request):
    path = draw(st.sampled_from(list(_paths(request))[1:]))
    other = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    ).filter(lambda value: type(value) is not type(_get(request, path)))
    _set(request, path, draw(other))


def _remove(draw, request):
    keyed = [path for path in _paths(request) if path and isinstance(path[-1], str)]
    _drop(request, draw(st.sampled_from(keyed)))


def _add_unknown(draw, request):
    objects = [path for path in _paths(request) if isinstance(_get(request, path), dict)]
    where = _get(request, draw(st.sampled_from(objects)))
    where[draw(_hostile_strings())] = draw(st.integers())


def _hostile_text(draw, request):
    texts = [path for path in _paths(request) if isinstance(_get(request, path), str)]
    _set(request, draw(st.sampled_from(texts)), draw(_hostile_strings()))


def _keep(draw, request):
    pass


def _hostile_strings():
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Mn", "So"]), min_size=1),
        st.integers(5001, HUGE).map(lambda size: "A" * size),
    )


def _get(request, path):
    for key in path:
        request = request[key]
    return request


@pytest.fixture(scope="module")
def lambda_client(stack):
    return boto3.client(
        "lambda",
        endpoint_url=stack.functions.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "80")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=hostile_requests())
def test_generated_hostile_requests_are_refused_readably_by_the_steps_they_meet(
    stack, lambda_client, request
):
    name = unique_name("generated")
    started = time.monotonic()
    answer = _invoke(
        lambda_client, "validate_request", step_event(request, name, "ValidateRequest")
    )

    assert answer.get("errorType") == "InvalidRequest", answer
    assert readable(answer["errorMessage"]), answer["errorMessage"][:300]
    assert time.monotonic() - started < 10

    error = {"Error": "InvalidRequest", "Cause": json.dumps(answer)}
    report = _invoke(
        lambda_client, "report_failure", step_event(request, name, "ReportFailure", error=error)
    )
    assert (report.get("Error"), report.get("Cause")) == ("InvalidRequest", answer["errorMessage"])
    assert report["report"] == {
        "test_channel": "the test channel was not changed",
        "bug_commented": False,
    }


def _invoke(lambda_client, function, event) -> dict:
    answer = lambda_client.invoke(FunctionName=f"sysaddons_{function}", Payload=json.dumps(event))
    return json.loads(answer["Payload"].read())


def test_the_example_request_is_valid():
    assert VALIDATOR.is_valid(copy.deepcopy(EXAMPLE))
