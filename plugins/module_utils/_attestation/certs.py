# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 helpers: bounded loading, signature checks, chain building to pinned anchors with validity dates.

Public API:

* ``load_der(der, what) -> Certificate``: DER cut at its exact length, only zero padding may follow.
* ``load_pem_chain(text, what, max_certs=MAX_CERTS_PER_INPUT) -> [Certificate]``: linear PEM scan (der.split_pem).
* ``load_any(value, what, max_certs=...) -> [Certificate]``: PEM text, base64 DER, DER bytes or a Certificate.
* ``build_chain(leaf, intermediates, anchors, check_time=True, now=None, max_depth=3, check=None) -> [leaf..anchor]``:
  bounded path search (name match, then signature; CA intermediates only; at most MAX_SIGNATURE_CHECKS
  signature checks); every certificate on the path valid at ``now`` (None = current time, datetime or epoch).
* ``check_validity(cert, now=None, check=None)``, ``validity(cert) -> (start, end)``, ``to_datetime(now)``.
* ``verify_signed_by(cert, issuer_key)``, ``verify_x509_signature(obj, tbs, issuer_key, what)`` (certificates, CRLs).
* ``public_key_der(key)``, ``cert_public_key(cert, check=None)``, ``fingerprint(cert)``, ``is_ca(cert)``.
All failures are ParseError (malformed input) or VerificationError (does not verify), never other types.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import binascii
import datetime
import warnings

from .der import der_cut, split_pem
from .errors import ParseError, VerificationError
from .limits import (MAX_AK_CERT_BLOB, MAX_ANCHORS, MAX_CERT_DER, MAX_CERTS_PER_INPUT, MAX_CHAIN_LENGTH, MAX_PEM_TEXT,
                     MAX_SIGNATURE_CHECKS)
from .util import b64decode

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


def _need_crypto():
    if not HAS_CRYPTOGRAPHY:
        raise ImportError("the cryptography Python package is required for attestation verification")


def load_der(der, what="certificate"):
    """Load one DER certificate, cut at its exact DER length; only zero padding may follow (vTPM NV blobs)."""
    _need_crypto()
    der = der_cut(der, what, max_size=max(MAX_CERT_DER, MAX_AK_CERT_BLOB))
    if len(der) > MAX_CERT_DER:
        raise ParseError("%s is too large (%d bytes, limit %d)" % (what, len(der), MAX_CERT_DER))
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
            validity(cert)
    except Exception as exc:  # pylint: disable=broad-except
        # cryptography signals malformed input with many types (ValueError, InvalidVersion, DuplicateExtension,
        # UnsupportedAlgorithm, ...): every one of them means "not a certificate we can verify".
        raise ParseError("%s: not a valid X.509 certificate (%s: %s)" % (what, type(exc).__name__, exc))
    return cert


def load_pem_chain(text, what="certificate chain", max_certs=MAX_CERTS_PER_INPUT):
    """Every certificate of a PEM string, at most ``max_certs`` (linear scan, zero padding tolerated)."""
    bodies = split_pem(text, "CERTIFICATE", what, max_blocks=max_certs)
    return [load_der(b64decode(body, what, max_size=MAX_PEM_TEXT), what) for body in bodies]


