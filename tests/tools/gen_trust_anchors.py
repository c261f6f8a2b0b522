# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Derive the pinned attestation trust anchors from the shared test vectors.

Writes plugins/module_utils/_attestation/anchors.py: PEM + SHA-256 (of the DER) of
  * AMD ARK Milan / Genoa / Turin (self-signed, RSA-PSS) and their ASKs,
  * Intel SGX Root CA (taken from the PCK chain embedded in a real Azure TD quote),
  * Azure Virtual TPM Root Certificate Authority 2023 (+ known intermediate "Global Virtual TPM CA - 03"),
  * Intel's TDX quoting-enclave identity (MRSIGNER, ISVPRODID, MISCSELECT/ATTRIBUTES and masks, minimum ISVSVN =
    the lowest UpToDate level), from Intel PCS QE identity collateral (id TD_QE) whose ECDSA signature is checked
    here with Intel's TCB signing certificate chained to the Intel SGX Root CA.
Every root is checked for a valid self-signature and against the fingerprint published in
../shared/reference/attestation.md (where one is published); every ASK/intermediate must verify under its root.

Usage: python tests/tools/gen_trust_anchors.py [--shared DIR] [--check]
  --check  exit 1 if the committed anchors.py differs from what would be generated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "plugins", "module_utils", "_attestation", "anchors.py")

# Published in attestation.md; the script also re-reads that file and fails if they disagree.
EXPECTED = {
    "ARK-Milan": "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
    "ARK-Genoa": "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
    "ARK-Turin": "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
    "Intel SGX Root CA": "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3",
}


def find_shared(explicit=None):
    cands = []
    if explicit:
        cands.append(explicit)
    if os.environ.get("CONFIDENTIAL_AZURE_SHARED"):
        cands.append(os.environ["CONFIDENTIAL_AZURE_SHARED"])
    d = REPO
    for dummy in range(8):
        cands.append(os.path.join(d, "shared"))
        cands.append(os.path.join(os.path.dirname(d), "shared"))
        d = os.path.dirname(d)
    for c in cands:
        if os.path.isfile(os.path.join(c, "vectors", "MANIFEST.md")):
            return c
    sys.exit("cannot find the shared directory (set CONFIDENTIAL_AZURE_SHARED)")


def fp(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def check_sig(cert, issuer):
    key = issuer.public_key()
    h = cert.signature_hash_algorithm
    if isinstance(key, rsa.RSAPublicKey):
        if cert.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10":
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
        else:
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), h)
    else:
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(h))


def pem_certs(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def cn(cert):
    return cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


def pck_chain_from_quote(path):
    """The PEM certification data (type 5) at the end of a TDX quote v4."""
    with open(path, "rb") as f:
        q = f.read()
    sig_len = struct.unpack_from("<I", q, 48 + 584)[0]
    sig = q[48 + 584 + 4:48 + 584 + 4 + sig_len]
    off = 128
    ctype, csize = struct.unpack_from("<HI", sig, off)
    assert ctype == 6, "expected QE report certification data"
    inner = sig[off + 6:off + 6 + csize]
    auth_len = struct.unpack_from("<H", inner, 384 + 64)[0]
    p = 384 + 64 + 2 + auth_len
    ctype, csize = struct.unpack_from("<HI", inner, p)
    assert ctype == 5, "expected PCK cert chain"
    return x509.load_pem_x509_certificates(inner[p + 6:p + 6 + csize].rstrip(b"\0"))


def entry(cert, source):
    return {"subject": cert.subject.rfc4514_string(), "sha256": fp(cert), "source": source,
            "pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii")}


def generate(shared):
    vec = os.path.join(shared, "vectors")
    with open(os.path.join(shared, "reference", "attestation.md"), encoding="utf-8") as f:
        ref = f.read()
    for name, want in EXPECTED.items():
        if want not in ref:
            sys.exit("fingerprint of %s (%s) is not the one published in attestation.md" % (name, want))

    out = {"AMD_ARKS": {}, "AMD_ASKS": {}, "INTEL_SGX_ROOTS": {}, "AZURE_VTPM_ROOTS": {}, "AZURE_VTPM_INTERMEDIATES": {}}
    for product in ("milan", "genoa", "turin"):
        rel_ark = "virtee-sev/src/certs/snp/builtin/%s/ark.pem" % product
        rel_ask = "virtee-sev/src/certs/snp/builtin/%s/ask.pem" % product
        ark = pem_certs(os.path.join(vec, rel_ark))[0]
        ask = pem_certs(os.path.join(vec, rel_ask))[0]
        name = cn(ark)
        check_sig(ark, ark)
        check_sig(ask, ark)
        if fp(ark) != EXPECTED[name]:
            sys.exit("%s fingerprint mismatch: %s" % (name, fp(ark)))
        # cross-check with the copies from two other repositories
        for other in ("google-go-sev-guest/verify/trust/ask_ark_%s.pem" % (product if product != "turin" else "turin_vcek"),
                      "confidential-containers-trustee/deps/verifier/src/snp/%s_ask_ark_asvk.pem" % product):
            if fp(ark) not in [fp(c) for c in pem_certs(os.path.join(vec, other))]:
                sys.exit("%s not found in %s" % (name, other))
        key = product.capitalize()
        out["AMD_ARKS"][key] = entry(ark, rel_ark)
        out["AMD_ASKS"][key] = entry(ask, rel_ask)

    rel_q = "confidential-containers-trustee/deps/verifier/test_data/az-tdx-vtpm/td-quote.bin"
    chain = pck_chain_from_quote(os.path.join(vec, rel_q))
    root = chain[-1]
    check_sig(root, root)
    if fp(root) != EXPECTED["Intel SGX Root CA"] or cn(root) != "Intel SGX Root CA":
        sys.exit("Intel SGX Root CA mismatch: %s %s" % (cn(root), fp(root)))
    out["INTEL_SGX_ROOTS"]["Intel SGX Root CA"] = entry(root, rel_q + " (PCK certification data, last certificate)")

    rel_root = "flashbots-attested-tls/crates/attestation/assets/azure-virtual-tpm-root-2023.pem"
    rel_int = "flashbots-attested-tls/crates/attestation/assets/global-virtual-tpm-ca-03.pem"
    vroot = pem_certs(os.path.join(vec, rel_root))[0]
    vint = pem_certs(os.path.join(vec, rel_int))[0]
    check_sig(vroot, vroot)
    check_sig(vint, vroot)
    if cn(vroot) != "Azure Virtual TPM Root Certificate Authority 2023":
        sys.exit("unexpected vTPM root %s" % cn(vroot))
    out["AZURE_VTPM_ROOTS"][cn(vroot)] = entry(vroot, rel_root)
    out["AZURE_VTPM_INTERMEDIATES"][cn(vint)] = entry(vint, rel_int)
    out["INTEL_TDX_QE_IDENTITY"] = qe_identity(vec, root)
    return out


