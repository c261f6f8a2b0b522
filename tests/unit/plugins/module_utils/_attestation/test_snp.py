# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SEV-SNP verification with a test AMD chain made here (trusted through extra roots)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import struct

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._attestation import hcl, snp
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import ParseError, VerificationError
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.plugins.module_utils._attestation.verify import verify_evidence as verify_evidence_strict
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth

# The crypto checks under test predate issue 13's verdict defaults (provenance required, 16-byte nonce,
# nonce binding required); test_verify_provenance.py covers those. Options given by a test win.
PRE_ISSUE13_DEFAULTS = {"require_nonce_binding": False, "insecure_skip_provenance": True}


def verify_evidence(evidence, nonce, trust=None, options=None):
    return verify_evidence_strict(evidence, nonce, trust, dict(PRE_ISSUE13_DEFAULTS, **(options or {})))


CHAIN = synth.AmdChain()


def store(chain=CHAIN):
    return TrustStore(extra_amd_roots=chain.roots)


def failed(res):
    return [c["name"] for c in res.checks if c["result"] == "fail"]


def test_synthetic_evidence_passes_with_test_root_and_nonce_bound():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    res = verify_evidence(ev, nonce, store(), {"require_nonce_binding": True})
    assert res.verdict == "pass", res.checks
    assert res.nonce_bound is True
    assert res.claims["x-ms-sevsnpvm-bootloader-svn"] == 3
    assert res.claims["x-ms-sevsnpvm-microcode-svn"] == 115
    assert res.claims["x-ms-sevsnpvm-snpfw-svn"] == 8
    assert res.claims["x-ms-isolation-tee"]["x-ms-attestation-type"] == "sevsnpvm"


def test_synthetic_evidence_fails_with_only_the_real_amd_roots():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    res = verify_evidence(ev, nonce, TrustStore(), {"require_nonce_binding": True})
    assert res.verdict == "fail"
    assert failed(res) == ["snp.vcek_chain"]


def test_presented_ark_is_not_trusted_by_itself():
    # the VCEK chain carries the test ARK, but no trust setting names it
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    assert "ARK-Milan" in ev["vcek"] or "BEGIN CERTIFICATE" in ev["vcek"]
    res = verify_evidence(ev, nonce, None)
    assert "snp.vcek_chain" in failed(res)


def test_debug_policy_fails_debug_check_and_default_policy():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN, policy=synth.AZURE_POLICY | synth.DEBUG)
    res = verify_evidence(ev, nonce, store())
    assert res.verdict == "fail"
    assert "snp.debug" in failed(res)
    assert "policy:not-debuggable" in failed(res)
    assert res.claims["x-ms-sevsnpvm-is-debuggable"] is True


def test_vmpl_other_than_zero_fails():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN, vmpl=2)
    res = verify_evidence(ev, nonce, store())
    assert "snp.vmpl" in failed(res) and "policy:vmpl-0" in failed(res)


def test_swapped_vcek_from_another_chip_is_rejected():
    other = synth.AmdChain(tag="other")
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    ev["vcek"] = other.chain_pem
    res = verify_evidence(ev, nonce, TrustStore(extra_amd_roots=CHAIN.roots + other.roots))
    assert res.verdict == "fail"
    assert failed(res)[0] == "snp.signature"


def test_chip_id_mismatch_with_valid_signature_is_rejected():
    rd = b"\0" * 64
    rep = CHAIN.report(rd, chip_id=b"\x11" * 64)
    with pytest.raises(VerificationError) as err:
        snp.verify(rep, CHAIN.chain_pem, None, store().amd_arks)
    assert err.value.check == "snp.chip_id"


def test_reported_tcb_different_from_vcek_spls_is_rejected():
    tcb = dict(CHAIN.tcb, microcode=114)
    rep = CHAIN.report(b"\0" * 64, tcb=tcb)
    with pytest.raises(VerificationError) as err:
        snp.verify(rep, CHAIN.chain_pem, None, store().amd_arks)
    assert err.value.check == "snp.reported_tcb"
    assert "microcode" in str(err.value)


def test_tcb_minimums():
    rep = CHAIN.report(b"\0" * 64)
    res = snp.verify(rep, CHAIN.chain_pem, None, store().amd_arks, policy_min={"microcode": 115, "snp": 8})
    assert ("snp.tcb_minimum", "pass") == res.checks[-1][:2]
    with pytest.raises(VerificationError) as err:
        snp.verify(rep, CHAIN.chain_pem, None, store().amd_arks, policy_min={"snp": 9})
    assert err.value.check == "snp.tcb_minimum"
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    res = verify_evidence(ev, nonce, store(), {"snp_minimum": {"bootloader": 4}})
    assert failed(res) == ["snp.tcb_minimum"]


