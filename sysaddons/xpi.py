"""Fetch a signed XPI from an allowed place and read what it claims to be, without unpacking it."""

import hashlib
import io
import json
import re
import struct
import zipfile
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sysaddons import http
from sysaddons.errors import InvalidRequest, RemoteUnavailable, quoted
from sysaddons.settings import XpiSettings

_MAX_REDIRECTS = 3
_MAX_MANIFEST_BYTES = 1024 * 1024
_MAX_UNPACKED_BYTES = 512 * 1024 * 1024
_MAX_ENTRIES = 10000
# zipfile reads the whole central directory into memory before any check can run, so its
# declared size is bounded first: generous for 10000 entries with long names.
_MAX_DIRECTORY_BYTES = 4 * 1024 * 1024
_END_OF_DIRECTORY = b"PK\x05\x06"
_END_OF_DIRECTORY_SIZE = 22
_MAX_VERSION_LENGTH = 64
# A signed add-on carries either the PKCS#7 trio or the COSE pair under META-INF/.
_SIGNATURE_SETS = (
    {"META-INF/mozilla.rsa", "META-INF/mozilla.sf", "META-INF/manifest.mf"},
    {"META-INF/cose.sig", "META-INF/cose.manifest"},
)
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_EM = "{http://www.mozilla.org/2004/em-rdf#}"
_INSTALL_MANIFEST = "urn:mozilla:install-manifest"


@dataclass
class XpiFacts:
    """What the workflow needs to know about an XPI."""

    addon_id: str
    version: str
    strict_min_version: str | None
    strict_max_version: str | None
    sha512: str
    size: int
    filename: str


def fetch_xpi(location: str, settings: XpiSettings) -> bytes:
    """The XPI's bytes from an allowed https host or s3 bucket, refusing anything too big."""
    scheme = urlsplit(location).scheme
    if scheme == "s3":
        return _fetch_from_s3(location, settings)
    if scheme == "https":
        return _fetch_over_https(location, settings)
    raise InvalidRequest(f"addon.xpi_url {location!r}: must start with https:// or s3://")


def _fetch_from_s3(location: str, settings: XpiSettings) -> bytes:
    parts = urlsplit(location)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if bucket not in settings.allowed_buckets:
        raise InvalidRequest(
            f"addon.xpi_url: bucket {bucket!r} is not one the workflow takes XPIs from "
            f"(allowed: {', '.join(settings.allowed_buckets) or 'none'})"
        )
    s3 = boto3.client("s3")
    try:
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        _check_size(size, settings, location)
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read(settings.max_bytes + 1)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NoSuchBucket", "403", "AccessDenied"):
            raise InvalidRequest(f"addon.xpi_url {location!r}: no such file ({code})") from None
        raise RemoteUnavailable(f"S3 could not read {location}: {code}") from None
    except BotoCoreError as error:
        raise RemoteUnavailable(f"S3 could not read {location}: {type(error).__name__}") from None


def _fetch_over_https(location: str, settings: XpiSettings) -> bytes:
    session = http.new_session()
    url = location
    for _ in range(_MAX_REDIRECTS + 1):
        _check_host(url, settings, location)
        response = http.send(
            session,
            "GET",
            url,
            "the XPI host",
            stream=True,
            allow_redirects=False,
            timeout=settings.timeout_seconds,
        )
        if response.is_redirect:
            url = urljoin(url, response.headers.get("Location", ""))
            response.close()
            continue
        if response.status_code != 200:
            raise InvalidRequest(
                f"addon.xpi_url {location!r}: the host answered {response.status_code}"
            )
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit():
            _check_size(int(declared), settings, location)
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):
            body.extend(chunk)
            _check_size(len(body), settings, location)
        return bytes(body)
    raise InvalidRequest(f"addon.xpi_url {location!r}: more than {_MAX_REDIRECTS} redirects")


def _check_host(url: str, settings: XpiSettings, location: str) -> None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or host not in settings.allowed_hosts:
        where = "redirects to" if url != location else "is on"
        raise InvalidRequest(
            f"addon.xpi_url {location!r} {where} {parts.scheme}://{host}, which is not an "
            f"allowed XPI host (allowed: {', '.join(settings.allowed_hosts) or 'none'})"
        )


def _check_size(size: int, settings: XpiSettings, location: str) -> None:
    if size > settings.max_bytes:
        raise InvalidRequest(
            f"addon.xpi_url {location!r}: the file is larger than {settings.max_bytes} bytes"
        )


def inspect_xpi(content: bytes, filename: str) -> XpiFacts:
    """Read the add-on id and version from the XPI's manifest and check it is signed."""
    if not content:
        raise InvalidRequest(f"the XPI {filename} is empty")
    _check_directory_size(content, filename)
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise InvalidRequest(f"the XPI {filename} is not a zip file") from None

    _check_entries(entries, filename)
    names = {entry.filename for entry in entries}
    if not any(signature <= names for signature in _SIGNATURE_SETS):
        raise InvalidRequest(
            f"the XPI {filename} is not signed: META-INF/ lacks mozilla.rsa, mozilla.sf and "
            "manifest.mf (or cose.sig and cose.manifest)"
        )

    if "manifest.json" in names:
        addon_id, version, min_version, max_version = _read_manifest_json(archive, filename)
    elif "install.rdf" in names:
        addon_id, version, min_version, max_version = _read_install_rdf(archive, filename)
    else:
        raise InvalidRequest(f"the XPI {filename} has neither manifest.json nor install.rdf")

    return XpiFacts(
        addon_id=addon_id,
        version=version,
        strict_min_version=min_version,
        strict_max_version=max_version,
        sha512=hashlib.sha512(content).hexdigest(),
        size=len(content),
        filename=filename,
    )


