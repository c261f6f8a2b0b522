# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TPM 2.0 quote (TPMS_ATTEST) verification and the AK certificate chain (Azure vTPM provenance).

Public API used by the verdict layer:

* ``verify_quote(message, signature, ak_pub_jwk, nonce, pcrs, result=None, required_pcrs=None) -> Attest``:
  RSASSA-PKCS1-v1_5/SHA-256 by the AK (a JWK dict, an RSA public key or an AkCertificate), extraData == nonce,
  a single SHA-256 bank that selects at least AZURE_PCRS (0-7) plus ``required_pcrs``, every supplied PCR value
  exactly 32 bytes, and the recomputed PCR digest. Checks: tpm.quote_signature, tpm.quote_nonce,
  tpm.pcr_selection, tpm.pcr_digest (appended to ``result`` as (name, "pass", reason) tuples).
* ``verify_ak_certificate(ak_cert, vtpm_roots, intermediates=(), extra_roots=None, now=None, crls=None)
  -> AkCertificate``: the AK certificate (NV 0x01C101D0 blob: DER cut at its exact length, zero padding only;
  or PEM / base64, optionally followed by its intermediates) chained to the pinned Azure vTPM roots, or to a root
  given explicitly in ``extra_roots`` (recorded as such), every certificate valid at ``now``, CRLs applied
  when given. Raises VerificationError with check ak_cert.chain.
* ``ak_keys_equal(a, b) -> bool``: the same public key (JWK dict, key object, certificate or AkCertificate).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import hashlib
import hmac
import struct

from .certs import HAS_CRYPTOGRAPHY, build_chain, cert_public_key, load_any, named_certs, public_key_der
from .crl import check_revocation
from .errors import ParseError, VerificationError
from .limits import MAX_AK_CERT_BLOB, MAX_CERTS_PER_INPUT, MAX_TPM_ATTEST, MAX_TPM_SIGNATURE
from .util import b64decode, require

if HAS_CRYPTOGRAPHY:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_QUOTE = 0x8018
TPM_ALG_SHA1 = 0x0004
TPM_ALG_SHA256 = 0x000B
TPM_ALG_SHA384 = 0x000C
TPM_ALG_RSASSA = 0x0014
_HEX = frozenset("0123456789abcdefABCDEF")
_HASHES = {TPM_ALG_SHA1: "sha1", TPM_ALG_SHA256: "sha256", TPM_ALG_SHA384: "sha384"}
PCR_COUNT = 24
# Microsoft's Linux attestation client quotes SHA-256 PCRs 0-7 (firmware, boot manager, secure boot policy):
# a quote must cover at least these, plus whatever the caller's policy reads (required_pcrs).
AZURE_PCRS = tuple(range(8))
SHA256_SIZE = 32
MIN_AK_RSA_BITS = 2048


class Attest(object):
    def __init__(self, raw):
        self.raw = raw
        magic, typ = struct.unpack(">IH", require(raw, 0, 6, "TPMS_ATTEST header"))
        if magic != TPM_GENERATED_VALUE:
            raise ParseError("TPM quote: bad magic 0x%08x" % magic, check="tpm.parse")
        if typ != TPM_ST_ATTEST_QUOTE:
            raise ParseError("TPM quote: attestation type 0x%04x is not a quote" % typ, check="tpm.parse")
        off = 6
        self.qualified_signer, off = _tpm2b(raw, off, "qualifiedSigner")
        self.extra_data, off = _tpm2b(raw, off, "extraData")
        self.clock, self.reset_count, self.restart_count, self.safe = struct.unpack(
            ">QIIB", require(raw, off, 17, "clockInfo"))
        off += 17
        self.firmware_version = struct.unpack(">Q", require(raw, off, 8, "firmwareVersion"))[0]
        off += 8
        count = struct.unpack(">I", require(raw, off, 4, "pcrSelect count"))[0]
        off += 4
        if count > 4:
            raise ParseError("TPM quote: too many PCR banks (%d)" % count, check="tpm.parse")
        self.selections = []  # [(hash_alg, [pcr indices])]
        for dummy in range(count):
            alg, size = struct.unpack(">HB", require(raw, off, 3, "pcr selection"))
            off += 3
            if size < 3 or size > 4:
                raise ParseError("TPM quote: PCR select size %d (expected 3)" % size, check="tpm.parse")
            bitmap = require(raw, off, size, "pcr selection bitmap")
            off += size
            pcrs = [i * 8 + b for i in range(size) for b in range(8) if bitmap[i] & (1 << b)]
            if pcrs and pcrs[-1] >= PCR_COUNT:
                raise ParseError("TPM quote selects PCR %d (a TPM has %d)" % (pcrs[-1], PCR_COUNT), check="tpm.parse")
            self.selections.append((alg, pcrs))
        self.pcr_digest, off = _tpm2b(raw, off, "pcrDigest")
        if off != len(raw):
            raise ParseError("TPM quote: %d trailing bytes" % (len(raw) - off), check="tpm.parse")


