"""The subset of Balrog's admin and public APIs the workflow uses, behind Auth0 credentials."""

import json
from dataclasses import dataclass
from urllib.parse import quote
from xml.etree import ElementTree

from balrogclient.api import get_balrog_session

from sysaddons import http
from sysaddons.errors import BalrogRefused, RemoteUnavailable
from sysaddons.request import BALROG_PRODUCT
from sysaddons.secrets import read_json_secret
from sysaddons.settings import BalrogSettings
from sysaddons.versions import version_key

# Fields that narrow a rule to some clients only; a rule with any of them set does not serve
# "every Firefox on this channel and version", so the workflow never treats it as the base.
NARROWING_FIELDS = (
    "buildTarget",
    "buildID",
    "locale",
    "osVersion",
    "distribution",
    "distVersion",
    "headerArchitecture",
    "instructionSet",
    "memory",
    "mig64",
    "jaws",
)


class Outdated(Exception):
    """Balrog refused a write because the object changed since it was read."""


@dataclass
class Release:
    """A release's blob and the data_version it was read at."""

    name: str
    blob: dict
    data_version: int


@dataclass
class Rule:
    """A rule as Balrog answers it, plus its data_version."""

    fields: dict

    @property
    def id(self) -> int:
        return int(self.fields["rule_id"])

    @property
    def mapping(self) -> str | None:
        return self.fields.get("mapping")

    @property
    def data_version(self) -> int:
        return int(self.fields["data_version"])


class BalrogClient:
    """Reads and writes SystemAddons releases and rules with optimistic locking."""

    def __init__(self, settings: BalrogSettings | None = None):
        self.settings = settings or BalrogSettings.from_environment()
        credentials = read_json_secret(
            self.settings.credentials_secret, ("domain", "client_id", "client_secret", "audience")
        )
        self.session = http.new_session()
        self.session.headers["Accept"] = "application/json"
        try:
            get_balrog_session(credentials, session=self.session)
        except Exception as error:  # balrogclient raises requests' errors for Auth0 failures
            status = getattr(getattr(error, "response", None), "status_code", None)
            if status in http.RETRYABLE_STATUSES or status is None:
                raise RemoteUnavailable(
                    f"Balrog's Auth0 token could not be fetched ({type(error).__name__})"
                ) from None
            raise BalrogRefused(
                f"Balrog's Auth0 refused the credentials (HTTP {status})"
            ) from None

    def release(self, name: str) -> Release | None:
        """The named release, or None if Balrog has none by that name."""
        response = self._send("GET", f"/releases/{quote(name, safe='')}")
        if response.status_code == 404:
            return None
        self._check(response, f"reading release {name}")
        return Release(name, response.json(), int(response.headers["X-Data-Version"]))

    def create_release(self, name: str, blob: dict) -> bool:
        """Create a release; False if one by that name appeared first (a concurrent writer)."""
        body = {
            "name": name,
            "product": BALROG_PRODUCT,
            "hashFunction": "sha512",
            "blob": json.dumps(blob, sort_keys=True),
        }
        response = self._send("POST", "/releases", json=body)
        if response.status_code == 400 and self.release(name) is not None:
            return False
        self._check(response, f"creating release {name}")
        return True

    def rules(self) -> list[Rule]:
        """Every SystemAddons rule."""
        response = self._send("GET", f"/rules?product={BALROG_PRODUCT}")
        self._check(response, "listing SystemAddons rules")
        return [Rule(fields) for fields in response.json().get("rules", [])]

    def rule(self, rule_id: int) -> Rule | None:
        """One rule, read fresh, or None if it was deleted."""
        response = self._send("GET", f"/rules/{rule_id}")
        if response.status_code == 404:
            return None
        self._check(response, f"reading rule {rule_id}")
        fields = dict(response.json())
        fields.setdefault("rule_id", rule_id)
        fields["data_version"] = int(
            response.headers.get("X-Data-Version", fields["data_version"])
        )
        return Rule(fields)

    def create_rule(self, fields: dict) -> int:
        """Create a rule and return its id."""
        response = self._send("POST", "/rules", json=fields)
        self._check(response, f"creating a rule on channel {fields.get('channel')}")
        return int(response.text.strip())

    def point_rule(self, rule: Rule, mapping: str | None) -> None:
        """Point a rule at a release, refused with Outdated if the rule changed since read."""
        body = {"mapping": mapping, "data_version": rule.data_version}
        response = self._send("POST", f"/rules/{rule.id}", json=body)
        self._check(response, f"pointing rule {rule.id} at {mapping}")

    def delete_rule(self, rule: Rule) -> None:
        """Delete a rule the workflow created, refused with Outdated if it changed since read."""
        response = self._send("DELETE", f"/rules/{rule.id}?data_version={rule.data_version}")
        if response.status_code == 404:
            return
        self._check(response, f"deleting rule {rule.id}")

    def served_addons(self, channel: str, firefox_version: str) -> dict[str, str] | None:
        """What the public endpoint serves a matching Firefox: add-on id to version, or None."""
        s = self.settings
        path = "/".join(
            quote(part, safe="")
            for part in (
                "update",
                "3",
                BALROG_PRODUCT,
                firefox_version,
                "20250101000000",
                s.verify_build_target,
                s.verify_locale,
                channel,
                s.verify_os_version,
                "default",
                "default",
                "update.xml",
            )
        )
        # The public endpoint is what Firefox asks: no credentials go to it.
        response = http.send(
            http.new_session(),
            "GET",
            f"{s.public_url}/{path}",
            "Balrog's public endpoint",
            timeout=s.timeout_seconds,
        )
        if response.status_code != 200:
            raise BalrogRefused(f"Balrog's public endpoint answered {response.status_code}")
        try:
            root = ElementTree.fromstring(response.content)
        except ElementTree.ParseError:
            raise BalrogRefused("Balrog's public endpoint answered something that is not XML")
        addons = root.find("addons")
        if addons is None:
            return None
        return {addon.get("id"): addon.get("version") for addon in addons.findall("addon")}

    def _send(self, method: str, path: str, **kwargs):
        return http.send(
            self.session,
            method,
            self.settings.api_root + path,
            "Balrog",
            timeout=self.settings.timeout_seconds,
            **kwargs,
        )

    def _check(self, response, doing: str) -> None:
        if response.ok:
            return
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        detail = answer.get("detail") or answer.get("exception") or response.text[:300]
        if response.status_code in (400, 409) and _is_outdated(str(detail)):
            raise Outdated(f"{doing}: {detail}")
        raise BalrogRefused(f"Balrog refused {doing}: HTTP {response.status_code}: {detail}")


