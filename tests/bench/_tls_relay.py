# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper: a TLS relay that answers for public Azure host names (certificate from a throw-away CA) and
forwards every connection to the local simulator over TLS. Used only inside a private network namespace
(tests/bench/azcollection_compare.py), where a private /etc/hosts maps those names to 127.0.0.1."""
from __future__ import annotations

import datetime
import ipaddress
import os
import select
import socket
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NAMES = ("management.azure.com", "login.microsoftonline.com", "graph.microsoft.com", "management.core.windows.net")


def _cert(subject, issuer, pub, key, ca, sans=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(pub)
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = (b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    return b.sign(key, hashes.SHA256())


def make_certs(directory):
    """-> (ca_pem_path, server_cert_path, server_key_path) for NAMES."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("bench relay CA", "bench relay CA", ca_key.public_key(), ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(n) for n in NAMES] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = _cert(NAMES[0], "bench relay CA", key.public_key(), ca_key, False, sans)
    paths = [os.path.join(directory, n) for n in ("relay-ca.pem", "relay.pem", "relay.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


IDLE_SECONDS = 120  # a keep-alive connection nobody uses for this long is closed
HANDSHAKE_SECONDS = 30
CHUNK = 65536


def _read_available(sock):
    """Everything the TLS socket can give now without blocking (b'' at EOF, None when nothing yet)."""
    out = bytearray()
    while True:
        try:
            data = sock.recv(CHUNK)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return bytes(out) if out else None
        if not data:
            return bytes(out)  # EOF (possibly after some data); the caller sees b'' on the next call
        out += data
        if not sock.pending():
            return bytes(out)


def _write_some(sock, buffer):
    try:
        sent = sock.send(buffer)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        return
    del buffer[:sent]


def _relay(front, back):
    """Copy bytes both ways between two TLS sockets from ONE thread (an SSLSocket must not be used by two threads
    at once): non-blocking sockets, select() for readiness, a buffer per direction."""
    peer = {front: back, back: front}
    outgoing = {front: bytearray(), back: bytearray()}  # bytes waiting to be written TO that socket
    reading = {front: True, back: True}
    for sock in (front, back):
        sock.setblocking(False)
    try:
        while True:
            readers = [s for s in (front, back) if reading[s] and len(outgoing[peer[s]]) < 4 * CHUNK]
            writers = [s for s in (front, back) if outgoing[s]]
            if not readers and not writers:
                return
            # TLS may hold decrypted bytes select() cannot see: read those without waiting.
            ready = [s for s in readers if s.pending()]
            if not ready:
                ready, writable, dummy = select.select(readers, writers, [], IDLE_SECONDS)
                if not ready and not writable:
                    return
            else:
                writable = []
            for sock in ready:
                data = _read_available(sock)
                if data is None:
                    continue
                if data:
                    outgoing[peer[sock]] += data
                else:
                    reading[sock] = False
            for sock in writable:
                _write_some(sock, outgoing[sock])
            # One side closed and everything it sent is delivered: HTTP is done with this connection.
            if any(not reading[s] and not outgoing[peer[s]] for s in (front, back)):
                return
    except (OSError, ValueError):
        return
    finally:
        for sock in (front, back):
            try:
                sock.close()
            except OSError:
                pass


class Relay:
    def __init__(self, target_port, target_ca, cert, key, port=443):
        self.target = ("127.0.0.1", target_port)
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(cert, key)
        self.client_ctx = ssl.create_default_context(cafile=target_ca)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        """One thread per connection: the TLS handshakes (bounded), then _relay until either side is done."""
        try:
            conn.settimeout(HANDSHAKE_SECONDS)
            front = self.server_ctx.wrap_socket(conn, server_side=True)
            raw = socket.create_connection(self.target, timeout=HANDSHAKE_SECONDS)
            back = self.client_ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        except (OSError, ssl.SSLError):
            conn.close()
            return
        _relay(front, back)
