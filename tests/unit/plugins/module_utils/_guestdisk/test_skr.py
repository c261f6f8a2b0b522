# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secure key release messages: the AzureGuest answer, Key Vault's release answer, the LUKS2 token."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import skr

KID = "https://kv1.vault.azure.net/keys/datadisk/0123456789abcdef0123456789abcdef"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(payload):
    return "%s.%s.%s" % (b64u(b'{"alg":"RS256"}'), b64u(json.dumps(payload).encode()), b64u(b"sig"))


@pytest.fixture(scope="module")
def keys():
    return {"tpm": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "data": rsa.generate_private_key(public_exponent=65537, key_size=2048)}


def tpm_decrypt_with(key):
    def decrypt(ciphertext, hash_name=None):
        if hash_name is None:
            return key.decrypt(ciphertext, padding.PKCS1v15())
        algo = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}[hash_name]()
        return key.decrypt(ciphertext, padding.OAEP(mgf=padding.MGF1(algorithm=algo), algorithm=algo, label=None))
    return decrypt


def jwk(key):
    nums = key.public_key().public_numbers()
    return {"kty": "RSA-HSM", "kid": KID, "n": b64u(nums.n.to_bytes(256, "big")), "e": b64u(b"\x01\x00\x01")}


def release_answer(keys, enc="CKM_RSA_AES_KEY_WRAP"):
    """What Key Vault answers: the data key wrapped to the TPM key (RSA-OAEP of an AES key + RFC 5649)."""
    der = keys["data"].private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    aes = os.urandom(32)
    algo = {"CKM_RSA_AES_KEY_WRAP": hashes.SHA1, "RSA_AES_KEY_WRAP_256": hashes.SHA256}[enc]()
    wrapped = keys["tpm"].public_key().encrypt(aes, padding.OAEP(mgf=padding.MGF1(algorithm=algo), algorithm=algo,
                                                                 label=None)) + aes_key_wrap_with_padding(aes, der)
    blob = {"schema_version": "1.0", "header": {"kid": "TpmEphemeralEncryptionKey", "alg": "dir", "enc": enc},
            "ciphertext": b64u(wrapped)}
    key = dict(jwk(keys["data"]), key_hsm=b64u(json.dumps(blob).encode()))
    return {"value": jws({"request": {"enc": enc}, "response": {"key": {"key": key, "attributes": {}}}})}


@pytest.mark.parametrize("enc", ["CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256"])
def test_released_key_unwraps_to_the_data_key(keys, enc):
    released = skr.parse_release_response(release_answer(keys, enc))
    assert released["kid"] == KID and released["enc"] == enc and "key_hsm" not in released["public"]
    private = skr.unwrap_released_key(released, 256, tpm_decrypt_with(keys["tpm"]))
    assert private.n == keys["data"].private_numbers().public_numbers.n


def test_release_answer_without_a_wrapped_key_is_refused(keys):
    for body in ({}, {"value": 3}, {"value": "a.b"}, {"value": jws({"response": {}})},
                 {"value": jws({"response": {"key": {"key": {"kid": KID, "key_hsm": b64u(b"{}")}}}})}):
        with pytest.raises(skr.ReleaseError):
            skr.parse_release_response(body)


def test_release_with_an_unknown_wrapping_is_refused(keys):
    answer = release_answer(keys)
    payload = skr.jwt_claims(answer["value"])
    blob = json.loads(skr.b64u_decode(payload["response"]["key"]["key"]["key_hsm"]))
    blob["header"]["enc"] = "A256KW"
    payload["request"]["enc"] = "A256KW"
    payload["response"]["key"]["key"]["key_hsm"] = b64u(json.dumps(blob).encode())
    with pytest.raises(skr.ReleaseError, match="unsupported key wrapping"):
        skr.parse_release_response({"value": jws(payload)})


def test_key_released_to_another_tpm_does_not_unwrap(keys):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    released = skr.parse_release_response(release_answer(keys))

    def wrong_tpm(ciphertext, hash_name):
        try:
            return tpm_decrypt_with(other)(ciphertext, hash_name)
        except ValueError:
            return os.urandom(32)
    with pytest.raises(skr.ReleaseError):
        skr.unwrap_released_key(released, 256, wrong_tpm)


