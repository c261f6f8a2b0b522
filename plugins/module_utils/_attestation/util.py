# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small byte helpers shared by the parsers (stdlib only)."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import base64
import binascii
import struct

from .der import der_header as _der_header
from .errors import ParseError


def b64decode(data, what="value", max_size=None):
    """Decode standard or URL-safe base64, padded or not, ignoring whitespace (linear, no regex).

    ``max_size``: refuse text longer than this many characters before decoding it.
    """
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("ascii")
        except UnicodeDecodeError:
            raise ParseError("%s is not base64 text" % what)
    if not isinstance(data, str):
        raise ParseError("%s must be a base64 string" % what)
    if max_size is not None and len(data) > max_size:
        raise ParseError("%s is too large (%d characters, limit %d)" % (what, len(data), max_size))
    text = "".join(data.split()).replace("-", "+").replace("_", "/").rstrip("=")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ParseError("%s is not valid base64" % what)


def b64std(data):
    """Standard padded base64 text of bytes."""
    return base64.b64encode(bytes(data)).decode("ascii")


def b64url(data):
    """base64url without padding (as MAA and JOSE use it)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def hexdecode(data, what="value"):
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if not isinstance(data, str):
        raise ParseError("%s must be a hex string" % what)
    text = data.strip()
    if text.lower().startswith("0x"):
        text = text[2:]
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise ParseError("%s is not valid hex" % what)


def require(buf, offset, size, what):
    if offset < 0 or size < 0 or offset + size > len(buf):
        raise ParseError("%s: truncated (need %d bytes at offset %d, have %d)" % (what, size, offset, len(buf)))
    return bytes(buf[offset:offset + size])


def u16le(buf, off, what="u16"):
    return struct.unpack("<H", require(buf, off, 2, what))[0]


def u32le(buf, off, what="u32"):
    return struct.unpack("<I", require(buf, off, 4, what))[0]


def u64le(buf, off, what="u64"):
    return struct.unpack("<Q", require(buf, off, 8, what))[0]


def der_header(buf):
    """(tag, header length, content length) of the leading DER TLV in ``buf`` (see der.der_header)."""
    return _der_header(buf)


def der_length(buf):
    """Length of the leading DER TLV in ``buf`` (to cut zero padding)."""
    dummy, hlen, clen = der_header(buf)
    return hlen + clen


def der_integer(value):
    """Decode a DER INTEGER TLV (as used by AMD VCEK SPL extensions)."""
    tag, hlen, clen = der_header(value)
    if tag != 0x02 or clen == 0:
        raise ParseError("expected a DER INTEGER")
    return int.from_bytes(bytes(value[hlen:hlen + clen]), "big", signed=True)


def hexstr(data):
    return binascii.hexlify(bytes(data)).decode("ascii")
