# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded work: oversized inputs, PEM marker floods and certificate meshes are rejected cleanly.

Times are measured only as a generous hang guard (HANG_GUARD seconds), never as a tight assertion.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import datetime
import json
import struct
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ansible_collections.confidential.azure.plugins.module_utils._attestation import (
    certs, crl, der, hcl, limits, snp, tdx, tpm)
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import (
    AttestationError, ParseError, VerificationError)
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

HANG_GUARD = 5.0
STORE = TrustStore()
MARKER = "-----BEGIN CERTIFICATE-----\n"
FLOOD = MARKER * 20000  # 20,000 markers, 560,000 characters (the red team's 533 KB case)


def timed(fn, *args, **kwargs):
    """Run ``fn``; it must raise an AttestationError (never another type) within the hang guard."""
    start = time.monotonic()
    with pytest.raises(AttestationError) as info:
        fn(*args, **kwargs)
    elapsed = time.monotonic() - start
    assert elapsed < HANG_GUARD, "%s took %.1f s" % (getattr(fn, "__name__", fn), elapsed)
    return info.value


def test_marker_flood_is_rejected_everywhere_a_certificate_is_read():
    assert len(FLOOD) > 500 * 1024
    timed(certs.load_any, FLOOD, "vcek")
    timed(certs.load_pem_chain, FLOOD)
    timed(der.split_pem, FLOOD)
    timed(tpm.verify_ak_certificate, FLOOD, STORE.vtpm_roots, STORE.ak_intermediates)
    rep = snp.parse(synth.AmdChain().report(b"\0" * 64))
    timed(snp.verify, rep, FLOOD, trusted_arks=STORE.amd_arks)
    timed(crl.load_crl, FLOOD.replace("CERTIFICATE", "X509 CRL"))


