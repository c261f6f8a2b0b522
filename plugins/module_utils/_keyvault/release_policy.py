# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secure key release (SKR) policies: build, lint, encode, decode, evaluate.

Pure Python (standard library only): no Ansible and no Azure SDK imports, so the
attestation verifier, the simulator and the keyvault modules share one reading
of the grammar.

Grammar (Azure Key Vault secure key release policy, version 1.0.0)::

    policy    = {"version": "1.0.0", "anyOf": [authority, ...]}
    authority = {"authority": <https URL>, ("allOf" | "anyOf"): [item, ...]}
    item      = condition | group
    group     = {("allOf" | "anyOf"): [item, ...]}           # exactly one of the two
    condition = {"claim": <dotted path>, <operator>: <value>}  # exactly one operator

Operators of the grammar: equals, notEquals, less, lessOrEquals, greater,
greaterOrEquals, exists.

Decision on operators other than ``equals``: Azure Key Vault currently accepts
``equals`` only and rejects the key request otherwise, so :func:`lint` reports
them as ERRORS by default (``key_vault=True``): a policy that lints clean is one
Key Vault will take.  ``lint(policy, key_vault=False)`` checks against the full
grammar (used by :func:`evaluate`, which understands every operator, e.g. for a
local policy check or a Managed HSM-like target).
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import base64
import binascii
import json

VERSION = "1.0.0"
CONTENT_TYPE = "application/json; charset=utf-8"

#: Claim and value of the Azure CLI's ``--default-cvm-policy``.
CVM_COMPLIANCE_CLAIM = "x-ms-compliance-status"
CVM_COMPLIANCE_VALUE = "azure-compliant-cvm"
#: A guest attestation token's TEE claims (``x-ms-isolation-tee``) and the TEE types of confidential VMs.
GUEST_COMPLIANCE_CLAIM = "x-ms-isolation-tee.x-ms-compliance-status"
GUEST_TEE_TYPE_CLAIM = "x-ms-isolation-tee.x-ms-attestation-type"
GUEST_TEE_TYPES = ("sevsnpvm", "tdxvm")

OPERATORS = ("equals", "notEquals", "less", "lessOrEquals", "greater", "greaterOrEquals", "exists")
KEY_VAULT_OPERATORS = ("equals",)
_ORDERING = ("less", "lessOrEquals", "greater", "greaterOrEquals")
_GROUPS = ("allOf", "anyOf")

#: Nesting deeper than this is refused (protects the recursive walkers).
MAX_DEPTH = 16


class PolicyError(ValueError):
    """A policy (or its wire form) cannot be used; ``errors`` lists every problem."""

    def __init__(self, message, errors=None):
        super(PolicyError, self).__init__(message)
        self.errors = list(errors or [message])


# --------------------------------------------------------------------------- build

def default_cvm(authorities):
    """The Azure CLI's default confidential VM release policy for ``authorities``.

    One ``anyOf`` entry per attestation authority (in the given order, duplicates
    dropped), each requiring ``x-ms-compliance-status == azure-compliant-cvm``.
    Authorities are used as given (the CLI uses ``properties.attestUri`` verbatim).
    """
    return {
        "version": VERSION,
        "anyOf": [
            {"authority": a, "allOf": [{"claim": CVM_COMPLIANCE_CLAIM, "equals": CVM_COMPLIANCE_VALUE}]}
            for a in _unique_authorities(authorities)
        ],
    }


