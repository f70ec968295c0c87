"""Check a release request: its shape against the JSON Schema, then what the schema cannot see."""

import json
import re
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker

from sysaddons.errors import InvalidRequest, quoted, shown
from sysaddons.versions import max_version_allows, min_version_allows, version_key
from sysaddons.xpi import XpiFacts

SCHEMA_PATH = Path(__file__).with_name("request.schema.json")
BALROG_PRODUCT = "SystemAddons"
# Balrog caps a rule's version field at 75 characters and Bugzilla an alias at 40.
_RULE_VERSION_MAX = 75
_ALIAS_MAX = 40

# Field names a request should not have are shown, a few at most, escaped and shortened.
_MAX_NAMES_SHOWN = 5

_validator: Draft202012Validator | None = None


def schema_validator() -> Draft202012Validator:
    """The request schema's validator, loaded once per process."""
    global _validator
    if _validator is None:
        schema = json.loads(SCHEMA_PATH.read_text())
        _validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return _validator


def check_shape(request) -> None:
    """Refuse a request that breaks the schema, naming every field at fault."""
    if not isinstance(request, dict):
        raise InvalidRequest("the request must be a JSON object")
    problems = [_describe(error) for error in schema_validator().iter_errors(request)]
    if problems:
        raise InvalidRequest("the request is invalid: " + "; ".join(sorted(set(problems))[:10]))


def _describe(error) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "the request"
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else "a field"
        return f"{where + '.' if error.absolute_path else ''}{name} is missing"
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = sorted(name for name in error.instance if name not in known)
        names = ", ".join(shown(name) for name in unknown[:_MAX_NAMES_SHOWN])
        more = len(unknown) - _MAX_NAMES_SHOWN
        return f"{where} has unknown fields: {names}" + (f" and {more} more" if more > 0 else "")
    hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
    if hint is None and error.parent is not None:
        hint = error.parent.schema.get("x-hint")
    value = shown(error.instance)
    if hint:
        return f"{where} {value}: {hint}"
    if error.validator == "type":
        return f"{where} {value}: must be of type {error.validator_value}"
    return f"{where}: {error.message[:200]}"


def check_sense(request: dict) -> None:
    """Refuse versions out of order and timelines that run backwards."""
    versions = request["firefox_versions"]
    if [version_key(v) for v in versions] != sorted(version_key(v) for v in versions):
        raise InvalidRequest(
            f"firefox_versions {versions}: must be listed oldest first, without repeats"
        )
    if len(",".join(versions)) > _RULE_VERSION_MAX:
        raise InvalidRequest(
            f"firefox_versions {versions}: too many to fit one Balrog rule "
            f"({_RULE_VERSION_MAX} characters); ship them in separate releases"
        )

    timeline = request["timeline"]
    qa_by, ship_by = (
        date.fromisoformat(timeline["qa_signoff_by"]),
        date.fromisoformat(timeline["ship_by"]),
    )
    if ship_by < qa_by:
        raise InvalidRequest(
            f"timeline.ship_by {ship_by} is before timeline.qa_signoff_by {qa_by}: "
            "QA signs off before the release ships"
        )


def check_xpi_matches(request: dict, facts: XpiFacts) -> None:
    """Refuse an XPI whose manifest names another add-on or version, or other Firefox versions."""
    addon = request["addon"]
    if facts.addon_id != addon["id"]:
        raise InvalidRequest(
            f"addon.id {addon['id']!r} does not match the XPI, whose manifest says "
            f"{quoted(facts.addon_id)}"
        )
    if facts.version != addon["version"]:
        raise InvalidRequest(
            f"addon.version {addon['version']!r} does not match the XPI, whose manifest says "
            f"{quoted(facts.version)}"
        )
    for firefox in request["firefox_versions"]:
        if facts.strict_min_version and not min_version_allows(facts.strict_min_version, firefox):
            raise InvalidRequest(
                f"firefox_versions: {firefox} is older than the add-on's strict_min_version "
                f"{facts.strict_min_version}"
            )
        if facts.strict_max_version and not max_version_allows(facts.strict_max_version, firefox):
            raise InvalidRequest(
                f"firefox_versions: {firefox} is newer than the add-on's strict_max_version "
                f"{facts.strict_max_version}"
            )


def shortname(request: dict) -> str:
    """The add-on's short name, used in release names, bug aliases and archive paths."""
    given = request["addon"].get("shortname")
    if given:
        return given
    addon_id = request["addon"]["id"]
    base = addon_id.strip("{}")[:8] if addon_id.startswith("{") else addon_id.split("@")[0]
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:30] or "addon"


def bug_alias(request: dict) -> str:
    """The tracking bug's alias: the same request always derives the same alias."""
    version = request["addon"]["version"]
    room = _ALIAS_MAX - len("sysaddon--") - len(version)
    return f"sysaddon-{shortname(request)[:room].rstrip('-')}-{version}"


def release_name(request: dict) -> str:
    """The Balrog release name for this add-on version."""
    return f"{BALROG_PRODUCT}-{shortname(request)}-{request['addon']['version']}"


def xpi_filename(request: dict) -> str:
    """The file name the XPI is staged under in the archive."""
    name = Path(urlsplit(request["addon"]["xpi_url"]).path).name
    fallback = f"{shortname(request)}-{request['addon']['version']}.xpi"
    return name if re.fullmatch(r"[A-Za-z0-9._+-]{1,120}\.xpi", name) else fallback
