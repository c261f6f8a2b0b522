# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST-ONLY attestation material for a software TPM (swtpm).

Builds what the Azure paravisor (HCL) would put into a confidential VM's vTPM, but signed by a
test AMD chain generated here, never by AMD:

* a test ARK (RSA-4096, self-signed, RSA-PSS SHA-384 salt 48), an ASK (RSA-4096, signed by the ARK
  with RSA-PSS SHA-384 salt 48) and a VCEK (EC P-384, signed by the ASK, with AMD's extension OIDs
  for the TCB SPLs and the hwID),
* an SEV-SNP ATTESTATION_REPORT (v3, 1184 bytes) signed by the VCEK whose report_data[0:32] is the
  SHA-256 of the runtime claims JSON, and
* a 2048-byte (older format, v1 header) HCL report around it (swtpm's largest NV index is 2048 B).

``provision()`` creates the attestation key in the TPM (RSA-2048 restricted signing key,
RSASSA/SHA-256, persisted at 0x81000003), builds the report with ``HCLAkPub`` = that key, and
writes it to NV 0x01400001, all with tpm2-tools over a TCTI string (e.g.
``swtpm:host=127.0.0.1,port=2321``). Nothing here is shipped with the collection.

CLI::

    python tests/tools/hcl_testchain.py provision --tcti swtpm:host=127.0.0.1,port=2321 \
        --out-dir /tmp/x [--nonce HEX]
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

AMD_OID = "1.3.6.1.4.1.3704.1."
HCL_NV_INDEX = "0x01400001"
REPORT_DATA_NV_INDEX = "0x01400002"
AK_HANDLE = "0x81000003"
AK_CERT_NV_INDEX = "0x01C101D0"
HCL_REPORT_SIZE = 2048
SNP_REPORT_SIZE = 1184
AZURE_SNP_POLICY = 0x3001F
DEBUG_POLICY_BIT = 1 << 19

DEFAULT_TCB = {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}
# CPUID family/model/stepping a v3 report carries; the verifier requires it to match the ARK's product
CPUID = {"Milan": (0x19, 0x01, 0x01), "Genoa": (0x19, 0x11, 0x01), "Turin": (0x1A, 0x02, 0x00)}


def _pss():
    return padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def _name(cn):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Engineering"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Santa Clara"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST ONLY - not Advanced Micro Devices"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _der_int(value):
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return b"\x02" + bytes([len(body)]) + body


def _builder(subject, issuer, public_key, serial):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(serial)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650)))


def make_test_chain(product="Milan", chip_id=None, tcb=None):
    """Return a dict with ``ark``, ``ask``, ``vcek`` certificates and ``vcek_key``, ``chip_id``, ``tcb``."""
    tcb = dict(DEFAULT_TCB if tcb is None else tcb)
    chip_id = os.urandom(64) if chip_id is None else bytes(chip_id)
    ark_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    ask_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    vcek_key = ec.generate_private_key(ec.SECP384R1())
    ark_name = _name("ARK-%s" % product)
    ask_name = _name("SEV-%s" % product)
    ca = x509.BasicConstraints(ca=True, path_length=None)
    ark = (_builder(ark_name, ark_name, ark_key.public_key(), x509.random_serial_number())
           .add_extension(ca, critical=True)
           .sign(ark_key, hashes.SHA384(), rsa_padding=_pss()))
    ask = (_builder(ask_name, ark_name, ask_key.public_key(), x509.random_serial_number())
           .add_extension(ca, critical=True)
           .sign(ark_key, hashes.SHA384(), rsa_padding=_pss()))
    ext = [
        ("1", _der_int(0)),                                    # structure version
        ("2", b"\x16" + bytes([len(product) + 3]) + product.encode() + b"-B0"),  # IA5String product
        ("3.1", _der_int(tcb["bootloader"])),
        ("3.2", _der_int(tcb["tee"])),
        ("3.3", _der_int(tcb["snp"])),
        ("3.8", _der_int(tcb["microcode"])),
        ("4", chip_id),                                        # hwID: raw bytes, as AMD encodes it
    ]
    builder = _builder(_name("SEV-VCEK"), ask_name, vcek_key.public_key(), 1)
    for suffix, value in ext:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(AMD_OID + suffix), value), critical=False)
    vcek = builder.sign(ask_key, hashes.SHA384(), rsa_padding=_pss())
    return {"ark": ark, "ask": ask, "vcek": vcek, "vcek_key": vcek_key, "ark_key": ark_key,
            "ask_key": ask_key, "chip_id": chip_id, "tcb": tcb, "product": product}


def tcb_u64(tcb):
    raw = bytearray(8)
    raw[0] = tcb["bootloader"]
    raw[1] = tcb["tee"]
    raw[6] = tcb["snp"]
    raw[7] = tcb["microcode"]
    return struct.unpack("<Q", bytes(raw))[0]


