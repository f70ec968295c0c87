"""StageXpi: put the signed XPI in the archive bucket, never over different bytes."""

import base64
import hashlib

import boto3
from botocore.exceptions import ClientError

from sysaddons import log
from sysaddons.errors import InvalidRequest, StagingConflict
from sysaddons.settings import ArchiveSettings, XpiSettings
from sysaddons.step import step
from sysaddons.xpi import fetch_xpi


@step
def handle(event, context):
    request, xpi = event.request, event.checked["xpi"]
    archive = ArchiveSettings.from_environment()
    addon_id = request["addon"]["id"]
    key = f"{archive.prefix}{addon_id}/{xpi['filename']}"
    answer = {
        "bucket": archive.bucket,
        "key": key,
        "url": f"{archive.base_url}{addon_id}/{xpi['filename']}",
        "sha512": xpi["sha512"],
        "size": xpi["size"],
    }

    s3 = boto3.client("s3")
    if _already_staged(s3, archive.bucket, key, xpi["sha512"]):
        log.event("XPI already staged", key=key)
        return {**answer, "uploaded": False}

    content = fetch_xpi(request["addon"]["xpi_url"], XpiSettings.from_environment())
    if hashlib.sha512(content).hexdigest() != xpi["sha512"]:
        raise InvalidRequest(
            f"addon.xpi_url {request['addon']['xpi_url']!r} changed since it was validated"
        )

    try:
        # IfNoneMatch makes S3 refuse the write if another attempt staged the key meanwhile.
        s3.put_object(
            Bucket=archive.bucket,
            Key=key,
            Body=content,
            ContentType="application/x-xpinstall",
            Metadata={"sha512": xpi["sha512"], "addon-id": addon_id},
            ChecksumSHA256=base64.b64encode(hashlib.sha256(content).digest()).decode(),
            IfNoneMatch="*",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] not in (
            "PreconditionFailed",
            "ConditionalRequestConflict",
        ):
            raise
        if _already_staged(s3, archive.bucket, key, xpi["sha512"]):
            return {**answer, "uploaded": False}
        raise
    log.event("XPI staged", key=key, size=xpi["size"])
    return {**answer, "uploaded": True}


def _already_staged(s3, bucket: str, key: str, sha512: str) -> bool:
    """True if the key holds these bytes; StagingConflict if it holds others."""
    try:
        existing = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    staged = existing.get("Metadata", {}).get("sha512")
    if staged is None:
        # Put there by someone else, without our metadata: compare the bytes themselves.
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        staged = hashlib.sha512(body).hexdigest()
    if staged == sha512:
        return True
    raise StagingConflict(
        f"s3://{bucket}/{key} already holds a different file (sha512 "
        f"{(staged or 'unknown')[:16]}...); the archive is never overwritten: "
        "publish a new add-on version instead"
    )
