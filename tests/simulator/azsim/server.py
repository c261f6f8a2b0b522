"""HTTPS listeners (stdlib, threaded) and the command-line entry point."""
from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .core import Request
from .pki import CertificateAuthority


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "azsim"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        body = self._read_body()
        host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
        req = Request(self.command, self.path, self.headers, body, host=host, client=self.client_address[0])
        resp = self.server.sim.handle(req)
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = resp.payload()
        self.send_response(resp.status)
        if payload or resp.status not in (204, 304):
            self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        # headers and body in ONE write: separate small writes meet Nagle + delayed ACK (40 ms per request)
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(payload)
        self.flush_headers()

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, sim, ssl_ctx):
        self.sim = sim
        super().__init__(address, _Handler)
        self.socket = ssl_ctx.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):  # quiet on client disconnects / TLS noise
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, OSError)):
            return
        super().handle_error(request, client_address)


class Listeners:
    """One HTTPS listener per loopback address, all on the same port."""

    def __init__(self, sim, ca: CertificateAuthority, cert_dir: str, port: int):
        self.sim = sim
        self.ca = ca
        self.cert_dir = cert_dir
        self.port = port
        self.servers: dict[str, _Listener] = {}
        self.lock = threading.Lock()

    def ensure(self, ip: str) -> int:
        with self.lock:
            if ip in self.servers:
                return self.port
            cert, key = self.ca.issue_server(ip, self.cert_dir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cert, key)
            srv = _Listener((ip, self.port), self.sim, ctx)
            if self.port == 0:
                self.port = srv.server_address[1]
            self.servers[ip] = srv
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.5},
                             name="azsim-%s" % ip, daemon=True).start()
            return self.port

    def shutdown(self):
        with self.lock:
            servers = list(self.servers.values())
            self.servers.clear()
        for srv in servers:
            srv.shutdown()
            srv.server_close()


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tests/simulator/run", description="Local Azure simulator (ARM, Entra ID, "
                                "Key Vault, Microsoft Azure Attestation, Microsoft Graph) over HTTPS on 127.0.0.1.")
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free port)")
    p.add_argument("--state-file", default=None, help="persist state to this JSON file (loaded at start)")
    p.add_argument("--state-dir", default=None, help="directory for ca.pem, certificates and the request log "
                   "(default: a new temporary directory)")
    p.add_argument("--provisioning-delay", type=float, default=0.0,
                   help="seconds a long-running operation stays InProgress (default 0)")
    p.add_argument("--location", default="eastus", help="default location (default eastus)")
    p.add_argument("--rbac-delay", type=float, default=3.0, metavar="SECONDS",
                   help="seconds before a new role assignment or access policy takes effect (default 3; 403 meanwhile)")
    p.add_argument("--throttle-scale", type=float, default=1.0, metavar="S",
                   help="divide ARM's token buckets and Compute's rate windows by S (default 1 = Azure's limits)")
    p.add_argument("--env-file", default=None, metavar="PATH",
                   help="also write PATH: export lines for the collection (and a cloud file beside it)")
    args = p.parse_args(argv)
    if args.rbac_delay < 0:
        p.error("--rbac-delay must be >= 0 seconds (got %s)" % args.rbac_delay)
    if args.throttle_scale < 1:
        p.error("--throttle-scale must be >= 1: it divides Azure's limits (got %s)" % args.throttle_scale)
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # the state is many long-lived small dicts: keep the cyclic GC from rescanning it on every few requests
    gc.set_threshold(100000, 50, 1000)
    from .app import Simulator  # late import keeps --help fast

    state_dir = args.state_dir or tempfile.mkdtemp(prefix="azsim-")
    os.makedirs(state_dir, exist_ok=True)
    ca = CertificateAuthority()
    ca_path = os.path.join(state_dir, "ca.pem")
    with open(ca_path, "wb") as f:
        f.write(ca.pem)
    sim = Simulator(state_dir=state_dir, location=args.location, provisioning_delay=args.provisioning_delay,
                    state_file=args.state_file, ca_bundle=ca_path, rbac_delay=args.rbac_delay,
                    throttle_scale=args.throttle_scale)
    listeners = Listeners(sim, ca, state_dir, args.port)
    port = listeners.ensure("127.0.0.1")
    sim.attach(port=port, ensure_listener=listeners.ensure)

    stop = threading.Event()

    def _stop(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if args.env_file:
        from .envfile import write_env_file
        write_env_file(args.env_file, sim.connection_info())
    sys.stdout.write(json.dumps(sim.connection_info()) + "\n")
    sys.stdout.flush()
    try:
        while not stop.is_set():
            stop.wait(1.0)
            sim.autosave()
    finally:
        listeners.shutdown()
        sim.close()
    return 0
