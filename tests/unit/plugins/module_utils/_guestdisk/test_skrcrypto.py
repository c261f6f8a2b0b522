# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest's stdlib crypto checked against the cryptography package (AES, RFC 5649, GCM, DER, RSA-OAEP)."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from ansible_collections.confidential.azure.plugins.module_utils._guestdisk import skrcrypto as c


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_aes_matches_fips197_vector():
    key = bytes(range(32))
    plain = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert c.AES(key).encrypt_block(plain).hex() == "8ea2b7ca516745bfeafc49904b496089"
    assert c.AES(key).decrypt_block(bytes.fromhex("8ea2b7ca516745bfeafc49904b496089")) == plain


@pytest.mark.parametrize("size", [16, 24, 32])
def test_aes_matches_the_cryptography_package(size):
    key, block = os.urandom(size), os.urandom(16)
    expected = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)
    assert c.AES(key).encrypt_block(block) == expected
    assert c.AES(key).decrypt_block(expected) == block


def test_aes_rejects_a_bad_key_length():
    with pytest.raises(c.CryptoError):
        c.AES(b"short")


@pytest.mark.parametrize("length", [1, 7, 8, 9, 32, 1217])
def test_kwp_unwraps_what_rfc5649_wraps(length):
    kek, data = os.urandom(32), os.urandom(length)
    assert c.aes_kwp_unwrap(kek, aes_key_wrap_with_padding(kek, data)) == data


def test_kwp_rejects_a_wrong_kek_and_tampering():
    kek, data = os.urandom(32), os.urandom(40)
    wrapped = aes_key_wrap_with_padding(kek, data)
    with pytest.raises(c.CryptoError):
        c.aes_kwp_unwrap(os.urandom(32), wrapped)
    with pytest.raises(c.CryptoError):
        c.aes_kwp_unwrap(kek, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
    with pytest.raises(c.CryptoError):
        c.aes_kwp_unwrap(kek, wrapped[:12])


@pytest.mark.parametrize("iv_len", [12, 16])
def test_gcm_decrypts_and_authenticates(iv_len):
    key, iv, plain = os.urandom(32), os.urandom(iv_len), os.urandom(333)
    sealed = AESGCM(key).encrypt(iv, plain, b"Transport Key")
    assert c.aes_gcm_decrypt(key, iv, sealed[:-16], sealed[-16:], b"Transport Key") == plain
    with pytest.raises(c.CryptoError):
        c.aes_gcm_decrypt(key, iv, sealed[:-16], sealed[-16:], b"other aad")
    with pytest.raises(c.CryptoError):
        c.aes_gcm_decrypt(key, iv, bytes([sealed[0] ^ 1]) + sealed[1:-16], sealed[-16:], b"Transport Key")


def test_pkcs8_and_pkcs1_rsa_keys_load(rsa_key):
    nums = rsa_key.private_numbers()
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        der = rsa_key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        key = c.load_rsa_private_der(der)
        assert (key.n, key.d) == (nums.public_numbers.n, nums.d)


def test_der_that_is_not_an_rsa_key_is_refused():
    for bad in (b"", b"\x30\x03\x02\x01\x00", b"\x04\x00", b"\x30\x82\xff\xff"):
        with pytest.raises(c.CryptoError):
            c.load_rsa_private_der(bad)


@pytest.mark.parametrize("hash_name,algo", [("sha1", hashes.SHA1), ("sha256", hashes.SHA256)])
def test_oaep_interoperates_both_ways(rsa_key, hash_name, algo):
    pad = padding.OAEP(mgf=padding.MGF1(algorithm=algo()), algorithm=algo(), label=None)
    key = c.load_rsa_private_der(rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    secret = os.urandom(32)
    assert c.oaep_decrypt(key, rsa_key.public_key().encrypt(secret, pad), hash_name) == secret
    nums = rsa_key.public_key().public_numbers()
    assert rsa_key.decrypt(c.oaep_encrypt(nums.n, nums.e, secret, hash_name), pad) == secret


def test_oaep_refuses_a_modified_ciphertext_with_one_error(rsa_key):
    key = c.load_rsa_private_der(rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    nums = rsa_key.public_key().public_numbers()
    ct = bytearray(c.oaep_encrypt(nums.n, nums.e, b"x" * 32))
    ct[100] ^= 1
    with pytest.raises(c.CryptoError, match="decryption error"):
        c.oaep_decrypt(key, bytes(ct))
    with pytest.raises(c.CryptoError, match="decryption error"):
        c.oaep_decrypt(key, bytes(ct[:-1]))
