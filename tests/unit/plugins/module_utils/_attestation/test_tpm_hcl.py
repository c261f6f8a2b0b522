# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TPM quote and HCL report parsing/verification."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import hashlib
import json
import struct

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._attestation import hcl, tpm
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import ParseError, VerificationError
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

AK = synth.rsa_key("ak")
NONCE = b"n" * 32


def jwk():
    return json.loads(synth.runtime_claims(AK.public_key()))["keys"][0]


def test_quote_verifies_and_reports_selected_pcrs():
    q = synth.tpm_quote(AK, NONCE)
    att = tpm.verify_quote(q["message"], q["signature"], jwk(), NONCE, q["pcrs"])
    assert att.pcr_indices == list(range(8))
    assert att.extra_data == NONCE


def test_tpmt_signature_header_is_accepted():
    q = synth.tpm_quote(AK, NONCE)
    sig = base64.b64decode(q["signature"])
    wrapped = struct.pack(">HHH", 0x14, 0x0B, len(sig)) + sig
    tpm.verify_quote(q["message"], base64.b64encode(wrapped).decode(), jwk(), NONCE, q["pcrs"])


def test_replayed_quote_nonce_is_rejected():
    q = synth.tpm_quote(AK, NONCE)
    with pytest.raises(VerificationError) as err:
        tpm.verify_quote(q["message"], q["signature"], jwk(), b"m" * 32, q["pcrs"])
    assert err.value.check == "tpm.quote_nonce"


def test_tampered_pcr_value_is_rejected():
    q = synth.tpm_quote(AK, NONCE)
    q["pcrs"]["3"] = "00" * 32
    with pytest.raises(VerificationError) as err:
        tpm.verify_quote(q["message"], q["signature"], jwk(), NONCE, q["pcrs"])
    assert err.value.check == "tpm.pcr_digest"
    del q["pcrs"]["3"]
    with pytest.raises(VerificationError) as err:
        tpm.verify_quote(q["message"], q["signature"], jwk(), NONCE, q["pcrs"])
    assert err.value.check == "tpm.pcr_digest"


def test_unquoted_pcr_changes_do_not_matter():
    q = synth.tpm_quote(AK, NONCE)
    q["pcrs"]["15"] = "00" * 32
    tpm.verify_quote(q["message"], q["signature"], jwk(), NONCE, q["pcrs"])


@pytest.mark.parametrize("offset", range(0, 140, 7))
def test_bit_flips_in_quote_message_are_rejected(offset):
    q = synth.tpm_quote(AK, NONCE)
    msg = bytearray(base64.b64decode(q["message"]))
    if offset >= len(msg):
        return
    msg[offset] ^= 0x01
    with pytest.raises((VerificationError, ParseError)):
        tpm.verify_quote(bytes(msg), q["signature"], jwk(), NONCE, q["pcrs"])


def test_bit_flip_in_signature_is_rejected():
    q = synth.tpm_quote(AK, NONCE)
    sig = bytearray(base64.b64decode(q["signature"]))
    sig[100] ^= 0x80
    with pytest.raises(VerificationError) as err:
        tpm.verify_quote(q["message"], bytes(sig), jwk(), NONCE, q["pcrs"])
    assert err.value.check == "tpm.quote_signature"


def test_real_trustee_quote_selects_24_pcrs():
    q = json.loads(V.read(*V.TRUSTEE + ("test_data", "az-snp-vtpm", "tpm-quote-v1.json")))
    att = tpm.parse_attest(bytes.fromhex(q["message"]))
    assert att.extra_data == b"challenge"
    assert att.selections == [(0x000B, list(range(24)))]


def test_hcl_rejects_bad_magic_version_type_and_truncation():
    claims = synth.runtime_claims(AK.public_key())
    good = synth.hcl_report(b"\0" * 1184, claims)
    assert hcl.parse(good).tee == "snp"
    for mutate in (lambda b: b"XCLA" + b[4:], lambda b: b[:4] + struct.pack("<I", 3) + b[8:],
                   lambda b: b[:0x4C8] + struct.pack("<I", 3) + b[0x4CC:], lambda b: b[:0x4D4 + 5],
                   lambda b: b[:0x4D0] + struct.pack("<I", 5000) + b[0x4D4:], lambda b: b[:0x100]):
        with pytest.raises(ParseError):
            hcl.parse(mutate(good))


def test_hcl_claims_binding_requires_zero_tail():
    claims = synth.runtime_claims(AK.public_key())
    rd = hashlib.sha256(claims).digest() + b"\0" * 31 + b"\1"
    hw = bytearray(1184)
    hw[0x50:0x90] = rd
    rep = hcl.parse(synth.hcl_report(bytes(hw), claims))
    with pytest.raises(VerificationError) as err:
        rep.verify_claims_binding()
    assert err.value.check == "hcl.claims_binding"


def test_hcl_tdx_report_data_offset():
    claims = synth.runtime_claims(AK.public_key())
    rd = hashlib.sha256(claims).digest() + b"\0" * 32
    rep = hcl.parse(synth.hcl_report(synth.tdreport(rd), claims, report_type=4))
    assert rep.tee == "tdx" and rep.verify_claims_binding()


def test_hcl_tolerates_missing_and_extra_claim_keys():
    claims = json.dumps({"keys": [], "vm-configuration": {"new-key": 1}, "extra": True}).encode()
    rep = hcl.parse(synth.hcl_report(b"\0" * 1184, claims))
    assert rep.ak_pub is None and rep.user_data is None
