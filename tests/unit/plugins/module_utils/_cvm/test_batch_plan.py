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


def test_item_options_win_over_defaults_and_none_unsets_a_default():
    got = bp.item_options({"size": "s1", "image": {"sku": "x", "offer": "o"}, "tags": {"a": "1"}, "zone": "1"},
                          {"name": "n", "image": {"sku": "y"}, "zone": None})
    assert got == {"size": "s1", "image": {"sku": "y"}, "tags": {"a": "1"}, "name": "n"}


def test_an_item_option_drops_the_default_it_excludes():
    pairs = [("network_interfaces", "subnet_id")]
    got = bp.item_options({"subnet_id": "/sub", "size": "s"}, {"name": "n", "network_interfaces": ["nic"]}, pairs)
    assert got == {"size": "s", "name": "n", "network_interfaces": ["nic"]}
    assert bp.item_options({"network_interfaces": ["nic"]}, {"name": "n", "subnet_id": "/sub"}, pairs) == {
        "name": "n", "subnet_id": "/sub"}


def test_secrets_go_to_a_vm_the_run_may_create_only():
    secrets = {"admin_password": "pw", "custom_data": None}
    assert bp.with_secrets({"name": "n"}, secrets, creates=True) == {"name": "n", "admin_password": "pw"}
    assert bp.with_secrets({"name": "n"}, secrets, creates=False) == {"name": "n"}


def test_misplaced_secrets_are_collected_to_be_hidden():
    keys = bp.SECRETS + ("secret", "password")
    found = bp.misplaced_secrets({"admin_password": "p1", "secret": "s"},
                                 [{"custom_data": "c"}, "x", {"name": "n", "password": "pw"}], keys)
    assert found == {"p1", "c", "s", "pw"}


def test_summary_message_and_diff_list():
    results = [{"item": "vms[0] (a)", "name": "a", "failed": False, "diff": {"before": {}, "after": {"size": "s"}}},
               {"item": "vms[1]", "name": None, "failed": True, "msg": "bad"},
               {"item": "vms[2] (c)", "name": "c", "failed": False, "diff": {"before": {"x": 1}, "after": {"x": 1}}}]
    assert bp.summary_message(results) == "1 of 3 VMs failed: vms[1]: bad"
    assert bp.batch_diff(results) == [{"before_header": "a", "after_header": "a", "before": {},
                                       "after": {"size": "s"}}]
