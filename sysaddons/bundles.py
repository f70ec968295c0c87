"""Balrog bundles: one release per rule holds every add-on its clients should have.

A client whose rule serves a blob without add-on X removes X (or reverts it to the built-in
version), so shipping an add-on always means: take the release the rule serves now, replace
this add-on's entry, keep every other entry exactly as it is, and serve the merged blob.
Writes carry Balrog's data_version; when another writer got there first the whole read,
merge, write cycle starts again from fresh data.
"""

import hashlib
import random
import re
import time
from dataclasses import asdict, dataclass, field

from sysaddons import log
from sysaddons.balrog import BalrogClient, Outdated, Rule, serving_rule
from sysaddons.errors import BalrogConflict, BalrogRefused
from sysaddons.request import BALROG_PRODUCT

SCHEMA_VERSION = 5000
_MAX_ATTEMPTS = 8
_MAX_NAME_SUFFIX = 50
_NEW_RULE_PRIORITY = 100


@dataclass
class Shipment:
    """What serving an add-on on a channel did, for later steps and for rolling it back."""

    channel: str
    release: str
    rule_id: int | None
    rule_alias: str | None
    previous_release: str | None
    created_rule: bool
    changes: list[dict] = field(default_factory=list)
    previous_entry: dict | None = None
    already_served: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def addon_entry(version: str, file_url: str, sha512: str, size: int) -> dict:
    """The blob entry of one add-on, served to every platform."""
    return {
        "version": version,
        "platforms": {"default": {"fileUrl": file_url, "hashValue": sha512, "filesize": size}},
    }


def bundle_changes(before: dict, after: dict) -> list[dict]:
    """Per add-on: added, updated, removed or unchanged between two bundles' add-ons."""
    changes = []
    for addon_id in sorted(set(before) | set(after)):
        old, new = before.get(addon_id), after.get(addon_id)
        if old == new:
            change = "unchanged"
        elif old is None:
            change = "added"
        elif new is None:
            change = "removed"
        else:
            change = "updated"
        changes.append(
            {
                "addon": addon_id,
                "change": change,
                "version_before": old.get("version") if old else None,
                "version_after": new.get("version") if new else None,
            }
        )
    return changes


def rule_alias(channel: str, firefox_versions: list[str]) -> str:
    """The alias of the rule the workflow creates; Balrog keeps aliases unique, so two
    executions racing to create the same rule end up sharing one."""
    alias = re.sub(r"[^A-Za-z0-9]+", "-", f"sysaddons-{channel}-{'-'.join(firefox_versions)}")
    if len(alias) > 50:
        digest = hashlib.sha1(alias.encode()).hexdigest()[:8]
        alias = f"{alias[:41].rstrip('-')}-{digest}"
    return alias


def addons_of(client: BalrogClient, release_name: str | None) -> dict:
    """The add-ons a release serves; an uninstall release is refused, not merged onto."""
    if not release_name:
        return {}
    release = client.release(release_name)
    if release is None:
        raise BalrogRefused(f"a rule maps to release {release_name}, which Balrog does not have")
    if release.blob.get("uninstall"):
        raise BalrogRefused(
            f"release {release_name} uninstalls every system add-on; adding one to it would "
            "undo that decision. Point the rule at a bundle of add-ons first, then ship."
        )
    return dict(release.blob.get("addons") or {})


def ensure_release(client: BalrogClient, base_name: str, addons: dict) -> str:
    """The name of a release holding exactly these add-ons: an identical one, or a new one.

    Releases are never overwritten: a name already used for other content moves on to
    ``<name>-2``, ``<name>-3``..., so a retried step finds the release it made the first time.
    """
    for number in range(1, _MAX_NAME_SUFFIX + 1):
        name = base_name if number == 1 else f"{base_name}-{number}"
        existing = client.release(name)
        if existing is None:
            blob = {
                "name": name,
                "product": BALROG_PRODUCT,
                "schema_version": SCHEMA_VERSION,
                "hashFunction": "sha512",
                "addons": addons,
            }
            if client.create_release(name, blob):
                log.event("created Balrog release", release=name, addons=sorted(addons))
                return name
            existing = client.release(name)
        if existing is not None and (existing.blob.get("addons") or {}) == addons:
            return name
    raise BalrogRefused(
        f"releases {base_name} to {base_name}-{_MAX_NAME_SUFFIX} all hold other content"
    )


