"""AMD SEV-SNP attestation report: parse and verify (AMD SEV-SNP ABI spec 56860, "ATTESTATION_REPORT Structure";
AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface Specification" 57230).

Checks: exact size (1184 bytes); report version 2-5; signature algorithm 1 (ECDSA P-384 with SHA-384); signed by a
VCEK (key_info SIGNING_KEY = 0); the ECDSA signature (r, s little-endian, 72 bytes each, upper bytes zero) over
bytes 0x000-0x29F with the VCEK's P-384 key; VCEK <- ASK <- ARK with the ARK pinned and every certificate valid now;
one product throughout (ARK, ASK ``SEV-<product>``, VCEK product-name extension, the report's CPUID family/model on
v3+ reports); chip_id equals the VCEK hwID and the reported_tcb SPLs equal the VCEK's SPL extensions (per product
TCB layout); the policy's reserved must-be-one bit 17."""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography import x509

from . import certs
from .encoding import pem_certificates, u32, u64
from .errors import EvidenceError

REPORT_SIZE = 1184
SIGNED_END = 0x2A0
AMD_OID = "1.3.6.1.4.1.3704.1."
POLICY_BITS = {"smt-allowed": 16, "migration-allowed": 18, "is-debuggable": 19, "singlesocket": 20,
               "cxl-allowed": 21, "mem-aes256-xts-required": 22, "rapl-disabled": 23,
               "ciphertext-hiding-dram-enabled": 24, "page-swap-disabled": 25}
POLICY_RESERVED_ONE = 1 << 17
# TCB_VERSION byte positions (ABI spec "TCB_VERSION Structure"; Turin adds FMC and moves the others).
TCB_LAYOUT = {
    "Milan": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
    "Genoa": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
    "Turin": {"fmc": 0, "bootloader": 1, "tee": 2, "snp": 3, "microcode": 7},
}
SPL_OIDS = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8", "fmc": "3.9"}


def product_of_cpuid(family: int, model: int):
    """AMD family/model -> SEV-SNP product (Milan: 19h 00-0Fh; Genoa incl. Bergamo/Siena: 19h 10-1Fh, A0-AFh;
    Turin: 1Ah 00-1Fh)."""
    if family == 0x19 and model <= 0x0F:
        return "Milan"
    if family == 0x19 and (0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF):
        return "Genoa"
    if family == 0x1A and model <= 0x1F:
        return "Turin"
    return None


def parse(raw) -> dict:
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != REPORT_SIZE:
        raise EvidenceError("snp.report", "an SEV-SNP report is %d bytes, got %s" % (
            REPORT_SIZE, len(raw) if isinstance(raw, (bytes, bytearray)) else type(raw).__name__))
    raw = bytes(raw)
    rep = {"raw": raw, "version": u32(raw, 0x00), "guest_svn": u32(raw, 0x04), "policy": u64(raw, 0x08),
           "family_id": raw[0x10:0x20], "image_id": raw[0x20:0x30], "vmpl": u32(raw, 0x30),
           "signature_algo": u32(raw, 0x34), "current_tcb": u64(raw, 0x38), "platform_info": u64(raw, 0x40),
           "key_info": u32(raw, 0x48), "report_data": raw[0x50:0x90], "measurement": raw[0x90:0xC0],
           "host_data": raw[0xC0:0xE0], "id_key_digest": raw[0xE0:0x110], "author_key_digest": raw[0x110:0x140],
           "report_id": raw[0x140:0x160], "report_id_ma": raw[0x160:0x180], "reported_tcb": raw[0x180:0x188],
           "cpuid": (raw[0x188], raw[0x189], raw[0x18A]), "chip_id": raw[0x1A0:0x1E0],
           "committed_tcb": u64(raw, 0x1E0), "launch_tcb": u64(raw, 0x1F0),
           "sig_r": raw[0x2A0:0x2E8], "sig_s": raw[0x2E8:0x330]}
    if rep["version"] not in (2, 3, 4, 5):
        raise EvidenceError("snp.report", "unsupported SEV-SNP report version %d" % rep["version"])
    if rep["signature_algo"] != 1:
        raise EvidenceError("snp.signature", "signature algorithm %d is not ECDSA P-384 with SHA-384 (1)"
                            % rep["signature_algo"])
    if (rep["key_info"] >> 2) & 0x7 != 0:
        raise EvidenceError("snp.signature", "the report is not signed by a VCEK (key_info SIGNING_KEY=%d)"
                            % ((rep["key_info"] >> 2) & 0x7))
    if not rep["policy"] & POLICY_RESERVED_ONE:
        raise EvidenceError("snp.policy", "guest policy bit 17 (reserved, must be one) is zero")
    return rep


