"""Build a small, signed-looking WebExtension XPI for the local stack and the tests.

The signature files are a real PKCS#7 signature over a real JAR manifest, made with a
throwaway key: the workflow checks that an XPI carries them, while the signing with
Mozilla's system add-on key happens in Mozilla's signing service, outside this project.
"""

import base64
import datetime
import hashlib
import io
import json
import zipfile
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

_FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def build_xpi(
    addon_id: str,
    version: str,
    name: str = "Example Fix",
    strict_min_version: str | None = "128.0",
    signed: bool = True,
    manifest_overrides: dict | None = None,
) -> bytes:
    """The XPI's bytes (the signature differs from one build to the next)."""
    gecko = {"id": addon_id}
    if strict_min_version:
        gecko["strict_min_version"] = strict_min_version
    manifest = {
        "manifest_version": 2,
        "name": name,
        "description": "A system add-on built by the local stack to exercise the workflow.",
        "version": version,
        "browser_specific_settings": {"gecko": gecko},
        "background": {"scripts": ["background.js"]},
        "hidden": True,
    }
    manifest.update(manifest_overrides or {})
    files = {
        "manifest.json": json.dumps(manifest, indent=2).encode(),
        "background.js": f'console.log("{name} {version} loaded");\n'.encode(),
    }
    if signed:
        files.update(_signature_files(files))
    return _zip(files)


def _signature_files(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest_mf = "Manifest-Version: 1.0\n\n" + "".join(
        f"Name: {path}\nDigest-Algorithms: SHA256\nSHA256-Digest: {_digest(content)}\n\n"
        for path, content in sorted(files.items())
    )
    manifest_bytes = manifest_mf.encode()
    signature_sf = (
        "Signature-Version: 1.0\n"
        "Digest-Algorithms: SHA256\n"
        f"SHA256-Digest-Manifest: {_digest(manifest_bytes)}\n"
    ).encode()
    key, certificate = _throwaway_signer()
    signature = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(signature_sf)
        .add_signer(certificate, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])
    )
    return {
        "META-INF/manifest.mf": manifest_bytes,
        "META-INF/mozilla.sf": signature_sf,
        "META-INF/mozilla.rsa": signature,
    }


def _digest(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


@lru_cache(maxsize=1)
def _throwaway_signer():
    key = ec.derive_private_key(20261204, ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local system add-on signer")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            info = zipfile.ZipInfo(path, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
