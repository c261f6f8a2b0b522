#!/usr/bin/env python
"""Regenerate azsim/oracle/roots.json (the simulator's pinned attestation trust anchors) from ../shared/vectors.

Every value is derived from public data and cross-checked against its published fingerprint:
- AMD ARKs (Milan, Genoa, Turin): virtee/sev builtin certificates; SHA-256 of the DER must equal AMD's published
  ARK fingerprints (reference/attestation.md "Pin the ARK by SHA-256 of its DER"); each ARK must be self-signed.
- Intel SGX Root CA: the last certificate of the PCK chain inside a real Azure TD quote; SHA-256 of the DER must equal
  Intel's published root fingerprint; self-signed.
- Intel TD quoting enclave identity (TD_QE) and the TDX module signer (tcb_info ``tdxModule``): the qe_identity and
  tcb_info documents of Intel's DCAP collateral in the vectors, whose ECDSA signatures are checked against their issuer
  chains (Intel SGX TCB Signing) up to the same Intel root.

Usage: python tests/simulator/gen_oracle_roots.py [--shared PATH] [--check]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "azsim", "oracle", "roots.json")
AMD_ARKS = {
    "Milan": "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
    "Genoa": "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
    "Turin": "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
}
INTEL_ROOT = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
TD_QUOTE = ("confidential-containers-trustee", "deps", "verifier", "test_data", "az-tdx-vtpm", "td-quote.bin")
COLLATERAL = ("flashbots-attested-tls-proxy", "attestation", "test-assets", "azure-collateral.json")


def _shared_default():
    d = HERE
    for dummy in range(6):
        d = os.path.dirname(d)
        if os.path.isfile(os.path.join(d, "shared", "vectors", "MANIFEST.md")):
            return os.path.join(d, "shared")
    return os.environ.get("CONFIDENTIAL_AZURE_SHARED", "/work/shared")


def _fp(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _self_signed(cert):
    cert.verify_directly_issued_by(cert)
    return cert


def amd_roots(vectors):
    out = []
    for product, expected in AMD_ARKS.items():
        path = os.path.join(vectors, "virtee-sev", "src", "certs", "snp", "builtin", product.lower(), "ark.pem")
        with open(path, "rb") as fh:
            ark = _self_signed(x509.load_pem_x509_certificate(fh.read()))
        if _fp(ark) != expected:
            raise SystemExit("ARK-%s fingerprint %s is not AMD's published %s" % (product, _fp(ark), expected))
        out.append({"product": product, "sha256": expected, "pem": _pem(ark)})
    return out


def _quote_pck_chain(raw):
    """The PEM chain of certification data type 5 nested in a TD quote v4 (Intel DCAP quote format)."""
    sig_len = struct.unpack_from("<I", raw, 48 + 584)[0]
    sig = raw[48 + 584 + 4:48 + 584 + 4 + sig_len]
    cd_type, cd_size = struct.unpack_from("<HI", sig, 128)
    cd = sig[134:134 + cd_size]
    auth_len = struct.unpack_from("<H", cd, 448)[0]
    n_type, n_size = struct.unpack_from("<HI", cd, 450 + auth_len)
    if (cd_type, n_type) != (6, 5):
        raise SystemExit("unexpected certification data types %r" % ((cd_type, n_type),))
    return x509.load_pem_x509_certificates(cd[456 + auth_len:456 + auth_len + n_size])


def intel_root(vectors):
    with open(os.path.join(vectors, *TD_QUOTE), "rb") as fh:
        root = _self_signed(_quote_pck_chain(fh.read())[-1])
    if _fp(root) != INTEL_ROOT:
        raise SystemExit("Intel root fingerprint %s is not Intel's published %s" % (_fp(root), INTEL_ROOT))
    return root


def _signed_collateral(coll, name):
    """Intel collateral document ``name`` after checking its signature and issuer chain up to the Intel root."""
    body = coll[name].encode("utf-8")
    chain = x509.load_pem_x509_certificates(coll[name + "_issuer_chain"].encode("ascii"))
    if _fp(chain[-1]) != INTEL_ROOT:
        raise SystemExit("%s issuer chain does not end at the Intel root" % name)
    for cert, issuer in zip(chain, chain[1:]):
        cert.verify_directly_issued_by(issuer)
    raw = bytes.fromhex(coll[name + "_signature"])
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    chain[0].public_key().verify(der, body, ec.ECDSA(hashes.SHA256()))
    return json.loads(body)


def _collateral(vectors):
    with open(os.path.join(vectors, *COLLATERAL), "rb") as fh:
        return json.load(fh)


def tdx_module(vectors):
    module = _signed_collateral(_collateral(vectors), "tcb_info")["tdxModule"]
    return {"mrsigner": module["mrsigner"].lower(), "attributes": module["attributes"].lower(),
            "attributesMask": module["attributesMask"].lower()}


def tdx_tcb_info(vectors):
    """Intel's TDX TCB info (v3) per FMSPC: TCB levels and TDX module identities, reduced to the compared values."""
    info = _signed_collateral(_collateral(vectors), "tcb_info")
    if info["id"] != "TDX" or info["version"] != 3:
        raise SystemExit("not a TDX TCB info v3")
    levels = [{"sgx": [c["svn"] for c in lvl["tcb"]["sgxtcbcomponents"]], "pcesvn": lvl["tcb"]["pcesvn"],
               "tdx": [c["svn"] for c in lvl["tcb"]["tdxtcbcomponents"]], "tcbStatus": lvl["tcbStatus"]}
              for lvl in info["tcbLevels"]]
    idents = [{"id": m["id"], "mrsigner": m["mrsigner"].lower(),
               "tcbLevels": [{"isvsvn": lvl["tcb"]["isvsvn"], "tcbStatus": lvl["tcbStatus"]} for lvl in m["tcbLevels"]]}
              for m in info["tdxModuleIdentities"]]
    return {info["fmspc"].lower(): {"issueDate": info["issueDate"], "tcbEvaluationDataNumber":
                                    info["tcbEvaluationDataNumber"], "tcbLevels": levels,
                                    "tdxModuleIdentities": idents}}