def guest_answer(tpm_key, jwt_text, aad=b"Transport Key"):
    inner, iv = os.urandom(32), os.urandom(12)
    sealed = AESGCM(inner).encrypt(iv, jwt_text.encode(), aad)
    env = {"EncryptedInnerKey": base64.b64encode(tpm_key.public_key().encrypt(inner, padding.PKCS1v15())).decode(),
           "EncryptionParams": {"Iv": base64.b64encode(iv).decode()},
           "AuthenticationData": base64.b64encode(sealed[-16:]).decode(),
           "Jwt": base64.b64encode(sealed[:-16]).decode()}
    return {"token": b64u(json.dumps(env).encode())}


def test_guest_token_decrypts_with_the_tpm_key(keys):
    token = jws({"iss": "https://maa", "x-ms-isolation-tee": {"x-ms-compliance-status": "azure-compliant-cvm"}})
    out = skr.decrypt_guest_token(guest_answer(keys["tpm"], token), tpm_decrypt_with(keys["tpm"]))
    assert out == token
    summary = skr.claims_summary(skr.jwt_claims(out))
    assert summary["compliance_status"] == "azure-compliant-cvm" and summary["iss"] == "https://maa"


def test_guest_token_with_other_aad_or_garbage_is_refused(keys):
    with pytest.raises(skr.ReleaseError):
        skr.decrypt_guest_token(guest_answer(keys["tpm"], jws({}), aad=b"other"), tpm_decrypt_with(keys["tpm"]))
    for body in (None, {}, {"token": 1}, {"token": b64u(b"{}")}):
        with pytest.raises(skr.ReleaseError):
            skr.decrypt_guest_token(body, tpm_decrypt_with(keys["tpm"]))


