#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
---
module: attestation_verify
short_description: Verify Azure confidential VM guest attestation evidence on the controller
version_added: 0.1.0
description:
  - Verifies the evidence collected in a confidential VM by M(confidential.azure.attestation_evidence), on the
    controller (use C(delegate_to=localhost)); a guest is never the judge of itself.
  - "Checks: the HCL report and the binding of its runtime claims (SHA-256 of the claims == report_data[0:32],
    rest zero); the TPM quote (signature by the HCL attestation key C(HCLAkPub), qualifying data == O(nonce),
    PCR digest); the nonce in the HCL C(user-data); the AK certificate (key == C(HCLAkPub), chain to the Azure
    Virtual TPM root) when present; for AMD SEV-SNP the report signature by the VCEK, VCEK <- ASK <- ARK with the
    ARK pinned by fingerprint, chip_id == hwID, reported TCB == VCEK SPLs, DEBUG off, VMPL 0; for Intel TDX the
    TD quote signature, QE report signature by the PCK, QE report data binding, PCK chain to the pinned Intel
    SGX root, REPORTDATA/MRTD binding to the HCL report, TD DEBUG off."
  - Optionally sends the evidence to Microsoft Azure Attestation (platform endpoints C(/attest/SevSnpVm),
    C(/attest/TdxVm)) and verifies the returned token (RS256 only, key from the endpoint's JWKS by C(kid), issuer,
    C(exp)/C(nbf), nonce) and that its claims agree with the local verification.
  - Applies a policy of JMESPath assertions over the normalized claims (defaults shipped) and can evaluate a
    Key Vault secure key release policy locally against the claims.
  - Fails closed. Every check is reported; any check that fails or cannot run makes the verdict C(fail), and by
    default the task then fails (O(fail_on_fail)).
  - Needs the C(cryptography) and C(jmespath) Python packages on the controller. Pure verification code, no
    Azure SDK; MAA is called with Ansible's C(open_url).
author:
  - confidential.azure maintainers (@confidential-azure)
