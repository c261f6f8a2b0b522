# -*- coding: utf-8 -*-
# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The symmetric and RSA maths of secure key release, in plain Python 3.8 (stdlib only).

It runs in the guest at boot, where there is no pip and no ``cryptography`` package: the boot agent
(``_guestdisk.unlockagent``) is copied there next to this file.  Everything here is checked in the unit
tests against the ``cryptography`` package (FIPS 197 AES, RFC 5649 key wrap with padding, NIST SP 800-38D
GCM, RFC 8017 RSA-OAEP).

Secrets live only in process memory (``bytes``/``int``); nothing here touches a file.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import hashlib
import hmac
import os


class CryptoError(ValueError):
    """Malformed or unauthentic input (never says which byte was wrong)."""


# ------------------------------------------------------------------ AES (FIPS 197)
def _xtime(a):
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _gmul(a, b):
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = _xtime(a)
        b >>= 1
    return out


def _make_sbox():
    # log/antilog tables over the generator 3 make the field inverse O(1) (the guest's Python may run emulated)
    exp, log = [0] * 255, [0] * 256
    x = 1
    for i in range(255):
        exp[i], log[x] = x, i
        x ^= _xtime(x)
    sbox = []
    for a in range(256):
        inv = exp[(255 - log[a]) % 255] if a else 0
        s = inv
        for shift in range(1, 5):
            s ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        sbox.append(s ^ 0x63)
    inv_sbox = [0] * 256
    for i, s in enumerate(sbox):
        inv_sbox[s] = i
    return sbox, inv_sbox


_SBOX, _INV_SBOX = _make_sbox()


def _tables(box, coefs):
    """Four 256-entry tables of 32-bit column words: box[x] times the MixColumns (or InvMixColumns) column
    ``coefs``, rotated by 0-3 bytes (the classic "T-table" form: one round = 16 lookups and XORs on 4 words)."""
    t0 = [(_gmul(box[x], coefs[0]) << 24) | (_gmul(box[x], coefs[1]) << 16) | (_gmul(box[x], coefs[2]) << 8)
          | _gmul(box[x], coefs[3]) for x in range(256)]
    rot = [t0]
    for _i in range(3):
        rot.append([((w >> 8) | (w << 24)) & 0xFFFFFFFF for w in rot[-1]])
    return rot


# Built at import, in well under a second even when the guest's CPU is emulated (the agent runs at boot).
_TE = _tables(_SBOX, (2, 1, 1, 3))
_TD = _tables(_INV_SBOX, (14, 9, 13, 11))


def _words(block):
    return [int.from_bytes(block[i:i + 4], "big") for i in (0, 4, 8, 12)]