def test_marker_flood_below_the_size_limit_is_one_linear_scan():
    # just under MAX_PEM_TEXT: the size check does not save us, the splitter itself must stay linear
    text = MARKER * ((limits.MAX_PEM_TEXT - 100) // len(MARKER))
    err = timed(der.split_pem, text)
    assert "without a matching" in str(err)
    text = (MARKER + "AAAA\n-----END CERTIFICATE-----\n") * 2000
    err = timed(der.split_pem, text[:limits.MAX_PEM_TEXT])
    assert "more than %d" % limits.MAX_CERTS_PER_INPUT in str(err)


def _self_issued(count, key=None):
    """``count`` distinct CA certificates with one name and one key, each signed by that key."""
    key = key or synth.rsa_key("mesh")
    name = synth._name("Self issued mesh")
    return [synth._cert(name, name, key.public_key(), key, True, serial=i + 1, hash_alg=hashes.SHA256())
            for i in range(count)]


def test_61_self_issued_certificates_fail_fast():
    mesh = _self_issued(61)
    text = synth.pem(*mesh)
    err = timed(certs.load_pem_chain, text)
    assert "more than" in str(err)
    timed(certs.build_chain, mesh[0], mesh[1:], [mesh[0]])
    # within the count limit the path search still cannot explode: self-issued intermediates are never links
    other = synth.rsa_key("mesh-root")
    root_name = synth._name("Mesh root")
    root = synth._cert(root_name, root_name, other.public_key(), other, True, hash_alg=hashes.SHA256())
    timed(certs.build_chain, mesh[0], mesh[1:limits.MAX_CERTS_PER_INPUT + 1], [root])
    key = synth.rsa_key("mesh")
    leaf = synth._cert(synth._name("leaf"), mesh[0].subject, synth.rsa_key("mesh-leaf").public_key(), key, False,
                       hash_alg=hashes.SHA256())
    err = timed(certs.build_chain, leaf, mesh[:limits.MAX_CERTS_PER_INPUT], [root])
    assert "does not chain" in str(err)
    timed(tpm.verify_ak_certificate, text, STORE.vtpm_roots, STORE.ak_intermediates)


def test_pck_chain_of_61_self_issued_certificates_in_a_td_quote_fails_fast():
    chain = synth.IntelChain()
    raw = bytearray(chain.quote(b"\0" * 64))
    mesh = synth.pem(*_self_issued(61, synth.ec_key("intel-root-i", synth.ec.SECP256R1()))).encode() + b"\0"
    quote = tdx.parse_quote(bytes(raw))
    # rebuild the certification data with the mesh as the PCK chain
    head = bytes(raw[:len(quote.signed_bytes)])
    sig = bytes(quote.signature) + bytes(quote.attestation_key)
    inner = (bytes(quote.qe_report) + bytes(quote.qe_report_signature) + struct.pack("<H", len(quote.qe_auth_data))
             + bytes(quote.qe_auth_data) + struct.pack("<HI", 5, len(mesh)) + mesh)
    sigdata = sig + struct.pack("<HI", 6, len(inner)) + inner
    forged = head + struct.pack("<I", len(sigdata)) + sigdata
    if len(forged) > limits.MAX_TD_QUOTE:
        timed(tdx.parse_quote, forged)
    else:
        err = timed(tdx.verify, forged, chain.roots)
        assert err.check == "tdx.pck_chain"


def test_cross_signed_mesh_is_bounded_by_the_signature_budget():
    # CAs A and B, each with several certificates signed by the other: the key already on the path stops loops
    ka, kb = synth.rsa_key("mesh-a"), synth.rsa_key("mesh-b")
    na, nb = synth._name("Mesh A"), synth._name("Mesh B")
    pool = []
    for i in range(4):
        pool.append(synth._cert(na, nb, ka.public_key(), kb, True, serial=100 + i, hash_alg=hashes.SHA256()))
        pool.append(synth._cert(nb, na, kb.public_key(), ka, True, serial=200 + i, hash_alg=hashes.SHA256()))
    leaf_key = synth.rsa_key("mesh-leaf")
    leaf = synth._cert(synth._name("leaf"), na, leaf_key.public_key(), ka, False, hash_alg=hashes.SHA256())
    other = synth.rsa_key("mesh-root")
    root = synth._cert(synth._name("Unrelated root"), synth._name("Unrelated root"), other.public_key(), other, True,
                       hash_alg=hashes.SHA256())
    err = timed(certs.build_chain, leaf, pool, [root])
    assert isinstance(err, VerificationError)


def test_every_input_has_a_size_limit():
    big = b"\0" * (1024 * 1024)
    timed(hcl.parse, b"HCLA" + big)
    timed(tdx.parse_quote, b"\x04\x00" + big)
    timed(snp.parse, b"\x02\x00\x00\x00" + big)
    timed(tpm.parse_attest, big)
    timed(tpm.verify_quote, big, b"x", None, b"n" * 16, {})
    timed(tpm.verify_quote, b"x", big, None, b"n" * 16, {})
    timed(tpm.normalize_pcrs, dict((str(i), "00" * 32) for i in range(25)))
    timed(tpm.normalize_pcrs, {"0": "00" * 100000})
    timed(certs.load_der, b"\x30\x84\x00\x10\x00\x00" + big)
    timed(certs.load_any, "A" * (limits.MAX_PEM_TEXT + 1))
    timed(certs.load_any, base64.b64encode(big).decode())
    timed(crl.load_crl, big)
    timed(crl.load_crls, [b""] * (limits.MAX_CRLS + 1))
    timed(tpm.verify_ak_certificate, big, STORE.vtpm_roots)
    timed(der.der_cut, big, max_size=limits.MAX_AK_CERT_BLOB)
    collateral = {"tcb_info": "{" + " " * limits.MAX_COLLATERAL_JSON + "}", "tcb_info_signature": "00" * 64,
                  "tcb_info_issuer_chain": "", "qe_identity": "{}", "qe_identity_signature": "00" * 64,
                  "qe_identity_issuer_chain": ""}
    q = synth.IntelChain().quote(b"\0" * 64)
    err = timed(tdx.verify, q, synth.IntelChain().roots, collateral=collateral)
    assert "too large" in str(err)


def test_too_many_anchors_or_intermediates_are_refused():
    chain = synth.AmdChain()
    timed(certs.build_chain, chain.vcek, [chain.ask] * (limits.MAX_CERTS_PER_INPUT + 1), [chain.ark])
    timed(certs.build_chain, chain.vcek, [chain.ask], [chain.ark] * (limits.MAX_ANCHORS + 1))


def test_malformed_now_and_policy_values_are_clean_errors():
    chain = synth.AmdChain()
    timed(certs.build_chain, chain.vcek, [chain.ask], [chain.ark], now="yesterday")
    rep = snp.parse(chain.report(b"\0" * 64))
    timed(snp.verify, rep, chain.chain_pem, trusted_arks=chain.roots, policy_min={"tee": "high"})
    timed(snp.verify, rep, chain.chain_pem, trusted_arks=chain.roots, guest_policy={"allow_debug": "yes"})
    timed(tdx.verify, synth.IntelChain().quote(b"\0" * 64), synth.IntelChain().roots, min_tee_tcb_svn="zz")


def test_real_evidence_is_far_below_every_limit():
    tdx_raw = V.read(*V.TRUSTEE + ("test_data", "az-tdx-vtpm", "td-quote.bin"))
    hcl_raw = V.read(*V.TRUSTEE + ("test_data", "az-snp-vtpm", "hcl-report.bin"))
    vcek = V.read(*V.TRUSTEE + ("test_data", "az-snp-vtpm", "vcek.pem"))
    assert len(tdx_raw) * 2 < limits.MAX_TD_QUOTE and len(hcl_raw) * 2 < limits.MAX_HCL_REPORT
    assert len(vcek) * 4 < limits.MAX_PEM_TEXT
    fb = json.loads(V.read("flashbots-attested-tls-proxy", "attested-tls", "test-assets", "azure-tdx-1764662251380464271"))
    assert len(fb["tpm_attestation"]["ak_certificate_pem"]) < 2 * limits.MAX_AK_CERT_BLOB
    assert len(fb["tpm_attestation"]["quote"]["message"]) < limits.MAX_TPM_ATTEST
    now = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    assert len(certs.build_chain(*_pck(tdx_raw), now=now)) == 3


def _pck(raw):
    q = tdx.parse_quote(raw)
    pck = certs.load_pem_chain(bytes(q.pck_cert_data).rstrip(b"\0"))
    return pck[0], pck[1:-1], pck[-1:]


def test_parse_errors_are_attestation_errors_not_type_errors():
    for value in (None, 1, 1.5, True, {"a": 1}, ["x"], object()):
        for fn in (certs.load_any, crl.load_crl, der.split_pem, hcl.parse, tdx.parse_quote, tpm.parse_attest,
                   tpm.normalize_pcrs):
            with pytest.raises(AttestationError):
                fn(value)
        with pytest.raises(AttestationError):
            tpm.verify_ak_certificate(value, STORE.vtpm_roots)
        with pytest.raises(AttestationError):
            der.der_cut(value)
    assert isinstance(x509, object)
    with pytest.raises(ParseError):
        tpm.verify_quote(b"", b"", None, b"n", {}, required_pcrs=[24])