def test_token_wraps_the_passphrase_to_one_key_version(keys):
    passphrase = os.urandom(32)
    token = skr.make_token(KID, jwk(keys["data"]), passphrase, 0)
    assert token["type"] == skr.TOKEN_TYPE and token["keyslots"] == ["0"] and token["kid"] == KID
    assert passphrase.hex() not in json.dumps(token)
    parsed = skr.parse_token(json.loads(json.dumps(token)))
    from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import skrcrypto
    private = skrcrypto.load_rsa_private_der(keys["data"].private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    assert skr.unwrap_passphrase(private, parsed) == passphrase
    other = skrcrypto.load_rsa_private_der(keys["tpm"].private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(skr.ReleaseError, match="does not open"):
        skr.unwrap_passphrase(other, parsed)


def test_other_tools_tokens_are_ignored_and_damaged_ours_refused():
    assert skr.parse_token({"type": "systemd-tpm2", "keyslots": ["1"]}) is None
    with pytest.raises(skr.ReleaseError):
        skr.parse_token({"type": skr.TOKEN_TYPE, "keyslots": ["0"], "kid": "nope", "alg": "RSA-OAEP-256",
                         "wrapped_passphrase": "AA"})
    with pytest.raises(skr.ReleaseError):
        skr.parse_token({"type": skr.TOKEN_TYPE, "keyslots": ["0", "1"], "kid": KID, "alg": "RSA-OAEP-256",
                         "wrapped_passphrase": "AA"})


def test_small_or_non_rsa_keys_are_refused(keys):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()
    with pytest.raises(skr.ReleaseError, match="RSA-2048"):
        skr.make_token(KID, {"kty": "RSA", "n": b64u(small.n.to_bytes(128, "big")), "e": "AQAB"}, b"x" * 32, 0)
    with pytest.raises(skr.ReleaseError, match="RSA key"):
        skr.make_token(KID, {"kty": "EC-HSM"}, b"x" * 32, 0)


@pytest.mark.parametrize("kid,ok", [
    ("https://kv1.vault.azure.net/keys/datadisk", True), (KID, True), ("https://kv1.vault.azure.net/keys/", False),
    ("http://kv1.vault.azure.net/keys/a", False), ("https://kv1.vault.azure.net/secrets/a", False)])
def test_key_ids(kid, ok):
    if ok:
        assert skr.parse_key_id(kid)[1] == "datadisk"
    else:
        with pytest.raises(skr.ReleaseError):
            skr.parse_key_id(kid)


def test_guest_attestation_request_carries_the_tpm_evidence():
    tpm = {"ak_cert": b"c", "ak_pub": b"p", "quote": b"q", "quote_signature": b"s", "enc_key_pub": b"e",
           "enc_key_certify_info": b"i", "enc_key_certify_signature": b"t", "pcrs": {1: b"\1" * 32, 0: b"\0" * 32}}
    body = skr.guest_attestation_request(tpm, skr.snp_isolation(b"r", b"{}", b"pem"))
    info = json.loads(skr.b64u_decode(body["AttestationInfo"]))
    assert info["TpmInfo"]["PcrSet"] == [0, 1] and info["TpmInfo"]["EncKeyPub"] == "ZQ=="
    assert info["IsolationInfo"]["Type"] == "SevSnp" and info["AttestationProtocolVersion"] == "2.0"


# ------------------------------------------------------------------ hardening: what an attacker controls
def tpm2b_public(key, scheme=0x0010, sym=0x0010, exponent=0):
    """TPM2B_PUBLIC of an RSA decryption key as tpm2_readpublic -o writes it (TPM 2.0 Part 2, 12.2.4)."""
    n = key.public_key().public_numbers().n.to_bytes(256, "big")
    body = (b"\x00\x01" + b"\x00\x0b" + (0x00060072).to_bytes(4, "big") + (32).to_bytes(2, "big") + b"\xaa" * 32
            + sym.to_bytes(2, "big") + (b"\x00\x80\x00\x43" if sym != 0x0010 else b"")
            + scheme.to_bytes(2, "big") + (b"\x00\x0b" if scheme not in (0x0010, 0x0015) else b"")
            + (2048).to_bytes(2, "big") + exponent.to_bytes(4, "big") + len(n).to_bytes(2, "big") + n)
    return len(body).to_bytes(2, "big") + body


def runtime_claims(key, kid="TpmEphemeralEncryptionKey"):
    nums = key.public_key().public_numbers()
    return {"x-ms-runtime": {"keys": [{"kid": kid, "kty": "RSA", "key_ops": ["encrypt"],
                                       "n": b64u(nums.n.to_bytes(256, "big")), "e": b64u(b"\x01\x00\x01")}]}}


def test_tpm_public_area_gives_the_modulus(keys):
    n = keys["tpm"].public_key().public_numbers().n
    assert skr.tpm_rsa_public(tpm2b_public(keys["tpm"])) == (n, 65537)
    assert skr.tpm_rsa_public(tpm2b_public(keys["tpm"], scheme=0x0017, sym=0x0006, exponent=3)) == (n, 3)
    for blob in (b"", b"\x00\x23" + b"\x00" * 4, tpm2b_public(keys["tpm"])[:-10]):
        with pytest.raises(skr.ReleaseError):
            skr.tpm_rsa_public(blob)


def test_maa_token_must_name_this_boots_tpm_key(keys):
    n, e = keys["tpm"].public_key().public_numbers().n, 65537
    skr.check_runtime_key(runtime_claims(keys["tpm"]), n, e)
    skr.check_runtime_key({"x-ms-isolation-tee": runtime_claims(keys["tpm"])}, n, e)
    # a token (replayed, or from another VM) bound to another key: Key Vault would wrap the key to THAT key
    with pytest.raises(skr.ReleaseError, match="not this boot's TPM key"):
        skr.check_runtime_key(runtime_claims(keys["data"]), n, e)
    both = runtime_claims(keys["tpm"])
    both["x-ms-isolation-tee"] = runtime_claims(keys["data"])
    with pytest.raises(skr.ReleaseError, match="not this boot's TPM key"):
        skr.check_runtime_key(both, n, e)
    for claims in ({}, runtime_claims(keys["tpm"], kid="HCLAkPub"), {"x-ms-runtime": {"keys": "x"}},
                   {"x-ms-runtime": []}):
        with pytest.raises(skr.ReleaseError, match="names no"):
            skr.check_runtime_key(claims, n, e)


def test_a_disks_token_may_only_name_the_configured_vault_and_key():
    configured = "https://kv1.vault.azure.net/keys/datadisk"
    assert skr.same_key(KID, configured) and skr.same_key("https://KV1.vault.azure.net/keys/DataDisk/v9", configured)
    for kid in ("https://evil.example/keys/datadisk/v1", "https://kv1.vault.azure.net.evil.example/keys/datadisk",
                "https://kv1.vault.azure.net/keys/otherkey/v1", "not a kid", None):
        assert not skr.same_key(kid, configured)


def test_untrusted_json_is_bounded_in_size_and_depth():
    assert skr.loads_bounded(b'{"a": ["[[[[", {"b": "\\"{{"}]}', "x") == {"a": ["[[[[", {"b": '"{{'}]}
    with pytest.raises(skr.ReleaseError, match="nests deeper"):
        skr.loads_bounded("[" * 100000 + "]" * 100000, "x")       # json.loads alone: RecursionError, not ValueError
    with pytest.raises(skr.ReleaseError, match="larger than"):
        skr.loads_bounded(b" " * (skr.MAX_RESPONSE + 1), "x")
    for bad in (b"[1]", b"\xff", b"{", '"\\"' * 1000):
        with pytest.raises(skr.ReleaseError):
            skr.loads_bounded(bad, "x")
    deep = b64u(("{" + '"a":{' * 40 + "}" * 41).encode())
    with pytest.raises(skr.ReleaseError, match="nests deeper"):
        skr.jwt_claims("e30.%s.c2ln" % deep)


def test_oversized_wrapped_key_is_refused_before_any_work(keys):
    released = {"enc": "CKM_RSA_AES_KEY_WRAP", "ciphertext": b"\0" * (256 + skr.MAX_WRAPPED_KEY + 8)}

    def never(*_args):
        raise AssertionError("the TPM must not be asked")
    with pytest.raises(skr.ReleaseError, match="longer than"):
        skr.unwrap_released_key(released, 256, never)


def private_of(key):
    from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import skrcrypto
    return skrcrypto.load_rsa_private_der(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def luks_meta(**over):
    """luksDump --dump-json-metadata of a volume the role formats (one keyslot, one digest, one segment)."""
    area = {"type": "raw", "encryption": "aes-xts-plain64", "key_size": 64, "offset": "32768"}
    meta = {"keyslots": {"0": {"type": "luks2", "key_size": 64, "area": area}},
            "tokens": {}, "segments": {"0": {"type": "crypt", "offset": "16777216", "encryption": "aes-xts-plain64"}},
            "digests": {"0": {"type": "pbkdf2", "keyslots": ["0"], "segments": ["0"], "hash": "sha256",
                              "iterations": 1000, "salt": "c2FsdA==", "digest": "ZGlnZXN0"}}}
    meta.update(over)
    return meta


def test_only_a_token_made_with_the_released_key_for_this_header_opens(keys):
    private, passphrase = private_of(keys["data"]), os.urandom(32)
    binding = skr.header_binding(luks_meta())
    token = skr.parse_token(json.loads(json.dumps(skr.make_token(KID, jwk(keys["data"]), passphrase, 0, private,
                                                                 binding))))
    assert skr.open_token(private, token, binding) == passphrase
    # whoever writes the disk and knows the PUBLIC key can wrap a passphrase of their own choosing
    forged = skr.parse_token(skr.make_token(KID, jwk(keys["data"]), b"attacker-known" * 2, 0))
    assert skr.unwrap_passphrase(private, forged) == b"attacker-known" * 2
    with pytest.raises(skr.ReleaseError, match="MAC does not verify"):
        skr.open_token(private, forged, binding)
    for field, value in (("kid", KID[:-1] + "0"), ("keyslot", 1), ("mac", b"\0" * 32)):
        with pytest.raises(skr.ReleaseError, match="MAC does not verify"):
            skr.open_token(private, dict(token, **{field: value}), binding)
    # our genuine token moved to a header whose volume key someone else chose (another digest)
    other = luks_meta(digests={"0": dict(luks_meta()["digests"]["0"], salt="b3RoZXI=", digest="b3RoZXI=")})
    with pytest.raises(skr.ReleaseError, match="MAC does not verify"):
        skr.open_token(private, token, skr.header_binding(other))
    with pytest.raises(skr.ReleaseError, match="not the key version"):
        skr.make_token(KID, jwk(keys["data"]), passphrase, 0, private_of(keys["tpm"]))


def test_luks_headers_that_open_with_any_passphrase_or_in_plaintext_are_refused():
    assert skr.luks_header_problem(luks_meta(), 0) is None
    null_slot = luks_meta()
    null_slot["keyslots"]["1"] = {"type": "luks2", "area": {"type": "raw", "encryption": "cipher_null-ecb"}}
    null_segment = luks_meta(segments={"0": {"type": "crypt", "encryption": "cipher_null-ecb"}})
    two_digests = luks_meta()
    two_digests["digests"]["1"] = dict(two_digests["digests"]["0"], keyslots=["1"])
    for meta, problem in ((null_slot, "keyslot 1 is not aes-xts"), (null_segment, "segment 0 is not aes-xts"),
                          (two_digests, "exactly one digest"), (luks_meta(segments={}), "no segments"),
                          (luks_meta(keyslots="x"), "no segments or keyslots"),
                          (luks_meta(digests={"0": dict(luks_meta()["digests"]["0"], keyslots=["3"])}), "one digest")):
        assert problem in skr.luks_header_problem(meta, 0)
    assert "keyslot 2 does not exist" in skr.luks_header_problem(luks_meta(), 2)
