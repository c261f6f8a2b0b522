# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Freshness: certificate validity at verification time, CRLs (AMD KDS, Intel PCS), the AK certificate chain."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from ansible_collections.confidential.azure.plugins.module_utils._attestation import certs, crl, hcl, snp, tdx, tpm
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import (
    ParseError, VerificationError)
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import synth
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

UTC = datetime.timezone.utc
STORE = TrustStore()
T = V.TRUSTEE + ("test_data",)
# inside the validity of every real certificate and of the Intel collateral in ../shared/vectors
VECTOR_TIME = datetime.datetime(2026, 3, 1, tzinfo=UTC)
FB = json.loads(V.read("flashbots-attested-tls-proxy", "attested-tls", "test-assets", "azure-tdx-1764662251380464271"))
COLLATERAL = json.loads(V.read("flashbots-attested-tls-proxy", "attestation", "test-assets", "azure-collateral.json"))
FB_QUOTE = base64.urlsafe_b64decode(FB["tdx_quote_base64"] + "==")
AK_BLOB = FB["tpm_attestation"]["ak_certificate_pem"]


def snp_real():
    rep = hcl.parse(V.read(*T + ("az-snp-vtpm", "hcl-report.bin")))
    return snp.parse(rep.snp_report), V.read(*T + ("az-snp-vtpm", "vcek.pem")).decode()


def test_real_snp_chain_is_valid_at_its_own_time_and_fails_once_the_vcek_expired():
    report, vcek = snp_real()
    for when in (datetime.datetime(2024, 1, 1, tzinfo=UTC), VECTOR_TIME, None):
        res = snp.verify(report, vcek, trusted_arks=STORE.amd_arks, trusted_asks=STORE.amd_asks, now=when)
        assert res.revocation["checked"] is False and "not checked" in res.revocation["reason"]
    with pytest.raises(VerificationError) as err:
        snp.verify(report, vcek, trusted_arks=STORE.amd_arks, now=datetime.datetime(2031, 1, 1, tzinfo=UTC))
    assert err.value.check == "snp.vcek_chain" and "expired" in str(err.value)
    with pytest.raises(VerificationError) as err:
        snp.verify(report, vcek, trusted_arks=STORE.amd_arks, now=datetime.datetime(2023, 1, 1, tzinfo=UTC))
    assert "not yet valid" in str(err.value)


def test_expired_ark_and_ask_fail_even_when_the_vcek_is_valid():
    chain = synth.AmdChain(tag="expired-ark")
    report = snp.parse(chain.report(b"\0" * 64))
    key = synth.rsa_key("ark-expired-ark")
    ark = chain.ark
    old = (x509.CertificateBuilder().subject_name(ark.subject).issuer_name(ark.subject).public_key(key.public_key())
           .serial_number(7).not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=UTC))
           .not_valid_after(datetime.datetime(2001, 1, 1, tzinfo=UTC))
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
           .sign(key, hashes.SHA384(), rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)))
    with pytest.raises(VerificationError) as err:
        snp.verify(report, synth.pem(chain.vcek, chain.ask), trusted_arks=[("Milan", old)])
    assert err.value.check == "snp.vcek_chain" and "expired" in str(err.value)


def test_real_pck_chain_freshness_and_intel_crls():
    res = tdx.verify(FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME,
                     crls=[COLLATERAL["root_ca_crl"], COLLATERAL["pck_crl"]])
    assert res.revocation["checked"] is True and len(res.revocation["covered"]) == 2
    assert ("tdx.revocation", "pass") == res.checks[2][:2]
    # the same CRLs are stale at the current time (nextUpdate 2026-03-20 / 2026-04-03)
    with pytest.raises(VerificationError) as err:
        tdx.verify(FB_QUOTE, STORE.intel_roots, crls=[COLLATERAL["pck_crl"]])
    assert err.value.check == "tdx.revocation" and "not current" in str(err.value)
    with pytest.raises(VerificationError) as err:
        tdx.verify(FB_QUOTE, STORE.intel_roots, now=datetime.datetime(2033, 6, 1, tzinfo=UTC))
    assert err.value.check == "tdx.pck_chain" and "expired" in str(err.value)
    # only the PCK CRL: the platform CA is not covered, so revocation is reported as not (fully) checked
    res = tdx.verify(FB_QUOTE, STORE.intel_roots, now=VECTOR_TIME, crls=[COLLATERAL["pck_crl"]])
    assert res.revocation["checked"] is False and "Intel SGX PCK Platform CA" in res.revocation["reason"]


