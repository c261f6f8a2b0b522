# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fuzzing the evidence layer's new parsers (DER, PEM, CRL, PCK extension, collateral, AK blob):
only AttestationError subclasses may escape, and nothing mutated verifies."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import datetime
import json
import time

from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.confidential.azure.plugins.module_utils._attestation import certs, crl, der, tdx, tpm
from ansible_collections.confidential.azure.plugins.module_utils._attestation import tdx_collateral as coll
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import AttestationError
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HANG_GUARD = 5.0
STORE = TrustStore()
VECTOR_TIME = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
FB = json.loads(V.read("flashbots-attested-tls-proxy", "attested-tls", "test-assets", "azure-tdx-1764662251380464271"))
AK_BLOB = base64.b64decode("".join(FB["tpm_attestation"]["ak_certificate_pem"].split("-----")[2].split()))
COLLATERAL = json.loads(V.read("flashbots-attested-tls-proxy", "attestation", "test-assets", "azure-collateral.json"))
PCK_CRL = bytes.fromhex(COLLATERAL["pck_crl"])
PCK = certs.load_pem_chain(bytes(tdx.parse_quote(base64.urlsafe_b64decode(FB["tdx_quote_base64"] + "==")).pck_cert_data)
                           .rstrip(b"\0"))[0]
PCK_DER = PCK.public_bytes(serialization.Encoding.DER)
PCK_CHAIN = [PCK] + certs.load_pem_chain(COLLATERAL["pck_crl_issuer_chain"])


def mutate(base):
    return st.tuples(st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)), min_size=1, max_size=6),
                     st.integers(1, len(base))).map(lambda t: _apply(base, *t))


def _apply(base, edits, cut):
    out = bytearray(base)
    for off, val in edits:
        out[off] = val
    return bytes(out[:cut])


def clean(fn, *args, **kwargs):
    start = time.monotonic()
    try:
        return fn(*args, **kwargs)
    except AttestationError:
        return None
    finally:
        assert time.monotonic() - start < HANG_GUARD


@SETTINGS
@given(mutate(AK_BLOB))
def test_mutated_ak_blob_never_verifies_unless_only_padding_changed(data):
    out = clean(tpm.verify_ak_certificate, data, STORE.vtpm_roots, STORE.ak_intermediates, now=VECTOR_TIME)
    if out is not None:
        assert data[:1009] == AK_BLOB[:1009]


@SETTINGS
@given(st.binary(max_size=300))
def test_der_helpers_on_random_bytes(data):
    clean(der.der_cut, data)
    clean(der.der_children, data)
    clean(der.der_oid, data)
    clean(der.split_pem, data)


@SETTINGS
@given(st.text(alphabet="-BEGINCRTFAEND \n=AZaz09+/", max_size=2000))
def test_pem_splitter_on_marker_soup(text):
    bodies = clean(der.split_pem, text)
    if bodies is not None:
        assert all("-----BEGIN" not in b for b in bodies)


@SETTINGS
@given(mutate(PCK_CRL))
def test_mutated_intel_crl_is_never_accepted(data):
    out = clean(crl.check_revocation, PCK_CHAIN, [data], now=VECTOR_TIME)
    # a CRL whose issuer no longer names a CA of the chain covers nothing (revocation "skip", never "pass");
    # one that covers a certificate is the genuine CRL
    if out is not None and out["covered"]:
        assert crl.load_crl(data).public_bytes(serialization.Encoding.DER) == PCK_CRL
    if out is not None and not out["covered"]:
        assert out["checked"] is False and out["not_covered"]


@SETTINGS
@given(mutate(PCK_DER))
def test_mutated_pck_certificate_extension_parsing(data):
    cert = clean(certs.load_der, data)
    if cert is not None:
        clean(coll.pck_tcb, cert)


@SETTINGS
@given(st.sampled_from(["tcb_info", "qe_identity"]), st.integers(0, 400), st.sampled_from(["0", "9", "\"", "}", "x"]))
def test_mutated_collateral_is_refused(key, offset, char):
    body = COLLATERAL[key]
    offset = offset % len(body)
    if body[offset] == char:
        return
    changed = dict(COLLATERAL)
    changed[key] = body[:offset] + char + body[offset + 1:]
    quote = base64.urlsafe_b64decode(FB["tdx_quote_base64"] + "==")
    assert clean(tdx.verify, quote, STORE.intel_roots, now=VECTOR_TIME, collateral=changed) is None
