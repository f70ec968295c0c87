"""The XPI checks on their own: where an XPI may come from and what it must hold."""

import io
import json
import zipfile

import pytest
from flask import Flask, Response, redirect

from local_stack.example_xpi import build_xpi
from local_stack.servers import start_wsgi_server
from sysaddons.errors import InvalidRequest
from sysaddons.request import check_xpi_matches
from sysaddons.settings import XpiSettings
from sysaddons.xpi import fetch_xpi, inspect_xpi

GOOD = build_xpi("good@mozilla.org", "1.0.0")


@pytest.fixture(scope="module")
def xpi_host(stack):
    """An https host on loopback serving XPIs, and redirects to a host that is not allowed."""
    app = Flask(__name__)

    @app.get("/good.xpi")
    def good():
        return Response(GOOD, mimetype="application/x-xpinstall")

    @app.get("/big.xpi")
    def big():
        return Response(b"\0" * 4096, mimetype="application/x-xpinstall")

    @app.get("/hop.xpi")
    def hop():
        return redirect("/good.xpi")

    @app.get("/away.xpi")
    def away():
        port = server.port
        return redirect(f"https://localhost:{port}/good.xpi")

    server = start_wsgi_server(app, tls=stack.tls)
    yield server
    server.stop()


@pytest.fixture
def settings(stack, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stack.tls.ca_path))
    return XpiSettings(
        allowed_hosts=["127.0.0.1"],
        allowed_buckets=["sysaddons-signed"],
        max_bytes=2048,
        timeout_seconds=5,
    )


def test_an_xpi_is_fetched_over_https_from_an_allowed_host(xpi_host, settings):
    assert fetch_xpi(f"{xpi_host.url}/good.xpi", settings) == GOOD


def test_a_redirect_within_the_allowed_host_is_followed(xpi_host, settings):
    assert fetch_xpi(f"{xpi_host.url}/hop.xpi", settings) == GOOD


def test_a_redirect_to_another_host_is_refused(xpi_host, settings):
    with pytest.raises(
        InvalidRequest, match="redirects to https://localhost, which is not an allowed"
    ):
        fetch_xpi(f"{xpi_host.url}/away.xpi", settings)


def test_a_host_that_is_not_allowed_is_refused(xpi_host, settings):
    with pytest.raises(InvalidRequest, match="is on https://localhost, which is not an allowed"):
        fetch_xpi(f"https://localhost:{xpi_host.port}/good.xpi", settings)


def test_an_xpi_over_the_size_limit_is_refused(xpi_host, settings):
    with pytest.raises(InvalidRequest, match="larger than 2048 bytes"):
        fetch_xpi(f"{xpi_host.url}/big.xpi", settings)


def test_a_missing_s3_object_is_an_invalid_request(stack, settings):
    with pytest.raises(InvalidRequest, match="no such file"):
        fetch_xpi("s3://sysaddons-signed/nothing/here.xpi", settings)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


SIGNATURE = {
    "META-INF/mozilla.rsa": b"x",
    "META-INF/mozilla.sf": b"x",
    "META-INF/manifest.mf": b"x",
}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"PK not really a zip", "is not a zip file"),
        (
            _zip({"manifest.json": b"{}", **SIGNATURE, "../evil.js": b"x"}),
            "unsafe path '../evil.js'",
        ),
        (_zip({"manifest.json": b"{}"}), "is not signed"),
        (_zip({"background.js": b"", **SIGNATURE}), "neither manifest.json nor install.rdf"),
        (_zip({"manifest.json": b"[1]", **SIGNATURE}), "manifest.json that is not an object"),
        (_zip({"manifest.json": b"{nope", **SIGNATURE}), "manifest.json that is not JSON"),
        (
            _zip({"manifest.json": json.dumps({"version": "1.0"}).encode(), **SIGNATURE}),
            "no browser_specific_settings.gecko.id",
        ),
        (_zip({"install.rdf": b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", **SIGNATURE}), "with a DTD"),
    ],
)
def test_a_broken_xpi_is_refused_with_a_reason(content, message):
    with pytest.raises(InvalidRequest, match=message):
        inspect_xpi(content, "broken.xpi")


def test_a_zip_bomb_is_refused_without_unpacking_it():
    bomb = _zip({"manifest.json": b"{}", **SIGNATURE, "zeros.bin": b"\0" * (600 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    with pytest.raises(InvalidRequest, match="would unpack to more than"):
        inspect_xpi(bomb, "bomb.xpi")


def test_an_install_rdf_add_on_is_read():
    rdf = b"""<?xml version="1.0"?>
<RDF xmlns="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:em="http://www.mozilla.org/2004/em-rdf#">
  <Description about="urn:mozilla:install-manifest">
    <em:id>legacy@mozilla.org</em:id>
    <em:version>2.1</em:version>
    <em:targetApplication><Description>
      <em:id>{ec8030f7-c20a-464f-9b0e-13a3a9e97384}</em:id>
      <em:minVersion>60.0</em:minVersion><em:maxVersion>61.*</em:maxVersion>
    </Description></em:targetApplication>
  </Description>
</RDF>"""
    facts = inspect_xpi(_zip({"install.rdf": rdf, **SIGNATURE}), "legacy.xpi")
    assert (facts.addon_id, facts.version) == ("legacy@mozilla.org", "2.1")
    assert (facts.strict_min_version, facts.strict_max_version) == ("60.0", "61.*")


def test_a_manifest_for_another_add_on_is_refused():
    facts = inspect_xpi(GOOD, "good.xpi")
    request = {
        "addon": {"id": "other@mozilla.org", "version": "1.0.0"},
        "firefox_versions": ["134.0"],
    }
    with pytest.raises(InvalidRequest, match="addon.id 'other@mozilla.org' does not match"):
        check_xpi_matches(request, facts)
