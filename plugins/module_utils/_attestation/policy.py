# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JMESPath assertions over normalized attestation claims."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

from .errors import PolicyError

try:
    import jmespath
    HAS_JMESPATH = True
    JMESPATH_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover
    HAS_JMESPATH = False
    JMESPATH_IMPORT_ERROR = exc

_MISSING = object()
TEE_CLAIM = {"snp": "sevsnpvm", "tdx": "tdxvm"}


def default_assertions(tee=None, maa_used=False, expected_tee=None):
    """The shipped default policy for evidence of type ``tee`` ('snp'|'tdx')."""
    out = [{"name": "tee-type-present", "query": '"x-ms-attestation-type"',
            "description": "the evidence comes from a SEV-SNP or TDX confidential VM"}]
    if expected_tee:
        out.append({"name": "tee-type-matches-vm-size", "query": '"x-ms-attestation-type"',
                    "expect": TEE_CLAIM[expected_tee],
                    "description": "the TEE matches the VM size family (%s)" % expected_tee})
    if maa_used:
        out.append({"name": "maa-compliance-status", "query": '"x-ms-compliance-status"',
                    "expect": "azure-compliant-cvm", "description": "MAA reports an Azure-compliant CVM"})
    if tee == "tdx":
        out.append({"name": "not-debuggable", "query": "tdx_td_attributes_debug", "expect": False,
                    "description": "TD debug attribute is off"})
    else:
        out.append({"name": "not-debuggable", "query": '"x-ms-sevsnpvm-is-debuggable"', "expect": False,
                    "description": "SNP guest policy DEBUG is off"})
        out.append({"name": "vmpl-0", "query": '"x-ms-sevsnpvm-vmpl"', "expect": 0,
                    "description": "the report comes from VMPL 0 (the paravisor)"})
    out.append({"name": "secure-boot", "query": "secureboot", "expect": True,
                "description": "UEFI secure boot is on"})
    return out


def merge(defaults, user, use_defaults=True):
    """Defaults first; a user assertion with the same name replaces the default."""
    user = list(user or [])
    names = set(a.get("name") for a in user if isinstance(a, dict))
    base = [a for a in defaults if a["name"] not in names] if use_defaults else []
    return base + user


def _truthy(value):
    return value not in (None, False, "", [], {}) and value is not _MISSING


def validate(assertions):
    if not isinstance(assertions, list):
        raise PolicyError("policy must be a list of assertions")
    seen = set()
    for i, a in enumerate(assertions):
        if not isinstance(a, dict):
            raise PolicyError("policy[%d] must be a dict" % i)
        unknown = set(a) - set(["name", "query", "expect", "description"])
        if unknown:
            raise PolicyError("policy[%d]: unknown keys %s" % (i, ", ".join(sorted(unknown))))
        if not isinstance(a.get("name"), str) or not a["name"]:
            raise PolicyError("policy[%d]: 'name' is required" % i)
        if not isinstance(a.get("query"), str) or not a["query"]:
            raise PolicyError("policy[%d] (%s): 'query' is required" % (i, a["name"]))
        if a["name"] in seen:
            raise PolicyError("policy: duplicate assertion name '%s'" % a["name"])
        seen.add(a["name"])
        if HAS_JMESPATH:
            try:
                jmespath.compile(a["query"])
            except jmespath.exceptions.JMESPathError as exc:
                raise PolicyError("policy[%d] (%s): invalid JMESPath: %s" % (i, a["name"], exc))


class _Watched(dict):
    """A claims dict that records every member a JMESPath query asks for and does not find.

    jmespath reads object members with ``.get()``; a miss here is a claim the rule reads that the evidence lacks.
    """

    def __init__(self, data, path, misses):
        super(_Watched, self).__init__((k, _watch(v, _join(path, k), misses)) for k, v in data.items())
        self._path = path
        self._misses = misses

    def get(self, key, default=None):
        if key not in self:
            self._misses.append(_join(self._path, key))
            return default
        return dict.__getitem__(self, key)


def _join(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def _watch(value, path, misses):
    if isinstance(value, dict):
        return _Watched(value, path, misses)
    if isinstance(value, list):
        return [_watch(v, "%s[%d]" % (path, i), misses) for i, v in enumerate(value)]
    return value


def evaluate(assertions, claims, strict=True):
    """Evaluate assertions -> list of {name, result: pass|fail, reason, value}.

    An assertion passes when its query result equals ``expect`` (if given) or is truthy.
    ``strict`` (the default): a rule whose query reads a claim the evidence does not carry fails, whatever the
    query makes of the null (so ``!= `true` ``, ``!x`` or ``expect: null`` never pass on an absent claim).
    Evaluation errors fail the assertion (fail closed); they never raise.
    """
    if not HAS_JMESPATH:
        raise PolicyError("the jmespath Python package is required for policy evaluation")
    validate(assertions)
    out = []
    for a in assertions:
        name = a["name"]
        misses = []
        data = _watch(claims, "", misses) if strict else claims
        try:
            value = jmespath.search(a["query"], data)
        except Exception as exc:  # fail closed on any evaluation error
            out.append({"name": name, "result": "fail", "reason": "query error: %s" % exc, "value": None})
            continue
        if misses:
            ok = False
            reason = "%s reads claims the evidence does not carry: %s (strict policy: a missing claim fails the " \
                     "rule)" % (a["query"], ", ".join(sorted(set(misses))))
        elif "expect" in a:
            ok = _equal(value, a["expect"])
            reason = "%s == %r" % (a["query"], a["expect"]) if ok else "%s is %r, expected %r" % (
                a["query"], value, a["expect"])
        else:
            ok = _truthy(value)
            reason = "%s is %r" % (a["query"], value) if ok else "%s is %r (not truthy)" % (a["query"], value)
        if a.get("description"):
            reason = "%s: %s" % (a["description"], reason)
        out.append({"name": name, "result": "pass" if ok else "fail", "reason": reason,
                    "value": _plain(value)})
    return out


def _plain(value):
    if isinstance(value, dict):
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _equal(value, expect):
    # bool is an int subclass in Python: never let True == 1 pass an assertion
    if isinstance(value, bool) or isinstance(expect, bool):
        return isinstance(value, bool) and isinstance(expect, bool) and value == expect
    return value == expect
