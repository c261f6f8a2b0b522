# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure HCL (paravisor) attestation report: NV index 0x01400001 of the vTPM.

Stdlib only and Python 3.8 compatible: the guest module attestation_evidence uses it too.

* ``parse(data) -> HclReport`` (strict, at most limits.MAX_HCL_REPORT bytes; ParseError check hcl.parse).
* ``summary(data) -> {"report_type": "sevsnp"|"tdx"|"unknown", "hw_report": bytes, "claims": dict|None}``: tolerant
  look for the guest, which only decides what else to fetch (all checks happen on the controller).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import hashlib
import json

from .errors import ParseError, VerificationError
from .limits import MAX_HCL_REPORT
from .util import require, u32le

HCL_SIGNATURE = 0x414C4348  # "HCLA"
HW_REPORT_OFFSET = 0x20
HW_REPORT_SIZE = 1184
IGVM_OFFSET = 0x4C0
CLAIMS_OFFSET = 0x4D4
REPORT_TYPE_SNP = 2
REPORT_TYPE_TDX = 4
REPORT_TYPES = {REPORT_TYPE_SNP: "snp", REPORT_TYPE_TDX: "tdx"}
HASH_TYPES = {1: "sha256", 2: "sha384", 3: "sha512"}
# offset of report_data inside the hardware report
SNP_REPORT_DATA = 0x50
TDX_REPORT_DATA = 0x80
TDX_TDREPORT_SIZE = 1024


