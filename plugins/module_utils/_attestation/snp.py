# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AMD SEV-SNP ATTESTATION_REPORT parsing and verification (VCEK <- ASK <- pinned ARK).

Public API used by the verdict layer:

* ``parse(data) -> SnpReport``.
* ``verify(report, vcek_pem, chain_pems=None, trusted_arks=None, policy_min=None, trusted_asks=(), allow_debug=False,
  expected_vmpl=0, result=None, now=None, crls=None, guest_policy=None) -> SnpResult``: checks, in order,
  snp.vcek_chain (VCEK <- ASK <- pinned ARK, every certificate valid at ``now``), snp.revocation (AMD KDS CRL
  for the ARK's ASKs when ``crls`` are given; recorded as "skip ... revocation not checked" otherwise),
  snp.product (ARK product == VCEK product name == report CPUID family/model for report v3+), snp.signature,
  snp.chip_id, snp.reported_tcb, snp.debug, snp.guest_policy (against DEFAULT_GUEST_POLICY updated with
  ``guest_policy``), snp.vmpl, snp.tcb_minimum. Raises VerificationError (``check`` set) at the first failure;
  ``SnpResult.revocation`` holds the crl.check_revocation dict.
* ``check_guest_policy(policy, overrides=None) -> str`` (raises VerificationError check snp.guest_policy).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

from .certs import HAS_CRYPTOGRAPHY, build_chain, cert_public_key, load_any, named_certs
from .crl import check_revocation
from .errors import AttestationError, ParseError, VerificationError
from .limits import MAX_CERTS_PER_INPUT, MAX_SNP_REPORT
from .util import der_header, der_integer, hexstr, u32le, u64le

if HAS_CRYPTOGRAPHY:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

REPORT_SIZE = 1184
SIGNED_SIZE = 0x2A0
SIGNATURE_RESERVED = 0x330  # after r (72 bytes) and s (72 bytes) of the signature at 0x2A0
SUPPORTED_VERSIONS = (2, 3, 5)
POLICY_DEBUG = 1 << 19
POLICY_SMT = 1 << 16
POLICY_MIGRATE_MA = 1 << 18
POLICY_SINGLE_SOCKET = 1 << 20
POLICY_RESERVED_ONE = 1 << 17  # "must be one" in the SNP ABI
POLICY_CXL_ALLOW = 1 << 21
POLICY_MEM_AES_256_XTS = 1 << 22
POLICY_RAPL_DIS = 1 << 23
POLICY_CIPHERTEXT_HIDING = 1 << 24
POLICY_PAGE_SWAP_DISABLE = 1 << 25
POLICY_KNOWN_BITS = (1 << 26) - 1  # bits 63:26 are reserved, must be zero
# Default guest policy (AMD SEV-SNP ABI spec, guest policy structure; Azure CVMs run with 0x3001F: ABI 0.31,
# SMT allowed, bit 17 set). "allow_*" = the bit may be set; "require_*" = the bit must be set.
DEFAULT_GUEST_POLICY = {
    "allow_debug": False,                # bit 19: the hypervisor could read and write guest memory
    "allow_migrate_ma": False,           # bit 18: a migration agent could export the guest's memory
    "allow_smt": True,                   # bit 16: Azure hosts run SNP guests with SMT
    "allow_cxl": False,                  # bit 21: guest memory on CXL devices
    "require_single_socket": False,      # bit 20
    "require_mem_aes_256_xts": False,    # bit 22
    "require_rapl_disabled": False,      # bit 23
    "require_ciphertext_hiding": False,  # bit 24
    "require_page_swap_disabled": False,  # bit 25
    "min_abi_major": 0,                  # bits 15:8
    "min_abi_minor": 0,                  # bits 7:0 (compared only when the major equals min_abi_major)
}
_POLICY_BITS = {
    "allow_debug": POLICY_DEBUG, "allow_migrate_ma": POLICY_MIGRATE_MA, "allow_smt": POLICY_SMT,
    "allow_cxl": POLICY_CXL_ALLOW, "require_single_socket": POLICY_SINGLE_SOCKET,
    "require_mem_aes_256_xts": POLICY_MEM_AES_256_XTS, "require_rapl_disabled": POLICY_RAPL_DIS,
    "require_ciphertext_hiding": POLICY_CIPHERTEXT_HIDING, "require_page_swap_disabled": POLICY_PAGE_SWAP_DISABLE,
}
AMD_OID = "1.3.6.1.4.1.3704.1."
TCB_FIELDS = ("bootloader", "tee", "snp", "microcode", "fmc")
# byte positions inside a TCB_VERSION u64
TCB_LAYOUT = {
    "Milan": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
    "Genoa": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
    "Turin": {"fmc": 0, "bootloader": 1, "tee": 2, "snp": 3, "microcode": 7},
}
SPL_OIDS = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8", "fmc": "3.9"}


def _product_from_cpuid(family, model):
    if family == 0x19:
        if model <= 0x0F:
            return "Milan"
        if 0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF:
            return "Genoa"
    if family == 0x1A and model <= 0x11:
        return "Turin"
    return None


def check_guest_policy(policy, overrides=None):
    """Check the report's guest POLICY against DEFAULT_GUEST_POLICY updated with ``overrides``; returns a summary."""
    rules = dict(DEFAULT_GUEST_POLICY)
    for key, value in (overrides or {}).items():
        if key not in rules:
            raise ParseError("guest_policy: unknown key '%s' (known: %s)" % (key, ", ".join(sorted(rules))),
                             check="snp.guest_policy")
        if isinstance(rules[key], bool) != isinstance(value, bool) or not isinstance(value, int):
            kind = "a boolean" if isinstance(rules[key], bool) else "an integer"
            raise ParseError("guest_policy.%s must be %s" % (key, kind), check="snp.guest_policy")
        rules[key] = value
    bad = []
    if policy & ~POLICY_KNOWN_BITS:
        bad.append("reserved bits 0x%x set" % (policy & ~POLICY_KNOWN_BITS))
    if not policy & POLICY_RESERVED_ONE:
        bad.append("bit 17 (must be one) is clear")
    for key, bit in sorted(_POLICY_BITS.items()):
        if key.startswith("allow_") and not rules[key] and policy & bit:
            bad.append("%s is set (bit %d) but %s is false" % (key[6:].upper(), bit.bit_length() - 1, key))
        if key.startswith("require_") and rules[key] and not policy & bit:
            bad.append("%s is clear (bit %d) but %s is true" % (key[8:].upper(), bit.bit_length() - 1, key))
    major, minor = (policy >> 8) & 0xFF, policy & 0xFF
    if (major, minor if major == rules["min_abi_major"] else 0xFF) < (rules["min_abi_major"], rules["min_abi_minor"]):
        bad.append("ABI %d.%d is below the minimum %d.%d" % (major, minor, rules["min_abi_major"], rules["min_abi_minor"]))
    if bad:
        raise VerificationError("guest policy 0x%x rejected: %s" % (policy, "; ".join(bad)), check="snp.guest_policy")
    return "guest policy 0x%x: MIGRATE_MA %s, DEBUG %s, SMT %s, ABI %d.%d" % (
        policy, "set" if policy & POLICY_MIGRATE_MA else "clear", "set" if policy & POLICY_DEBUG else "clear",
        "allowed" if policy & POLICY_SMT else "disallowed", major, minor)


def decode_tcb(value, product):
    raw = int(value).to_bytes(8, "little")
    layout = TCB_LAYOUT.get(product or "Milan", TCB_LAYOUT["Milan"])
    return dict((k, raw[i]) for k, i in layout.items())


class SnpReport(object):
    def __init__(self, raw):
        self.raw = raw
        self.version = u32le(raw, 0x00)
        self.guest_svn = u32le(raw, 0x04)
        self.policy = u64le(raw, 0x08)
        self.family_id = raw[0x10:0x20]
        self.image_id = raw[0x20:0x30]
        self.vmpl = u32le(raw, 0x30)
        self.signature_algo = u32le(raw, 0x34)
        self.current_tcb = u64le(raw, 0x38)
        self.platform_info = u64le(raw, 0x40)
        self.key_info = u32le(raw, 0x48)
        self.report_data = raw[0x50:0x90]
        self.measurement = raw[0x90:0xC0]
        self.host_data = raw[0xC0:0xE0]
        self.id_key_digest = raw[0xE0:0x110]
        self.author_key_digest = raw[0x110:0x140]
        self.report_id = raw[0x140:0x160]
        self.report_id_ma = raw[0x160:0x180]
        self.reported_tcb = u64le(raw, 0x180)
        if self.version >= 3:
            self.cpuid_fam_id, self.cpuid_mod_id, self.cpuid_step = raw[0x188], raw[0x189], raw[0x18A]
        else:
            self.cpuid_fam_id = self.cpuid_mod_id = self.cpuid_step = None
        self.chip_id = raw[0x1A0:0x1E0]
        self.committed_tcb = u64le(raw, 0x1E0)
        self.launch_tcb = u64le(raw, 0x1F0)
        self.signature_r = raw[0x2A0:0x2A0 + 72]
        self.signature_s = raw[0x2E8:0x2E8 + 72]

    @property
    def signed_bytes(self):
        return self.raw[:SIGNED_SIZE]

    @property
    def debug(self):
        return bool(self.policy & POLICY_DEBUG)

    @property
    def signing_key(self):
        return "vlek" if ((self.key_info >> 2) & 0x7) == 1 else "vcek"

    @property
    def product_hint(self):
        if self.cpuid_fam_id is None:
            return None
        return _product_from_cpuid(self.cpuid_fam_id, self.cpuid_mod_id)

    def tcb(self, product=None):
        return decode_tcb(self.reported_tcb, product or self.product_hint)


def parse(data):
    """Parse a 1184-byte SNP report (versions 2, 3, 5)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError("SNP report must be bytes", check="snp.parse")
    if len(data) > MAX_SNP_REPORT:
        raise ParseError("SNP report is too large (%d bytes, limit %d)" % (len(data), MAX_SNP_REPORT), check="snp.parse")
    data = bytes(data)
    if len(data) < REPORT_SIZE:
        raise ParseError("SNP report too short (%d bytes, need %d)" % (len(data), REPORT_SIZE), check="snp.parse")
    data = data[:REPORT_SIZE]
    version = u32le(data, 0)
    if version not in SUPPORTED_VERSIONS:
        raise ParseError("SNP report: unsupported version %d" % version, check="snp.parse")
    report = SnpReport(data)
    if report.signature_algo != 1:
        raise ParseError("SNP report: unsupported signature algorithm %d" % report.signature_algo, check="snp.parse")
    if any(data[SIGNATURE_RESERVED:REPORT_SIZE]):
        # the signature does not cover them; the firmware writes zeros (SEV-SNP ABI, ECDSA signature format)
        raise ParseError("SNP report: the reserved bytes after the signature (0x%X-0x%X) are not zero"
                         % (SIGNATURE_RESERVED, REPORT_SIZE - 1), check="snp.parse")
    return report


def _ext_raw(cert, suffix):
    oid = x509.ObjectIdentifier(AMD_OID + suffix)
    try:
        ext = cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    return getattr(ext.value, "value", None)


class VcekInfo(object):
    """AMD extensions of a VCEK/VLEK: product name, SPLs, hwID."""

    def __init__(self, cert):
        self.cert = cert
        name = _ext_raw(cert, "2")
        self.product_name = None
        if name:
            try:
                tag, hl, cl = der_header(name)
                self.product_name = bytes(name[hl:hl + cl]).decode("ascii", "replace")
            except ParseError:
                self.product_name = None
        self.spls = {}
        for field, suffix in SPL_OIDS.items():
            raw = _ext_raw(cert, suffix)
            if raw is not None:
                self.spls[field] = der_integer(raw)
        hwid = _ext_raw(cert, "4")
        if hwid is not None and len(hwid) >= 2 and hwid[0] == 0x04:
            # some encoders wrap the raw hwID in an OCTET STRING
            try:
                tag, hl, cl = der_header(hwid)
                if hl + cl == len(hwid) and cl in (8, 64):
                    hwid = hwid[hl:]
            except ParseError:
                pass
        self.hwid = bytes(hwid) if hwid is not None else None

    @property
    def product(self):
        if not self.product_name:
            return None
        base = self.product_name.split("-", 1)[0].strip()
        return base if base in TCB_LAYOUT else None


def _vcek_and_chain(vcek_pem, chain_pems):
    certs = load_any(vcek_pem, "vcek") if vcek_pem is not None else []
    extra = []
    chain_pems = chain_pems or []
    if len(chain_pems) > MAX_CERTS_PER_INPUT:
        raise ParseError("too many VCEK chain entries", check="snp.vcek_chain")
    for i, item in enumerate(chain_pems):
        extra.extend(load_any(item, "vcek chain[%d]" % i))
    if not certs:
        raise ParseError("no VCEK certificate given", check="snp.vcek_chain")
    return certs[0], certs[1:] + extra


def verify_chain(vcek, intermediates, trusted_arks, trusted_asks=(), now=None):
    """VCEK <- ASK <- ARK where the ARK is one of ``trusted_arks`` [(name, cert)], all valid at ``now``.

    The ARK that a chain presents is never trusted by itself: only pinned/configured ARKs
    anchor the chain. Returns (ark_name, chain).
    """
    try:
        named = named_certs(trusted_arks, "trusted_arks")
        trusted_asks = named_certs(trusted_asks, "trusted_asks")
    except ParseError as exc:
        raise VerificationError(str(exc), check="snp.vcek_chain")
    if not named:
        raise VerificationError("no AMD root (ARK) trusted", check="snp.vcek_chain")
    asks = list(intermediates) + [c for dummy, c in trusted_asks]
    anchors = [c for dummy, c in named]
    try:
        # exactly VCEK <- ASK <- ARK: one intermediate, no longer paths
        chain = build_chain(vcek, asks, anchors, max_depth=1, now=now)
    except VerificationError as exc:
        raise VerificationError("VCEK does not chain to a trusted AMD root: %s" % exc, check="snp.vcek_chain")
    if len(chain) != 3:
        raise VerificationError("VCEK must be signed by an ASK, not directly by the ARK", check="snp.vcek_chain")
    ark_name = [n for n, c in named if c is chain[-1]][0]
    return ark_name, chain


def verify_signature(report, vcek):
    """ECDSA P-384 / SHA-384 over bytes [0:0x2A0]; r and s are 72-byte little-endian."""
    key = cert_public_key(vcek, check="snp.signature")
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise VerificationError("VCEK key is not an EC P-384 key", check="snp.signature")
    r = int.from_bytes(bytes(report.signature_r), "little")
    s = int.from_bytes(bytes(report.signature_s), "little")
    if r == 0 or s == 0:
        raise VerificationError("SNP report is not signed (zero signature)", check="snp.signature")
    try:
        key.verify(encode_dss_signature(r, s), report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise VerificationError("SNP report signature does not verify with the VCEK", check="snp.signature")
    except ValueError as exc:
        raise VerificationError("SNP report signature is malformed: %s" % exc, check="snp.signature")


def _product_of_ark(name, cert):
    """Product of an ARK: the pinned table key ('Milan'...) or the 'ARK-<product>' common name."""
    if name in TCB_LAYOUT:
        return name
    for attr in cert.subject:
        if attr.oid.dotted_string == "2.5.4.3" and isinstance(attr.value, str) and attr.value.startswith("ARK-"):
            product = attr.value[4:]
            if product in TCB_LAYOUT:
                return product
    return None


def check_product(report, info, ark_name, ark):
    """ARK product == VCEK product name == the report's CPUID family/model (v3+). Returns (product, reason)."""
    product = _product_of_ark(ark_name, ark)
    if product is None:
        raise VerificationError("cannot tell the product of the AMD root '%s' (expected ARK-Milan/Genoa/Turin)" %
                                ark.subject.rfc4514_string(), check="snp.product")
    if info.product != product:
        raise VerificationError("VCEK product name %r does not match the ARK product %s" % (info.product_name, product),
                                check="snp.product")
    if report.cpuid_fam_id is None:
        return product, "ARK %s == VCEK product %s (report v%d carries no CPUID)" % (
            product, info.product_name, report.version)
    cpu = report.product_hint
    if cpu != product:
        raise VerificationError("report CPUID family 0x%x model 0x%x is %s, not the ARK product %s" % (
            report.cpuid_fam_id, report.cpuid_mod_id, cpu or "an unknown product", product), check="snp.product")
    return product, "ARK %s == VCEK product %s == CPUID family 0x%x model 0x%x" % (
        product, info.product_name, report.cpuid_fam_id, report.cpuid_mod_id)


class SnpResult(object):
    def __init__(self):
        self.checks = []  # [(name, 'pass'|'fail'|'skip', reason)]
        self.product = None
        self.ark = None
        self.vcek_info = None
        self.tcb = None
        self.revocation = None
        self.chain = None

    def add(self, name, result, reason):
        self.checks.append((name, result, reason))


def verify(report, vcek_pem, chain_pems=None, trusted_arks=None, policy_min=None, trusted_asks=(),
           allow_debug=False, expected_vmpl=0, result=None, now=None, crls=None, guest_policy=None):
    """Verify an SNP report. Raises VerificationError (with ``check``) at the first failure.

    ``trusted_arks``: [(name, cert)] (use TrustStore.amd_arks) or PEM strings; ``policy_min``: dict with optional
    minimum ``bootloader``/``tee``/``snp``/``microcode``/``fmc`` SPLs and ``guest_svn``.
    Returns SnpResult with the passed checks, product and decoded reported TCB.
    """
    if isinstance(report, (bytes, bytearray)):
        report = parse(report)
    res = result if result is not None else SnpResult()
    if report.signing_key != "vcek":
        raise VerificationError("report is signed by a VLEK; only VCEK-signed reports are supported",
                                check="snp.vcek_chain")
    vcek, inter = _vcek_and_chain(vcek_pem, chain_pems)
    ark_name, chain = verify_chain(vcek, inter, trusted_arks or [], trusted_asks, now=now)
    res.ark = ark_name
    res.chain = chain
    res.add("snp.vcek_chain", "pass", "VCEK <- %s <- %s (pinned), all valid now" % (
        chain[1].subject.rfc4514_string(), ark_name))
    res.revocation = check_revocation(chain, crls, now=now, leaf_has_crl=False, check="snp.revocation")
    res.add("snp.revocation", "pass" if res.revocation["checked"] else "skip", res.revocation["reason"])
    try:
        info = VcekInfo(vcek)
    except AttestationError as exc:
        raise VerificationError("VCEK extensions unreadable: %s" % exc, check="snp.vcek_chain")
    res.vcek_info = info
    product, reason = check_product(report, info, ark_name, chain[-1])
    res.product = product
    res.add("snp.product", "pass", reason)

    verify_signature(report, vcek)
    res.add("snp.signature", "pass", "ECDSA P-384 signature by the VCEK verifies")

    if info.hwid is None:
        raise VerificationError("VCEK has no hwID extension", check="snp.chip_id")
    n = len(info.hwid)
    if n not in (8, 64) or bytes(report.chip_id[:n]) != info.hwid:
        raise VerificationError("report chip_id does not match the VCEK hwID", check="snp.chip_id")
    res.add("snp.chip_id", "pass", "chip_id == VCEK hwID")

    tcb = report.tcb(product)
    res.tcb = tcb
    mismatched = []
    for field, value in tcb.items():
        if field in info.spls and info.spls[field] != value:
            mismatched.append("%s report=%d vcek=%d" % (field, value, info.spls[field]))
    missing = [f for f in tcb if f not in info.spls]
    if mismatched or missing:
        raise VerificationError("reported_tcb does not match the VCEK SPLs (%s)" % ", ".join(
            mismatched + ["%s missing in VCEK" % m for m in missing]), check="snp.reported_tcb")
    res.add("snp.reported_tcb", "pass", "reported_tcb == VCEK SPLs %s" % _fmt_tcb(tcb))

    if report.debug and not allow_debug:
        raise VerificationError("guest policy has DEBUG set (0x%x)" % report.policy, check="snp.debug")
    res.add("snp.debug", "pass", "DEBUG %s (policy 0x%x)" % ("allowed" if report.debug else "off", report.policy))
    overrides = dict(guest_policy or {})
    if allow_debug:
        overrides.setdefault("allow_debug", True)
    res.add("snp.guest_policy", "pass", check_guest_policy(report.policy, overrides))

    if expected_vmpl is not None and report.vmpl != expected_vmpl:
        raise VerificationError("report VMPL is %d, expected %d" % (report.vmpl, expected_vmpl), check="snp.vmpl")
    res.add("snp.vmpl", "pass", "VMPL %d" % report.vmpl)

    if policy_min:
        low = []
        for field, minimum in sorted(policy_min.items()):
            if field == "guest_svn":
                have = report.guest_svn
            elif field in TCB_FIELDS:
                have = tcb.get(field)
                if have is None:
                    continue
            else:
                raise VerificationError("unknown SNP minimum '%s'" % field, check="snp.tcb_minimum")
            if isinstance(minimum, bool) or not isinstance(minimum, int):
                raise ParseError("SNP minimum '%s' must be an integer" % field, check="snp.tcb_minimum")
            if have < minimum:
                low.append("%s %d < %d" % (field, have, minimum))
        if low:
            raise VerificationError("TCB below the required minimum: %s" % ", ".join(low), check="snp.tcb_minimum")
        res.add("snp.tcb_minimum", "pass", "TCB >= required minimum")
    return res


def _fmt_tcb(tcb):
    return ", ".join("%s=%d" % (k, v) for k, v in sorted(tcb.items()))


def claims(report, product=None, tcb=None):
    """MAA-style x-ms-sevsnpvm-* claims of a (verified) report."""
    tcb = tcb or report.tcb(product)
    out = {
        "x-ms-sevsnpvm-authorkeydigest": hexstr(report.author_key_digest),
        "x-ms-sevsnpvm-bootloader-svn": tcb.get("bootloader"),
        "x-ms-sevsnpvm-familyId": hexstr(report.family_id).upper(),
        "x-ms-sevsnpvm-guestsvn": report.guest_svn,
        "x-ms-sevsnpvm-hostdata": hexstr(report.host_data),
        "x-ms-sevsnpvm-idkeydigest": hexstr(report.id_key_digest),
        "x-ms-sevsnpvm-imageId": hexstr(report.image_id).upper(),
        "x-ms-sevsnpvm-is-debuggable": report.debug,
        "x-ms-sevsnpvm-launchmeasurement": hexstr(report.measurement),
        "x-ms-sevsnpvm-microcode-svn": tcb.get("microcode"),
        "x-ms-sevsnpvm-migration-allowed": bool(report.policy & POLICY_MIGRATE_MA),
        "x-ms-sevsnpvm-reportdata": hexstr(report.report_data),
        "x-ms-sevsnpvm-reportid": hexstr(report.report_id),
        "x-ms-sevsnpvm-smt-allowed": bool(report.policy & POLICY_SMT),
        "x-ms-sevsnpvm-snpfw-svn": tcb.get("snp"),
        "x-ms-sevsnpvm-tee-svn": tcb.get("tee"),
        "x-ms-sevsnpvm-vmpl": report.vmpl,
        "x-ms-sevsnpvm-guest-policy": "0x%x" % report.policy,
        "x-ms-sevsnpvm-report-version": report.version,
        "x-ms-sevsnpvm-chipid": hexstr(report.chip_id),
    }
    if "fmc" in tcb:
        out["x-ms-sevsnpvm-fmc-svn"] = tcb["fmc"]
    if product:
        out["x-ms-sevsnpvm-product"] = product
    return out