class AES(object):
    """AES block cipher (128/192/256-bit keys), one 16-byte block at a time (FIPS 197; the decryption is its
    "equivalent inverse cipher", section 5.3.5)."""

    def __init__(self, key):
        if len(key) not in (16, 24, 32):
            raise CryptoError("AES key must be 16, 24 or 32 bytes")
        self.rounds = {16: 10, 24: 12, 32: 14}[len(key)]
        enc = [_words(bytes(rk)) for rk in self._expand(bytes(key))]
        self._enc = enc
        inv_mix = [[_TD[0][_SBOX[w >> 24]] ^ _TD[1][_SBOX[(w >> 16) & 255]] ^ _TD[2][_SBOX[(w >> 8) & 255]]
                    ^ _TD[3][_SBOX[w & 255]] for w in rk] for rk in enc[1:-1]]
        self._dec = [enc[-1]] + inv_mix[::-1] + [enc[0]]

    def _expand(self, key):
        nk = len(key) // 4
        words = [list(key[4 * i:4 * i + 4]) for i in range(nk)]
        rcon = 1
        for i in range(nk, 4 * (self.rounds + 1)):
            t = list(words[i - 1])
            if i % nk == 0:
                t = [_SBOX[b] for b in t[1:] + t[:1]]
                t[0] ^= rcon
                rcon = _xtime(rcon)
            elif nk > 6 and i % nk == 4:
                t = [_SBOX[b] for b in t]
            words.append([a ^ b for a, b in zip(words[i - nk], t)])
        return [sum(words[4 * r:4 * r + 4], []) for r in range(self.rounds + 1)]

    def encrypt_block(self, block):
        t0, t1, t2, t3 = _TE
        rk = self._enc
        s0, s1, s2, s3 = [w ^ k for w, k in zip(_words(bytes(block)), rk[0])]
        for r in range(1, self.rounds):
            k = rk[r]
            s0, s1, s2, s3 = (
                t0[s0 >> 24] ^ t1[(s1 >> 16) & 255] ^ t2[(s2 >> 8) & 255] ^ t3[s3 & 255] ^ k[0],
                t0[s1 >> 24] ^ t1[(s2 >> 16) & 255] ^ t2[(s3 >> 8) & 255] ^ t3[s0 & 255] ^ k[1],
                t0[s2 >> 24] ^ t1[(s3 >> 16) & 255] ^ t2[(s0 >> 8) & 255] ^ t3[s1 & 255] ^ k[2],
                t0[s3 >> 24] ^ t1[(s0 >> 16) & 255] ^ t2[(s1 >> 8) & 255] ^ t3[s2 & 255] ^ k[3])
        return _last_round(_SBOX, (s0, s1, s2, s3), (0, 1, 2, 3), rk[self.rounds])

    def decrypt_block(self, block):
        t0, t1, t2, t3 = _TD
        rk = self._dec
        s0, s1, s2, s3 = [w ^ k for w, k in zip(_words(bytes(block)), rk[0])]
        for r in range(1, self.rounds):
            k = rk[r]
            s0, s1, s2, s3 = (
                t0[s0 >> 24] ^ t1[(s3 >> 16) & 255] ^ t2[(s2 >> 8) & 255] ^ t3[s1 & 255] ^ k[0],
                t0[s1 >> 24] ^ t1[(s0 >> 16) & 255] ^ t2[(s3 >> 8) & 255] ^ t3[s2 & 255] ^ k[1],
                t0[s2 >> 24] ^ t1[(s1 >> 16) & 255] ^ t2[(s0 >> 8) & 255] ^ t3[s3 & 255] ^ k[2],
                t0[s3 >> 24] ^ t1[(s2 >> 16) & 255] ^ t2[(s1 >> 8) & 255] ^ t3[s0 & 255] ^ k[3])
        return _last_round(_INV_SBOX, (s0, s1, s2, s3), (0, 3, 2, 1), rk[self.rounds])


def _last_round(box, s, order, k):
    """SubBytes + (Inv)ShiftRows + AddRoundKey: byte j of output column c comes from column c + order[j]."""
    out = b""
    for c in range(4):
        w = ((box[s[c] >> 24] << 24) | (box[(s[(c + order[1]) % 4] >> 16) & 255] << 16)
             | (box[(s[(c + order[2]) % 4] >> 8) & 255] << 8) | box[s[(c + order[3]) % 4] & 255])
        out += (w ^ k[c]).to_bytes(4, "big")
    return out


# ------------------------------------------------------------------ AES key wrap with padding (RFC 5649)
_KWP_AIV = b"\xa6\x59\x59\xa6"


