# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SNP product and guest policy, TDX QE identity / TCB, TPM PCR selection: the evidence-layer rules of issue 13."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import datetime
import hashlib
import json
import os
import struct

import pytest
from cryptography.hazmat.primitives import hashes

from ansible_collections.confidential.azure.plugins.module_utils._attestation import anchors, hcl, snp, tdx, tpm
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import (
    ParseError, VerificationError)
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

UTC = datetime.timezone.utc
STORE = TrustStore()
VECTOR_TIME = datetime.datetime(2026, 3, 1, tzinfo=UTC)
FB = json.loads(V.read("flashbots-attested-tls-proxy", "attested-tls", "test-assets", "azure-tdx-1764662251380464271"))
FB_QUOTE = base64.urlsafe_b64decode(FB["tdx_quote_base64"] + "==")
COLLATERAL = json.loads(V.read("flashbots-attested-tls-proxy", "attestation", "test-assets", "azure-collateral.json"))


def failing_check(fn, *args, **kwargs):
    with pytest.raises(VerificationError) as err:
        fn(*args, **kwargs)
    return err.value.check, str(err.value)


# ----------------------------------------------------------------------------------------------- SNP product


def _with_cpuid(chain, family, model, version=3):
    rep = bytearray(chain.report(b"\0" * 64, version=version))
    rep[0x188:0x18A] = bytes([family, model])
    return snp.parse(synth.sign_snp(bytes(rep), chain.vcek_key))


def _turin_named_vcek_under(chain):
    """A VCEK that calls itself Turin-B0, signed by ``chain``'s (Milan) ASK: the red team's mixed chain."""
    exts = [(synth.AMD_OID + "1", synth.der_int(0)), (synth.AMD_OID + "2", b"\x16\x08Turin-B0")]
    exts += [(synth.AMD_OID + synth.SPL_OID[k], synth.der_int(v)) for k, v in chain.tcb.items()]
    exts.append((synth.AMD_OID + "4", chain.chip_id))
    return synth._cert(synth._name("SEV-VCEK"), chain.ask.subject, chain.vcek_key.public_key(),
                       synth.rsa_key("ask-" + "prod"), False, serial=1, pss=True, exts=exts)


def test_ark_milan_chain_with_turin_vcek_and_family_1a_report_fails():
    chain = synth.AmdChain(tag="prod")
    vcek = _turin_named_vcek_under(chain)
    report = _with_cpuid(chain, 0x1A, 0x02)
    check, msg = failing_check(snp.verify, report, synth.pem(vcek, chain.ask), trusted_arks=[("Milan", chain.ark)])
    assert check == "snp.product" and "Turin-B0" in msg
    # an honest Milan VCEK with a family 0x1A (Turin) report: CPUID disagrees with the ARK
    check, msg = failing_check(snp.verify, report, chain.chain_pem, trusted_arks=[("Milan", chain.ark)])
    assert check == "snp.product" and "Turin" in msg
    # an unknown CPUID is no better
    check, dummy = failing_check(snp.verify, _with_cpuid(chain, 0x17, 0x31), chain.chain_pem, trusted_arks=chain.roots)
    assert check == "snp.product"


@pytest.mark.parametrize("product", ["Milan", "Genoa"])
def test_matching_product_passes_and_is_reported(product):
    chain = synth.AmdChain(product=product, tag="p-" + product)
    res = snp.verify(chain.report(b"\0" * 64), chain.chain_pem, trusted_arks=chain.roots)
    assert res.product == product
    reason = [c for c in res.checks if c[0] == "snp.product"][0][2]
    assert "ARK %s == VCEK product %s-B0 == CPUID" % (product, product) in reason


def test_real_reports_pass_the_product_check():
    rep = hcl.parse(V.read(*V.TRUSTEE + ("test_data", "az-snp-vtpm", "hcl-report.bin")))
    vcek = V.read(*V.TRUSTEE + ("test_data", "az-snp-vtpm", "vcek.pem")).decode()
    res = snp.verify(rep.snp_report, vcek, trusted_arks=STORE.amd_arks, trusted_asks=STORE.amd_asks)
    assert res.product == "Milan" and "report v2 carries no CPUID" in [c for c in res.checks if c[0] == "snp.product"][0][2]
    ev = json.loads(V.read(*V.TRUSTEE + ("test_data", "az-snp-vtpm", "evidence-v0.json")))
    res = snp.verify(hcl.parse(bytes(ev["report"])).snp_report, ev["vcek"], trusted_arks=STORE.amd_arks,
                     trusted_asks=STORE.amd_asks)
    assert "CPUID family 0x19 model 0x1" in [c for c in res.checks if c[0] == "snp.product"][0][2]


