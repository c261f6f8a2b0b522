"""One exception for every refusal of the oracle: ``check`` names the rule, the message says what failed."""
from __future__ import annotations


class EvidenceError(Exception):
    def __init__(self, check: str, message: str):
        super().__init__(message)
        self.check = check
