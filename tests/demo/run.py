#!/usr/bin/env python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: the whole rollout end to end on this machine, then clean up.

1. starts the local Azure simulator (tests/simulator/run) and points the collection at it the way a user points
   it at a custom cloud (AZURE_* variables + AZURE_CLOUD_ENVIRONMENT = a JSON file with the endpoints);
2. when qemu/swtpm are available, boots ONE test guest (tests/guest harness) whose swtpm is provisioned like an
   Azure SEV-SNP vTPM with a TEST HCL report signed by a TEST AMD chain made here (tests/tools/hcl_testchain.py)
   and an AK certificate from a TEST vTPM CA made here (tests/functional/attestation/ak_testca.py), plus a small
   IMDS stand-in on the host for the VCEK chain; says so plainly when the guest cannot run. The attestation gate
   runs with its default provenance requirement: it trusts the two TEST roots explicitly (trust.extra_amd_roots,
   trust.extra_vtpm_roots), never through the pinned vendor anchors;
3. runs playbooks/rollout.yml: resource group, Premium vault, CMK with the default CVM release policy,
   confidential disk encryption set, network, two confidential VMs started in parallel (one AMD SEV-SNP size,
   one Intel TDX size), then per VM temp disk encryption and the attestation gate. Both simulated VMs are mapped
   to the one qemu guest (rollout_connections): the SNP-sized VM passes the gate; the TDX-sized VM presents the
   guest's SEV-SNP evidence, fails the "TEE matches the VM size" check and is quarantined;
4. prints the per-VM summary and checks it is what the demo promises; stops the guest and the simulator.

Exit status: 0 when the summary is as expected, 1 otherwise. Runs without a terminal (CI=true).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SIM_RUN = REPO / "tests" / "simulator" / "run"
OUTPUT = REPO / "tests" / "output" / "demo"
sys.path.insert(0, str(REPO / "tests" / "tools"))
sys.path.insert(0, str(REPO / "tests" / "guest"))

RG = "cvm-demo-rg"
SNP_VM = "demo-snp-1"
TDX_VM = "demo-tdx-1"
GUEST_HOST_FROM_QEMU = "10.0.2.2"   # the host, seen from a qemu user-networking guest
SSH_KEY_LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH7n0b5Zx2mYk8Jk9x0Q3lB8fWcH2yA1pR4sT6uV7wX9 demo@confidential-azure"


def say(msg: str = "") -> None:
    print(msg, flush=True)


def banner(msg: str) -> None:
    say()
    say("=" * 100)
    say("== " + msg)
    say("=" * 100)