def guest_cvm(authorities, tee_types=GUEST_TEE_TYPES):
    """The release policy of a key a confidential VM's guest releases (attestation-bound data disks).

    A guest's MAA token (``attest/AzureGuest``) carries the TEE's claims under
    ``x-ms-isolation-tee`` (Microsoft's data-disk secure key release sample checks
    ``x-ms-isolation-tee.x-ms-attestation-type`` and
    ``x-ms-isolation-tee.x-ms-compliance-status``), so each authority entry requires
    an Azure-compliant CVM AND one of ``tee_types``.
    """
    if isinstance(tee_types, str) or not isinstance(tee_types, (list, tuple)) or not tee_types:
        raise PolicyError("tee_types must be a non-empty list of %s" % ", ".join(GUEST_TEE_TYPES))
    unknown = [t for t in tee_types if t not in GUEST_TEE_TYPES]
    if unknown:
        raise PolicyError("tee_types: %s not a confidential VM TEE; use %s"
                          % (", ".join(repr(t) for t in unknown), ", ".join(GUEST_TEE_TYPES)))
    types = [t for t in GUEST_TEE_TYPES if t in tee_types]
    tee = [{"claim": GUEST_TEE_TYPE_CLAIM, "equals": t} for t in types]
    return {
        "version": VERSION,
        "anyOf": [
            {"authority": a, "allOf": [
                {"claim": GUEST_COMPLIANCE_CLAIM, "equals": CVM_COMPLIANCE_VALUE},
                tee[0] if len(tee) == 1 else {"anyOf": tee},
            ]}
            for a in _unique_authorities(authorities)
        ],
    }


def _unique_authorities(authorities):
    if isinstance(authorities, str) or not isinstance(authorities, (list, tuple)):
        raise PolicyError("authorities must be a list of attestation URLs, got %s" % type(authorities).__name__)
    seen = []
    for index, authority in enumerate(authorities):
        problem = _authority_problem(authority)
        if problem:
            raise PolicyError("authorities[%d]: %s" % (index, problem))
        authority = authority.strip()
        if _norm_authority(authority) not in [_norm_authority(a) for a in seen]:
            seen.append(authority)
    if not seen:
        raise PolicyError("authorities must name at least one attestation authority "
                          "(e.g. https://sharedeus.eus.attest.azure.net)")
    return seen


# --------------------------------------------------------------------------- lint

def _authority_problem(authority):
    if not isinstance(authority, str) or not authority.strip():
        return "authority must be a non-empty https URL string"
    value = authority.strip()
    if not value.lower().startswith("https://"):
        return "authority %r must be an https:// URL of an attestation provider" % value
    host = value[len("https://"):].split("/", 1)[0]
    if not host or " " in value:
        return "authority %r is not a valid URL" % value
    return None


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value):
    # the grammar's value: string | number | true | false (no null, no arrays or objects)
    return isinstance(value, (str, bool, int, float))


def _lint_claim(path, claim, errors):
    if not isinstance(claim, str) or not claim.strip():
        errors.append("%s.claim: must be a non-empty string (a claim name, dotted paths allowed)" % path)
        return
    if claim != claim.strip():
        errors.append("%s.claim: %r has leading or trailing whitespace" % (path, claim))
    if any(part == "" for part in claim.split(".")):
        errors.append("%s.claim: %r has an empty segment in its dotted path" % (path, claim))


def _lint_condition(path, node, errors, key_vault):
    ops = [k for k in node if k in OPERATORS]
    unknown = sorted(k for k in node if k != "claim" and k not in OPERATORS)
    _lint_claim(path, node.get("claim"), errors)
    for key in unknown:
        errors.append("%s: unknown key %r (a condition is {claim, <operator>: value}; operators: %s)"
                      % (path, key, ", ".join(OPERATORS)))
    if not ops:
        if not unknown:
            errors.append("%s: condition on claim %r has no operator (use one of: %s)"
                          % (path, node.get("claim"), ", ".join(OPERATORS)))
        return
    if len(ops) > 1:
        errors.append("%s: condition has %d operators (%s); use exactly one per condition, "
                      "combine conditions with allOf/anyOf" % (path, len(ops), ", ".join(sorted(ops))))
    for op in ops:
        value = node[op]
        if op in _ORDERING and not _is_number(value):
            errors.append("%s.%s: value must be a number, got %s" % (path, op, type(value).__name__))
        elif op == "exists" and not isinstance(value, bool):
            errors.append("%s.exists: value must be true or false" % path)
        elif op in ("equals", "notEquals") and not _is_scalar(value):
            errors.append("%s.%s: value must be a string, number or boolean, got %s"
                          % (path, op, type(value).__name__))
        if key_vault and op not in KEY_VAULT_OPERATORS:
            errors.append("%s: operator %r is in the release policy grammar but Azure Key Vault accepts only "
                          "'equals'; rewrite the condition with equals (e.g. an anyOf of allowed values)"
                          % (path, op))


