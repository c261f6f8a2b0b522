"""X.509 path checks shared by the AMD and Intel chains (RFC 5280 subset the vendors' fixed chains need).

A path is given leaf first and checked link by link: issuer name equals the next subject, the signature verifies
with the next certificate's key (RSA PKCS#1 v1.5 / RSA-PSS / ECDSA as the certificate states), every issuer is a CA
(basicConstraints cA=TRUE), every certificate is inside its validity period at ``now``, and the last certificate is
self-signed and pinned by the SHA-256 of its DER. No path search: vendors ship fixed, short chains, so the work is
linear in a small bounded count."""
from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from .errors import EvidenceError


def fingerprint(cert) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def common_name(name) -> str:
    attrs = name.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def _is_ca(cert) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_validity(cert, now: datetime.datetime, check: str, label: str):
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise EvidenceError(check, "%s certificate is not valid at %s (valid %s .. %s)" % (
            label, now.isoformat(), cert.not_valid_before_utc.isoformat(), cert.not_valid_after_utc.isoformat()))


def check_issued_by(cert, issuer, check: str, label: str):
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise EvidenceError(check, "%s certificate is not signed by %r (%s)" % (
            label, common_name(issuer.subject), exc or "bad signature")) from None


def verify_path(path, anchors: dict, now: datetime.datetime, check: str, labels=None):
    """``path`` leaf..root; ``anchors`` maps a root's SHA-256 (hex) to anything. Returns the anchor's value."""
    labels = labels or ["certificate %d" % i for i in range(len(path))]
    root = path[-1]
    anchor = anchors.get(fingerprint(root))
    if anchor is None:
        raise EvidenceError(check, "%s %r is not a trusted root" % (labels[-1], common_name(root.subject)))
    for i, cert in enumerate(path):
        check_validity(cert, now, check, labels[i])
        issuer = path[i + 1] if i + 1 < len(path) else root
        if i + 1 < len(path) and not _is_ca(issuer):
            raise EvidenceError(check, "%s is not a CA certificate" % labels[i + 1])
        check_issued_by(cert, issuer, check, labels[i])
    return anchor


def utcnow(clock) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(clock(), tz=datetime.timezone.utc)
