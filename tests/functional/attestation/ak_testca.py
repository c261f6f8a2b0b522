# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST-ONLY vTPM certificate authority: an AK certificate for a software TPM, shaped like Azure's.

Azure writes the AK certificate (issued by "Global Virtual TPM CA - xx" under "Azure Virtual TPM Root
Certificate Authority 2023") to NV 0x01C101D0. A swtpm has no such certificate, so the tests and the demo make
a TEST root and intermediate here, issue the AK certificate for the swtpm's AK, write it to the same NV index,
and trust the TEST root explicitly (attestation_verify's trust.extra_vtpm_roots, never a pinned anchor).
"""

from __future__ import annotations

import datetime
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import hcl_testchain  # noqa: E402  pylint: disable=wrong-import-position

TCG_KP_AIK_CERTIFICATE = x509.ObjectIdentifier("2.23.133.8.3")
ROOT_CN = "TEST ONLY Virtual TPM Root CA (not Microsoft)"
INTERMEDIATE_CN = "TEST ONLY Virtual TPM CA (not Microsoft)"


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST ONLY - confidential.azure tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(subject, issuer, public_key, signer, ca, days, issuer_key=None, extra=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if issuer_key is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False)
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def _ca_usage():
    return x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


_SHARED = []


def shared_ca():
    """One TEST CA per test session (key generation is the slow part)."""
    if not _SHARED:
        _SHARED.append(make_ca())
    return _SHARED[0]


def make_ca():
    """A TEST root and intermediate; ``trust`` is what attestation_verify needs to accept AK certs they issue."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _cert(_name(ROOT_CN), _name(ROOT_CN), root_key.public_key(), root_key, True, 3650,
                 extra=[(_ca_usage(), True)])
    inter = _cert(_name(INTERMEDIATE_CN), _name(ROOT_CN), inter_key.public_key(), root_key, True, 730,
                  issuer_key=root_key.public_key(), extra=[(_ca_usage(), True)])
    return {"root": root, "root_key": root_key, "intermediate": inter, "intermediate_key": inter_key,
            "trust": {"extra_vtpm_roots": [pem(root)], "ak_intermediates": [pem(inter)]}}


def make_crls(ca, revoked_ak_serials=()):
    """DER CRLs of the TEST root (over the intermediate) and the intermediate (over AK certificates)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for issuer, key, serials in ((ca["root"], ca["root_key"], ()),
                                 (ca["intermediate"], ca["intermediate_key"], revoked_ak_serials)):
        builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
                   .last_update(now - datetime.timedelta(hours=1)).next_update(now + datetime.timedelta(days=7)))
        for serial in serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        out.append(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    return out


def issue_ak_cert(ca, ak_public_key, host="swtpm-test"):
    """DER of an AK certificate for ``ak_public_key`` (key usage and EKU as Azure's AK certificates carry)."""
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = _cert(_name("%s.ConfidentialVM.test.invalid" % host), ca["intermediate"].subject, ak_public_key,
                 ca["intermediate_key"], False, 365, issuer_key=ca["intermediate_key"].public_key(),
                 extra=[(usage, True),
                        (x509.ExtendedKeyUsage([TCG_KP_AIK_CERTIFICATE, ExtendedKeyUsageOID.CLIENT_AUTH]), False)])
    return cert.public_bytes(serialization.Encoding.DER)


def provision_ak_cert(tcti, ca, ak_public_key):
    """Issue the AK certificate and write it to NV 0x01C101D0 (Azure pads it to 4096 bytes; swtpm NV is smaller)."""
    der = issue_ak_cert(ca, ak_public_key)
    with tempfile.TemporaryDirectory(prefix="ak-testca-") as workdir:
        hcl_testchain.write_nv(tcti, hcl_testchain.AK_CERT_NV_INDEX, der + b"\0" * (1536 - len(der)), workdir)
    return der


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def provision(tcti, ca, **kwargs):
    """hcl_testchain.provision() (AK, HCL report) plus the AK certificate from ``ca`` in NV 0x01C101D0."""
    material = hcl_testchain.provision(tcti, **kwargs)
    material["ak_cert_der"] = provision_ak_cert(tcti, ca, material["ak_public_key"])
    return material


def trust(ca, material=None):
    """attestation_verify ``trust``: the TEST vTPM CA, plus the TEST AMD root of ``material`` when given."""
    out = dict(ca["trust"])
    if material is not None:
        out["extra_amd_roots"] = [material["ark_pem"]]
    return out
