"""The verifier's one exception tree.

Three kinds are kept apart (see docs/spec.md, "Errors and exit codes"):

* :class:`FormatError`: the input is malformed or cannot be decoded (CLI exit code 2).
* :class:`VerificationError`: the input is well formed but does not verify (exit code 1).
* :class:`UsageError`: the API was called wrongly; a bug in the caller, not in the input.
"""

from __future__ import annotations


class PorError(Exception):
    """Base class of every error raised on purpose by por-toolkit."""


class FormatError(PorError):
    """Input is malformed: unknown scheme or field, bad hex, bad number, wrong length."""


class VerificationError(PorError):
    """Input is well formed but a check failed: the proof, signature or sum does not hold."""


class UsageError(PorError):
    """The API was misused (a programming error in the caller, not bad input)."""
