"""The verifier's one exception tree.

Three kinds are kept apart (see docs/spec.md, "Errors and exit codes"):

* :class:`FormatError`: the input is malformed or cannot be decoded (CLI exit code 2).
* :class:`VerificationError`: the input is well formed but does not verify (exit code 1).
* :class:`UsageError`: the API or the command line was misused (exit code 2).

The typed subclasses name the kinds a user meets (tuf's ``ExpiredMetadataError`` habit), so
callers test a class, never the text of a message; each keeps its parent's exit code. The
CLIs turn them into a message and an exit code in one function each
(``verifier.cli.exit_for_error``, ``por.cli``'s catch point).
"""

from __future__ import annotations


class PorError(Exception):
    """Base class of every error raised on purpose by por-toolkit."""


class FormatError(PorError):
    """Input is malformed: unknown scheme or field, bad hex, bad number, wrong length."""


class UnreadableInputError(FormatError):
    """A file or directory the user named cannot be read (missing, unreadable, not UTF-8)."""


class VerificationError(PorError):
    """Input is well formed but a check failed: the proof, signature or sum does not hold."""


class CheckFailedError(VerificationError):
    """A report's checks failed (``raise_for_failures``); the report lists every finding."""


class UnanchoredError(VerificationError):
    """Nothing published anchors the input (no pinned key, no published root): it is
    consistent with itself only, which anyone can fabricate (spec §8.2, §13)."""


class StaleError(VerificationError):
    """The input is older than allowed, or older than what this verifier already saw
    (freeze and rollback, spec §12.2)."""


class UsageError(PorError):
    """The API or the command line was misused: contradictory or misplaced options, or a
    programming error in the caller (exit code 2, not a fault of the input)."""


#: Exit codes of both command lines (docs/spec.md §9): 0 verified, 1 a check failed on
#: well-formed input, 2 the input is not well formed or the command was misused.
EXIT_FAILED = 1
EXIT_MALFORMED = 2


def exit_code(err: PorError) -> int:
    """The exit code of ``err``'s kind: 1 for a failed check, 2 for everything else."""
    return EXIT_FAILED if isinstance(err, VerificationError) else EXIT_MALFORMED
