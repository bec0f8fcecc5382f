"""AI-content labelling: a signed C2PA manifest saying the clip was created by a trained model.

Signs with settings.C2PA_SIGNING_CERT/KEY (PEM files, or PEM text) when set;
otherwise creates, once, a local self-signed ES256 chain in VAR_DIR/c2pa/ and
records ``self_signed`` so the UI can say so.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CREATED = "c2pa.created"
GENERATOR = "companion-rendering"

_lock = threading.Lock()


def _read_pem(value: str) -> bytes:
    return value.encode() if value.lstrip().startswith("-----BEGIN") else Path(value).read_bytes()


def _self_signed_dir() -> Path:
    return Path(settings.VAR_DIR) / "c2pa"


def ensure_self_signed_chain(directory: Path | None = None) -> tuple[bytes, bytes]:
    """(chain PEM: end-entity + CA, key PEM); created on first use and reused afterwards."""
    directory = directory or _self_signed_dir()
    chain_path, key_path = directory / "chain.pem", directory / "signer.key"
    with _lock:
        if chain_path.exists() and key_path.exists():
            return chain_path.read_bytes(), key_path.read_bytes()
        directory.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Companion (self-signed)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Companion local C2PA root"),
        ])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        # C2PA signer certificates: not a CA, digitalSignature, an allowed extended key usage.
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Companion (self-signed)"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Companion clip signer"),
            ]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
        chain_path.write_bytes(chain)
        return chain, key_pem


def _signing_material() -> tuple[bytes, bytes, bool]:
    if settings.C2PA_SIGNING_CERT and settings.C2PA_SIGNING_KEY:
        return _read_pem(settings.C2PA_SIGNING_CERT), _read_pem(settings.C2PA_SIGNING_KEY), False
    chain, key = ensure_self_signed_chain()
    return chain, key, True


def _manifest(title: str) -> dict:
    return {
        "claim_generator_info": [{"name": GENERATOR, "version": "1.0"}],
        "title": title[:200] or "AI-generated clip",
        "format": "video/mp4",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": CREATED,
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": GENERATOR},
                        }
                    ]
                },
            }
        ],
    }


def sign_mp4(source: Path, dest: Path, *, title: str = "", ingredients: Sequence[tuple[str, Path]] = ()) -> dict:
    """Write ``dest``: ``source`` with an embedded, signed C2PA manifest. Returns the job's ``labels``.

    ``ingredients`` (title, path): the signed clips a reel was made from, each recorded as a
    ``componentOf`` ingredient (their own manifests travel with them), so the reel's provenance
    names every clip in it.
    """
    chain, key, self_signed = _signing_material()
    info = c2pa.C2paSignerInfo(alg=c2pa.C2paSigningAlg.ES256, sign_cert=chain, private_key=key, ta_url=None)
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(json.dumps(_manifest(title))) as builder:
        for name, path in ingredients:
            with open(path, "rb") as stream:
                builder.add_ingredient({"title": name[:200], "relationship": "componentOf"}, "video/mp4", stream)
        builder.sign_file(str(source), str(dest), signer)
    return {
        "ai_generated": True,
        "c2pa": True,
        "self_signed": self_signed,
        "action": CREATED,
        "digital_source_type": TRAINED_ALGORITHMIC_MEDIA,
    }


def read_manifest(path: str | Path) -> dict:
    """The active manifest and validation state of a signed file (for tests and the admin)."""
    with c2pa.Reader(str(path)) as reader:
        store = json.loads(reader.json())
        active = store["manifests"][store["active_manifest"]]
        return {
            "manifest": active,
            "validation_state": reader.get_validation_state(),
            "validation_results": reader.get_validation_results(),
            "actions": [
                action
                for assertion in active.get("assertions", [])
                if assertion["label"].startswith("c2pa.actions")
                for action in assertion["data"]["actions"]
            ],
        }
