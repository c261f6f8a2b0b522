# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule

from ansible_collections.confidential.azure.tests.unit.plugins.modules.fake_arm import FakeArm
from ansible_collections.confidential.azure.tests.unit.plugins.modules.fake_sdk import FakeSdk

SUB = "00000000-0000-0000-0000-0000000000aa"


class Exit(Exception):
    pass


class Runner(object):
    """Runs a module's main() through real argument parsing against a FakeArm."""

    def __init__(self, monkeypatch):
        self.arm = FakeArm()
        self.kv = None
        self.monkeypatch = monkeypatch
        monkeypatch.setattr(AzureModule, "arm", property(lambda s: self.arm))
        monkeypatch.setattr(AzureModule, "sdk", property(lambda s: FakeSdk(self.arm, SUB)))
        monkeypatch.setattr(AzureModule, "subscription_id", property(lambda s: SUB))
        monkeypatch.setattr(AzureModule, "data_plane", lambda s, url: self.kv)

    def __call__(self, module, args, check=False, diff=False):
        out = {}

        def fake_exit(mod, **kwargs):
            out.update(kwargs)
            raise Exit()

        def fake_fail(mod, msg, **kwargs):
            out.update(kwargs, msg=msg, failed=True)
            raise Exit()

        self.monkeypatch.setattr(basic.AnsibleModule, "exit_json", fake_exit)
        self.monkeypatch.setattr(basic.AnsibleModule, "fail_json", fake_fail)
        args = dict(args)
        if check:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        self.arm.log = []
        with patch_module_args(args):
            with pytest.raises(Exit):
                module.main()
        return out


@pytest.fixture
def run(monkeypatch):
    return Runner(monkeypatch)
