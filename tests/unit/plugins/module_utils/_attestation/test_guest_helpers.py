# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers the guest module (attestation_evidence) reuses: stdlib only, no cryptography, tolerant HCL summary."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._attestation import der, hcl, util
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import ParseError
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._attestation import vectors as V

T = V.TRUSTEE + ("test_data",)
GUEST_MODULES = ("der", "errors", "hcl", "limits", "util")


def test_guest_helpers_import_without_cryptography():
    code = ("import sys\n"
            "from ansible_collections.confidential.azure.plugins.module_utils._attestation import %s\n"
            "assert not [m for m in sys.modules if m.startswith('cryptography')], 'cryptography imported'\n"
            % ", ".join(GUEST_MODULES))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("path,kind", [(T + ("az-snp-vtpm", "hcl-report.bin"), "sevsnp"),
                                       (T + ("az-tdx-vtpm", "hcl-report.bin"), "tdx"),
                                       (("kinvolk-azure-cvm-tooling", "az-cvm-vtpm", "test", "hcl-report-snp.bin"), "sevsnp")])
def test_hcl_summary_of_real_reports(path, kind):
    raw = V.read(*path)
    info = hcl.summary(raw)
    assert info["report_type"] == kind
    assert len(info["hw_report"]) == (1024 if kind == "tdx" else 1184)
    assert info["claims"] == hcl.parse(raw).claims


@pytest.mark.parametrize("raw", [b"", b"HCLA", b"XXXX" + bytes(3000), None, "HCLA", b"HCLA" + b"\xff" * 3000])
def test_hcl_summary_never_raises(raw):
    info = hcl.summary(raw)
    assert info["claims"] is None


def test_der_cut_is_length_exact_and_accepts_only_zero_padding():
    cert = V.read("flashbots-attested-tls-proxy", "attested-tls", "test-assets", "azure-tdx-1764662251380464271.akcert.der")
    assert der.der_cut(cert + b"\0" * (4096 - len(cert))) == cert
    assert der.der_cut(cert) == cert
    for bad in (cert + b"\x01", cert[:-1], b"\x31" + cert[1:], b"\x30\x80" + cert[2:], b"\x30\x81\x05" + bytes(5)):
        with pytest.raises(ParseError):
            der.der_cut(bad)


def test_base64_helpers_round_trip():
    data = os.urandom(100)
    assert util.b64decode(util.b64std(data)) == data
    assert util.b64decode(util.b64url(data)) == data
    assert util.b64decode(" ".join(util.b64std(data))) == data
    with pytest.raises(ParseError):
        util.b64decode("A" * 50, max_size=10)
    assert json.loads(json.dumps(util.b64std(b"x"))) == "eA=="


@pytest.mark.parametrize("keys", [1, True, 1.5, "HCLAkPub", {"kid": "HCLAkPub"}, None, [1, "x", None]])
def test_malformed_runtime_claims_keys_mean_no_ak_not_a_crash(keys):
    claims = json.dumps({"keys": keys}).encode()
    raw = bytearray(2600)
    raw[0:16] = b"HCLA" + (2).to_bytes(4, "little") + (2600).to_bytes(4, "little") + (2).to_bytes(4, "little")
    raw[0x4C0:0x4D4] = b"".join(v.to_bytes(4, "little") for v in (20 + len(claims), 1, 2, 1, len(claims)))
    raw[0x4D4:0x4D4 + len(claims)] = claims
    assert hcl.parse(bytes(raw)).ak_pub is None
