# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-memory ARM for module unit tests: stores what is PUT, answers GETs, logs every request."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy

from ansible_collections.confidential.azure.plugins.module_utils._azure import lro
from ansible_collections.confidential.azure.plugins.module_utils._azure.errors import AzureApiError


def _merge(base, patch):
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


class FakeArm(object):
    def __init__(self):
        self.store = {}
        self.log = []
        self.fail_next = {}

    def url(self, path, api_version=None, params=None):
        return path

    @staticmethod
    def _key(path):
        return path.split("?")[0].rstrip("/").lower()

    def _maybe_fail(self, method, path):
        for (m, frag), err in list(self.fail_next.items()):
            if m == method and frag in path:
                del self.fail_next[(m, frag)]
                raise err

    def get(self, path, api_version, params=None):
        self.log.append(("GET", path, params))
        self._maybe_fail("GET", path)
        res = self.store.get(self._key(path))
        if res is None:
            return None
        res = copy.deepcopy(res)
        if not (params or {}).get("$expand"):
            res.get("properties", {}).pop("instanceView", None)
        return res

    def list(self, path, api_version, params=None):
        self.log.append(("LIST", path, params))
        prefix = self._key(path) + "/"
        if "/resourcegroups/" not in prefix and prefix.endswith("/virtualmachines/"):
            # subscription-wide list of a resource type: every resource group
            kind = "/providers/" + prefix.split("/providers/", 1)[1]
            return [copy.deepcopy(v) for k, v in sorted(self.store.items())
                    if "/resourcegroups/" in k and kind in k and "/" not in k.split(kind, 1)[1]]
        return [copy.deepcopy(v) for k, v in sorted(self.store.items())
                if k.startswith(prefix) and "/" not in k[len(prefix):]]

    def put(self, path, api_version, body, wait=True, timeout=1800):
        self.log.append(("PUT", path, copy.deepcopy(body)))
        self._maybe_fail("PUT", path)
        res = copy.deepcopy(body)
        res["id"] = path
        res["name"] = path.rstrip("/").split("/")[-1]
        props = res.setdefault("properties", {})
        props["provisioningState"] = "Succeeded" if wait else "Creating"
        if "/virtualmachines/" in path.lower():
            os_disk = props.get("storageProfile", {}).get("osDisk", {})
            rg = path.split("/providers/")[0]
            os_disk.setdefault("managedDisk", {})["id"] = rg + "/providers/Microsoft.Compute/disks/" + os_disk.get(
                "name", "osdisk")
            os_disk.setdefault("osType", "Linux")
            for disk in props.get("storageProfile", {}).get("dataDisks", []):
                disk.setdefault("managedDisk", {})["id"] = rg + "/providers/Microsoft.Compute/disks/" + disk["name"]
            props.get("osProfile", {}).pop("adminPassword", None)
            props.get("osProfile", {}).pop("customData", None)
            props["instanceView"] = {"statuses": [{"code": "ProvisioningState/succeeded"},
                                                  {"code": "PowerState/running"}]}
            props["vmId"] = "00000000-0000-0000-0000-000000000001"
            if "SystemAssigned" in (res.get("identity") or {}).get("type", ""):
                res["identity"]["principalId"] = "33333333-3333-3333-3333-333333333333"
        if "/diskencryptionsets/" in path.lower():
            res["identity"]["principalId"] = "11111111-1111-1111-1111-111111111111"
            res["identity"]["tenantId"] = "22222222-2222-2222-2222-222222222222"
        self.store[self._key(path)] = res
        if not wait:
            return lro.LroResult(False, "Creating", copy.deepcopy(res), "https://poll/" + res["name"], path, "async")
        return lro.LroResult(True, "Succeeded", self.get(path, api_version), None, path, None)

    def patch(self, path, api_version, body, wait=True, timeout=1800):
        self.log.append(("PATCH", path, copy.deepcopy(body)))
        self._maybe_fail("PATCH", path)
        res = self.store[self._key(path)]
        disks = (body.get("properties") or {}).get("storageProfile", {}).get("dataDisks")
        _merge(res, body)
        if "SystemAssigned" in (res.get("identity") or {}).get("type", ""):
            res["identity"].setdefault("principalId", "33333333-3333-3333-3333-333333333333")
        if disks is not None:
            rg = path.split("/providers/")[0]
            for disk in res["properties"]["storageProfile"]["dataDisks"]:
                disk.setdefault("managedDisk", {}).setdefault("id", rg + "/providers/Microsoft.Compute/disks/" +
                                                              disk.get("name", "d%s" % disk["lun"]))
        return lro.LroResult(True, "Succeeded", self.get(path, api_version), None, path, None)

    def post(self, path, api_version, body=None, wait=True, timeout=1800):
        self.log.append(("POST", path, body))
        base, action = path.rsplit("/", 1)
        res = self.store[self._key(base)]
        power = {"start": "running", "powerOff": "stopped", "deallocate": "deallocated"}[action]
        res["properties"]["instanceView"]["statuses"][1] = {"code": "PowerState/" + power}
        return lro.LroResult(True, "Succeeded", None, None, None, None)

    def delete(self, path, api_version, wait=True, timeout=1800):
        self.log.append(("DELETE", path, None))
        self._maybe_fail("DELETE", path)
        existed = self.store.pop(self._key(path), None)
        return lro.LroResult(True, "Succeeded" if existed else "NotFound", None, None, path, None)

    def wait(self, result, timeout=1800):
        return lro.LroResult(True, "Succeeded", None, None, None, None)

    def writes(self):
        return [entry for entry in self.log if entry[0] not in ("GET", "LIST")]

    def gets(self):
        return [entry for entry in self.log if entry[0] in ("GET", "LIST")]


def api_error(status, code, message):
    return AzureApiError(status, code, message)
