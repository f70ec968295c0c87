"""RequestQaSignoff / RequestRelmanSignoff: record a pending signoff and tell the reviewers.

The state waits (``.waitForTaskToken``) until a reviewer's decision is sent with the token
kept in the signoff table, or until the signoff times out.
"""

import time

from sysaddons import signoffs
from sysaddons.bugzilla import BugzillaClient
from sysaddons.notify import send_once
from sysaddons.settings import MailSettings, signoff_table
from sysaddons.step import step


@step
def handle(event, context):
    role = event.raw["role"]
    request, checked = event.request, event.checked
    test_channel, staged, bug = (
        event.workflow["test_channel"],
        event.workflow["staged_xpi"],
        event.workflow["tracking_bug"],
    )
    addon = request["addon"]
    mail = MailSettings.from_environment()
    signoff = signoffs.signoff_id(event.execution_name, role)
    timeout = int(checked["signoff_timeout_seconds"])

    recorded = signoffs.record_pending(
        {
            "signoff_id": signoff,
            "task_token": event.raw["task_token"],
            "execution_arn": event.execution,
            "execution_name": event.execution_name,
            "step": event.state,
            "role": role,
            "addon_id": addon["id"],
            "addon_name": addon["name"],
            "version": addon["version"],
            "bug_id": bug["id"],
            "bug_url": bug["url"],
            "requested_by": request["requested_by"],
            "reviewers": mail.reviewers_for(role),
            "requested_at": signoffs.now_iso(),
            "expires_at": int(time.time()) + timeout,
            "xpi_url": staged["url"],
            "sha512": staged["sha512"],
            "size": staged["size"],
            "release": test_channel["release"],
            "test_channel": test_channel["channel"],
            "firefox_versions": request["firefox_versions"],
            "changes": test_channel["changes"],
        },
        table_name=signoff_table(),
    )
    if not recorded:
        return {"signoff_id": signoff, "recorded": False}

    who = signoffs.ROLES[role]
    where = (
        f"{mail.signoff_app_url}/signoffs/{signoff}"
        if mail.signoff_app_url
        else (f"the signoff app, or: sysaddons approve {signoff}")
    )
    text = (
        f"{addon['name']} {addon['version']} is on the {test_channel['channel']} channel "
        f"(Balrog release {test_channel['release']}) and waits for {who} signoff.\n"
        f"Decide at {where}. The signoff expires in {_duration(timeout)}."
    )
    send_once(
        f"signoff/{signoff}",
        mail,
        mail.reviewers_for(role),
        f"{who} signoff needed: {addon['name']} {addon['version']}",
        text,
    )
    BugzillaClient().comment_once(bug["id"], f"signoff-requested {signoff}", text)
    return {"signoff_id": signoff, "recorded": True}


def _duration(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:g} days"
    if seconds >= 3600:
        return f"{seconds / 3600:g} hours"
    return f"{seconds} seconds"
