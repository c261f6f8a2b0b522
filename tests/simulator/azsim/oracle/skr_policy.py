"""Key Vault secure key release policy: validation at key create/update and evaluation at release.

Source: Microsoft Learn "Azure Key Vault secure key release policy grammar" (aka.ms/policygrammarkeys):

    policy          = { "version": "1.0.0", "anyOf": [ authority, ... ] }      (at least one authority)
    authority       = { "authority": string, ( anyOf_condition | allOf_condition ) }
    condition       = claim_condition | anyOf_condition | allOf_condition
    anyOf/allOf     = { "anyOf" | "allOf": [ condition, ... ] }                 (at least one condition)
    claim_condition = { "claim": string, operator: value }
    operator        = equals | notEquals | less | lessOrEquals | greater | greaterOrEquals | exists
    value           = string | number | true | false

Anything else (another version, an unknown operator, two operators in one condition, both anyOf and allOf, empty
lists, extra members, null/array/object values) is refused when the key is created or updated. Member names match
exactly as published (Key Vault's own examples and the CVM policy use this casing). Bounds: 64 KiB, nesting depth 16,
2,000 conditions.

Evaluation (at release, against the claims of a VERIFIED MAA token): the token's ``iss`` must equal an authority
(scheme and host case-insensitive, trailing slash ignored) whose conditions hold. A claim name is a dotted path into
nested claims (``x-ms-isolation-tee.x-ms-compliance-status``); a claim the token does not carry makes every operator
false except ``exists: false``. ``equals``/``notEquals`` compare type and value exactly (a string "false" is not the
boolean false; strings are case-sensitive); ordering operators hold only between two numbers.
"""
from __future__ import annotations

import json

VERSIONS = ("1.0.0",)
OPERATORS = ("equals", "notEquals", "less", "lessOrEquals", "greater", "greaterOrEquals", "exists")
MAX_BYTES = 64 * 1024
MAX_DEPTH = 16
MAX_CONDITIONS = 2000
_MISSING = object()


class PolicyError(ValueError):
    """The policy does not follow the published grammar; the message says where and why."""


def loads(data: bytes) -> dict:
    if len(data) > MAX_BYTES:
        raise PolicyError("the policy is larger than %d bytes" % MAX_BYTES)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PolicyError("the policy is not UTF-8 JSON") from None
    validate(doc)
    return doc


def _is_value(v) -> bool:
    return isinstance(v, (str, bool, int, float))


def _members(node, where, allowed):
    if not isinstance(node, dict):
        raise PolicyError("%s must be a JSON object" % where)
    extra = sorted(set(node) - set(allowed))
    if extra:
        raise PolicyError("%s has unsupported member(s) %s" % (where, ", ".join(repr(e) for e in extra)))


def _list(node, where, budget, depth):
    if not isinstance(node, list) or not node:
        raise PolicyError("%s must be a non-empty array of conditions" % where)
    for i, cond in enumerate(node):
        _condition(cond, "%s[%d]" % (where, i), budget, depth + 1)


def _group(node, where, budget, depth):
    """Exactly one of anyOf/allOf."""
    present = [k for k in ("anyOf", "allOf") if k in node]
    if len(present) != 1:
        raise PolicyError("%s needs exactly one of 'anyOf' or 'allOf'" % where)
    _list(node[present[0]], "%s.%s" % (where, present[0]), budget, depth)


def _condition(cond, where, budget, depth):
    budget[0] -= 1
    if budget[0] < 0:
        raise PolicyError("the policy has more than %d conditions" % MAX_CONDITIONS)
    if depth > MAX_DEPTH:
        raise PolicyError("%s nests deeper than %d levels" % (where, MAX_DEPTH))
    if not isinstance(cond, dict):
        raise PolicyError("%s must be a JSON object" % where)
    if "claim" not in cond:
        _members(cond, where, ("anyOf", "allOf"))
        _group(cond, where, budget, depth)
        return
    _members(cond, where, ("claim",) + OPERATORS)
    if not isinstance(cond["claim"], str) or not cond["claim"].strip():
        raise PolicyError("%s.claim must be a non-empty string" % where)
    ops = [k for k in OPERATORS if k in cond]
    if len(ops) != 1:
        raise PolicyError("%s needs exactly one operator (%s)" % (where, ", ".join(OPERATORS)))
    value = cond[ops[0]]
    if not _is_value(value):
        raise PolicyError("%s.%s must be a string, number, true or false" % (where, ops[0]))
    if ops[0] == "exists" and not isinstance(value, bool):
        raise PolicyError("%s.exists must be true or false" % where)


def validate(doc):
    """Raise PolicyError unless ``doc`` follows the published grammar."""
    _members(doc, "the policy", ("version", "anyOf"))
    if doc.get("version") not in VERSIONS:
        raise PolicyError("the policy version must be %s" % " or ".join(repr(v) for v in VERSIONS))
    authorities = doc.get("anyOf")
    if not isinstance(authorities, list) or not authorities:
        raise PolicyError("the policy's anyOf must be a non-empty array of authorities")
    budget = [MAX_CONDITIONS]
    for i, auth in enumerate(authorities):
        where = "anyOf[%d]" % i
        _members(auth, where, ("authority", "anyOf", "allOf"))
        if not isinstance(auth.get("authority"), str) or not auth["authority"].strip():
            raise PolicyError("%s.authority must be the attestation authority URL" % where)
        _group(auth, where, budget, 1)


def _norm_authority(url: str) -> str:
    url = url.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return (scheme.lower() + sep + host.lower() + slash + path) if sep else url


def _lookup(claims, name):
    node = claims
    if isinstance(node, dict) and name in node:
        return node[name]
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same(a, b) -> bool:
    if _number(a) and _number(b):
        return a == b
    return type(a) is type(b) and a == b


def _holds(cond, claims) -> bool:
    if "claim" not in cond:
        items = cond.get("anyOf") or cond.get("allOf")
        results = (_holds(c, claims) for c in items)
        return any(results) if "anyOf" in cond else all(results)
    op = next(k for k in OPERATORS if k in cond)
    want, have = cond[op], _lookup(claims, cond["claim"])
    if op == "exists":
        return (have is not _MISSING) == want
    if have is _MISSING:
        return False
    if op == "equals":
        return _same(have, want)
    if op == "notEquals":
        return not _same(have, want)
    if not (_number(have) and _number(want)):
        return False
    return {"less": have < want, "lessOrEquals": have <= want, "greater": have > want,
            "greaterOrEquals": have >= want}[op]


def evaluate(doc, claims: dict) -> bool:
    """True when the (verified) token ``claims`` satisfy the policy for the token's issuer (an invalid policy
    releases nothing)."""
    try:
        validate(doc)
    except PolicyError:
        return False
    issuer = _norm_authority(str(claims.get("iss", "")))
    for auth in doc["anyOf"]:
        if _norm_authority(auth["authority"]) == issuer and _holds(auth, claims):
            return True
    return False