class HclReport(object):
    """Parsed HCL report. ``tee`` is 'snp' or 'tdx' (from report_type, never from a name)."""

    def __init__(self, raw, version, report_size, request_type, hw_report, data_size, data_version,
                 report_type, hash_type, claims_bytes):
        self.raw = raw
        self.version = version
        self.report_size = report_size
        self.request_type = request_type
        self.hw_report = hw_report
        self.data_size = data_size
        self.data_version = data_version
        self.report_type = report_type
        self.hash_type = hash_type
        self.claims_bytes = claims_bytes
        self.tee = REPORT_TYPES[report_type]
        try:
            claims = json.loads(claims_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError("HCL runtime claims are not valid JSON: %s" % exc, check="hcl.parse")
        if not isinstance(claims, dict):
            raise ParseError("HCL runtime claims must be a JSON object", check="hcl.parse")
        self.claims = claims

    @property
    def snp_report(self):
        """The 1184-byte SNP ATTESTATION_REPORT (SNP only)."""
        return self.hw_report

    @property
    def td_report(self):
        """The 1024-byte TDREPORT (TDX only)."""
        return self.hw_report[:TDX_TDREPORT_SIZE]

    @property
    def report_data(self):
        off = SNP_REPORT_DATA if self.tee == "snp" else TDX_REPORT_DATA
        return self.hw_report[off:off + 64]

    def claims_digest(self):
        algo = HASH_TYPES.get(self.hash_type)
        if algo is None:
            raise VerificationError("unsupported HCL hash_type %d" % self.hash_type, check="hcl.claims_binding")
        return hashlib.new(algo, self.claims_bytes).digest()

    def verify_claims_binding(self):
        """hash(claims) == report_data[0:n] and the rest of report_data is zero."""
        digest = self.claims_digest()
        rd = self.report_data
        if rd[:len(digest)] != digest:
            raise VerificationError("runtime claims hash does not match the hardware report_data",
                                    check="hcl.claims_binding")
        if any(rd[len(digest):]):
            raise VerificationError("hardware report_data beyond the claims hash is not zero",
                                    check="hcl.claims_binding")
        return True

    def key(self, kid):
        """The JWK with ``kid`` from the runtime claims' ``keys`` list; None when absent or malformed."""
        keys = self.claims.get("keys")
        if not isinstance(keys, list):
            return None
        for k in keys:
            if isinstance(k, dict) and k.get("kid") == kid:
                return k
        return None

    @property
    def ak_pub(self):
        return self.key("HCLAkPub")

    @property
    def vm_configuration(self):
        vc = self.claims.get("vm-configuration")
        return vc if isinstance(vc, dict) else {}

    @property
    def user_data(self):
        """Bytes of the `user-data` claim, or None when absent (older HCL)."""
        ud = self.claims.get("user-data")
        if ud is None:
            return None
        if not isinstance(ud, str):
            raise ParseError("HCL user-data must be a hex string", check="hcl.parse")
        try:
            return bytes.fromhex(ud)
        except ValueError:
            raise ParseError("HCL user-data is not hex", check="hcl.parse")


def parse(data):
    """Parse an HCL report (2600 or 2048 bytes, header version 1 or 2) -> HclReport."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError("HCL report must be bytes", check="hcl.parse")
    data = bytes(data)
    if len(data) > MAX_HCL_REPORT:
        raise ParseError("HCL report is too large (%d bytes, limit %d)" % (len(data), MAX_HCL_REPORT), check="hcl.parse")
    if len(data) < CLAIMS_OFFSET:
        raise ParseError("HCL report too short (%d bytes)" % len(data), check="hcl.parse")
    if u32le(data, 0) != HCL_SIGNATURE:
        raise ParseError("HCL report: bad signature (expected 'HCLA')", check="hcl.parse")
    version = u32le(data, 4)
    if version not in (1, 2):
        raise ParseError("HCL report: unsupported version %d" % version, check="hcl.parse")
    report_size = u32le(data, 8)
    request_type = u32le(data, 0xC)
    if request_type != 2:
        raise ParseError("HCL report: unexpected request_type %d" % request_type, check="hcl.parse")
    hw = require(data, HW_REPORT_OFFSET, HW_REPORT_SIZE, "HCL hardware report")
    data_size = u32le(data, IGVM_OFFSET)
    data_version = u32le(data, IGVM_OFFSET + 4)
    report_type = u32le(data, IGVM_OFFSET + 8)
    hash_type = u32le(data, IGVM_OFFSET + 12)
    claim_size = u32le(data, IGVM_OFFSET + 16)
    if report_type not in REPORT_TYPES:
        raise ParseError("HCL report: unsupported report_type %d" % report_type, check="hcl.parse")
    if hash_type not in HASH_TYPES:
        raise ParseError("HCL report: unsupported hash_type %d" % hash_type, check="hcl.parse")
    if data_size != 20 + claim_size:
        raise ParseError("HCL report: data_size %d != 20 + claim_size %d" % (data_size, claim_size), check="hcl.parse")
    if claim_size == 0:
        raise ParseError("HCL report: no runtime claims", check="hcl.parse")
    claims = require(data, CLAIMS_OFFSET, claim_size, "HCL runtime claims")
    try:
        return HclReport(data, version, report_size, request_type, hw, data_size, data_version,
                         report_type, hash_type, claims)
    except ParseError:
        raise
    except Exception as exc:  # defensive: parsers raise only clean errors
        raise ParseError("HCL report: %s" % exc, check="hcl.parse")


SUMMARY_TYPES = {REPORT_TYPE_SNP: "sevsnp", REPORT_TYPE_TDX: "tdx"}


def summary(data):
    """Report type, hardware report bytes and runtime claims (or None), never raising on odd input."""
    info = {"report_type": "unknown", "hw_report": b"", "claims": None}
    if not isinstance(data, (bytes, bytearray)) or len(data) < CLAIMS_OFFSET or bytes(data[:4]) != b"HCLA":
        return info
    data = bytes(data[:MAX_HCL_REPORT])
    report_type, claim_size = u32le(data, IGVM_OFFSET + 8), u32le(data, IGVM_OFFSET + 16)
    info["report_type"] = SUMMARY_TYPES.get(report_type, "unknown")
    info["hw_report"] = data[HW_REPORT_OFFSET:HW_REPORT_OFFSET + (TDX_TDREPORT_SIZE if report_type == REPORT_TYPE_TDX
                                                                  else HW_REPORT_SIZE)]
    if 0 < claim_size <= len(data) - CLAIMS_OFFSET:
        try:
            claims = json.loads(data[CLAIMS_OFFSET:CLAIMS_OFFSET + claim_size].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            claims = None
        if isinstance(claims, dict):
            info["claims"] = claims
    return info
