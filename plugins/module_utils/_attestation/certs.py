# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 helpers: tolerant loading, signature checks, chain building to pinned anchors."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import binascii
import datetime
import re
import warnings

from .errors import ParseError, VerificationError
from .util import b64decode, der_length

# AMD's ARK/ASK/VCEK encode the RSA-PSS trailer field explicitly; cryptography < 43 refuses to parse them.
CRYPTOGRAPHY_MIN_VERSION = (43, 0)

try:
    import cryptography
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by sanity import test
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc


def cryptography_version():
    """(major, minor) of the installed cryptography package, (0, 0) when absent."""
    if not HAS_CRYPTOGRAPHY:
        return (0, 0)
    try:
        return tuple(int(x) for x in cryptography.__version__.split(".")[:2])
    except (ValueError, AttributeError):
        return (0, 0)


def cryptography_recent_enough():
    return cryptography_version() >= CRYPTOGRAPHY_MIN_VERSION


_PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def _need_crypto():
    if not HAS_CRYPTOGRAPHY:
        raise ImportError("the cryptography Python package is required for attestation verification")


def load_der(der, what="certificate"):
    """Load one DER certificate; trailing zero padding (vTPM NV blobs) is cut off."""
    _need_crypto()
    der = bytes(der)
    try:
        der = der[:der_length(der)]
    except ParseError as exc:
        raise ParseError("%s: %s" % (what, exc))
    try:
        with warnings.catch_warnings():
            # AMD VCEKs carry serial number 0; cryptography warns about it.
            warnings.simplefilter("ignore")
            cert = x509.load_der_x509_certificate(der)
            # cryptography parses names and extensions lazily: force it here, so a malformed certificate is a
            # ParseError now instead of an unexpected exception deep inside a chain check.
            cert.subject.rfc4514_string()
            cert.issuer.rfc4514_string()
            cert.extensions  # pylint: disable=pointless-statement
            cert.signature_hash_algorithm  # pylint: disable=pointless-statement
    except Exception as exc:  # pylint: disable=broad-except
        # cryptography signals malformed input with many types (ValueError, InvalidVersion, DuplicateExtension,
        # UnsupportedAlgorithm, ...): every one of them means "not a certificate we can verify".
        raise ParseError("%s: not a valid X.509 certificate (%s: %s)" % (what, type(exc).__name__, exc))
    return cert


def load_pem_chain(text, what="certificate chain"):
    """Load every certificate of a PEM string (padding inside a PEM body is tolerated)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("ascii", "replace")
    if not isinstance(text, str):
        raise ParseError("%s must be a PEM string" % what)
    bodies = _PEM_RE.findall(text)
    if not bodies:
        raise ParseError("%s: no PEM certificate found" % what)
    return [load_der(b64decode(body, what), what) for body in bodies]


def load_any(value, what="certificate"):
    """PEM text (one or more certs), base64 DER, or raw DER bytes -> list of certificates."""
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
        if b"-----BEGIN" in raw:
            return load_pem_chain(raw.decode("ascii", "replace"), what)
        return [load_der(raw, what)]
    if isinstance(value, str):
        if "-----BEGIN" in value:
            return load_pem_chain(value, what)
        return [load_der(b64decode(value, what), what)]
    if HAS_CRYPTOGRAPHY and isinstance(value, x509.Certificate):
        return [value]
    raise ParseError("%s: unsupported certificate encoding" % what)


def fingerprint(cert):
    """SHA-256 of the certificate's DER encoding, lower-case hex."""
    return binascii.hexlify(cert.fingerprint(hashes.SHA256())).decode("ascii")


