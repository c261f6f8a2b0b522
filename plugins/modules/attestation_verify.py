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
  - "Provenance is required by default: a C(pass) needs proof that the evidence comes from an Azure confidential
    VM - the AK certificate chained to Microsoft's Azure Virtual TPM root CAs with the certificate's key equal to
    the key that signed the TPM quote and to C(HCLAkPub) in the runtime claims, or a verified MAA token
    (O(maa.use)) with C(x-ms-compliance-status=azure-compliant-cvm) that carries and agrees on the TEE claims
    checked locally. Without either the check C(provenance) fails (a genuine report from any other SEV-SNP or TDX
    platform would otherwise pass). O(insecure_skip_provenance) turns this off and is recorded in the result."
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
        description:
          - Base64 DER (zero padding tolerated) or PEM of the AK certificate (NV C(0x01C101D0)).
          - One of the two provenance signals; without it O(maa.use=true) is needed for a C(pass).
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
    description:
      - The hex nonce the controller drew and gave to M(confidential.azure.attestation_evidence) - 16 to 64 random
        bytes (32 recommended), hex digits only (no C(0x) prefix, no whitespace).
      - Take it from the controller's own variable, never from what the guest returned.
    type: str
    required: true
  require_nonce_binding:
    description:
      - Require the HCL C(user-data) to start with O(nonce) (the hardware report is then fresh, not only the TPM
        quote).
      - When C(false), an all-zero (or absent) C(user-data) passes only through the TPM quote nonce and the check
        reports C(hardware report not bound to this nonce); the hardware report may then be an old one of the same
        VM. Set C(false) only for TPMs that cannot regenerate the report (older HCLs, software TPMs in tests).
      - A non-zero C(user-data) that does not start with the nonce always fails.
    type: bool
    default: true
  insecure_skip_provenance:
    description:
      - Accept evidence without provenance (no chained AK certificate and no verified MAA token); the check
        C(provenance) is then C(skip) with the word INSECURE, the result has RV(insecure_skip_provenance=true) and
        the module warns.
      - A pass then proves only that the evidence is internally consistent and fresh, not that it comes from an
        Azure confidential VM. For tests and for diagnosis only.
    type: bool
    default: false
  verification_time:
    description:
      - Time at which certificates and the MAA token must be valid, as epoch seconds or ISO 8601 with a time zone.
        Default - now.
      - Only for re-checking archived evidence; a past time accepts certificates that have expired since.
    type: str
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
        description:
          - Extra roots (PEM) for the AK certificate chain, trusted like Microsoft's pinned Azure Virtual TPM roots
            (for example the test CA of a software TPM). Every root here can vouch for provenance.
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
  snp_guest_policy:
    description:
      - Overrides of the shipped SEV-SNP guest POLICY rules (check C(snp.guest_policy)). Defaults - DEBUG,
        MIGRATE_MA and CXL not allowed, SMT allowed, reserved bits clear, bit 17 set. DEBUG is never accepted.
    type: dict
    suboptions:
      allow_migrate_ma:
        description: Accept a migration agent (MIGRATE_MA, bit 18).
        type: bool
      allow_smt:
        description: Accept SMT (bit 16).
        type: bool
      allow_cxl:
        description: Accept CXL memory (bit 21).
        type: bool
      require_single_socket:
        description: Require SINGLE_SOCKET (bit 20).
        type: bool
      require_mem_aes_256_xts:
        description: Require AES-256-XTS memory encryption (bit 22).
        type: bool
      require_rapl_disabled:
        description: Require RAPL disabled (bit 23).
        type: bool
      require_ciphertext_hiding:
        description: Require ciphertext hiding (bit 24).
        type: bool
      require_page_swap_disabled:
        description: Require page swap disabled (bit 25).
        type: bool
      min_abi_major:
        description: Minimum firmware ABI major version.
        type: int
      min_abi_minor:
        description: Minimum firmware ABI minor version (compared when the major equals O(snp_guest_policy.min_abi_major)).
        type: int
  required_pcrs:
    description:
      - PCR indices the TPM quote must cover in addition to 0-7 (check C(tpm.pcr_selection)), for example the PCRs a
        policy of yours relies on.
    type: list
    elements: int
    default: []
  crls:
    description:
      - Certificate revocation lists (PEM, DER as base64, or hex) applied to the VCEK, PCK and AK certificate chains,
        for example AMD KDS's CRL for the ARK and Intel PCS's PCK CRL, fetched on the controller.
      - Without CRLs revocation is not checked and the checks C(snp.revocation), C(tdx.revocation) and
        C(ak_cert.revocation) say so (C(skip), offline mode).
    type: list
    elements: str
    default: []
  tdx_collateral:
    description:
      - Intel PCS collateral for the TD quote's platform (keys C(tcb_info), C(tcb_info_signature),
        C(tcb_info_issuer_chain), C(qe_identity), C(qe_identity_signature), C(qe_identity_issuer_chain), optional
        C(root_ca_crl), C(pck_crl), C(pck_crl_issuer_chain)); the TCB status is then evaluated (C(tdx.tcb_status)).
    type: dict
  tdx_min_tee_tcb_svn:
    description:
      - Minimum TEE_TCB_SVN (32 hex digits) compared component-wise when no O(tdx_collateral) is given; an all-zero
        TEE_TCB_SVN always fails.
    type: str
  tdx_accepted_tcb_statuses:
    description: Intel TCB statuses accepted with O(tdx_collateral).
    type: list
    elements: str
    default: [UpToDate, SWHardeningNeeded]
  maa:
    description: Microsoft Azure Attestation settings.
    type: dict
    default: {}
    suboptions:
      use:
        description:
          - Send the evidence to MAA and verify the token (an outbound HTTPS call per verification).
          - The verified token is a provenance signal; without it the evidence needs a chained AK certificate.
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
  policy_strict:
    description:
      - A policy assertion whose query reads a claim the evidence does not carry fails, whatever the query makes of
        the missing value (so C(!= `true`), negation or a comparison with null never pass on an absent claim).
      - C(false) restores plain JMESPath (missing claims read as null); avoid it for security decisions.
    type: bool
    default: true
  release_policy:
    description:
      - A Key Vault secure key release policy (dict or JSON, Key Vault's grammar - C(equals), C(notEquals),
        C(less), C(lessOrEquals), C(greater), C(greaterOrEquals), C(exists), C(allOf)/C(anyOf)) to evaluate
        locally, only for evidence whose mandatory checks passed.
      - With MAA it is evaluated against the verified MAA token's claims and issuer (what Key Vault would see).
        Without MAA against RV(claims); a condition on a claim they do not carry (C(x-ms-compliance-status) and
        every other claim only MAA issues) makes the answer C(unknown), never C(release).
      - Any answer other than C(release) fails the check C(release_policy).
    type: raw
  fail_on_fail:
    description:
      - Fail the task when the verdict is C(fail). Set to C(false) to act on RV(verdict) yourself (for example to
        quarantine the VM); the result is never silently a pass.
    type: bool
    default: true
