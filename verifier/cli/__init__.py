"""``por-verify``: the command line of users and auditors.

:func:`exit_for_error`, called by the group's ``invoke``, is the one place where the
package's errors become messages and exit codes: 0 verified, 1 verification failed, 2
unusable input or misuse (sigstore's ``_cli.py`` habit). Commands raise; they never exit.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any, NoReturn

import click

from verifier import __version__
from verifier.cli.lazy import LazyGroup
from verifier.cli.options import JSON_MODE, REPORT_AND_WHY, SHOWN
from verifier.errors import FormatError, PorError, UnanchoredError, VerificationError, exit_code


def verdict_word(err: PorError) -> str:
    """The word a failure of ``err``'s kind is printed under."""
    if isinstance(err, UnanchoredError):
        return "UNANCHORED"
    if isinstance(err, VerificationError):
        return "FAILED"
    if isinstance(err, FormatError):
        return "MALFORMED"
    return "ERROR"


def exit_for_error(err: PorError, meta: dict[str, Any], *, verbose: bool) -> NoReturn:
    """The one place where an error of the package becomes a message and an exit code.

    In text mode the message is one line on stderr, ``WORD: message``; in ``--json`` mode
    it is a JSON verdict on stdout, unless the command's JSON report is already printed
    (the report is then the output). ``--verbose`` adds the traceback. The exit code is
    the kind's (:func:`verifier.errors.exit_code`): 1 failed, 2 malformed or misused.
    """
    word, shown = verdict_word(err), meta.get(SHOWN)
    if meta.get(JSON_MODE):
        if shown is None:
            click.echo(json.dumps({"verdict": word, "ok": False, "error": str(err)}, indent=2))
    elif shown != REPORT_AND_WHY:
        click.echo(f"{word}: {err}", err=True)
    if verbose:
        click.echo("".join(traceback.format_exception(err)), err=True, nl=False)
    sys.exit(exit_code(err))


class _Main(LazyGroup):
    """The ``por-verify`` group: its :meth:`invoke` is the catch point."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PorError as err:
            exit_for_error(err, ctx.meta, verbose=bool(ctx.params.get("verbose")))


# Subcommands, imported only when run (verifier/cli/lazy.py): name → ("module:attr", help
# line that ``--help`` lists). One line per command.
COMMANDS: dict[str, tuple[str, str]] = {
    "proof": ("verifier.cli.liabilities:proof_cmd", "Verify a user's inclusion proof PROOF_FILE."),
    "liabilities": ("verifier.cli.liabilities:liabilities_cmd",
                    "Recompute a whole round from its tree file (the auditor's check)."),
    "foreign": ("verifier.cli.foreign:foreign_group",
                "Check other exchanges' Merkle liability proofs with their own published rules."),
    "log": ("verifier.cli.log:log_group",
            "Check that a signed tree head only extends the log's history (RFC 9162)."),
    "reserves": ("verifier.cli.reserves:reserves_cmd", "Check every signature and re-read every "
                 "balance of RESERVES_FILE at its snapshot."),
    "bundle": ("verifier.cli.bundle:bundle_cmd", "Check a published round's bundle BUNDLE_DIR: "
               "signatures and key ids, every solvency figure, the liabilities root, the "
               "reserves (re-read with --rpc), the log inclusion and consistency with the last "
               "tree head seen, and your own proof (--proof)."),
    "cross-check": ("verifier.cli.crosscheck:cross_check_cmd", "Report every wallet or UTXO "
                    "that two exchanges' FILES claim for overlapping snapshots."),
}


@click.group(cls=_Main, lazy_commands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="por-verify")
@click.option("--verbose", is_flag=True, help="On an error, print its traceback too.")
def main(verbose: bool) -> None:
    """Verify proof-of-reserves artifacts, failing closed.

    Exit codes (docs/spec.md §9, every command): 0 verified; 1 the input is well formed
    and a check failed (including UNANCHORED: nothing published to check against);
    2 the input is not well formed or not usable.
    """
