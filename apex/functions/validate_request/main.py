"""ValidateRequest: check the request and its XPI before anything is created anywhere."""

from sysaddons import log
from sysaddons.inflight import hold
from sysaddons.request import (
    bug_alias,
    check_sense,
    check_shape,
    check_xpi_matches,
    release_name,
    shortname,
    xpi_filename,
)
from sysaddons.settings import XpiSettings, default_signoff_timeout_seconds
from sysaddons.step import step
from sysaddons.xpi import fetch_xpi, inspect_xpi


@step
def handle(event, context):
    request = event.request
    check_shape(request)
    check_sense(request)

    addon = request["addon"]
    content = fetch_xpi(addon["xpi_url"], XpiSettings.from_environment())
    facts = inspect_xpi(content, xpi_filename(request))
    check_xpi_matches(request, facts)
    hold(addon["id"], addon["version"], event.execution)
    log.event(
        "request is valid", version=addon["version"], sha512=facts.sha512[:16], size=facts.size
    )

    return {
        "shortname": shortname(request),
        "bug_alias": bug_alias(request),
        "release_name": release_name(request),
        "xpi": {
            "filename": facts.filename,
            "sha512": facts.sha512,
            "size": facts.size,
            "strict_min_version": facts.strict_min_version,
            "strict_max_version": facts.strict_max_version,
        },
        # JSON has one number type: 3600.0 passes the schema as an integer, but the
        # definition's TimeoutSecondsPath takes only a whole number.
        "signoff_timeout_seconds": int(
            request.get("signoff_timeout_seconds", default_signoff_timeout_seconds())
        ),
    }
