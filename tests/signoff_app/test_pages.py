"""Every page: who may see it, what it shows, and that what it shows is escaped."""

import re
import time
from types import SimpleNamespace

import boto3
import pytest

from apps.signoff import create_app
from apps.signoff.local import local_settings
from local_stack.stack import SIGNOFF_TABLE
from sysaddons import signoffs
from tests.conftest import make_request, unique_name
from tests.signoff_app.conftest import (
    FIREFOX_VERSIONS,
    QA,
    Release,
    audit_lines,
    csrf_token,
    post_form,
    sign_in,
    start_release,
)

PAGES = [
    "/",
    "/signoffs/",
    "/signoffs/some-signoff-qa",
    "/executions/",
    "/executions/some-execution",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path, capsys):
    answer = client.get(path)

    if path == "/":
        answer = client.get(answer.headers["Location"])
        path = "/signoffs/"
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/login?next={path}"
    assert audit_lines(capsys.readouterr().err)[-1]["reason"] == "not signed in"


def test_a_signed_in_user_without_a_role_sees_nothing(stack, tmp_path):
    users = tmp_path / "users.json"
    users.write_text('{"users": [{"email": "visitor@mozilla.com", "roles": []}]}')
    client = create_app({**local_settings(stack), "DEV_USERS_FILE": str(users)}).test_client()
    sign_in(client, "visitor@mozilla.com")

    for path in PAGES[1:]:
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "no role" in answer.text


def test_dev_login_lists_the_dev_users_and_signs_in(client, capsys):
    form = client.get("/login?next=/executions/")
    assert all(
        email in form.text
        for email in (
            "qa-reviewer@mozilla.com",
            "relman-reviewer@mozilla.com",
            "relman@mozilla.com",
            "admin@mozilla.com",
        )
    )

    answer = sign_in(client, "qa-reviewer@mozilla.com")

    assert answer.status_code == 302
    login = [line for line in audit_lines(capsys.readouterr().err) if line["event"] == "login"]
    assert login[-1]["user"] == "qa-reviewer@mozilla.com" and login[-1]["roles"] == ["qa"]


def test_dev_login_refuses_an_unknown_user(client):
    token = csrf_token(client.get("/login").text)
    answer = client.post("/login", data={"csrf_token": token, "email": "nobody@example.com"})

    assert answer.status_code == 400
    assert client.get("/signoffs/").status_code == 302


