# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error types of the attestation verifier (pure: no Ansible, no Azure SDK)."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type


class AttestationError(Exception):
    """Base class of every error raised by the attestation package.

    ``check`` names the verification step that failed (e.g. ``snp.signature``)
    so a caller can report which check rejected the evidence.
    """

    def __init__(self, message, check=None):
        super(AttestationError, self).__init__(message)
        self.message = message
        self.check = check

    def __str__(self):
        return self.message


class ParseError(AttestationError):
    """Malformed input (truncated structure, bad magic, bad encoding...)."""


class VerificationError(AttestationError):
    """Well-formed input that does not verify (bad signature, wrong nonce...)."""


class TokenError(VerificationError):
    """An attestation token (JWT) that must not be trusted."""


class PolicyError(AttestationError):
    """Invalid policy assertion (bad JMESPath expression, bad structure)."""