requirements:
  - cryptography >= 43.0.0 (older versions cannot parse AMD's RSA-PSS certificates)
  - jmespath
attributes:
  check_mode:
    support: full
    description: Verification has no side effects and runs in check mode too.
  diff_mode:
    support: none
    description: Nothing is changed.
options:
  evidence:
    description: The C(evidence) returned by M(confidential.azure.attestation_evidence).
    type: dict
    required: true
    suboptions:
      hcl_report:
        description: Base64 of the HCL report (vTPM NV index C(0x01400001)).
        type: str
        required: true
      tpm_quote:
        description:
          - TPM2_Quote made with the AK at C(0x81000003) and the nonce as qualifying data, a dict with the keys
            C(message) (base64 of the TPMS_ATTEST structure), C(signature) (base64 of the RSASSA signature, plain
            or as a TPMT_SIGNATURE) and C(pcrs) (quoted SHA-256 PCR values, index to hex digest).
        type: dict
      ak_cert:
        description: Base64 DER (zero padding tolerated) or PEM of the AK certificate (NV C(0x01C101D0)).
        type: str
      vcek:
        description:
          - SEV-SNP only. PEM chain (VCEK, optionally ASK and ARK) or the IMDS THIM JSON
            (C(vcekCert), C(certificateChain), C(tcbm)) as a string or dict. A presented ARK is never trusted by
            itself, only the pinned or configured ones.
        type: raw
      td_quote:
        description: TDX only. Base64 of the TD quote (v4 or v5).
        type: str
      event_log:
        description: Base64 of the TCG event log (informational, not evaluated).
        type: str
      vm_id:
        description: VM ID; when given it must equal the C(vmUniqueId) in the HCL claims.
        type: str
      location:
        description: Azure region of the VM (informational).
        type: str
  nonce:
    description: The hex nonce the controller gave to M(confidential.azure.attestation_evidence).
    type: str
    required: true
  require_nonce_binding:
    description:
      - Require the HCL C(user-data) to start with O(nonce). When C(false), an all-zero (or absent) C(user-data)
        passes only through the TPM quote nonce and the check reports C(hardware report not bound to this nonce).
      - A non-zero C(user-data) that does not start with the nonce always fails.
    type: bool
    default: false
  expected_tee:
    description: Expected TEE (from the VM size family); a different TEE fails the check C(tee.expected).
    type: str
    choices: [snp, tdx]
  trust:
    description: Trust settings on top of the built-in pinned anchors.
    type: dict
    default: {}
    suboptions:
      extra_amd_roots:
        description: Extra AMD roots (ARK, optionally followed by an ASK) as PEM. For tests.
        type: list
        elements: str
        default: []
      extra_intel_roots:
        description: Extra Intel roots as PEM. For tests.
        type: list
        elements: str
        default: []
      extra_vtpm_roots:
        description: Extra Azure vTPM roots as PEM.
        type: list
        elements: str
        default: []
      ak_intermediates:
        description: Intermediate CA certificates (PEM) for the AK certificate chain.
        type: list
        elements: str
        default: []
  snp_minimum:
    description: Minimum SEV-SNP reported TCB SPLs and guest SVN; lower values fail C(snp.tcb_minimum).
    type: dict
    suboptions:
      bootloader:
        description: Minimum bootloader SPL.
        type: int
      tee:
        description: Minimum TEE (PSP OS) SPL.
        type: int
      snp:
        description: Minimum SNP firmware SPL.
        type: int
      microcode:
        description: Minimum microcode SPL.
        type: int
      fmc:
        description: Minimum FMC SPL (Turin).
        type: int
      guest_svn:
        description: Minimum guest SVN.
        type: int
  maa:
    description: Microsoft Azure Attestation settings.
    type: dict
    default: {}
    suboptions:
      use:
        description: Send the evidence to MAA and verify the token.
        type: bool
        default: false
      endpoint:
        description:
          - MAA provider URL, for example C(https://sharedeus.eus.attest.azure.net). It is also the expected token
            issuer; the signing keys are read from C(<endpoint>/certs).
          - Defaults to the C(attestation_endpoint) of the cloud environment (O(maa.cloud_environment) or
            E(AZURE_CLOUD_ENVIRONMENT)).
        type: str
      cloud_environment:
        description: Cloud name, dict, JSON string or JSON file path (as for the other modules) for the default endpoint.
        type: raw
      ca_bundle:
        description: CA bundle (PEM file) to validate the endpoint's TLS certificate; defaults to the cloud's C(ca_bundle).
        type: path
      validate_certs:
        description: Validate the endpoint's TLS certificate. Never disable this outside tests.
        type: bool
        default: true
      api_versions:
        description: api-version per attestation type.
        type: dict
        default: {}
        suboptions:
          snp:
            description: api-version of C(/attest/SevSnpVm).
            type: str
            default: '2022-08-01'
          tdx:
            description: api-version of C(/attest/TdxVm).
            type: str
            default: '2025-06-01'
      timeout:
        description: HTTP timeout in seconds.
        type: int
        default: 30
  policy:
    description:
      - JMESPath assertions over RV(claims). An assertion passes when the query result equals O(policy[].expect) or,
        without O(policy[].expect), when it is truthy (not null, false or empty).
      - Added to the shipped defaults (TEE type present, TEE matches O(expected_tee), MAA compliance status when MAA
        is used, not debuggable, VMPL 0 on SNP, secure boot on); an assertion with a default's name replaces it.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name; reported as check C(policy:<name>).
        type: str
        required: true
      query:
        description: JMESPath expression (quote claim names with hyphens, for example C("x-ms-sevsnpvm-vmpl")).
        type: str
        required: true
      expect:
        description: Expected value.
        type: raw
      description:
        description: Human readable description.
        type: str
  default_policy:
    description: Apply the shipped default assertions.
    type: bool
    default: true
  release_policy:
    description:
      - A Key Vault secure key release policy (dict or JSON) to evaluate locally. With MAA it is evaluated against
        the verified MAA token's claims and issuer (what Key Vault would see); without MAA against RV(claims)
        (which carry no compliance status, so a typical CVM policy does not release). A policy that would not
        release the key fails the check C(release_policy).
    type: raw
  fail_on_fail:
    description:
      - Fail the task when the verdict is C(fail). Set to C(false) to act on RV(verdict) yourself (for example to
        quarantine the VM); the result is never silently a pass.
    type: bool
    default: true
notes:
  - TDX TCB status needs Intel collateral and is not evaluated locally (check C(tdx.tcb_status) is C(skip)); use MAA.
seealso:
  - module: confidential.azure.attestation_evidence
"""

EXAMPLES = r"""
- name: Collect evidence in the guest
  confidential.azure.attestation_evidence:
    nonce: "{{ attestation_nonce }}"
  become: true
  register: collected

- name: Verify it on the controller
  confidential.azure.attestation_verify:
    evidence: "{{ collected.evidence }}"
    nonce: "{{ attestation_nonce }}"
    require_nonce_binding: true
    expected_tee: snp
    policy:
      - name: launch-measurement
        query: '"x-ms-sevsnpvm-launchmeasurement"'
        expect: "{{ golden_measurement }}"
  delegate_to: localhost
  register: attestation

- name: Verify with MAA and check that Key Vault would release the CMK
  confidential.azure.attestation_verify:
    evidence: "{{ collected.evidence }}"
    nonce: "{{ attestation_nonce }}"
    maa:
      use: true
      endpoint: https://sharedeus.eus.attest.azure.net
    release_policy: "{{ lookup('file', 'skr-policy.json') | from_json }}"
    fail_on_fail: false
  delegate_to: localhost
  register: attestation
"""

RETURN = r"""
verdict:
  description: C(pass) only when no check failed and every mandatory check passed; else C(fail).
  returned: always
  type: str
  sample: pass
checks:
  description: Every check with its result (C(pass), C(fail) or C(skip)) and reason.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "snp.signature", "result": "pass", "reason": "ECDSA P-384 signature by the VCEK verifies"}]