def load_any(value, what="certificate", max_certs=MAX_CERTS_PER_INPUT):
    """PEM text (one or more certs), base64 DER, or raw DER bytes -> list of certificates (bounded sizes)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) > MAX_PEM_TEXT:
            raise ParseError("%s is too large (%d bytes, limit %d)" % (what, len(raw), MAX_PEM_TEXT))
        if b"-----BEGIN" in raw:
            return load_pem_chain(raw.decode("ascii", "replace"), what, max_certs)
        return [load_der(raw, what)]
    if isinstance(value, str):
        if len(value) > MAX_PEM_TEXT:
            raise ParseError("%s is too large (%d characters, limit %d)" % (what, len(value), MAX_PEM_TEXT))
        if "-----BEGIN" in value:
            return load_pem_chain(value, what, max_certs)
        return [load_der(b64decode(value, what), what)]
    if HAS_CRYPTOGRAPHY and isinstance(value, x509.Certificate):
        return [value]
    raise ParseError("%s: unsupported certificate encoding (%s)" % (what, type(value).__name__))


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
    verify_x509_signature(cert, cert.tbs_certificate_bytes, issuer_key, "signature of '%s'" % cert.subject.rfc4514_string())


def verify_x509_signature(obj, tbs, issuer_key, what):
    """Signature of an X.509 certificate or CRL ``obj`` over ``tbs`` by ``issuer_key``; VerificationError if bad."""
    _need_crypto()
    hash_alg = obj.signature_hash_algorithm
    if hash_alg is None:
        raise VerificationError("%s: unsupported signature algorithm %s" % (what, obj.signature_algorithm_oid.dotted_string))
    try:
        if isinstance(issuer_key, rsa.RSAPublicKey):
            if obj.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10":
                params = getattr(obj, "signature_algorithm_parameters", None)
                if not isinstance(params, padding.PSS):
                    params = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
                issuer_key.verify(obj.signature, tbs, params, hash_alg)
            else:
                issuer_key.verify(obj.signature, tbs, padding.PKCS1v15(), hash_alg)
        elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
            issuer_key.verify(obj.signature, tbs, ec.ECDSA(hash_alg))
        else:
            raise VerificationError("%s: unsupported issuer key type" % what)
    except InvalidSignature:
        raise VerificationError("%s does not verify with the key of its issuer" % what)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise VerificationError("%s cannot be checked: %s" % (what, exc))


def validity(cert):
    """(not_before, not_after) as aware UTC datetimes."""
    start = getattr(cert, "not_valid_before_utc", None)
    end = getattr(cert, "not_valid_after_utc", None)
    if start is None:  # cryptography < 42
        start = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
        end = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return start, end


def to_datetime(now=None):
    """``now`` (None = the current time, an aware/naive-UTC datetime, or epoch seconds) -> aware UTC datetime."""
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if isinstance(now, datetime.datetime):
        return now if now.tzinfo is not None else now.replace(tzinfo=datetime.timezone.utc)
    if isinstance(now, (int, float)) and not isinstance(now, bool):
        try:
            return datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            pass
    raise ParseError("now must be a datetime or epoch seconds, not %r" % (now,))


def check_validity(cert, now=None, check=None):
    """Raise VerificationError when ``now`` is outside the certificate's notBefore..notAfter."""
    now = to_datetime(now)
    start, end = validity(cert)
    if now < start or now > end:
        raise VerificationError("certificate '%s' is %s at %s (valid %s .. %s)" % (
            cert.subject.rfc4514_string(), "expired" if now > end else "not yet valid", now.isoformat(),
            start.isoformat(), end.isoformat()), check=check)


