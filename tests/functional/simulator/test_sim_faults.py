"""Fault injection through /_sim/faults, observed through the real SDK and the request log."""
from __future__ import annotations

import http.client
import time
import urllib.error

import pytest

import azsim_testlib as T

VM = "/providers/Microsoft.Compute/virtualMachines/"


@pytest.fixture
def vm(fresh_simulator):
    sim = fresh_simulator
    T.group(sim, "rg-f")
    nic = T.network(sim, "rg-f", "f")
    body = T.cvm_body(nic, enc="VMGuestStateOnly")
    path = sim.rg_path("rg-f") + VM + "vm1"
    return sim, path, body


def _statuses(sim, mark, method="GET", needle=VM):
    return [e["status"] for e in sim.requests(since=mark) if e["method"] == method and needle in e["path"]]


def test_429_with_retry_after_is_retried_by_the_sdk(vm):
    sim, path, body = vm
    sim.call("PUT", path, body, T.VM_API)
    sim.fault("status", method="GET", path=r"virtualMachines/vm1$", status=429, retry_after=1, count=1)
    st, h, err = sim.call("GET", path, api_version=T.VM_API)
    assert st == 429 and h["retry-after"] == "1" and err["error"]["code"] == "TooManyRequests"
    sim.fault("status", method="GET", path=r"virtualMachines/vm1$", status=429, retry_after=1, count=1)
    mark = sim.mark()
    assert T.compute(sim).virtual_machines.get("rg-f", "vm1").name == "vm1"
    assert _statuses(sim, mark) == [429, 200]


@pytest.mark.parametrize("status,code", [(500, "InternalServerError"), (503, "ServiceUnavailable")])
def test_server_errors_count_limited(vm, status, code):
    sim, path, body = vm
    sim.call("PUT", path, body, T.VM_API)
    sim.fault("status", method="GET", path=r"virtualMachines/vm1$", status=status, count=2)
    mark = sim.mark()
    st, _h, err = sim.call("GET", path, api_version=T.VM_API)
    assert st == status and err["error"]["code"] == code
    assert sim.call("GET", path, api_version=T.VM_API)[0] == status
    assert sim.call("GET", path, api_version=T.VM_API)[0] == 200          # the third request passes
    assert _statuses(sim, mark) == [status, status, 200]
    assert sim.admin("GET", "/_sim/faults")["faults"] == []


def test_dropped_connection(vm):
    sim, path, body = vm
    sim.fault("drop", method="GET", path=r"resourceGroups/rg-f$", count=1)
    with pytest.raises((urllib.error.URLError, http.client.RemoteDisconnected, ConnectionError)):
        sim.call("GET", sim.rg_path("rg-f"), api_version=T.RG_API)
    assert sim.call("GET", sim.rg_path("rg-f"), api_version=T.RG_API)[0] == 200


def test_slow_response(vm):
    sim, _path, _body = vm
    sim.fault("delay", method="GET", path=r"resourceGroups/rg-f$", seconds=0.5, count=1)
    mark = sim.mark()
    assert sim.call("GET", sim.rg_path("rg-f"), api_version=T.RG_API)[0] == 200
    entry = [e for e in sim.requests(since=mark) if e["path"].endswith("rg-f")][0]
    assert entry["duration_ms"] >= 500


def test_lro_that_ends_failed(vm):
    from azure.core.exceptions import HttpResponseError
    sim, path, body = vm
    sim.fault("lro_fail", method="PUT", path=r"virtualMachines/vm1$",
              error={"code": "OSProvisioningTimedOut", "message": "OS Provisioning for VM 'vm1' did not finish in "
                     "the allotted time."})
    with pytest.raises(HttpResponseError) as err:
        T.compute(sim).virtual_machines.begin_create_or_update("rg-f", "vm1", body).result()
    assert "OSProvisioningTimedOut" in str(err.value)
    got = sim.call("GET", path, api_version=T.VM_API)[2]
    assert got["properties"]["provisioningState"] == "Failed"


def test_lro_that_never_finishes(vm):
    sim, path, body = vm
    sim.fault("lro_hang", method="PUT", path=r"virtualMachines/vm1$")
    poller = T.compute(sim).virtual_machines.begin_create_or_update("rg-f", "vm1", body)
    for _attempt in range(3):
        time.sleep(0.2)
        assert not poller.done()
    st, h, res = sim.call("PUT", path, body, T.VM_API)      # a later PUT completes normally
    assert st == 200 and sim.call("GET", h["azure-asyncoperation"])[2]["status"] == "Succeeded"


def test_lro_fault_on_delete(vm):
    sim, path, body = vm
    sim.call("PUT", path, body, T.VM_API)
    sim.fault("lro_fail", method="DELETE", path=r"virtualMachines/vm1$")
    st, h, _body = sim.call("DELETE", path, api_version=T.VM_API)
    assert st == 202
    op = sim.call("GET", h["azure-asyncoperation"])[2]
    assert op["status"] == "Failed" and op["error"]["code"] == "InternalExecutionError"
    assert sim.call("GET", path, api_version=T.VM_API)[0] == 200          # still there
