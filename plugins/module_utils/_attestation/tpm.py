# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TPM 2.0 quote (TPMS_ATTEST) parsing and verification against the HCL AK (HCLAkPub)."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import hashlib
import hmac
import re
import struct

from .certs import HAS_CRYPTOGRAPHY
from .errors import ParseError, VerificationError
from .util import b64decode, require

if HAS_CRYPTOGRAPHY:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_QUOTE = 0x8018
TPM_ALG_SHA1 = 0x0004
TPM_ALG_SHA256 = 0x000B
TPM_ALG_SHA384 = 0x000C
TPM_ALG_RSASSA = 0x0014
_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
_HASHES = {TPM_ALG_SHA1: "sha1", TPM_ALG_SHA256: "sha256", TPM_ALG_SHA384: "sha384"}


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
        if count > 16:
            raise ParseError("TPM quote: too many PCR banks (%d)" % count, check="tpm.parse")
        self.selections = []  # [(hash_alg, [pcr indices])]
        for dummy in range(count):
            alg, size = struct.unpack(">HB", require(raw, off, 3, "pcr selection"))
            off += 3
            bitmap = require(raw, off, size, "pcr selection bitmap")
            off += size
            pcrs = [i * 8 + b for i in range(size) for b in range(8) if bitmap[i] & (1 << b)]
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


def _decode(value, what):
    """bytes | hex str | base64 str -> bytes."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, list):
        try:
            return bytes(value)
        except (TypeError, ValueError):
            raise ParseError("%s: invalid byte list" % what, check="tpm.parse")
    if isinstance(value, str):
        text = value.strip()
        if text and len(text) % 2 == 0 and _HEX_RE.match(text):
            return bytes.fromhex(text)
        return b64decode(text, what)
    raise ParseError("%s: unsupported encoding" % what, check="tpm.parse")


def normalize_pcrs(pcrs):
    """{index: hex} / [hex, ...] -> {int: bytes}."""
    out = {}
    if isinstance(pcrs, dict):
        items = pcrs.items()
    elif isinstance(pcrs, list):
        items = enumerate(pcrs)
    else:
        raise ParseError("pcrs must be a mapping of index to hex digest", check="tpm.parse")
    for k, v in items:
        try:
            idx = int(k)
        except (TypeError, ValueError):
            raise ParseError("PCR index %r is not an integer" % (k,), check="tpm.parse")
        if idx < 0 or idx > 23:
            raise ParseError("PCR index %d out of range" % idx, check="tpm.parse")
        out[idx] = _decode(v, "PCR %d" % idx)
    return out


def strip_signature_header(sig):
    """Accept a plain RSASSA signature or a TPMT_SIGNATURE (6-byte header)."""
    if len(sig) > 6:
        alg, halg, size = struct.unpack(">HHH", sig[:6])
        if alg == TPM_ALG_RSASSA and halg == TPM_ALG_SHA256 and size == len(sig) - 6:
            return sig[6:]
    return sig


def verify_quote(message, signature, ak_pub_jwk, nonce, pcrs, result=None):
    """Verify a TPM2_Quote: RSASSA-PKCS1-v1_5/SHA-256 by the AK, extraData == nonce, PCR digest.

    ``message``/``signature``: bytes, hex or base64; ``ak_pub_jwk``: HCLAkPub JWK (or an RSA
    public key object); ``nonce``: bytes; ``pcrs``: {index: hex sha256}. Returns the Attest.
    Raises VerificationError with check tpm.quote_signature / tpm.quote_nonce / tpm.pcr_digest.
    """
    msg = _decode(message, "quote message")
    sig = strip_signature_header(_decode(signature, "quote signature"))
    attest = parse_attest(msg)
    key = ak_pub_jwk if (HAS_CRYPTOGRAPHY and isinstance(ak_pub_jwk, rsa.RSAPublicKey)) else jwk_to_public_key(ak_pub_jwk)
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
    values = normalize_pcrs(pcrs)
    selected = []
    for alg, idxs in attest.selections:
        if alg != TPM_ALG_SHA256:
            raise VerificationError("quote selects a non-SHA-256 PCR bank (0x%04x)" % alg, check="tpm.pcr_digest")
        selected.extend(idxs)
    if not selected:
        raise VerificationError("quote selects no PCR", check="tpm.pcr_digest")
    missing = [i for i in selected if i not in values]
    if missing:
        raise VerificationError("PCR values missing for quoted PCRs %s" % missing, check="tpm.pcr_digest")
    h = hashlib.sha256()
    for i in selected:
        h.update(values[i])
    if h.digest() != bytes(attest.pcr_digest):
        raise VerificationError("PCR values do not match the quoted PCR digest", check="tpm.pcr_digest")
    if result is not None:
        result.append(("tpm.pcr_digest", "pass", "PCRs %s match the quoted digest" % ",".join(str(i) for i in selected)))
    attest.pcr_indices = selected
    return attest