def serve_addon(
    client: BalrogClient,
    *,
    channel: str,
    firefox_versions: list[str],
    addon_id: str,
    entry: dict,
    release_base_name: str,
    base_channel: str | None = None,
    before_rule_change=None,
) -> Shipment:
    """Make the channel serve this add-on entry for these versions, keeping every other add-on.

    ``base_channel`` supplies the bundle when the channel has no rule for these versions yet.
    ``before_rule_change(shipment)`` runs before each rule write, to note what is about to
    change, so that a rollback knows what the rule served before.
    """
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        rules = client.rules()
        rule = serving_rule(rules, channel, firefox_versions)
        base_rule = rule
        if base_rule is None and base_channel:
            base_rule = serving_rule(rules, base_channel, firefox_versions)
        before = addons_of(client, base_rule.mapping if base_rule else None)

        if rule is not None and before.get(addon_id) == entry:
            # A retry after a write whose answer was lost: the channel already serves us.
            return Shipment(
                channel,
                rule.mapping,
                rule.id,
                rule.fields.get("alias"),
                None,
                False,
                bundle_changes(before, before),
                already_served=True,
            )

        after = {**before, addon_id: entry}
        release = ensure_release(client, release_base_name, after)
        exact = rule is not None and _covers_exactly(rule, channel, firefox_versions)
        alias = rule.fields.get("alias") if exact else rule_alias(channel, firefox_versions)
        shipment = Shipment(
            channel=channel,
            release=release,
            rule_id=rule.id if exact else None,
            rule_alias=alias,
            previous_release=rule.mapping if exact else None,
            created_rule=not exact,
            changes=bundle_changes(before, after),
            previous_entry=before.get(addon_id),
        )
        if before_rule_change:
            before_rule_change(shipment)

        try:
            if exact:
                client.point_rule(rule, release)
            else:
                shipment.rule_id = _create_rule(client, shipment, firefox_versions, rule)
        except Outdated as conflict:
            log.event(
                "Balrog data_version conflict; re-reading", attempt=attempt, detail=str(conflict)
            )
            time.sleep(random.uniform(0.05, 0.3) * attempt)
            continue
        log.event(
            "channel now serves the release",
            channel=channel,
            release=release,
            rule_id=shipment.rule_id,
        )
        return shipment

    raise BalrogConflict(
        f"channel {channel} kept changing under us: {_MAX_ATTEMPTS} writes were refused as "
        "outdated after re-reading and re-merging"
    )


def _covers_exactly(rule: Rule, channel: str, firefox_versions: list[str]) -> bool:
    return rule.fields.get("channel") == channel and rule.fields.get("version") == ",".join(
        firefox_versions
    )


def _create_rule(client, shipment: Shipment, firefox_versions: list[str], broader) -> int:
    """Create the channel's rule for exactly these versions, above any broader rule."""
    priority = _NEW_RULE_PRIORITY
    if broader is not None:
        priority = max(priority, int(broader.fields.get("priority") or 0) + 1)
    fields = {
        "product": BALROG_PRODUCT,
        "channel": shipment.channel,
        "version": ",".join(firefox_versions),
        "mapping": shipment.release,
        "backgroundRate": 100,
        "priority": priority,
        "update_type": "minor",
        "alias": shipment.rule_alias,
        "comment": "System add-ons for these Firefox versions (made by the release workflow)",
    }
    try:
        return client.create_rule(fields)
    except BalrogRefused:
        # Another execution created the same rule (aliases are unique) a moment earlier:
        # treat it like any other conflict and merge onto what it serves now.
        if client.rule(shipment.rule_alias) is not None:
            raise Outdated(f"rule {shipment.rule_alias} was created concurrently") from None
        raise


def withdraw_addon(
    client: BalrogClient,
    *,
    shipment: dict,
    addon_id: str,
    entry: dict,
    previous_entry: dict | None,
    withdrawn_base_name: str,
) -> str:
    """Undo serve_addon on a channel; says in one sentence what it did.

    If the rule still points at our release, it goes back to what it served before (or the
    rule we created is deleted). If other releases were served on top since, only our entry
    is reverted in a new release, so their add-ons stay.
    """
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        rule = client.rule(shipment["rule_id"] or shipment["rule_alias"])
        if rule is None:
            return f"the {shipment['channel']} rule no longer exists; nothing to restore"
        current = addons_of(client, rule.mapping)
        if current.get(addon_id) != entry:
            return f"the {shipment['channel']} channel no longer serves this add-on version"
        try:
            if rule.mapping == shipment["release"] and shipment["created_rule"]:
                client.delete_rule(rule)
                return f"deleted rule {rule.id}, which the workflow had created"
            if rule.mapping == shipment["release"]:
                client.point_rule(rule, shipment["previous_release"])
                return f"rule {rule.id} points back at {shipment['previous_release']}"
            reverted = dict(current)
            if previous_entry is None:
                reverted.pop(addon_id)
            else:
                reverted[addon_id] = previous_entry
            release = ensure_release(client, withdrawn_base_name, reverted)
            client.point_rule(rule, release)
            return f"rule {rule.id} now serves {release}, the current bundle without this version"
        except Outdated:
            time.sleep(random.uniform(0.05, 0.3) * attempt)
    raise BalrogConflict(f"the {shipment['channel']} rule kept changing while being restored")
