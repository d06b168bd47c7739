"""``por serve`` (the public page and API, with uvicorn) and ``por tokens issue`` (each
user's proof token for a round).

``por`` does not import ``api`` (the page and API are an optional part, and import-linter
keeps the exchange side free of it): ``por serve`` hands uvicorn the application's import
string and passes its settings through the environment, as uvicorn's worker processes need.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from por.cli import _secret_for_prove, err_console, handle_errors
from por.errors import InputError


@click.command("serve")
@click.option(
    "--db",
    "db_url",
    default=None,
    help="Store URL (default: $POR_DATABASE_URL, else sqlite:///por.db).",
)
@click.option(
    "--rounds",
    "rounds_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory with one directory per round (root.json, reserves.json, tree.bin,"
    " proof-tokens.bin).",
)
@click.option(
    "--keylist",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The published key list (por keys new --keylist).",
)
@click.option(
    "--auditor-key",
    "auditor_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="An auditor's public key (por-public-key JSON): the page names and checks that"
    " auditor's co-signatures. Repeatable.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes.")
@click.option(
    "--proof-rate",
    default=30.0,
    show_default=True,
    type=float,
    help="Proof requests per minute per client (per process; 0: no limit).",
)
@click.option(
    "--proof-burst", default=10, show_default=True, type=int, help="Proof requests at once."
)
@handle_errors
def serve_cmd(
    db_url: str | None,
    rounds_dir: Path | None,
    keylist: Path | None,
    auditor_keys: tuple[Path, ...],
    host: str,
    port: int,
    workers: int,
    proof_rate: float,
    proof_burst: int,
) -> None:
    """Serve the public proof-of-reserves page and the JSON API under /api/v1/."""
    import uvicorn

    from por.store.db import DEFAULT_URL

    if proof_rate < 0 or proof_burst < 1:
        raise InputError("--proof-rate must be >= 0 and --proof-burst >= 1")
    url = db_url or os.environ.get("POR_DATABASE_URL") or DEFAULT_URL
    if rounds_dir is not None:
        for child in sorted(rounds_dir.glob("*/round-secret.key")):
            # The server never reads it, but whoever gets this directory gets every salt.
            err_console.print(
                f"[yellow]warning[/yellow]: {child} lies in a served directory; keep round"
                " secrets elsewhere (--secret-file / $POR_ROUND_SECRET_FILE)"
            )
    os.environ["POR_DATABASE_URL"] = url
    os.environ["POR_SERVE_ROUNDS"] = str(rounds_dir.resolve()) if rounds_dir else ""
    os.environ["POR_SERVE_KEYLIST"] = str(keylist.resolve()) if keylist else ""
    os.environ["POR_SERVE_AUDITOR_KEYS"] = os.pathsep.join(str(k.resolve()) for k in auditor_keys)
    os.environ["POR_SERVE_PROOF_RATE"] = str(proof_rate)
    os.environ["POR_SERVE_PROOF_BURST"] = str(proof_burst)
    click.echo(f"serving on http://{host}:{port}/ (API: /api/v1/, schema: /openapi.json)")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@click.group("tokens")
def tokens_group() -> None:
    """Proof tokens: the code each user gets to fetch their own proof from the page."""


@tokens_group.command("issue")
@click.argument("round_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--users",
    "users_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="One user id per line.",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="New CSV user_id,token (mode 0600) for the exchange's account system.",
)
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Round secret file (default: $POR_ROUND_SECRET_FILE, else ROUND_DIR/round-secret.key).",
)
@handle_errors
def issue_cmd(
    round_dir: Path, users_file: Path, out_file: Path, secret_file: Path | None
) -> None:
    """Give every user in USERS a new random token for the round in ROUND_DIR.

    Writes ROUND_DIR/proof-tokens.bin (token hashes and sealed records only: serve it) and
    OUT (every token in plain: hand it to the account system, never publish it). Issuing
    again replaces the round's tokens.
    """
    from por.tokens import TOKEN_FILE, issue_tokens, read_user_ids, write_token_csv

    if out_file.exists():
        raise InputError(f"{out_file}: already exists; refusing to overwrite issued tokens")
    users = read_user_ids(users_file)
    pairs = issue_tokens(round_dir, _secret_for_prove(round_dir, secret_file), users)
    write_token_csv(out_file, pairs)
    click.echo(f"issued {len(pairs)} tokens")
    click.echo(f"  {round_dir / TOKEN_FILE}   (serve this: hashes and sealed records only)")
    click.echo(f"  {out_file}   (mode 0600: every token; for the account system only)")
