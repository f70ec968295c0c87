"""An in-memory Bugzilla answering the REST calls the workflow makes, as bugzilla.mozilla.org does.

Refusals follow Bugzilla 5 and bugzilla.mozilla.org: a JSON body with ``"error": true``, a
numeric ``code`` and a ``message``, sent with the HTTP status Bugzilla maps that code to. Some of
those statuses surprise: an unknown product is 401 (code 106, Bugzilla will not say whether the
product exists or is hidden), an unknown component is 404 (code 51), an alias nobody uses is 400
(code 100) while an unknown bug number is 404 (code 101), and a wrong API key is 400 (code 306).
Rate limits and server errors come only from the fault plan.
"""

import copy
import datetime
import hmac
import threading

from flask import Flask, jsonify, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from local_stack.standins.faults import FaultPlan, install_fault_plan

DOCUMENTATION_URL = "https://bmo.readthedocs.io/en/latest/api/"
FIRST_BUG_ID = 1500000
OPEN_STATUSES = ("UNCONFIRMED", "NEW", "ASSIGNED", "REOPENED")
CLOSED_STATUSES = ("RESOLVED", "VERIFIED")
RESOLUTIONS = ("FIXED", "INVALID", "WONTFIX", "DUPLICATE", "WORKSFORME", "INCOMPLETE", "INACTIVE")
MAX_ALIAS_LENGTH = 40