def _crl(issuer_cert, issuer_key, revoked=(), last=None, nxt=None, pss=False):
    now = datetime.datetime.now(UTC)
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer_cert.subject)
         .last_update(last or now - datetime.timedelta(days=1)).next_update(nxt or now + datetime.timedelta(days=7)))
    for serial in revoked:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                      .revocation_date(now - datetime.timedelta(hours=1)).build())
    if pss:
        return b.sign(issuer_key, hashes.SHA384(), rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA384()),
                                                                           salt_length=48))
    return b.sign(issuer_key, hashes.SHA256())


def test_amd_kds_crl_revokes_the_ask_and_is_checked_without_a_vcek_crl():
    chain = synth.AmdChain(tag="crl")
    report = snp.parse(chain.report(b"\0" * 64))
    ark_key = synth.rsa_key("ark-crl")
    good = _crl(chain.ark, ark_key, pss=True).public_bytes(serialization.Encoding.DER)
    res = snp.verify(report, chain.chain_pem, trusted_arks=chain.roots, crls=[good])
    assert res.revocation["checked"] is True
    assert ("snp.revocation", "pass") == [c for c in res.checks if c[0] == "snp.revocation"][0][:2]
    revoked = _crl(chain.ark, ark_key, revoked=[chain.ask.serial_number], pss=True)
    pem = revoked.public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(VerificationError) as err:
        snp.verify(report, chain.chain_pem, trusted_arks=chain.roots, crls=[pem])
    assert err.value.check == "snp.revocation" and "revoked" in str(err.value)


def test_crl_with_a_bad_signature_or_out_of_date_fails_closed():
    chain = synth.IntelChain(tag="crl")
    report_chain = [chain.pck, chain.inter, chain.root]
    intruder = synth.ec_key("crl-intruder", synth.ec.SECP256R1())
    forged = _crl(chain.inter, intruder)
    with pytest.raises(VerificationError) as err:
        crl.check_revocation(report_chain, [forged])
    assert "does not verify" in str(err.value)
    inter_key = synth.ec_key("intel-inter-crl", synth.ec.SECP256R1())
    stale = _crl(chain.inter, inter_key, last=datetime.datetime(2020, 1, 1, tzinfo=UTC),
                 nxt=datetime.datetime(2020, 2, 1, tzinfo=UTC))
    with pytest.raises(VerificationError) as err:
        crl.check_revocation(report_chain, [stale])
    assert "not current" in str(err.value)
    listed = _crl(chain.inter, inter_key, revoked=[chain.pck.serial_number])
    hex_der = listed.public_bytes(serialization.Encoding.DER).hex()
    with pytest.raises(VerificationError) as err:
        crl.check_revocation(report_chain, [hex_der], check="tdx.revocation")
    assert err.value.check == "tdx.revocation" and "revoked" in str(err.value)


def test_offline_mode_says_revocation_was_not_checked():
    chain = synth.IntelChain(tag="offline")
    for value in (None, []):
        out = crl.check_revocation([chain.pck, chain.inter, chain.root], value)
        assert out == {"checked": False, "reason": crl.OFFLINE, "covered": [], "not_covered": []}
    assert "revocation not checked" in crl.OFFLINE and "offline" in crl.OFFLINE


@pytest.mark.parametrize("bad", [b"\x30\x03\x02\x01\x01", "not a crl", "-----BEGIN X509 CRL-----\nAAAA\n", 42])
def test_malformed_crls_are_parse_errors(bad):
    with pytest.raises(ParseError):
        crl.load_crl(bad)


def test_real_ak_certificate_chains_to_the_pinned_azure_vtpm_root_at_its_own_time():
    ak = tpm.verify_ak_certificate(AK_BLOB, STORE.vtpm_roots, STORE.ak_intermediates, now=VECTOR_TIME)
    assert ak.anchor == "Azure Virtual TPM Root Certificate Authority 2023" and ak.anchor_source == "builtin"
    assert [s.split(",")[0] for s in ak.subjects] == [
        "CN=353c6d9a70bc.ConfidentialVM.Azure.windows.net", "CN=Global Virtual TPM CA - 03",
        "CN=Azure Virtual TPM Root Certificate Authority 2023"]
    assert ak.revocation["checked"] is False
    rep = hcl.parse(base64.urlsafe_b64decode(FB["hcl_report_base64"] + "=="))
    assert tpm.ak_keys_equal(ak, rep.ak_pub) and tpm.ak_keys_equal(ak.cert, rep.ak_pub)
    # the DERIVED DER (cut at its length) is the same certificate
    der = V.read("flashbots-attested-tls-proxy", "attested-tls", "test-assets", "azure-tdx-1764662251380464271.akcert.der")
    assert tpm.verify_ak_certificate(der, STORE.vtpm_roots, STORE.ak_intermediates, now=VECTOR_TIME).cert == ak.cert


