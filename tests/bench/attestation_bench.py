# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throughput of the controller-side attestation verifier (evidences verified per second).

Runs verify_evidence() on the real Azure evidence in ../shared/vectors (SNP and TDX, TPM quote, default
policy) and on synthetic evidence with an AK certificate chain, single-threaded, and prints one line per
vector type plus a JSON summary. Target: >= 50 evidences/s on the project machine. Not a test: it never
fails on a number, only on a wrong verdict.

Usage: python tests/bench/attestation_bench.py [--seconds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import types

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load():
    """Import the collection's pure package and test helpers without an ansible_collections tree."""
    root = "_bench_collection"
    pkg = types.ModuleType(root)
    pkg.__path__ = [REPO]
    sys.modules[root] = pkg
    verify = importlib.import_module(root + ".plugins.module_utils._attestation.verify")
    trust = importlib.import_module(root + ".plugins.module_utils._attestation.trust")
    sys.path.insert(0, os.path.join(REPO, "tests", "unit", "plugins", "module_utils", "_attestation"))
    # the helpers import the collection by its ansible_collections name: alias it
    for name in list(sys.modules):
        if name.startswith(root + "."):
            sys.modules["ansible_collections.confidential.azure" + name[len(root):]] = sys.modules[name]
    for parent in ("ansible_collections", "ansible_collections.confidential", "ansible_collections.confidential.azure"):
        if parent not in sys.modules:
            m = types.ModuleType(parent)
            m.__path__ = []
            sys.modules[parent] = m
    sys.modules["ansible_collections.confidential.azure"].__path__ = [REPO]
    vectors = importlib.import_module("vectors")
    synth = importlib.import_module("synth")
    return verify, trust, vectors, synth


def bench(name, fn, seconds):
    fn()  # warm up (also loads the pinned anchors once)
    n, start = 0, time.perf_counter()
    while True:
        res = fn()
        n += 1
        el = time.perf_counter() - start
        if el >= seconds:
            break
    return {"name": name, "count": n, "seconds": round(el, 3), "per_second": round(n / el, 1), "verdict": res.verdict}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    verify, trust, V, synth = _load()
    store = trust.TrustStore()
    nonce = V.CHALLENGE_HEX

    snp_ev = V.snp_evidence_bin()
    tdx_ev = V.tdx_evidence_bin()
    fb_ev = V.flashbots_tdx_evidence()
    fb_opts = {"policy": [{"name": "secure-boot", "query": "secureboot", "expect": False}]}
    vt = synth.VtpmChain()
    syn_ev, syn_nonce, chain = synth.snp_evidence(ak_key=vt.ak_key)
    syn_ev["ak_cert"] = vt.ak_cert_b64()
    syn_store = trust.TrustStore(extra_amd_roots=chain.roots, extra_vtpm_roots=[synth.pem(vt.root)],
                                 ak_intermediates=[synth.pem(vt.inter)])
    # the recorded real vectors predate the verifier's defaults (9-byte nonce, no nonce binding, no provenance
    # evidence): the unit tests' VECTOR_OPTIONS, so these rows skip the provenance checks
    old = {"min_nonce_bytes": 9, "require_nonce_binding": False, "insecure_skip_provenance": True}
    fb_opts = dict(old, now=1764662251, **fb_opts)  # at its collection time: its AK certificate expired 2026-11-30
    cases = [
        ("SEV-SNP real (Milan, VCEK chain, TPM quote)", lambda: verify.verify_evidence(snp_ev, nonce, store, old),
         "pass"),
        ("TDX real (quote v4, PCK chain, TPM quote)", lambda: verify.verify_evidence(tdx_ev, nonce, store, old),
         "pass"),
        ("TDX real + AK cert chain (flashbots)",
         lambda: verify.verify_evidence(fb_ev, V.FLASHBOTS_NONCE_HEX, store, fb_opts), "pass"),
        ("SEV-SNP synthetic + AK cert, nonce bound",
         lambda: verify.verify_evidence(syn_ev, syn_nonce, syn_store, {"require_nonce_binding": True}), "pass"),
        ("SEV-SNP real, trust dict parsed per call (module path)",
         lambda: verify.verify_evidence(snp_ev, nonce, {}, old), "pass"),
    ]
    rows = []
    for name, fn, expected in cases:
        row = bench(name, fn, args.seconds)
        if row["verdict"] != expected:
            sys.exit("%s: verdict %s, expected %s" % (name, row["verdict"], expected))
        rows.append(row)
        print("%-58s %8.1f evidences/s  (%d in %.2fs)" % (name, row["per_second"], row["count"], row["seconds"]))
    summary = {"python": sys.version.split()[0], "results": rows,
               "min_per_second": min(r["per_second"] for r in rows), "target_per_second": 50}
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