class BugzillaRefusal(Exception):
    """A request Bugzilla answers with its error JSON instead of doing what was asked."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class BugzillaStandIn:
    """An in-memory Bugzilla with the REST subset the workflow uses and injectable faults."""

    def __init__(
        self,
        api_key: str,
        products: dict[str, list[str]],
        *,
        first_bug_id: int = FIRST_BUG_ID,
        user_login: str = "sysaddon-release-automation@mozilla.test",
    ):
        self.faults = FaultPlan()
        self.requests: list[tuple[str, str, int | None]] = []
        self.bugs: dict[int, dict] = {}
        self._api_key = api_key
        self._products = {name: list(components) for name, components in products.items()}
        self._user_login = user_login
        self._next_bug_id = first_bug_id
        self._next_comment_id = 1
        self._bug_by_alias: dict[str, int] = {}
        self._lock = threading.RLock()
        self.app = self._build_app()

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        install_fault_plan(app, self.faults, self.requests)
        app.before_request(self._require_api_key)
        app.register_error_handler(BugzillaRefusal, _render_refusal)
        app.register_error_handler(NotFound, _render_unknown_resource)
        app.register_error_handler(MethodNotAllowed, _render_unknown_resource)

        app.add_url_rule("/rest/bug", view_func=self._file_bug, methods=["POST"])
        app.add_url_rule("/rest/bug", view_func=self._search_bugs, methods=["GET"])
        app.add_url_rule("/rest/bug/<id_or_alias>", view_func=self._get_bug, methods=["GET"])
        app.add_url_rule("/rest/bug/<id_or_alias>", view_func=self._update_bug, methods=["PUT"])
        app.add_url_rule(
            "/rest/bug/<id_or_alias>/comment", view_func=self._get_comments, methods=["GET"]
        )
        app.add_url_rule(
            "/rest/bug/<id_or_alias>/comment", view_func=self._add_comment, methods=["POST"]
        )
        return app

    def _require_api_key(self):
        if not request.path.startswith("/rest"):
            return
        given = request.headers.get("X-BUGZILLA-API-KEY")
        if not given:
            raise BugzillaRefusal(401, 410, "You must log in before using this part of Bugzilla.")
        if not hmac.compare_digest(given.encode(), self._api_key.encode()):
            raise BugzillaRefusal(
                400,
                306,
                "The API key you specified is invalid. Please check that you typed it correctly.",
            )

    def _file_bug(self):
        fields = _json_object()
        product = _text(fields, "product")
        component = _text(fields, "component")
        summary = _text(fields, "summary")
        version = _text(fields, "version")
        aliases = _aliases(fields.get("alias"))

        if not product:
            raise BugzillaRefusal(400, 50, "You must select/enter a product.")
        if product not in self._products:
            raise BugzillaRefusal(
                401,
                106,
                f"Sorry, either the product '{product}' does not exist or you aren't "
                "authorized to enter a bug into it.",
            )
        if not component:
            raise BugzillaRefusal(400, 105, "You must select/enter a component.")
        if component not in self._products[product]:
            raise BugzillaRefusal(
                404, 51, f"There is no component named '{component}' in the '{product}' product."
            )
        if not version:
            raise BugzillaRefusal(400, 50, "You must select/enter a version.")
        if not summary:
            raise BugzillaRefusal(400, 107, "You must enter a summary for this bug.")

        with self._lock:
            for alias in aliases:
                if alias in self._bug_by_alias:
                    raise BugzillaRefusal(
                        400,
                        103,
                        f"The alias you entered, '{alias}', is already taken by bug "
                        f"{self._bug_by_alias[alias]}.",
                    )
            bug_id = self._next_bug_id
            self._next_bug_id += 1
            now = _timestamp()
            self.bugs[bug_id] = {
                "id": bug_id,
                "alias": aliases,
                "summary": summary,
                "status": "NEW",
                "resolution": "",
                "is_open": True,
                "whiteboard": _text(fields, "whiteboard"),
                "product": product,
                "component": component,
                "version": version,
                "type": _text(fields, "type") or "defect",
                "creator": self._user_login,
                "creation_time": now,
                "last_change_time": now,
                "comments": [],
            }
            for alias in aliases:
                self._bug_by_alias[alias] = bug_id
            self._append_comment(self.bugs[bug_id], _text(fields, "description"), now)
        return jsonify(id=bug_id)

    def _search_bugs(self):
        ids = {_bug_number(part) for value in request.args.getlist("id") for part in _csv(value)}
        aliases = {part for value in request.args.getlist("alias") for part in _csv(value)}
        whiteboard = request.args.get("whiteboard")
        if not (ids or aliases or whiteboard):
            raise BugzillaRefusal(
                400, 1000, "Searching needs at least one of the terms id, alias or whiteboard."
            )

        with self._lock:
            found = [
                _public_view(bug)
                for bug in self.bugs.values()
                if (not ids or bug["id"] in ids)
                and (not aliases or aliases.intersection(bug["alias"]))
                and (not whiteboard or whiteboard in bug["whiteboard"])
            ]
        return jsonify(bugs=found)

    def _get_bug(self, id_or_alias: str):
        with self._lock:
            bug = _public_view(self._find_bug(id_or_alias))
        return jsonify(bugs=[bug], faults=[])

    def _get_comments(self, id_or_alias: str):
        with self._lock:
            bug = self._find_bug(id_or_alias)
            comments = copy.deepcopy(bug["comments"])
        return jsonify(bugs={str(bug["id"]): {"comments": comments}}, comments={})

    def _add_comment(self, id_or_alias: str):
        text = _text(_json_object(), "comment")
        if not text.strip():
            raise BugzillaRefusal(400, 50, "A comment is required: 'comment' is empty or missing.")

        with self._lock:
            bug = self._find_bug(id_or_alias)
            now = _timestamp()
            comment = self._append_comment(bug, text, now)
            bug["last_change_time"] = now
        return jsonify(id=comment["id"]), 201

    def _update_bug(self, id_or_alias: str):
        fields = _json_object()
        with self._lock:
            bug = self._find_bug(id_or_alias)
            new_values = _checked_new_values(bug, fields)
            changes = {
                field: {"removed": bug[field], "added": value}
                for field, value in new_values.items()
                if bug[field] != value
            }
            comment_text = _comment_body(fields.get("comment"))

            now = _timestamp()
            for field, change in changes.items():
                bug[field] = change["added"]
            bug["is_open"] = bug["status"] in OPEN_STATUSES
            if comment_text:
                self._append_comment(bug, comment_text, now)
            if changes or comment_text:
                bug["last_change_time"] = now
            answer = {
                "id": bug["id"],
                "alias": list(bug["alias"]),
                "changes": changes,
                "last_change_time": bug["last_change_time"],
            }
        return jsonify(bugs=[answer])

    def _find_bug(self, id_or_alias: str) -> dict:
        if id_or_alias.isdigit():
            bug = self.bugs.get(int(id_or_alias))
            if bug is None:
                raise BugzillaRefusal(404, 101, f"Bug #{id_or_alias} does not exist.")
            return bug
        bug_id = self._bug_by_alias.get(id_or_alias)
        if bug_id is None:
            raise BugzillaRefusal(
                400, 100, f"'{id_or_alias}' is not a valid bug number nor an alias to a bug."
            )
        return self.bugs[bug_id]

    def _append_comment(self, bug: dict, text: str, now: str) -> dict:
        comment = {
            "id": self._next_comment_id,
            "bug_id": bug["id"],
            "count": len(bug["comments"]),
            "text": text,
            "creator": self._user_login,
            "creation_time": now,
            "time": now,
            "is_private": False,
        }
        self._next_comment_id += 1
        bug["comments"].append(comment)
        return comment


def _checked_new_values(bug: dict, fields: dict) -> dict:
    """Return the field values an update asks for, refusing what Bugzilla would refuse."""
    status = fields.get("status", bug["status"])
    if status not in OPEN_STATUSES + CLOSED_STATUSES:
        raise BugzillaRefusal(404, 51, f"There is no status named '{status}'.")

    resolution = fields.get("resolution")
    if status in OPEN_STATUSES:
        if resolution:
            raise BugzillaRefusal(
                400, 122, f"A bug with status {status} cannot have a resolution."
            )
        resolution = ""
    else:
        resolution = resolution or bug["resolution"]
        if not resolution:
            raise BugzillaRefusal(
                400, 121, f"A valid resolution is required to mark bugs as {status}."
            )
        if resolution not in RESOLUTIONS:
            raise BugzillaRefusal(
                400, 104, f"'{resolution}' is not a legal value for the 'resolution' field."
            )

    new_values = {"status": status, "resolution": resolution}
    for field in ("summary", "whiteboard"):
        if field in fields:
            new_values[field] = _text(fields, field)
    if new_values.get("summary") == "":
        raise BugzillaRefusal(400, 107, "You must enter a summary for this bug.")
    return new_values


def _aliases(value) -> list[str]:
    if value is None or value == "":
        return []
    aliases = [value] if isinstance(value, str) else value
    if not isinstance(aliases, list) or not all(isinstance(alias, str) for alias in aliases):
        raise BugzillaRefusal(400, 103, "The alias must be a string or a list of strings.")
    for alias in aliases:
        if alias.isdigit():
            raise BugzillaRefusal(
                400, 103, f"The alias '{alias}' is a number; an alias must contain a letter."
            )
        if "," in alias or any(character.isspace() for character in alias):
            raise BugzillaRefusal(
                400, 103, f"The alias '{alias}' must not contain commas or spaces."
            )
        if len(alias) > MAX_ALIAS_LENGTH:
            raise BugzillaRefusal(
                400, 103, f"The alias '{alias}' is longer than {MAX_ALIAS_LENGTH} characters."
            )
    return list(aliases)


def _comment_body(value) -> str:
    if isinstance(value, dict):
        value = value.get("body")
    return value if isinstance(value, str) and value.strip() else ""


def _public_view(bug: dict) -> dict:
    view = {field: value for field, value in bug.items() if field != "comments"}
    view["alias"] = list(bug["alias"])
    return view


def _json_object() -> dict:
    fields = request.get_json(silent=True)
    if not isinstance(fields, dict):
        raise BugzillaRefusal(400, 32000, "The request body must be a JSON object.")
    return fields


def _text(fields: dict, name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BugzillaRefusal(400, 53, f"The '{name}' parameter must be a string.")
    return value.strip()


def _bug_number(text: str) -> int:
    if not text.isdigit():
        raise BugzillaRefusal(400, 52, f"Invalid bug ID '{text}': a bug number is required.")
    return int(text)


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _render_refusal(refusal: BugzillaRefusal):
    body = {
        "error": True,
        "code": refusal.code,
        "message": refusal.message,
        "documentation": DOCUMENTATION_URL,
    }
    return jsonify(body), refusal.status


def _render_unknown_resource(_error):
    return _render_refusal(
        BugzillaRefusal(
            404,
            32614,
            f"A REST API resource was not found for '{request.method} {request.path}'.",
        )
    )