def aes_kwp_unwrap(kek, wrapped):
    """RFC 5649 unwrap; raises CryptoError when the integrity check fails."""
    wrapped = bytes(wrapped)
    if len(wrapped) < 16 or len(wrapped) % 8:
        raise CryptoError("wrapped key has an invalid length")
    aes = AES(kek)
    if len(wrapped) == 16:
        plain = aes.decrypt_block(wrapped)
        a, blocks = plain[:8], [plain[8:]]
    else:
        n = len(wrapped) // 8 - 1
        a = wrapped[:8]
        blocks = [wrapped[8 * (i + 1):8 * (i + 2)] for i in range(n)]
        for j in range(5, -1, -1):
            for i in range(n, 0, -1):
                t = n * j + i
                a = (int.from_bytes(a, "big") ^ t).to_bytes(8, "big")
                b = aes.decrypt_block(a + blocks[i - 1])
                a, blocks[i - 1] = b[:8], b[8:]
    data = b"".join(blocks)
    mli = int.from_bytes(a[4:], "big")
    ok = hmac.compare_digest(a[:4], _KWP_AIV) and len(data) - 8 < mli <= len(data)
    if not ok or any(data[mli:]):
        raise CryptoError("key unwrap integrity check failed")
    return data[:mli]


# ------------------------------------------------------------------ AES-GCM (NIST SP 800-38D), decrypt only
def _ghash_tables(h):
    """Multiplication by H as 16 byte-indexed tables: X*H is the XOR of one entry per byte of X (the product is
    linear in X). Built from H*x^k (GCM's bit-reflected order: the most significant bit is x^0) without a single
    full multiplication."""
    r = 0xE1 << 120
    basis, v = [], h
    for _k in range(128):
        basis.append(v)
        v = (v >> 1) ^ r if v & 1 else v >> 1
    tables = []
    for j in range(16):
        t = [0] * 256
        for b in range(1, 256):
            low = b & -b
            t[b] = t[b ^ low] ^ basis[8 * j + 8 - low.bit_length()]
        tables.append(t)
    return tables


def _ghash(h, aad, ct):
    tables = _ghash_tables(h)

    def times_h(x):
        z = 0
        for t, b in zip(tables, x.to_bytes(16, "big")):
            z ^= t[b]
        return z

    def blocks(data):
        for i in range(0, len(data), 16):
            yield int.from_bytes(data[i:i + 16].ljust(16, b"\0"), "big")
    y = 0
    for b in list(blocks(aad)) + list(blocks(ct)):
        y = times_h(y ^ b)
    lengths = ((len(aad) * 8) << 64) | (len(ct) * 8)
    return times_h(y ^ lengths)


def _ctr(aes, counter, data):
    out = bytearray()
    for i in range(0, len(data), 16):
        counter = counter[:12] + ((int.from_bytes(counter[12:], "big") + 1) & 0xFFFFFFFF).to_bytes(4, "big")
        ks = aes.encrypt_block(counter)
        out += bytes(a ^ b for a, b in zip(data[i:i + 16], ks))
    return bytes(out)


def aes_gcm_decrypt(key, iv, ciphertext, tag, aad=b""):
    """Plaintext of an AES-GCM message; CryptoError when the tag does not authenticate."""
    if len(tag) != 16:
        raise CryptoError("GCM tag must be 16 bytes")
    aes = AES(key)
    h = int.from_bytes(aes.encrypt_block(b"\0" * 16), "big")
    if len(iv) == 12:
        j0 = bytes(iv) + b"\0\0\0\1"
    else:
        j0 = _ghash(h, b"", bytes(iv)).to_bytes(16, "big")
    s = _ghash(h, bytes(aad), bytes(ciphertext))
    expected = bytes(a ^ b for a, b in zip(aes.encrypt_block(j0), s.to_bytes(16, "big")))
    if not hmac.compare_digest(expected, bytes(tag)):
        raise CryptoError("GCM authentication failed")
    return _ctr(aes, j0, bytes(ciphertext))


# ------------------------------------------------------------------ DER: PKCS#8 / PKCS#1 RSA private keys
def _der_item(data, pos):
    if pos + 2 > len(data):
        raise CryptoError("truncated DER")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise CryptoError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise CryptoError("truncated DER")
    return tag, data[pos:pos + length], pos + length


def _der_children(data):
    pos, out = 0, []
    while pos < len(data):
        tag, value, pos = _der_item(data, pos)
        out.append((tag, value))
    return out


RSA_OID = bytes.fromhex("2a864886f70d010101")