@pytest.mark.parametrize("version", [2, 3, 5])
def test_report_versions(version):
    rep = snp.parse(CHAIN.report(b"\0" * 64, version=version))
    assert rep.version == version
    snp.verify(rep, CHAIN.chain_pem, None, store().amd_arks)


@pytest.mark.parametrize("version", [0, 1, 4, 6])
def test_unsupported_report_versions(version):
    with pytest.raises(ParseError):
        snp.parse(CHAIN.report(b"\0" * 64, version=version))


@pytest.mark.parametrize("product", ["Genoa", "Turin"])
def test_other_products_decode_their_tcb_layout(product):
    chain = synth.AmdChain(product, tag=product)
    res = snp.verify(chain.report(b"\0" * 64), chain.chain_pem, None, TrustStore(extra_amd_roots=chain.roots).amd_arks)
    assert res.product == product
    assert res.tcb["microcode"] == 115 and res.tcb["snp"] == 8
    if product == "Turin":
        assert res.tcb["fmc"] == 1


def test_hwid_wrapped_in_octet_string_is_accepted():
    chain = synth.AmdChain(tag="wrapped", wrap_hwid=True)
    snp.verify(chain.report(b"\0" * 64), chain.chain_pem, None, TrustStore(extra_amd_roots=chain.roots).amd_arks)


def test_thim_json_vcek_is_accepted():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    ev["vcek"] = {"vcekCert": synth.pem(CHAIN.vcek), "certificateChain": synth.pem(CHAIN.ask, CHAIN.ark),
                  "tcbm": "7308000000000003"}
    assert verify_evidence(ev, nonce, store()).verdict == "pass"
    import json
    ev["vcek"] = json.dumps(ev["vcek"])
    assert verify_evidence(ev, nonce, store()).verdict == "pass"


def test_vcek_signed_directly_by_ark_is_rejected():
    # a chain VCEK <- ARK (no ASK) must not pass even if the ARK is trusted
    ark_key = synth.rsa_key("ark-a", 2048)
    vcek = synth._cert(synth._name("SEV-VCEK"), CHAIN.ark.subject, CHAIN.vcek_key.public_key(), ark_key, False,
                       pss=True)
    with pytest.raises(VerificationError) as err:
        snp.verify(CHAIN.report(b"\0" * 64), synth.pem(vcek), None, store().amd_arks)
    assert err.value.check in ("snp.vcek_chain", "snp.chip_id")


def _flip_hcl(ev, offset, bit=0):
    raw = bytearray(base64.b64decode(ev["hcl_report"]))
    raw[offset] ^= 1 << bit
    out = dict(ev)
    out["hcl_report"] = base64.b64encode(bytes(raw)).decode()
    return out


# offsets inside the HCL report: SNP signed area [0x20, 0x20+0x2A0), signature, claims
@pytest.mark.parametrize("offset", [0x20, 0x28, 0x50, 0x70, 0x8F, 0xB0, 0x100, 0x1A0, 0x1C0, 0x1C8, 0x210, 0x2BF])
def test_bit_flip_in_signed_snp_report_is_rejected(offset):
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    res = verify_evidence(_flip_hcl(ev, offset, offset % 8), nonce, store())
    assert res.verdict == "fail"
    assert set(failed(res)) & set(["snp.signature", "hcl.claims_binding", "snp.parse", "snp.chip_id",
                                   "snp.reported_tcb", "hcl.parse"])


@pytest.mark.parametrize("offset", [0x2C0, 0x2D0, 0x308, 0x330])
def test_bit_flip_in_snp_signature_is_rejected(offset):
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    res = verify_evidence(_flip_hcl(ev, offset), nonce, store())
    assert "snp.signature" in failed(res)


@pytest.mark.parametrize("offset", [0x330 + 0x20, 0x400, 0x4A0 + 0x1F])
def test_a_byte_set_in_the_reserved_area_after_the_signature_is_rejected(offset):
    """The signature does not cover report bytes 0x330-0x49F (HCL offsets 0x350-0x4BF); the firmware writes zeros, so
    anything else there is refused rather than ignored."""
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    res = verify_evidence(_flip_hcl(ev, offset), nonce, store())
    assert res.verdict == "fail" and "snp.parse" in failed(res)
    with pytest.raises(ParseError, match="reserved bytes after the signature"):
        snp.parse(CHAIN.report(b"\0" * 64)[:0x330] + b"\1" + b"\0" * (0x4A0 - 0x331))


def test_bit_flip_in_runtime_claims_breaks_the_binding():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    raw = base64.b64decode(ev["hcl_report"])
    pos = raw.index(b'"secure-boot":true') + len('"secure-boot":')
    tampered = bytearray(raw)
    tampered[pos:pos + 4] = b"TRUE"
    ev["hcl_report"] = base64.b64encode(bytes(tampered)).decode()
    res = verify_evidence(ev, nonce, store())
    assert "hcl.claims_binding" in failed(res) or "hcl.parse" in failed(res)
    assert res.verdict == "fail"


