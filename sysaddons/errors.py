"""Errors the state machine catches by name.

A Lambda that raises one of these fails its Task with the class name as the error, so each
name here is also an ``ErrorEquals`` entry in the definition. Messages are for release
managers: they name the field or the remote answer, and never carry a secret.
"""

import json


def shown(value, limit: int = 80) -> str:
    """A value for a message: as JSON, non-ASCII escaped, shortened to ``limit`` characters.

    Requests and XPIs can carry huge strings and invisible characters; a message must stay
    short and show them for what they are.
    """
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quoted(text: str, limit: int = 80) -> str:
    """A string from an XPI for a message, quoted as Python does (invisible characters
    escaped), its first ``limit`` characters only."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


class WorkflowError(Exception):
    """Base class of every error the workflow reports by name."""


class InvalidRequest(WorkflowError):
    """The execution input, its XPI or its target versions are wrong; nothing was created."""


class ReleaseInProgress(WorkflowError):
    """Another execution is already shipping this add-on version; this one created nothing."""


class RemoteUnavailable(WorkflowError):
    """Bugzilla, Balrog or the XPI host did not answer usefully (5xx, 429, timeout); retry."""


class BugzillaRefused(WorkflowError):
    """Bugzilla refused a request for a reason a retry will not fix."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class BalrogRefused(WorkflowError):
    """Balrog refused a request for a reason a retry will not fix."""


class BalrogConflict(WorkflowError):
    """Balrog kept refusing writes as outdated after re-reading and re-merging; retry later."""


class StagingConflict(WorkflowError):
    """The archive already holds different bytes under the XPI's key; it is never overwritten."""


class ReleaseNotServed(WorkflowError):
    """Balrog's public endpoint does not answer with the new version after the release."""


class SignoffRejected(WorkflowError):
    """A reviewer rejected the release."""


class SignoffTimedOut(WorkflowError):
    """No reviewer decided before the signoff expired."""


class SignoffNotDecidable(WorkflowError):
    """A decision arrived for a signoff that is already decided, expired or unknown."""


class ConfigurationError(WorkflowError):
    """A setting or secret the function needs is missing."""
