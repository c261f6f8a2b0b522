# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounds on the work the verifier does for one piece of evidence (stdlib only, no imports).

Evidence comes from the guest, which an attacker may control: every input is size-checked before it is
parsed, every certificate list is counted before it is loaded, and path building has a hard budget of
signature checks. Real Azure evidence is far below every limit (sizes seen in ../shared/vectors noted).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

# One DER certificate. Real: AMD ARK/ASK ~1.6 KB, VCEK ~1.4 KB, AK cert ~1 KB (in a 4096-byte NV blob).
MAX_CERT_DER = 16 * 1024
# A PEM text or base64 value that may hold a certificate chain (VCEK + ASK + ARK PEM is ~6 KB).
MAX_PEM_TEXT = 64 * 1024
# The vTPM NV blob that holds the AK certificate (NV index 0x01C101D0 is 4096 bytes on Azure).
MAX_AK_CERT_BLOB = 8 * 1024
# Certificates one input (a PEM text, a chain list) may carry; real chains have at most 4.
MAX_CERTS_PER_INPUT = 8
# Certificates of one chain from leaf to anchor, both included (VCEK<-ASK<-ARK = 3, PCK = 3, AK = 3..4).
MAX_CHAIN_LENGTH = 5
# Signature verifications one path search may spend before it gives up (real chains need <= 4).
MAX_SIGNATURE_CHECKS = 32
# Trust anchors (pinned + extra roots) considered for one chain.
MAX_ANCHORS = 16
# HCL report: 2600 bytes today (2048 on older HCL); NV indices are at most a few KB.
MAX_HCL_REPORT = 8 * 1024
# A raw SEV-SNP ATTESTATION_REPORT is 1184 bytes (tools sometimes pad it to 4000 bytes: the report buffer).
MAX_SNP_REPORT = 4096
# TD quote v4/v5 with the PEM PCK chain inside: ~5 KB real.
MAX_TD_QUOTE = 16 * 1024
# TPMS_ATTEST message (~145 B real) and its signature (256 B for RSA-2048, 512 for RSA-4096 + header).
MAX_TPM_ATTEST = 1024
MAX_TPM_SIGNATURE = 1024
# A CRL: Intel's PCK CRL is ~3.4 KB; AMD's KDS CRLs are small. Allow room for growth, not for abuse.
MAX_CRL = 512 * 1024
# CRLs supplied for one verification.
MAX_CRLS = 8
# Intel TCB info / QE identity JSON (real: 4 KB / 0.5 KB).
MAX_COLLATERAL_JSON = 256 * 1024
# TCB levels in one TCB info (real: a handful).
MAX_TCB_LEVELS = 128
