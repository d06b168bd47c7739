"""``por serve`` (the public page and API, with uvicorn) and ``por tokens issue`` (each
user's proof token for a round).

``por`` does not import ``api`` (the page and API are an optional part, and import-linter
keeps the exchange side free of it): ``por serve`` hands uvicorn the application's import
string and passes its settings through the environment, as uvicorn's worker processes need.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
from pathlib import Path
from typing import Any

import click

from por.cli import _secret_for_prove
from por.errors import InputError
from verifier.cli.options import DIRECTORY, EXISTING_FILE, FILE, witness_options
from verifier.liabilities.rounddir import LEGACY_SECRET_FILE, TOKEN_FILE


def _db_without_password(_ctx: click.Context, _param: click.Parameter, value: str | None
                         ) -> str | None:
    from por.store.db import refuse_password_on_argv

    if value is not None:
        try:
            refuse_password_on_argv(value)
        except InputError as e:
            raise click.BadParameter(str(e)) from e
    return value


def served_leftovers(rounds_dir: Path) -> list[Path]:
    """What must never lie in a served directory: round secrets (the legacy
    ``round-secret.key``, or any ``*.key`` holding 64 hex digits), spill folders of a build
    (``.build-work``) and staging folders of a build or prove-all still running or killed.
    """
    from por.liabilities.secret import SECRET_SIZE, secrets_dir

    found: list[Path] = []
    if secrets_dir().exists() and secrets_dir().resolve().is_relative_to(rounds_dir.resolve()):
        found.append(secrets_dir())
    levels = [rounds_dir, *(c for c in sorted(rounds_dir.iterdir()) if c.is_dir())]
    for folder in levels:
        for entry in sorted(folder.iterdir()):
            name = entry.name
            if name == LEGACY_SECRET_FILE or name == ".build-work" or (
                    name.startswith(".") and (".building-" in name or ".partial-" in name)):
                found.append(entry)
            elif name.endswith(".key") and entry.is_file():
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    if entry.stat().st_size <= 2 * SECRET_SIZE + 2 and re.fullmatch(
                            r"[0-9a-f]{64}\s*", entry.read_text("ascii")):
                        found.append(entry)
    return found


def _log_config() -> dict[str, Any]:
    """uvicorn's logging configuration plus the application's access log (``por.access``),
    written like uvicorn's own access lines, to standard output."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    # A plain formatter: uvicorn's copies every record to colour it, a cost per request.
    config["formatters"]["por_access"] = {"format": "INFO:     %(message)s"}
    config["handlers"]["por_access"] = {
        "formatter": "por_access", "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout"}
    config["loggers"]["por.access"] = {
        "handlers": ["por_access"], "level": "INFO", "propagate": False}
    return config