def test_an_ark_whose_product_is_unknown_fails():
    key = synth.rsa_key("odd-ark")
    name = synth._name("Some Root")
    chain = synth.AmdChain(tag="odd")
    ark = synth._cert(name, name, key.public_key(), key, True, pss=True)
    ask = synth._cert(chain.ask.subject, name, synth.rsa_key("ask-odd").public_key(), key, True, pss=True)
    check, dummy = failing_check(snp.verify, chain.report(b"\0" * 64), synth.pem(chain.vcek, ask),
                                 trusted_arks=[("extra_amd_roots[0]", ark)])
    assert check == "snp.product"


# ----------------------------------------------------------------------------------------------- SNP guest policy


@pytest.mark.parametrize("bit,name", [(18, "MIGRATE_MA"), (19, "DEBUG"), (21, "CXL")])
def test_dangerous_policy_bits_fail_by_default(bit, name):
    chain = synth.AmdChain(tag="pol")
    report = chain.report(b"\0" * 64, policy=synth.AZURE_POLICY | (1 << bit))
    check, msg = failing_check(snp.verify, report, chain.chain_pem, trusted_arks=chain.roots)
    assert check in ("snp.guest_policy", "snp.debug") and (name in msg or "DEBUG" in msg)


def test_policy_knobs_relax_and_tighten():
    chain = synth.AmdChain(tag="pol")
    migrate = chain.report(b"\0" * 64, policy=synth.AZURE_POLICY | snp.POLICY_MIGRATE_MA)
    res = snp.verify(migrate, chain.chain_pem, trusted_arks=chain.roots, guest_policy={"allow_migrate_ma": True})
    assert "MIGRATE_MA set" in [c for c in res.checks if c[0] == "snp.guest_policy"][0][2]
    azure = chain.report(b"\0" * 64)
    check, msg = failing_check(snp.verify, azure, chain.chain_pem, trusted_arks=chain.roots,
                               guest_policy={"allow_smt": False})
    assert check == "snp.guest_policy" and "SMT" in msg
    check, msg = failing_check(snp.verify, azure, chain.chain_pem, trusted_arks=chain.roots,
                               guest_policy={"require_single_socket": True, "min_abi_major": 1})
    assert "SINGLE_SOCKET" in msg and "ABI 0.31 is below the minimum 1.0" in msg
    with pytest.raises(ParseError):
        snp.check_guest_policy(synth.AZURE_POLICY, {"allow_everything": True})


def test_reserved_policy_bits():
    with pytest.raises(VerificationError) as err:
        snp.check_guest_policy(synth.AZURE_POLICY | (1 << 40))
    assert "reserved" in str(err.value)
    with pytest.raises(VerificationError) as err:
        snp.check_guest_policy(synth.AZURE_POLICY & ~(1 << 17))
    assert "bit 17" in str(err.value)
    assert "ABI 0.31" in snp.check_guest_policy(0x3001F)
    assert snp.DEFAULT_GUEST_POLICY["allow_migrate_ma"] is False and snp.DEFAULT_GUEST_POLICY["allow_debug"] is False


def test_real_debug_report_fails_on_debug():
    raw = V.read("google-go-sev-guest", "verify", "testdata", "attestation.bin")
    vcek = V.read("google-go-sev-guest", "verify", "testdata", "vcek.testcer")
    check, dummy = failing_check(snp.verify, raw, vcek, trusted_arks=STORE.amd_arks, trusted_asks=STORE.amd_asks)
    assert check == "snp.debug"


# ----------------------------------------------------------------------------------------------- TDX


def test_pinned_qe_identity_is_intels():
    ident = anchors.INTEL_TDX_QE_IDENTITY
    assert ident["mrsigner"] == "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5"
    assert ident["isvprodid"] == 2 and ident["min_isvsvn"] == 4 and "Intel PCS" in ident["source"]


@pytest.mark.parametrize("qe,what", [({"mrsigner": b"\x42" * 32}, "MRSIGNER"), ({"isvprodid": 1}, "ISVPRODID"),
                                     ({"isvsvn": 3}, "ISVSVN 3 below"), ({"attributes": b"\x01" * 16}, "ATTRIBUTES")])
def test_attacker_quoting_enclave_fails(qe, what):
    chain = synth.IntelChain(tag="qe")
    check, msg = failing_check(tdx.verify, chain.quote(os.urandom(64), qe=qe), chain.roots)
    assert check == "tdx.qe_identity" and what in msg