def _is_outdated(detail: str) -> bool:
    lowered = detail.lower()
    return "outdated" in lowered or "data_version" in lowered or "data version" in lowered


def rule_serves(rule: Rule, channel: str, firefox_version: str) -> bool:
    """Whether a rule answers every Firefox of this version on this channel."""
    fields = rule.fields
    if fields.get("product") not in (None, BALROG_PRODUCT):
        return False
    if any(fields.get(name) not in (None, "") for name in NARROWING_FIELDS):
        return False
    if (fields.get("backgroundRate") or 0) != 100:
        return False
    rule_channel = fields.get("channel")
    if rule_channel and rule_channel != channel:
        if not (rule_channel.endswith("*") and channel.startswith(rule_channel[:-1])):
            return False
    expression = fields.get("version")
    if not expression:
        return True
    for operator in ("<=", ">=", "<", ">"):
        if expression.startswith(operator):
            left, right = version_key(firefox_version), version_key(expression[len(operator) :])
            return {
                "<=": left <= right,
                ">=": left >= right,
                "<": left < right,
                ">": left > right,
            }[operator]
    return firefox_version in [part.strip() for part in expression.split(",")]


def serving_rule(rules: list[Rule], channel: str, firefox_versions: list[str]) -> Rule | None:
    """The one rule that serves every listed version on the channel, or None if none does.

    Raises BalrogRefused when different rules serve different listed versions: one release
    cannot then be the bundle for all of them.
    """
    winners = {}
    for firefox_version in firefox_versions:
        candidates = [rule for rule in rules if rule_serves(rule, channel, firefox_version)]
        best = max(candidates, key=lambda rule: rule.fields.get("priority") or 0, default=None)
        winners[firefox_version] = best
    ids = {rule.id if rule else None for rule in winners.values()}
    if len(ids) > 1:
        shown = ", ".join(
            f"{version}: {'rule ' + str(rule.id) if rule else 'no rule'}"
            for version, rule in winners.items()
        )
        raise BalrogRefused(
            f"channel {channel} serves the listed Firefox versions from different rules "
            f"({shown}); ship to each group of versions in its own release"
        )
    return next(iter(winners.values()))
