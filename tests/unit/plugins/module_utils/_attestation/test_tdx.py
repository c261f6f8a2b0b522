# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TDX quote verification: real Azure quotes (bit flips) and a synthetic Intel-like chain."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._attestation import tdx
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import (
    AttestationError, ParseError, VerificationError)
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.plugins.module_utils._attestation.verify import verify_evidence as verify_evidence_strict
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

# The crypto checks under test predate issue 13's verdict defaults (provenance required, 16-byte nonce,
# nonce binding required); test_verify_provenance.py covers those. Options given by a test win.
PRE_ISSUE13_DEFAULTS = {"require_nonce_binding": False, "insecure_skip_provenance": True}


def verify_evidence(evidence, nonce, trust=None, options=None):
    return verify_evidence_strict(evidence, nonce, trust, dict(PRE_ISSUE13_DEFAULTS, **(options or {})))


REAL = V.read(*V.TRUSTEE + ("test_data", "az-tdx-vtpm", "td-quote.bin"))
ROOTS = TrustStore().intel_roots
CHAIN = synth.IntelChain()


def failed(res):
    return [c["name"] for c in res.checks if c["result"] == "fail"]


def flip(data, offset, bit=0):
    b = bytearray(data)
    b[offset] ^= 1 << bit
    return bytes(b)


def test_real_quote_fields():
    q = tdx.parse_quote(REAL)
    assert q.version == 4 and not q.debug
    assert len(q.mrtd) == 48 and len(q.report_data) == 64


# header, body (mrtd, td_attributes, report_data, rtmr), signature, attestation key, QE report, QE sig, auth data
@pytest.mark.parametrize("offset", [0, 8, 20, 47, 48 + 16, 48 + 120, 48 + 140, 48 + 400, 48 + 530, 48 + 583])
def test_bit_flip_in_signed_quote_is_rejected(offset):
    with pytest.raises(AttestationError) as err:
        tdx.verify(flip(REAL, offset, offset % 8), ROOTS)
    assert err.value.check in ("tdx.quote_signature", "tdx.parse")


def test_bit_flip_in_quote_signature_attestation_key_and_qe_report_is_rejected():
    sig = 48 + 584 + 4
    for offset, checks in ((sig + 3, ("tdx.quote_signature",)), (sig + 40, ("tdx.quote_signature",)),
                           (sig + 70, ("tdx.quote_signature",)), (sig + 134 + 10, ("tdx.qe_report_signature",)),
                           (sig + 134 + 320, ("tdx.qe_report_signature",)),
                           (sig + 134 + 384 + 5, ("tdx.qe_report_signature",)),
                           (sig + 134 + 384 + 64 + 2 + 3, ("tdx.qe_report_binding",))):
        with pytest.raises(AttestationError) as err:
            tdx.verify(flip(REAL, offset), ROOTS)
        assert err.value.check in checks + ("tdx.parse",), (offset, err.value.check, str(err.value))


def test_pck_chain_needs_the_intel_root():
    with pytest.raises(VerificationError) as err:
        tdx.verify(REAL, TrustStore(builtin=False).intel_roots)
    assert err.value.check == "tdx.pck_chain"
    with pytest.raises(VerificationError) as err:
        tdx.verify(REAL, TrustStore(builtin=False, extra_intel_roots=CHAIN.roots).intel_roots)
    assert err.value.check == "tdx.pck_chain"


def test_synthetic_tdx_evidence_passes_with_test_root():
    ev, nonce, chain = synth.tdx_evidence(chain=CHAIN)
    res = verify_evidence(ev, nonce, TrustStore(extra_intel_roots=CHAIN.roots), {"require_nonce_binding": True})
    assert res.verdict == "pass", res.checks
    assert res.claims["tdx_td_attributes_debug"] is False
    res = verify_evidence(ev, nonce, TrustStore(), {"require_nonce_binding": True})
    assert failed(res) == ["tdx.pck_chain"]


def test_synthetic_v5_quote_passes():
    ev, nonce, chain = synth.tdx_evidence(chain=CHAIN, quote_version=5)
    assert tdx.parse_quote(base64.b64decode(ev["td_quote"])).version == 5
    res = verify_evidence(ev, nonce, TrustStore(extra_intel_roots=CHAIN.roots))
    assert res.verdict == "pass", res.checks


def test_td_debug_attribute_fails():
    ev, nonce, chain = synth.tdx_evidence(chain=CHAIN, td_attributes=1)
    res = verify_evidence(ev, nonce, TrustStore(extra_intel_roots=CHAIN.roots))
    assert res.verdict == "fail"
    assert "tdx.debug" in failed(res) and "policy:not-debuggable" in failed(res)


def test_quote_of_another_td_does_not_bind_the_hcl_claims():
    ev, nonce, chain = synth.tdx_evidence(chain=CHAIN)
    ev["td_quote"] = base64.b64encode(REAL).decode()
    res = verify_evidence(ev, nonce, TrustStore(extra_intel_roots=CHAIN.roots))
    assert failed(res) == ["tdx.report_data_binding"]


def test_quote_report_data_mismatch_detected_even_with_matching_tdreport():
    q = tdx.parse_quote(REAL)
    with pytest.raises(VerificationError) as err:
        tdx.verify(q, ROOTS, expected_report_data=b"\1" * 64)
    assert err.value.check == "tdx.report_data_binding"


@pytest.mark.parametrize("cut", [0, 10, 48, 631, 636, 700, 1000, 4935])
def test_truncated_quotes_raise_parse_errors(cut):
    with pytest.raises(ParseError):
        tdx.parse_quote(REAL[:cut])


def test_real_quote_has_zero_padding_after_the_signature_data_which_is_tolerated():
    assert REAL[4936:] == b"\0" * (len(REAL) - 4936)
    tdx.verify(REAL[:4936], ROOTS)


def test_wrong_tee_type_and_version():
    with pytest.raises(ParseError):
        tdx.parse_quote(flip(REAL, 4, 0))    # tee_type 0x80
    with pytest.raises(ParseError):
        tdx.parse_quote(b"\x03" + REAL[1:])  # version 3 (SGX)


def test_roots_may_be_given_as_pem_strings():
    from ansible_collections.confidential.azure.plugins.module_utils._attestation import certs
    tdx.verify(REAL, [certs.to_pem(c) for n, c in ROOTS])
    with pytest.raises(VerificationError) as err:
        tdx.verify(REAL, ["not a pem"])
    assert err.value.check == "tdx.pck_chain"
