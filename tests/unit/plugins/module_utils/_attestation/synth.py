# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST-ONLY synthetic attestation material: test AMD / Intel / vTPM chains, SNP reports, TD quotes,
HCL reports and TPM quotes, all signed by keys made here (never by a vendor)."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import base64
import datetime
import hashlib
import json
import os
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

AMD_OID = "1.3.6.1.4.1.3704.1."
AZURE_POLICY = 0x3001F
DEBUG = 1 << 19
_KEYS = {}


def _cached_key(name, factory):
    """Key generation (RSA-4096 especially) is slow: reuse keys per role within a test run."""
    if name not in _KEYS:
        _KEYS[name] = factory()
    return _KEYS[name]


def rsa_key(name, bits=2048):
    return _cached_key(("rsa", name, bits), lambda: rsa.generate_private_key(public_exponent=65537, key_size=bits))


def ec_key(name, curve):
    return _cached_key(("ec", name, curve.name), lambda: ec.generate_private_key(curve))


def _name(cn, org="TEST ONLY"):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, pub, signer, ca, serial=None, pss=False, hash_alg=None, exts=(), days=3650):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
         .serial_number(serial if serial is not None else x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days)))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    for oid, value in exts:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False)
    h = hash_alg or hashes.SHA384()
    if pss:
        return b.sign(signer, h, rsa_padding=padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size))
    return b.sign(signer, h)


def pem(*certs):
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)


def der_int(v):
    body = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
    return b"\x02" + bytes([len(body)]) + body


TCB_BYTES = {"Milan": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
             "Genoa": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
             "Turin": {"fmc": 0, "bootloader": 1, "tee": 2, "snp": 3, "microcode": 7}}
SPL_OID = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8", "fmc": "3.9"}


def tcb_u64(tcb, product="Milan"):
    raw = bytearray(8)
    for k, i in TCB_BYTES[product].items():
        raw[i] = tcb[k]
    return struct.unpack("<Q", bytes(raw))[0]


class AmdChain(object):
    """Test ARK (RSA, self-signed PSS) <- ASK <- VCEK (P-384) with AMD extensions."""

    def __init__(self, product="Milan", chip_id=None, tcb=None, tag="a", wrap_hwid=False):
        self.product = product
        self.chip_id = chip_id or hashlib.sha512(("chip-" + tag).encode()).digest()
        default = {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}
        if product == "Turin":
            default["fmc"] = 1
        self.tcb = dict(tcb or default)
        ark_key = rsa_key("ark-" + tag, 2048)
        ask_key = rsa_key("ask-" + tag, 2048)
        self.vcek_key = ec_key("vcek-" + tag, ec.SECP384R1())
        ark_name = _name("ARK-%s" % product)
        ask_name = _name("SEV-%s" % product)
        self.ark = _cert(ark_name, ark_name, ark_key.public_key(), ark_key, True, pss=True)
        self.ask = _cert(ask_name, ark_name, ask_key.public_key(), ark_key, True, pss=True)
        hwid = self.chip_id if product != "Turin" else self.chip_id[:8]
        if wrap_hwid:
            hwid = b"\x04" + bytes([len(hwid)]) + hwid
        exts = [(AMD_OID + "1", der_int(0)),
                (AMD_OID + "2", b"\x16" + bytes([len(product) + 3]) + product.encode() + b"-B0")]
        exts += [(AMD_OID + SPL_OID[k], der_int(v)) for k, v in self.tcb.items()]
        exts.append((AMD_OID + "4", hwid))
        self.vcek = _cert(_name("SEV-VCEK"), ask_name, self.vcek_key.public_key(), ask_key, False, serial=1,
                          pss=True, exts=exts)

    @property
    def chain_pem(self):
        return pem(self.vcek, self.ask, self.ark)

    @property
    def roots(self):
        return [pem(self.ark)]

    def report(self, report_data, policy=AZURE_POLICY, vmpl=0, version=3, tcb=None, chip_id=None):
        rep = bytearray(1184)
        t = tcb_u64(tcb or self.tcb, self.product)
        struct.pack_into("<IIQ", rep, 0, version, 1, policy)
        struct.pack_into("<II", rep, 0x30, vmpl, 1)
        struct.pack_into("<QQ", rep, 0x38, t, 3)
        rep[0x50:0x90] = report_data
        rep[0x90:0xC0] = hashlib.sha384(b"launch").digest()
        rep[0x140:0x160] = os.urandom(32)
        struct.pack_into("<Q", rep, 0x180, t)
        fam = {"Milan": (0x19, 0x01), "Genoa": (0x19, 0x11), "Turin": (0x1A, 0x02)}[self.product]
        if version >= 3:
            rep[0x188:0x18B] = bytes([fam[0], fam[1], 1])
        rep[0x1A0:0x1E0] = chip_id or self.chip_id
        struct.pack_into("<QQ", rep, 0x1E0, t, 0)
        struct.pack_into("<Q", rep, 0x1F0, t)
        return sign_snp(bytes(rep), self.vcek_key)


