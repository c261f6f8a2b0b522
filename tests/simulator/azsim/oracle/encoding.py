"""Bounded decoders for untrusted input: base64/base64url, PEM certificate bundles, little-endian fields.

PEM is split with plain ``bytes.find`` in one forward pass (linear time, a certificate count limit checked before
any certificate is parsed): a regular expression over attacker-controlled PEM can go quadratic."""
from __future__ import annotations

import base64
import binascii
import struct
import warnings

from cryptography import x509

from .errors import EvidenceError

MAX_PEM_BYTES = 64 * 1024
BEGIN = b"-----BEGIN CERTIFICATE-----"
END = b"-----END CERTIFICATE-----"


def b64_any(text, check: str, limit: int) -> bytes:
    """base64url or standard base64, padding optional (MAA accepts both in its request fields)."""
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            raise EvidenceError(check, "%s is not base64 text" % check) from None
    if not isinstance(text, (bytes, bytearray)):
        raise EvidenceError(check, "%s must be a base64url string" % check)
    if len(text) > limit * 4 // 3 + 4:
        raise EvidenceError(check, "%s is larger than %d bytes" % (check, limit))
    text = bytes(text).strip().rstrip(b"=").replace(b"-", b"+").replace(b"_", b"/")
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise EvidenceError(check, "%s is not valid base64url" % check) from None


def pem_certificates(data: bytes, check: str, max_certs: int) -> list:
    """Certificates of a PEM bundle, in order; at most ``max_certs``, at most MAX_PEM_BYTES of input."""
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    if len(data) > MAX_PEM_BYTES:
        raise EvidenceError(check, "%s: certificate bundle larger than %d bytes" % (check, MAX_PEM_BYTES))
    certs, pos = [], 0
    while True:
        start = data.find(BEGIN, pos)
        if start < 0:
            break
        if len(certs) == max_certs:
            raise EvidenceError(check, "%s: more than %d certificates" % (check, max_certs))
        end = data.find(END, start + len(BEGIN))
        if end < 0:
            raise EvidenceError(check, "%s: certificate without END line" % check)
        body = b"".join(data[start + len(BEGIN):end].split())
        try:
            with warnings.catch_warnings():   # AMD issues VCEKs with serial number 0 (VCEK spec 57230)
                warnings.simplefilter("ignore")
                certs.append(x509.load_der_x509_certificate(base64.b64decode(body, validate=True)))
        except (binascii.Error, ValueError) as exc:
            raise EvidenceError(check, "%s: certificate %d is malformed (%s)" % (check, len(certs), exc)) from None
        pos = end + len(END)
    if not certs:
        raise EvidenceError(check, "%s: no PEM certificate" % check)
    return certs


def u16(buf, off):
    return struct.unpack_from("<H", buf, off)[0]


def u32(buf, off):
    return struct.unpack_from("<I", buf, off)[0]


def u64(buf, off):
    return struct.unpack_from("<Q", buf, off)[0]