def to_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def public_key_der(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_public_key(cert, check=None):
    """The certificate's public key; a malformed or unsupported key is a VerificationError, not a crash."""
    _need_crypto()
    try:
        return cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise VerificationError("public key of '%s' cannot be used: %s" % (cert.subject.rfc4514_string(), exc),
                                check=check)


def verify_signed_by(cert, issuer_key):
    """Check ``cert``'s signature with ``issuer_key`` (RSA PKCS#1 v1.5 / RSA-PSS / ECDSA)."""
    _need_crypto()
    hash_alg = cert.signature_hash_algorithm
    if hash_alg is None:
        raise VerificationError("unsupported certificate signature algorithm %s" % cert.signature_algorithm_oid.dotted_string)
    try:
        if isinstance(issuer_key, rsa.RSAPublicKey):
            params = getattr(cert, "signature_algorithm_parameters", None)
            if cert.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10":
                if not isinstance(params, padding.PSS):
                    params = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
                issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, params, hash_alg)
            else:
                issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_alg)
        elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
            issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hash_alg))
        else:
            raise VerificationError("unsupported issuer key type")
    except InvalidSignature:
        raise VerificationError("signature of '%s' does not verify with the key of its issuer" % cert.subject.rfc4514_string())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise VerificationError("signature of '%s' cannot be checked: %s" % (cert.subject.rfc4514_string(), exc))


def _validity(cert):
    start = getattr(cert, "not_valid_before_utc", None)
    end = getattr(cert, "not_valid_after_utc", None)
    if start is None:  # cryptography < 42
        start = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
        end = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return start, end


def check_validity(cert, now=None):
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    elif isinstance(now, (int, float)):
        now = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    start, end = _validity(cert)
    if now < start or now > end:
        raise VerificationError("certificate '%s' is not valid at %s (valid %s .. %s)" % (
            cert.subject.rfc4514_string(), now.isoformat(), start.isoformat(), end.isoformat()))


def build_chain(leaf, intermediates, anchors, check_time=False, now=None, max_depth=6):
    """Find a path leaf -> ... -> one of ``anchors`` (certificates trusted by pinning).

    Every link is a cryptographic signature check; names are only used to prune.
    Returns the list [leaf, ..., anchor]. Raises VerificationError when no path exists.
    """
    _need_crypto()
    anchors = list(anchors)
    if not anchors:
        raise VerificationError("no trust anchor configured")
    pool = [c for c in intermediates if not any(c == a for a in anchors)]
    last_error = [None]

    def walk(cert, path, depth, by_name):
        # Names only prune the search (by_name pass first); every link is a signature check.
        if check_time:
            check_validity(cert, now)
        for anchor in anchors:
            if (anchor.subject == cert.issuer) != by_name:
                continue
            try:
                verify_signed_by(cert, cert_public_key(anchor))
                return path + [anchor]
            except VerificationError as exc:
                last_error[0] = exc
        if depth >= max_depth:
            return None
        for inter in pool:
            if (inter.subject == cert.issuer) != by_name:
                continue
            if any(inter == p for p in path):
                continue
            try:
                verify_signed_by(cert, cert_public_key(inter))
            except VerificationError as exc:
                last_error[0] = exc
                continue
            found = walk(inter, path + [inter], depth + 1, True) or walk(inter, path + [inter], depth + 1, False)
            if found:
                return found
        return None

    chain = walk(leaf, [leaf], 0, True) or walk(leaf, [leaf], 0, False)
    if chain is None:
        raise VerificationError("'%s' does not chain to a trusted root%s" % (
            leaf.subject.rfc4514_string(), (" (%s)" % last_error[0]) if last_error[0] else ""))
    return chain


def is_self_signed(cert):
    try:
        verify_signed_by(cert, cert_public_key(cert))
        return True
    except VerificationError:
        return False


def named_certs(items, prefix="root"):
    """[(name, cert)] from a list of (name, cert) tuples, certificates or PEM/DER strings."""
    out = []
    for i, item in enumerate(items or []):
        if isinstance(item, tuple) and len(item) == 2:
            out.append(item)
            continue
        for j, cert in enumerate(load_any(item, "%s[%d]" % (prefix, i))):
            out.append(("%s[%d]" % (prefix, i) if j == 0 else "%s[%d.%d]" % (prefix, i, j), cert))
    return out
