# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers fuzzed for a bounded TIME (ROBUSTNESS_FUZZ_SECONDS per parser, default 6 s; seed printed and settable
with ROBUSTNESS_FUZZ_SEED), complementing the example-bounded hypothesis tests in
tests/unit/plugins/module_utils/_attestation/test_fuzz.py, which fuzz TPM attest only with random bytes (here:
mutations of a REAL TPM quote) and JWTs only as random text (here: structure-aware mutations of a correctly signed
RS256 token, which must also never verify once a signed byte changed). HCL / SNP / TDX get the same time-bounded
mutation loop over the real Azure vectors. Only the collection's AttestationError may escape."""
from __future__ import annotations

import base64
import json
import os
import random
import sys
import time

import pytest

from helpers import collections_path

sys.path.insert(0, collections_path())

from ansible_collections.confidential.azure.plugins.module_utils._attestation import hcl, maa, snp, tdx, tpm  # noqa
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import AttestationError  # noqa
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore  # noqa
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth  # noqa
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V  # noqa
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

SECONDS = float(os.environ.get("ROBUSTNESS_FUZZ_SECONDS", "6"))
SEED = int(os.environ.get("ROBUSTNESS_FUZZ_SEED", str(int(time.time()))))
HCL = V.read(*V.TRUSTEE + ("test_data", "az-snp-vtpm", "hcl-report.bin"))
QUOTE = V.read(*V.TRUSTEE + ("test_data", "az-tdx-vtpm", "td-quote.bin"))
TPM_ATTEST = base64.b64decode(V.snp_evidence_bin()["tpm_quote"]["message"])
STORE = TrustStore()
ISSUER = "https://fuzz.attest.azsim.local"


def mutate(rng, base):
    b = bytearray(base)
    for dummy in range(rng.randint(1, 8)):
        op = rng.random()
        if op < 0.6 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op < 0.8:
            del b[rng.randrange(len(b) + 1):]
        elif op < 0.9 and b:
            i = rng.randrange(len(b))
            b[i:i] = bytes(rng.randrange(256) for dummy in range(rng.randint(1, 16)))
        else:
            # 32-bit little-endian length/size fields set to extremes
            i = rng.randrange(max(1, len(b) - 4))
            b[i:i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x00\x00\x00\x80"])
    return bytes(b)


def run_for(fn, base, label):
    rng = random.Random("%s-%s" % (SEED, label))
    count, deadline = 0, time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        data = mutate(rng, base)
        try:
            fn(data)
        except AttestationError:
            pass
        except Exception as exc:  # pylint: disable=broad-except
            pytest.fail("%s: %r escaped for input %s (seed %s)" % (label, exc, data[:64].hex(), SEED))
        count += 1
    print("%s: %d inputs in %.0f s (seed %s)" % (label, count, SECONDS, SEED))
    assert count > 0


def test_hcl_parser_time_bounded():
    run_for(hcl.parse, HCL, "hcl")


def test_snp_parser_time_bounded():
    run_for(snp.parse, HCL[0x20:0x20 + 1184], "snp")


def test_tdx_parser_and_verify_time_bounded():
    run_for(lambda d: tdx.verify(tdx.parse_quote(d), STORE.intel_roots), QUOTE, "tdx")


def test_tpm_attest_parser_on_a_real_quote_time_bounded():
    tpm.parse_attest(TPM_ATTEST)  # the unmutated quote parses
    run_for(tpm.parse_attest, TPM_ATTEST, "tpm")


def _b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_jwt_structure_aware_time_bounded():
    key, cert = synth.maa_signer("fuzz")
    der = cert.public_bytes(serialization.Encoding.DER)
    jwks = {"keys": [{"kid": "k1", "kty": "RSA", "x5c": [base64.b64encode(der).decode()]}]}
    now = int(time.time())
    header = {"alg": "RS256", "kid": "k1", "typ": "JWT", "jku": ISSUER + "/certs"}
    payload = {"iss": ISSUER, "iat": now, "nbf": now, "exp": now + 3600, "x-ms-attestation-type": "sevsnpvm",
               "nonce": "abc"}

    def sign(h, p):
        signing = (_b64u(h) + "." + _b64u(p)).encode()
        return signing.decode() + "." + _b64u(key.sign(signing, padding.PKCS1v15(), hashes.SHA256()))

    good = sign(json.dumps(header).encode(), json.dumps(payload).encode())
    assert maa.verify_token(good, jwks, ISSUER, nonce="abc")["iss"] == ISSUER  # the baseline verifies
    rng = random.Random("%s-jwt" % SEED)
    count, deadline = 0, time.monotonic() + SECONDS
    h_raw, p_raw = json.dumps(header).encode(), json.dumps(payload).encode()
    while time.monotonic() < deadline:
        kind = rng.randrange(4)
        if kind == 0:  # mutate the compact string itself (any byte of header, payload or signature)
            s = bytearray(good.encode())
            i = rng.randrange(len(s))
            s[i] = rng.choice(b"ABCabc019-_.=+/ {\"\x00\xff")
            token = s.decode("latin-1")
            resigned = False
        elif kind == 1:  # mutate the JSON bytes of header or payload, then sign correctly
            if rng.random() < 0.5:
                token, resigned = sign(mutate(rng, h_raw), p_raw), True
            else:
                token, resigned = sign(h_raw, mutate(rng, p_raw)), True
        elif kind == 2:  # well-formed JSON with hostile values, signed
            field = rng.choice(["alg", "kid", "jku", "iss", "exp", "nbf", "nonce"])
            value = rng.choice([None, 0, -1, 10 ** 30, "", "none", "HS256", [], {}, "x" * 5000, True, 1.5])
            h, p = dict(header), dict(payload)
            (h if field in ("alg", "kid", "jku") else p)[field] = value
            token, resigned = sign(json.dumps(h).encode(), json.dumps(p).encode()), True
        else:  # segment surgery
            parts = good.split(".")
            rng.shuffle(parts)
            token = ".".join(parts[:rng.randint(0, 4)])
            resigned = False
        try:
            claims = maa.verify_token(token, jwks, ISSUER, nonce="abc")
        except AttestationError:
            claims = None
        except Exception as exc:  # pylint: disable=broad-except
            pytest.fail("jwt: %r escaped for %r (seed %s)" % (exc, token[:200], SEED))
        if claims is not None and token != good and not resigned:
            # an unsigned change verified: only acceptable if the change is invisible after base64url decoding
            h2, p2 = maa.decode_unverified(token)
            assert (h2, p2) == (header, payload), token[:200]
        count += 1
    print("jwt: %d tokens in %.0f s (seed %s)" % (count, SECONDS, SEED))
    assert count > 0
