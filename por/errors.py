"""Errors of the exchange side; they extend the verifier's tree so the CLI maps them alike."""

from __future__ import annotations

from verifier.errors import FormatError, PorError, UsageError, VerificationError

__all__ = ["FormatError", "InputError", "PorError", "UsageError", "VerificationError"]


class InputError(FormatError):
    """An input file (snapshot, asset list, secret) is unusable; the message names where."""
