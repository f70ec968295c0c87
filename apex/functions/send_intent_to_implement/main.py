"""SendIntentToImplement: email the release drivers once, and say so on the bug."""

from sysaddons.bugzilla import BugzillaClient
from sysaddons.notify import send_once
from sysaddons.settings import MailSettings
from sysaddons.step import step


@step
def handle(event, context):
    request, bug = event.request, event.workflow["tracking_bug"]
    addon, timeline = request["addon"], request["timeline"]
    mail = MailSettings.from_environment()

    subject = f"Intent to implement: system add-on {addon['name']} {addon['version']}"
    body = "\n".join(
        [
            f"We intend to ship {addon['name']} {addon['version']} ({addon['id']}) as a system",
            f"add-on to Firefox {', '.join(request['firefox_versions'])}.",
            "",
            "Overview:",
            addon["overview"],
            "",
            "Timeline:",
            f"  QA signoff by: {timeline['qa_signoff_by']}",
            f"  Ship by:       {timeline['ship_by']}",
            *([f"  Notes: {timeline['notes']}"] if timeline.get("notes") else []),
            "",
            f"Tracking bug: {bug['url']}",
            f"Release manager: {request['requested_by']}",
        ]
    )
    # One notice per bug and add-on version: a retry or a re-run never emails twice.
    email = send_once(
        f"intent-to-implement/{bug['id']}/{addon['id']}/{addon['version']}",
        mail,
        mail.release_drivers,
        subject,
        body,
    )

    commented = BugzillaClient().comment_once(
        bug["id"],
        f"intent-to-implement {addon['version']}",
        f"Intent to implement sent to {', '.join(mail.release_drivers)}: {subject}.",
    )
    return {
        "email": email["status"],
        "message_id": email.get("message_id"),
        "bug_commented": commented,
    }