def build_snp_report(vcek_key, report_data, chip_id, tcb, policy=AZURE_SNP_POLICY, vmpl=0, version=3,
                     measurement=None, product="Milan"):
    """A signed SEV-SNP ATTESTATION_REPORT (1184 bytes)."""
    if len(report_data) != 64:
        raise ValueError("report_data must be 64 bytes")
    rep = bytearray(SNP_REPORT_SIZE)
    tcb_value = tcb_u64(tcb)
    struct.pack_into("<IIQ", rep, 0x00, version, 1, policy)
    struct.pack_into("<II", rep, 0x30, vmpl, 1)                      # vmpl, signature_algo ECDSA P-384
    struct.pack_into("<QQ", rep, 0x38, tcb_value, 0x3)              # current_tcb, platform_info
    struct.pack_into("<I", rep, 0x48, 0)                             # key_info: signed by VCEK
    rep[0x50:0x90] = report_data
    rep[0x90:0xC0] = measurement if measurement is not None else hashlib.sha384(b"test launch").digest()
    rep[0x140:0x160] = os.urandom(32)                                # report_id
    struct.pack_into("<Q", rep, 0x180, tcb_value)                    # reported_tcb
    rep[0x188:0x18B] = bytes(CPUID[product])                         # cpuid family/model/stepping
    rep[0x1A0:0x1E0] = chip_id
    struct.pack_into("<Q", rep, 0x1E0, tcb_value)                    # committed_tcb
    struct.pack_into("<Q", rep, 0x1F0, tcb_value)                    # launch_tcb
    der = vcek_key.sign(bytes(rep[:0x2A0]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    rep[0x2A0:0x2A0 + 72] = r.to_bytes(72, "little")
    rep[0x2E8:0x2E8 + 72] = s.to_bytes(72, "little")
    return bytes(rep)


def _b64url_int(value):
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def build_runtime_claims(ak_public_key, user_data=None, vm_unique_id=None, secure_boot=True):
    """Runtime claims JSON bytes (compact, as the HCL writes them)."""
    numbers = ak_public_key.public_numbers()
    claims = {
        "keys": [{"kid": "HCLAkPub", "key_ops": ["sign"], "kty": "RSA",
                  "e": _b64url_int(numbers.e), "n": _b64url_int(numbers.n)}],
        "vm-configuration": {"console-enabled": False, "current-time": int(datetime.datetime.now().timestamp()),
                             "secure-boot": bool(secure_boot), "tpm-enabled": True,
                             "vmUniqueId": vm_unique_id or str(uuid.uuid4()).upper()},
    }
    if user_data is not None:
        claims["user-data"] = bytes(user_data).hex().upper()
    return json.dumps(claims, separators=(",", ":")).encode("ascii")


def build_hcl_report(hw_report, claims, report_type=2, size=HCL_REPORT_SIZE):
    """Older-format (v1 header) HCL report of ``size`` bytes around ``hw_report`` and ``claims``."""
    if 0x4D4 + len(claims) > size:
        raise ValueError("runtime claims (%d B) do not fit into a %d-byte HCL report" % (len(claims), size))
    out = bytearray(size)
    struct.pack_into("<4sIII", out, 0, b"HCLA", 1, 0x4D4 + len(claims), 2)
    out[0x20:0x20 + len(hw_report)] = hw_report
    struct.pack_into("<IIIII", out, 0x4C0, 20 + len(claims), 1, report_type, 1, len(claims))
    out[0x4D4:0x4D4 + len(claims)] = claims
    return bytes(out)


def nonce_user_data(nonce_hex):
    """The 64 bytes the guest writes to NV 0x01400002 for a hex nonce (zero padded)."""
    raw = bytes.fromhex(nonce_hex)
    return raw + b"\x00" * (64 - len(raw))


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def build_material(ak_public_key, nonce_hex=None, chain=None, policy=AZURE_SNP_POLICY, vm_unique_id=None):
    """Everything a test needs: HCL report bytes, PEMs, THIM JSON."""
    chain = chain or make_test_chain()
    user_data = nonce_user_data(nonce_hex) if nonce_hex else None
    claims = build_runtime_claims(ak_public_key, user_data=user_data, vm_unique_id=vm_unique_id)
    report_data = hashlib.sha256(claims).digest() + b"\x00" * 32
    snp = build_snp_report(chain["vcek_key"], report_data, chain["chip_id"], chain["tcb"], policy=policy,
                           product=chain.get("product", "Milan"))
    hcl = build_hcl_report(snp, claims)
    thim = {"vcekCert": pem(chain["vcek"]), "tcbm": "%016X" % tcb_u64(chain["tcb"]),
            "certificateChain": pem(chain["ask"]) + pem(chain["ark"]), "cacheControl": "86400"}
    return {"hcl_report": hcl, "claims": claims, "snp_report": snp, "chain": chain,
            "ark_pem": pem(chain["ark"]), "vcek_chain_pem": pem(chain["vcek"]) + pem(chain["ask"]) + pem(chain["ark"]),
            "thim": thim}


# --------------------------------------------------------------------------- TPM provisioning

def _tpm(args, tcti, check=True):
    env = dict(os.environ)
    if tcti:
        env["TPM2TOOLS_TCTI"] = tcti
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (rc=%d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()))
    return proc


def _flush(tcti):
    for flag in ("-t", "-l", "-s"):
        _tpm(["tpm2_flushcontext", flag], tcti, check=False)


def _nv_indices(tcti):
    out = _tpm(["tpm2_getcap", "handles-nv-index"], tcti).stdout
    return {int(line.strip("- \n"), 16) for line in out.splitlines() if line.strip().startswith("-")}


def _persistent_handles(tcti):
    out = _tpm(["tpm2_getcap", "handles-persistent"], tcti).stdout
    return {int(line.strip("- \n"), 16) for line in out.splitlines() if line.strip().startswith("-")}


def create_ak(tcti, workdir):
    """Create the RSA-2048 restricted signing AK and persist it at 0x81000003 (if absent). Returns its public key."""
    if int(AK_HANDLE, 16) not in _persistent_handles(tcti):
        primary = os.path.join(workdir, "primary.ctx")
        pub, priv, ctx = (os.path.join(workdir, n) for n in ("ak.pub", "ak.priv", "ak.ctx"))
        _tpm(["tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "rsa", "-c", primary], tcti)
        _flush(tcti)
        _tpm(["tpm2_create", "-Q", "-C", primary, "-G", "rsa2048:rsassa-sha256:null",
              "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign",
              "-u", pub, "-r", priv], tcti)
        _flush(tcti)
        _tpm(["tpm2_load", "-Q", "-C", primary, "-u", pub, "-r", priv, "-c", ctx], tcti)
        _flush(tcti)
        _tpm(["tpm2_evictcontrol", "-Q", "-C", "o", "-c", ctx, AK_HANDLE], tcti)
        _flush(tcti)
    pem_path = os.path.join(workdir, "ak.pem")
    _tpm(["tpm2_readpublic", "-Q", "-c", AK_HANDLE, "-f", "pem", "-o", pem_path], tcti)
    _flush(tcti)
    with open(pem_path, "rb") as handle:
        return serialization.load_pem_public_key(handle.read())


def write_nv(tcti, index, data, workdir, attributes="ownerread|ownerwrite|authread|authwrite"):
    """(Re)define NV ``index`` with exactly len(data) bytes and write ``data``."""
    if int(index, 16) in _nv_indices(tcti):
        _tpm(["tpm2_nvundefine", "-C", "o", index], tcti)
    _tpm(["tpm2_nvdefine", index, "-C", "o", "-s", str(len(data)), "-a", attributes], tcti)
    path = os.path.join(workdir, "nv-%s.bin" % index)
    with open(path, "wb") as handle:
        handle.write(data)
    _tpm(["tpm2_nvwrite", "-C", "o", index, "-i", path], tcti)
    _flush(tcti)


def provision(tcti, nonce_hex=None, chain=None, policy=AZURE_SNP_POLICY, ak_cert_der=None, vm_unique_id=None):
    """Provision a (swtpm) TPM like an Azure SEV-SNP vTPM. Returns build_material()'s dict (+ ``ak_public_key``)."""
    with tempfile.TemporaryDirectory(prefix="hcl-testchain-") as workdir:
        _flush(tcti)
        ak = create_ak(tcti, workdir)
        material = build_material(ak, nonce_hex=nonce_hex, chain=chain, policy=policy, vm_unique_id=vm_unique_id)
        write_nv(tcti, HCL_NV_INDEX, material["hcl_report"], workdir)
        if ak_cert_der is not None:
            write_nv(tcti, AK_CERT_NV_INDEX, ak_cert_der, workdir)
    material["ak_public_key"] = ak
    return material


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    prov = sub.add_parser("provision", help="create the AK and write a test HCL report into a TPM")
    prov.add_argument("--tcti", required=True)
    prov.add_argument("--out-dir", required=True)
    prov.add_argument("--nonce", help="hex nonce to bind as user-data (default: none, like older HCLs)")
    args = parser.parse_args(argv)
    material = provision(args.tcti, nonce_hex=args.nonce)
    os.makedirs(args.out_dir, exist_ok=True)
    files = {"hcl.bin": material["hcl_report"], "ark.pem": material["ark_pem"].encode(),
             "vcek_chain.pem": material["vcek_chain_pem"].encode(),
             "thim.json": json.dumps(material["thim"]).encode()}
    for name, data in files.items():
        with open(os.path.join(args.out_dir, name), "wb") as handle:
            handle.write(data)
    print(json.dumps({"out_dir": args.out_dir, "files": sorted(files)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
