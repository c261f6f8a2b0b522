"""The simulator's own attestation oracle: evidence checks (AMD SEV-SNP, Intel TDX, Azure HCL runtime claims),
the claims Microsoft Azure Attestation issues for them, and Key Vault's secure key release policy.

Written from the public rules only (AMD SEV-SNP ABI spec 56860 and the VCEK certificate spec 57230, Intel TDX DCAP
Quote Generation Library / Quoting Library API "A.3 Quote format", Microsoft's MAA docs and EAT profiles, Key Vault's
"secure key release policy grammar"); it never imports or loads code from the collection (plugins/), so a bug there
cannot hide behind an oracle that shares it. Every parser bounds its input (sizes, counts) and fails with
``EvidenceError``; no regular expression ever runs over untrusted input.
"""