def _tpm2b(raw, off, what):
    size = struct.unpack(">H", require(raw, off, 2, what))[0]
    return require(raw, off + 2, size, what), off + 2 + size


def parse_attest(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError("TPM quote message must be bytes", check="tpm.parse")
    if len(data) > MAX_TPM_ATTEST:
        raise ParseError("TPM quote message is too large (%d bytes, limit %d)" % (len(data), MAX_TPM_ATTEST),
                         check="tpm.parse")
    return Attest(bytes(data))


def _b64u_int(value, what):
    return int.from_bytes(b64decode(value, what), "big")


def jwk_to_public_key(jwk):
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or "n" not in jwk or "e" not in jwk:
        raise ParseError("AK public key must be an RSA JWK", check="tpm.ak_key")
    try:
        return rsa.RSAPublicNumbers(_b64u_int(jwk["e"], "jwk e"), _b64u_int(jwk["n"], "jwk n")).public_key()
    except ValueError as exc:
        raise ParseError("AK public key is invalid: %s" % exc, check="tpm.ak_key")


def _decode(value, what, max_size=MAX_TPM_SIGNATURE):
    """bytes | int list | hex str | base64 str -> bytes, at most ``max_size`` bytes."""
    if isinstance(value, (bytes, bytearray, list, str)) and len(value) > 2 * max_size + 8:
        raise ParseError("%s is too large" % what, check="tpm.parse")
    if isinstance(value, (bytes, bytearray)):
        out = bytes(value)
    elif isinstance(value, list):
        if not all(isinstance(b, int) and not isinstance(b, bool) for b in value):
            raise ParseError("%s: invalid byte list" % what, check="tpm.parse")
        try:
            out = bytes(value)
        except (TypeError, ValueError):
            raise ParseError("%s: invalid byte list" % what, check="tpm.parse")
    elif isinstance(value, str):
        text = value.strip()
        if text and len(text) % 2 == 0 and set(text) <= _HEX:
            out = bytes.fromhex(text)
        else:
            out = b64decode(text, what)
    else:
        raise ParseError("%s: unsupported encoding (%s)" % (what, type(value).__name__), check="tpm.parse")
    if len(out) > max_size:
        raise ParseError("%s is too large (%d bytes, limit %d)" % (what, len(out), max_size), check="tpm.parse")
    return out


def normalize_pcrs(pcrs):
    """{index: hex} / [hex, ...] -> {int: bytes}."""
    out = {}
    if isinstance(pcrs, dict):
        items = list(pcrs.items())
    elif isinstance(pcrs, list):
        items = list(enumerate(pcrs))
    else:
        raise ParseError("pcrs must be a mapping of index to hex digest", check="tpm.parse")
    if len(items) > PCR_COUNT:
        raise ParseError("pcrs: more than %d values" % PCR_COUNT, check="tpm.parse")
    for k, v in items:
        if isinstance(k, bool) or not isinstance(k, (int, str)):
            raise ParseError("PCR index %r is not an integer" % (k,), check="tpm.parse")
        try:
            idx = int(k)
        except (TypeError, ValueError):
            raise ParseError("PCR index %r is not an integer" % (k,), check="tpm.parse")
        if idx < 0 or idx >= PCR_COUNT:
            raise ParseError("PCR index %d out of range" % idx, check="tpm.parse")
        if idx in out:
            raise ParseError("PCR %d given twice" % idx, check="tpm.parse")
        value = _decode(v, "PCR %d" % idx, max_size=64)
        if len(value) != SHA256_SIZE:
            raise ParseError("PCR %d value is %d bytes; a SHA-256 PCR is exactly %d" % (idx, len(value), SHA256_SIZE),
                             check="tpm.parse")
        out[idx] = value
    return out


def strip_signature_header(sig):
    """Accept a plain RSASSA signature or a TPMT_SIGNATURE (6-byte header)."""
    if len(sig) > 6:
        alg, halg, size = struct.unpack(">HHH", sig[:6])
        if alg == TPM_ALG_RSASSA and halg == TPM_ALG_SHA256 and size == len(sig) - 6:
            return sig[6:]
    return sig


def _required_pcrs(required_pcrs):
    wanted = set(AZURE_PCRS)
    for idx in required_pcrs or ():
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < PCR_COUNT:
            raise ParseError("required_pcrs: %r is not a PCR index 0-%d" % (idx, PCR_COUNT - 1), check="tpm.pcr_selection")
        wanted.add(idx)
    return wanted


def _ak_key(ak):
    if isinstance(ak, AkCertificate):
        return ak.public_key
    if HAS_CRYPTOGRAPHY and isinstance(ak, rsa.RSAPublicKey):
        return ak
    return jwk_to_public_key(ak)


def verify_quote(message, signature, ak_pub_jwk, nonce, pcrs, result=None, required_pcrs=None):
    """Verify a TPM2_Quote (see the module docstring). Returns the Attest with ``pcr_indices`` set."""
    wanted = _required_pcrs(required_pcrs)
    msg = _decode(message, "quote message", MAX_TPM_ATTEST)
    sig = strip_signature_header(_decode(signature, "quote signature", MAX_TPM_SIGNATURE))
    attest = parse_attest(msg)
    key = _ak_key(ak_pub_jwk)
    try:
        key.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise VerificationError("TPM quote signature does not verify with HCLAkPub", check="tpm.quote_signature")
    if result is not None:
        result.append(("tpm.quote_signature", "pass", "quote signed by HCLAkPub (RSASSA-PKCS1-v1_5, SHA-256)"))
    if nonce is None or not hmac.compare_digest(bytes(attest.extra_data), bytes(nonce)):
        raise VerificationError("TPM quote extraData does not equal the nonce (replayed or foreign quote)",
                                check="tpm.quote_nonce")
    if result is not None:
        result.append(("tpm.quote_nonce", "pass", "quote extraData == nonce"))
    if len(attest.selections) != 1 or attest.selections[0][0] != TPM_ALG_SHA256:
        raise VerificationError("quote must select exactly one PCR bank, SHA-256 (got %s)" % ", ".join(
            "0x%04x" % alg for alg, dummy in attest.selections), check="tpm.pcr_selection")
    selected = attest.selections[0][1]
    missing = sorted(wanted - set(selected))
    if missing:
        raise VerificationError("quote does not cover PCRs %s (required: %s)" % (
            ",".join(str(i) for i in missing), ",".join(str(i) for i in sorted(wanted))), check="tpm.pcr_selection")
    if result is not None:
        result.append(("tpm.pcr_selection", "pass", "SHA-256 bank, PCRs %s cover the required %s" % (
            ",".join(str(i) for i in selected), ",".join(str(i) for i in sorted(wanted)))))
    try:
        values = normalize_pcrs(pcrs)
    except ParseError as exc:
        raise VerificationError(str(exc), check="tpm.pcr_digest")
    missing = [i for i in selected if i not in values]
    if missing:
        raise VerificationError("PCR values missing for quoted PCRs %s" % missing, check="tpm.pcr_digest")
    h = hashlib.sha256()
    for i in selected:
        h.update(values[i])
    if not hmac.compare_digest(h.digest(), bytes(attest.pcr_digest)):
        raise VerificationError("PCR values do not match the quoted PCR digest", check="tpm.pcr_digest")
    if result is not None:
        result.append(("tpm.pcr_digest", "pass", "PCRs %s match the quoted digest" % ",".join(str(i) for i in selected)))
    attest.pcr_indices = selected
    return attest


class AkCertificate(object):
    """A verified AK certificate: ``cert``, ``public_key``, ``chain`` [leaf..anchor], ``anchor`` (name),
    ``anchor_source`` ('builtin' | 'extra_root'), ``revocation`` (crl.check_revocation dict)."""

    def __init__(self, cert, chain, anchor, anchor_source, revocation):
        self.cert = cert
        self.public_key = cert_public_key(cert, check="ak_cert.chain")
        self.chain = chain
        self.anchor = anchor
        self.anchor_source = anchor_source
        self.revocation = revocation

    @property
    def subjects(self):
        return [c.subject.rfc4514_string() for c in self.chain]


def _key_der(value):
    if isinstance(value, AkCertificate):
        return public_key_der(value.public_key)
    if HAS_CRYPTOGRAPHY and isinstance(value, x509.Certificate):
        return public_key_der(cert_public_key(value))
    if isinstance(value, dict):
        return public_key_der(jwk_to_public_key(value))
    return public_key_der(value)


def ak_keys_equal(a, b):
    """True when ``a`` and ``b`` hold the same public key; False when either is missing or unusable."""
    if a is None or b is None:
        return False
    try:
        return hmac.compare_digest(_key_der(a), _key_der(b))
    except (ParseError, VerificationError, AttributeError, TypeError, ValueError):
        return False


def _named(items, prefix):
    try:
        return named_certs(items, prefix)
    except ParseError as exc:
        raise VerificationError(str(exc), check="ak_cert.chain")


def verify_ak_certificate(ak_cert, vtpm_roots, intermediates=(), extra_roots=None, now=None, crls=None):
    """Chain the AK certificate to a pinned Azure vTPM root (or an explicit ``extra_roots`` entry); see the module
    docstring. Raises VerificationError(check="ak_cert.chain")."""
    check = "ak_cert.chain"
    if ak_cert is None or ak_cert == "" or ak_cert == b"":
        raise VerificationError("no AK certificate", check=check)
    if isinstance(ak_cert, (bytes, bytearray, str)) and len(ak_cert) > 2 * MAX_AK_CERT_BLOB:
        raise VerificationError("AK certificate is too large (%d, limit %d)" % (len(ak_cert), 2 * MAX_AK_CERT_BLOB),
                                check=check)
    try:
        certs = load_any(ak_cert, "ak_cert", max_certs=MAX_CERTS_PER_INPUT)
    except ParseError as exc:
        raise VerificationError(str(exc), check=check)
    builtin = _named(vtpm_roots, "vtpm_roots")
    extra = _named(extra_roots, "extra_roots")
    pool = [c for dummy, c in _named(intermediates, "ak_intermediates")] + certs[1:]
    anchors = builtin + extra
    chain = build_chain(certs[0], pool, [c for dummy, c in anchors], now=now, check=check)
    name, source = None, None
    for i, (n, c) in enumerate(anchors):
        if c is chain[-1]:
            name, source = n, ("builtin" if i < len(builtin) else "extra_root")
            break
    key = cert_public_key(certs[0], check=check)
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_AK_RSA_BITS:
        raise VerificationError("AK certificate key is not an RSA key of at least %d bits" % MIN_AK_RSA_BITS, check=check)
    revocation = check_revocation(chain, crls, now=now, check=check)
    return AkCertificate(certs[0], chain, name, source, revocation)