def test_replayed_evidence_with_a_new_nonce_fails_both_bindings():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    res = verify_evidence(ev, "ab" * 32, store())
    assert set(failed(res)) == set(["hcl.nonce_binding", "tpm.quote_nonce"])


def test_all_zero_user_data_passes_only_through_the_quote_unless_binding_required():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN, bind_nonce=False)
    res = verify_evidence(ev, nonce, store())
    assert res.verdict == "pass" and res.nonce_bound is False
    assert "not bound to this nonce" in res.get("hcl.nonce_binding")["reason"]
    res = verify_evidence(ev, nonce, store(), {"require_nonce_binding": True})
    assert failed(res) == ["hcl.nonce_binding"]


def test_old_2048_byte_v1_hcl_report_verifies():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN, size=2048, version=1)
    rep = hcl.parse(base64.b64decode(ev["hcl_report"]))
    assert len(rep.raw) == 2048 and rep.version == 1
    assert verify_evidence(ev, nonce, store(), {"require_nonce_binding": True}).verdict == "pass"


def test_vlek_signed_report_is_refused():
    raw = bytearray(CHAIN.report(b"\0" * 64))
    struct.pack_into("<I", raw, 0x48, 1 << 2)
    raw = synth.sign_snp(bytes(raw), CHAIN.vcek_key)
    with pytest.raises(VerificationError) as err:
        snp.verify(raw, CHAIN.chain_pem, None, store().amd_arks)
    assert err.value.check == "snp.vcek_chain"


def test_missing_vcek_fails_closed():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    del ev["vcek"]
    res = verify_evidence(ev, nonce, store())
    assert res.verdict == "fail" and "snp.vcek_chain" in failed(res)
    assert res.get("snp.signature")["result"] == "skip"


def test_expected_tee_mismatch_fails():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    res = verify_evidence(ev, nonce, store(), {"expected_tee": "tdx"})
    assert set(failed(res)) == set(["tee.expected", "policy:tee-type-matches-vm-size"])
    assert verify_evidence(ev, nonce, store(), {"expected_tee": "snp"}).verdict == "pass"


def test_vm_id_must_match_hcl_claims():
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN)
    ev["vm_id"] = "6332533d-5649-4d02-8aa7-8f64b7c3ee21"
    assert verify_evidence(ev, nonce, store()).get("hcl.vm_id")["result"] == "pass"
    ev["vm_id"] = "00000000-0000-0000-0000-000000000000"
    assert "hcl.vm_id" in failed(verify_evidence(ev, nonce, store()))


def test_ak_certificate_must_carry_hclakpub_and_chain_to_a_vtpm_root():
    vt = synth.VtpmChain()
    ev, nonce, chain = synth.snp_evidence(chain=CHAIN, ak_key=vt.ak_key)
    ev["ak_cert"] = vt.ak_cert_b64()
    trust = TrustStore(extra_amd_roots=CHAIN.roots, extra_vtpm_roots=[synth.pem(vt.root)],
                       ak_intermediates=[synth.pem(vt.inter)])
    res = verify_evidence(ev, nonce, trust)
    assert res.verdict == "pass", res.checks
    assert res.get("ak_cert.chain")["result"] == "pass"
    # without the intermediate / root it fails
    res = verify_evidence(ev, nonce, TrustStore(extra_amd_roots=CHAIN.roots, extra_vtpm_roots=[synth.pem(vt.root)]))
    assert failed(res) == ["ak_cert.chain"]
    # a certificate for another key fails the key match
    other = synth.VtpmChain(ak_key=synth.rsa_key("not-the-ak"))
    ev["ak_cert"] = other.ak_cert_b64()
    assert "ak_cert.key_match" in failed(verify_evidence(ev, nonce, trust))


def test_longer_chain_through_an_extra_intermediate_is_rejected():
    ask_key = synth.rsa_key("ask-a", 2048)
    mid_key = synth.rsa_key("extra-mid", 2048)
    mid_name = synth._name("SEV-Extra")
    mid = synth._cert(mid_name, CHAIN.ask.subject, mid_key.public_key(), ask_key, True, pss=True)
    vcek = synth._cert(synth._name("SEV-VCEK"), mid_name, CHAIN.vcek_key.public_key(), mid_key, False, pss=True,
                       exts=[(ext.oid.dotted_string, ext.value.value) for ext in CHAIN.vcek.extensions])
    with pytest.raises(VerificationError) as err:
        snp.verify(CHAIN.report(b"\0" * 64), synth.pem(vcek, mid, CHAIN.ask, CHAIN.ark), None, store().amd_arks)
    assert err.value.check == "snp.vcek_chain"


def test_arks_may_be_given_as_pem_strings():
    res = snp.verify(CHAIN.report(b"\0" * 64), CHAIN.chain_pem, None, CHAIN.roots)
    assert res.checks[0][0] == "snp.vcek_chain"
