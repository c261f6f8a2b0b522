# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secure key release for data disks: the messages (pure; Python 3.8 stdlib; no Ansible import).

* MAA guest attestation (``POST {maa}/attest/AzureGuest?api-version=2020-10-01``): the request body and the
  encrypted response (Microsoft's cvm-attestation-tools, AttestationClient: ``EncryptedInnerKey`` is RSAES
  PKCS#1 v1.5 to the TPM ephemeral key, ``Jwt`` is AES-GCM with AAD "Transport Key").
* Key Vault release (``POST {vault}/keys/{name}/{version}/release``, "Secure key release" in the Key Vault
  REST reference): the JWS answer whose ``response.key.key.key_hsm`` holds the key wrapped with
  ``CKM_RSA_AES_KEY_WRAP`` (RSA-OAEP of a fresh AES-256 key to the token's ``TpmEphemeralEncryptionKey``, then
  AES key wrap with padding, RFC 5649, of the PKCS#8 private key).
* The LUKS2 token a data disk carries: its keyslot passphrase RSA-OAEP(SHA-256)-wrapped to ONE version of the
  released Key Vault key, so a key rotation re-wraps the passphrase and never re-encrypts data.

The RSA decryptions that need the TPM are passed in as callables (``tpm_decrypt(ciphertext) -> bytes``).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import hashlib
import hmac
import json
import re

try:
    from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import skrcrypto
except ImportError:  # copied next to the boot agent on the guest
    import skrcrypto  # type: ignore

TOKEN_TYPE = "confidential-azure-skr"
TRANSPORT_AAD = b"Transport Key"
WRAP_HASHES = {"CKM_RSA_AES_KEY_WRAP": "sha1", "RSA_AES_KEY_WRAP_256": "sha256", "RSA_AES_KEY_WRAP_384": "sha384"}
MAX_RESPONSE = 1 << 20
MAX_JSON_DEPTH = 32
MAX_WRAPPED_KEY = 16 << 10      # an RSA-4096 PKCS#8 key wrapped with RFC 5649 is about 2.4 KiB
MAX_RSA_BITS = 4096
EPHEMERAL_KID = "TpmEphemeralEncryptionKey"
_JSON_TOKEN_RE = re.compile(r'\\.|["\[\]{}]', re.S)
_KID_RE = re.compile(r"^(https://[^/\s]+)/keys/([0-9A-Za-z-]{1,127})(?:/([0-9A-Za-z]{1,64}))?/?$")


class ReleaseError(ValueError):
    """A message of the release protocol is malformed or does not authenticate."""


def b64u_decode(text):
    if not isinstance(text, str) or len(text) > MAX_RESPONSE * 2:
        raise ReleaseError("expected a base64url string")
    text = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ReleaseError("invalid base64url")


def b64u(data):
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def parse_key_id(kid):
    """'https://<vault>/keys/<name>[/<version>]' -> (vault_url, name, version or None)."""
    m = _KID_RE.match(kid or "")
    if not m:
        raise ReleaseError("key id must look like https://<vault>/keys/<name>[/<version>], got %r" % (kid,))
    return m.group(1), m.group(2), m.group(3)


def loads_bounded(data, what, max_size=MAX_RESPONSE, max_depth=MAX_JSON_DEPTH):
    """A JSON object from an untrusted source (HTTP answers, token payloads, the LUKS2 header): ReleaseError
    naming ``what`` when it is larger than ``max_size``, nests deeper than ``max_depth``, or is no JSON object.
    The depth is counted before parsing (linear, no recursion): the parser never sees a deep document."""
    if isinstance(data, bytes):
        if len(data) > max_size:
            raise ReleaseError("%s is larger than %d bytes" % (what, max_size))
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ReleaseError("%s is not UTF-8 JSON" % what)
    if not isinstance(data, str) or len(data) > max_size:
        raise ReleaseError("%s is not JSON of at most %d bytes" % (what, max_size))
    depth, in_string = 0, False
    for tok in _JSON_TOKEN_RE.findall(data):        # one pass: escapes, quotes and brackets only
        if tok == '"':
            in_string = not in_string
        elif not in_string and tok in "[{":
            depth += 1
            if depth > max_depth:
                raise ReleaseError("%s nests deeper than %d levels" % (what, max_depth))
        elif not in_string and tok in "]}":
            depth -= 1
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise ReleaseError("%s is not JSON" % what)
    if not isinstance(doc, dict):
        raise ReleaseError("%s is not a JSON object" % what)
    return doc


def jwt_claims(token):
    """Payload of a compact JWS/JWT without verifying it (the guest only forwards the token)."""
    if not isinstance(token, str) or len(token) > MAX_RESPONSE:
        raise ReleaseError("not a compact JWS")
    parts = token.split(".")
    if len(parts) != 3:
        raise ReleaseError("not a compact JWS")
    return loads_bounded(b64u_decode(parts[1]), "JWS payload")


def same_key(kid, configured):
    """True when ``kid`` (read from a disk) names the configured key: the same vault and key name (any version).

    A disk's token decides which URL the agent sends the managed identity's bearer token and the MAA token to;
    only the operator's configured vault may receive them."""
    try:
        vault, name, _version = parse_key_id(kid)
        cvault, cname, _cversion = parse_key_id(configured)
    except ReleaseError:
        return False
    return vault.lower() == cvault.lower() and name.lower() == cname.lower()


# ------------------------------------------------------------------ MAA guest attestation
def guest_attestation_request(tpm, isolation, tcg_log=b"", os_info=None):
    """Body of ``attest/AzureGuest``.  ``tpm`` holds raw bytes: ak_cert, ak_pub, quote, quote_signature,
    enc_key_pub, enc_key_certify_info, enc_key_certify_signature and pcrs ({index: digest})."""
    osi = dict({"type": "Linux", "distro": "Debian", "major": "12", "minor": "0", "build": ""}, **(os_info or {}))
    pcrs = sorted((int(i), d) for i, d in tpm["pcrs"].items())
    info = {
        "AttestationProtocolVersion": "2.0",
        "OSType": b64(osi["type"].encode()), "OSDistro": b64(osi["distro"].encode()),
        "OSVersionMajor": str(osi["major"]), "OSVersionMinor": str(osi["minor"]), "OSBuild": b64(osi["build"].encode()),
        "TcgLogs": b64(tcg_log), "ClientPayload": b64(b""),
        "TpmInfo": {
            "AikCert": b64(tpm["ak_cert"]), "AikPub": b64(tpm["ak_pub"]),
            "PcrQuote": b64(tpm["quote"]), "PcrSignature": b64(tpm["quote_signature"]),
            "EncKeyPub": b64(tpm["enc_key_pub"]), "EncKeyCertifyInfo": b64(tpm["enc_key_certify_info"]),
            "EncKeyCertifyInfoSignature": b64(tpm["enc_key_certify_signature"]),
            "PcrSet": [i for i, _d in pcrs], "PCRs": [{"Index": i, "Digest": b64(d)} for i, d in pcrs],
        },
        "IsolationInfo": isolation,
    }
    return {"AttestationInfo": b64u(json.dumps(info, sort_keys=True).encode())}


def snp_isolation(snp_report, runtime_data, vcek_chain_pem):
    """IsolationInfo for SEV-SNP: the hardware report, the HCL runtime claims and the VCEK chain (THIM)."""
    proof = json.dumps({"SnpReport": b64u(snp_report), "VcekCertChain": b64u(vcek_chain_pem)}).encode()
    return {"Type": "SevSnp", "Evidence": {"Proof": b64u(proof), "RunTimeData": b64u(runtime_data)}}


def decrypt_guest_token(response, tpm_decrypt):
    """JWT from an AzureGuest answer ``{"token": base64url(JSON)}``; the inner AES key is decrypted by the TPM."""
    if not isinstance(response, dict) or not isinstance(response.get("token"), str):
        raise ReleaseError("attestation answer has no token")
    try:
        env = loads_bounded(b64u_decode(response["token"]), "attestation answer")
        inner = b64u_decode(env["EncryptedInnerKey"])
        iv = b64u_decode(env["EncryptionParams"]["Iv"])
        tag = b64u_decode(env["AuthenticationData"])
        sealed = b64u_decode(env["Jwt"])
    except (KeyError, TypeError, ValueError, UnicodeDecodeError, AttributeError):
        raise ReleaseError("attestation answer is not an encrypted guest token")
    key = tpm_decrypt(inner)
    try:
        jwt = skrcrypto.aes_gcm_decrypt(key, iv, sealed, tag, TRANSPORT_AAD).decode("ascii")
    except (skrcrypto.CryptoError, UnicodeDecodeError):
        raise ReleaseError("attestation token does not decrypt with the TPM ephemeral key")
    jwt_claims(jwt)
    return jwt


def tpm_rsa_public(blob):
    """(n, e) of an RSA TPM2B_PUBLIC / TPMT_PUBLIC (``tpm2_readpublic -o``; TPM 2.0 Part 2, 12.2.3-12.2.4)."""
    blob = bytes(blob)
    if len(blob) >= 2 and int.from_bytes(blob[:2], "big") == len(blob) - 2:
        blob = blob[2:]
    pos = [0]

    def take(count):
        if pos[0] + count > len(blob):
            raise ReleaseError("TPM public area is truncated")
        pos[0] += count
        return blob[pos[0] - count:pos[0]]

    def u16():
        return int.from_bytes(take(2), "big")

    if u16() != 0x0001:
        raise ReleaseError("TPM key is not an RSA key")
    take(6)                                     # nameAlg, objectAttributes
    take(u16())                                 # authPolicy
    if u16() != 0x0010:                         # symmetric: a decryption key has TPM_ALG_NULL
        take(4)
    if u16() not in (0x0010, 0x0015):           # scheme: NULL and RSAES carry no details, the rest a hash
        take(2)
    take(2)                                     # keyBits
    e = int.from_bytes(take(4), "big") or 65537
    n = int.from_bytes(take(u16()), "big")
    return n, e


def check_runtime_key(claims, n, e):
    """The MAA token must name THIS boot's TPM ephemeral key as its runtime key: Key Vault wraps the released key to
    the token's key, so a token bound to any other key (a replayed or substituted one) is refused before it is
    sent (the guest cannot verify MAA's signature; Key Vault does)."""
    found = []
    for holder in (claims, claims.get("x-ms-isolation-tee")):
        runtime = holder.get("x-ms-runtime") if isinstance(holder, dict) else None
        keys = runtime.get("keys") if isinstance(runtime, dict) else None
        for jwk in keys if isinstance(keys, list) else []:
            if isinstance(jwk, dict) and jwk.get("kid") == EPHEMERAL_KID:
                found.append(jwk)
    if not found:
        raise ReleaseError("the MAA token names no %s" % EPHEMERAL_KID)
    for jwk in found:
        try:
            ok = (jwk.get("kty") == "RSA" and int.from_bytes(b64u_decode(jwk["n"]), "big") == n
                  and int.from_bytes(b64u_decode(jwk["e"]), "big") == e)
        except (KeyError, ReleaseError):
            ok = False
        if not ok:
            raise ReleaseError("the MAA token's %s is not this boot's TPM key" % EPHEMERAL_KID)


def claims_summary(claims):
    """The few MAA claims an operator wants to see per disk (no secrets)."""
    tee = claims.get("x-ms-isolation-tee") or {}
    return {
        "iss": claims.get("iss"), "exp": claims.get("exp"),
        "attestation_type": claims.get("x-ms-attestation-type"),
        "tee_type": tee.get("x-ms-attestation-type"),
        "compliance_status": tee.get("x-ms-compliance-status"),
        "secureboot": claims.get("secureboot"),
        "vm_id": claims.get("x-ms-azurevm-vmid"),
    }


# ------------------------------------------------------------------ Key Vault release
def parse_release_response(body):
    """{'value': JWS} -> {'kid', 'enc', 'ciphertext' (bytes), 'public' (the key's public JWK fields)}."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), str):
        raise ReleaseError("release answer has no 'value'")
    payload = jwt_claims(body["value"])
    try:
        key = payload["response"]["key"]["key"]
        kid = key["kid"]
        blob = loads_bounded(b64u_decode(key["key_hsm"]), "key_hsm")
        enc = (blob.get("header") or {}).get("enc") or (payload.get("request") or {}).get("enc")
        ciphertext = b64u_decode(blob["ciphertext"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ReleaseError("release answer does not carry a wrapped key (response.key.key.key_hsm)")
    if enc not in WRAP_HASHES:
        raise ReleaseError("unsupported key wrapping %r" % (enc,))
    parse_key_id(kid)
    public = dict((k, key[k]) for k in ("kid", "kty", "n", "e") if k in key)
    return {"kid": kid, "enc": enc, "ciphertext": ciphertext, "public": public}


def unwrap_released_key(released, rsa_bytes, tpm_decrypt):
    """RSA private key released to the TPM: the TPM decrypts the AES transport key, RFC 5649 does the rest."""
    ct = released["ciphertext"]
    if len(ct) <= rsa_bytes + 16:
        raise ReleaseError("wrapped key is too short")
    if len(ct) > rsa_bytes + MAX_WRAPPED_KEY:
        raise ReleaseError("wrapped key is longer than %d bytes" % MAX_WRAPPED_KEY)
    aes_key = tpm_decrypt(ct[:rsa_bytes], WRAP_HASHES[released["enc"]])
    try:
        der = skrcrypto.aes_kwp_unwrap(aes_key, ct[rsa_bytes:])
        key = skrcrypto.load_rsa_private_der(der)
    except (skrcrypto.CryptoError, ValueError) as exc:
        raise ReleaseError("released key does not unwrap: %s" % exc)
    if key.n.bit_length() > MAX_RSA_BITS:
        raise ReleaseError("the released key is larger than RSA-%d" % MAX_RSA_BITS)
    return key


# ------------------------------------------------------------------ the LUKS2 token
def public_numbers(jwk):
    """(n, e) of an RSA JWK (Key Vault's key bundle ``key``)."""
    if not isinstance(jwk, dict) or jwk.get("kty") not in ("RSA", "RSA-HSM"):
        raise ReleaseError("the data-disk key must be an RSA key (kty RSA-HSM)")
    try:
        n, e = int.from_bytes(b64u_decode(jwk["n"]), "big"), int.from_bytes(b64u_decode(jwk["e"]), "big")
    except KeyError:
        raise ReleaseError("the data-disk key's public JWK lacks n or e")
    if not 2048 <= n.bit_length() <= MAX_RSA_BITS:
        raise ReleaseError("the data-disk key must be RSA-2048 to RSA-%d" % MAX_RSA_BITS)
    return n, e


LUKS_CIPHERS = ("aes-xts-plain64",)


def luks_header_problem(meta, keyslot):
    """Why a LUKS2 header (``luksDump --dump-json-metadata``) may not be opened with our passphrase, or None.

    A header anybody wrote could hold a ``cipher_null`` keyslot (it accepts ANY passphrase and yields a volume key
    of their choosing) or a ``cipher_null`` segment (plaintext on the disk), or a second digest for a volume key of
    their own: exactly one digest, covering our keyslot, and AES-XTS everywhere."""
    def items(section):
        value = meta.get(section)
        return list(value.items()) if isinstance(value, dict) else None
    segments, keyslots, digests = items("segments"), items("keyslots"), items("digests")
    if not segments or not keyslots or digests is None:
        return "the LUKS2 header has no segments or keyslots"
    for sid, seg in segments:
        if not isinstance(seg, dict) or seg.get("type") != "crypt" or seg.get("encryption") not in LUKS_CIPHERS:
            return "LUKS2 segment %s is not %s" % (sid, " / ".join(LUKS_CIPHERS))
    for ksid, slot in keyslots:
        area = slot.get("area") if isinstance(slot, dict) else None
        if not isinstance(area, dict) or area.get("encryption") not in LUKS_CIPHERS:
            return "LUKS2 keyslot %s is not %s-encrypted" % (ksid, " / ".join(LUKS_CIPHERS))
    if str(keyslot) not in dict(keyslots):
        return "the token's keyslot %s does not exist" % keyslot
    if len(digests) != 1 or not isinstance(digests[0][1], dict) or str(keyslot) not in (digests[0][1].get("keyslots")
                                                                                        or []):
        return "the LUKS2 header must have exactly one digest, covering keyslot %s" % keyslot
    return None


def header_binding(meta):
    """What of the header the token's MAC covers: its one volume-key digest (a PBKDF2 commitment to the volume
    key), so the token opens only the volume it was made for, never a header with a volume key someone else chose."""
    digest = list(meta["digests"].values())[0]
    return json.dumps([digest.get(k) for k in ("type", "hash", "iterations", "salt", "digest")], separators=(",", ":"))


def _mac(private_key, kid, keyslot, wrapped, binding):
    """HMAC-SHA256 over the token's fields and the header binding, keyed by a hash of the key version's private
    exponent: only a holder of the released key (an attested VM, or Key Vault) can make it."""
    size = (private_key.n.bit_length() + 7) // 8
    mac_key = hashlib.sha256(b"confidential-azure-skr token mac v1\0" + private_key.d.to_bytes(size, "big")).digest()
    msg = json.dumps([kid, str(keyslot), b64u(wrapped), binding], separators=(",", ":")).encode()
    return hmac.new(mac_key, msg, hashlib.sha256).digest()


def make_token(kid, jwk, passphrase, keyslot, private_key=None, binding=""):
    """LUKS2 token JSON: the keyslot passphrase wrapped to key version ``kid`` (RSA-OAEP SHA-256), and with
    ``private_key`` (that version's, as released) the MAC over it and the header ``binding`` that ``open_token``
    requires."""
    parse_key_id(kid)
    n, e = public_numbers(jwk)
    wrapped = skrcrypto.oaep_encrypt(n, e, passphrase, "sha256")
    token = {"type": TOKEN_TYPE, "keyslots": [str(keyslot)], "kid": kid, "alg": "RSA-OAEP-256",
             "wrapped_passphrase": b64u(wrapped)}
    if private_key is not None:
        if private_key.n != n:
            raise ReleaseError("the released private key is not the key version %s" % kid)
        token["mac"] = b64u(_mac(private_key, kid, keyslot, wrapped, binding))
    return token


def parse_token(token):
    """Our token from ``cryptsetup token export`` JSON, or None for tokens of other tools."""
    if not isinstance(token, dict) or token.get("type") != TOKEN_TYPE:
        return None
    try:
        parse_key_id(token["kid"])
        wrapped = b64u_decode(token["wrapped_passphrase"])
        slots = [int(s) for s in token["keyslots"]]
        mac = b64u_decode(token["mac"]) if "mac" in token else None
    except (KeyError, TypeError, ValueError):
        raise ReleaseError("LUKS2 token %s is damaged" % TOKEN_TYPE)
    if token.get("alg") != "RSA-OAEP-256" or len(slots) != 1 or len(wrapped) > 512:
        raise ReleaseError("LUKS2 token %s has an unsupported layout" % TOKEN_TYPE)
    return {"kid": token["kid"], "wrapped": wrapped, "keyslot": slots[0], "mac": mac}


def unwrap_passphrase(private_key, token):
    """The OAEP step alone: it does NOT tell a token this role made from one anybody made with the public key;
    the agent opens disks with ``open_token``."""
    try:
        return skrcrypto.oaep_decrypt(private_key, token["wrapped"], "sha256")
    except skrcrypto.CryptoError:
        raise ReleaseError("the released key (%s) does not open this disk's token" % token["kid"])


def open_token(private_key, token, binding):
    """The passphrase of a token this role made with the released key version for the header whose
    ``header_binding`` is ``binding``: its MAC is checked first.

    The public key is enough to wrap a passphrase; without the MAC whoever can write the disk (and knows the public
    key) could put a LUKS2 volume of their own with a matching token there, and the VM would open and mount it and
    write its data to a volume whose key they chose."""
    mac = token.get("mac")
    expected = _mac(private_key, token["kid"], token["keyslot"], token["wrapped"], binding)
    if not mac or not hmac.compare_digest(mac, expected):
        raise ReleaseError("this disk's %s token was not made with the released key %s (its MAC does not verify); "
                           "refusing to open a volume someone else may have written" % (TOKEN_TYPE, token["kid"]))
    return unwrap_passphrase(private_key, token)
