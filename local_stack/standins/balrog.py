"""An in-memory Balrog, with the Auth0 token endpoint in front of it, as the workflow sees them.

One server plays both parts: balrogclient fetches its token from ``https://<domain>/oauth/token``,
so the stand-in's host:port is the Auth0 domain and its ``/api`` is the admin API.

What it keeps from real Balrog:

- Writes carry ``data_version``. A stale one is refused with 400, in Balrog's words: the problem
  detail ``OutdatedDataError`` for rules and for ``PUT /api/releases/<name>``, and ``Couldn't
  update release: Failed to update row, ...`` for ``POST /api/releases/<name>``.
- ``POST /api/releases/<name>`` (balrogclient's ``update_release``) replaces top-level keys of the
  stored blob. For a release that does not exist yet, Balrog first stores a stub made of name,
  schema_version and hashFunction; a SystemAddons stub is not a valid blob, so Balrog refuses.
- ``update.xml`` for an ``uninstall`` blob holds an empty ``<addons>`` element (remove every system
  add-on update); when no rule applies, or the served blob has nothing for the platform, it is
  ``<updates>`` with no ``<addons>`` element at all (keep what is installed).

Where it is stricter: every ``/api`` request needs a token (Balrog serves GETs to anyone), a stale
release write is always refused (Balrog first tries a three-way merge with the history and refuses
only conflicting changes), fileUrl must be https, and a platform ``alias`` must name a platform of
the same add-on that has its own file.
"""

import copy
import hmac
import json
import operator
import random
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from flask import Flask, Response, jsonify, request
from jsonschema import Draft202012Validator

from local_stack.standins.faults import FaultPlan, install_fault_plan

TOKEN_LIFETIME_SECONDS = 86400
STALE_RELEASE_UPDATE = "Failed to update row, old_data_version doesn't match current data_version"

