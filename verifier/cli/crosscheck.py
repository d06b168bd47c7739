"""``por-verify cross-check FILE...``: no coin claimed by two exchanges for one period.

Reads the files, runs :func:`verifier.crosscheck.run`, prints the report (text or
``--json``) and exits 0 (no overlap), 1 (a wallet or output claimed twice) or 2 (a file is
malformed or of no accepted kind) through the catch point, :func:`verifier.cli.exit_for_error`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from verifier.cli.options import FILE, json_option, read_bounded, report_shown
from verifier.crosscheck import CrossCheckReport, run
from verifier.errors import FormatError

MAX_FILE_BYTES = 512 * 1024 * 1024


def _read(path: Path) -> bytes:
    return read_bounded(path, MAX_FILE_BYTES)


def parse_exchanges(specs: tuple[str, ...]) -> tuple[dict[str, str], list[Path]]:
    """``NAME=FILE,FILE`` options -> {file label: exchange}, and the files in order.

    Raises:
        FormatError: no ``=``, an empty name or file, or one file in two exchanges.
    """
    groups: dict[str, str] = {}
    paths: list[Path] = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        name = name.strip()
        if not sep or not name or not rest.strip():
            raise FormatError(f"--exchange {spec!r}: expected NAME=FILE[,FILE...]")
        for part in rest.split(","):
            if not part.strip():
                raise FormatError(f"--exchange {spec!r}: an empty file name")
            path = Path(part.strip())
            label = _label(path)
            if label in groups and groups[label] != name:
                raise FormatError(
                    f"--exchange: {path} is given for both {groups[label]!r} and {name!r}"
                )
            if label not in groups:
                paths.append(path)
            groups[label] = name
    return groups, paths


def _label(path: Path) -> str:
    """One file, however it is spelt on the command line."""
    return str(path.resolve())


def _inputs(
    files: tuple[Path, ...], grouped: list[Path], groups: dict[str, str]
) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """Each file once, labelled as first spelt; ``groups`` re-keyed by those labels."""
    shown: dict[str, str] = {}
    out = []
    for path in (*files, *grouped):
        key = _label(path)
        if key not in shown:
            shown[key] = str(path)
            out.append((str(path), _read(path)))
    return out, {shown[key]: name for key, name in groups.items()}


@click.command(name="cross-check")
@click.argument("files", type=FILE, nargs=-1)
@click.option(
    "--window-blocks",
    type=int,
    default=None,
    help="Two claims of one wallet are apart when their snapshot heights are more than this "
    "many blocks apart (default: no window). A shared UTXO always overlaps.",
)
@click.option(
    "--window-seconds",
    type=int,
    default=None,
    help="Two claims of one wallet are apart when the snapshot times their files state are "
    "more than this many seconds apart (a date, or a time without a zone, is taken as every "
    "instant it may denote). With both windows, every measure both claims state must agree.",
)
@click.option(
    "--exchange",
    "exchange_specs",
    multiple=True,
    metavar="NAME=FILE,FILE",
    help="Compare these files as one exchange (their claims are not compared with each "
    "other). Repeatable; the files need not be repeated as FILES.",
)
@click.option(
    "--trust-exchange-names",
    is_flag=True,
    help="Group our reserves files by the exchange name inside them (that name is the "
    "file's own claim: a file naming another exchange would hide its overlaps with it).",
)
@json_option()
def cross_check_cmd(
    files: tuple[Path, ...],
    window_blocks: int | None,
    window_seconds: int | None,
    exchange_specs: tuple[str, ...],
    trust_exchange_names: bool,
    as_json: bool,
) -> None:
    """Report every wallet or UTXO that two exchanges' FILES claim for overlapping snapshots.

    FILES are exchanges' reserves files (por-reserves, spec §11.1), OKX address files and
    BitMEX-style address lists (YAML or JSON); each is one exchange unless grouped with
    --exchange or --trust-exchange-names. Addresses are compared as the coins they designate
    (EVM case, bech32 case, Litecoin's 3/M P2SH forms are one coin). Exit 0 when nothing is
    claimed twice, 1 when something is, 2 when a file or option is malformed.
    """

    def check() -> CrossCheckReport:
        groups, grouped = parse_exchanges(exchange_specs)
        inputs, by_label = _inputs(files, grouped, groups)
        if not inputs:
            raise FormatError("cross-check: no FILES given")
        return run(
            inputs,
            window_blocks=window_blocks,
            window_seconds=window_seconds,
            exchanges=by_label,
            trust_exchange_names=trust_exchange_names,
        )

    report = check()
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render_text())
    report_shown()
    report.raise_for_failures()
