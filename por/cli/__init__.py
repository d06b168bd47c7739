"""``por``: the operator's command line (exchange side).

Errors become messages and exit codes in one place, :func:`exit_for_error`, called by the
group's ``invoke``: 1 verification failed, 2 bad input or misuse. Commands raise; they never
exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from por import __version__
from por.errors import FormatError, PorError, VerificationError
from verifier.cli.lazy import LazyGroup
from verifier.cli.options import DIRECTORY, FILE
from verifier.errors import exit_code
from verifier.liabilities.rounddir import LEGACY_SECRET_FILE, root_path, tree_path

err_console = Console(stderr=True)


class RichProgress:
    """The builder's progress sink drawn as a rich progress bar on stderr."""

    def __init__(self, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TimeElapsedColumn(),
            console=err_console,
            disable=not enabled,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def start(self, stage: str, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total)
        self._task = self._progress.add_task(stage, total=total)

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, done)


def exit_for_error(err: PorError, *, verbose: bool) -> NoReturn:
    """The one place where an error of the package becomes a message and an exit code:
    ``FAILED: ...`` and 1 for a failed check, ``ERROR: ...`` and 2 for unusable input or
    misuse (:func:`verifier.errors.exit_code`); ``--verbose`` adds the traceback."""
    word = "FAILED" if isinstance(err, VerificationError) else "ERROR"
    err_console.print(f"[red]{word}[/red]: {escape(str(err))}", highlight=False, soft_wrap=True)
    if verbose:
        click.echo("".join(traceback.format_exception(err)), err=True, nl=False)
    sys.exit(exit_code(err))


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM ignored while a built round is reported: the round is complete and
    in place, and a signal then would only hide that. The previous handlers come back after.
    (Outside the main thread, where no handler can be set, nothing is held.)"""
    held = {}
    if threading.current_thread() is threading.main_thread():
        held = {n: signal.signal(n, signal.SIG_IGN) for n in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for n, old in held.items():
            signal.signal(n, old)


def exit_for_interrupt(signum: int) -> NoReturn:
    """SIGINT, or SIGTERM/SIGHUP turned into ``KeyboardInterrupt`` by
    :func:`por.liabilities.build.stop_on_signals`: by now the partial output is removed and
    the workers are stopped. Exit 128 + the signal's number, as a shell does."""
    err_console.print(f"[red]interrupted[/red] (signal {signum}): nothing partial was"
                      " left behind", highlight=False, soft_wrap=True)
    sys.exit(128 + signum)


# Subcommands defined in other modules, imported only when run (verifier/cli/lazy.py):
# name → ("module:attr", help line that ``--help`` lists). One line per command.
COMMANDS: dict[str, tuple[str, str]] = {
    "reserves": ("por.cli.reserves:reserves_group", "The reserves side: wallets, signatures "
                 "over the round, balances at the snapshot."),
    "keys": ("por.cli.keys:keys_group",
             "Ed25519 signing keys, the published key list, and rotation."),
    "round": ("por.cli.attest:round_group", "Rounds in the store."),
    "attest": ("por.cli.attest:attest_group",
               "Sign a round's attestation (exchange) and co-sign it (auditors)."),
    "publish": ("por.cli.attest:publish_cmd", "Append ROUND_ID's attestation to the transparency "
                "log, sign the tree head and write the public bundle."),
    "serve": ("por.cli.serve:serve_cmd",
              "Serve the public proof-of-reserves page and the JSON API under /api/v1/."),
    "tokens": ("por.cli.serve:tokens_group",
               "Proof tokens: the code each user gets to fetch their own proof from the page."),
    "witness": ("por.cli.witness:witness_group",
                "Witnesses' co-signatures of the log's tree heads (docs/spec.md §14)."),
}