SYSTEM_ADDONS_BLOB_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "SystemAddons release blob",
    "description": "Either every add-on clients on the rule should have, or an uninstall order.",
    "type": "object",
    "required": ["name", "schema_version"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "schema_version": {"enum": [5000]},
        "product": {"type": "string", "minLength": 1, "maxLength": 100},
        "hashFunction": {"type": "string", "minLength": 1},
        "uninstall": {"const": True},
        "addons": {
            "type": "object",
            "propertyNames": {"minLength": 1},
            "additionalProperties": {"$ref": "#/$defs/addon"},
        },
    },
    "oneOf": [{"required": ["addons"]}, {"required": ["uninstall"]}],
    "$defs": {
        "addon": {
            "type": "object",
            "required": ["version"],
            "additionalProperties": False,
            "properties": {
                "version": {"type": "string", "minLength": 1},
                "platforms": {
                    "type": "object",
                    "propertyNames": {"minLength": 1},
                    "additionalProperties": {"$ref": "#/$defs/platform"},
                },
            },
        },
        "platform": {
            "type": "object",
            "if": {"required": ["alias"]},
            "then": {
                "additionalProperties": False,
                "properties": {"alias": {"type": "string", "minLength": 1}},
            },
            "else": {
                "required": ["fileUrl", "hashValue", "filesize"],
                "additionalProperties": False,
                "properties": {
                    "fileUrl": {"type": "string", "minLength": 1},
                    "hashValue": {"type": "string", "minLength": 1},
                    "filesize": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
}
_BLOB_VALIDATOR = Draft202012Validator(SYSTEM_ADDONS_BLOB_SCHEMA)

RULE_FIELDS = (
    "priority",
    "mapping",
    "fallbackMapping",
    "backgroundRate",
    "update_type",
    "product",
    "version",
    "channel",
    "buildTarget",
    "buildID",
    "locale",
    "osVersion",
    "instructionSet",
    "memory",
    "distribution",
    "distVersion",
    "headerArchitecture",
    "comment",
    "alias",
    "mig64",
    "jaws",
)
# Fields that serve a rule to some clients only, rather than every Firefox on its channel.
_NARROWING_RULE_FIELDS = (
    "buildTarget",
    "buildID",
    "locale",
    "osVersion",
    "instructionSet",
    "memory",
    "distribution",
    "distVersion",
    "headerArchitecture",
    "mig64",
    "jaws",
)
REQUIRED_RULE_FIELDS = ("update_type", "backgroundRate", "priority")
RULE_ALIAS = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
UPDATE_TYPES = ("minor", "major")

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(?:([a-z]+)(\d+))?")
_COMPARISONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


class BalrogRefusal(ValueError):
    """A request Balrog answers with a problem JSON instead of doing what was asked."""

    def __init__(self, status: int, title: str, detail: str, exception=None):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.exception = exception


@dataclass(frozen=True)
class UpdateQuery:
    """What a Firefox client says about itself when it asks for system add-on updates."""

    product: str
    version: str
    build_id: str
    build_target: str
    locale: str
    channel: str
    os_version: str
    distribution: str
    dist_version: str


class BalrogStandIn:
    """Balrog's admin API, Auth0 token endpoint and update.xml, in memory, with faults."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        audience: str,
        allowed_file_domains: list[str],
    ):
        self.faults = FaultPlan()
        self.requests: list[tuple[str, str, int | None]] = []
        self.releases: dict[str, dict] = {}
        self.rules: dict[int, dict] = {}
        # Every rule write through the API, oldest first, with what its clients were served
        # before and after (for a created or deleted rule, by the rules around it).
        self.rule_changes: list[dict] = []
        self._client_id = client_id
        self._client_secret = client_secret
        self._audience = audience
        self._allowed_file_domains = list(allowed_file_domains)
        self._tokens: set[str] = set()
        self._writes: Counter = Counter()
        self._next_rule_id = 1
        self._lock = threading.RLock()
        self._competing_writes: list[tuple[str, re.Pattern, Callable[[], None]]] = []
        self.app = self._build_app()

    def seed_release(
        self, name: str, blob: dict, product: str = "SystemAddons", *, read_only: bool = False
    ) -> None:
        """Store a release at data_version 1 without counting a write; BalrogRefusal if invalid."""
        with self._lock:
            self._check_blob(name, blob, "Couldn't create release")
            self.releases[name] = _release_record(blob, product, 1, read_only)

    def seed_rule(self, **fields) -> int:
        """Store a rule at data_version 1 without counting a write and return its id."""
        with self._lock:
            return self._insert_rule(fields)

    def write_count(self, kind: str, name: str | int) -> int:
        """How many writes to the release or rule (kind "release" or "rule") succeeded."""
        if kind not in ("release", "rule"):
            raise ValueError(f"kind must be 'release' or 'rule', not {kind!r}")
        return self._writes[kind, str(name)]

    def before_next_write(self, method: str, path_regex: str, change: Callable[[], None]) -> None:
        """Run ``change`` (another writer's edit) just before the next matching write is handled.

        This is how a test makes the workflow's write arrive with a data_version that another
        release manager has just made stale, as happens when two releases race.
        """
        with self._lock:
            self._competing_writes.append((method.upper(), re.compile(path_regex), change))

    def _apply_competing_write(self):
        with self._lock:
            for index, (method, pattern, change) in enumerate(self._competing_writes):
                if request.method == method and pattern.fullmatch(request.path):
                    del self._competing_writes[index]
                    change()
                    return

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        install_fault_plan(app, self.faults, self.requests)
        app.before_request(self._require_token)
        app.before_request(self._apply_competing_write)
        app.register_error_handler(BalrogRefusal, _render_problem)

        app.add_url_rule("/oauth/token", view_func=self._issue_token, methods=["POST"])
        app.add_url_rule("/api/releases", view_func=self._list_releases, methods=["GET"])
        app.add_url_rule("/api/releases", view_func=self._create_release, methods=["POST"])
        app.add_url_rule("/api/releases/<name>", view_func=self._get_release, methods=["GET"])
        app.add_url_rule("/api/releases/<name>", view_func=self._put_release, methods=["PUT"])
        app.add_url_rule("/api/releases/<name>", view_func=self._post_release, methods=["POST"])
        app.add_url_rule("/api/rules", view_func=self._list_rules, methods=["GET"])
        app.add_url_rule("/api/rules", view_func=self._create_rule, methods=["POST"])
        app.add_url_rule("/api/rules/<id_or_alias>", view_func=self._get_rule, methods=["GET"])
        app.add_url_rule(
            "/api/rules/<id_or_alias>", view_func=self._update_rule, methods=["POST", "PUT"]
        )
        app.add_url_rule(
            "/api/rules/<id_or_alias>", view_func=self._delete_rule, methods=["DELETE"]
        )
        app.add_url_rule(
            "/update/3/<product>/<version>/<build_id>/<build_target>/<locale>/<channel>"
            "/<os_version>/<distribution>/<dist_version>/update.xml",
            view_func=self._update_xml,
            methods=["GET"],
        )
        return app

    # Auth0 and the bearer token

    def _issue_token(self):
        fields = request.get_json(silent=True) or request.form.to_dict()
        known_client = (
            _same_secret(fields.get("client_id"), self._client_id)
            and _same_secret(fields.get("client_secret"), self._client_secret)
            and fields.get("audience") == self._audience
            and fields.get("grant_type") == "client_credentials"
        )
        if not known_client:
            return jsonify(error="access_denied", error_description="Unauthorized"), 401

        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens.add(token)
        return jsonify(access_token=token, expires_in=TOKEN_LIFETIME_SECONDS, token_type="Bearer")

    def _require_token(self):
        if not request.path.startswith("/api/"):
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            issued = token in self._tokens
        if scheme.lower() != "bearer" or not issued:
            raise BalrogRefusal(401, "Unauthorized", "Login is required")

    # Releases

    def _list_releases(self):
        product = request.args.get("product")
        prefix = request.args.get("name_prefix")
        with self._lock:
            selected = [
                (name, release)
                for name, release in sorted(self.releases.items())
                if (not product or release["product"] == product)
                and (not prefix or name.startswith(prefix))
            ]
            if request.args.get("names_only"):
                return jsonify(names=[name for name, _ in selected])
            return jsonify(releases=[self._release_summary(name, rel) for name, rel in selected])

    def _create_release(self):
        fields = _json_object()
        name = _required_text(fields, "name")
        product = _required_text(fields, "product")
        blob = _blob_from_json_string(fields, "blob")

        with self._lock:
            if name in self.releases:
                raise BalrogRefusal(
                    400,
                    "Bad Request",
                    f"Release: {name} already exists",
                    exception="Database already contains the release",
                )
            self._check_blob(name, blob, "Couldn't create release")
            self.releases[name] = _release_record(blob, product, 1, read_only=False)
            self._writes["release", name] += 1
        return jsonify(new_data_version=1), 201

    def _get_release(self, name: str):
        with self._lock:
            release = self._existing_release(name)
            body = json.dumps(release["blob"], sort_keys=True)
            data_version = release["data_version"]
        return Response(
            body, mimetype="application/json", headers={"X-Data-Version": str(data_version)}
        )

    def _put_release(self, name: str):
        fields = _json_object()
        product = _required_text(fields, "product")
        blob = _blob_from_json_string(fields, "blob")

        with self._lock:
            release = self.releases.get(name)
            if release is None:
                self._check_blob(name, blob, "Couldn't update release")
                self.releases[name] = _release_record(blob, product, 1, read_only=False)
                self._writes["release", name] += 1
                return Response(status=201)

            if not fields.get("data_version"):
                raise BalrogRefusal(400, "Bad Request", "data_version field is missing")
            data_version = _data_version(fields["data_version"])
            _refuse_if_read_only(name, release)
            self._check_blob(name, blob, "Couldn't update release")
            if data_version != release["data_version"]:
                raise _outdated("PUT")
            self._store_release_write(name, release, blob, product)
            return jsonify(new_data_version=release["data_version"])

    def _post_release(self, name: str):
        fields = _json_object()
        product = _required_text(fields, "product")
        incoming = _blob_from_json_string(fields, "data")
        schema_version = fields.get("schema_version") or incoming.get("schema_version")
        if not schema_version:
            raise BalrogRefusal(400, "Bad Request", "schema_version is required")
        hash_function = fields.get("hashFunction") or incoming.get("hashFunction")

        with self._lock:
            release = self.releases.get(name)
            if release is None:
                # Balrog first stores a stub of name, schema_version and hashFunction, then
                # merges data into it. A SystemAddons stub has neither addons nor uninstall,
                # so Balrog refuses: create releases with POST /api/releases or PUT instead.
                stub = {"name": name, "schema_version": schema_version}
                if hash_function:
                    stub["hashFunction"] = hash_function
                problems = blob_problems(name, stub, self._allowed_file_domains)
                raise _invalid_blob("Couldn't create release", problems)

            if not fields.get("data_version"):
                raise BalrogRefusal(
                    400, "Bad Request", "Release exists, data_version must be provided"
                )
            data_version = _data_version(fields["data_version"])
            if product != release["product"]:
                raise BalrogRefusal(
                    400,
                    "Bad Request",
                    f"Product name '{product}' doesn't match the one on the release object "
                    f"('{release['product']}') for release '{name}'",
                )
            stored_hash_function = release["blob"].get("hashFunction")
            if hash_function and stored_hash_function not in (None, hash_function):
                raise BalrogRefusal(
                    400,
                    "Bad Request",
                    f"hashFunction '{hash_function}' doesn't match the one on the release "
                    f"object ('{stored_hash_function}') for release '{name}'",
                )
            _refuse_if_read_only(name, release)
            merged = {**release["blob"], **incoming}
            self._check_blob(name, merged, "Couldn't update release")
            if data_version != release["data_version"]:
                raise BalrogRefusal(
                    400,
                    "Bad Request",
                    f"Couldn't update release: {STALE_RELEASE_UPDATE}",
                    exception=[STALE_RELEASE_UPDATE],
                )
            self._store_release_write(name, release, merged, product)
            return jsonify(new_data_version=release["data_version"])

    def _existing_release(self, name: str) -> dict:
        release = self.releases.get(name)
        if release is None:
            raise BalrogRefusal(404, "Not Found", f"Release name: {name} not found")
        return release

    def _store_release_write(self, name: str, release: dict, blob: dict, product: str) -> None:
        release["blob"] = copy.deepcopy(blob)
        release["product"] = product
        release["data_version"] += 1
        self._writes["release", name] += 1

    def _release_summary(self, name: str, release: dict) -> dict:
        rules = [
            rule
            for rule in self.rules.values()
            if name in (rule["mapping"], rule["fallbackMapping"])
        ]
        return {
            "name": name,
            "product": release["product"],
            "data_version": release["data_version"],
            "read_only": release["read_only"],
            "rule_ids": [rule["rule_id"] for rule in rules],
            "rule_info": {
                str(rule["rule_id"]): {"product": rule["product"], "channel": rule["channel"]}
                for rule in rules
            },
        }

    def _check_blob(self, name: str, blob: dict, refusal: str) -> None:
        problems = blob_problems(name, blob, self._allowed_file_domains)
        if problems:
            raise _invalid_blob(refusal, problems)

    # Rules

    def _list_rules(self):
        product = request.args.get("product")
        with self._lock:
            rules = [
                copy.deepcopy(rule)
                for rule in self.rules.values()
                if not product or rule["product"] == product
            ]
        rules.sort(key=lambda rule: (-rule["priority"], rule["rule_id"]))
        return jsonify(count=len(rules), rules=rules)

    def _create_rule(self):
        fields = _json_object()
        with self._lock:
            rule_id = self._insert_rule(fields)
            self._writes["rule", str(rule_id)] += 1
            rule = self.rules[rule_id]
            self._note_rule_change(rule, self._served_without(rule), rule["mapping"])
        return Response(str(rule_id), status=200)

    def _get_rule(self, id_or_alias: str):
        with self._lock:
            rule = self._existing_rule(id_or_alias)
            body = json.dumps(rule)
            data_version = rule["data_version"]
        return Response(
            body, mimetype="application/json", headers={"X-Data-Version": str(data_version)}
        )

    def _update_rule(self, id_or_alias: str):
        fields = _json_object()
        data_version = _data_version(fields.get("data_version"))

        with self._lock:
            rule = self._existing_rule(id_or_alias)
            changes = self._checked_rule_fields(fields, rule)
            if data_version != rule["data_version"]:
                raise _outdated(request.method)
            before = rule["mapping"]
            rule.update(changes)
            rule["data_version"] += 1
            self._writes["rule", str(rule["rule_id"])] += 1
            self._note_rule_change(rule, before, rule["mapping"])
            return jsonify(new_data_version=rule["data_version"])

    def _delete_rule(self, id_or_alias: str):
        data_version = _data_version(request.args.get("data_version"))
        with self._lock:
            rule = self._existing_rule(id_or_alias)
            if data_version != rule["data_version"]:
                raise _outdated("DELETE")
            del self.rules[rule["rule_id"]]
            self._writes["rule", str(rule["rule_id"])] += 1
            self._note_rule_change(rule, rule["mapping"], self._served_without(rule))
        return Response(status=200)

    def _served_without(self, rule: dict) -> str | None:
        """What the rule's clients get from the other rules: the mapping before a rule is
        created, or after it is deleted (judged at the first version the rule lists)."""
        first_version = (rule["version"] or "").split(",")[0].strip()
        try:
            version_key(first_version)
        except InvalidVersion:
            return None
        candidates = [
            other
            for other in self.rules.values()
            if other["rule_id"] != rule["rule_id"]
            and other["product"] in (None, rule["product"])
            and all(other[field] is None for field in _NARROWING_RULE_FIELDS)
            and other["backgroundRate"] == 100
            and _channel_matches(other["channel"], rule["channel"] or "")
            and _version_matches(other["version"], first_version)
        ]
        best = max(candidates, key=lambda other: other["priority"], default=None)
        return best["mapping"] if best else None

    def _note_rule_change(self, rule: dict, before: str | None, after: str | None) -> None:
        self.rule_changes.append(
            {
                "rule_id": rule["rule_id"],
                "channel": rule["channel"],
                "version": rule["version"],
                "mapping_before": before,
                "mapping_after": after,
            }
        )

    def _insert_rule(self, fields: dict) -> int:
        for field in REQUIRED_RULE_FIELDS:
            if fields.get(field) in (None, ""):
                raise BalrogRefusal(400, "Bad Request", f"'{field}' is a required property")
        rule = {field: None for field in RULE_FIELDS}
        rule.update(self._checked_rule_fields(fields, None))
        if rule["mapping"] is None:
            raise BalrogRefusal(400, "Bad Request", "mapping value cannot be set to null/empty")

        rule_id = self._next_rule_id
        self._next_rule_id += 1
        self.rules[rule_id] = {"rule_id": rule_id, "data_version": 1, **rule}
        return rule_id

    def _checked_rule_fields(self, fields: dict, current: dict | None) -> dict:
        """Return the rule fields a create or update sets, refusing what Balrog would refuse."""
        changes = _normalised_rule_fields(fields)
        for field in ("mapping", "fallbackMapping"):
            if changes.get(field) is not None and changes[field] not in self.releases:
                raise BalrogRefusal(
                    400,
                    "Bad Request",
                    f"Invalid {field} value. No release name found in DB",
                    exception=f"{field}: no release named {changes[field]!r}",
                )
        if changes.get("alias") is not None:
            holder = self._rule_by_alias(changes["alias"])
            if holder is not None and holder is not current:
                raise BalrogRefusal(400, "Bad Request", "Rule with alias exists.")
        return changes

    def _existing_rule(self, id_or_alias: str) -> dict:
        rule = (
            self.rules.get(int(id_or_alias))
            if id_or_alias.isdigit()
            else self._rule_by_alias(id_or_alias)
        )
        if rule is None:
            raise BalrogRefusal(
                404,
                "Not Found",
                "Requested rule wasn't found",
                exception="Requested rule does not exist",
            )
        return rule

    def _rule_by_alias(self, alias: str) -> dict | None:
        return next((rule for rule in self.rules.values() if rule["alias"] == alias), None)

    # The public update endpoint

    def _update_xml(self, **path):
        query = UpdateQuery(**path)
        try:
            with self._lock:
                rule = self._deciding_rule(query)
                release_name = _served_release_name(rule, request.args.get("force"))
                blob = copy.deepcopy(self.releases[release_name]["blob"]) if release_name else None
        except InvalidVersion as error:
            return Response(str(error), status=400, mimetype="text/plain")

        try:
            update_xml = render_update_xml(blob, query.build_target)
        except KeyError:
            # Blobs are validated on write, so only the optional hashFunction can be missing;
            # Balrog fails the same way when it serves an add-on from such a blob.
            return Response(
                f"release {release_name} serves add-ons but has no hashFunction",
                status=500,
                mimetype="text/plain",
            )
        return Response(update_xml, mimetype="text/xml")

    def _deciding_rule(self, query: UpdateQuery) -> dict | None:
        matching = [rule for rule in self.rules.values() if rule_matches(rule, query)]
        return max(matching, key=lambda rule: rule["priority"], default=None)


class InvalidVersion(ValueError):
    """A version that is not a Firefox version (134.0, 134.0.1, 135.0b3, 136.0a1)."""


def blob_problems(release_name: str, blob: dict, allowed_file_domains: list[str]) -> list[str]:
    """Return why blob cannot be stored as release_name, each naming the field and value."""
    errors = sorted(_BLOB_VALIDATOR.iter_errors(blob), key=lambda error: list(error.absolute_path))
    if errors:
        return [_schema_problem(error) for error in errors]

    problems = []
    if blob["name"] != release_name:
        problems.append(f"name: {blob['name']!r} does not match the release name {release_name!r}")
    for addon_id, addon in blob.get("addons", {}).items():
        platforms = addon.get("platforms", {})
        for platform, entry in platforms.items():
            where = f"addons.{addon_id}.platforms.{platform}"
            if "alias" in entry:
                target = platforms.get(entry["alias"])
                if target is None or "alias" in target:
                    problems.append(
                        f"{where}.alias: {entry['alias']!r} is not a platform of {addon_id} "
                        "with its own file"
                    )
                continue
            url = urlsplit(entry["fileUrl"])
            if url.scheme != "https":
                problems.append(f"{where}.fileUrl: {entry['fileUrl']!r} is not an https URL")
            elif url.netloc not in allowed_file_domains:
                problems.append(
                    f"{where}.fileUrl: {url.netloc!r} is not an allowed domain for SystemAddons "
                    f"files ({', '.join(allowed_file_domains)})"
                )
    return problems


def rule_matches(rule: dict, query: UpdateQuery) -> bool:
    """Whether rule applies to the client, for the rule fields a SystemAddons rule uses."""
    return (
        rule["product"] in (None, query.product)
        and _channel_matches(rule["channel"], query.channel)
        and _version_matches(rule["version"], query.version)
        and _string_matches(rule["buildID"], query.build_id)
        and rule["buildTarget"] in (None, query.build_target)
        and _listed(rule["locale"], query.locale)
        and _listed(rule["distribution"], query.distribution)
        and rule["distVersion"] in (None, query.dist_version)
        and _os_version_matches(rule["osVersion"], query.os_version)
    )


def render_update_xml(blob: dict | None, build_target: str) -> str:
    """Return the update.xml Balrog answers with for blob (None when no release is served)."""
    lines = ['<?xml version="1.0"?>', "<updates>"]
    if blob is None:
        return "\n".join([*lines, "</updates>"])

    addon_elements = []
    for addon_id in sorted(blob.get("addons", {})):
        addon = blob["addons"][addon_id]
        file = _platform_file(addon.get("platforms", {}), build_target)
        if file is None:
            continue
        attributes = {
            "id": addon_id,
            "URL": file["fileUrl"],
            "hashFunction": blob["hashFunction"],
            "hashValue": file["hashValue"],
            "size": file["filesize"],
            "version": addon["version"],
        }
        rendered = " ".join(
            f'{key}="{_xml_attribute(value)}"' for key, value in attributes.items()
        )
        addon_elements.append(f"        <addon {rendered}/>")

    # Balrog leaves a blank line where the addons element would be when nothing is served.
    has_addons_element = blob.get("uninstall", False) or bool(addon_elements)
    lines.append("    <addons>" if has_addons_element else "")
    lines.extend(addon_elements)
    lines.append("    </addons>" if has_addons_element else "")
    lines.append("</updates>")
    return "\n".join(lines)


def version_key(version: str) -> tuple:
    """Sort key of a Firefox version: 133.0 < 133.0.1 < 134.0a1 < 134.0b2 < 134.0."""
    match = _VERSION.fullmatch(version)
    if not match:
        raise InvalidVersion(f"invalid version {version!r}")
    major, minor, patch, tag, tag_number = match.groups()
    release = (int(major), int(minor), int(patch or 0))
    # A pre-release (alpha "a", beta "b") comes before the release it leads to.
    stage = (0, tag, int(tag_number)) if tag else (1, "", 0)
    return release + stage


def _normalised_rule_fields(fields: dict) -> dict:
    """Return the rule fields in fields as Balrog stores them, refusing malformed values."""
    unknown = sorted(set(fields) - set(RULE_FIELDS) - {"rule_id", "data_version"})
    if unknown:
        raise BalrogRefusal(400, "Bad Request", f"Unknown rule field(s): {', '.join(unknown)}")
    changes = {field: _blank_as_none(fields[field]) for field in RULE_FIELDS if field in fields}
    for field in ("locale", "distribution"):
        if isinstance(changes.get(field), str):
            changes[field] = "".join(changes[field].split())
    for field in ("priority", "backgroundRate"):
        if field in changes:
            changes[field] = _rule_integer(field, changes[field])

    if "backgroundRate" in changes and not 0 <= changes["backgroundRate"] <= 100:
        raise BalrogRefusal(400, "Bad Request", "backgroundRate must be between 0 and 100")
    if "update_type" in changes and changes["update_type"] not in UPDATE_TYPES:
        raise BalrogRefusal(
            400,
            "Bad Request",
            f"update_type {changes['update_type']!r} is not one of {list(UPDATE_TYPES)}",
        )
    if "mapping" in changes and changes["mapping"] is None:
        raise BalrogRefusal(400, "Bad Request", "mapping value cannot be set to null/empty")
    if changes.get("version") is not None:
        _check_rule_version(changes["version"])
    if changes.get("alias") is not None and not RULE_ALIAS.fullmatch(changes["alias"]):
        raise BalrogRefusal(
            400,
            "Bad Request",
            f"alias {changes['alias']!r} must be a letter then letters, digits or dashes",
        )
    return changes


def _release_record(blob: dict, product: str, data_version: int, read_only: bool) -> dict:
    return {
        "blob": copy.deepcopy(blob),
        "product": product,
        "data_version": data_version,
        "read_only": read_only,
    }


def _refuse_if_read_only(name: str, release: dict) -> None:
    if release["read_only"]:
        raise BalrogRefusal(
            403, "Forbidden", f"Couldn't update release: Release '{name}' is read only"
        )


def _invalid_blob(refusal: str, problems: list[str]) -> BalrogRefusal:
    return BalrogRefusal(400, "Bad Request", f"{refusal}: {'; '.join(problems)}", problems)


def _outdated(method: str) -> BalrogRefusal:
    return BalrogRefusal(
        400,
        "Bad Request",
        "OutdatedDataError",
        exception=f"Couldn't perform the request {method}. Outdated Data Version. "
        "old_data_version doesn't match current data_version",
    )


def _served_release_name(rule: dict | None, force: str | None) -> str | None:
    if rule is None or not rule["mapping"]:
        return None
    # force=1 and force=-1 are Balrog's way to skip the background-rate dice roll.
    if force == "1" or rule["backgroundRate"] >= 100:
        return rule["mapping"]
    if force == "-1" or random.randrange(100) >= rule["backgroundRate"]:
        return rule["fallbackMapping"]
    return rule["mapping"]


def _channel_matches(rule_channel: str | None, channel: str) -> bool:
    if rule_channel is None:
        return True
    # Partner builds ("release-cck-acme") fall back to their base channel, keeping -sysaddon.
    fallback = channel.split("-cck-")[0]
    if channel.endswith("-sysaddon"):
        fallback += "-sysaddon"
    if rule_channel.endswith("*"):
        prefix = rule_channel[:-1]
        return len(rule_channel) >= 3 and (
            channel.startswith(prefix) or fallback.startswith(prefix)
        )
    return rule_channel in (channel, fallback)


def _version_matches(rule_version: str | None, version: str) -> bool:
    if rule_version is None:
        return True
    client = version_key(version)
    for condition in rule_version.split(","):
        condition = condition.strip()
        if condition.endswith(".*"):
            if version.startswith(condition[:-1]):
                return True
            continue
        compare, operand = _split_comparison(condition)
        if compare(client, version_key(operand)):
            return True
    return False


def _check_rule_version(rule_version: str) -> None:
    for condition in rule_version.split(","):
        condition = condition.strip()
        if condition.endswith(".*"):
            condition = condition[:-2] + ".0"
        try:
            version_key(_split_comparison(condition)[1])
        except InvalidVersion:
            raise BalrogRefusal(
                400, "Bad Request", f"version {rule_version!r}: {condition!r} is not a version"
            ) from None


def _string_matches(rule_value: str | None, value: str) -> bool:
    if rule_value is None:
        return True
    compare, operand = _split_comparison(rule_value)
    return compare(value, operand)


def _split_comparison(condition: str):
    for symbol in ("<=", ">=", "<", ">"):
        if condition.startswith(symbol):
            return _COMPARISONS[symbol], condition[len(symbol) :]
    return operator.eq, condition


def _listed(rule_values: str | None, value: str) -> bool:
    return rule_values is None or value in rule_values.split(",")


def _os_version_matches(rule_value: str | None, os_version: str) -> bool:
    # Commas separate alternatives; "&&" joins substrings that must all be present.
    if rule_value is None:
        return True
    return any(
        all(part.strip() in os_version for part in alternative.split("&&"))
        for alternative in rule_value.split(",")
    )


def _platform_file(platforms: dict, build_target: str) -> dict | None:
    entry = platforms.get(build_target, platforms.get("default"))
    if entry is not None and "alias" in entry:
        entry = platforms.get(entry["alias"])
    return entry


def _xml_attribute(value) -> str:
    return escape(str(value), {'"': "&quot;"})


def _schema_problem(error) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "blob"
    if error.validator == "oneOf":
        return f"{where}: needs either 'addons' or 'uninstall': true, and not both"
    return f"{where}: {error.message}"


def _json_object() -> dict:
    fields = request.get_json(silent=True)
    if not isinstance(fields, dict):
        raise BalrogRefusal(400, "Bad Request", "The request body must be a JSON object")
    return fields


def _required_text(fields: dict, name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise BalrogRefusal(400, "Bad Request", f"'{name}' is a required property")
    return value


def _blob_from_json_string(fields: dict, name: str) -> dict:
    text = fields.get(name)
    if not isinstance(text, str):
        raise BalrogRefusal(
            400, "Bad Request", f"'{name}' is required and must be a JSON string, not {text!r}"
        )
    try:
        blob = json.loads(text)
    except json.JSONDecodeError as error:
        raise BalrogRefusal(400, "Bad Request", f"'{name}' is not valid JSON: {error}") from None
    if not isinstance(blob, dict):
        raise BalrogRefusal(400, "Bad Request", f"'{name}' must hold a JSON object")
    return blob


def _data_version(value) -> int:
    if value in (None, ""):
        raise BalrogRefusal(400, "Bad Request", "'data_version' is a required property")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BalrogRefusal(
            400, "Bad Request", f"data_version {value!r} is not an integer"
        ) from None


def _rule_integer(field: str, value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BalrogRefusal(400, "Bad Request", f"{field} {value!r} is not an integer") from None


def _blank_as_none(value):
    if isinstance(value, str):
        return value.strip() or None
    return value


def _same_secret(given, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _render_problem(refusal: BalrogRefusal) -> Response:
    body = {
        "type": "about:blank",
        "title": refusal.title,
        "detail": refusal.detail,
        "status": refusal.status,
    }
    if refusal.exception is not None:
        body["exception"] = refusal.exception
    return Response(json.dumps(body), status=refusal.status, mimetype="application/json")
