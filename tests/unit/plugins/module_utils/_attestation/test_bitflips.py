# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sweeps: a bit flip anywhere in the signed or bound bytes of REAL Azure evidence fails the verdict."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64

from ansible_collections.confidential.azure.plugins.module_utils._attestation import hcl
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.plugins.module_utils._attestation.verify import verify_evidence as verify_evidence_strict
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

# The crypto checks under test predate issue 13's verdict defaults (provenance required, 16-byte nonce,
# nonce binding required); test_verify_provenance.py covers those. Options given by a test win.
PRE_ISSUE13_DEFAULTS = {"require_nonce_binding": False, "insecure_skip_provenance": True, "min_nonce_bytes": 9}


def verify_evidence(evidence, nonce, trust=None, options=None):
    return verify_evidence_strict(evidence, nonce, trust, dict(PRE_ISSUE13_DEFAULTS, **(options or {})))


STORE = TrustStore()


def flipped(b64, offset, bit):
    raw = bytearray(base64.b64decode(b64))
    raw[offset] ^= 1 << bit
    return base64.b64encode(bytes(raw)).decode()


def sweep(make, field, offsets):
    base = make()
    assert verify_evidence(base, V.CHALLENGE_HEX, STORE).verdict == "pass"
    passed = []
    for i, off in enumerate(offsets):
        ev = make()
        if field == "tpm_quote.message":
            ev["tpm_quote"] = dict(ev["tpm_quote"], message=flipped(ev["tpm_quote"]["message"], off, i % 8))
        else:
            ev[field] = flipped(ev[field], off, i % 8)
        if verify_evidence(ev, V.CHALLENGE_HEX, STORE).verdict != "fail":
            passed.append(off)
    return passed


def claims_end(make):
    rep = hcl.parse(base64.b64decode(make()["hcl_report"]))
    return 0x4D4 + len(rep.claims_bytes)


def test_snp_hcl_report_signed_report_and_claims():
    # SNP report signed bytes [0x20, 0x2C0), signature [0x2C0, 0x350), IGVM header and claims
    offsets = list(range(0x20, 0x350, 5)) + list(range(0x4C8, claims_end(V.snp_evidence_bin), 9))
    assert sweep(V.snp_evidence_bin, "hcl_report", offsets) == []


def test_tdx_hcl_report_bound_fields_and_claims():
    # TDREPORT REPORTDATA (0xA0..0xE0) and MRTD (0x230..0x260) are compared with the signed quote; claims are hashed
    offsets = list(range(0xA0, 0xE0, 3)) + list(range(0x230, 0x260, 3)) + \
        list(range(0x4C8, claims_end(V.tdx_evidence_bin), 9))
    assert sweep(V.tdx_evidence_bin, "hcl_report", offsets) == []


def test_td_quote_signed_header_body_signature_and_qe_report():
    offsets = list(range(0, 632, 4)) + list(range(636, 636 + 128 + 6 + 384 + 64 + 2 + 32, 7))
    assert sweep(V.tdx_evidence_bin, "td_quote", offsets) == []


def test_tpm_quote_message():
    n = len(base64.b64decode(V.snp_evidence_bin()["tpm_quote"]["message"]))
    assert sweep(V.snp_evidence_bin, "tpm_quote.message", range(0, n)) == []
