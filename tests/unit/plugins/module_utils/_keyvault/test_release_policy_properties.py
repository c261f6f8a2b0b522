# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: every policy the grammar allows lints clean, survives the wire, and evaluates consistently."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from hypothesis import given, settings, strategies as st

from ansible_collections.confidential.azure.plugins.module_utils._keyvault import release_policy as rp

SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8).filter(lambda s: s.strip("-"))
CLAIM = st.lists(SEGMENT, min_size=1, max_size=3).map(".".join)
VALUE = st.one_of(st.text(max_size=12), st.booleans(), st.integers(-5, 5))
AUTHORITY = st.sampled_from(["https://sharedeus.eus.attest.azure.net", "https://sharedweu.weu.attest.azure.net",
                             "https://shareduks.uks.attest.azure.net/"])
CONDITION = st.builds(lambda c, v: {"claim": c, "equals": v}, CLAIM, VALUE)
ITEMS = st.recursive(CONDITION, lambda inner: st.builds(
    lambda kind, items: {kind: items}, st.sampled_from(["allOf", "anyOf"]), st.lists(inner, min_size=1, max_size=3)),
    max_leaves=8)
RULE = st.builds(lambda a, kind, items: {"authority": a, kind: items}, AUTHORITY, st.sampled_from(["allOf", "anyOf"]),
                 st.lists(ITEMS, min_size=1, max_size=3))
POLICY = st.builds(lambda rules: {"version": "1.0.0", "anyOf": rules}, st.lists(RULE, min_size=1, max_size=3))


def _conditions(node):
    if "claim" in node:
        yield node
        return
    for kind in ("allOf", "anyOf"):
        for item in node.get(kind, []):
            yield from _conditions(item)


def _claims_satisfying(rule):
    """Claims that make every condition of ``rule`` true (possible only when no claim needs two values)."""
    claims = {}
    for cond in _conditions(rule):
        node = claims
        parts = cond["claim"].split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return None
        # JSON types count (true is not 1): the policy compares as Key Vault does
        if parts[-1] in node and (type(node[parts[-1]]), node[parts[-1]]) != (type(cond["equals"]), cond["equals"]):
            return None
        if isinstance(node.get(parts[-1]), dict):
            return None
        node[parts[-1]] = cond["equals"]
    return claims


@settings(max_examples=100, deadline=None)
@given(POLICY, st.booleans())
def test_generated_policies_lint_clean_and_round_trip(policy, immutable):
    assert rp.lint(policy) == []
    wire = rp.encode(policy, immutable)
    assert wire["immutable"] is immutable
    assert rp.decode(wire) == policy
    assert rp.equivalent(rp.decode(wire), policy)


@settings(max_examples=100, deadline=None)
@given(POLICY)
def test_empty_claims_never_release(policy):
    ok, reasons = rp.evaluate(policy, {})
    assert ok is False and reasons


@settings(max_examples=100, deadline=None)
@given(POLICY, st.data())
def test_claims_built_from_a_rule_release_for_its_authority(policy, data):
    index = data.draw(st.integers(0, len(policy["anyOf"]) - 1))
    rule = policy["anyOf"][index]
    claims = _claims_satisfying(rule)
    if claims is None:
        return
    ok, _reasons = rp.evaluate(policy, claims, rule["authority"])
    assert ok is True
    ok, reasons = rp.evaluate(policy, claims, "https://not-an-authority.example")
    assert ok is False and "no rule in the policy" in reasons[0]