def test_all_zero_tee_tcb_svn_fails_by_default_and_the_minimum_knob_applies():
    chain = synth.IntelChain(tag="svn")
    check, msg = failing_check(tdx.verify, chain.quote(os.urandom(64), tee_tcb_svn=bytes(16)), chain.roots)
    assert check == "tdx.tcb_status" and "all zero" in msg
    good = chain.quote(os.urandom(64))
    res = tdx.verify(good, chain.roots, min_tee_tcb_svn="07010300000000000000000000000000")
    assert res.tcb_status is None and "not evaluated" in res.checks[-1][2]
    check, msg = failing_check(tdx.verify, good, chain.roots, min_tee_tcb_svn=[8] + [0] * 15)
    assert check == "tdx.tcb_status" and "below the minimum" in msg


def test_real_quote_with_intel_collateral_is_up_to_date_at_its_own_time():
    res = tdx.verify(FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME, collateral=COLLATERAL)
    assert res.tcb_status == "UpToDate" and res.qe_status == "UpToDate"
    assert res.revocation["checked"] is True
    names = [c[0] for c in res.checks]
    assert names == ["tdx.quote_signature", "tdx.pck_chain", "tdx.collateral", "tdx.revocation",
                     "tdx.qe_report_signature", "tdx.qe_report_binding", "tdx.qe_identity", "tdx.debug", "tdx.tcb_status"]