def qe_identity(vec, intel_root):
    """Intel's TDX QE identity from PCS collateral, its signature checked up to the pinned Intel root."""
    rel = "flashbots-attested-tls-proxy/attestation/test-assets/azure-collateral.json"
    with open(os.path.join(vec, rel), encoding="utf-8") as f:
        col = json.load(f)
    chain = x509.load_pem_x509_certificates(col["qe_identity_issuer_chain"].encode())
    if fp(chain[-1]) != fp(intel_root):
        sys.exit("QE identity issuer chain does not end at the Intel SGX Root CA")
    check_sig(chain[0], chain[-1])
    sig = bytes.fromhex(col["qe_identity_signature"])
    chain[0].public_key().verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
                                 col["qe_identity"].encode(), ec.ECDSA(hashes.SHA256()))
    ident = json.loads(col["qe_identity"])
    if ident["id"] != "TD_QE":
        sys.exit("not a TDX QE identity")
    up_to_date = [lv["tcb"]["isvsvn"] for lv in ident["tcbLevels"] if lv["tcbStatus"] == "UpToDate"]
    return {
        "source": "Intel PCS TDX QE identity (id TD_QE v%d, tcbEvaluationDataNumber %d, issued %s, signed by %s), "
                  "copy in %s" % (ident["version"], ident["tcbEvaluationDataNumber"], ident["issueDate"], cn(chain[0]), rel),
        "mrsigner": ident["mrsigner"].lower(),
        "isvprodid": ident["isvprodid"],
        "min_isvsvn": min(up_to_date),
        "miscselect": ident["miscselect"],
        "miscselectMask": ident["miscselectMask"],
        "attributes": ident["attributes"],
        "attributesMask": ident["attributesMask"],
    }


def render(data):
    lines = [
        "# -*- coding: utf-8 -*-",
        "# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)",
        '"""Pinned attestation trust anchors. GENERATED by tests/tools/gen_trust_anchors.py - do not edit."""',
        "",
        "from __future__ import (absolute_import, division, print_function)",
        "from __future__ import annotations",
        "",
        "__metaclass__ = type",
        "",
    ]
    for var in ("AMD_ARKS", "AMD_ASKS", "INTEL_SGX_ROOTS", "AZURE_VTPM_ROOTS", "AZURE_VTPM_INTERMEDIATES"):
        lines.append("%s = {" % var)
        for key, e in data[var].items():
            lines.append("    %r: {" % key)
            lines.append("        'subject': %r," % e["subject"])
            lines.append("        'sha256': %r," % e["sha256"])
            lines.append("        'source': %r," % e["source"])
            lines.append("        'pem': (")
            for pl in e["pem"].splitlines():
                lines.append("            %r" % (pl + "\n"))
            lines.append("        ),")
            lines.append("    },")
        lines.append("}")
        lines.append("")
    lines.append("INTEL_TDX_QE_IDENTITY = {")
    for key, value in data["INTEL_TDX_QE_IDENTITY"].items():
        if isinstance(value, str) and len(value) > 100:
            words, parts = value.split(" "), [""]
            for word in words:
                if len(parts[-1]) + len(word) > 90:
                    parts.append("")
                parts[-1] += word + " "
            parts[-1] = parts[-1][:-1]
            lines.append("    %r: (" % key)
            lines.extend("        %r" % part for part in parts)
            lines.append("    ),")
        else:
            lines.append("    %r: %r," % (key, value))
    lines.append("}")
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render(generate(find_shared(args.shared)))
    if args.check:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit("%s is out of date: run tests/tools/gen_trust_anchors.py" % OUT)
        print("anchors up to date")
        return
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote %s" % OUT)


if __name__ == "__main__":
    main()
