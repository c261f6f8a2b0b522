# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the attestation proof: swtpm on the host, a fake IMDS, ansible-playbook over the working tree."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "tools"))

# re-exported to the tests
import hcl_testchain  # noqa: E402  pylint: disable=unused-import


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_pair():
    """A free port N with N + 1 free too (swtpm server + control channel)."""
    for dummy in range(50):
        port = free_port()
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


# ----------------------------------------------------------------------------- fake IMDS

class FakeImds(object):
    """Azure IMDS stand-in: THIM VCEK chain and compute metadata. Records every request."""

    def __init__(self, thim=None, compute=None):
        self.thim = thim
        self.compute = compute or {}
        self.files = {}
        self.requests = []
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                imds.requests.append({"method": "GET", "path": self.path, "metadata": self.headers.get("Metadata")})
                if self.path in imds.files:   # plain files (CRLs) a test serves from the same host
                    data = imds.files[self.path]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pkix-crl")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return None
                if self.headers.get("Metadata") != "true":
                    return self._send(400, {"error": "Bad request. Required metadata header not specified"})
                if self.path == "/metadata/THIM/amd/certification" and imds.thim is not None:
                    return self._send(200, imds.thim)
                if self.path.startswith("/metadata/instance/compute") and imds.compute:
                    return self._send(200, imds.compute)
                return self._send(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host="127.0.0.1"):
        return "http://%s:%d" % (host, self.port)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------------------- swtpm on the host

class HostSwtpm(object):
    """A swtpm TPM 2.0 on loopback TCP (no resource manager: the module flushes contexts itself)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ge-swtpm-")
        self.port = free_port_pair()
        self.ctrl = self.port + 1  # the swtpm TCTI talks to the control channel on port + 1
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + self.dir,
             "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % self.port,
             "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % self.ctrl,
             "--flags", "not-need-init,startup-clear"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.close()
            raise RuntimeError("swtpm did not start")
        self.tcti = "swtpm:host=127.0.0.1,port=%d" % self.port

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def ansible_playbook_bin():
    cand = Path(sys.executable).parent / "ansible-playbook"
    if cand.exists():
        return str(cand)
    found = shutil.which("ansible-playbook")
    if not found:
        pytest.fail("ansible-playbook not found next to %s nor on PATH" % sys.executable, pytrace=False)
    return found


class Runner(object):
    def __init__(self, collections, workdir):
        self.collections = collections
        self.workdir = Path(workdir)
        self.count = 0

    def run(self, plays, inventory=None, extra_vars=None, check=False, env=None, timeout=900):
        """Run ``plays`` (list of dicts). Plays write their results with ``record``; returns (rc, output, records)."""
        self.count += 1
        book = self.workdir / ("play%d.yml" % self.count)
        out = self.workdir / ("records%d" % self.count)
        out.mkdir()
        book.write_text(yaml.safe_dump(plays, sort_keys=False))
        if inventory is None:
            inventory = self.workdir / "local.ini"
            inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
        cmd = [ansible_playbook_bin(), "-i", str(inventory), str(book)]
        evars = {"record_dir": str(out)}
        evars.update(extra_vars or {})
        evars_file = self.workdir / ("vars%d.json" % self.count)
        evars_file.write_text(json.dumps(evars))
        cmd += ["-e", "@" + str(evars_file)]
        if check:
            cmd.append("--check")
        full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_HOST_KEY_CHECKING="False",
                        ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="False",
                        ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
        full_env.update(env or {})
        proc = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.workdir), check=False)
        records = {}
        for path in out.glob("*.json"):
            records[path.stem] = json.loads(path.read_text())
        return proc.returncode, proc.stdout + proc.stderr, records


def record_task(name, var, host_specific=True):
    """A task that writes ``var`` (a Jinja expression) as JSON to record_dir/<name>[-<host>].json on the controller."""
    dest = "{{ record_dir }}/%s%s.json" % (name, "-{{ inventory_hostname }}" if host_specific else "")
    return {"name": "record " + name, "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % var, "dest": dest},
            "delegate_to": "localhost", "become": False, "check_mode": False}


# ----------------------------------------------------------------------------- swtpm TCTI port pairing

class _Forwarder(object):
    """Loopback TCP forwarder (one listening port -> one target port), for the swtpm TCTI port pairing."""

    def __init__(self, listen_port, target_port):
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", listen_port))
        self.sock.listen(8)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self):
        while not self.closed:
            try:
                client, dummy = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def close(self):
        self.closed = True
        self.sock.close()


class swtpm_tcti(object):
    """Context manager giving a working ``swtpm:`` TCTI for a harness provisioning context.

    tpm2-tss's swtpm TCTI always talks to the control channel on server port + 1; when the harness picked
    unrelated ports, forward a free port pair to them.
    """

    def __init__(self, ctx):
        self.ctx = ctx
        self.forwarders = []

    def __enter__(self):
        sport, cport = int(self.ctx["server_port"]), int(self.ctx["ctrl_port"])
        if cport == sport + 1:
            return "swtpm:host=127.0.0.1,port=%d" % sport
        port = free_port_pair()
        self.forwarders = [_Forwarder(port, sport), _Forwarder(port + 1, cport)]
        return "swtpm:host=127.0.0.1,port=%d" % port

    def __exit__(self, *exc):
        for fwd in self.forwarders:
            fwd.close()
