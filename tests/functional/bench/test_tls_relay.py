# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bench's TLS relay (tests/bench/_tls_relay.py) carries concurrent keep-alive exchanges, large bodies both ways,
without stalling: each connection is pumped by one thread (SSL sockets are not safe to share between threads)."""
from __future__ import annotations

import concurrent.futures
import os
import socket
import ssl
import sys
import threading

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "tests", "bench"))

from _tls_relay import Relay, make_certs  # noqa: E402


def _recv_exact(sock, size):
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(65536, size - len(data)))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes" % (len(data), size))
        data += chunk
    return bytes(data)


def _echo_server(ctx):
    """A TLS 'simulator': for each 8-byte length-prefixed message, answers the same bytes reversed."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)

    def serve(conn):
        with ctx.wrap_socket(conn, server_side=True) as tls:
            while True:
                head = _recv_or_none(tls)
                if head is None:
                    return
                tls.sendall(head + _recv_exact(tls, int(head))[::-1])

    def accept():
        while True:
            conn, dummy = server.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1]


def _recv_or_none(tls):
    try:
        return _recv_exact(tls, 8)
    except (AssertionError, OSError):
        return None


def test_relay_carries_concurrent_large_exchanges(tmp_path):
    ca, cert, key = make_certs(str(tmp_path))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    target_port = _echo_server(server_ctx)
    relay = Relay(target_port, ca, cert, key, port=0)
    port = relay.sock.getsockname()[1]
    client_ctx = ssl.create_default_context(cafile=ca)

    def exchange(index):
        with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="management.azure.com") as tls:
                for size in (10, 700000 + index, 3):
                    body = os.urandom(size)
                    tls.sendall(b"%08d" % size + body)
                    assert _recv_exact(tls, 8) == b"%08d" % size
                    assert _recv_exact(tls, size) == body[::-1]
        return index

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        assert sorted(pool.map(exchange, range(24), timeout=60)) == list(range(24))