def _check_directory_size(content: bytes, filename: str) -> None:
    """Refuse a zip whose end record declares too many entries or too big a directory."""
    search_from = max(0, len(content) - _END_OF_DIRECTORY_SIZE - 0xFFFF)
    end = content.rfind(_END_OF_DIRECTORY, search_from)
    if end < 0 or len(content) < end + _END_OF_DIRECTORY_SIZE:
        return  # not a zip: zipfile says so below
    entries, directory_bytes = struct.unpack_from("<HI", content, end + 10)
    if entries > _MAX_ENTRIES or directory_bytes > _MAX_DIRECTORY_BYTES:
        raise InvalidRequest(
            f"the XPI {filename} has more than {_MAX_ENTRIES} files or a file list larger "
            f"than {_MAX_DIRECTORY_BYTES // (1024 * 1024)} MiB"
        )


def _check_entries(entries: list[zipfile.ZipInfo], filename: str) -> None:
    if len(entries) > _MAX_ENTRIES:
        raise InvalidRequest(f"the XPI {filename} has more than {_MAX_ENTRIES} files")
    unpacked = 0
    names = set()
    for entry in entries:
        name = entry.filename
        if name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name) or ":" in name:
            raise InvalidRequest(f"the XPI {filename} holds an unsafe path {quoted(name)}")
        if name in names:
            # Two entries by one name: which one Firefox reads is not what was checked.
            raise InvalidRequest(f"the XPI {filename} holds {quoted(name)} twice")
        names.add(name)
        unpacked += entry.file_size
    if unpacked > _MAX_UNPACKED_BYTES:
        raise InvalidRequest(
            f"the XPI {filename} would unpack to more than {_MAX_UNPACKED_BYTES} bytes"
        )


def _read_member(archive: zipfile.ZipFile, name: str, filename: str) -> bytes:
    entry = archive.getinfo(name)
    if entry.file_size > _MAX_MANIFEST_BYTES:
        raise InvalidRequest(f"the XPI {filename} has a {name} larger than 1 MiB")
    try:
        with archive.open(entry) as member:
            return member.read(_MAX_MANIFEST_BYTES + 1)[:_MAX_MANIFEST_BYTES]
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError):
        raise InvalidRequest(f"the XPI {filename} has an unreadable {name}") from None


def _read_manifest_json(archive: zipfile.ZipFile, filename: str):
    raw = _read_member(archive, "manifest.json", filename)
    try:
        manifest = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        # RecursionError: nesting deeper than the parser goes, which no manifest needs.
        raise InvalidRequest(f"the XPI {filename} has a manifest.json that is not JSON") from None
    if not isinstance(manifest, dict):
        raise InvalidRequest(f"the XPI {filename} has a manifest.json that is not an object")

    settings = manifest.get("browser_specific_settings") or manifest.get("applications") or {}
    gecko = settings.get("gecko") if isinstance(settings, dict) else None
    gecko = gecko if isinstance(gecko, dict) else {}
    addon_id, version = gecko.get("id"), manifest.get("version")
    if not isinstance(addon_id, str) or not addon_id:
        raise InvalidRequest(
            f"the XPI {filename} has no browser_specific_settings.gecko.id in manifest.json"
        )
    if not isinstance(version, str) or not version:
        raise InvalidRequest(f"the XPI {filename} has no version in manifest.json")
    return (
        addon_id,
        version,
        _version_text(gecko.get("strict_min_version"), "strict_min_version", filename),
        _version_text(gecko.get("strict_max_version"), "strict_max_version", filename),
    )


def _read_install_rdf(archive: zipfile.ZipFile, filename: str):
    raw = _read_member(archive, "install.rdf", filename)
    if b"<!ENTITY" in raw or b"<!DOCTYPE" in raw:
        raise InvalidRequest(f"the XPI {filename} has an install.rdf with a DTD, refused")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        raise InvalidRequest(f"the XPI {filename} has an install.rdf that is not XML") from None

    # The about attribute is written both bare and with the RDF prefix in the wild.
    manifest = next(
        (
            description
            for description in root.iter(f"{_RDF}Description")
            if _INSTALL_MANIFEST in (description.get("about"), description.get(f"{_RDF}about"))
        ),
        None,
    )
    if manifest is None:
        raise InvalidRequest(f"the XPI {filename} has no install manifest in install.rdf")
    addon_id = _rdf_value(manifest, "id")
    version = _rdf_value(manifest, "version")
    if not addon_id or not version:
        raise InvalidRequest(f"the XPI {filename} lacks em:id or em:version in install.rdf")

    min_version = max_version = None
    for target in manifest.iter(f"{_EM}targetApplication"):
        for description in target.iter(f"{_RDF}Description"):
            if _rdf_value(description, "id") == "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}":
                min_version = _version_text(
                    _rdf_value(description, "minVersion"), "minVersion", filename
                )
                max_version = _version_text(
                    _rdf_value(description, "maxVersion"), "maxVersion", filename
                )
    return addon_id, version, min_version, max_version


def _rdf_value(element, name: str) -> str | None:
    child = element.find(f"{_EM}{name}")
    if child is not None and child.text:
        return child.text.strip()
    return element.get(f"{_EM}{name}")


def _version_text(value, field: str, filename: str) -> str | None:
    """A Firefox version bound from the manifest; refused when too long to be one."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) > _MAX_VERSION_LENGTH:
        raise InvalidRequest(f"the XPI {filename} has a {field} that is not a version")
    return value