class _Main(LazyGroup):
    """The ``por`` group: its :meth:`invoke` is the catch point; it refuses a database
    password on the command line, for every subcommand that takes ``--db`` (the value is
    redacted in the message)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PorError as err:
            exit_for_error(err, verbose=bool(ctx.params.get("verbose")))
        except KeyboardInterrupt as e:
            exit_for_interrupt(getattr(e, "signum", signal.SIGINT))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for i, arg in enumerate(args):
            value = (args[i + 1] if arg == "--db" and i + 1 < len(args)
                     else arg[len("--db="):] if arg.startswith("--db=") else None)
            if value is not None:
                # Imported here: the store's libraries (the [exchange] extra) only when a
                # --db is given, so that `por --help` stays light (issue 12).
                from por.store.db import refuse_password_on_argv

                try:
                    refuse_password_on_argv(value)
                except PorError as e:
                    # Before click parses (and could echo) anything: to the catch point now.
                    exit_for_error(e, verbose="--verbose" in args)
        return super().parse_args(ctx, args)


@click.group(cls=_Main, lazy_commands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="por")
@click.option("--verbose", is_flag=True, help="On an error, print its traceback too.")
def main(verbose: bool) -> None:
    """Operate a proof-of-reserves round: build the liabilities tree, hand out proofs."""


# Subcommands of `por liabilities` defined in other modules, loaded when run (as COMMANDS).
LIABILITIES_COMMANDS: dict[str, tuple[str, str]] = {
    "import-ledger": ("por.cli.margin:import_ledger_cmd",
                      "Convert LEDGER into a margin round's snapshot, asset list and risk file."),
    "build-private": ("por.cli.private:build_private_cmd", "Build a private round (spec §16) "
                      "from SNAPSHOT: proofs hide every other balance."),
    "prove-private": ("por.cli.private:prove_private_cmd",
                      "Write USER_ID's private proof of the round in ROUND_DIR (spec §16.8)."),
}


@main.group(cls=LazyGroup, lazy_commands=LIABILITIES_COMMANDS)
def liabilities() -> None:
    """The liabilities side: the Merkle-sum tree of every user's balances."""


def _secret_path(out: Path, secret_file: Path | None, round_id: str | None) -> Path:
    """The round secret's file: --secret-file, else $POR_ROUND_SECRET_FILE, else the round's
    file in the private secrets directory (``~/.local/share/por/secrets/ROUND.key``)."""
    from por.liabilities.secret import default_secret_path

    env = os.environ.get("POR_ROUND_SECRET_FILE")
    if secret_file or env:
        return secret_file or Path(str(env))
    if round_id is None:  # no root.json to name the round: the legacy place, for the message
        return out / LEGACY_SECRET_FILE
    return default_secret_path(round_id)


def _secret_for_build(out: Path, secret_file: Path | None, round_id: str
                      ) -> tuple[bytes, Path, bool]:
    """The secret to build with, its file, and whether that file is still to be written
    (only once the build succeeds: a failed build leaves no secret behind)."""
    from por.liabilities.secret import load_secret, new_secret

    path = _secret_path(out, secret_file, round_id)
    inside = path.absolute().resolve()
    if inside.is_relative_to(out.absolute().resolve()):
        # The round's directory is handed to `por serve --rounds`: whoever reads what is
        # served would get every salt.
        raise FormatError(f"{path}: the round secret must not lie in the round's directory"
                          f" {out} (it is served); choose a --secret-file elsewhere")
    if path.exists():
        return load_secret(path), path, False
    return new_secret(), path, True


def _round_of(round_dir: Path) -> str | None:
    from verifier.liabilities.summary import RootSummary
    from verifier.private.proof import PrivateRoot

    for reader in (RootSummary.from_json, PrivateRoot.from_json):  # spot, or private (§16.16)
        try:
            return reader(root_path(round_dir).read_bytes()).round_id
        except (OSError, FormatError):
            continue
    return None


def _secret_for_prove(out: Path, secret_file: Path | None) -> bytes:
    """The secret of the round built in ``out`` (the file of rounds built before the
    secrets directory, ``out/round-secret.key``, is still read when it is the only one)."""
    from por.liabilities.secret import load_secret

    path = _secret_path(out, secret_file, _round_of(out))
    if not path.exists() and not secret_file and (out / LEGACY_SECRET_FILE).exists():
        path = out / LEGACY_SECRET_FILE
    if not path.exists():
        raise FormatError(f"{path}: no round secret there; pass --secret-file (or set"
                          " $POR_ROUND_SECRET_FILE) to the file the build wrote")
    return load_secret(path)


