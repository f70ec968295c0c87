"""Email through Amazon SES, at most once per notice, whatever the retries."""

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sysaddons import ledger, log
from sysaddons.errors import ConfigurationError, RemoteUnavailable
from sysaddons.settings import MailSettings

_THROTTLED = {"Throttling", "ThrottlingException", "ServiceUnavailable", "TooManyRequests"}


def send_once(notice_id: str, settings: MailSettings, to: list[str], subject: str, body: str):
    """Send the email unless this notice was already sent; answers what happened.

    The notice is claimed in the ledger before SES is called. If SES surely refused, the
    claim is dropped so a retry may send; if the outcome is unknown (the call was cut off),
    the claim stays and no retry sends again: a missing email is better than two.
    """
    if not to:
        raise ConfigurationError(f"no recipients are configured for {subject!r}")
    if not ledger.claim(notice_id, kind="email", status="sending", to=to, subject=subject):
        previous = ledger.read(notice_id) or {}
        state = "already sent" if previous.get("status") == "sent" else "unconfirmed"
        log.event("email not sent again", notice=notice_id, state=state)
        return {"status": state, "message_id": previous.get("message_id"), "to": to}

    try:
        answer = boto3.client("ses").send_email(
            Source=settings.sender,
            Destination={"ToAddresses": to},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
            },
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        ledger.forget(notice_id)
        if code in _THROTTLED:
            raise RemoteUnavailable(f"SES is throttling ({code}); the email will be retried")
        raise ConfigurationError(f"SES refused the email {subject!r}: {code}") from None
    except BotoCoreError as error:
        ledger.write(notice_id, kind="email", status="unconfirmed", to=to, subject=subject)
        raise RemoteUnavailable(
            f"SES did not confirm the email {subject!r} ({type(error).__name__}); "
            "it is not sent again"
        ) from None

    message_id = answer["MessageId"]
    ledger.write(
        notice_id, kind="email", status="sent", to=to, subject=subject, message_id=message_id
    )
    log.event("email sent", notice=notice_id, message_id=message_id, recipients=len(to))
    return {"status": "sent", "message_id": message_id, "to": to}
