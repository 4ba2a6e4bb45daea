"""Signing keys for C2PA manifests: a local certificate chain, or the owner's own certificate.

``kadr keys init`` (or the first signed output) makes, under ``$KADR_HOME/keys``:

- ``root.pem``: a local root CA (ES256, CA, keyCertSign) that verifiers are told to trust;
- ``chain.pem``: the end-entity certificate (not self-signed: issued by the root; digitalSignature;
  extended key usage emailProtection and documentSigning; an organisation in the subject)
  followed by the root, as C2PA wants the chain;
- ``key.pem``: the end-entity's private key (PKCS#8), readable by the owner only (0600).

An owner brings their own certificate with ``KADR_SIGNING_CERT`` (a PEM chain, end-entity first) and
``KADR_SIGNING_KEY`` (its private key, ES256), and names the roots verifiers should trust with
``KADR_TRUST_ANCHORS`` (PEM; default: the local root, when there is one).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("kadr.provenance")

CERT_ENV = "KADR_SIGNING_CERT"
KEY_ENV = "KADR_SIGNING_KEY"
ANCHORS_ENV = "KADR_TRUST_ANCHORS"
DOCUMENT_SIGNING_EKU = "1.3.6.1.5.5.7.3.36"  # id-kp-documentSigning (RFC 9336), allowed by C2PA
DEFAULT_ORGANISATION = "kadr studio"


@dataclass(frozen=True)
class SigningCredentials:
    """The PEM files a signer needs, and the roots a verifier should trust."""

    chain: Path
    key: Path
    trust_anchors: Path | None


def keys_dir() -> Path:
    """``$KADR_HOME/keys`` (KADR_HOME as in kadr.pipelines.registry, read without importing torch)."""
    return Path(os.environ.get("KADR_HOME", Path.home() / ".cache" / "kadr")).expanduser() / "keys"


def init_keys(directory: Path | None = None, *, organisation: str = DEFAULT_ORGANISATION, force: bool = False) -> SigningCredentials:
    """Make a local root and an end-entity certificate for signing; refuses to overwrite unless ``force``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

    if not organisation.strip():
        raise ValueError("organisation: must not be empty (C2PA wants an organisation in the signer's subject)")
    directory = directory or keys_dir()
    paths = SigningCredentials(chain=directory / "chain.pem", key=directory / "key.pem", trust_anchors=directory / "root.pem")
    if paths.key.exists() and not force:
        raise FileExistsError(f"{paths.key} exists; pass --force to replace the studio's signing keys")
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)

    now = dt.datetime.now(dt.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                           x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} local root")])
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name).public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(x509, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} signer")])
    signer = (
        x509.CertificateBuilder().subject_name(signer_name).issuer_name(root_name).public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(x509, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, ObjectIdentifier(DOCUMENT_SIGNING_EKU)]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write_private(directory / "root.pem", root.public_bytes(pem))
    _write_private(paths.chain, signer.public_bytes(pem) + root.public_bytes(pem))
    _write_private(paths.key, signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    # The root's key signs nothing after this: it is not kept, so no one can issue more signers from it.
    return paths


def _key_usage(x509: object, *, cert_sign: bool) -> object:
    return x509.KeyUsage(  # type: ignore[attr-defined]
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def _write_private(path: Path, data: bytes) -> None:
    """Write with mode 0600 from the start (no moment where another user could read it)."""
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    os.chmod(path, 0o600)


def signing_credentials(*, create: bool = True) -> SigningCredentials | None:
    """The owner's certificate (env vars), else the local chain, made on first use when ``create``."""
    cert, key = os.environ.get(CERT_ENV), os.environ.get(KEY_ENV)
    anchors = os.environ.get(ANCHORS_ENV)
    if cert or key:
        if not (cert and key):
            raise ValueError(f"{CERT_ENV} and {KEY_ENV} go together: set both (a PEM chain and its private key) or neither")
        for name, value in ((CERT_ENV, cert), (KEY_ENV, key)):
            if not Path(value).is_file():
                raise ValueError(f"{name}: {value} is not a file")
        return SigningCredentials(Path(cert), Path(key), Path(anchors) if anchors else None)
    directory = keys_dir()
    local = SigningCredentials(directory / "chain.pem", directory / "key.pem", directory / "root.pem")
    if local.key.is_file() and local.chain.is_file():
        return SigningCredentials(local.chain, local.key, Path(anchors) if anchors else local.trust_anchors)
    if not create:
        return None
    made = _init_once(directory)
    if made is None:  # another worker made them while this one waited
        return signing_credentials(create=False)
    log.warning("provenance: no signing keys yet; made a local certificate chain in %s (`kadr keys init` makes new ones; "
                "%s / %s point kadr at your own)", directory, CERT_ENV, KEY_ENV)
    return SigningCredentials(made.chain, made.key, Path(anchors) if anchors else made.trust_anchors)


def _init_once(directory: Path) -> SigningCredentials | None:
    """Make the local chain under a lock (workers start together); None if someone else made it."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (directory / "key.pem").is_file() and (directory / "chain.pem").is_file():
            return None
        return init_keys(directory, force=True)


def trust_anchors() -> Path | None:
    """The roots a verifier trusts: ``KADR_TRUST_ANCHORS``, else the local root if there is one."""
    anchors = os.environ.get(ANCHORS_ENV)
    if anchors:
        return Path(anchors)
    root = keys_dir() / "root.pem"
    return root if root.is_file() else None