failed_checks:
  description: Names of the failed checks.
  returned: always
  type: list
  elements: str
tee:
  description: TEE of the evidence (C(snp) or C(tdx)), from the HCL report type.
  returned: when the HCL report could be parsed
  type: str
nonce_bound:
  description: Whether the hardware report's HCL C(user-data) carries the nonce.
  returned: always
  type: bool
claims:
  description:
    - Normalized claims, with MAA's claim names where they exist (C(x-ms-attestation-type), C(x-ms-sevsnpvm-*),
      C(tdx_*), C(x-ms-runtime), C(secureboot), C(x-ms-azurevm-vmid), C(x-ms-azurevm-attested-pcrs)); the same
      TEE claims nested under C(x-ms-isolation-tee). With MAA, token-only claims (C(x-ms-compliance-status) ...)
      are added.
  returned: always
  type: dict
maa_token_claims:
  description: Claims of the verified MAA token.
  returned: when MAA was used and the token verified
  type: dict
release_policy_result:
  description: Local evaluation of O(release_policy).
  returned: when O(release_policy) is given and could be evaluated
  type: dict
  contains:
    released:
      description: Whether Key Vault would release the key for these claims.
      type: bool
    reasons:
      description: Why.
      type: list
      elements: str
    claims_source:
      description: C(maa_token) (the verified MAA token), C(local) (RV(claims)) or C(none) (MAA failed).
      type: str