notes:
  - The threat model (what a pass proves, what it does not, which option weakens what) is in the collection's
    docs/user/attestation.md.
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
provenance:
  description:
    - The signals that proved the evidence comes from an Azure confidential VM - C(ak_cert) (AK certificate chained
      to an Azure Virtual TPM root, its key the quote's signer and C(HCLAkPub)) and/or C(maa) (verified MAA token).
      Empty when neither did.
  returned: always
  type: list
  elements: str
  sample: [ak_cert]
insecure_skip_provenance:
  description: Whether O(insecure_skip_provenance) was set (a pass then does not prove Azure provenance).
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
  returned: when O(release_policy) is given and the evidence passed every mandatory check
  type: dict
  contains:
    released:
      description: Whether Key Vault would release the key for these claims (C(decision=release)).
      type: bool
    decision:
      description: C(release), C(no_release) or C(unknown) (the answer depends on claims only MAA issues).
      type: str
    reasons:
      description: Why.
      type: list
      elements: str
    claims_source:
      description: C(maa_token) (the verified MAA token), C(local) (RV(claims)) or C(none) (MAA failed).
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.confidential.azure.plugins.module_utils._attestation_verify import run


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
        require_nonce_binding=dict(type="bool", default=True),
        insecure_skip_provenance=dict(type="bool", default=False),
        verification_time=dict(type="str"),
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
        policy_strict=dict(type="bool", default=True),
        snp_guest_policy=dict(type="dict", options=dict(
            allow_migrate_ma=dict(type="bool"), allow_smt=dict(type="bool"),
            allow_cxl=dict(type="bool"), require_single_socket=dict(type="bool"),
            require_mem_aes_256_xts=dict(type="bool"), require_rapl_disabled=dict(type="bool"),
            require_ciphertext_hiding=dict(type="bool"), require_page_swap_disabled=dict(type="bool"),
            min_abi_major=dict(type="int"), min_abi_minor=dict(type="int"),
        )),
        required_pcrs=dict(type="list", elements="int", default=[]),
        crls=dict(type="list", elements="str", default=[]),
        tdx_collateral=dict(type="dict"),
        tdx_min_tee_tcb_svn=dict(type="str"),
        tdx_accepted_tcb_statuses=dict(type="list", elements="str", default=["UpToDate", "SWHardeningNeeded"]),
        release_policy=dict(type="raw"),
        fail_on_fail=dict(type="bool", default=True),
    )
    run(AnsibleModule(argument_spec=argument_spec, supports_check_mode=True))


if __name__ == "__main__":
    main()