def _lint_items(path, items, errors, key_vault, depth):
    if not isinstance(items, list):
        errors.append("%s: must be a list of conditions or groups" % path)
        return
    if not items:
        errors.append("%s: must not be empty" % path)
        return
    for index, item in enumerate(items):
        _lint_item("%s[%d]" % (path, index), item, errors, key_vault, depth + 1)


def _lint_group_keys(path, node, errors, key_vault, depth, allowed_extra=()):
    groups = [k for k in _GROUPS if k in node]
    if len(groups) == 2:
        errors.append("%s: has both allOf and anyOf; use exactly one (nest a group to combine them)" % path)
    for key in sorted(k for k in node if k not in _GROUPS and k not in allowed_extra):
        errors.append("%s: unknown key %r" % (path, key))
    for key in groups:
        _lint_items("%s.%s" % (path, key), node[key], errors, key_vault, depth)
    return groups


def _lint_item(path, node, errors, key_vault, depth):
    if depth > MAX_DEPTH:
        errors.append("%s: nested deeper than %d levels" % (path, MAX_DEPTH))
        return
    if not isinstance(node, dict):
        errors.append("%s: must be an object (a condition or an allOf/anyOf group), got %s"
                      % (path, type(node).__name__))
        return
    if "authority" in node:
        errors.append("%s: 'authority' is only allowed in the top-level anyOf entries" % path)
    if "claim" in node:
        if any(k in node for k in _GROUPS):
            errors.append("%s: a condition (claim) cannot also carry allOf/anyOf" % path)
        _lint_condition(path, node, errors, key_vault)
        return
    groups = _lint_group_keys(path, node, errors, key_vault, depth, allowed_extra=("authority",))
    if not groups:
        ops = [k for k in node if k in OPERATORS]
        if ops:
            errors.append("%s: condition has operator %r but no 'claim'" % (path, ops[0]))
        elif not node:
            errors.append("%s: empty object; expected a condition {claim, equals} or an allOf/anyOf group" % path)


def lint(policy, key_vault=True):
    """Return the list of problems of ``policy`` (empty when it is valid).

    ``policy`` may be a dict or a JSON string.  With ``key_vault=True`` (the
    default) operators other than ``equals`` are errors because Azure Key Vault
    rejects them; ``key_vault=False`` checks against the full grammar.
    Every message starts with the JSON path of the problem (``anyOf[0].allOf[1]``).
    """
    errors = []
    if isinstance(policy, (str, bytes)):
        try:
            policy = json.loads(policy)
        except ValueError as exc:
            return ["policy is not valid JSON: %s" % exc]
    if not isinstance(policy, dict):
        return ["policy must be an object {version, anyOf}, got %s" % type(policy).__name__]
    version = policy.get("version")
    if version is None:
        errors.append("version: missing; set \"version\": \"%s\"" % VERSION)
    elif version != VERSION:
        errors.append("version: %r is not supported; use \"%s\"" % (version, VERSION))
    for key in sorted(k for k in policy if k not in ("version", "anyOf")):
        hint = ""
        if key == "allOf":
            hint = " (the top level takes anyOf: a list of authorities)"
        elif key == "authority":
            hint = " (move it into an anyOf entry: {\"anyOf\": [{\"authority\": ..., \"allOf\": [...]}]})"
        errors.append("%s: unknown top-level key%s" % (key, hint))
    authorities = policy.get("anyOf")
    if authorities is None:
        errors.append("anyOf: missing; the top level needs anyOf: [{authority, allOf|anyOf}, ...]")
    elif not isinstance(authorities, list):
        errors.append("anyOf: must be a list of authority rules")
    elif not authorities:
        errors.append("anyOf: must name at least one authority rule")
    else:
        for index, rule in enumerate(authorities):
            path = "anyOf[%d]" % index
            if not isinstance(rule, dict):
                errors.append("%s: must be an object {authority, allOf|anyOf}, got %s" % (path, type(rule).__name__))
                continue
            if "authority" not in rule:
                errors.append("%s.authority: missing; each top-level anyOf entry names its attestation "
                              "authority (https URL)" % path)
            else:
                problem = _authority_problem(rule["authority"])
                if problem:
                    errors.append("%s.authority: %s" % (path, problem))
            if "claim" in rule:
                errors.append("%s: a top-level entry is an authority rule, not a condition; wrap the "
                              "condition in allOf" % path)
                continue
            groups = _lint_group_keys(path, rule, errors, key_vault, 1, allowed_extra=("authority",))
            if not groups:
                errors.append("%s: needs allOf or anyOf (a list of conditions)" % path)
    return errors