@liabilities.command("build")
@click.argument("snapshot", type=FILE)
@click.option(
    "--assets",
    "assets_file",
    required=True,
    type=FILE,
    help="Asset list (JSON or CSV: symbol, decimals), in the round's order.",
)
@click.option("--round", "round_id", required=True, help="Round id, e.g. 2026-11-25.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=DIRECTORY,
    help="Directory to write tree.bin, root.json and build-info.json into.",
)
@click.option(
    "--secret-file",
    type=FILE,
    help="Round secret file (64 hex digits, mode 0600); written when the build succeeds if"
    " missing. Default: $POR_ROUND_SECRET_FILE, else ~/.local/share/por/secrets/ROUND.key"
    " ($XDG_DATA_HOME). Never inside OUT.",
)
@click.option(
    "--pad-to", type=int, default=None, help="Pad to at least this many leaves (a power of two)."
)
@click.option("--workers", type=int, default=None, help="Processes to use (default: all cores).")
@click.option(
    "--memory",
    default="3GB",
    show_default=True,
    help="Memory the build may use, whatever the user count; the rest is spilled to disk.",
)
@click.option(
    "--work-dir",
    default=None,
    help="Where spilled buckets go (a path or an fsspec URL; default: a private staging"
    " directory beside OUT, removed at the end). With --cluster: storage every worker"
    " reaches.",
)
@click.option(
    "--cluster",
    default=None,
    help="Run on a dask.distributed cluster: the scheduler address (tcp://HOST:8786), or"
    " 'config' for the Dask configuration's scheduler-address. See docs/scale.md.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--risk",
    "risk_file",
    type=FILE,
    help="Risk parameters (docs/spec.md §15.5): build a margin round from a snapshot with"
    " equity,debt[,collateral] or signed amounts.",
)
def build_cmd(
    snapshot: Path,
    assets_file: Path,
    round_id: str,
    out_dir: Path,
    secret_file: Path | None,
    pad_to: int | None,
    workers: int | None,
    memory: str,
    work_dir: str | None,
    cluster: str | None,
    quiet: bool,
    risk_file: Path | None,
) -> None:
    """Build the round's tree from SNAPSHOT (CSV or Parquet: user_id, asset, amount)."""
    from por.liabilities.assets import load_assets
    from por.liabilities.build import build_tree, parse_memory
    from por.liabilities.snapshot import check_snapshot_file
    from verifier.liabilities.mst import check_round_id

    # Every check that reads no row comes first: a mistake here creates nothing.
    check_round_id(round_id)
    assets = load_assets(assets_file)
    if root_path(out_dir).exists() or tree_path(out_dir).exists():
        raise FormatError(f"{out_dir}: a tree was already built there; choose another --out")
    if risk_file is not None:  # a margin round (docs/spec.md §15), in por.liabilities.margin
        from por.cli.margin import margin_build

        check_snapshot_file(snapshot, margin=True)
        return margin_build(snapshot, assets_file, risk_file, round_id, out_dir,
                            _secret_for_build(out_dir, secret_file, round_id), pad_to,
                            quiet=quiet, workers=workers, memory=parse_memory(memory),
                            work_dir=work_dir, cluster=cluster)
    check_snapshot_file(snapshot)
    byte_limit = parse_memory(memory)
    secret, secret_path, created = _secret_for_build(out_dir, secret_file, round_id)
    with RichProgress(enabled=not quiet) as progress:
        result = build_tree(
            snapshot,
            assets,
            round_id,
            secret,
            out_dir,
            pad_to=pad_to,
            workers=workers,
            progress=progress,
            memory=byte_limit,
            work_dir=work_dir,
            cluster=cluster,
            secret_out=secret_path if created else None,
        )
    with signals_held():
        s = result.summary
        click.echo(
            f"built round {s.round_id}: {result.user_count} users, {s.leaf_count} leaves"
            f" (padded), {result.seconds['total']:.2f} s"
        )
        click.echo(f"  root hash    {s.root_hash.hex()}")
        click.echo(f"  root.json    {result.root_path}   (publish this)")
        click.echo(f"  tree.bin     {result.tree_path}   (private: for auditors only)")
        note = "created (0600); keep it private, never publish" if created else "used"
        click.echo(f"  secret       {secret_path}   ({note})")


