# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Length-exact DER and linear PEM helpers (stdlib only, Python 3.8+; also used on the guest).

Public API (all raise ParseError on bad input, never anything else):

* ``der_header(buf, offset=0) -> (tag, header_len, content_len)``: one DER TLV header, definite lengths only.
* ``der_cut(blob, what="certificate", max_size=None) -> bytes``: the leading DER SEQUENCE, cut at its exact
  length; whatever follows must be zero padding (the vTPM AK-certificate NV blob is zero padded to 4096 B).
* ``der_children(content, what) -> [(tag, bytes)]``: the TLVs of a constructed value's content.
* ``der_oid(content) -> str``: dotted form of an OBJECT IDENTIFIER's content bytes.
* ``split_pem(text, label="CERTIFICATE", what=..., max_blocks=MAX_CERTS_PER_INPUT) -> [str]``: the base64 bodies of
  the ``-----BEGIN <label>-----`` blocks, found with one left-to-right scan (no regex): text outside blocks is
  ignored, an unterminated or nested block and more than ``max_blocks`` blocks are errors.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

from .errors import ParseError
from .limits import MAX_CERTS_PER_INPUT, MAX_PEM_TEXT


def der_header(buf, offset=0):
    """(tag, header length, content length) of the DER TLV at ``offset``; the value must fit in ``buf``."""
    avail = len(buf) - offset
    if offset < 0 or avail < 2:
        raise ParseError("DER: truncated")
    tag = buf[offset]
    if tag & 0x1F == 0x1F:
        raise ParseError("DER: multi-byte tags are not supported")
    first = buf[offset + 1]
    if first < 0x80:
        hlen, clen = 2, first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or avail < 2 + n:
            raise ParseError("DER: unsupported length encoding")
        hlen, clen = 2 + n, int.from_bytes(bytes(buf[offset + 2:offset + 2 + n]), "big")
        if clen < 0x80 or buf[offset + 2] == 0:
            raise ParseError("DER: non-minimal length encoding")
    if hlen + clen > avail:
        raise ParseError("DER: truncated (need %d bytes, have %d)" % (hlen + clen, avail))
    return tag, hlen, clen


def der_cut(blob, what="certificate", max_size=None):
    """The leading DER SEQUENCE of ``blob`` at its exact length; the rest must be zero bytes."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise ParseError("%s must be bytes" % what)
    blob = bytes(blob)
    if max_size is not None and len(blob) > max_size:
        raise ParseError("%s is too large (%d bytes, limit %d)" % (what, len(blob), max_size))
    if not blob or blob[0] != 0x30:
        raise ParseError("%s is not a DER SEQUENCE" % what)
    try:
        dummy, hlen, clen = der_header(blob)
    except ParseError as exc:
        raise ParseError("%s: %s" % (what, exc))
    end = hlen + clen
    if blob[end:].strip(b"\0"):
        raise ParseError("%s: %d bytes after the DER value are not zero padding" % (what, len(blob) - end))
    return blob[:end]


def der_children(content, what="DER value", max_items=64):
    """[(tag, content bytes)] of the TLVs that make up ``content`` (exactly, no trailing bytes)."""
    out = []
    off = 0
    content = bytes(content)
    while off < len(content):
        if len(out) >= max_items:
            raise ParseError("%s: too many elements" % what)
        try:
            tag, hlen, clen = der_header(content, off)
        except ParseError as exc:
            raise ParseError("%s: %s" % (what, exc))
        out.append((tag, content[off + hlen:off + hlen + clen]))
        off += hlen + clen
    return out


def der_value(buf, what="DER value"):
    """(tag, content) of a buffer that holds exactly one TLV."""
    buf = bytes(buf)
    tag, hlen, clen = der_header(buf)
    if hlen + clen != len(buf):
        raise ParseError("%s: trailing bytes after the DER value" % what)
    return tag, buf[hlen:]


def der_oid(content):
    """Dotted string of an OBJECT IDENTIFIER's content bytes."""
    content = bytes(content)
    if not content or content[-1] & 0x80 or len(content) > 64:
        raise ParseError("DER: malformed OBJECT IDENTIFIER")
    arcs = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first] + arcs[1:])


def der_uint(content, what="INTEGER"):
    """Non-negative INTEGER content bytes -> int."""
    content = bytes(content)
    if not content or len(content) > 16 or content[0] & 0x80:
        raise ParseError("DER: %s is not a small non-negative INTEGER" % what)
    return int.from_bytes(content, "big")


def split_pem(text, label="CERTIFICATE", what="PEM text", max_blocks=MAX_CERTS_PER_INPUT, max_size=MAX_PEM_TEXT):
    """Base64 bodies of the PEM blocks of ``label`` in ``text``, in one linear scan (no regex)."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("ascii", "replace")
    if not isinstance(text, str):
        raise ParseError("%s must be a PEM string" % what)
    if len(text) > max_size:
        raise ParseError("%s is too large (%d characters, limit %d)" % (what, len(text), max_size))
    begin = "-----BEGIN %s-----" % label
    end = "-----END %s-----" % label
    bodies = []
    pos = 0
    while True:
        start = text.find(begin, pos)
        if start < 0:
            break
        if len(bodies) >= max_blocks:
            raise ParseError("%s: more than %d certificates" % (what, max_blocks))
        body_start = start + len(begin)
        stop = text.find(end, body_start)
        if stop < 0:
            raise ParseError("%s: '%s' without a matching '%s'" % (what, begin, end))
        # a second BEGIN before the END means a broken or nested block: refuse rather than guess
        if text.find("-----BEGIN", body_start, stop) >= 0:
            raise ParseError("%s: '%s' inside another PEM block" % (what, begin))
        bodies.append(text[body_start:stop])
        pos = stop + len(end)
    if not bodies:
        raise ParseError("%s: no PEM %s found" % (what, label.lower()))
    return bodies