def test_real_ak_certificate_expired_on_2026_11_30_fails_at_the_current_time():
    with pytest.raises(VerificationError) as err:
        tpm.verify_ak_certificate(AK_BLOB, STORE.vtpm_roots, STORE.ak_intermediates)
    assert err.value.check == "ak_cert.chain" and "expired" in str(err.value) and "2026-11-30" in str(err.value)


def test_ak_blob_padding_must_be_zero_and_the_der_length_exact():
    blob = base64.b64decode("".join(AK_BLOB.split("-----")[2].split()))
    assert len(blob) == 4096 and not any(blob[1009:])
    tpm.verify_ak_certificate(blob, STORE.vtpm_roots, STORE.ak_intermediates, now=VECTOR_TIME)
    with pytest.raises(VerificationError) as err:
        tpm.verify_ak_certificate(blob[:1009] + b"\x01" + blob[1010:], STORE.vtpm_roots, now=VECTOR_TIME)
    assert "not zero padding" in str(err.value)
    with pytest.raises(VerificationError):
        tpm.verify_ak_certificate(blob[:1000], STORE.vtpm_roots, now=VECTOR_TIME)


def test_ak_certificate_without_the_intermediate_or_from_another_root_fails():
    with pytest.raises(VerificationError):
        tpm.verify_ak_certificate(AK_BLOB, STORE.vtpm_roots, (), now=VECTOR_TIME)
    vt = synth.VtpmChain()
    with pytest.raises(VerificationError) as err:
        tpm.verify_ak_certificate(vt.ak_cert_b64(), STORE.vtpm_roots, [synth.pem(vt.inter)])
    assert err.value.check == "ak_cert.chain"


def test_explicit_extra_root_is_named_as_such():
    vt = synth.VtpmChain()
    ak = tpm.verify_ak_certificate(vt.ak_cert_b64(), STORE.vtpm_roots, [synth.pem(vt.inter)],
                                   extra_roots=[synth.pem(vt.root)])
    assert ak.anchor_source == "extra_root" and ak.anchor == "extra_roots[0]"
    assert tpm.ak_keys_equal(ak, vt.ak_key.public_key())
    assert not tpm.ak_keys_equal(ak, synth.rsa_key("another-ak").public_key())
    assert not tpm.ak_keys_equal(ak, None) and not tpm.ak_keys_equal(ak, {"kty": "RSA"})
    # the intermediate may also come with the certificate itself (PEM chain)
    ak = tpm.verify_ak_certificate(synth.pem(vt.ak_cert, vt.inter), STORE.vtpm_roots, extra_roots=[synth.pem(vt.root)])
    assert ak.anchor_source == "extra_root"


def test_a_ca_certificate_is_not_accepted_as_the_ak_certificate():
    vt = synth.VtpmChain()
    with pytest.raises(VerificationError) as err:
        tpm.verify_ak_certificate(synth.pem(vt.inter), STORE.vtpm_roots, extra_roots=[synth.pem(vt.root)])
    assert "not an end-entity" in str(err.value)


def _ca(name, key, issuer_name, signer, path_length=None, usage=None, extra=None):
    now = datetime.datetime.now(UTC)
    b = (x509.CertificateBuilder().subject_name(synth._name(name)).issuer_name(synth._name(issuer_name))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True))
    if usage is not None:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=usage,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    if extra is not None:
        b = b.add_extension(extra, critical=True)
    return b.sign(signer, hashes.SHA256())


def _leaf(issuer_name, signer):
    return synth._cert(synth._name("leaf"), synth._name(issuer_name), synth.rsa_key("rfc-leaf").public_key(), signer,
                       False, hash_alg=hashes.SHA256())


def test_rfc5280_path_constraints():
    rk, ik1, ik2 = synth.rsa_key("rfc-root"), synth.rsa_key("rfc-i1"), synth.rsa_key("rfc-i2")
    root = _ca("rfc root", rk, "rfc root", rk, path_length=0)
    inter = _ca("rfc inter", ik1, "rfc root", rk)
    with pytest.raises(VerificationError) as err:
        certs.build_chain(_leaf("rfc inter", ik1), [inter], [root])
    assert "allows 0 intermediate" in str(err.value)
    root = _ca("rfc root", rk, "rfc root", rk, path_length=1)
    certs.build_chain(_leaf("rfc inter", ik1), [inter], [root])
    no_sign = _ca("rfc inter", ik1, "rfc root", rk, usage=False)
    with pytest.raises(VerificationError) as err:
        certs.build_chain(_leaf("rfc inter", ik1), [no_sign], [root])
    assert "keyUsage" in str(err.value)
    odd = _ca("rfc inter", ik2, "rfc root", rk, extra=x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00"))
    with pytest.raises(VerificationError) as err:
        certs.build_chain(_leaf("rfc inter", ik2), [odd], [root])
    assert "unsupported critical extension 1.2.3.4" in str(err.value)