def check(policy, key_vault=True):
    """Return ``policy`` as a dict, or raise :class:`PolicyError` listing every lint error."""
    if isinstance(policy, (str, bytes)):
        try:
            policy = json.loads(policy)
        except ValueError as exc:
            raise PolicyError("policy is not valid JSON: %s" % exc)
    errors = lint(policy, key_vault=key_vault)
    if errors:
        raise PolicyError("invalid release policy: " + "; ".join(errors), errors)
    return policy


# --------------------------------------------------------------------------- wire

def canonical_json(policy):
    """Canonical UTF-8 JSON bytes: sorted keys, no insignificant whitespace."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, bytes):
        text = text.decode("ascii")
    text = text.strip()
    # Tolerate standard base64 too (some clients send it); padding optional.
    text = text.replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(policy, immutable=False):
    """Key Vault wire form of ``policy``: ``{contentType, data (base64url canonical JSON), immutable}``."""
    if isinstance(policy, (str, bytes)):
        policy = json.loads(policy)
    return {"contentType": CONTENT_TYPE, "data": b64url_encode(canonical_json(policy)), "immutable": bool(immutable)}


def decode(wire):
    """The policy dict carried by a Key Vault ``release_policy`` (wire) object.

    Raises :class:`PolicyError` when ``data`` is missing, not base64url, or not JSON.
    """
    if not isinstance(wire, dict):
        raise PolicyError("release_policy must be an object {contentType, data, immutable}")
    data = wire.get("data")
    if not data:
        raise PolicyError("release_policy.data is missing")
    try:
        raw = b64url_decode(data)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise PolicyError("release_policy.data is not base64url: %s" % exc)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PolicyError("release_policy.data does not hold a JSON policy: %s" % exc)


def _norm_authority(authority):
    if not isinstance(authority, str):
        return authority
    value = authority.strip().rstrip("/")
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value.lower()
    host, slash, path = rest.partition("/")
    return scheme.lower() + "://" + host.lower() + slash + path


def normalize(policy):
    """A comparison form: authorities without trailing slash and with lower-case host.

    Two policies are equivalent for Key Vault when their normal forms are equal
    (key order never matters; list order does, as Key Vault keeps it).
    """
    if isinstance(policy, (str, bytes)):
        policy = json.loads(policy)
    if not isinstance(policy, dict):
        return policy
    out = dict(policy)
    rules = policy.get("anyOf")
    if isinstance(rules, list):
        out["anyOf"] = [
            dict(rule, authority=_norm_authority(rule["authority"]))
            if isinstance(rule, dict) and "authority" in rule else rule
            for rule in rules
        ]
    return out


def equivalent(a, b):
    return canonical_json(normalize(a)) == canonical_json(normalize(b))


# --------------------------------------------------------------------------- evaluate

_MISSING = object()


def claim_value(claims, path):
    """Value of a (dotted) claim path in ``claims``; a key containing dots wins over traversal."""
    node = claims
    rest = path
    while True:
        if not isinstance(node, dict):
            return _MISSING
        if rest in node:
            return node[rest]
        if "." not in rest:
            return _MISSING
        # Longest prefix that is a key, so claims named "a.b" nested under "x" still resolve.
        parts = rest.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            key = ".".join(parts[:cut])
            if key in node:
                node = node[key]
                rest = ".".join(parts[cut:])
                break
        else:
            return _MISSING


def _same(a, b):
    # JSON equality: booleans are not numbers; 1 == 1.0 is fine.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _eval_condition(node, claims, path):
    claim = node["claim"]
    op = [k for k in node if k in OPERATORS][0]
    expected = node[op]
    actual = claim_value(claims, claim)
    if op == "exists":
        present = actual is not _MISSING
        ok = present == bool(expected)
        return ok, "%s: claim %r %s" % (path, claim, "is present" if present else "is missing")
    if actual is _MISSING:
        return False, "%s: claim %r is missing" % (path, claim)
    if op == "equals":
        ok = _same(actual, expected)
    elif op == "notEquals":
        ok = not _same(actual, expected)
    else:
        if not (_is_number(actual) and _is_number(expected)):
            return False, "%s: claim %r = %r is not a number (operator %s)" % (path, claim, actual, op)
        ok = {
            "less": actual < expected,
            "lessOrEquals": actual <= expected,
            "greater": actual > expected,
            "greaterOrEquals": actual >= expected,
        }[op]
    return ok, "%s: claim %r = %s, %s %s" % (
        path, claim, json.dumps(actual), "required" if ok else "expected", _describe(op, expected))


def _describe(op, value):
    return "%s %s" % (op, json.dumps(value))


def _eval_group(node, claims, path):
    """Return (ok, failure reasons) for a group or condition node."""
    if "claim" in node:
        ok, reason = _eval_condition(node, claims, path)
        return ok, ([] if ok else [reason])
    kind = "allOf" if "allOf" in node else "anyOf"
    reasons = []
    results = []
    for index, item in enumerate(node[kind]):
        ok, why = _eval_group(item, claims, "%s.%s[%d]" % (path, kind, index))
        results.append(ok)
        if not ok:
            reasons.extend(why)
    if kind == "allOf":
        return all(results), reasons
    if any(results):
        return True, []
    return False, ["%s.anyOf: no alternative matched" % path] + reasons


#: Claims only an attestation service (MAA) issues: the verifier's own claims never carry them.
MAA_ONLY_CLAIMS = ("x-ms-compliance-status", "x-ms-policy-hash", "x-ms-policy-signer", "x-ms-ver", "x-ms-attestation-collateral",
                   "attester_tcb_status", "attester_advisory_ids", "iss", "iat", "exp", "nbf", "jti")


def _kleene_all(values):
    return False if False in values else (None if None in values else True)


def _kleene_any(values):
    return True if True in values else (None if None in values else False)


def _decide_node(node, claims, path, maa_verified, notes):
    """True / False / None (unknown) for a condition or group."""
    if "claim" in node:
        actual = claim_value(claims, node["claim"])
        if not maa_verified and actual is _MISSING:
            # absent from the local claims: whatever MAA would put in its token is unknown here
            notes.append("%s: claim %r is not in the locally verified claims (%s); only a verified MAA token "
                         "can answer" % (path, node["claim"], "an MAA-only claim" if node["claim"].split(".")[-1]
                                         in MAA_ONLY_CLAIMS else "not produced locally"))
            return None
        ok, reason = _eval_condition(node, claims, path)
        if not ok:
            notes.append(reason)
        return ok
    kind = "allOf" if "allOf" in node else "anyOf"
    values = [_decide_node(item, claims, "%s.%s[%d]" % (path, kind, i), maa_verified, notes)
              for i, item in enumerate(node[kind])]
    return _kleene_all(values) if kind == "allOf" else _kleene_any(values)


def decide(policy, claims, authority=None, maa_verified=False):
    """Key Vault's answer for ``claims``: ``{"decision": "release"|"no_release"|"unknown", "reasons": [...]}``.

    With ``maa_verified`` the claims are a verified MAA token's (issued by ``authority``): the answer is
    release or no_release, as :func:`evaluate`. Without, they are a verifier's local claims: a condition on
    a claim they do not carry (``x-ms-compliance-status`` and every other claim only MAA issues) is unknown,
    and a decision that depends on an unknown is "unknown", never "release".
    """
    if maa_verified:
        released, reasons = evaluate(policy, claims, authority=authority)
        return {"decision": "release" if released else "no_release", "reasons": reasons}
    if isinstance(policy, (str, bytes)):
        try:
            policy = json.loads(policy)
        except ValueError as exc:
            return {"decision": "no_release", "reasons": ["policy is not valid JSON: %s" % exc]}
    errors = lint(policy, key_vault=False)
    if errors:
        return {"decision": "no_release", "reasons": ["invalid policy: %s" % e for e in errors]}
    if not isinstance(claims, dict):
        return {"decision": "no_release", "reasons": ["claims must be an object"]}
    notes, values = [], []
    for index, rule in enumerate(policy["anyOf"]):
        if authority is not None and _norm_authority(rule["authority"]) != _norm_authority(authority):
            continue
        values.append(_decide_node(rule, claims, "anyOf[%d]" % index, False, notes))
    verdict = _kleene_any(values) if values else False
    if verdict is True:
        return {"decision": "release", "reasons": ["all conditions of an authority rule hold on claims the verifier "
                                                   "produced itself"]}
    if verdict is None:
        return {"decision": "unknown", "reasons": notes}
    return {"decision": "no_release", "reasons": notes or ["no rule in the policy applies"]}


def evaluate(policy, claims, authority=None):
    """Would a token with ``claims`` from ``authority`` satisfy ``policy``?

    Returns ``(released, reasons)``.  ``authority`` (the token issuer) selects the
    authority rules that apply (compared without trailing slash, host
    case-insensitive); ``None`` tries every rule.  A missing claim makes its
    condition false (except ``exists: false``).  ``reasons`` names the matching
    rule on success, or every failed condition (with its path) otherwise.
    An invalid policy (full grammar) is never satisfied: its lint errors are the reasons.
    """
    if isinstance(policy, (str, bytes)):
        try:
            policy = json.loads(policy)
        except ValueError as exc:
            return False, ["policy is not valid JSON: %s" % exc]
    errors = lint(policy, key_vault=False)
    if errors:
        return False, ["invalid policy: %s" % e for e in errors]
    if not isinstance(claims, dict):
        return False, ["claims must be an object"]
    reasons = []
    considered = 0
    for index, rule in enumerate(policy["anyOf"]):
        path = "anyOf[%d]" % index
        if authority is not None and _norm_authority(rule["authority"]) != _norm_authority(authority):
            continue
        considered += 1
        ok, why = _eval_group(rule, claims, path)
        if ok:
            return True, ["%s: authority %s: all conditions satisfied" % (path, rule["authority"])]
        reasons.extend(why)
    if considered == 0:
        return False, ["no rule in the policy for authority %s (policy authorities: %s)" % (
            authority, ", ".join(r["authority"] for r in policy["anyOf"]))]
    return False, reasons


def authorities(policy):
    """The authority URLs of a (valid) policy, in order."""
    return [rule.get("authority") for rule in policy.get("anyOf", []) if isinstance(rule, dict)]