def tcb_svns(reported_tcb: bytes, product: str) -> dict:
    return dict((name, reported_tcb[pos]) for name, pos in TCB_LAYOUT[product].items())


def _der_value(data: bytes, tag: int):
    """Contents of one DER TLV with ``tag`` filling ``data`` exactly, else None."""
    if len(data) < 2 or data[0] != tag:
        return None
    n, off = data[1], 2
    if n & 0x80:
        width = n & 0x7F
        if width not in (1, 2) or len(data) < 2 + width:
            return None
        n, off = int.from_bytes(data[2:2 + width], "big"), 2 + width
    return data[off:] if len(data) - off == n else None


def vcek_extensions(vcek) -> dict:
    """Product name, SPLs and hwID from the VCEK's AMD extensions (VCEK spec 57230, table "VCEK extensions")."""
    out = {}
    for ext in vcek.extensions:
        oid = ext.oid.dotted_string
        if not oid.startswith(AMD_OID) or not isinstance(ext.value, x509.UnrecognizedExtension):
            continue
        suffix, value = oid[len(AMD_OID):], ext.value.value
        if suffix == "2":
            name = _der_value(value, 0x16)
            out["product_name"] = name.decode("ascii", "replace") if name is not None else None
        elif suffix == "4":
            wrapped = _der_value(value, 0x04)
            out["hwid"] = wrapped if wrapped is not None and len(value) in (66, 10) else value
        else:
            for name, sub in SPL_OIDS.items():
                if suffix == sub:
                    num = _der_value(value, 0x02)
                    out[name] = int.from_bytes(num, "big") if num else None
    return out


def _chain(chain_pem, trust, now):
    found = pem_certificates(chain_pem, "snp.vcek_chain", max_certs=3)
    vcek = found[0]
    if not isinstance(vcek.public_key(), ec.EllipticCurvePublicKey) or \
            not isinstance(vcek.public_key().curve, ec.SECP384R1):
        raise EvidenceError("snp.vcek_chain", "the VCEK's key is not an EC P-384 key")
    path = list(found)
    if certs.fingerprint(path[-1]) not in trust.amd:
        roots = trust.amd_root_for(path[-1].issuer)
        if not roots:
            raise EvidenceError("snp.vcek_chain", "the VCEK chain does not end at a pinned AMD ARK (%r)" %
                                certs.common_name(path[-1].issuer))
        path.append(roots[0])
    if len(path) != 3:
        raise EvidenceError("snp.vcek_chain", "an AMD chain is VCEK, ASK, ARK; got %d certificates" % len(path))
    anchor = certs.verify_path(path, trust.amd, now, "snp.vcek_chain", ["VCEK", "ASK", "ARK"])
    return path, anchor["product"]


def verify(raw_report, chain_pem, trust, now) -> dict:
    """Verified report fields + ``product`` + ``tcb`` (SVNs from reported_tcb); raises EvidenceError."""
    rep = parse(raw_report)
    (vcek, ask, _ark), product = _chain(chain_pem, trust, now)
    if certs.common_name(ask.subject) != "SEV-" + product:
        raise EvidenceError("snp.product", "ASK %r does not belong to the %s ARK" % (
            certs.common_name(ask.subject), product))
    ext = vcek_extensions(vcek)
    if (ext.get("product_name") or "").split("-")[0] != product:
        raise EvidenceError("snp.product", "VCEK product %r does not match the %s ARK" % (
            ext.get("product_name"), product))
    if rep["version"] >= 3:
        fam, model = rep["cpuid"][0], rep["cpuid"][1]
        if product_of_cpuid(fam, model) != product:
            raise EvidenceError("snp.product", "report CPUID family %#x model %#x is not a %s processor" % (
                fam, model, product))
    r, s = rep["sig_r"], rep["sig_s"]
    if any(r[48:]) or any(s[48:]):
        raise EvidenceError("snp.signature", "signature components exceed P-384 size")
    der = encode_dss_signature(int.from_bytes(r, "little"), int.from_bytes(s, "little"))
    try:
        vcek.public_key().verify(der, rep["raw"][:SIGNED_END], ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise EvidenceError("snp.signature", "the report signature does not verify with the VCEK") from None
    hwid = ext.get("hwid")
    if not hwid or len(hwid) not in (8, 64) or rep["chip_id"][:len(hwid)] != hwid:
        raise EvidenceError("snp.chip_id", "the report's chip_id is not the VCEK's hwID")
    tcb = tcb_svns(rep["reported_tcb"], product)
    for name, svn in tcb.items():
        if ext.get(name) != svn:
            raise EvidenceError("snp.tcb", "reported_tcb %s SVN %d differs from the VCEK's %s SPL %r" % (
                name, svn, name, ext.get(name)))
    rep.update(product=product, tcb=tcb)
    return rep