def test_collateral_must_be_current_and_signed_by_intel():
    check, msg = failing_check(tdx.verify, FB_QUOTE, STORE.intel_roots, collateral=COLLATERAL)
    assert check == "tdx.collateral" and "not current" in msg
    tampered = dict(COLLATERAL, tcb_info=COLLATERAL["tcb_info"].replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"'))
    check, msg = failing_check(tdx.verify, FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME, collateral=tampered)
    assert check == "tdx.collateral" and "signature does not verify" in msg
    foreign = synth.IntelChain(tag="coll")
    other = dict(COLLATERAL, tcb_info_issuer_chain=synth.pem(foreign.inter, foreign.root))
    check, dummy = failing_check(tdx.verify, FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME, collateral=other)
    assert check == "tdx.collateral"
    with pytest.raises(ParseError):
        tdx.verify(FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME, collateral=dict(COLLATERAL, surprise=1))


def test_tcb_info_for_another_platform_or_an_old_tcb_fails():
    # Azure's cvm-attestation-tools quote: same FMSPC, but SEAMLDR ACM SVN 3 is below every level Intel lists
    raw = V.read("Azure-cvm-attestation-tools", "cvm-attestation", "tests", "reports", "td_quote_v4.dat")
    check, msg = failing_check(tdx.verify, raw, STORE.intel_roots, now=VECTOR_TIME, collateral=COLLATERAL)
    assert check == "tdx.tcb_status" and "NoMatchingTcbLevel" in msg
    # trustee's quote comes from another FMSPC
    raw = V.read(*V.TRUSTEE + ("test_data", "az-tdx-vtpm", "td-quote.bin"))
    check, msg = failing_check(tdx.verify, raw, STORE.intel_roots, now=VECTOR_TIME, collateral=COLLATERAL)
    assert check == "tdx.tcb_status" and "FMSPC" in msg


def test_accepted_statuses_knob():
    with pytest.raises(VerificationError) as err:
        tdx.verify(FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME, collateral=COLLATERAL, accepted_tcb_statuses=("Nope",))
    assert err.value.check == "tdx.qe_identity" and "UpToDate" in str(err.value)


def test_real_quotes_pass_without_collateral_at_their_own_time():
    for raw in (FB_QUOTE, V.read(*V.TRUSTEE + ("test_data", "az-tdx-vtpm", "td-quote.bin")),
                V.read("Azure-cvm-attestation-tools", "cvm-attestation", "tests", "reports", "td_quote_v5.dat")):
        res = tdx.verify(raw, STORE.intel_roots, now=VECTOR_TIME)
        assert res.checks[-1][0] == "tdx.tcb_status" and res.checks[-1][1] == "pass"


# ----------------------------------------------------------------------------------------------- TPM


def _quote(select, pcrs=None, banks=None, nonce=b"n" * 32):
    key = synth.rsa_key("ak")
    pcrs = pcrs or dict((i, hashlib.sha256(b"pcr%d" % i).digest()) for i in range(24))
    if banks is None:
        bitmap = bytearray(3)
        for i in select:
            bitmap[i // 8] |= 1 << (i % 8)
        banks = [(0x000B, bytes(bitmap))]
    digest = hashlib.sha256(b"".join(pcrs[i] for i in sorted(select))).digest()
    msg = (struct.pack(">IH", 0xFF544347, 0x8018) + struct.pack(">H", 0) + struct.pack(">H", len(nonce)) + nonce
           + struct.pack(">QIIB", 1, 1, 0, 1) + struct.pack(">Q", 7) + struct.pack(">I", len(banks))
           + b"".join(struct.pack(">HB", alg, len(bm)) + bm for alg, bm in banks) + struct.pack(">H", 32) + digest)
    sig = key.sign(msg, synth.padding.PKCS1v15(), hashes.SHA256())
    return msg, sig, key.public_key(), nonce, dict((str(i), v.hex()) for i, v in pcrs.items())


def test_quote_selecting_only_pcr16_fails():
    msg, sig, key, nonce, pcrs = _quote([16])
    check, msg_ = failing_check(tpm.verify_quote, msg, sig, key, nonce, pcrs)
    assert check == "tpm.pcr_selection" and "0,1,2,3,4,5,6,7" in msg_


def test_quote_must_cover_pcrs_the_policy_reads():
    msg, sig, key, nonce, pcrs = _quote(range(8))
    out = []
    tpm.verify_quote(msg, sig, key, nonce, pcrs, out)
    assert [c[0] for c in out] == ["tpm.quote_signature", "tpm.quote_nonce", "tpm.pcr_selection", "tpm.pcr_digest"]
    check, dummy = failing_check(tpm.verify_quote, msg, sig, key, nonce, pcrs, required_pcrs=[11])
    assert check == "tpm.pcr_selection"
    msg, sig, key, nonce, pcrs = _quote(list(range(8)) + [11])
    tpm.verify_quote(msg, sig, key, nonce, pcrs, required_pcrs=[11])


def test_only_one_sha256_bank():
    full = bytes([0xFF, 0x00, 0x00])
    msg, sig, key, nonce, pcrs = _quote(range(8), banks=[(0x0004, full)])
    assert failing_check(tpm.verify_quote, msg, sig, key, nonce, pcrs)[0] == "tpm.pcr_selection"
    msg, sig, key, nonce, pcrs = _quote(range(8), banks=[(0x000B, full), (0x000B, full)])
    assert failing_check(tpm.verify_quote, msg, sig, key, nonce, pcrs)[0] == "tpm.pcr_selection"


@pytest.mark.parametrize("size", [0, 20, 31, 33, 48])
def test_every_pcr_value_is_exactly_the_bank_digest_size(size):
    msg, sig, key, nonce, pcrs = _quote(range(8))
    pcrs["20"] = "ab" * size
    check, text = failing_check(tpm.verify_quote, msg, sig, key, nonce, pcrs)
    assert check == "tpm.pcr_digest" and "exactly 32" in text


def test_evidence_v0_pcr_boundary_shift_fails():
    ev = json.loads(V.read(*V.TRUSTEE + ("test_data", "az-snp-vtpm", "evidence-v0.json")))
    q = ev["quote"]
    rep = hcl.parse(bytes(ev["report"]))
    pcrs = [bytes(p) for p in q["pcrs"]]
    tpm.verify_quote(bytes(q["message"]), bytes(q["signature"]), rep.ak_pub, b"challenge", pcrs)
    shifted = [pcrs[0] + pcrs[1][:1], pcrs[1][1:]] + pcrs[2:]
    assert b"".join(shifted) == b"".join(pcrs)
    check, dummy = failing_check(tpm.verify_quote, bytes(q["message"]), bytes(q["signature"]), rep.ak_pub,
                                 b"challenge", shifted)
    assert check == "tpm.pcr_digest"


def test_quote_signed_with_the_verified_ak_certificate_key():
    vt = synth.VtpmChain(ak_key=synth.rsa_key("ak"))
    ak = tpm.verify_ak_certificate(vt.ak_cert_b64(), STORE.vtpm_roots, [synth.pem(vt.inter)],
                                   extra_roots=[synth.pem(vt.root)])
    msg, sig, dummy, nonce, pcrs = _quote(range(8))
    tpm.verify_quote(msg, sig, ak, nonce, pcrs)
    other = tpm.verify_ak_certificate(synth.VtpmChain(ak_key=synth.rsa_key("other-ak")).ak_cert_b64(), [],
                                      [synth.pem(vt.inter)], extra_roots=[synth.pem(vt.root)])
    assert failing_check(tpm.verify_quote, msg, sig, other, nonce, pcrs)[0] == "tpm.quote_signature"


@pytest.mark.parametrize("change", [{"tcb_info_issuer_chain": None}, {"qe_identity_signature": "zz"},
                                    {"tcb_info": "[]"}, {"tcb_info": '{"id":"TDX","version":2}'}, {"pck_crl": "0011"}])
def test_malformed_collateral_fails_the_collateral_check(change):
    with pytest.raises((ParseError, VerificationError)) as err:
        tdx.verify(FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME, collateral=dict(COLLATERAL, **change))
    assert err.value.check == "tdx.collateral"


def test_second_real_collateral_set_also_verifies():
    other = json.loads(V.read("flashbots-attested-tls-proxy", "attestation", "test-assets", "azure-collateral02.json"))
    assert tdx.verify(FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME, collateral=other).tcb_status == "UpToDate"
