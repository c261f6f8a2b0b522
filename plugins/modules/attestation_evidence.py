#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
---
module: attestation_evidence
short_description: Collect attestation evidence inside an Azure confidential VM (vTPM, HCL report, IMDS)
version_added: 0.1.0
description:
  - Runs B(inside the guest). Collects the evidence that M(confidential.azure.attestation_verify) checks on the
    controller; this module never judges the evidence itself (a guest must not be the judge of itself).
  - Writes the controller's O(nonce) (zero padded to 64 bytes) to the vTPM NV index C(0x01400002) (defining it,
    owner read/write, when absent) so that the paravisor (HCL) regenerates the HCL report with the nonce as
    C(user-data), waits O(wait_seconds), reads the HCL report from NV C(0x01400001) (2600 bytes, or 2048 bytes
    on older HCLs), the AK certificate from NV C(0x01C101D0) when present (cut at its DER length), and takes a
    TPM2_Quote of the SHA-256 PCRs O(pcrs) with the attestation key at C(0x81000003) and the nonce as
    qualifying data.
  - For SEV-SNP reports it fetches the VCEK certificate chain from the Azure Instance Metadata Service (THIM);
    for TDX reports it asks IMDS to turn the TDREPORT into a TD quote.
  - Needs only tpm2-tools (5.x) and the Python standard library in the guest. All temporary files live in a
    private directory that is removed before the module returns.
  - Because the TPM is accessed directly, run it with privileges that can open the TPM device (usually
    C(become=true)).
author:
  - confidential.azure maintainers (@confidential-azure)
