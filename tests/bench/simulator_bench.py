"""Benchmark of the local Azure simulator: start-up time, ARM GET throughput, memory with 1,000 VMs.

Run: python tests/bench/simulator_bench.py [--vms 1000] [--seconds 5] [--threads 4]
Prints one JSON object with the figures (not an assertion: numbers depend on the machine)."""
from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_mb(pid: int) -> float:
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Client:
    def __init__(self, info):
        self.info = info
        u = urllib.parse.urlsplit(info["cloud_environment"]["arm_endpoint"])
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=info["cloud_environment"]["ca_bundle"])
        self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx)
        self.token = None

    def request(self, method, path, body=None, form=None):
        headers = {"Content-Type": "application/json"}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        return resp.status, (json.loads(payload) if payload else None)

    def login(self):
        i = self.info
        _s, tok = self.request("POST", "/%s/oauth2/v2.0/token" % i["tenant_id"], form={
            "grant_type": "client_credentials", "client_id": i["client_id"], "client_secret": i["client_secret"],
            "scope": i["cloud_environment"]["arm_endpoint"] + ".default"})
        self.token = tok["access_token"]
        return self


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="azsim-bench-")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "simulator", "run"), "--state-dir", state],
                            stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline())
    startup = time.monotonic() - t0
    out = {"startup_seconds": round(startup, 3), "rss_mb_idle": round(rss_mb(proc.pid), 1)}
    try:
        c = Client(info).login()
        sub = info["subscription_id"]
        rg = "/subscriptions/%s/resourceGroups/bench" % sub
        c.request("PUT", rg + "?api-version=2025-04-01", {"location": "eastus"})
        net = rg + "/providers/Microsoft.Network"
        c.request("PUT", net + "/virtualNetworks/vnet?api-version=2024-05-01", {
            "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                                 "subnets": [{"name": "s", "properties": {"addressPrefix":
                                                                                          "10.0.0.0/16"}}]}})
        t1 = time.monotonic()
        for n in range(args.vms):
            st, nic = c.request("PUT", net + "/networkInterfaces/nic%d?api-version=2024-05-01" % n, {
                "location": "eastus", "properties": {"ipConfigurations": [{"name": "ip", "properties": {
                    "subnet": {"id": net + "/virtualNetworks/vnet/subnets/s"}}}]}})
            assert st in (200, 201), nic
            st, vm = c.request("PUT", rg + "/providers/Microsoft.Compute/virtualMachines/vm%d?api-version=2026-04-01"
                               % n, {"location": "eastus", "properties": {
                                   "hardwareProfile": {"vmSize": "Standard_DC2as_v5"},
                                   "securityProfile": {"securityType": "ConfidentialVM", "uefiSettings": {
                                       "secureBootEnabled": True, "vTpmEnabled": True}},
                                   "storageProfile": {
                                       "imageReference": {"publisher": "Canonical",
                                                          "offer": "0001-com-ubuntu-confidential-vm-jammy",
                                                          "sku": "22_04-lts-cvm", "version": "latest"},
                                       "osDisk": {"createOption": "FromImage", "managedDisk": {
                                           "securityProfile": {"securityEncryptionType": "VMGuestStateOnly"}}}},
                                   "osProfile": {"computerName": "vm%d" % n, "adminUsername": "azureuser",
                                                 "adminPassword": "Bench-Passw0rd!"},
                                   "networkProfile": {"networkInterfaces": [{"id": nic["id"]}]}}})
            assert st in (200, 201), vm
        out["create_vm_seconds"] = round(time.monotonic() - t1, 2)
        out["vms"] = args.vms
        st, listed = c.request("GET", rg + "/providers/Microsoft.Compute/virtualMachines?api-version=2026-04-01")
        out["vms_listed"] = len(listed["value"])
        out["rss_mb_with_vms"] = round(rss_mb(proc.pid), 1)

        count = [0]
        lock = threading.Lock()
        stop = time.monotonic() + args.seconds
        token = c.token

        def worker(k):
            w = Client(info)
            w.token = token
            n = 0
            while time.monotonic() < stop:
                path = rg + "/providers/Microsoft.Compute/virtualMachines/vm%d?api-version=2026-04-01" % (
                    (n * 7 + k) % max(1, args.vms))
                st, _body = w.request("GET", path)
                assert st == 200
                n += 1
            with lock:
                count[0] += n

        t2 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out["get_per_second"] = round(count[0] / (time.monotonic() - t2), 1)
        out["get_threads"] = args.threads
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
