# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.confidential.azure.plugins.module_utils._azure.module import AzureModule

from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault import fakes as kv_fakes
from ansible_collections.confidential.azure.tests.unit.plugins.modules.fake_arm import FakeArm
from ansible_collections.confidential.azure.tests.unit.plugins.modules.fake_sdk import FakeSdk

SUB = "00000000-0000-0000-0000-0000000000aa"


class Cloud(kv_fakes.Cloud):
    keyvault_scope = "https://vault.azure.net/.default"


class Session(object):
    """What the module reads of its AzureSession besides the clients: the cloud, authority and tenant (from which
    the Key Vault challenge the KeyClient is handed is built)."""

    cloud = Cloud()
    authority = "https://login.microsoftonline.com"
    settings = kv_fakes.Settings()


class Exit(Exception):
    pass


class Runner(object):
    """Runs a module's main() through real argument parsing against a FakeArm (and ``kv``, a fake Key Vault
    behind the real KeyClient)."""

    def __init__(self, monkeypatch):
        self.arm = FakeArm()
        self.kv = None
        self.monkeypatch = monkeypatch
        monkeypatch.setattr(AzureModule, "arm", property(lambda s: self.arm))
        monkeypatch.setattr(AzureModule, "sdk", property(lambda s: FakeSdk(self.arm, SUB, self.kv)))
        monkeypatch.setattr(AzureModule, "session", property(lambda s: Session()))
        monkeypatch.setattr(AzureModule, "subscription_id", property(lambda s: SUB))

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