@click.command("serve")
@click.option(
    "--db",
    "db_url",
    default=None,
    callback=_db_without_password,
    help="Store URL (default: $POR_DATABASE_URL, else sqlite:///por.db). Never with a"
    " password: use $POR_DATABASE_URL or $POR_DATABASE_PASSWORD_FILE.",
)
@click.option(
    "--rounds",
    "rounds_dir",
    type=DIRECTORY,
    default=None,
    help="Directory with one directory per round (root.json, reserves.json, tree.bin,"
    " proof-tokens.bin).",
)
@click.option(
    "--keylist",
    type=FILE,
    default=None,
    help="The published key list (por keys new --keylist).",
)
@click.option(
    "--auditor-key",
    "auditor_keys",
    multiple=True,
    type=EXISTING_FILE,
    help="An auditor's public key (por-public-key JSON): the page names and checks that"
    " auditor's co-signatures. Repeatable.",
)
@witness_options(
    key_help="A witness's public key (por-public-key JSON; its label names it on the page): the"
    " page checks that witness's co-signatures of each round's tree head (spec §14.3)."
    " Repeatable.",
    quorum_help="Valid co-signatures of known witnesses each round's tree head needs (default:"
    " every --witness-key).",
    existing=True,
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
@click.option(
    "--private-cache",
    default=64,
    show_default=True,
    type=click.IntRange(min=0),
    help="Private proofs (spec §16.16) kept per process, the most recently asked: each costs"
    " levels x assets range proofs to make. 0 keeps none.",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are trusted (comma"
    " separated IPs or networks, e.g. 127.0.0.1 or 10.0.0.0/8). Default: none; the client"
    " is the TCP peer, so a client cannot pick its own address to escape the rate limit.",
)
def serve_cmd(
    db_url: str | None,
    rounds_dir: Path | None,
    keylist: Path | None,
    auditor_keys: tuple[Path, ...],
    witness_files: tuple[Path, ...],
    witness_quorum: int | None,
    host: str,
    port: int,
    workers: int,
    proof_rate: float,
    proof_burst: int,
    private_cache: int,
    forwarded_allow_ips: str | None,
) -> None:
    """Serve the public proof-of-reserves page and the JSON API under /api/v1/.

    Refuses to start when a served round directory holds a round secret, spilled buckets
    or a build's staging folder: whoever reads what is served must never get them.
    """
    import uvicorn

    from por.store.db import DEFAULT_URL

    # Checked here, before the server starts, against the distinct key files named (the
    # verifier checks it against distinct key ids once the keys are read, verifier.log.witness).
    if witness_quorum is not None and witness_quorum > len(set(witness_files)):
        raise InputError(f"--witness-quorum {witness_quorum}: more than the {len(witness_files)}"
                         " --witness-key given")
    if proof_rate < 0 or proof_burst < 1:
        raise InputError("--proof-rate must be >= 0 and --proof-burst >= 1")
    url = db_url or os.environ.get("POR_DATABASE_URL") or DEFAULT_URL
    if rounds_dir is not None and rounds_dir.is_dir():
        leftovers = served_leftovers(rounds_dir)
        if leftovers:
            # The server never reads them, but whoever gets this directory gets every salt
            # (a secret) or every balance (spills).
            raise InputError(
                f"{rounds_dir}: refusing to serve a directory that holds round secrets or a"
                f" build's spill/staging files: {', '.join(str(p) for p in leftovers)}; move"
                " secrets elsewhere (default ~/.local/share/por/secrets, or --secret-file)"
                " and remove the rest")
    os.environ["POR_DATABASE_URL"] = url
    os.environ["POR_SERVE_ROUNDS"] = str(rounds_dir.resolve()) if rounds_dir else ""
    os.environ["POR_SERVE_KEYLIST"] = str(keylist.resolve()) if keylist else ""
    os.environ["POR_SERVE_AUDITOR_KEYS"] = os.pathsep.join(str(k.resolve()) for k in auditor_keys)
    os.environ["POR_SERVE_WITNESS_KEYS"] = os.pathsep.join(str(k.resolve()) for k in witness_files)
    os.environ["POR_SERVE_WITNESS_QUORUM"] = "" if witness_quorum is None else str(witness_quorum)
    os.environ["POR_SERVE_PROOF_RATE"] = str(proof_rate)
    os.environ["POR_SERVE_PROOF_BURST"] = str(proof_burst)
    os.environ["POR_SERVE_PRIVATE_CACHE"] = str(private_cache)
    click.echo(f"serving on http://{host}:{port}/ (API: /api/v1/, schema: /openapi.json)")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # The access log is the application's (api.app.Edge: each line made from the
        # redacted path, never from the raw one); uvicorn's own is off.
        access_log=False,
        log_config=_log_config(),
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise: any local
        # client (or a proxy that passes the header through) could then pick its address
        # per request and escape the per-client proof rate limit. Only configured proxies.
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or "",
    )


@click.group("tokens")
def tokens_group() -> None:
    """Proof tokens: the code each user gets to fetch their own proof from the page."""


@tokens_group.command("issue")
@click.argument("round_dir", type=DIRECTORY)
@click.option(
    "--users",
    "users_file",
    required=True,
    type=FILE,
    help="One user id per line.",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=FILE,
    help="New CSV user_id,token (mode 0600) for the exchange's account system.",
)
@click.option(
    "--secret-file",
    type=FILE,
    help="Round secret file (default: $POR_ROUND_SECRET_FILE, else ROUND_DIR/round-secret.key).",
)
def issue_cmd(
    round_dir: Path, users_file: Path, out_file: Path, secret_file: Path | None
) -> None:
    """Give every user in USERS a new random token for the round in ROUND_DIR.

    Writes ROUND_DIR/proof-tokens.bin (token hashes and sealed records only: serve it) and
    OUT (every token in plain: hand it to the account system, never publish it). Issuing
    again replaces the round's tokens.
    """
    from por.liabilities.tokens import issue_tokens, read_user_ids, write_token_csv

    if out_file.exists():
        raise InputError(f"{out_file}: already exists; refusing to overwrite issued tokens")
    users = read_user_ids(users_file)
    pairs = issue_tokens(round_dir, _secret_for_prove(round_dir, secret_file), users)
    write_token_csv(out_file, pairs)
    click.echo(f"issued {len(pairs)} tokens")
    click.echo(f"  {round_dir / TOKEN_FILE}   (serve this: hashes and sealed records only)")
    click.echo(f"  {out_file}   (mode 0600: every token; for the account system only)")
