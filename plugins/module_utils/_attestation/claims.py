# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HCL runtime claims: strict typing, and the normalized claims (MAA's names) the policies read.

The runtime claims are JSON the paravisor writes, bound to the hardware report by their hash. A guest that
controls its own hardware report (any non-Azure TEE) can write any JSON there, so every value the verifier
reads is type-checked before use: a string where a boolean belongs fails, it is never "truthy".
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import json

from .errors import ParseError

AK_KID = "HCLAkPub"
MAX_KEYS = 16
BOOLEAN_SETTINGS = ("secure-boot", "tpm-enabled", "console-enabled", "tpm-persisted")
STRING_SETTINGS = ("vmUniqueId", "root-cert-thumbprint")
KEY_STRINGS = ("kid", "kty", "n", "e", "crv", "x", "y")


def _fail(msg):
    raise ParseError("runtime claims: %s" % msg, check="hcl.runtime_claims")


def _no_duplicates(pairs):
    seen = set()
    for key, dummy in pairs:
        if key in seen:
            _fail("duplicate JSON member %r (parsers could disagree on its value)" % key)
        seen.add(key)
    return dict(pairs)


def _type_name(value):
    return "null" if value is None else type(value).__name__


def _check_keys(keys):
    if not isinstance(keys, list):
        _fail("'keys' must be a list of JWKs, got %s" % _type_name(keys))
    if len(keys) > MAX_KEYS:
        _fail("'keys' has %d entries (at most %d)" % (len(keys), MAX_KEYS))
    kids = []
    for i, key in enumerate(keys):
        if not isinstance(key, dict):
            _fail("keys[%d] must be a JWK object, got %s" % (i, _type_name(key)))
        for name in KEY_STRINGS:
            if name in key and not isinstance(key[name], str):
                _fail("keys[%d].%s must be a string, got %s" % (i, name, _type_name(key[name])))
        ops = key.get("key_ops", [])
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            _fail("keys[%d].key_ops must be a list of strings" % i)
        kids.append(key.get("kid"))
    if kids.count(AK_KID) > 1:
        _fail("more than one %s key (which one signed the quote would be ambiguous)" % AK_KID)


def _check_vm_configuration(conf):
    if not isinstance(conf, dict):
        _fail("'vm-configuration' must be an object, got %s" % _type_name(conf))
    for name in BOOLEAN_SETTINGS:
        if name in conf and not isinstance(conf[name], bool):
            _fail("vm-configuration.%s must be a boolean, got %s %r" % (name, _type_name(conf[name]), conf[name]))
    for name in STRING_SETTINGS:
        if name in conf and not isinstance(conf[name], str):
            _fail("vm-configuration.%s must be a string, got %s" % (name, _type_name(conf[name])))
    if "current-time" in conf and (isinstance(conf["current-time"], bool) or not isinstance(conf["current-time"], int)):
        _fail("vm-configuration.current-time must be an integer, got %s" % _type_name(conf["current-time"]))


def check_runtime_claims(claims_bytes):
    """Strictly re-read the runtime claims JSON. Raises ParseError (check ``hcl.runtime_claims``)."""
    try:
        claims = json.loads(bytes(claims_bytes).decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ParseError):
            raise
        _fail("not valid JSON: %s" % exc)
    if not isinstance(claims, dict):
        _fail("must be a JSON object, got %s" % _type_name(claims))
    if "keys" in claims:
        _check_keys(claims["keys"])
    if "vm-configuration" in claims:
        _check_vm_configuration(claims["vm-configuration"])
    if "user-data" in claims and not isinstance(claims["user-data"], str):
        _fail("'user-data' must be a hex string, got %s" % _type_name(claims["user-data"]))
    return claims


def normalized(rep, hw_claims, attest):
    """The claims the policies read, with MAA's claim names (call only after check_runtime_claims)."""
    conf = rep.vm_configuration
    tee_type = "sevsnpvm" if rep.tee == "snp" else "tdxvm"
    tee = {"x-ms-attestation-type": tee_type, "x-ms-runtime": rep.claims}
    tee.update(hw_claims)
    claims = dict(tee)
    claims["x-ms-isolation-tee"] = dict(tee)
    if isinstance(conf.get("secure-boot"), bool):
        claims["secureboot"] = conf["secure-boot"]
    if isinstance(conf.get("vmUniqueId"), str) and conf["vmUniqueId"]:
        claims["x-ms-azurevm-vmid"] = conf["vmUniqueId"]
    if attest is not None:
        claims["x-ms-azurevm-attested-pcrs"] = list(getattr(attest, "pcr_indices", []))
    return claims
