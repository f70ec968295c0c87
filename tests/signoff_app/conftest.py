"""The signoff app on the session's local stack, signed-in clients, and releases that wait."""

import json
import re
import time

import pytest

from apps.signoff import create_app
from apps.signoff.local import local_settings
from local_stack.stack import SIGNOFF_TABLE
from sysaddons import signoffs
from tests.conftest import make_request, unique_name

QA = signoffs.Reviewer("qa-reviewer@mozilla.com", {"qa"})
RELMAN = signoffs.Reviewer("relman-reviewer@mozilla.com", {"relman"})
FIREFOX_VERSIONS = ["150.0", "150.0.1"]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(stack):
    """The app as the local stack runs it: dev login, the stack's table and state machine."""
    return create_app(local_settings(stack))


@pytest.fixture
def client(app):
    """A browser-like client that nobody has signed in with yet."""
    return app.test_client()


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on a page."""
    return _CSRF.search(page).group(1)


def sign_in(client, email: str):
    """Sign in through the dev login form, as a person would."""
    form = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf_token(form.text), "email": email})


def post_form(client, page_path: str, action_path: str, **fields):
    """Submit a form the way a browser does: with the CSRF token of the page it is on."""
    page = client.get(page_path)
    return client.post(action_path, data={"csrf_token": csrf_token(page.text), **fields})


class Release:
    """An execution of the workflow on the local stack, and its signoffs."""

    def __init__(self, stack, name: str, arn: str):
        self.stack, self.name, self.arn = stack, name, arn

    def signoff(self, role: str) -> str:
        """The id of this release's signoff for a role."""
        return signoffs.signoff_id(self.name, role)

    def record(self, role: str) -> dict | None:
        """The signoff's record in the table, as it is now."""
        return signoffs.get(self.signoff(role), table_name=SIGNOFF_TABLE)

    def wait_pending(self, role: str, timeout: float = 60) -> str:
        """Wait until the role's signoff is pending; answers its id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.record(role)
            if item and item["status"] == signoffs.PENDING:
                return item["signoff_id"]
            time.sleep(0.2)
        raise TimeoutError(f"{self.signoff(role)} never became pending")

    def wait_until_history_says(self, event_type: str, timeout: float = 30) -> None:
        """Wait until the execution's history holds an event of that type."""
        self.stack.wait_for(
            self.arn,
            timeout=timeout,
            until=lambda events: any(e["type"] == event_type for e in events),
        )

    def status(self) -> str:
        """The execution's status in Step Functions."""
        return self.stack.sfn.describe_execution(executionArn=self.arn)["status"]

    def wait_for_end(self, timeout: float = 60) -> dict:
        """Wait until the execution ends; answers describe_execution."""
        return self.stack.wait_for(self.arn, timeout=timeout)


def start_release(stack, shortname: str, **overrides) -> Release:
    """Start the workflow on a new add-on named after shortname.

    The app's tests ship for Firefox versions of their own, so what they leave on the test
    and release channels does not change what other tests' Firefox versions are served.
    """
    overrides.setdefault("firefox_versions", FIREFOX_VERSIONS)
    request = make_request(stack, shortname, **overrides)
    name = unique_name(f"app-{shortname}")
    return Release(stack, name, stack.start_execution(request, name))


@pytest.fixture
def waiting_for_qa(stack) -> Release:
    """A release whose QA signoff is pending."""
    release = start_release(stack, unique_name("qa"))
    release.wait_pending("qa")
    return release


@pytest.fixture
def waiting_for_relman(waiting_for_qa) -> Release:
    """A release that QA approved, whose release-management signoff is pending."""
    signoffs.decide(waiting_for_qa.signoff("qa"), QA, True, table_name=SIGNOFF_TABLE)
    waiting_for_qa.wait_pending("relman")
    return waiting_for_qa


def audit_lines(captured: str) -> list[dict]:
    """The app's structured log lines in captured standard error."""
    lines = []
    for line in captured.splitlines():
        if line.startswith("{") and '"app": "signoff"' in line:
            lines.append(json.loads(line))
    return lines
