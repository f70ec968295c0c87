"""The production sign-in: OpenID Connect against a provider on loopback, roles from mapping
and groups, and the Lambda entry point built from the environment."""

import importlib
import json
import sys
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from apps.signoff import create_app
from apps.signoff.auth import roles_for
from local_stack.servers import start_wsgi_server
from local_stack.stack import SIGNOFF_TABLE
from sysaddons.errors import ConfigurationError
from tests.signoff_app.conftest import audit_lines
from tests.signoff_app.identity_provider import CLIENT_ID, CLIENT_SECRET, IdentityProvider

GROUPS_CLAIM = "https://sso.mozilla.com/claim/groups"
ROLE_MAPPING = {"sysaddons-qa": ["qa"], "Release-Manager@mozilla.com": ["relman"]}
SITE = "https://signoff.example"


@pytest.fixture(scope="module")
def provider(stack):
    """The identity provider, served over https on loopback with the stack's local CA."""
    idp = IdentityProvider()
    server = start_wsgi_server(idp.app, tls=stack.tls)
    idp.issuer = server.url
    yield idp
    server.stop()


@pytest.fixture
def trust_local_ca(stack, monkeypatch):
    """Let the app's HTTP client trust the local CA that signed the provider's certificate."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stack.tls.ca_path))


@pytest.fixture
def oidc_settings(stack, provider, trust_local_ca):
    """Production-like settings: OpenID Connect, secure cookies, roles from a mapping."""
    return {
        "AUTH_MODE": "oidc",
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_GROUPS_CLAIM": GROUPS_CLAIM,
        "ROLE_MAPPING": ROLE_MAPPING,
        "SECRET_KEY": "a key for this test only",
        "SIGNOFF_TABLE": SIGNOFF_TABLE,
        "STATE_MACHINE_ARN": stack.state_machine_arn,
    }


def sign_in_with_provider(client, provider, **claims):
    """Follow the app to the provider and back, as a browser would, with these claims."""
    to_provider = client.get("/login?next=/executions/", base_url=SITE)
    assert to_provider.status_code == 302
    location = urlsplit(to_provider.headers["Location"])
    query = parse_qs(location.query)
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.issuer}/authorize"
    )
    assert query["client_id"] == [CLIENT_ID] and "openid" in query["scope"][0]
    assert query["code_challenge_method"] == ["S256"]
    code = provider.code_for(nonce=query["nonce"][0], **claims)
    assert query["redirect_uri"] == [f"{SITE}/auth/callback"]
    return client.get(f"/auth/callback?code={code}&state={query['state'][0]}", base_url=SITE)


def test_a_group_member_signs_in_with_the_roles_of_the_group(oidc_settings, provider, capsys):
    client = create_app(oidc_settings).test_client()

    answer = sign_in_with_provider(
        client,
        provider,
        email="tester@mozilla.com",
        email_verified=True,
        **{GROUPS_CLAIM: ["sysaddons-qa"]},
    )

    assert answer.status_code == 302 and answer.headers["Location"] == "/executions/"
    page = client.get("/executions/", base_url=SITE)
    assert page.status_code == 200 and "tester@mozilla.com" in page.text
    login = [line for line in audit_lines(capsys.readouterr().err) if line["event"] == "login"]
    assert login[-1]["roles"] == ["qa"] and login[-1]["login_method"] == "oidc"


def test_the_session_cookie_is_secure_and_http_only(oidc_settings, provider):
    client = create_app(oidc_settings).test_client()

    answer = sign_in_with_provider(
        client, provider, email="release-manager@mozilla.com", email_verified=True
    )

    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-signoff=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie


def test_someone_without_a_role_is_refused(oidc_settings, provider, capsys):
    client = create_app(oidc_settings).test_client()

    answer = sign_in_with_provider(
        client,
        provider,
        email="visitor@mozilla.com",
        email_verified=True,
        **{GROUPS_CLAIM: ["everyone"]},
    )

    assert answer.status_code == 403 and "has no role" in answer.text
    assert audit_lines(capsys.readouterr().err)[-1]["reason"] == "no role"


def test_an_unverified_email_is_refused(oidc_settings, provider):
    client = create_app(oidc_settings).test_client()

    answer = sign_in_with_provider(
        client, provider, email="release-manager@mozilla.com", email_verified=False
    )

    assert answer.status_code == 403


def test_a_callback_with_a_forged_state_is_refused(oidc_settings, provider):
    client = create_app(oidc_settings).test_client()
    client.get("/login", base_url=SITE)
    code = provider.code_for(email="release-manager@mozilla.com", nonce="whatever")

    answer = client.get(f"/auth/callback?code={code}&state=forged", base_url=SITE)

    assert answer.status_code == 401
    assert client.get("/signoffs/", base_url=SITE).status_code == 302


def test_dev_login_does_not_exist_in_oidc_mode(oidc_settings):
    client = create_app(oidc_settings).test_client()

    answer = client.post("/login", data={"email": "admin@mozilla.com"}, base_url=SITE)

    assert answer.status_code in (400, 404)
    assert client.get("/signoffs/", base_url=SITE).status_code == 302


def test_roles_come_from_the_email_and_the_groups():
    assert roles_for("Release-Manager@Mozilla.com", [], ROLE_MAPPING) == {"relman"}
    assert roles_for("x@mozilla.com", ["sysaddons-qa", "other"], ROLE_MAPPING) == {"qa"}
    assert roles_for("x@mozilla.com", "sysaddons-qa", ROLE_MAPPING) == set()
    assert roles_for("x@mozilla.com", ["g"], {"g": ["qa", "superuser"]}) == {"qa"}


def test_the_lambda_handler_runs_the_app_from_the_environment(
    stack, provider, trust_local_ca, monkeypatch
):
    boto3.client("ssm").put_parameter(
        Name="/signoff-app-test/oidc-client-secret",
        Value=CLIENT_SECRET,
        Type="SecureString",
        Overwrite=True,
    )
    boto3.client("ssm").put_parameter(
        Name="/signoff-app-test/session-key",
        Value="session key from ssm",
        Type="SecureString",
        Overwrite=True,
    )
    for name, value in {
        "AUTH_MODE": "oidc",
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET_SECRET": "ssm:/signoff-app-test/oidc-client-secret",
        "SECRET_KEY_SECRET": "ssm:/signoff-app-test/session-key",
        "ROLE_MAPPING": json.dumps(ROLE_MAPPING),
        "SIGNOFF_TABLE": SIGNOFF_TABLE,
        "STATE_MACHINE_ARN": stack.state_machine_arn,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "apps.signoff.lambda_handler", raising=False)

    handler = importlib.import_module("apps.signoff.lambda_handler").handler
    answer = handler(_api_gateway_event("/signoffs/"), None)
    login = handler(_api_gateway_event("/login"), None)

    assert answer["statusCode"] == 302 and answer["headers"]["location"].startswith("/login")
    assert login["statusCode"] == 302
    assert login["headers"]["location"].startswith(f"{provider.issuer}/authorize?")
    assert (
        "redirect_uri=https%3A%2F%2Fsignoff.example%2Fauth%2Fcallback"
        in (login["headers"]["location"])
    )
    assert any(
        cookie.startswith("__Host-signoff=") and "Secure" in cookie for cookie in login["cookies"]
    )


@pytest.mark.parametrize(
    "environment",
    [
        {"AUTH_MODE": "dev"},
        {"AUTH_MODE": "oidc", "LOCAL_STACK": "true"},
    ],
)
def test_the_lambda_handler_refuses_dev_login(environment, monkeypatch):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "apps.signoff.lambda_handler", raising=False)

    with pytest.raises(ConfigurationError, match="OpenID Connect only"):
        importlib.import_module("apps.signoff.lambda_handler")


def _api_gateway_event(path: str) -> dict:
    """An HTTP API (payload 2.0) request from a browser somewhere on the internet."""
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": "signoff.example",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
        },
        "requestContext": {
            "http": {"method": "GET", "sourceIp": "203.0.113.7", "protocol": "HTTP/1.1"}
        },
        "isBase64Encoded": False,
    }