def sign_snp(rep, key):
    rep = bytearray(rep)
    r, s = decode_dss_signature(key.sign(bytes(rep[:0x2A0]), ec.ECDSA(hashes.SHA384())))
    rep[0x2A0:0x2A0 + 72] = r.to_bytes(72, "little")
    rep[0x2E8:0x2E8 + 72] = s.to_bytes(72, "little")
    return bytes(rep)


def b64u_int(v):
    return base64.urlsafe_b64encode(v.to_bytes((v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def runtime_claims(ak_pub, user_data=None, secure_boot=True, vm_id="6332533D-5649-4D02-8AA7-8F64B7C3EE21"):
    n = ak_pub.public_numbers()
    claims = {"keys": [{"kid": "HCLAkPub", "key_ops": ["sign"], "kty": "RSA", "e": b64u_int(n.e), "n": b64u_int(n.n)}],
              "vm-configuration": {"console-enabled": False, "secure-boot": secure_boot, "tpm-enabled": True,
                                   "vmUniqueId": vm_id}}
    if user_data is not None:
        claims["user-data"] = bytes(user_data).hex().upper()
    return json.dumps(claims, separators=(",", ":")).encode()


def hcl_report(hw, claims, report_type=2, size=2600, version=2):
    out = bytearray(size)
    struct.pack_into("<4sIII", out, 0, b"HCLA", version, 0x4D4 + len(claims), 2)
    out[0x20:0x20 + len(hw)] = hw
    struct.pack_into("<IIIII", out, 0x4C0, 20 + len(claims), 1, report_type, 1, len(claims))
    out[0x4D4:0x4D4 + len(claims)] = claims
    return bytes(out)


def tpm_quote(ak_key, nonce, pcrs=None, select=range(8)):
    pcrs = pcrs or dict((i, hashlib.sha256(b"pcr%d" % i).digest()) for i in range(24))
    bitmap = bytearray(3)
    for i in select:
        bitmap[i // 8] |= 1 << (i % 8)
    digest = hashlib.sha256(b"".join(pcrs[i] for i in sorted(select))).digest()
    signer = b"\x00\x0b" + hashlib.sha256(b"ak").digest()
    msg = (struct.pack(">IH", 0xFF544347, 0x8018) + struct.pack(">H", len(signer)) + signer
           + struct.pack(">H", len(nonce)) + nonce + struct.pack(">QIIB", 12345, 1, 0, 1) + struct.pack(">Q", 7)
           + struct.pack(">I", 1) + struct.pack(">HB", 0x000B, 3) + bytes(bitmap)
           + struct.pack(">H", len(digest)) + digest)
    sig = ak_key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    return {"message": base64.b64encode(msg).decode(), "signature": base64.b64encode(sig).decode(),
            "pcrs": dict((str(i), pcrs[i].hex()) for i in range(24))}


def nonce_user_data(nonce):
    return nonce + b"\0" * (64 - len(nonce))


def snp_evidence(nonce=None, chain=None, policy=AZURE_POLICY, vmpl=0, bind_nonce=True, secure_boot=True,
                 size=2600, version=2, report_version=3, ak_key=None):
    """-> (evidence dict, nonce hex, chain). The runtime claims bind the nonce in user-data."""
    nonce = nonce or os.urandom(32)
    chain = chain or AmdChain()
    ak_key = ak_key or rsa_key("ak")
    claims = runtime_claims(ak_key.public_key(), nonce_user_data(nonce) if bind_nonce else b"\0" * 64, secure_boot)
    rd = hashlib.sha256(claims).digest() + b"\0" * 32
    hw = chain.report(rd, policy=policy, vmpl=vmpl, version=report_version)
    ev = {"hcl_report": base64.b64encode(hcl_report(hw, claims, 2, size, version)).decode(),
          "tpm_quote": tpm_quote(ak_key, nonce), "vcek": chain.chain_pem}
    return ev, nonce.hex(), chain


# Intel's TDX QE (anchors.INTEL_TDX_QE_IDENTITY) and a TEE_TCB_SVN as real Azure TDX hosts report it
TDX_QE_MRSIGNER = bytes.fromhex("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5")
TEE_TCB_SVN = bytes.fromhex("07010300000000000000000000000000")


def qe_report(mrsigner=TDX_QE_MRSIGNER, isvprodid=2, isvsvn=6, attributes=bytes.fromhex("15" + "00" * 7 + "e7" + "00" * 7),
              miscselect=0):
    """A 384-byte SGX report body of a quoting enclave (report data left zero)."""
    qe = bytearray(384)
    struct.pack_into("<I", qe, 16, miscselect)
    qe[48:64] = attributes
    qe[128:160] = mrsigner
    struct.pack_into("<HH", qe, 256, isvprodid, isvsvn)
    return qe


class IntelChain(object):
    """Test Intel root (P-256) <- PCK platform CA <- PCK leaf, attestation key, QE."""

    def __init__(self, tag="i"):
        root_key = ec_key("intel-root-" + tag, ec.SECP256R1())
        inter_key = ec_key("intel-inter-" + tag, ec.SECP256R1())
        self.pck_key = ec_key("pck-" + tag, ec.SECP256R1())
        self.att_key = ec_key("attkey-" + tag, ec.SECP256R1())
        rn, iname = _name("Test SGX Root CA"), _name("Test SGX PCK Platform CA")
        self.root = _cert(rn, rn, root_key.public_key(), root_key, True, hash_alg=hashes.SHA256())
        self.inter = _cert(iname, rn, inter_key.public_key(), root_key, True, hash_alg=hashes.SHA256())
        self.pck = _cert(_name("Test SGX PCK Certificate"), iname, self.pck_key.public_key(), inter_key, False,
                         hash_alg=hashes.SHA256())

    @property
    def roots(self):
        return [pem(self.root)]

    def quote(self, report_data, td_attributes=0, mrtd=None, version=4, tee_tcb_svn=TEE_TCB_SVN, qe=None):
        """``qe``: overrides of the QE report fields (mrsigner, isvprodid, isvsvn, attributes, miscselect)."""
        header = struct.pack("<HHIHH", version, 2, 0x81, 0, 0) + b"\x93\x9a\x72\x33\xf7\x9c\x4c\xa9\x94\x0a\x0d\xb3\x95\x7f\x06\x07" + b"\0" * 20
        body = bytearray(584)
        body[0:16] = tee_tcb_svn
        body[120:128] = struct.pack("<Q", td_attributes)
        body[136:184] = mrtd or hashlib.sha384(b"mrtd").digest()
        body[520:584] = report_data
        if version == 5:
            signed = header + struct.pack("<HI", 2, 584) + bytes(body)
        else:
            signed = header + bytes(body)
        r, s = decode_dss_signature(self.att_key.sign(signed, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        n = self.att_key.public_key().public_numbers()
        att_pub = n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")
        auth = os.urandom(32)
        qe = qe_report(**(qe or {}))
        qe[320:352] = hashlib.sha256(att_pub + auth).digest()
        r, s = decode_dss_signature(self.pck_key.sign(bytes(qe), ec.ECDSA(hashes.SHA256())))
        qe_sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        chain = pem(self.pck, self.inter, self.root).encode() + b"\0"
        cert5 = struct.pack("<HI", 5, len(chain)) + chain
        inner = bytes(qe) + qe_sig + struct.pack("<H", len(auth)) + auth + cert5
        sigdata = sig + att_pub + struct.pack("<HI", 6, len(inner)) + inner
        return signed + struct.pack("<I", len(sigdata)) + sigdata


def tdreport(report_data, td_attributes=0, mrtd=None):
    t = bytearray(1024)
    t[0] = 0x81
    t[0x80:0xC0] = report_data
    t[0x200:0x208] = struct.pack("<Q", td_attributes)
    t[0x210:0x240] = mrtd or hashlib.sha384(b"mrtd").digest()
    return bytes(t)


def tdx_evidence(nonce=None, chain=None, td_attributes=0, bind_nonce=True, ak_key=None, quote_version=4):
    nonce = nonce or os.urandom(32)
    chain = chain or IntelChain()
    ak_key = ak_key or rsa_key("ak")
    claims = runtime_claims(ak_key.public_key(), nonce_user_data(nonce) if bind_nonce else b"\0" * 64)
    rd = hashlib.sha256(claims).digest() + b"\0" * 32
    ev = {"hcl_report": base64.b64encode(hcl_report(tdreport(rd, td_attributes), claims, 4)).decode(),
          "td_quote": base64.b64encode(chain.quote(rd, td_attributes, version=quote_version)).decode(),
          "tpm_quote": tpm_quote(ak_key, nonce)}
    return ev, nonce.hex(), chain


class VtpmChain(object):
    def __init__(self, ak_key=None):
        root_key = rsa_key("vtpm-root")
        inter_key = rsa_key("vtpm-inter")
        self.ak_key = ak_key or rsa_key("ak")
        rn, iname = _name("Test Virtual TPM Root"), _name("Test Virtual TPM CA")
        self.root = _cert(rn, rn, root_key.public_key(), root_key, True, hash_alg=hashes.SHA256())
        self.inter = _cert(iname, rn, inter_key.public_key(), root_key, True, hash_alg=hashes.SHA256())
        self.ak_cert = _cert(_name("test.ConfidentialVM.Azure.windows.net"), iname, self.ak_key.public_key(),
                             inter_key, False, hash_alg=hashes.SHA256())

    def ak_cert_b64(self, pad_to=4096):
        der = self.ak_cert.public_bytes(serialization.Encoding.DER)
        return base64.b64encode(der + b"\0" * (pad_to - len(der))).decode()


def maa_signer(tag="maa"):
    key = rsa_key(tag)
    n = _name("Test MAA signing", "azsim")
    cert = _cert(n, n, key.public_key(), key, False, hash_alg=hashes.SHA256())
    return key, cert
