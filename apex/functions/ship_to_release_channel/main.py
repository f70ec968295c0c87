"""ShipToReleaseChannel: point the release channel at the signed-off add-on; check it is served.

The release channel may have changed since QA tested (another add-on shipped meanwhile), so
this add-on's entry is merged onto what the release channel serves now, never the reverse.
"""

from sysaddons.balrog import BalrogClient
from sysaddons.bundles import serve_addon
from sysaddons.errors import ReleaseNotServed
from sysaddons.step import step


@step
def handle(event, context):
    request, checked, test_channel = event.request, event.checked, event.workflow["test_channel"]
    balrog = BalrogClient()
    addon = request["addon"]

    shipment = serve_addon(
        balrog,
        channel=balrog.settings.release_channel,
        firefox_versions=request["firefox_versions"],
        addon_id=addon["id"],
        entry=test_channel["entry"],
        # The same names the test channel used: a bundle this add-on version already has
        # (the test channel's, or one a retry made) is found and reused, never made again.
        release_base_name=checked["release_name"],
    )

    # Ask as a matching Firefox would: every target version must now get this version.
    served = {}
    for firefox in request["firefox_versions"]:
        answer = balrog.served_addons(balrog.settings.release_channel, firefox) or {}
        served[firefox] = answer.get(addon["id"])
        if served[firefox] != addon["version"]:
            raise ReleaseNotServed(
                f"Balrog serves Firefox {firefox} on {balrog.settings.release_channel} "
                f"version {served[firefox] or 'nothing'} of {addon['id']}, not "
                f"{addon['version']}; the rule points at {shipment.release}"
            )
    return {**shipment.as_dict(), "served": served}
