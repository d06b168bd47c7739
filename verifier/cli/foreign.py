"""``por-verify foreign FORMAT FILE``: other exchanges' Merkle proofs, checked by their rules.

Owns the ``foreign`` command group: reading files, choosing the verifier, printing the
report (text or ``--json``), and the exit code (0 verified, 1 failed, 2 malformed or
unsupported) through the catch point, :func:`verifier.cli.exit_for_error`.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

import click

from verifier.cli.options import FILE, json_option, read_bounded, report_shown
from verifier.errors import FormatError
from verifier.foreign import binance, bitget, bitmex, bybit, coinex, gateio, mexc, okx
from verifier.foreign.detect import OKX_V2_TREE, Detection, detect
from verifier.foreign.report import ForeignReport

FORMATS = (
    "okx-v1",
    "okx-v2",
    "bybit",
    "bitget",
    "mexc",
    "coinex",
    "coinex-variant-single-hash",
    *binance.FORMATS,
    *gateio.FORMATS,
)
# A proof file is small; an OKX v2 full tree can be large, but not beyond this.
MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024


def read_file(path: Path) -> bytes:
    """Read ``path`` whole.

    Raises:
        FormatError: the file cannot be read or is too large.
    """
    return read_bounded(path, MAX_FILE_BYTES)


def verify_files(fmt: str, paths: list[Path]) -> ForeignReport:
    """Parse and check ``paths`` as ``fmt``; the library entry point behind every command.

    Raises:
        FormatError: wrong number of files, unknown format, or a malformed file.
    """
    if fmt not in FORMATS:
        raise FormatError(f"unknown FORMAT {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "okx-v2":
        if not 1 <= len(paths) <= 2:
            raise FormatError("okx-v2 takes the user info file and optionally the tree file")
        user = okx.parse_v2_user(read_file(paths[0]), str(paths[0]))
        tree = okx.parse_v2_tree(read_file(paths[1]), str(paths[1])) if len(paths) == 2 else None
        return okx.verify_v2(user, tree)
    if len(paths) != 1:
        raise FormatError(f"{fmt} takes exactly one file, got {len(paths)}")
    data, where = read_file(paths[0]), str(paths[0])
    if fmt == "okx-v1":
        return okx.verify_v1(okx.parse_v1(data, where))
    if fmt == "bybit":
        return bybit.verify(bybit.parse(data, where))
    if fmt == "bitget":
        return bitget.verify(bitget.parse(data, where))
    if fmt == "mexc":
        return mexc.verify(mexc.parse(data, where))
    for layout in binance.FORMATS:
        if fmt == layout:
            return binance.verify(binance.parse(data, where, layout))
    if fmt in ("gateio", "gateio-350"):
        gate_layout: gateio.Layout = "gateio" if fmt == "gateio" else "gateio-350"
        return gateio.verify(gateio.parse(data, where, gate_layout))
    variant: coinex.Variant = "published" if fmt == "coinex" else "single-hash"
    return coinex.verify(coinex.parse(data, where), variant)


def detect_files(paths: list[Path]) -> tuple[str, list[Path], list[Detection]]:
    """Recognise the format of ``paths`` (one file, or OKX v2 user info + tree in any order).

    Returns:
        the FORMAT, the paths in the order that format takes them, and each file's detection.

    Raises:
        FormatError: an unsupported file, or files that do not belong together.
    """
    found = [detect(read_file(p), str(p)) for p in paths]
    kinds = [d.format for d in found]
    if len(paths) == 1:
        if kinds[0] == OKX_V2_TREE:
            raise FormatError(
                f"{paths[0]}: an OKX v2 full tree file; give the user info file first: "
                "por-verify foreign okx-v2 USER_INFO TREE"
            )
        return kinds[0], paths, found
    if sorted(kinds) == sorted(["okx-v2", OKX_V2_TREE]):
        ordered = sorted(zip(kinds, paths, strict=True), key=lambda kp: kp[0] == OKX_V2_TREE)
        return "okx-v2", [p for _, p in ordered], found
    raise FormatError(
        "two files are accepted only as an OKX v2 user info file and its tree file; got "
        + ", ".join(f"{p} ({k})" for p, k in zip(paths, kinds, strict=True))
    )


def _emit(report: ForeignReport, as_json: bool, auto: list[Detection] | None = None) -> None:
    """Print ``report``, then raise if it failed.

    Raises:
        VerificationError: the report failed (exit 1).
    """
    if as_json:
        out = report.to_dict()
        if auto is not None:
            out["auto"] = [{"format": d.format, "reason": d.reason} for d in auto]
        click.echo(json.dumps(out, indent=2))
    else:
        if auto is not None:
            for d in auto:
                click.echo(f"auto: recognised {d.format} ({d.reason})")
        click.echo(report.render_text())
    report_shown()
    report.raise_for_failures()


def _run(fmt: str, files: tuple[Path, ...], as_json: bool, strict: bool) -> None:
    report: ForeignReport = verify_files(fmt, list(files))
    report.strict = strict
    _emit(report, as_json)


def _options(f: Callable[..., None]) -> Callable[..., None]:
    f = json_option()(f)
    return click.option(
        "--strict", is_flag=True, help="Fail on warnings too (e.g. negative balances)."
    )(f)


@click.group(name="foreign")
def foreign_group() -> None:
    """Check other exchanges' Merkle liability proofs with their own published rules.

    Each FORMAT reproduces that exchange's verifier exactly, then reports what a pass
    proves, what it does not, and the weaknesses of the format as published.
    Exit codes: 0 verified, 1 failed, 2 malformed or unsupported input.
    """


def _single(fmt: str, help_text: str) -> None:
    @foreign_group.command(name=fmt, help=help_text)
    @click.argument("file", type=FILE)
    @_options
    def command(file: Path, as_json: bool, strict: bool) -> None:
        _run(fmt, (file,), as_json, strict)


_single("okx-v1", "OKX Merkle proof v1 (merkle_proof_file.json: self + path).")
_single("bybit", "Bybit Merkle proof (self + path, ~40 assets).")
_single("bitget", "Bitget merkel_tree_bg.json (2022 numeric or 2025 string layout).")
_single("mexc", "MEXC merkle_proof.json (pathList + self).")
_single("coinex", "CoinEx merkle_proof_file.json, with CoinEx's published main.go rule.")
_single("binance", "Binance zkmerkle user_config.json (Poseidon path; leaf layout of 2024-09 on).")
_single("binance-v1", "Binance zkmerkle user_config.json, 2023-04..2024-09 layout (no collateral).")
_single(
    "binance-350x5",
    "Binance zkmerkle user_config.json in the layout of Binance's published sample (350 dense "
    "assets, 12-input Poseidon chaining): recovered from the sample, not Binance's code.",
)
_single("gateio", "Gate.io zk user_config.json (Poseidon path; 800 assets, proofs from 2025-07).")
_single("gateio-350", "Gate.io zk user_config.json, 350-asset layout (proofs 2023-10..2025-06).")
_single(
    "coinex-variant-single-hash",
    "CoinEx proof with empty path entries hashed once: NOT CoinEx's published rule, "
    "the variant that reproduces CoinEx's example root.",
)


@foreign_group.command(name="okx-v2")
@click.argument("user_info", type=FILE)
@click.argument("tree", type=FILE, required=False)
@_options
def okx_v2_command(user_info: Path, tree: Path | None, as_json: bool, strict: bool) -> None:
    """OKX Merkle v2: USER_INFO file, and optionally the full liabilities TREE file."""
    _run("okx-v2", (user_info,) if tree is None else (user_info, tree), as_json, strict)


@foreign_group.command(name="auto")
@click.argument("files", type=FILE, nargs=-1, required=True)
@_options
def auto_command(files: tuple[Path, ...], as_json: bool, strict: bool) -> None:
    """Recognise the format of FILES, say which it is, and check it."""

    def check() -> tuple[ForeignReport, list[Detection]]:
        fmt, ordered, found = detect_files(list(files))
        return verify_files(fmt, ordered), found

    report, found = check()
    report.strict = strict
    _emit(report, as_json, auto=found)


NONCE_ENV = "POR_FOREIGN_NONCE"
MAX_NONCE_FILE_BYTES = 1024


def read_nonce(nonce_file: Path | None, environ: Mapping[str, str]) -> bytes:
    """The user's private nonce: from a file only its owner can read, or ``$POR_FOREIGN_NONCE``.

    Never from the command line (other local users see it there, and shells keep it).

    Raises:
        FormatError: neither or both given, the file is readable by group or others, or the
            content is not 64 hex digits. Messages never contain the nonce.
    """
    from_env = environ.get(NONCE_ENV)
    if nonce_file is not None and from_env:
        raise FormatError(f"give the nonce once: --nonce-file or ${NONCE_ENV}, not both")
    if nonce_file is None:
        if not from_env:
            raise FormatError(
                f"the nonce is needed: --nonce-file FILE (mode 600) or ${NONCE_ENV}; it is "
                "never taken on the command line"
            )
        return bitmex.parse_nonce(from_env, f"${NONCE_ENV}")
    where = f"--nonce-file {nonce_file}"
    try:
        info = nonce_file.stat()
        if not stat.S_ISREG(info.st_mode):
            raise FormatError(f"{where}: not a regular file")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise FormatError(
                f"{where}: mode {stat.S_IMODE(info.st_mode):04o} lets other users read it; "
                f"run: chmod 600 {nonce_file}"
            )
        with nonce_file.open("rb") as handle:
            data = handle.read(MAX_NONCE_FILE_BYTES + 1)
    except OSError as e:
        raise FormatError(f"{where}: cannot read: {e.strerror or e}") from e
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        raise FormatError(f"{where}: not ASCII text") from e
    return bitmex.parse_nonce(text, where)


@foreign_group.command(name="bitmex")
@click.argument("tree", type=FILE)
@click.option("--account", type=int, required=True, help="Your BitMEX account number.")
@click.option(
    "--nonce-file",
    type=FILE,
    help=f"File (mode 600) holding your nonce, 64 hex digits; else ${NONCE_ENV}.",
)
@click.option(
    "--account-nonce",
    is_flag=True,
    help="The nonce is your account's lifetime nonce (BitMEX's --account_nonce), not the "
    "per-proof one.",
)
@click.option("--expect-sats", type=int, help="The balance you had at the snapshot, in sats.")
@click.option("--root", "expect_root", help="The root hash BitMEX published for this snapshot.")
@_options
def bitmex_command(
    tree: Path,
    account: int,
    nonce_file: Path | None,
    account_nonce: bool,
    expect_sats: int | None,
    expect_root: str | None,
    as_json: bool,
    strict: bool,
) -> None:
    """BitMEX liabilities TREE: recompute every node and find your leaves.

    The nonce is read from --nonce-file or $POR_FOREIGN_NONCE, never from the command line.
    """

    def check() -> ForeignReport:
        nonce = read_nonce(nonce_file, os.environ)
        parsed = bitmex.parse_tree(read_file(tree), str(tree))
        return bitmex.verify(
            parsed,
            account,
            nonce,
            account_nonce=account_nonce,
            expect_sats=expect_sats,
            expect_root=expect_root,
        )

    report: ForeignReport = check()
    report.strict = strict
    _emit(report, as_json)


@foreign_group.command("okx-addresses")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option("Print the report as JSON.")
def okx_addresses_cmd(file: Path, as_json: bool) -> None:
    """Check the ownership signatures of an OKX proof-of-reserves address file.

    Exit 0 only if every row verified; rows of chains without a rule here are "unchecked"
    and fail the file (fail closed). Exit 1 when a row failed or was unchecked, 2 when the
    file or a row cannot be decoded.
    """
    # Imported here: its signature checks need the [reserves] extra, the other formats not.
    from verifier.foreign.okx_addresses import check_okx_address_file

    report = check_okx_address_file(read_file(file))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"OKX address file, {report.layout}")
        for row in report.rows:
            click.echo(f"  line {row.line:>3} {row.verdict.upper():<9} {row.chain:<9} "
                       f"{row.address} [{row.rule}] {row.reason}")
        counts = ", ".join(f"{n} {verdict}" for verdict, n in report.counts.items())
        click.echo(f"rows: {counts}")
        for weakness in report.weaknesses:
            click.echo(f"weakness: {weakness}")
        if report.ok:
            click.echo("VERIFIED: every row's signature verified")
    report_shown()
    report.raise_for_failures()