def test_dev_login_refuses_requests_that_are_not_local(client):
    assert client.get("/login", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    forwarded = client.get("/login", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 404


def test_signing_out_ends_the_session(client):
    sign_in(client, "qa-reviewer@mozilla.com")
    answer = post_form(client, "/signoffs/", "/logout")

    assert answer.status_code == 200 and "You are signed out" in answer.text
    assert client.get("/signoffs/").status_code == 302


def test_sessions_expire(stack, monkeypatch):
    client = create_app({**local_settings(stack), "SESSION_LIFETIME_SECONDS": 60}).test_client()
    sign_in(client, "qa-reviewer@mozilla.com")
    assert client.get("/signoffs/").status_code == 200

    an_hour_later = time.time() + 3600
    monkeypatch.setattr("apps.signoff.auth.time", SimpleNamespace(time=lambda: an_hour_later))
    answer = client.get("/signoffs/")

    assert answer.status_code == 302
    assert "expired" in client.get(answer.headers["Location"]).text


def test_pending_list_puts_the_reviewers_own_signoffs_first(client, waiting_for_relman, stack):
    other = start_release(stack, "listed")
    other.wait_pending("qa")
    sign_in(client, "relman-reviewer@mozilla.com")

    page = client.get("/signoffs/").text

    yours, others = page.split("Waiting for others")
    assert waiting_for_relman.signoff("relman") in yours
    assert other.signoff("qa") in others and other.signoff("qa") not in yours
    row = _row(yours, waiting_for_relman.signoff("relman"))
    for shown in ("release management", "relman@mozilla.com", "in 6 d 23 h"):
        assert shown in row
    assert re.search(r'href="https://127\.0\.0\.1:\d+/show_bug\.cgi\?id=\d+"', row)


def test_signoff_page_shows_everything_needed_to_decide(client, waiting_for_qa, stack):
    item = waiting_for_qa.record("qa")
    sign_in(client, "qa-reviewer@mozilla.com")

    page = client.get(f"/signoffs/{item['signoff_id']}").text

    for shown in (
        item["addon_id"],
        item["addon_name"],
        item["version"],
        item["xpi_url"],
        item["sha512"],
        f"{item['size']:,} bytes",
        item["release"],
        item["test_channel"],
        f"show_bug.cgi?id={item['bug_id']}",
        f"{stack.balrog_server.url}/api/releases/{item['release']}",
    ):
        assert shown in page, shown
    changes = page.split("Bundle served now")[1]
    assert re.search(r'change-added">\s*<td><code>' + re.escape(item["addon_id"]), changes)
    assert re.search(
        r"change-unchanged\">\s*<td><code>webcompat@mozilla.org</code></td>\s*"
        r"<td>134.1.0</td>\s*<td>134.1.0</td>",
        changes,
    )
    assert f'action="/signoffs/{item["signoff_id"]}/approve"' in page
    assert item["task_token"] not in page


def test_unknown_signoff_and_execution_are_not_found(client):
    sign_in(client, "qa-reviewer@mozilla.com")

    assert client.get("/signoffs/no-such-signoff-qa").status_code == 404
    assert client.get("/executions/no-such-execution").status_code == 404
    assert client.get("/executions/bad%20name").status_code == 404


def test_executions_newest_first_with_status_and_step(client, waiting_for_qa, stack):
    newer = start_release(stack, "newest")
    newer.wait_pending("qa")
    sign_in(client, "relman-reviewer@mozilla.com")

    page = client.get("/executions/").text

    assert page.index(newer.name) < page.index(waiting_for_qa.name)
    row = _row(page, waiting_for_qa.name)
    assert "RUNNING" in row and "RequestQaSignoff" in row


def test_execution_page_draws_the_workflow_and_reads_the_history(client, waiting_for_qa):
    waiting_for_qa.wait_until_history_says("TaskSubmitted")
    sign_in(client, "relman-reviewer@mozilla.com")

    page = client.get(f"/executions/{waiting_for_qa.name}").text

    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "RequestQaSignoff (Task): waiting for signoff" in svg
    assert "ValidateRequest (Task): done" in svg
    assert "ShipToReleaseChannel (Task): not reached" in svg
    assert f"waiting for signoff {waiting_for_qa.signoff('qa')}" in page
    assert "done: release-sysaddon serves" in page
    assert "show_bug.cgi?id=" in page and "/api/releases/SystemAddons-" in page
    assert waiting_for_qa.record("qa")["task_token"] not in page


def test_values_from_the_request_and_the_reviewer_are_escaped(stack, client):
    request = make_request(stack, "escaped", firefox_versions=FIREFOX_VERSIONS)
    request["addon"]["name"] = 'Tom & Jerry\'s "fix"'
    name = unique_name("app-escaped")
    release = Release(stack, name, stack.start_execution(request, name))
    release.wait_pending("qa")
    # Validation refuses angle brackets in names; the pages must not rely on that.
    boto3.resource("dynamodb").Table(SIGNOFF_TABLE).update_item(
        Key={"signoff_id": release.signoff("qa")},
        UpdateExpression="SET requested_by = :by",
        ExpressionAttributeValues={":by": '<script>alert("by")</script>'},
    )
    reason = '<img src=x onerror="alert(1)">'
    signoffs.decide(release.signoff("qa"), QA, False, reason, table_name=SIGNOFF_TABLE)
    release.wait_for_end()
    sign_in(client, "relman-reviewer@mozilla.com")

    signoff_page = client.get(f"/signoffs/{release.signoff('qa')}").text
    execution_page = client.get(f"/executions/{release.name}").text

    for page in (signoff_page, execution_page):
        assert "<img src=x" not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
        assert "Tom &amp; Jerry&#39;s &#34;fix&#34;" in page
    assert "<script>alert" not in signoff_page
    assert "&lt;script&gt;alert(&#34;by&#34;)&lt;/script&gt;" in signoff_page


def test_pages_carry_security_headers(client):
    sign_in(client, "qa-reviewer@mozilla.com")

    for path in ("/login", "/signoffs/", "/executions/"):
        headers = client.get(path).headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store"


def test_the_local_session_cookie_is_http_only(client):
    answer = sign_in(client, "qa-reviewer@mozilla.com")

    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_stylesheet_is_served_by_the_app(client):
    answer = client.get("/static/style.css")

    assert answer.status_code == 200 and "text/css" in answer.headers["Content-Type"]


def _row(page: str, text: str) -> str:
    start = page.index(text)
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


def test_a_forged_session_cookie_is_treated_as_no_session(stack, client):
    # A session that claims an admin, signed with another key, or not signed at all.
    import time as clock

    from flask.sessions import SecureCookieSessionInterface

    claim = {
        "reviewer": {
            "email": "admin@mozilla.com",
            "name": "Admin",
            "roles": ["admin"],
            "method": "dev",
            "expires_at": int(clock.time()) + 3600,
        }
    }
    other_app = create_app({**local_settings(stack), "SECRET_KEY": "not-the-apps-key"})
    forged = SecureCookieSessionInterface().get_signing_serializer(other_app).dumps(claim)
    unsigned = forged.split(".")[0]

    # The same claim signed with the app's own key is accepted: the test reaches the check.
    genuine = SecureCookieSessionInterface().get_signing_serializer(client.application)
    client.set_cookie("signoff", genuine.dumps(claim), domain="localhost")
    assert client.get("/signoffs/").status_code == 200

    for cookie in (forged, unsigned):
        client.set_cookie("signoff", cookie, domain="localhost")
        answer = client.get("/signoffs/")
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/login?next=/signoffs/"
