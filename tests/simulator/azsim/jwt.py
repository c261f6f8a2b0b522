"""Minimal RS256 JWT signing / verification (tokens the simulator issues and checks)."""
from __future__ import annotations

import base64
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def int_b64u(n: int) -> str:
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def kid_of(public_key) -> str:
    nums = public_key.public_numbers()
    return hashlib.sha256(int_b64u(nums.n).encode()).hexdigest()[:32]


def sign(claims: dict, key, kid: str, extra_header: dict | None = None) -> str:
    header = {"typ": "JWT", "alg": "RS256", "kid": kid}
    if extra_header:
        header.update(extra_header)
    signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + b64u(json.dumps(claims, separators=(",", ":")).encode()))
    sig = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64u(sig)


class JwtError(ValueError):
    pass


def decode_unverified(token: str) -> tuple[dict, dict]:
    try:
        h, c, _s = token.split(".")
        return json.loads(b64u_decode(h)), json.loads(b64u_decode(c))
    except Exception as exc:  # noqa: BLE001 - any malformed token
        raise JwtError("malformed token") from exc


def verify(token: str, public_key) -> dict:
    """Check the RS256 signature; return the claims (expiry is the caller's business)."""
    try:
        h, c, s = token.split(".")
    except ValueError as exc:
        raise JwtError("malformed token") from exc
    header, claims = decode_unverified(token)
    if header.get("alg") != "RS256":
        raise JwtError("unsupported alg")
    try:
        public_key.verify(b64u_decode(s), (h + "." + c).encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise JwtError("bad signature") from exc
    return claims