def td_qe_identity(vectors):
    ident = _signed_collateral(_collateral(vectors), "qe_identity")
    if ident["id"] != "TD_QE":
        raise SystemExit("not a TD_QE identity")
    levels = sorted(ident["tcbLevels"], key=lambda lvl: -lvl["tcb"]["isvsvn"])
    return {"id": ident["id"], "mrsigner": ident["mrsigner"].lower(), "isvprodid": ident["isvprodid"],
            "miscselect": ident["miscselect"].lower(), "miscselectMask": ident["miscselectMask"].lower(),
            "attributes": ident["attributes"].lower(), "attributesMask": ident["attributesMask"].lower(),
            "tcbLevels": [{"isvsvn": lvl["tcb"]["isvsvn"], "tcbStatus": lvl["tcbStatus"]} for lvl in levels],
            "issueDate": ident["issueDate"], "tcbEvaluationDataNumber": ident["tcbEvaluationDataNumber"]}


def build(shared):
    vectors = os.path.join(shared, "vectors")
    root = intel_root(vectors)
    return {"_source": "generated by tests/simulator/gen_oracle_roots.py from ../shared/vectors; do not edit",
            "amd_arks": amd_roots(vectors),
            "intel_root": {"sha256": INTEL_ROOT, "pem": _pem(root)},
            "td_qe_identity": td_qe_identity(vectors),
            "tdx_module": tdx_module(vectors),
            "tdx_tcb_info": tdx_tcb_info(vectors)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=_shared_default())
    ap.add_argument("--check", action="store_true", help="fail if roots.json differs from a fresh derivation")
    args = ap.parse_args(argv)
    text = json.dumps(build(args.shared), indent=1, sort_keys=True) + "\n"
    if args.check:
        with open(OUT, encoding="utf-8") as fh:
            if fh.read() != text:
                print("roots.json is stale: rerun %s" % os.path.basename(__file__), file=sys.stderr)
                return 1
        return 0
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(text)
    print("wrote", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
