"""Hostile XPIs end in InvalidRequest with a readable message, in bounded time and memory,
and create nothing. Every address used is on loopback: an https host serving XPIs, and
names (localhost, [::1]) that reach it but are not hosts the workflow takes XPIs from.
"""

import io
import json
import tracemalloc
import warnings
import zipfile

import pytest
from flask import Flask, Response, redirect

from local_stack.example_xpi import build_xpi
from local_stack.servers import start_wsgi_server
from sysaddons.errors import InvalidRequest
from sysaddons.request import check_xpi_matches
from sysaddons.xpi import inspect_xpi
from tests.conftest import make_request, unique_name
from tests.robustness.corpus import CASE_SECONDS, everything_created, readable, run_all

SIGNATURE = {
    "META-INF/mozilla.rsa": b"x",
    "META-INF/mozilla.sf": b"x",
    "META-INF/manifest.mf": b"x",
}
MAX_XPI_BYTES = 50 * 1024 * 1024  # project.json's default XPI_MAX_BYTES
ENDLESS_BYTES = 120 * 1024 * 1024  # how much the endless host sends before it gives up
MEMORY_LIMIT = 64 * 1024 * 1024  # what checking one XPI in memory may take, at most


def zipped(entries: list[tuple[str, bytes]], level: int = 6) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def manifest(addon_id: str, version: str = "1.0.0", **gecko) -> bytes:
    return json.dumps(
        {
            "manifest_version": 2,
            "name": "hostile",
            "version": version,
            "browser_specific_settings": {"gecko": {"id": addon_id, **gecko}},
        }
    ).encode()


def signed(addon_id: str, *extra: tuple[str, bytes], **gecko) -> bytes:
    return zipped([("manifest.json", manifest(addon_id, **gecko)), *SIGNATURE.items(), *extra])


def zip_bomb(addon_id: str) -> bytes:
    """A small zip that would unpack to 520 MiB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("manifest.json", manifest(addon_id))
        for name, content in SIGNATURE.items():
            archive.writestr(name, content)
        entry = zipfile.ZipInfo("zeros.bin")
        entry.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(entry, "w", force_zip64=True) as zeros:
            chunk = bytes(1024 * 1024)
            for _ in range(520):
                zeros.write(chunk)
    return buffer.getvalue()


def two_manifests(addon_id: str) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate, which is the point
        archive.writestr("manifest.json", manifest(addon_id, version="9.9.9"))
        archive.writestr("manifest.json", manifest(addon_id))  # the one a reader may take
        for name, content in SIGNATURE.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# Each case: the XPI's bytes for an add-on id (or None for a case decided by its address),
# how its address is made, and what the cause must say.
CASES = {
    "not-a-zip": (lambda a: b"%PDF-1.7 certainly not a zip", "s3", "is not a zip file"),
    "empty": (lambda a: b"", "s3", "is empty"),
    "zip-bomb": (zip_bomb, "s3", "would unpack to more than"),
    "dot-dot-entry": (lambda a: signed(a, ("../../evil.js", b"x")), "s3", "unsafe path"),
    "absolute-entry": (lambda a: signed(a, ("/etc/cron.d/evil", b"x")), "s3", "unsafe path"),
    "manifest-names-another-add-on": (
        lambda a: signed("someone-else@mozilla.org"),
        "s3",
        "whose manifest says 'someone-else@mozilla.org'",
    ),
    "manifest-names-another-version": (
        lambda a: zipped([("manifest.json", manifest(a, "2.0.0")), *SIGNATURE.items()]),
        "s3",
        "whose manifest says '2.0.0'",
    ),
    "manifest-id-half-a-megabyte": (lambda a: signed("i" * 500_000), "s3", "'iiii"),
    "manifest-id-with-direction-override": (
        lambda a: signed(a.replace("@", "\u202e@")),
        "s3",
        "\\u202e",
    ),
    "no-signature": (lambda a: zipped([("manifest.json", manifest(a))]), "s3", "is not signed"),
    "manifest-nested-too-deep": (
        lambda a: zipped([("manifest.json", b"[" * 100_000 + b"]" * 100_000), *SIGNATURE.items()]),
        "s3",
        "manifest.json that is not JSON",
    ),
    "two-manifests": (two_manifests, "s3", "holds 'manifest.json' twice"),
    "ten-thousand-and-one-files": (
        lambda a: signed(a, *((f"f{n}", b"") for n in range(10_001))),
        "s3",
        "more than 10000 files",
    ),
    "strict-min-version-not-a-version": (
        lambda a: signed(a, strict_min_version="1" * 100_000),
        "s3",
        "strict_min_version that is not a version",
    ),
    "strict-max-version-below-the-target": (
        lambda a: signed(a, strict_max_version="120.*"),
        "s3",
        "newer than the add-on's strict_max_version 120.*",
    ),
    "oversized-file": (lambda a: bytes(MAX_XPI_BYTES + 1), "s3", "larger than"),
    "host-not-allowed": (lambda a: signed(a), "localhost", "is on https://localhost"),
    "ipv6-loopback-not-allowed": (lambda a: signed(a), "ipv6", "is on https://::1"),
    "redirect-to-a-host-not-allowed": (
        lambda a: signed(a),
        "away",
        "redirects to https://localhost",
    ),
    "endless-redirects": (None, "loop", "more than 3 redirects"),
    "endless-body": (None, "endless", "larger than"),
    "declared-too-big": (None, "declared", "larger than"),
    "missing-on-the-host": (None, "missing", "the host answered 404"),
}


@pytest.fixture(scope="module")
def xpi_host(stack):
    """An https host on loopback: XPIs by name, redirects, an endless body, a huge declaration."""
    files: dict[str, bytes] = {}
    app = Flask(__name__)

    @app.get("/files/<name>.xpi")
    def file(name):
        if name not in files:
            return Response("no such file", status=404)
        return Response(files[name], mimetype="application/x-xpinstall")

    @app.get("/away/<name>.xpi")
    def away(name):
        return redirect(f"https://localhost:{server.port}/files/{name}.xpi")

    @app.get("/loop/<int:hop>.xpi")
    def loop(hop):
        return redirect(f"/loop/{hop + 1}.xpi")

    @app.get("/endless.xpi")
    def endless():
        chunk = bytes(1024 * 1024)
        return Response(
            (chunk for _ in range(ENDLESS_BYTES // len(chunk))),
            mimetype="application/x-xpinstall",
        )

    @app.get("/declared.xpi")
    def declared():
        # A body that stops short of what the header declares: the header must be enough.
        return Response(iter([b"PK"]), headers={"Content-Length": str(10**12)})

    server = start_wsgi_server(app, tls=stack.tls)
    server.files = files
    yield server
    server.stop()


def address(stack, xpi_host, how: str, shortname: str, content: bytes | None) -> str:
    key = f"{shortname}/{shortname}-1.0.0.xpi"
    if how == "s3":
        return stack.upload_signed_xpi(key, content)
    xpi_host.files[shortname] = content or b""
    port = xpi_host.port
    return {
        "localhost": f"https://localhost:{port}/files/{shortname}.xpi",
        "ipv6": f"https://[::1]:{port}/files/{shortname}.xpi",
        "away": f"https://127.0.0.1:{port}/away/{shortname}.xpi",
        "loop": f"https://127.0.0.1:{port}/loop/0.xpi",
        "endless": f"https://127.0.0.1:{port}/endless.xpi",
        "declared": f"https://127.0.0.1:{port}/declared.xpi",
        "missing": f"https://127.0.0.1:{port}/files/nothing-here.xpi",
    }[how]


@pytest.fixture(scope="module")
def contents():
    """Each case's XPI, built once."""
    return {
        case: (make(f"badxpi-{number}@mozilla.org") if make else None)
        for number, (case, (make, _, _)) in enumerate(CASES.items())
    }


