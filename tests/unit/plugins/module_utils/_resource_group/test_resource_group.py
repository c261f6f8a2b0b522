# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""resource_group: pure validation and comparison (tags merged unless append_tags is false), and the run against
in-memory ARM: one GET on a no-change run, check and diff mode, the common result shape."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.confidential.azure.plugins.module_utils._resource_group import group
from ansible_collections.confidential.azure.plugins.module_utils._resource_group.manager import run_resource_group
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault.fakes import Failed, FakeModule


def rg_params(**over):
    p = dict(name="rg-cvm", location="eastus", state="present", tags=None, append_tags=True, wait=True,
             wait_timeout=60)
    p.update(over)
    return p


def test_validate_and_compare():
    assert group.validate(dict(name="rg(1)", location="eastus", state="present")) == []
    assert group.validate(dict(name="bad/rg", location="eastus", state="present"))
    plan = group.compare({"name": "rg", "location": "eastus", "tags": {"a": "1"}},
                         dict(location="West Europe", tags={"a": "1"}))
    assert plan.errors and "cannot move" in plan.errors[0]
    have = {"name": "rg", "location": "eastus", "tags": {"a": "1"}}
    plan = group.compare(have, dict(location=None, tags={"b": "2"}))
    assert plan.diff() == {"before": {"tags": {"a": "1"}}, "after": {"tags": {"a": "1", "b": "2"}}}
    plan = group.compare({"name": "rg", "location": "eastus", "tags": {"a": "1"}},
                         dict(location=None, tags={"b": "2"}, append_tags=False))
    assert plan.tags == {"b": "2"}
    assert not group.compare({"name": "rg", "location": "eastus", "tags": {"a": "1"}},
                             dict(location=None, tags={"a": "1"})).changed


def test_create_rerun_retag_delete_with_the_common_result_shape():
    m = FakeModule(rg_params(tags={"owner": "me"}), with_vault=False)
    first = run_resource_group(m)
    assert first["changed"] and first["resource_group"]["location"] == "eastus"
    assert first["actions"] == ["create resource group rg-cvm in eastus"] and "diff" not in first
    n = FakeModule(rg_params(), with_vault=False)
    n.arm, n.log = m.arm, m.log
    start = len(m.log)
    again = run_resource_group(n)
    assert (again["changed"], again["actions"]) == (False, []) and again["resource_group"]["tags"] == {"owner": "me"}
    assert [e[0] for e in m.log[start:]] == ["GET"]
    n.params = rg_params(tags={"a": "b"})
    n.diff_mode = True
    tagged = run_resource_group(n)
    assert tagged["diff"] == {"before": {"tags": {"owner": "me"}}, "after": {"tags": {"owner": "me", "a": "b"}}}
    n.params = rg_params(tags={"a": "b"}, append_tags=False)
    n.check_mode = True
    start = len(m.log)
    replaced = run_resource_group(n)
    assert replaced["changed"] and replaced["resource_group"]["tags"] == {"a": "b"}
    assert [e[0] for e in m.log[start:]] == ["GET"]
    n.check_mode, n.diff_mode = False, False
    n.params = rg_params(state="absent")
    gone = run_resource_group(n)
    assert gone["changed"] and gone["resource_group"] == {} and gone["actions"][0].startswith("delete")
    assert run_resource_group(n)["changed"] is False


def test_bad_input_fails_before_any_request():
    m = FakeModule(rg_params(name="bad/rg", location="East US 2!"), with_vault=False)
    with pytest.raises(Failed) as exc:
        run_resource_group(m)
    assert exc.value.msg.startswith("invalid parameters: name") and "; location" in exc.value.msg
    assert list(m.log) == []
