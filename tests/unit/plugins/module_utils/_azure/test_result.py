# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure import result


def test_merge_tags_appends_by_default_and_replaces_when_asked():
    assert result.merge_tags({"a": "2"}, {"a": "1", "b": "1"}) == {"a": "2", "b": "1"}
    assert result.merge_tags({"a": "2"}, {"a": "1", "b": "1"}, False) == {"a": "2"}
    assert result.merge_tags(None, {"b": "1"}, False) == {"b": "1"}
    assert result.merge_tags({}, {"b": "1"}, False) == {}
    assert result.merge_tags({"a": "1"}, None) == {"a": "1"}


def test_error_lists_join_one_way():
    assert result.join_errors(["name: too long", "location: unknown"]) == "name: too long; location: unknown"
    assert result.invalid_parameters(["name: too long"]) == "invalid parameters: name: too long"


def test_outcome_absent_resource_is_empty_dict_and_diff_only_in_diff_mode():
    out = result.Outcome("key")
    out.resource = None
    assert out.to_dict() == {"key": {}, "changed": False, "actions": []}
    diffed = result.Outcome("key", diff_mode=True)
    diffed.act("create key", before={}, after={"kty": "RSA-HSM"})
    assert diffed.to_dict() == {"key": {}, "changed": True, "actions": ["create key"],
                                "diff": {"before": {}, "after": {"kty": "RSA-HSM"}}}


def test_shape_completes_a_result_and_keeps_what_the_module_added():
    out = result.shape({"vm": None, "grant": {"changed": False}}, "vm", True, ("delete VM cvm1",), operation={"id": "op"})
    assert out == {"vm": {}, "grant": {"changed": False}, "changed": True, "actions": ["delete VM cvm1"],
                   "operation": {"id": "op"}}


def test_changes_diff_is_exactly_what_differs():
    changes = result.Changes()
    assert not changes.changed and changes.diff() == {"before": {}, "after": {}}
    changes.changes["tags"] = ({}, {"env": "t"})
    assert changes.changed and changes.diff() == {"before": {"tags": {}}, "after": {"tags": {"env": "t"}}}