options:
  nonce:
    description:
      - Fresh random nonce drawn by the controller, hex digits only (no C(0x) prefix, no whitespace), 16 to 64
        bytes (32 bytes recommended; the TPM limits the quote's qualifying data to the size of its largest digest).
      - Written zero padded to 64 bytes to NV C(0x01400002) and used as the quote's qualifying data.
    type: str
    required: true
  tcti:
    description:
      - TPM2 TCTI configuration for tpm2-tools (C(TPM2TOOLS_TCTI)), for example C(device:/dev/tpmrm0) or
        C(swtpm:host=127.0.0.1,port=2321) for a software TPM.
      - When omitted, tpm2-tools picks its default (the TPM device).
    type: str
  wait_seconds:
    description:
      - Seconds to wait after writing the nonce before reading the HCL report, so that the paravisor can
        regenerate it. C(0) reads immediately.
    type: float
    default: 3
  pcrs:
    description: SHA-256 PCR indices to quote.
    type: list
    elements: int
    default: [0, 1, 2, 3, 4, 5, 6, 7]
  ak_handle:
    description: Persistent handle of the attestation key.
    type: str
    default: '0x81000003'
  collect_vcek:
    description:
      - When the HCL report carries an SEV-SNP report, fetch the VCEK certificate chain from IMDS
        (C(GET /metadata/THIM/amd/certification)). Failing to reach IMDS then fails the module.
    type: bool
    default: true
  collect_td_quote:
    description:
      - When the HCL report carries a TDX TDREPORT, request a TD quote from IMDS (C(POST /acc/tdquote)).
        Failing to reach IMDS then fails the module.
    type: bool
    default: true
  imds_endpoint:
    description: Base URL of the Azure Instance Metadata Service (change it only for tests).
    type: str
    default: http://169.254.169.254
  imds_timeout:
    description: Timeout in seconds for each IMDS request.
    type: int
    default: 10
  include_event_log:
    description:
      - Include the TCG event log (base64) read from O(event_log_path). A missing or unreadable log is
        reported as a warning and left out.
    type: bool
    default: false
  event_log_path:
    description: Path of the binary TCG event log.
    type: path
    default: /sys/kernel/security/tpm0/binary_bios_measurements
notes:
  - Idempotency - the module always reports C(changed=false). Its only write is the 64-byte report-data NV index
    C(0x01400002), which exists to carry a per-request nonce; that write does not change the guest's
    configuration, and every run collects fresh evidence for its own nonce.
  - Check mode - nothing is written and no evidence is collected (the result has C(skipped=true) and an empty
    RV(evidence)), because evidence that is not bound to the controller's nonce is worthless.
  - On a real vTPM a fresh HCL report carries C(user-data) = the 64 bytes written; older HCLs and software TPMs
    do not regenerate the report, which the verifier reports as "hardware report not bound to this nonce".
requirements:
  - tpm2-tools >= 5.0 in the guest
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: partial
    details: In check mode nothing is written or collected; the module returns C(skipped=true).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Collect evidence for a controller nonce
  confidential.azure.attestation_evidence:
    nonce: "{{ my_nonce }}"
  become: true
  register: collected

- name: Verify it on the controller
  confidential.azure.attestation_verify:
    evidence: "{{ collected.evidence }}"
    nonce: "{{ my_nonce }}"
  delegate_to: localhost

- name: Collect from a software TPM (tests)
  confidential.azure.attestation_evidence:
    nonce: "{{ my_nonce }}"
    tcti: swtpm:host=127.0.0.1,port=2321
    wait_seconds: 0
    collect_vcek: false
"""

RETURN = r"""
evidence:
  description: Evidence for M(confidential.azure.attestation_verify). Empty in check mode.
  returned: always
  type: dict
  contains:
    hcl_report:
      description: Base64 of the HCL report read from NV C(0x01400001).
      type: str
      returned: success
    tpm_quote:
      description: TPM2_Quote over the SHA-256 PCRs with the nonce as qualifying data.
      type: dict
      returned: success
      contains:
        message:
          description: Base64 of the TPMS_ATTEST structure.
          type: str
        signature:
          description: Base64 of the raw RSASSA signature (C(-f plain)).
          type: str
        pcrs:
          description: Quoted PCR values, index (as string) to lower-case hex SHA-256.
          type: dict
    ak_cert:
      description:
        - Base64 DER of the AK certificate (padding removed). The controller chains it to Microsoft's Azure Virtual
          TPM roots as proof that the evidence comes from an Azure confidential VM; without it the controller needs
          a verified MAA token instead.
      type: str
      returned: when NV C(0x01C101D0) exists
    vcek:
      description: PEM chain VCEK + ASK + ARK from IMDS (THIM).
      type: str
      returned: SEV-SNP and O(collect_vcek=true)
    td_quote:
      description: Base64 of the TD quote from IMDS.
      type: str
      returned: TDX and O(collect_td_quote=true)
    event_log:
      description: Base64 of the TCG event log.
      type: str
      returned: O(include_event_log=true) and readable
    vm_id:
      description: VM ID from IMDS instance metadata, else the HCL claims' C(vmUniqueId).
      type: str
      returned: when known
    location:
      description: Azure region from IMDS instance metadata.
      type: str
      returned: when IMDS answered
report_type:
  description: Hardware report type found in the HCL report (C(sevsnp), C(tdx) or C(unknown)); informational only.
  returned: success
  type: str
nonce:
  description: The nonce the evidence was collected for (hex, lower case).
  returned: success
  type: str
report_data_index_defined:
  description: Whether NV C(0x01400002) had to be defined by this run.
  returned: success
  type: bool
"""

import json
import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url

# The same parsers the controller's verifier uses (standard library only, Python 3.8+).
from ansible_collections.confidential.azure.plugins.module_utils._attestation.der import der_cut as _der_cut
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import ParseError
from ansible_collections.confidential.azure.plugins.module_utils._attestation.hcl import summary as hcl_summary
from ansible_collections.confidential.azure.plugins.module_utils._attestation.limits import MAX_AK_CERT_BLOB
from ansible_collections.confidential.azure.plugins.module_utils._attestation.util import b64decode, b64std as b64

HCL_REPORT_INDEX = 0x01400001
REPORT_DATA_INDEX = 0x01400002
AK_CERT_INDEX = 0x01C101D0
REPORT_DATA_SIZE = 64
NONCE_MIN_BYTES = 16
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
TPM_TOOLS = ("tpm2_getcap", "tpm2_nvdefine", "tpm2_nvwrite", "tpm2_nvread", "tpm2_quote", "tpm2_flushcontext")


class EvidenceError(Exception):
    pass


def parse_nonce(value):
    """The controller's hex nonce -> bytes (16..64, hex digits only, as attestation_verify requires)."""
    text = value if isinstance(value, str) else ""
    if not text or len(text) % 2 or len(text) > 2 * REPORT_DATA_SIZE or not set(text) <= HEX_DIGITS:
        raise EvidenceError("nonce must be an even-length hex string (digits and a-f only: no 0x prefix, no "
                            "whitespace) of %d to %d bytes, drawn by the controller"
                            % (NONCE_MIN_BYTES, REPORT_DATA_SIZE))
    raw = bytes(bytearray.fromhex(text))
    if len(raw) < NONCE_MIN_BYTES:
        raise EvidenceError("nonce must be at least %d bytes (got %d)" % (NONCE_MIN_BYTES, len(raw)))
    return raw


def report_data_bytes(nonce):
    return nonce + b"\x00" * (REPORT_DATA_SIZE - len(nonce))


def der_cut(blob):
    """The AK certificate DER cut at its exact length (the NV blob is zero padded). Raises EvidenceError."""
    try:
        return _der_cut(blob, "AK certificate", MAX_AK_CERT_BLOB)
    except ParseError as exc:
        raise EvidenceError(str(exc))


def parse_handles(text):
    handles = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("-"):
            try:
                handles.add(int(line.lstrip("- ").strip(), 16))
            except ValueError:
                continue
    return handles


def split_pcrs(indices, blob):
    indices = sorted(set(indices))
    if len(blob) != 32 * len(indices):
        raise EvidenceError("tpm2_quote returned %d bytes of PCR values for %d PCRs" % (len(blob), len(indices)))
    return dict((str(idx), blob[32 * n:32 * (n + 1)].hex()) for n, idx in enumerate(indices))


def b64url_nopad(data):
    return b64(data).replace("+", "-").replace("/", "_").rstrip("=")


def b64_any_to_std(text):
    """base64 or base64url (padding optional) -> standard base64."""
    try:
        return b64(b64decode(text, "IMDS TD quote"))
    except ParseError as exc:
        raise ValueError(str(exc))


class Tpm(object):
    """tpm2-tools runner; flushes contexts after every call (no resource manager on raw devices / swtpm)."""

    def __init__(self, module, tcti):
        self.module = module
        self.env = {"TPM2TOOLS_TCTI": tcti} if tcti else {}
        self.bins = {}
        for tool in TPM_TOOLS:
            path = module.get_bin_path(tool)
            if path is None:
                raise EvidenceError("%s not found: install tpm2-tools (5.x) in the guest" % tool)
            self.bins[tool] = path

    def run(self, tool, *args, **kwargs):
        cmd = [self.bins[tool]] + list(args)
        rc, out, err = self.module.run_command(cmd, environ_update=self.env)
        if kwargs.get("flush", True):
            self.flush()
        if rc != 0:
            raise EvidenceError("%s failed (rc=%d): %s" % (" ".join([tool] + list(args)), rc, (err or out).strip()))
        return out

    def flush(self):
        for flag in ("-t", "-l", "-s"):
            self.module.run_command([self.bins["tpm2_flushcontext"], flag], environ_update=self.env)

    def nv_indices(self):
        return parse_handles(self.run("tpm2_getcap", "handles-nv-index", flush=False))

    def nv_read(self, index, path):
        self.run("tpm2_nvread", "-C", "o", "0x%08X" % index, "-o", path)
        with open(path, "rb") as handle:
            return handle.read()


class Imds(object):
    def __init__(self, endpoint, timeout):
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def request(self, method, path, body=None):
        url = self.endpoint + path
        headers = {"Metadata": "true"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            resp = open_url(url, method=method, data=data, headers=headers, timeout=self.timeout,
                            use_proxy=False, follow_redirects="none")
            return json.loads(resp.read().decode("utf-8"))
        except Exception as exc:  # URLError, HTTPError, socket timeouts, JSON errors
            raise EvidenceError("Azure Instance Metadata Service request %s %s failed: %s" % (method, url, to_native(exc)))

    def vcek_chain(self):
        doc = self.request("GET", "/metadata/THIM/amd/certification")
        cert, chain = doc.get("vcekCert"), doc.get("certificateChain")
        if not isinstance(cert, str) or "BEGIN CERTIFICATE" not in cert:
            raise EvidenceError("IMDS THIM answer has no vcekCert")
        pem = cert.strip() + "\n"
        if isinstance(chain, str) and chain.strip():
            pem += chain.strip() + "\n"
        return pem

    def td_quote(self, td_report):
        doc = self.request("POST", "/acc/tdquote", {"report": b64url_nopad(td_report)})
        quote = doc.get("quote")
        if not isinstance(quote, str) or not quote:
            raise EvidenceError("IMDS TD quote answer has no quote")
        try:
            return b64_any_to_std(quote)
        except (ValueError, TypeError) as exc:
            raise EvidenceError("IMDS TD quote is not base64: %s" % exc)

    def compute(self):
        return self.request("GET", "/metadata/instance/compute?api-version=2021-02-01")


def collect(module, tpm, imds, params, nonce, workdir):
    """Collect the evidence dict. Returns (evidence, defined_report_data_index, warnings)."""
    warnings = []
    defined = False
    if REPORT_DATA_INDEX not in tpm.nv_indices():
        tpm.run("tpm2_nvdefine", "0x%08X" % REPORT_DATA_INDEX, "-C", "o", "-s", str(REPORT_DATA_SIZE),
                "-a", "ownerread|ownerwrite")
        defined = True
    nonce_path = os.path.join(workdir, "report_data.bin")
    with open(nonce_path, "wb") as handle:
        handle.write(report_data_bytes(nonce))
    tpm.run("tpm2_nvwrite", "-C", "o", "0x%08X" % REPORT_DATA_INDEX, "-i", nonce_path)
    if params["wait_seconds"] > 0:
        time.sleep(params["wait_seconds"])

    indices = tpm.nv_indices()
    if HCL_REPORT_INDEX not in indices:
        raise EvidenceError("NV index 0x%08X (HCL report) does not exist: not an Azure confidential VM vTPM"
                            % HCL_REPORT_INDEX)
    report = tpm.nv_read(HCL_REPORT_INDEX, os.path.join(workdir, "hcl.bin"))
    summary = hcl_summary(report)
    claims = summary["claims"] or {}
    user_data = claims.get("user-data") if isinstance(claims, dict) else None
    if isinstance(user_data, str) and not user_data.lower().startswith(nonce.hex()):
        warnings.append("the HCL report's user-data does not carry this nonce (the paravisor did not regenerate "
                        "the report); the controller decides whether that is acceptable")

    evidence = {"hcl_report": b64(report)}

    if AK_CERT_INDEX in indices:
        raw = tpm.nv_read(AK_CERT_INDEX, os.path.join(workdir, "akcert.bin"))
        try:
            evidence["ak_cert"] = b64(der_cut(raw))
        except EvidenceError as exc:
            warnings.append("NV 0x%08X does not hold a DER certificate (%s); ak_cert left out" % (AK_CERT_INDEX, exc))
    else:
        warnings.append("no AK certificate (NV 0x%08X): the controller needs a verified MAA token (maa.use) to accept "
                        "this evidence" % AK_CERT_INDEX)

    msg, sig, pcr_path = (os.path.join(workdir, n) for n in ("quote.msg", "quote.sig", "pcrs.bin"))
    selection = "sha256:" + ",".join(str(i) for i in sorted(set(params["pcrs"])))
    tpm.run("tpm2_quote", "-c", params["ak_handle"], "-l", selection, "-q", nonce.hex(), "-g", "sha256",
            "-m", msg, "-s", sig, "-f", "plain", "-o", pcr_path, "-F", "values")
    with open(msg, "rb") as h_msg, open(sig, "rb") as h_sig, open(pcr_path, "rb") as h_pcr:
        evidence["tpm_quote"] = {"message": b64(h_msg.read()), "signature": b64(h_sig.read()),
                                 "pcrs": split_pcrs(params["pcrs"], h_pcr.read())}

    if summary["report_type"] == "sevsnp" and params["collect_vcek"]:
        evidence["vcek"] = imds.vcek_chain()
    if summary["report_type"] == "tdx" and params["collect_td_quote"]:
        evidence["td_quote"] = imds.td_quote(summary["hw_report"])

    try:
        compute = imds.compute()
        if compute.get("vmId"):
            evidence["vm_id"] = compute["vmId"]
        if compute.get("location"):
            evidence["location"] = compute["location"]
    except EvidenceError as exc:
        warnings.append("instance metadata not available (%s); vm_id taken from the HCL claims" % exc)
    if "vm_id" not in evidence:
        vm_conf = claims.get("vm-configuration") if isinstance(claims, dict) else None
        if isinstance(vm_conf, dict) and vm_conf.get("vmUniqueId"):
            evidence["vm_id"] = str(vm_conf["vmUniqueId"])

    if params["include_event_log"]:
        try:
            with open(params["event_log_path"], "rb") as handle:
                evidence["event_log"] = b64(handle.read())
        except (IOError, OSError) as exc:
            warnings.append("event log %s not readable: %s" % (params["event_log_path"], to_native(exc)))
    return evidence, summary["report_type"], defined, warnings


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nonce=dict(type="str", required=True),
            tcti=dict(type="str"),
            wait_seconds=dict(type="float", default=3),
            pcrs=dict(type="list", elements="int", default=[0, 1, 2, 3, 4, 5, 6, 7]),
            ak_handle=dict(type="str", default="0x81000003"),
            collect_vcek=dict(type="bool", default=True),
            collect_td_quote=dict(type="bool", default=True),
            imds_endpoint=dict(type="str", default="http://169.254.169.254"),
            imds_timeout=dict(type="int", default=10),
            include_event_log=dict(type="bool", default=False),
            event_log_path=dict(type="path", default="/sys/kernel/security/tpm0/binary_bios_measurements"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        nonce = parse_nonce(params["nonce"])
    except EvidenceError as exc:
        module.fail_json(msg=str(exc))
    if params["wait_seconds"] < 0:
        module.fail_json(msg="wait_seconds must not be negative")
    if not params["pcrs"] or any(p < 0 or p > 23 for p in params["pcrs"]):
        module.fail_json(msg="pcrs must list PCR indices between 0 and 23")

    if module.check_mode:
        module.exit_json(changed=False, skipped=True, evidence={},
                         msg="check mode: the nonce was not written to the vTPM and no evidence was collected")

    workdir = tempfile.mkdtemp(prefix="attestation-evidence-")
    os.chmod(workdir, 0o700)
    try:
        tpm = Tpm(module, params["tcti"])
        imds = Imds(params["imds_endpoint"], params["imds_timeout"])
        evidence, report_type, defined, warnings = collect(module, tpm, imds, params, nonce, workdir)
    except EvidenceError as exc:
        module.fail_json(msg=str(exc))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, evidence=evidence, report_type=report_type, nonce=nonce.hex(),
                     report_data_index_defined=defined)


if __name__ == "__main__":
    main()
