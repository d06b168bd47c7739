"""``por-verify``: the command line of users and auditors.

This is the one place where the package's errors become messages and exit codes:
0 verified, 1 verification failed, 2 unusable input (sigstore's ``_cli.py`` habit).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from verifier import __version__
from verifier.cli.lazy import LazyGroup
from verifier.errors import FormatError, PorError, VerificationError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_MALFORMED = 2


def fail(err: PorError, *, as_json: bool) -> NoReturn:
    """Print ``err`` as the CLI's verdict and exit with the code of its kind."""
    if isinstance(err, VerificationError):
        code, verdict = EXIT_FAILED, "FAILED"
    elif isinstance(err, FormatError):
        code, verdict = EXIT_MALFORMED, "MALFORMED"
    else:
        code, verdict = EXIT_MALFORMED, "ERROR"
    if as_json:
        click.echo(json.dumps({"verdict": verdict, "ok": False, "error": str(err)}, indent=2))
    else:
        click.echo(f"{verdict}: {err}", err=True)
    sys.exit(code)


def run_check(as_json: bool, check: Callable[[], Any]) -> Any:
    """Run ``check`` and turn any por-toolkit error into the CLI's verdict and exit code."""
    try:
        return check()
    except PorError as err:
        fail(err, as_json=as_json)


# Subcommands, imported only when run (verifier/cli/lazy.py): name → ("module:attr", help
# line that ``--help`` lists). One line per command.
COMMANDS: dict[str, tuple[str, str]] = {
    "proof": ("verifier.cli.liabilities:proof_cmd", "Verify a user's inclusion proof PROOF_FILE."),
    "liabilities": ("verifier.cli.liabilities:liabilities_cmd",
                    "Recompute a whole round from its tree file (the auditor's check)."),
    "foreign": ("verifier.cli.foreign:foreign_group",
                "Check other exchanges' Merkle liability proofs with their own published rules."),
    "log": ("verifier.cli:log_group",
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


@click.group(cls=LazyGroup, lazy_commands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="por-verify")
def main() -> None:
    """Verify proof-of-reserves artifacts, failing closed.

    Exit codes (docs/spec.md §9, every command): 0 verified; 1 the input is well formed
    and a check failed (including UNANCHORED: nothing published to check against);
    2 the input is not well formed or not usable.
    """


class _LogGroup(click.Group):
    """``por-verify log``: the log check itself, unless the first word names a subcommand
    (``por-verify log witness ...``, spec §14.2)."""

    def __init__(self, default: click.Command, *subcommands: click.Command) -> None:
        super().__init__(name=default.name, help=default.help,
                         context_settings={"help_option_names": ["-h", "--help"]})
        self.add_command(default, name="check")
        for command in subcommands:
            self.add_command(command)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["check", *args]
        return super().parse_args(ctx, args)


def log_group() -> click.Command:
    """``por-verify log``, with ``log witness`` beside the default check."""
    from verifier.cli.log import log_cmd, witness_cmd

    return _LogGroup(log_cmd, witness_cmd)
