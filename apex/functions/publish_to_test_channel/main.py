"""PublishToTestChannel: serve the new bundle on the test channel so QA can test it."""

from sysaddons import ledger
from sysaddons.balrog import BalrogClient
from sysaddons.bundles import addon_entry, serve_addon
from sysaddons.step import step


def test_channel_record(execution_name: str) -> str:
    """The ledger record that remembers what the test rule served before this execution."""
    return f"test-channel/{execution_name}"


@step
def handle(event, context):
    request, checked, staged = event.request, event.checked, event.workflow["staged_xpi"]
    balrog = BalrogClient()
    addon = request["addon"]
    entry = addon_entry(addon["version"], staged["url"], staged["sha512"], staged["size"])
    record_id = test_channel_record(event.execution_name)
    noted = ledger.read(record_id)

    def note_previous(shipment):
        # Noted before each rule write: if the write's answer is lost, the retry finds the
        # channel already serving us and still knows what to restore on a rejection.
        ledger.write(record_id, kind="test-channel", shipment=shipment.as_dict(), entry=entry)

    shipment = serve_addon(
        balrog,
        channel=balrog.settings.test_channel,
        firefox_versions=request["firefox_versions"],
        addon_id=addon["id"],
        entry=entry,
        release_base_name=checked["release_name"],
        base_channel=balrog.settings.release_channel,
        before_rule_change=note_previous,
    )
    if shipment.already_served and noted:
        previous = noted["shipment"]
        shipment.previous_release = previous.get("previous_release")
        shipment.previous_entry = previous.get("previous_entry")
        shipment.created_rule = previous.get("created_rule", False)
        shipment.changes = previous.get("changes", shipment.changes)
    return {**shipment.as_dict(), "entry": entry}
