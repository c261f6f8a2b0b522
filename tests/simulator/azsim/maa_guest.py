"""Microsoft Azure Attestation guest attestation (``POST {provider}/attest/AzureGuest?api-version=2020-10-01``).

Sources (public):
- Request/response shape: Microsoft's cvm-attestation-tools (github.com/Azure/cvm-attestation-tools,
  ``src/attestation_client.py`` GuestAttestationParameters / ``src/attestation_types.py`` TpmInfo):
  ``{"AttestationInfo": base64url(JSON)}`` with ``TpmInfo`` (AikCert, AikPub, PcrQuote, PcrSignature, PCRs,
  EncKeyPub, EncKeyCertifyInfo, EncKeyCertifyInfoSignature) and ``IsolationInfo`` (SevSnp: the SNP report, the
  VCEK chain and the HCL runtime data). The answer ``{"token": base64url(JSON{EncryptedInnerKey,
  EncryptionParams.Iv, AuthenticationData, Jwt})}``: the JWT is AES-GCM encrypted (AAD "Transport Key") under an
  inner key that is RSAES-PKCS1-v1_5 encrypted to the TPM ephemeral key (TPM2_RSA_Decrypt with TPMS_SCHEME_RSAES in
  the same client).
- Claims: Microsoft Learn "Azure Attestation claim sets" and the sample token in
  Azure/confidential-computing-cvm-guest-attestation (``sampleAttestationToken.json``): top level
  ``x-ms-attestation-type: azurevm``, ``x-ms-azurevm-vmid``, ``secureboot``, ``x-ms-azurevm-attested-pcrs``,
  ``x-ms-runtime.keys`` = the ``TpmEphemeralEncryptionKey``; ``x-ms-isolation-tee`` carries the SNP claims, the HCL
  runtime claims and ``x-ms-compliance-status``.
- TPM structures: TCG TPM 2.0 Library Part 2 (TPMS_ATTEST, TPMS_CERTIFY_INFO, TPMS_QUOTE_INFO, TPMT_PUBLIC; object
  Name = nameAlg || H(TPMT_PUBLIC)).

What the simulator checks before it issues a token: the AK certificate chains to a vTPM root it trusts (roots and
intermediates a test posted to /_sim/attestation/trust-roots: Azure's vTPM CAs are not public), the AK certificate,
``AikPub`` and the HCL report's ``HCLAkPub`` are one key, the PCR quote and the ephemeral key's certification are
signed by that AK, the quote's PCR digest matches the PCR values sent, the certified Name is the ephemeral key's,
the key is a TPM-resident (fixedTPM, fixedParent) decryption-only RSA key, and the SNP evidence verifies (oracle).
Two rules follow the public reimplementation of Azure's guest attestation client (github.com/edgelesssys/
go-azguestattestation ``maa/tpm.go``) and the TCG TPM 2.0 Library (Part 2 TPMA_OBJECT, Part 3 TPM2_PolicyPCR), the
stricter reading where MAA's own checks are not published:
- the AK (``AikPub``) is a restricted signing key resident in the TPM (restricted, sign, fixedTPM, fixedParent, not
  decrypt): only a restricted key's signature proves the TPM produced the TPMS_ATTEST it signs;
- the ephemeral key is generated in the TPM (sensitiveDataOrigin), usable only through its policy (userWithAuth
  clear), and its ``authPolicy`` is TPM2_PolicyPCR over the quoted PCR selection and values
  (H(0^32 || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || H(PCR values)), the client's ``getEncryptionKeyTemplate``):
  the token and everything wrapped to the key open only in the attested boot state.
Claims the simulator cannot derive without parsing the TCG log (``x-ms-azurevm-*debug-enabled``...) are omitted.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import struct

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .oracle import attest as oracle_attest, hcl, snp
from .oracle.certs import check_issued_by, check_validity, common_name, fingerprint
from .oracle.encoding import b64_any, pem_certificates
from .oracle.errors import EvidenceError

API_VERSIONS = ("2020-10-01",)
MAX_INFO = 512 * 1024
MAX_FIELD = 64 * 1024
ST_ATTEST_QUOTE, ST_ATTEST_CERTIFY = 0x8018, 0x8017
TPM_GENERATED = 0xFF544347
ALG_RSA, ALG_SHA256, ALG_NULL = 0x0001, 0x000B, 0x0010
ATTR_FIXED_TPM, ATTR_FIXED_PARENT, ATTR_RESTRICTED, ATTR_DECRYPT, ATTR_SIGN = 0x2, 0x10, 0x10000, 0x20000, 0x40000
ATTR_SENSITIVE_DATA_ORIGIN, ATTR_USER_WITH_AUTH = 0x20, 0x40
TPM_CC_POLICY_PCR = 0x0000017F
TRANSPORT_AAD = b"Transport Key"


def _b64(d: bytes) -> str:
    return base64.b64encode(d).decode("ascii")


class _Reader:
    def __init__(self, buf: bytes, check: str):
        self.buf, self.pos, self.check = buf, 0, check

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise EvidenceError(self.check, "%s is truncated" % self.check)
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def sized(self) -> bytes:
        return self.take(self.u16())


def parse_public(blob: bytes, check: str) -> dict:
    """TPM2B_PUBLIC (tpm2_readpublic -o) or TPMT_PUBLIC -> {type, name_alg, attrs, n, e, tpmt}."""
    if len(blob) >= 2 and struct.unpack(">H", blob[:2])[0] == len(blob) - 2:
        blob = blob[2:]
    r = _Reader(blob, check)
    kind, name_alg, attrs = r.u16(), r.u16(), r.u32()
    auth_policy = r.sized()
    if kind != ALG_RSA:
        raise EvidenceError(check, "%s is not an RSA key" % check)
    if r.u16() != ALG_NULL:                            # symmetric
        r.take(4)
    if r.u16() != ALG_NULL:                            # scheme
        r.take(2)
    bits, exp = r.u16(), r.u32()
    n = int.from_bytes(r.sized(), "big")
    if r.pos != len(blob) or n.bit_length() != bits:
        raise EvidenceError(check, "%s is not a well-formed TPMT_PUBLIC" % check)
    return {"name_alg": name_alg, "attrs": attrs, "n": n, "e": exp or 65537, "tpmt": blob, "auth_policy": auth_policy}


def object_name(pub: dict) -> bytes:
    if pub["name_alg"] != ALG_SHA256:
        raise EvidenceError("tpm.enc_key", "only SHA-256 object names are supported")
    return struct.pack(">H", ALG_SHA256) + hashlib.sha256(pub["tpmt"]).digest()


def parse_attest(blob: bytes, check: str) -> dict:
    """TPMS_ATTEST: type, extraData and the quote's (selection, digest) or the certified Name."""
    r = _Reader(blob, check)
    if r.u32() != TPM_GENERATED:
        raise EvidenceError(check, "%s was not generated by a TPM (magic)" % check)
    kind = r.u16()
    r.sized()                                          # qualifiedSigner
    extra = r.sized()
    r.take(17 + 8)                                     # clockInfo, firmwareVersion
    out = {"type": kind, "extra": extra}
    if kind == ST_ATTEST_QUOTE:
        pcrs, start = [], r.pos
        for _i in range(r.u32()):
            alg, size = r.u16(), r.take(1)[0]
            bitmap = r.take(size)
            if alg != ALG_SHA256:
                raise EvidenceError(check, "only SHA-256 PCR banks are supported")
            pcrs += [i for i in range(size * 8) if bitmap[i // 8] >> (i % 8) & 1]
        out.update(pcrs=pcrs, selection=r.buf[start:r.pos], digest=r.sized())
    elif kind == ST_ATTEST_CERTIFY:
        out.update(name=r.sized(), qualified_name=r.sized())
    else:
        raise EvidenceError(check, "%s has an unexpected attestation type 0x%x" % (check, kind))
    return out


def pcr_policy(selection: bytes, pcr_digest: bytes) -> bytes:
    """TPM2_PolicyPCR from an empty SHA-256 session: H(0^32 || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || digest)."""
    return hashlib.sha256(b"\0" * 32 + struct.pack(">I", TPM_CC_POLICY_PCR) + selection + pcr_digest).digest()


def _verify_ak_sig(ak, sig: bytes, data: bytes, check: str):
    try:
        ak.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise EvidenceError(check, "%s is not signed by the AK" % check) from None


def _ak_chain(cert, pool, roots, now):
    """Walk issuer links through the trusted intermediates to a trusted vTPM root (at most 4 links)."""
    current = cert
    for _depth in range(4):
        check_validity(current, now, "ak_cert.chain", common_name(current.subject) or "AK")
        if fingerprint(current) in roots:
            return
        issuers = [c for c in pool if c.subject == current.issuer]
        if not issuers:
            raise EvidenceError("ak_cert.chain", "the AK certificate's issuer %r is not a trusted vTPM CA"
                                % common_name(current.issuer))
        check_issued_by(current, issuers[0], "ak_cert.chain", common_name(current.subject) or "AK")
        current = issuers[0]
    raise EvidenceError("ak_cert.chain", "the AK certificate chain is too long")


def vtpm_trust(root_pems) -> tuple:
    """(pool of non-AMD certificates, fingerprints of the self-signed ones) from the test-posted trust roots."""
    pool = []
    for pem in root_pems:
        for cert in pem_certificates(pem if isinstance(pem, bytes) else pem.encode(), "trust root", max_certs=4):
            if not common_name(cert.subject).startswith(("ARK-", "ASK-", "SEV-")):
                pool.append(cert)
    roots = set(fingerprint(c) for c in pool if c.subject == c.issuer)
    return pool, roots


def _field(d, name, check, limit=MAX_FIELD):
    if not isinstance(d.get(name), str):
        raise EvidenceError(check, "%s is required" % name)
    return b64_any(d[name], check, limit)


def verify(body, trust, vtpm, now: datetime.datetime) -> tuple:
    """(claims without JWT fields, ephemeral RSA public key); raises EvidenceError."""
    if not isinstance(body, dict) or not isinstance(body.get("AttestationInfo"), str):
        raise EvidenceError("request", "AttestationInfo (base64url JSON) is required")
    try:
        info = json.loads(b64_any(body["AttestationInfo"], "AttestationInfo", MAX_INFO))
    except ValueError:
        raise EvidenceError("AttestationInfo", "AttestationInfo is not JSON") from None
    tpm, iso = info.get("TpmInfo"), info.get("IsolationInfo")
    if not isinstance(tpm, dict) or not isinstance(iso, dict):
        raise EvidenceError("AttestationInfo", "TpmInfo and IsolationInfo are required")
    # --- AK: certificate, TPM public area and the HCL's HCLAkPub are one key
    try:
        ak_cert = x509.load_der_x509_certificate(_field(tpm, "AikCert", "tpm.ak_cert"))
    except ValueError:
        raise EvidenceError("tpm.ak_cert", "AikCert is not a DER certificate") from None
    _ak_chain(ak_cert, vtpm[0], vtpm[1], now)
    ak = ak_cert.public_key()
    if not isinstance(ak, rsa.RSAPublicKey):
        raise EvidenceError("tpm.ak_cert", "the AK is not an RSA key")
    ak_pub = parse_public(_field(tpm, "AikPub", "tpm.ak_pub"), "tpm.ak_pub")
    if (ak_pub["n"], ak_pub["e"]) != (ak.public_numbers().n, ak.public_numbers().e):
        raise EvidenceError("tpm.ak_pub", "AikPub is not the AK certificate's key")
    want = ATTR_FIXED_TPM | ATTR_FIXED_PARENT | ATTR_RESTRICTED | ATTR_SIGN
    if ak_pub["attrs"] & want != want or ak_pub["attrs"] & ATTR_DECRYPT:
        raise EvidenceError("tpm.ak_pub", "AikPub must be a restricted signing key resident in the TPM (restricted, "
                            "sign, fixedTPM, fixedParent)")
    # --- PCR quote
    quote = parse_attest(_field(tpm, "PcrQuote", "tpm.quote"), "tpm.quote")
    _verify_ak_sig(ak, _field(tpm, "PcrSignature", "tpm.quote"), b64_any(tpm["PcrQuote"], "tpm.quote", MAX_FIELD),
                   "tpm.quote")
    if quote["type"] != ST_ATTEST_QUOTE:
        raise EvidenceError("tpm.quote", "PcrQuote is not a quote")
    pcrs = dict((int(p.get("Index", -1)), b64_any(p.get("Digest", ""), "tpm.pcrs", 64))
                for p in tpm.get("PCRs") or [] if isinstance(p, dict))
    if sorted(pcrs) != sorted(quote["pcrs"]) or not pcrs:
        raise EvidenceError("tpm.pcrs", "the PCR values sent are not the PCRs quoted")
    # PcrSet (the quoted indices; the public client fills it from the quote) must say the same when sent
    if "PcrSet" in tpm and (not isinstance(tpm["PcrSet"], list) or
                            sorted(str(i) for i in tpm["PcrSet"]) != sorted(str(i) for i in quote["pcrs"])):
        raise EvidenceError("tpm.pcrs", "PcrSet is not the set of PCRs quoted")
    if hashlib.sha256(b"".join(pcrs[i] for i in sorted(pcrs))).digest() != quote["digest"]:
        raise EvidenceError("tpm.pcr_digest", "the quoted PCR digest does not match the PCR values")
    # --- ephemeral encryption key certified by the AK
    enc = parse_public(_field(tpm, "EncKeyPub", "tpm.enc_key"), "tpm.enc_key")
    certify_raw = _field(tpm, "EncKeyCertifyInfo", "tpm.enc_key_certify")
    certify = parse_attest(certify_raw, "tpm.enc_key_certify")
    _verify_ak_sig(ak, _field(tpm, "EncKeyCertifyInfoSignature", "tpm.enc_key_certify"), certify_raw,
                   "tpm.enc_key_certify")
    if certify["type"] != ST_ATTEST_CERTIFY or certify["name"] != object_name(enc):
        raise EvidenceError("tpm.enc_key_certify", "the AK did not certify this EncKeyPub")
    a = enc["attrs"]
    want = ATTR_FIXED_TPM | ATTR_FIXED_PARENT | ATTR_DECRYPT | ATTR_SENSITIVE_DATA_ORIGIN
    if a & want != want or a & (ATTR_SIGN | ATTR_RESTRICTED):
        raise EvidenceError("tpm.enc_key", "EncKeyPub must be a fixedTPM, fixedParent, sensitiveDataOrigin, "
                            "decrypt-only key")
    if enc["n"].bit_length() < 2048:      # a transport key for tokens and released keys: RSA-2048 at least
        raise EvidenceError("tpm.enc_key", "EncKeyPub must be an RSA key of at least 2048 bits")
    if a & ATTR_USER_WITH_AUTH or enc["auth_policy"] != pcr_policy(quote["selection"], quote["digest"]):
        raise EvidenceError("tpm.enc_key", "EncKeyPub must be usable only under a PolicyPCR over the quoted PCRs "
                            "(userWithAuth clear, authPolicy = TPM2_PolicyPCR of the quote's selection and values)")
    # --- isolation evidence (SEV-SNP through the HCL)
    if iso.get("Type") != "SevSnp" or not isinstance(iso.get("Evidence"), dict):
        raise EvidenceError("isolation", "only SevSnp isolation evidence is supported by the simulator")
    ev = iso["Evidence"]
    try:
        proof = json.loads(_field(ev, "Proof", "isolation.proof"))
    except ValueError:
        raise EvidenceError("isolation.proof", "Proof is not JSON") from None
    runtime = _field(ev, "RunTimeData", "runtime_data", hcl.MAX_CLAIMS)
    rep = snp.verify(_field(proof, "SnpReport", "snp.report"), _field(proof, "VcekCertChain", "snp.chain"), trust, now)
    hcl.check_binding(rep["report_data"], runtime)
    runtime_claims = hcl.parse_json(runtime)
    hcl_ak = hcl.hcl_ak(runtime_claims)
    if hcl_ak is None or int.from_bytes(b64_any(hcl_ak["n"], "hcl.ak", 1024), "big") != ak_pub["n"] or \
            int.from_bytes(b64_any(str(hcl_ak.get("e", "AQAB")), "hcl.ak", 8), "big") != ak_pub["e"]:
        raise EvidenceError("hcl.ak", "the HCL report's HCLAkPub is not the AK that signed the quote")
    config = runtime_claims["vm-configuration"]
    compliant = config.get("tpm-enabled") is True and rep["vmpl"] == 0 and not rep["policy"] >> 19 & 1
    tee = oracle_attest.snp_claims(rep)
    tee.update({"x-ms-attestation-type": "sevsnpvm", "x-ms-runtime": runtime_claims})
    if compliant:
        tee["x-ms-compliance-status"] = oracle_attest.COMPLIANT
    n_bytes = enc["n"].to_bytes((enc["n"].bit_length() + 7) // 8, "big")
    claims = {
        "x-ms-attestation-type": "azurevm", "x-ms-azurevm-attestation-protocol-ver": "2.0",
        "x-ms-azurevm-attested-pcrs": sorted(pcrs), "x-ms-azurevm-vmid": config.get("vmUniqueId"),
        "secureboot": config.get("secure-boot") is True,
        "x-ms-isolation-tee": tee,
        "x-ms-runtime": {"keys": [{"kid": "TpmEphemeralEncryptionKey", "kty": "RSA", "key_ops": ["encrypt"],
                                   "e": base64.urlsafe_b64encode(enc["e"].to_bytes(3, "big")).rstrip(b"=").decode(),
                                   "n": base64.urlsafe_b64encode(n_bytes).rstrip(b"=").decode()}]},
    }
    return claims, rsa.RSAPublicNumbers(enc["e"], enc["n"]).public_key()


def seal(jwt_text: str, enc_key) -> dict:
    """The AzureGuest answer: the JWT readable only with the TPM ephemeral key."""
    inner, iv = os.urandom(32), os.urandom(12)
    sealed = AESGCM(inner).encrypt(iv, jwt_text.encode("ascii"), TRANSPORT_AAD)
    env = {"EncryptedInnerKey": _b64(enc_key.encrypt(inner, padding.PKCS1v15())),
           "EncryptionParams": {"Iv": _b64(iv)}, "AuthenticationData": _b64(sealed[-16:]), "Jwt": _b64(sealed[:-16])}
    return {"token": base64.urlsafe_b64encode(json.dumps(env).encode()).rstrip(b"=").decode()}


def attest(svc, api_version, body) -> tuple:
    """(status, json) of ``attest/AzureGuest`` on provider ``svc`` (an azsim.maa.MaaService)."""
    from . import jwt
    from .maa import DEFAULT_POLICY, TOKEN_LIFETIME, _error
    from .oracle.certs import utcnow
    if not api_version:
        return _error(400, "InvalidParameter", "The api-version query parameter is required.")
    if api_version not in API_VERSIONS:
        return _error(400, "InvalidApiVersion", "api-version '%s' is not supported for AzureGuest (supported: %s)"
                      % (api_version, ", ".join(API_VERSIONS)))
    try:
        claims, enc_key = verify(body, svc.trust_store(), vtpm_trust(svc._roots), utcnow(svc.clock))
    except EvidenceError as exc:
        return _error(400, "InvalidParameter", "Evidence verification failed (%s): %s" % (exc.check, exc))
    now = int(svc.clock())
    claims.update({"iss": svc.issuer, "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
                   "jti": hashlib.sha256(os.urandom(32)).hexdigest(), "x-ms-ver": "1.0",
                   "x-ms-policy-hash": jwt.b64u(hashlib.sha256(DEFAULT_POLICY).digest())})
    token = jwt.sign(claims, svc.signing_key, svc.kid, {"jku": svc.certs_url})
    svc.issued += 1
    return 200, seal(token, enc_key)
