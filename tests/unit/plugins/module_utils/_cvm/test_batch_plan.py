# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.confidential.azure.plugins.module_utils._azure.common_args import AZURE_COMMON_ARGS
from ansible_collections.confidential.azure.plugins.module_utils._cvm import batch_plan as bp


def errors(defaults=None, vms=None, parallel=10):
    return bp.batch_errors(defaults or {}, [{"name": "a"}] if vms is None else vms, parallel, AZURE_COMMON_ARGS)


def test_a_good_batch_has_no_errors():
    assert errors({"resource_group": "rg"}, [{"name": "a"}, {"name": "b", "resource_group": "rg2"}]) == []


def test_every_batch_problem_is_named_at_once():
    found = errors({"custom_data": "x"}, [{"name": "a", "admin_password": "p", "tenant": "t"}, "b", {"name": "A"}],
                   parallel=0)
    assert found == [
        "parallel 0 must be between 1 and 50",
        "defaults: custom_data is a secret; give it once as the task option custom_data (no_log), it applies to "
        "every VM",
        "vms[0] (a): admin_password is a secret; give it once as the task option admin_password (no_log), it "
        "applies to every VM",
        "vms[0] (a): tenant is an authentication option; the batch has one session: give it as a task option",
        "vms[1]: must be a dict of confidential.azure.vm options, got str",
        "vms[2] (A): the same VM as vms[0]; each VM may appear once in a batch"]


def test_an_empty_batch_is_refused():
    assert errors(vms=[]) == ["vms: give at least one VM (a list of dicts with the options of confidential.azure.vm)"]


def test_the_same_name_in_two_resource_groups_is_two_vms():
    assert errors({"resource_group": "rg"}, [{"name": "a"}, {"name": "a", "resource_group": "other"}]) == []
    assert errors({}, [{"name": "a", "resource_group": "RG"}, {"name": "a", "resource_group": "rg"}])


def test_item_options_win_over_defaults_and_secrets_apply_to_every_vm():
    got = bp.item_options({"size": "s1", "image": {"sku": "x", "offer": "o"}, "tags": {"a": "1"}},
                          {"name": "n", "image": {"sku": "y"}}, {"admin_password": "pw", "custom_data": None})
    assert got == {"size": "s1", "image": {"sku": "y"}, "tags": {"a": "1"}, "name": "n", "admin_password": "pw"}


def test_misplaced_secrets_are_collected_to_be_hidden():
    assert bp.misplaced_secrets({"admin_password": "p1"}, [{"custom_data": "c"}, "x", {"name": "n"}]) == {"p1", "c"}


def test_summary_message_and_diff_list():
    results = [{"item": "vms[0] (a)", "name": "a", "failed": False, "diff": {"before": {}, "after": {"size": "s"}}},
               {"item": "vms[1]", "name": None, "failed": True, "msg": "bad"},
               {"item": "vms[2] (c)", "name": "c", "failed": False, "diff": {"before": {"x": 1}, "after": {"x": 1}}}]
    assert bp.summary_message(results) == "1 of 3 VMs failed: vms[1]: bad"
    assert bp.batch_diff(results) == [{"before_header": "a", "after_header": "a", "before": {},
                                       "after": {"size": "s"}}]
