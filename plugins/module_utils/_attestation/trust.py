# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trust store: the pinned built-in anchors plus caller-supplied extra roots."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

from . import anchors
from .certs import (CRYPTOGRAPHY_MIN_VERSION, cryptography_recent_enough, fingerprint, is_self_signed, load_any,
                    load_pem_chain)
from .errors import AttestationError, ParseError

_BUILTIN = {}


def _builtin(table_name):
    """Load a pinned table once; refuse it if a PEM does not match its fingerprint."""
    if table_name not in _BUILTIN:
        loaded = []
        for name, ent in getattr(anchors, table_name).items():
            try:
                cert = load_pem_chain("".join(ent["pem"]) if isinstance(ent["pem"], (tuple, list)) else ent["pem"])[0]
            except ParseError as exc:
                hint = "" if cryptography_recent_enough() else " (cryptography >= %d.%d is required)" % CRYPTOGRAPHY_MIN_VERSION
                raise AttestationError("pinned anchor %s cannot be loaded: %s%s" % (name, exc, hint), check="trust.anchors")
            if fingerprint(cert) != ent["sha256"]:
                raise AttestationError("pinned anchor %s does not match its fingerprint" % name, check="trust.anchors")
            loaded.append((name, cert))
        _BUILTIN[table_name] = loaded
    return list(_BUILTIN[table_name])


def _extra(pems, what):
    out = []
    for i, pem in enumerate(pems or []):
        for cert in load_any(pem, "%s[%d]" % (what, i)):
            out.append(("%s[%d]" % (what, i), cert))
    return out


class TrustStore(object):
    """Roots and intermediates used to verify evidence.

    ``amd_arks`` / ``intel_roots`` / ``vtpm_roots`` are anchors (trusted by pinning);
    ``amd_asks`` and ``ak_intermediates`` are only path-building helpers (verified up to an anchor).
    """

    def __init__(self, extra_amd_roots=None, extra_intel_roots=None, extra_vtpm_roots=None,
                 ak_intermediates=None, builtin=True):
        self.amd_arks = []
        self.amd_asks = []
        self.intel_roots = []
        self.vtpm_roots = []
        self.ak_intermediates = []
        if builtin:
            self.amd_arks = _builtin("AMD_ARKS")
            self.amd_asks = _builtin("AMD_ASKS")
            self.intel_roots = _builtin("INTEL_SGX_ROOTS")
            self.vtpm_roots = _builtin("AZURE_VTPM_ROOTS")
            self.ak_intermediates = _builtin("AZURE_VTPM_INTERMEDIATES")
        # An extra AMD "root" may be given as a chain (ARK + ASK): self-signed ones are
        # anchors, the others are ASK candidates.
        for name, cert in _extra(extra_amd_roots, "extra_amd_roots"):
            if is_self_signed(cert):
                self.amd_arks.append((name, cert))
            else:
                self.amd_asks.append((name, cert))
        self.intel_roots += _extra(extra_intel_roots, "extra_intel_roots")
        self.vtpm_roots += _extra(extra_vtpm_roots, "extra_vtpm_roots")
        self.ak_intermediates += _extra(ak_intermediates, "ak_intermediates")

    @classmethod
    def from_dict(cls, trust):
        trust = trust or {}
        if not isinstance(trust, dict):
            raise ParseError("trust must be a dict")
        unknown = set(trust) - set(["extra_amd_roots", "extra_intel_roots", "extra_vtpm_roots", "ak_intermediates", "builtin"])
        if unknown:
            raise ParseError("trust: unknown keys %s" % ", ".join(sorted(unknown)))
        lists = {}
        for key in ("extra_amd_roots", "extra_intel_roots", "extra_vtpm_roots", "ak_intermediates"):
            val = trust.get(key) or []
            if isinstance(val, str):
                val = [val]
            lists[key] = val
        return cls(builtin=trust.get("builtin", True) is not False, **lists)
