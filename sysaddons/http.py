"""What every remote call shares: a timeout, and one rule for which failures merit a retry."""

import requests

from sysaddons.errors import RemoteUnavailable

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


def new_session() -> requests.Session:
    """A session without hidden retries: Step Functions retries, with backoff, in plain sight."""
    session = requests.Session()
    session.headers["User-Agent"] = "sysaddons-workflow"
    return session


def send(session: requests.Session, method: str, url: str, service: str, **kwargs):
    """Send one request; a timeout, a dropped connection, 429 or 5xx becomes RemoteUnavailable."""
    try:
        response = session.request(method, url, **kwargs)
    except requests.Timeout:
        raise RemoteUnavailable(
            f"{service} did not answer {method} {_path(url)} in time"
        ) from None
    except requests.ConnectionError:
        raise RemoteUnavailable(
            f"{service} dropped the connection during {method} {_path(url)}; "
            "the request may or may not have taken effect"
        ) from None

    if response.status_code in RETRYABLE_STATUSES:
        wait = response.headers.get("Retry-After")
        hint = f", asks to retry after {wait}s" if wait else ""
        raise RemoteUnavailable(
            f"{service} answered {response.status_code} to {method} {_path(url)}{hint}"
        )
    return response


def _path(url: str) -> str:
    # Only the path goes into messages: query strings may carry credentials on some services.
    return url.split("?", 1)[0]