@liabilities.command("prove")
@click.argument("round_dir", type=DIRECTORY)
@click.argument("user_id")
@click.option(
    "--secret-file",
    type=FILE,
    help="Round secret file (default: $POR_ROUND_SECRET_FILE, else"
    " ~/.local/share/por/secrets/ROUND.key).",
)
@click.option(
    "--out",
    "out_file",
    type=FILE,
    help="Write the proof here instead of standard output.",
)
def prove_cmd(
    round_dir: Path, user_id: str, secret_file: Path | None, out_file: Path | None
) -> None:
    """Write USER_ID's inclusion proof (JSON) from the round in ROUND_DIR."""
    from por.liabilities.margin import is_margin_round, margin_proof_text
    from por.liabilities.prove import Prover

    if is_margin_round(round_dir):  # docs/spec.md §15.7
        text = margin_proof_text(round_dir, _secret_for_prove(round_dir, secret_file), user_id)
    else:
        prover = Prover(round_dir, _secret_for_prove(round_dir, secret_file))
        try:
            text = prover.prove(user_id).to_json()
        finally:
            prover.close()
    if out_file:
        out_file.write_text(text)
        click.echo(f"wrote {out_file}", err=True)
    else:
        click.echo(text, nl=False)


@liabilities.command("prove-all")
@click.argument("round_dir", type=DIRECTORY)
@click.option(
    "--snapshot",
    required=True,
    type=FILE,
    help="The snapshot the round was built from: the user ids come from it.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A .jsonl file (one proof per line) or a directory (one USER_ID.json per user).",
)
@click.option(
    "--secret-file",
    type=FILE,
    help="Round secret file (default: $POR_ROUND_SECRET_FILE, else"
    " ~/.local/share/por/secrets/ROUND.key).",
)
@click.option("--workers", type=int, default=None, help="Processes to use (default: all cores).")
@click.option("--force", is_flag=True,
              help="Replace an existing OUT (file, or non-empty directory) once all is written.")
@click.option("--compress", type=click.Choice(["gzip", "zstd"]), default=None,
              help="OUT is a directory of one compressed file of proof lines per shard of"
              " 65,536 leaves (part-NNNNNNN.jsonl.gz or .jsonl.zst, level 1): decompressed"
              " in name order, the bytes of the .jsonl output. zstd is faster and smaller.")
def prove_all_cmd(
    round_dir: Path, snapshot: Path, out_path: Path, secret_file: Path | None,
    workers: int | None, force: bool, compress: str | None,
) -> None:
    """Write every user's proof from the round in ROUND_DIR, streaming, in parallel.

    The proofs are written under a temporary name beside OUT and renamed into place at the
    end; a failure or interruption (Ctrl-C, SIGTERM) removes them and stops the workers.
    """
    from por.liabilities.prove import STOP_SIGNALS, prove_all

    result = prove_all(round_dir, _secret_for_prove(round_dir, secret_file), snapshot,
                       out_path, workers=workers, force=force, compress=compress)
    for sig in STOP_SIGNALS:  # the proofs are in place: a late signal must not report failure
        signal.signal(sig, signal.SIG_IGN)
    click.echo(f"wrote {result.users} proofs to {out_path} in {result.seconds:.1f} s", err=True)


@main.command("demo")
@click.option(
    "--out",
    "out_dir",
    default="demo-output",
    show_default=True,
    type=DIRECTORY,
)
@click.option("--users", default=10_000, show_default=True, help="Synthetic users.")
@click.option("--assets", "asset_count", default=5, show_default=True, help="Assets (1-8).")
@click.option("--seed", default=2026, show_default=True, help="Seed of the synthetic data.")
@click.option("--private", is_flag=True,
              help="Also build, prove and check a private round (spec §16; needs the"
              " [private] extra) of the latest holdings.")
def demo_cmd(out_dir: Path, users: int, asset_count: int, seed: int, private: bool) -> None:
    """Run the whole flow on a synthetic exchange, on embedded defaults."""
    from por.demo.run import run_demo

    run_demo(out_dir, users=users, asset_count=asset_count, seed=seed, private=private)
