# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate revocation from CRLs the caller supplies (AMD KDS, Intel PCS, any X.509 CRL).

The verifier never fetches anything: CRLs come from the caller (the role fetches them on the controller, or the
user passes files). Without CRLs, revocation is NOT checked, and the result says so ("offline" mode).

Public API:

* ``load_crl(value, what="crl") -> x509.CertificateRevocationList``: DER bytes, PEM text, hex text (Intel PCS
  collateral) or base64 text; size limited (limits.MAX_CRL). ParseError when malformed.
* ``load_crls(values, what="crls") -> [CRL]``: at most limits.MAX_CRLS.
* ``check_revocation(chain, crls, now=None, leaf_has_crl=True, check="revocation") -> dict``:
  ``chain`` is [leaf, ..., anchor] from certs.build_chain. For each certificate below the anchor, the CRLs
  issued by its issuer (by name) are used: each must be signed by that issuer and current at ``now``
  (thisUpdate <= now <= nextUpdate), and must not list the certificate's serial. Raises VerificationError
  (``check``) for a revoked certificate, a CRL with a bad signature or a stale CRL. Returns
  ``{"checked": bool, "reason": str, "covered": [subjects], "not_covered": [subjects]}``; ``checked`` is True only
  when every certificate that must have a CRL was covered. ``leaf_has_crl=False`` exempts the leaf (AMD does
  not publish CRLs for VCEKs: the KDS CRL is the ARK's list of revoked ASKs).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

from .certs import HAS_CRYPTOGRAPHY, _need_crypto, cert_public_key, to_datetime, verify_x509_signature
from .der import der_cut, split_pem
from .errors import ParseError, VerificationError
from .limits import MAX_CRL, MAX_CRLS
from .util import b64decode

if HAS_CRYPTOGRAPHY:
    from cryptography import x509

OFFLINE = "revocation not checked: no CRL supplied (offline mode)"
_HEX = frozenset("0123456789abcdefABCDEF")


def load_crl(value, what="crl"):
    """One CRL from DER bytes, PEM, hex or base64 text."""
    _need_crypto()
    if HAS_CRYPTOGRAPHY and isinstance(value, x509.CertificateRevocationList):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
        if len(value) > 2 * MAX_CRL:
            raise ParseError("%s is too large (%d bytes, limit %d)" % (what, len(value), 2 * MAX_CRL))
        text = value.strip()
        # DER begins with 0x30 ('0') too: it is text only when every byte is printable ASCII
        if text and all(0x20 <= b < 0x7F or b in (9, 10, 13) for b in text):
            value = text.decode("ascii")
    if isinstance(value, bytes):
        der = value
    elif isinstance(value, str):
        if len(value) > 2 * MAX_CRL:
            raise ParseError("%s is too large (%d characters, limit %d)" % (what, len(value), 2 * MAX_CRL))
        text = value.strip()
        if "-----BEGIN" in text:
            der = b64decode(split_pem(text, "X509 CRL", what, max_blocks=1, max_size=2 * MAX_CRL)[0], what)
        elif text and len(text) % 2 == 0 and set(text) <= _HEX:
            der = bytes.fromhex(text)
        else:
            der = b64decode(text, what)
    else:
        raise ParseError("%s: unsupported CRL encoding (%s)" % (what, type(value).__name__))
    der = der_cut(der, what, max_size=MAX_CRL)
    try:
        crl = x509.load_der_x509_crl(der)
        crl.issuer.rfc4514_string()
        crl.signature_hash_algorithm  # pylint: disable=pointless-statement
        crl.extensions  # pylint: disable=pointless-statement
    except Exception as exc:  # pylint: disable=broad-except
        raise ParseError("%s: not a valid X.509 CRL (%s: %s)" % (what, type(exc).__name__, exc))
    return crl


def load_crls(values, what="crls"):
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        values = [values]
    if len(values) > MAX_CRLS:
        raise ParseError("%s: too many CRLs (%d, limit %d)" % (what, len(values), MAX_CRLS))
    return [load_crl(v, "%s[%d]" % (what, i)) for i, v in enumerate(values)]


def _crl_times(crl):
    last = getattr(crl, "last_update_utc", None)
    if last is None:  # cryptography < 42
        last = crl.last_update
        nxt = crl.next_update
        tz = to_datetime(0).tzinfo
        return last.replace(tzinfo=tz), (nxt.replace(tzinfo=tz) if nxt is not None else None)
    return last, crl.next_update_utc


def _check_one(crl, cert, issuer, now, check):
    who = issuer.subject.rfc4514_string()
    verify_x509_signature(crl, crl.tbs_certlist_bytes, cert_public_key(issuer, check=check), "CRL of '%s'" % who)
    last, nxt = _crl_times(crl)
    if now < last or nxt is None or now > nxt:
        raise VerificationError("CRL of '%s' is not current at %s (thisUpdate %s, nextUpdate %s): fetch a fresh one" % (
            who, now.isoformat(), last.isoformat(), nxt.isoformat() if nxt else "absent"), check=check)
    if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        raise VerificationError("certificate '%s' (serial %x) is revoked by '%s'" % (
            cert.subject.rfc4514_string(), cert.serial_number, who), check=check)


def check_revocation(chain, crls, now=None, leaf_has_crl=True, check="revocation"):
    """See the module docstring."""
    try:
        crls = load_crls(crls)
    except ParseError as exc:
        raise VerificationError(str(exc), check=check)
    if not crls:
        return {"checked": False, "reason": OFFLINE, "covered": [], "not_covered": []}
    now = to_datetime(now)
    covered, not_covered = [], []
    for i, cert in enumerate(chain[:-1]):
        issuer = chain[i + 1]
        mine = [c for c in crls if c.issuer == issuer.subject]
        for crl in mine:
            try:
                _check_one(crl, cert, issuer, now, check)
            except VerificationError as exc:
                exc.check = check
                raise
        name = cert.subject.rfc4514_string()
        if mine:
            covered.append(name)
        elif i > 0 or leaf_has_crl:
            not_covered.append(name)
    if not_covered:
        reason = "revocation not checked for %s: no CRL from its issuer was supplied" % "; ".join(not_covered)
    else:
        reason = "not revoked per CRLs of %s" % "; ".join(
            chain[i + 1].subject.rfc4514_string() for i in range(len(chain) - 1)
            if chain[i].subject.rfc4514_string() in covered)
    return {"checked": not not_covered, "reason": reason, "covered": covered, "not_covered": not_covered}
