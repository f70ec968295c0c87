"""The functions' settings, read from their environment (project.json, function.json)."""

import os
from dataclasses import dataclass

from sysaddons.errors import ConfigurationError


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"setting {name} is not set in the function's environment")
    return value


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


@dataclass(frozen=True)
class BugzillaSettings:
    """Where Bugzilla is and where its API key is kept."""

    url: str
    api_key_secret: str
    timeout_seconds: float

    @classmethod
    def from_environment(cls) -> "BugzillaSettings":
        return cls(
            url=_required("BUGZILLA_URL").rstrip("/"),
            api_key_secret=_required("BUGZILLA_API_KEY_SECRET"),
            timeout_seconds=float(os.environ.get("HTTP_TIMEOUT_SECONDS", "20")),
        )


@dataclass(frozen=True)
class BalrogSettings:
    """Where Balrog's admin API and public endpoint are, its credentials, and our channels."""

    api_root: str
    public_url: str
    credentials_secret: str
    test_channel: str
    release_channel: str
    timeout_seconds: float
    verify_build_target: str
    verify_locale: str
    verify_os_version: str

    @classmethod
    def from_environment(cls) -> "BalrogSettings":
        return cls(
            api_root=_required("BALROG_API_ROOT").rstrip("/"),
            public_url=_required("BALROG_PUBLIC_URL").rstrip("/"),
            credentials_secret=_required("BALROG_CREDENTIALS_SECRET"),
            test_channel=os.environ.get("TEST_CHANNEL", "release-sysaddon"),
            release_channel=os.environ.get("RELEASE_CHANNEL", "release"),
            timeout_seconds=float(os.environ.get("HTTP_TIMEOUT_SECONDS", "20")),
            verify_build_target=os.environ.get("VERIFY_BUILD_TARGET", "WINNT_x86_64-msvc-x64"),
            verify_locale=os.environ.get("VERIFY_LOCALE", "en-US"),
            verify_os_version=os.environ.get("VERIFY_OS_VERSION", "Windows_NT 10.0.0.0"),
        )


@dataclass(frozen=True)
class ArchiveSettings:
    """The archive bucket the XPI is staged in and the https address it is served from."""

    bucket: str
    prefix: str
    base_url: str

    @classmethod
    def from_environment(cls) -> "ArchiveSettings":
        return cls(
            bucket=_required("ARCHIVE_BUCKET"),
            prefix=os.environ.get("ARCHIVE_PREFIX", "pub/system-addons/").strip("/") + "/",
            base_url=_required("ARCHIVE_BASE_URL").rstrip("/") + "/",
        )


@dataclass(frozen=True)
class XpiSettings:
    """Where an XPI may be fetched from, and how big it may be."""

    allowed_hosts: list[str]
    allowed_buckets: list[str]
    max_bytes: int
    timeout_seconds: float

    @classmethod
    def from_environment(cls) -> "XpiSettings":
        return cls(
            allowed_hosts=_list("XPI_ALLOWED_HOSTS"),
            allowed_buckets=_list("XPI_ALLOWED_BUCKETS"),
            max_bytes=int(os.environ.get("XPI_MAX_BYTES", str(50 * 1024 * 1024))),
            timeout_seconds=float(os.environ.get("HTTP_TIMEOUT_SECONDS", "20")),
        )


@dataclass(frozen=True)
class MailSettings:
    """Who sends the workflow's email and who receives it."""

    sender: str
    release_drivers: list[str]
    qa_reviewers: list[str]
    relman_reviewers: list[str]
    signoff_app_url: str

    @classmethod
    def from_environment(cls) -> "MailSettings":
        return cls(
            sender=_required("EMAIL_SENDER"),
            release_drivers=_list("RELEASE_DRIVERS"),
            qa_reviewers=_list("QA_REVIEWERS"),
            relman_reviewers=_list("RELMAN_REVIEWERS"),
            signoff_app_url=os.environ.get("SIGNOFF_APP_URL", "").rstrip("/"),
        )

    def reviewers_for(self, role: str) -> list[str]:
        """The addresses told about a pending signoff of the given role."""
        return self.qa_reviewers if role == "qa" else self.relman_reviewers


def signoff_table() -> str:
    """The DynamoDB table that holds pending and decided signoffs."""
    return _required("SIGNOFF_TABLE")


def ledger_table() -> str:
    """The DynamoDB table where steps note what they did (emails sent, rules changed)."""
    return _required("LEDGER_TABLE")


def self_signoff_allowed() -> bool:
    """Whether the release manager who started an execution may also sign it off."""
    return os.environ.get("ALLOW_SELF_SIGNOFF", "false").lower() in ("1", "true", "yes")


def default_signoff_timeout_seconds() -> int:
    """How long a signoff waits for a decision unless the request says otherwise."""
    return int(os.environ.get("SIGNOFF_TIMEOUT_SECONDS", str(7 * 24 * 3600)))