# ---------------------------------------------------------------------------------------------- simulator
class Simulator:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.proc = None
        self.info = None

    def start(self) -> dict:
        state = self.workdir / "simulator"
        state.mkdir()
        self.proc = subprocess.Popen([sys.executable, str(SIM_RUN), "--port", "0",
                                      "--state-dir", str(state)], stdout=subprocess.PIPE,
                                     stderr=open(self.workdir / "simulator.log", "wb"), text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator did not start:\n" + (self.workdir / "simulator.log").read_text()[-3000:])
        self.info = json.loads(line)
        cloud = self.workdir / "cloud_environment.json"
        cloud.write_text(json.dumps(self.info["cloud_environment"]))
        return {"AZURE_SUBSCRIPTION_ID": self.info["subscription_id"], "AZURE_CLIENT_ID": self.info["client_id"],
                "AZURE_SECRET": self.info["client_secret"], "AZURE_TENANT": self.info["tenant_id"],
                "AZURE_CLOUD_ENVIRONMENT": str(cloud)}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# ---------------------------------------------------------------------------------------------- IMDS stand-in
class Imds:
    """What the guest's attestation_evidence module asks Azure IMDS for: the VCEK chain (THIM) and vmId."""

    def __init__(self, thim: dict, compute: dict):
        data = {"/metadata/THIM/amd/certification": thim, "/metadata/instance/compute": compute}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = data.get(self.path.split("?")[0])
                status = 200 if body is not None and self.headers.get("Metadata") == "true" else 404
                raw = json.dumps(body if status == 200 else {"error": "not found"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        # qemu's user networking delivers the guest's connections to 10.0.2.2 to the host's loopback
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------------------------- guest
def predicted_vm_id(subscription_id: str, rg: str, name: str) -> str:
    """The vmId the simulator gives a VM (deterministic, like a real VM's is stable): needed BEFORE the guest boots
    because its test HCL report carries it (vmUniqueId), as a real confidential VM's does."""
    sys.path.insert(0, str(REPO / "tests" / "simulator"))
    from azsim.core import det_uuid  # noqa: E402  (the simulator's own derivation)
    rid = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s" % (
        subscription_id, rg, name)
    return det_uuid("vmId", rid.lower())


class DemoGuest:
    def __init__(self, workdir: Path, vm_id: str, location: str):
        import hcl_testchain  # noqa: E402
        sys.path.insert(0, str(REPO / "tests" / "functional" / "attestation"))
        import ak_testca  # noqa: E402  (TEST vTPM CA for the swtpm's AK certificate)
        self.hcl_testchain = hcl_testchain
        self.ak_testca = ak_testca
        self.vtpm_ca = None
        self.vm_id = vm_id
        self.location = location
        self.chain = None
        self.material = None
        self.imds = None
        self.guest = None
        self.workdir = workdir

    @staticmethod
    def available() -> tuple:
        try:
            from harness import HarnessError, ensure_tools
        except ImportError as exc:  # pragma: no cover
            return False, "guest harness not importable: %s" % exc
        try:
            ensure_tools()
        except HarnessError as exc:
            return False, str(exc)
        return True, "qemu, swtpm and the image tools are installed"

    def _provision(self, ctx):
        sys.path.insert(0, str(REPO / "tests" / "functional" / "attestation"))
        from ga_helpers import swtpm_tcti  # noqa: E402  (swtpm TCTI port pairing)
        with swtpm_tcti(ctx) as tcti:
            # the HCL report cannot follow a fresh nonce in swtpm: it is bound at provisioning time (no nonce);
            # the TPM quote still carries the rollout's nonce (see require_nonce_binding in the rollout vars)
            self.material = self.ak_testca.provision(tcti, self.vtpm_ca, chain=self.chain, vm_unique_id=self.vm_id)

    def up(self) -> dict:
        from harness import Guest
        say("making a TEST AMD chain (ARK/ASK/VCEK, RSA-4096: a few seconds)")
        self.chain = self.hcl_testchain.make_test_chain()
        say("making a TEST vTPM CA (root + intermediate) for the swtpm's AK certificate")
        self.vtpm_ca = self.ak_testca.make_ca()
        self.guest = Guest(name="demo-%d" % os.getpid(), temp_disk_size="256M", tpm_setup=self._provision)
        t0 = time.monotonic()
        info = self.guest.up(register_teardown=True)
        say("guest up in %.0f s (ssh 127.0.0.1:%s)" % (time.monotonic() - t0, info["port"]))
        self.imds = Imds(self.material["thim"], {"vmId": self.vm_id, "location": self.location})
        return info

    def down(self) -> None:
        if self.guest is not None:
            self.guest.down()
        if self.imds is not None:
            self.imds.close()


# ---------------------------------------------------------------------------------------------- rollout
def collections_path(workdir: Path) -> str:
    """Use the staged collection tree of the toolchain when there is one (make demo), else link this tree."""
    configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    for path in configured.split(":"):
        if path and (Path(path) / "ansible_collections" / "confidential" / "azure" / "galaxy.yml").exists():
            return configured
    root = workdir / "collections"
    (root / "ansible_collections" / "confidential").mkdir(parents=True)
    (root / "ansible_collections" / "confidential" / "azure").symlink_to(REPO)
    build = REPO / ".build"
    return str(root) + ((":" + str(build)) if (build / "ansible_collections").is_dir() else "")


def ansible_playbook() -> str:
    local = Path(sys.executable).parent / "ansible-playbook"
    return str(local) if local.exists() else (shutil.which("ansible-playbook") or "ansible-playbook")


def run_rollout(workdir: Path, azure_env: dict, extra_vars: dict) -> int:
    vars_file = workdir / "rollout-vars.json"
    vars_file.write_text(json.dumps(extra_vars, indent=1))
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("AZURE_"):
            del env[name]
    env.update(azure_env)
    env.update({"ANSIBLE_COLLECTIONS_PATH": collections_path(workdir), "ANSIBLE_HOST_KEY_CHECKING": "False",
                "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_LOCALHOST_WARNING": "False",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False", "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_STDOUT_CALLBACK": "default",
                "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null",
                "ANSIBLE_FORKS": "10"})
    if _has_posix(env):   # an empty callback name is an error for ansible-core 2.19: set it only when there is one
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    else:
        env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    inventory = workdir / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    cmd = [ansible_playbook(), "-i", str(inventory), str(REPO / "playbooks" / "rollout.yml"), "-e",
           "@" + str(vars_file)]
    say("$ " + " ".join(cmd))
    return subprocess.run(cmd, env=env, cwd=str(workdir), stdin=subprocess.DEVNULL, check=False).returncode


def _has_posix(env) -> bool:
    for path in env.get("ANSIBLE_COLLECTIONS_PATH", "").split(":") + [str(REPO / ".build")]:
        if path and (Path(path) / "ansible_collections" / "ansible" / "posix").is_dir():
            return True
    return False


def print_summary(summary: dict) -> None:
    banner("Rollout summary (%s)" % summary.get("stage"))
    rows = [("VM", "size", "TEE", "temp disk", "attestation", "failing check", "status")]
    for vm in summary["vms"]:
        rows.append((vm["name"], vm["size"], str(vm["tee"]), str(vm["temp_disk"])[:40], vm["attestation"]["verdict"],
                     ",".join(vm["attestation"]["failing_checks"]) or "-", vm["status"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)))
    for vm in summary["vms"]:
        say("  %s: %s" % (vm["name"], vm["reason"]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--no-guest", action="store_true", help="do not boot the qemu guest (control phase only)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)

    t_start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="cazure-demo-"))
    sim = Simulator(workdir)
    guest = None
    timings = {}

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    try:
        banner("1/4 local Azure simulator")
        azure_env = sim.start()
        location = sim.info["location"]
        say("simulator on %s (subscription %s, region %s)" % (
            sim.info["cloud_environment"]["arm_endpoint"], sim.info["subscription_id"], location))
        say("the collection reaches it as a custom cloud: AZURE_CLOUD_ENVIRONMENT=%s" % azure_env[
            "AZURE_CLOUD_ENVIRONMENT"])

        banner("2/4 test guest (qemu + swtpm)")
        connections = {}
        trust = {}
        if args.no_guest:
            ok, why = False, "--no-guest given"
        else:
            ok, why = DemoGuest.available()
        if ok:
            vm_id = predicted_vm_id(sim.info["subscription_id"], RG, SNP_VM)
            guest = DemoGuest(workdir, vm_id, location)
            t0 = time.monotonic()
            try:
                info = guest.up()
            except Exception as exc:  # the harness raises HarnessError; anything else is reported the same way
                guest.down()
                guest = None
                ok, why = False, "the guest did not boot: %s" % exc
            else:
                timings["guest_boot"] = time.monotonic() - t0
                conn = {"ansible_host": info["host"], "ansible_port": info["port"], "ansible_user": info["user"],
                        "ansible_ssh_private_key_file": info["private_key"],
                        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                        "ansible_python_interpreter": "/usr/bin/python3"}
                connections = {SNP_VM: conn, TDX_VM: conn}
                trust = guest.ak_testca.trust(guest.vtpm_ca, guest.material)
                say("both simulated VMs are mapped to this one guest (rollout_connections)")
                say("TRUST: the attestation gate trusts a TEST AMD root made by this demo (rollout_attestation_trust"
                    ".extra_amd_roots), in addition to the pinned real AMD roots. Never do this in production.")
                say("PROVENANCE: on (the default). The swtpm's AK certificate is issued by a TEST vTPM CA made by this "
                    "demo (%s), which the gate trusts explicitly through rollout_attestation_trust.extra_vtpm_roots - "
                    "never through Microsoft's pinned Azure vTPM roots." % guest.ak_testca.ROOT_CN)
                say("NONCE: swtpm cannot re-sign the HCL report for a fresh nonce, so the demo sets "
                    "rollout_attestation_require_nonce_binding: false; the TPM quote still must carry the nonce.")
        if not ok:
            say("NO GUEST: %s." % why)
            say("The rollout runs the control phase; both VMs are reported as unreachable (no guest), not as passed.")

        banner("3/4 rollout: playbooks/rollout.yml")
        OUTPUT.mkdir(parents=True, exist_ok=True)
        summary_path = OUTPUT / "rollout-summary.json"
        if summary_path.exists():
            summary_path.unlink()
        extra = {
            "rollout_name": "demo",
            "rollout_resource_group": RG,
            "rollout_location": location,
            "rollout_vault_name": "cvm-demo-kv-%s" % uuid.uuid4().hex[:6],
            "rollout_vms": [{"name": SNP_VM, "size": "Standard_DC2ads_v5"},
                            {"name": TDX_VM, "size": "Standard_DC2es_v5"}],
            "rollout_ssh_public_keys": [SSH_KEY_LINE],
            "rollout_poll_delay": 2,
            "rollout_serial": 1,
            "rollout_max_fail_percentage": 50,
            "rollout_connections": connections,
            "rollout_connect_timeout": 120,
            "rollout_attestation_trust": trust,
            "rollout_attestation_require_nonce_binding": False,
            "rollout_attestation_imds_endpoint": "http://%s:%d" % (GUEST_HOST_FROM_QEMU, guest.imds.port)
            if guest else "http://169.254.169.254",
            "rollout_summary_path": str(summary_path),
            "rollout_token_cache": str(workdir / "token-cache.json"),
        }
        t0 = time.monotonic()
        rc = run_rollout(workdir, azure_env, extra)
        timings["rollout"] = time.monotonic() - t0

        banner("4/4 result")
        if not summary_path.exists():
            say("FAILED: the rollout wrote no summary (ansible-playbook exit %d)" % rc)
            return 1
        summary = json.loads(summary_path.read_text())
        print_summary(summary)
        by_name = {vm["name"]: vm for vm in summary["vms"]}
        problems = []
        if set(by_name) != {SNP_VM, TDX_VM}:
            problems.append("summary does not list both VMs: %s" % sorted(by_name))
        for vm in by_name.values():
            if vm["provisioning_state"] != "Succeeded" or not vm["disk_encryption_set"]:
                problems.append("%s: not provisioned with the CMK disk encryption set" % vm["name"])
        if guest is not None:
            snp, tdx = by_name.get(SNP_VM, {}), by_name.get(TDX_VM, {})
            if snp.get("status") != "in_service":
                problems.append("%s should pass the gate and be in service, is %s (%s)" % (
                    SNP_VM, snp.get("status"), snp.get("reason")))
            if not str(snp.get("temp_disk", "")).startswith("encrypted"):
                problems.append("%s: temp disk should be encrypted, is %s" % (SNP_VM, snp.get("temp_disk")))
            if tdx.get("status") != "quarantined":
                problems.append("%s should be quarantined, is %s (%s)" % (TDX_VM, tdx.get("status"), tdx.get("reason")))
            say()
            if rc == 2:
                verdict = "a host failed the gate, as the demo intends (it counts towards max_fail_percentage)"
            else:
                verdict = "as expected" if rc == 0 else "unexpected"
            say("ansible-playbook exited %d: %s" % (rc, verdict))
            if rc not in (0, 2):
                problems.append("ansible-playbook exit status %d" % rc)
        else:
            if any(vm["status"] in ("in_service",) for vm in by_name.values()):
                problems.append("a VM without a guest was reported in service")
            if rc != 0:
                problems.append("ansible-playbook exit status %d" % rc)
        say("summary JSON: %s" % summary_path)
        timings["total"] = time.monotonic() - t_start
        say("timings: " + ", ".join("%s %.0f s" % (k, v) for k, v in timings.items()))
        if problems:
            say("DEMO FAILED:")
            for p in problems:
                say("  - " + p)
            return 1
        say("DEMO OK%s" % ("" if guest else " (control phase only: no guest - %s)" % why))
        return 0
    finally:
        say("cleaning up: guest and simulator stopped")
        if guest is not None:
            guest.down()
        sim.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
