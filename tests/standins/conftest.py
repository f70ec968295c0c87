"""The Bugzilla and Balrog stand-ins, each served over https on loopback for one test."""

import secrets
from pathlib import Path

import balrogclient.api
import pytest
import requests

from local_stack.servers import start_wsgi_server
from local_stack.standins.balrog import BalrogStandIn
from local_stack.standins.bugzilla import BugzillaStandIn
from local_stack.tls import LocalTLS

BUGZILLA_API_KEY = "local-bugzilla-key"
BUGZILLA_PRODUCTS = {
    "Firefox": ["System Add-ons: Off-train Deployment", "General"],
    "Release Engineering": ["Release Automation: Other"],
}
BALROG_AUDIENCE = "balrog-local"
ARCHIVE_HOST = "archive.mozilla.org"
REQUEST_TIMEOUT_SECONDS = 10


class LocalSession(requests.Session):
    """A requests session that trusts only the local CA and never waits long."""

    def __init__(self, ca_path: Path):
        super().__init__()
        # Environment settings such as REQUESTS_CA_BUNDLE would override verify below.
        self.trust_env = False
        self.verify = str(ca_path)

    def request(self, method, url, *args, timeout=REQUEST_TIMEOUT_SECONDS, **kwargs):
        return super().request(method, url, *args, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def local_tls(tmp_path_factory) -> LocalTLS:
    return LocalTLS.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def session(local_tls):
    with LocalSession(local_tls.ca_path) as session:
        yield session


@pytest.fixture
def bugzilla_api_key() -> str:
    return BUGZILLA_API_KEY


@pytest.fixture
def bugzilla(bugzilla_api_key) -> BugzillaStandIn:
    return BugzillaStandIn(api_key=bugzilla_api_key, products=BUGZILLA_PRODUCTS)


@pytest.fixture
def bugzilla_url(bugzilla, local_tls):
    server = start_wsgi_server(bugzilla.app, tls=local_tls)
    yield f"{server.url}/rest"
    server.stop()


@pytest.fixture
def bugzilla_session(local_tls, bugzilla_api_key):
    with LocalSession(local_tls.ca_path) as session:
        session.headers["X-BUGZILLA-API-KEY"] = bugzilla_api_key
        yield session


@pytest.fixture
def balrog_credentials() -> dict:
    # balrogclient caches tokens by client id, secret and audience, not by domain: fresh
    # credentials keep a token from another test's server out of this one.
    return {
        "client_id": f"workflow-{secrets.token_hex(4)}",
        "client_secret": secrets.token_urlsafe(16),
        "audience": BALROG_AUDIENCE,
    }


@pytest.fixture
def balrog(balrog_credentials) -> BalrogStandIn:
    return BalrogStandIn(allowed_file_domains=[ARCHIVE_HOST], **balrog_credentials)


@pytest.fixture
def balrog_server(balrog, local_tls):
    server = start_wsgi_server(balrog.app, tls=local_tls)
    yield server
    server.stop()


@pytest.fixture
def balrog_url(balrog_server) -> str:
    return balrog_server.url


@pytest.fixture
def auth0_secrets(balrog_server, balrog_credentials) -> dict:
    return {"domain": balrog_server.host_port, **balrog_credentials}


@pytest.fixture
def balrog_session(local_tls, auth0_secrets):
    """A session that sends a bearer token fetched the way balrogclient fetches it."""
    with LocalSession(local_tls.ca_path) as session:
        token = balrogclient.api._get_auth0_token(auth0_secrets, session)
        session.headers["Authorization"] = f"Bearer {token}"
        yield session
