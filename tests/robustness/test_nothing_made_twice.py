"""Regressions the soak found: what a retry, a re-merge or a later step must not make twice."""

import json

from local_stack.stack import BASELINE_ADDONS, BASELINE_RELEASE
from tests.conftest import make_request
from tests.test_workflow_end_to_end import run

RIVAL = {
    "version": "3.0.0",
    "platforms": {
        "default": {
            "fileUrl": "https://archive.localhost/pub/system-addons/rival@mozilla.org/rival-3.0.0.xpi",
            "hashValue": "d" * 128,
            "filesize": 2048,
        }
    },
}


def family(stack, base: str) -> dict[str, dict]:
    """Every release named base or base-<something>, with its add-ons, oldest first."""
    return {
        name: release["blob"].get("addons")
        for name, release in stack.balrog.releases.items()
        if name == base or name.startswith(base + "-")
    }


def duplicates(releases: dict[str, dict]) -> list[str]:
    """Each release whose add-ons an earlier release in the list already holds."""
    seen, repeated = set(), []
    for name, addons in releases.items():
        bundle = json.dumps(addons, sort_keys=True)
        if bundle in seen:
            repeated.append(name)
        seen.add(bundle)
    return repeated


def test_the_release_channel_reuses_a_bundle_the_add_on_version_already_has(stack):
    # The test channel's first bundle (baseline plus this add-on) loses a data_version race
    # to another add-on, so the test channel ends up on a second release; the release
    # channel then needs exactly the first bundle again, and must reuse it.
    test_rule = stack.balrog.seed_rule(
        product="SystemAddons",
        channel="release-sysaddon",
        version="152.0",
        mapping=BASELINE_RELEASE,
        backgroundRate=100,
        priority=60,
        update_type="minor",
    )

    def another_add_on_reaches_the_test_channel():
        stack.balrog.seed_release(
            "SystemAddons-rival-3.0.0",
            {
                "name": "SystemAddons-rival-3.0.0",
                "schema_version": 5000,
                "hashFunction": "sha512",
                "addons": {**BASELINE_ADDONS, "rival@mozilla.org": RIVAL},
            },
        )
        rule = stack.balrog.rules[test_rule]
        rule["mapping"], rule["data_version"] = "SystemAddons-rival-3.0.0", 2

    stack.balrog.before_next_write(
        "POST", rf"/api/rules/{test_rule}", another_add_on_reaches_the_test_channel
    )
    request = make_request(stack, "reused", firefox_versions=["152.0"])
    _, described = run(stack, request)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert output["test_channel"]["release"] == "SystemAddons-reused-1.0.0-2"
    assert duplicates(family(stack, "SystemAddons-reused-1.0.0")) == []
    assert output["release"]["release"] == "SystemAddons-reused-1.0.0"
