"""The subset of Bugzilla's REST API the workflow uses: file, find, comment on and close bugs."""

from dataclasses import dataclass

from sysaddons import http
from sysaddons.errors import BugzillaRefused, InvalidRequest
from sysaddons.secrets import read_secret
from sysaddons.settings import BugzillaSettings

WHITEBOARD = "[go-faster-system-addon]"

# A footer line marks each comment the workflow writes, so a retried step can tell that its
# comment is already on the bug (the answer to the first POST may have been lost).
_MARK = "system add-on workflow:"
# Bugzilla's codes for "no bug has this alias" (100) and "no bug has this number" (101).
_NOT_FOUND_CODES = (100, 101)
# Codes for values the request chose: unknown component (51), bad field values (104, 105,
# 108) and a product that does not exist or may not be seen (106).
_REQUEST_FAULT_CODES = (51, 104, 105, 106, 108)
ALIAS_TAKEN = 103


def _error_code(response) -> int | None:
    try:
        return response.json().get("code")
    except ValueError:
        return None


@dataclass
class Bug:
    """A bug as the workflow needs it."""

    id: int
    alias: str | None
    summary: str
    status: str
    resolution: str
    url: str


class BugzillaClient:
    """Talks to one Bugzilla instance with an API key read from the secret store."""

    def __init__(self, settings: BugzillaSettings | None = None):
        self.settings = settings or BugzillaSettings.from_environment()
        self.session = http.new_session()
        self.session.headers["X-BUGZILLA-API-KEY"] = read_secret(self.settings.api_key_secret)
        self.session.headers["Accept"] = "application/json"

    def bug_url(self, bug_id: int) -> str:
        """The address people open to read the bug."""
        return f"{self.settings.url}/show_bug.cgi?id={bug_id}"

    def find_bug(self, id_or_alias: int | str) -> Bug | None:
        """The bug with this id or alias, or None when Bugzilla has none."""
        response = self._send("GET", f"/rest/bug/{id_or_alias}")
        if response.status_code in (400, 404) and _error_code(response) in _NOT_FOUND_CODES:
            return None
        answer = self._answer(response, f"looking up bug {id_or_alias}")
        bugs = answer.get("bugs") or []
        if not bugs:
            return None
        return self._bug(bugs[0])

    def file_bug(self, fields: dict) -> Bug:
        """File a bug; a refusal names Bugzilla's reason (unknown product, alias taken...)."""
        response = self._send("POST", "/rest/bug", json=fields)
        answer = self._answer(response, "filing the tracking bug", invalid_input=True)
        found = self.find_bug(answer["id"])
        if found is None:
            raise BugzillaRefused(f"Bugzilla filed bug {answer['id']} but cannot find it")
        return found

    def comments(self, bug_id: int) -> list[str]:
        """The text of every comment on the bug, oldest first."""
        response = self._send("GET", f"/rest/bug/{bug_id}/comment")
        answer = self._answer(response, f"reading comments of bug {bug_id}")
        entries = answer.get("bugs", {}).get(str(bug_id), {}).get("comments", [])
        return [entry.get("text", "") for entry in entries]

    def comment_once(self, bug_id: int, key: str, text: str) -> bool:
        """Add a comment unless one with the same key is already there; True if added."""
        footer = f"({_MARK} {key})"
        if any(footer in existing for existing in self.comments(bug_id)):
            return False
        response = self._send(
            "POST", f"/rest/bug/{bug_id}/comment", json={"comment": f"{text}\n\n{footer}"}
        )
        self._answer(response, f"commenting on bug {bug_id}")
        return True

    def resolve_fixed(self, bug_id: int) -> bool:
        """Resolve the bug FIXED; False if it already was."""
        bug = self.find_bug(bug_id)
        if bug and bug.status in ("RESOLVED", "VERIFIED") and bug.resolution == "FIXED":
            return False
        response = self._send(
            "PUT", f"/rest/bug/{bug_id}", json={"status": "RESOLVED", "resolution": "FIXED"}
        )
        self._answer(response, f"resolving bug {bug_id}")
        return True

    def _send(self, method: str, path: str, **kwargs):
        return http.send(
            self.session,
            method,
            self.settings.url + path,
            "Bugzilla",
            timeout=self.settings.timeout_seconds,
            **kwargs,
        )

    def _answer(self, response, doing: str, invalid_input: bool = False) -> dict:
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.ok and not answer.get("error"):
            return answer

        message = answer.get("message") or f"HTTP {response.status_code}"
        code = answer.get("code")
        reason = f"Bugzilla refused {doing}: {message}" + (f" (code {code})" if code else "")
        # Unknown product or component and bad field values come from the request itself;
        # Bugzilla answers them with 400, 401 or 404 depending on the code.
        if invalid_input and code in _REQUEST_FAULT_CODES:
            raise InvalidRequest(reason)
        raise BugzillaRefused(reason, code)

    def _bug(self, fields: dict) -> Bug:
        alias = fields.get("alias")
        if isinstance(alias, list):
            alias = alias[0] if alias else None
        return Bug(
            id=int(fields["id"]),
            alias=alias,
            summary=fields.get("summary", ""),
            status=fields.get("status", ""),
            resolution=fields.get("resolution", ""),
            url=self.bug_url(int(fields["id"])),
        )