def is_ca(cert):
    """True when the certificate carries basicConstraints cA=TRUE."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


class _PathSearch(object):
    """Depth-first search leaf -> intermediates -> anchor with hard limits.

    Names must chain (issuer == subject) before a signature is checked; a key already on the path, a
    self-issued intermediate or a repeated certificate is never a candidate; every signature check spends
    from one budget, and a (child, issuer) pair is checked at most once. So the work is bounded by
    MAX_SIGNATURE_CHECKS whatever the input (61 self-issued certificates with one name and key fail fast).
    """

    def __init__(self, anchors, pool, max_depth, check):
        self.anchors = anchors
        self.pool = pool
        self.max_depth = max_depth
        self.check = check
        self.budget = MAX_SIGNATURE_CHECKS
        self.tried = {}
        self.last_error = None

    def signed_by(self, cert, issuer):
        key = (id(cert), id(issuer))
        if key not in self.tried:
            if self.budget <= 0:
                raise VerificationError("certificate path search exceeded %d signature checks" % MAX_SIGNATURE_CHECKS,
                                        check=self.check)
            self.budget -= 1
            try:
                verify_signed_by(cert, cert_public_key(issuer, check=self.check))
                self.tried[key] = True
            except VerificationError as exc:
                self.last_error = exc
                self.tried[key] = False
        return self.tried[key]

    def walk(self, cert, path, keys):
        for anchor in self.anchors:
            if anchor.subject == cert.issuer and self.signed_by(cert, anchor):
                return path + [anchor]
        if len(path) > self.max_depth:
            return None
        for inter, key_der in self.pool:
            if inter.subject != cert.issuer or key_der in keys:
                continue
            if not self.signed_by(cert, inter):
                continue
            found = self.walk(inter, path + [inter], keys | {key_der})
            if found:
                return found
        return None


def build_chain(leaf, intermediates, anchors, check_time=True, now=None, max_depth=MAX_CHAIN_LENGTH - 2, check=None):
    """Find a path leaf -> ... -> one of ``anchors`` (certificates trusted by pinning or explicit configuration).

    Every link is a signature check after a name match; intermediates must be CA certificates. With
    ``check_time`` (default) every certificate on the path, the anchor included, must be valid at ``now``
    (None = current time; datetime or epoch seconds). ``max_depth``: intermediates allowed between leaf and
    anchor. At most MAX_CERTS_PER_INPUT intermediates and MAX_ANCHORS anchors are accepted. Returns
    [leaf, ..., anchor]; raises VerificationError (``check``) when no valid path exists.
    """
    _need_crypto()
    anchors = list(anchors)
    intermediates = list(intermediates)
    if not anchors:
        raise VerificationError("no trust anchor configured", check=check)
    if len(anchors) > MAX_ANCHORS:
        raise VerificationError("too many trust anchors (%d, limit %d)" % (len(anchors), MAX_ANCHORS), check=check)
    if len(intermediates) > MAX_CERTS_PER_INPUT:
        raise VerificationError("too many intermediate certificates (%d, limit %d)" % (
            len(intermediates), MAX_CERTS_PER_INPUT), check=check)
    seen = set(_der(a) for a in anchors)
    seen.add(_der(leaf))
    pool = []
    for cert in intermediates:
        der = _der(cert)
        # duplicates, copies of an anchor and self-issued certificates are never useful links
        if der in seen or cert.subject == cert.issuer or not is_ca(cert):
            continue
        seen.add(der)
        try:
            pool.append((cert, public_key_der(cert_public_key(cert))))
        except VerificationError:
            continue  # an intermediate with an unusable key cannot sign anything
    if is_ca(leaf) and not any(_der(leaf) == _der(a) for a in anchors):
        raise VerificationError("'%s' is a CA certificate, not an end-entity certificate" % leaf.subject.rfc4514_string(),
                                check=check)
    search = _PathSearch(anchors, pool, max_depth, check)
    chain = search.walk(leaf, [leaf], set([public_key_der(cert_public_key(leaf, check=check))]))
    if chain is None:
        raise VerificationError("'%s' does not chain to a trusted root%s" % (
            leaf.subject.rfc4514_string(), (" (%s)" % search.last_error) if search.last_error else ""), check=check)
    check_path_constraints(chain, check=check)
    if check_time:
        for cert in chain:
            check_validity(cert, now, check=check)
    return chain


# Critical extensions this verifier understands (RFC 5280 4.2: a certificate with any other critical extension
# must be rejected). Real AMD, Intel and Azure vTPM certificates mark only keyUsage and basicConstraints critical.
_KNOWN_CRITICAL = frozenset(["2.5.29.15", "2.5.29.19", "2.5.29.37", "2.5.29.17", "2.5.29.32"])


def check_path_constraints(chain, check=None):
    """RFC 5280 essentials on [leaf, ..., anchor]: no unknown critical extension, issuers may sign certificates
    (keyUsage keyCertSign when present) and pathLenConstraint holds."""
    for cert in chain:
        for ext in cert.extensions:
            if ext.critical and ext.oid.dotted_string not in _KNOWN_CRITICAL:
                raise VerificationError("'%s' has an unsupported critical extension %s" % (
                    cert.subject.rfc4514_string(), ext.oid.dotted_string), check=check)
    for depth, issuer in enumerate(chain[1:]):
        try:
            usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
            if not usage.key_cert_sign:
                raise VerificationError("'%s' may not sign certificates (keyUsage)" % issuer.subject.rfc4514_string(),
                                        check=check)
        except x509.ExtensionNotFound:
            pass
        try:
            limit = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
        except x509.ExtensionNotFound:
            limit = None
        # ``depth`` = intermediates between ``issuer`` and the leaf
        if limit is not None and depth > limit:
            raise VerificationError("'%s' allows %d intermediate certificate(s) below it, the path has %d" % (
                issuer.subject.rfc4514_string(), limit, depth), check=check)


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
