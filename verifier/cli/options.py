"""Options and helpers shared by ``por-verify``'s commands.

A command tells the catch point (:func:`verifier.cli.exit_for_error`) two things through
``click.Context.meta`` (shared by every context of one run): that it answers in JSON
(:func:`json_option`), and that its report is already printed (:func:`report_shown`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from verifier.errors import FormatError, UnanchoredError, UnreadableInputError

if TYPE_CHECKING:
    from verifier.signed.keys import PublicKey

F = TypeVar("F", bound=Callable[..., Any])

# The parameter types of a file and of a directory the user names, and of each when it must
# exist before the command starts.
FILE = click.Path(path_type=Path, dir_okay=False)
DIRECTORY = click.Path(path_type=Path, file_okay=False)
EXISTING_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)
EXISTING_DIRECTORY = click.Path(path_type=Path, file_okay=False, exists=True)

JSON_MODE = "verifier.cli.json"
SHOWN = "verifier.cli.shown"
REPORT, REPORT_AND_WHY = "report", "report-and-why"


def _note_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_MODE] = True
    return value


def json_option(help_text: str = "Print a machine-readable report.") -> Callable[[F], F]:
    """The ``--json`` option (parameter ``as_json``); it tells the catch point to answer
    in JSON too."""
    return click.option("--json", "as_json", is_flag=True, callback=_note_json,
                        help=help_text)


def pin_option(help_text: str) -> Callable[[F], F]:
    """The ``--pin`` option (parameter ``pinned``): a key id of the exchange that the user
    obtained out of band (spec §8.2, §12.3); read it with :func:`parse_pin`. Each command
    words its help for its own use."""
    return click.option("--pin", "pinned", help=help_text)


def parse_pin(pinned: str | None) -> str | None:
    """The key id a ``--pin`` names, as lowercase hex; None when no pin (or an empty one) is
    given. Read as :func:`parse_root_option` reads a root, on every command: 64 hex digits in
    either case, surrounding ASCII whitespace ignored, anything else refused (other
    whitespace included, such as a no-break space or a vertical tab).

    Raises:
        FormatError: anything but 64 hex digits.
    """
    return parse_root_option(pinned, "--pin").hex() if pinned else None


def witness_options(key_help: str, quorum_help: str, *, existing: bool = False
                    ) -> Callable[[F], F]:
    """The ``--witness-key`` (parameter ``witness_files``, repeatable) and
    ``--witness-quorum`` (parameter ``witness_quorum``) options, in that order (spec §14.3);
    read the keys with :func:`read_witness_keys`. With ``existing``, click refuses a key file
    that does not exist before the command runs (``por serve``, which only passes the paths
    on to its workers)."""
    key = click.option("--witness-key", "witness_files", multiple=True,
                       type=EXISTING_FILE if existing else FILE, help=key_help)
    quorum = click.option("--witness-quorum", type=click.IntRange(min=0), help=quorum_help)

    def apply(command: F) -> F:
        return key(quorum(command))

    return apply


def state_option(help_text: str) -> Callable[[F], F]:
    """The ``--state`` option (parameter ``state_file``, or ``$POR_VERIFY_LOG_STATE``): the
    verifier's memory of each exchange (spec §12.2)."""
    return click.option("--state", "state_file", type=FILE,
                        envvar="POR_VERIFY_LOG_STATE", help=help_text)


def read_witness_keys(paths: tuple[Path, ...]) -> tuple[PublicKey, ...]:
    """The public keys named by ``--witness-key``, in the order given.

    Raises:
        UnreadableInputError: a file cannot be read.
        FormatError: a file is not a por-public-key JSON.
    """
    from verifier.encoding.strictjson import loads
    from verifier.signed.keys import PublicKey

    return tuple(PublicKey.from_dict(loads(read_input(p, "witness key"), str(p)), str(p))
                 for p in paths)


def report_shown(*, with_why: bool = False) -> None:
    """Say that the command's report is printed: a failure raised after this adds only its
    one-line message in text mode (nothing with ``with_why``: the report said why), and
    nothing in JSON mode."""
    click.get_current_context().meta[SHOWN] = REPORT_AND_WHY if with_why else REPORT


def show_anchor(anchor: str | None, notes: list[str]) -> None:
    """The last lines of a proof's text report: what it was checked against, and notes."""
    click.echo(f"  checked against: {anchor or 'nothing but itself'}")
    for note in notes:
        click.echo(f"  note  {note}")


def require_anchor(anchored: bool, proof: str) -> None:
    """Fail a proof (``proof`` names it: "the proof of user 'alice'") that was checked
    against nothing published, once its report, which says why, is printed (spec §8.2).

    Raises:
        UnanchoredError: ``anchored`` is false.
    """
    if not anchored:
        report_shown(with_why=True)
        raise UnanchoredError(f"{proof} was checked against its own root only")


def read_input(path: Path, what: str) -> bytes:
    """The bytes of a file the user named.

    Raises:
        UnreadableInputError: it cannot be read.
    """
    try:
        return path.read_bytes()
    except OSError as e:
        raise UnreadableInputError(f"{path}: cannot read the {what}: {e.strerror or e}") from e


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a file the user named, refused above ``limit`` bytes (before reading).

    Raises:
        FormatError: the file cannot be read or is larger than ``limit``.
    """
    try:
        if path.stat().st_size > limit:
            raise FormatError(f"{path}: larger than {limit} bytes")
        return path.read_bytes()
    except OSError as e:
        raise FormatError(f"{path}: cannot read: {e.strerror or e}") from e


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_root_option(text: str, option: str = "--root") -> bytes:
    """A root hash typed or pasted by a person (spec §8.2): 64 hex digits in either case,
    surrounding ASCII whitespace ignored. (Files carry lowercase only.)

    Raises:
        FormatError: anything else (a truncated hash, a non-ASCII look-alike digit).
    """
    value = text.strip(" \t\r\n")
    if not _HEX64.fullmatch(value):
        raise FormatError(
            f"{option}: expected 64 hex digits, found {len(value)} characters {value[:16]!r}"
        )
    return bytes.fromhex(value)
