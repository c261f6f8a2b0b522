# Copyright (c) confidential.azure contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""stdin/stdout <-> TCP relay for qemu's ``guestfwd=...-cmd:`` (qemu runs it once per guest connection).

Usage: tcprelay.py HOST PORT
"""
import os
import select
import socket
import sys


def main(host, port):
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.settimeout(None)
    fds = [0, sock.fileno()]
    while fds:
        ready, _w, _x = select.select(fds, [], [], 300)
        if not ready:
            break
        for fd in ready:
            if fd == 0:
                data = os.read(0, 65536)
                if not data:
                    sock.shutdown(socket.SHUT_WR)
                    fds.remove(0)
                else:
                    sock.sendall(data)
            else:
                data = sock.recv(65536)
                if not data:
                    return 0
                os.write(1, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