class RSAPrivateKey(object):
    """n, e, d, p, q of an RSA key (CRT used for decryption)."""

    def __init__(self, n, e, d, p, q):
        self.n, self.e, self.d, self.p, self.q = n, e, d, p, q
        if p * q != n:
            raise CryptoError("RSA key is inconsistent (p*q != n)")

    @property
    def size(self):
        return (self.n.bit_length() + 7) // 8

    def raw_decrypt(self, c):
        if not 0 <= c < self.n:
            raise CryptoError("ciphertext out of range")
        dp, dq = self.d % (self.p - 1), self.d % (self.q - 1)
        qinv = pow(self.q, -1, self.p)
        m1, m2 = pow(c, dp, self.p), pow(c, dq, self.q)
        return m2 + ((qinv * (m1 - m2)) % self.p) * self.q


def load_rsa_private_der(der):
    """RSA private key from PKCS#8 PrivateKeyInfo or PKCS#1 RSAPrivateKey DER."""
    tag, body, end = _der_item(bytes(der), 0)
    if tag != 0x30 or end != len(der):
        raise CryptoError("not a DER SEQUENCE")
    items = _der_children(body)
    if len(items) >= 3 and items[1][0] == 0x30 and items[2][0] == 0x04:        # PKCS#8
        alg = _der_children(items[1][1])
        if not alg or alg[0] != (0x06, RSA_OID):
            raise CryptoError("PKCS#8 key is not an RSA key")
        return load_rsa_private_der(items[2][1])
    if len(items) < 6 or any(t != 0x02 for t, _v in items[:6]):
        raise CryptoError("not an RSA private key")
    n, e, d, p, q = (int.from_bytes(v, "big") for _t, v in items[1:6])
    return RSAPrivateKey(n, e, d, p, q)


# ------------------------------------------------------------------ RSA-OAEP (RFC 8017 7.1)
_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384}


def _mgf1(seed, length, hash_fn):
    out, counter = b"", 0
    while len(out) < length:
        out += hash_fn(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def oaep_encrypt(n, e, message, hash_name="sha256", label=b"", seed=None):
    """RSAES-OAEP-ENCRYPT with MGF1 over the same hash."""
    hash_fn = _HASHES[hash_name]
    k, hlen = (n.bit_length() + 7) // 8, hash_fn().digest_size
    if len(message) > k - 2 * hlen - 2:
        raise CryptoError("message too long for RSA-OAEP")
    db = hash_fn(label).digest() + b"\0" * (k - len(message) - 2 * hlen - 2) + b"\1" + bytes(message)
    seed = os.urandom(hlen) if seed is None else seed
    masked_db = _xor(db, _mgf1(seed, k - hlen - 1, hash_fn))
    masked_seed = _xor(seed, _mgf1(masked_db, hlen, hash_fn))
    m = int.from_bytes(b"\0" + masked_seed + masked_db, "big")
    return pow(m, e, n).to_bytes(k, "big")


def oaep_decrypt(key, ciphertext, hash_name="sha256", label=b""):
    """RSAES-OAEP-DECRYPT; one error for every failure (RFC 8017 7.1.2 note)."""
    hash_fn = _HASHES[hash_name]
    k, hlen = key.size, hash_fn().digest_size
    if len(ciphertext) != k or k < 2 * hlen + 2:
        raise CryptoError("decryption error")
    em = key.raw_decrypt(int.from_bytes(ciphertext, "big")).to_bytes(k, "big")
    masked_seed, masked_db = em[1:1 + hlen], em[1 + hlen:]
    seed = _xor(masked_seed, _mgf1(masked_db, hlen, hash_fn))
    db = _xor(masked_db, _mgf1(seed, k - hlen - 1, hash_fn))
    rest = db[hlen:].lstrip(b"\0")
    good = hmac.compare_digest(db[:hlen], hash_fn(label).digest()) and em[0] == 0 and rest[:1] == b"\1"
    if not good:
        raise CryptoError("decryption error")
    return rest[1:]
