# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SDK clients (AzureModule.sdk) for module unit tests, answering from the same in-memory FakeArm: each SDK
call becomes the ARM request the SDK would send, so a test sees one request log whichever client a module uses.
Long-running calls return a poller whose first answer is what FakeArm's operation says (done, or running with an
Azure-AsyncOperation URL), which clients.operation() reads like Azure's."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

from azure.core.exceptions import ResourceNotFoundError

from ansible_collections.confidential.azure.plugins.module_utils._azure import api_versions as V
from ansible_collections.confidential.azure.plugins.module_utils._azure.ids import resource_id
from ansible_collections.confidential.azure.tests.unit.plugins.module_utils._keyvault import fakes as kv_fakes

POWER = {"begin_start": "start", "begin_power_off": "powerOff", "begin_deallocate": "deallocate"}


class _Request(object):
    def __init__(self, method, url):
        self.method = method
        self.url = url


class _Response(object):
    def __init__(self, method, url, status, headers=None, body=None):
        self.request = _Request(method, url)
        self.status_code = status
        self.reason = "Not Found" if status == 404 else "OK"
        self.headers = headers or {}
        self._body = body

    def text(self):
        return json.dumps(self._body) if self._body is not None else ""


class _Initial(object):
    def __init__(self, http_response):
        self.http_response = http_response


class _Method(object):
    def __init__(self, http_response):
        self._initial_response = _Initial(http_response)


class FakePoller(object):
    def __init__(self, method, path, result):
        if result.done:
            first = _Response(method, path, 200, {}, result.resource)
        else:
            first = _Response(method, path, 201 if method in ("PUT", "PATCH") else 202,
                              {"Azure-AsyncOperation": result.poll_url}, result.resource)
        self._method = _Method(first)
        self._result = result

    def polling_method(self):
        return self._method

    def wait(self, timeout=None):
        return None

    def done(self):
        return True

    def status(self):
        return "Succeeded"

    def result(self):
        return self._result.resource


def _not_found(method, path):
    return ResourceNotFoundError(response=_Response(method, path, 404, {}, {"error": {
        "code": "ResourceNotFound", "message": "%s was not found" % path}}))


class _Operations(object):
    kind = None
    api_version = None

    def __init__(self, arm, sub):
        self.arm = arm
        self.sub = sub

    def _path(self, rg, name):
        return resource_id(self.sub, rg, "Microsoft.Compute", self.kind, name)

    def get(self, rg, name, expand=None, **_kwargs):
        found = self.arm.get(self._path(rg, name), self.api_version, params={"$expand": expand} if expand else None)
        if found is None:
            raise _not_found("GET", self._path(rg, name))
        return found

    def begin_create_or_update(self, rg, name, body, polling=True, **_kwargs):
        path = self._path(rg, name)
        return FakePoller("PUT", path, self.arm.put(path, self.api_version, body, wait=bool(polling)))

    def begin_update(self, rg, name, body, polling=True, **_kwargs):
        path = self._path(rg, name)
        return FakePoller("PATCH", path, self.arm.patch(path, self.api_version, body, wait=bool(polling)))

    def begin_delete(self, rg, name, polling=True, **_kwargs):
        path = self._path(rg, name)
        result = self.arm.delete(path, self.api_version, wait=bool(polling))
        if result.status == "NotFound":
            raise _not_found("DELETE", path)
        return FakePoller("DELETE", path, result)


class _VirtualMachines(_Operations):
    kind = "virtualMachines"
    api_version = V.VIRTUAL_MACHINES

    def list(self, rg, expand=None, **_kwargs):
        return self.arm.list("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines"
                             % (self.sub, rg), self.api_version, params={"$expand": expand} if expand else None)

    def list_all(self, expand=None, **_kwargs):
        return self.arm.list("/subscriptions/%s/providers/Microsoft.Compute/virtualMachines" % self.sub,
                             self.api_version, params={"$expand": expand} if expand else None)

    def __getattr__(self, name):
        if name not in POWER:
            raise AttributeError(name)

        def action(rg, vm_name, polling=True, **_kwargs):
            path = self._path(rg, vm_name) + "/" + POWER[name]
            return FakePoller("POST", path, self.arm.post(path, self.api_version, wait=bool(polling)))
        return action


class _DiskEncryptionSets(_Operations):
    kind = "diskEncryptionSets"
    api_version = V.DISK_ENCRYPTION_SETS


class _Disks(_Operations):
    kind = "disks"
    api_version = V.DISKS


class _ResourceSkus(object):
    def __init__(self, arm, sub):
        self.arm = arm
        self.sub = sub

    def list(self, filter=None, **_kwargs):  # pylint: disable=redefined-builtin
        return self.arm.list("/subscriptions/%s/providers/Microsoft.Compute/skus" % self.sub, V.RESOURCE_SKUS,
                             params={"$filter": filter} if filter else None)


class FakeCompute(object):
    def __init__(self, arm, sub):
        self.resource_skus = _ResourceSkus(arm, sub)
        self.virtual_machines = _VirtualMachines(arm, sub)
        self.disk_encryption_sets = _DiskEncryptionSets(arm, sub)
        self.disks = _Disks(arm, sub)


class FakeSdk(object):
    def __init__(self, arm, sub, kv=None):
        self.arm = arm
        self.sub = sub
        self.kv = kv
        self.access_waits = []

    def compute(self):
        return FakeCompute(self.arm, self.sub)

    def keys(self, vault_url):
        """The real KeyClient, over HTTP answered by ``kv`` (its request(method, path, api_version, body))."""
        return kv_fakes.fake_sdk(self.kv).keys(vault_url)