"""

import json
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url

from ansible_collections.confidential.azure.plugins.module_utils._attestation import certs as att_certs
from ansible_collections.confidential.azure.plugins.module_utils._attestation import policy as att_policy
from ansible_collections.confidential.azure.plugins.module_utils._attestation.errors import AttestationError
from ansible_collections.confidential.azure.plugins.module_utils._attestation.maa import attest_path, certs_url
from ansible_collections.confidential.azure.plugins.module_utils._attestation.trust import TrustStore
from ansible_collections.confidential.azure.plugins.module_utils._attestation.verify import verify_evidence


class MaaHttpError(AttestationError):
    pass


class MaaClient(object):
    """MAA platform attestation over HTTPS with Ansible's open_url."""

    def __init__(self, endpoint, ca_bundle=None, validate_certs=True, api_versions=None, timeout=30):
        self.endpoint = endpoint.rstrip("/")
        self.ca_bundle = ca_bundle
        self.validate_certs = validate_certs
        self.api_versions = api_versions or {}
        self.timeout = timeout

    def _call(self, url, method="GET", body=None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        try:
            resp = open_url(url, method=method, data=data, headers=headers, validate_certs=self.validate_certs,
                            ca_path=self.ca_bundle, timeout=self.timeout, follow_redirects="none")
            text = resp.read()
        except HTTPError as exc:
            detail = ""
            try:
                err = json.loads(exc.read()).get("error") or {}
                detail = "%s: %s" % (err.get("code"), err.get("message"))
            except Exception:
                detail = to_native(exc)
            raise MaaHttpError("HTTP %s from %s: %s" % (exc.code, url.split("?")[0], detail), check="maa.request")
        except Exception as exc:
            raise MaaHttpError("cannot reach %s: %s" % (url.split("?")[0], to_native(exc)), check="maa.request")
        try:
            return json.loads(text)
        except ValueError:
            raise MaaHttpError("%s did not return JSON" % url.split("?")[0], check="maa.request")

    def attest(self, kind, body):
        version = self.api_versions.get("snp" if kind == "SevSnpVm" else "tdx")
        data = self._call(self.endpoint + attest_path(kind, version), "POST", body)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise MaaHttpError("MAA response has no token", check="maa.request")
        return token

    def jwks(self):
        return self._call(certs_url(self.endpoint))


def _maa_endpoint(module, maa):
    endpoint, ca_bundle = maa.get("endpoint"), maa.get("ca_bundle")
    if not endpoint or not ca_bundle:
        try:
            from ansible_collections.confidential.azure.plugins.module_utils._azure import cloud as az_cloud
            env = az_cloud.from_setting(maa.get("cloud_environment"))
        except Exception as exc:
            if not endpoint:
                module.fail_json(msg="maa.endpoint is not set and no cloud environment gives one: %s" % to_native(exc))
            env = None
        if env is not None:
            endpoint = endpoint or env.attestation_endpoint
            ca_bundle = ca_bundle or env.ca_bundle
    if not endpoint:
        module.fail_json(msg="maa.use is true but no MAA endpoint is configured (maa.endpoint or the cloud's "
                             "attestation_endpoint)")
    if not endpoint.lower().startswith("https://"):
        module.fail_json(msg="maa.endpoint must be an https:// URL")
    return endpoint.rstrip("/"), ca_bundle


def main():
    argument_spec = dict(
        evidence=dict(type="dict", required=True, options=dict(
            hcl_report=dict(type="str", required=True),
            tpm_quote=dict(type="dict"),
            ak_cert=dict(type="str"),
            vcek=dict(type="raw"),
            td_quote=dict(type="str"),
            event_log=dict(type="str"),
            vm_id=dict(type="str"),
            location=dict(type="str"),
        )),
        nonce=dict(type="str", required=True),
        require_nonce_binding=dict(type="bool", default=False),
        expected_tee=dict(type="str", choices=["snp", "tdx"]),
        trust=dict(type="dict", default={}, options=dict(
            extra_amd_roots=dict(type="list", elements="str", default=[]),
            extra_intel_roots=dict(type="list", elements="str", default=[]),
            extra_vtpm_roots=dict(type="list", elements="str", default=[]),
            ak_intermediates=dict(type="list", elements="str", default=[]),
        )),
        snp_minimum=dict(type="dict", options=dict(
            bootloader=dict(type="int"), tee=dict(type="int"), snp=dict(type="int"),
            microcode=dict(type="int"), fmc=dict(type="int"), guest_svn=dict(type="int"),
        )),
        maa=dict(type="dict", default={}, options=dict(
            use=dict(type="bool", default=False),
            endpoint=dict(type="str"),
            cloud_environment=dict(type="raw"),
            ca_bundle=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
            api_versions=dict(type="dict", default={}, options=dict(
                snp=dict(type="str", default="2022-08-01"),
                tdx=dict(type="str", default="2025-06-01"),
            )),
            timeout=dict(type="int", default=30),
        )),
        policy=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            query=dict(type="str", required=True),
            expect=dict(type="raw"),
            description=dict(type="str"),
        )),
        default_policy=dict(type="bool", default=True),
        release_policy=dict(type="raw"),
        fail_on_fail=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    if not att_certs.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=to_native(att_certs.CRYPTOGRAPHY_IMPORT_ERROR))
    if not att_certs.cryptography_recent_enough():
        module.fail_json(msg=missing_required_lib("cryptography >= %d.%d" % att_certs.CRYPTOGRAPHY_MIN_VERSION) +
                         " (installed: %d.%d; older versions cannot parse AMD's RSA-PSS certificates)"
                         % att_certs.cryptography_version())
    if not att_policy.HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"), exception=to_native(att_policy.JMESPATH_IMPORT_ERROR))

    p = module.params
    # suboption defaults are filled in with None: keep only what the user set
    evidence = dict((k, v) for k, v in p["evidence"].items() if v is not None)
    user_policy = []
    for a in p["policy"]:
        item = dict(name=a["name"], query=a["query"])
        if a.get("description"):
            item["description"] = a["description"]
        # 'expect' absent means "truthy"; an explicit null is not expressible, use a query instead
        if a.get("expect") is not None:
            item["expect"] = a["expect"]
        user_policy.append(item)
    try:
        att_policy.validate(user_policy)
    except AttestationError as exc:
        module.fail_json(msg="invalid policy: %s" % exc)
    try:
        bytes.fromhex(p["nonce"])
    except ValueError:
        module.fail_json(msg="nonce must be a hex string")
    if not p["nonce"]:
        module.fail_json(msg="nonce must not be empty")
    release_policy = p["release_policy"]
    if isinstance(release_policy, str):
        try:
            release_policy = json.loads(release_policy)
        except ValueError as exc:
            module.fail_json(msg="release_policy is not valid JSON: %s" % to_native(exc))
    try:
        store = TrustStore.from_dict(dict((k, v) for k, v in (p["trust"] or {}).items() if v))
    except AttestationError as exc:
        module.fail_json(msg="invalid trust settings: %s" % exc)

    options = dict(
        require_nonce_binding=p["require_nonce_binding"],
        expected_tee=p["expected_tee"],
        policy=user_policy,
        default_policy=p["default_policy"],
        release_policy=release_policy,
    )
    if p["snp_minimum"]:
        minimum = dict((k, v) for k, v in p["snp_minimum"].items() if v is not None)
        if minimum:
            options["snp_minimum"] = minimum
    maa = p["maa"] or {}
    if maa.get("use"):
        endpoint, ca_bundle = _maa_endpoint(module, maa)
        client = MaaClient(endpoint, ca_bundle=ca_bundle, validate_certs=maa["validate_certs"],
                           api_versions=maa.get("api_versions") or {}, timeout=maa["timeout"])
        options["maa"] = dict(attest=client.attest, jwks=client.jwks, issuer=endpoint,
                              certs_url=certs_url(endpoint))

    try:
        res = verify_evidence(evidence, p["nonce"], store, options)
        out = res.to_dict()
    except Exception as exc:  # verify_evidence never raises by design; fail closed if it does
        module.fail_json(msg="attestation verification crashed: %s" % to_native(exc), verdict="fail",
                         exception=traceback.format_exc())

    failed = [c["name"] for c in out["checks"] if c["result"] == "fail"]
    out["failed_checks"] = failed
    out["tee"] = res.tee
    out["nonce_bound"] = res.nonce_bound
    out["changed"] = False
    if out["verdict"] != "pass" and p["fail_on_fail"]:
        reason = ", ".join(failed) or "a mandatory check did not run"
        module.fail_json(msg="attestation verdict: fail (failed checks: %s)" % reason, **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