@pytest.fixture(scope="module")
def endings(stack, xpi_host, contents):
    requests = {}
    for number, (case, (_, how, _)) in enumerate(CASES.items()):
        shortname = f"badxpi-{number}"
        request = make_request(stack, shortname, upload=False, firefox_versions=["189.0"])
        request["addon"]["xpi_url"] = address(stack, xpi_host, how, shortname, contents[case])
        requests[case] = request
    before = everything_created(stack)
    return before, run_all(stack, requests, unique_name("badxpi"))


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_xpi_ends_in_invalid_request_and_says_why(endings, case):
    ending = endings[1][case]

    assert (ending.described["status"], ending.described.get("error")) == (
        "FAILED",
        "InvalidRequest",
    ), ending.cause
    assert CASES[case][2] in ending.cause
    assert readable(ending.cause), ending.cause[:300]
    assert ending.seconds < CASE_SECONDS
    assert ending.states == [
        "CheckRequestIsAnObject",
        "ValidateRequest",
        "ReportFailure",
        "Stopped",
    ]


def test_hostile_xpis_create_nothing_anywhere(stack, endings):
    before, _ = endings
    assert everything_created(stack) == before


@pytest.mark.parametrize("case", [case for case, (_, how, _) in CASES.items() if how == "s3"])
def test_checking_a_hostile_xpi_takes_bounded_memory(contents, case):
    content = contents[case]
    addon_id = f"badxpi-{list(CASES).index(case)}@mozilla.org"
    request = {"addon": {"id": addon_id, "version": "1.0.0"}, "firefox_versions": ["189.0"]}
    tracemalloc.start()
    try:
        with pytest.raises(InvalidRequest):
            check_xpi_matches(request, inspect_xpi(content, "hostile.xpi"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB"


def test_a_good_xpi_passes_the_same_checks():
    content = build_xpi("good@mozilla.org", "1.0.0")
    request = {
        "addon": {"id": "good@mozilla.org", "version": "1.0.0"},
        "firefox_versions": ["189.0"],
    }
    check_xpi_matches(request, inspect_xpi(content, "good.xpi"))


def test_a_zip_listing_a_hundred_thousand_files_is_refused_before_its_list_is_read():
    crowded = signed("crowded@mozilla.org", *((f"{n}", b"") for n in range(100_000)))
    tracemalloc.start()
    try:
        with pytest.raises(InvalidRequest, match="more than 10000 files"):
            inspect_xpi(crowded, "crowded.xpi")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024, f"{peak / 2**20:.0f} MiB"
