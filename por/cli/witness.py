"""``por witness``: witnesses' co-signatures of the log's tree heads (docs/spec.md §14.3)."""

from __future__ import annotations

from pathlib import Path

import click

from por.errors import InputError
from por.log.witness_files import add_cosignatures, store_cosignatures


@click.group("witness")
def witness_group() -> None:
    """Witnesses' co-signatures of the log's tree heads (docs/spec.md §14)."""


@witness_group.command("add")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(path_type=Path, exists=True))
@click.option("--db", "db_url", default=None,
              help="Keep the co-signatures in this store instead (then every PATH is a "
              "co-signature file): every bundle written from the store carries them. Never "
              "with a password: use $POR_DATABASE_URL or $POR_DATABASE_PASSWORD_FILE.")
def add_cmd(paths: tuple[Path, ...], db_url: str | None) -> None:
    """Put witnesses' co-signature files (from `por-verify log witness`) into a bundle
    (`por witness add BUNDLE COSIG...`) or into the store (`por witness add --db URL
    COSIG...`).

    A bundle's witnesses/ is rewritten by `por publish`: keep co-signatures in the store so
    that every bundle written from it (and the server's download) carries them.
    """
    if db_url is not None:
        from por.store.db import open_store, refuse_password_on_argv

        refuse_password_on_argv(db_url)
        engine = open_store(db_url)
        try:
            for size, key_id in store_cosignatures(engine, paths):
                click.echo(f"stored the co-signature of witness {key_id} of the tree head "
                           f"of size {size}")
        finally:
            engine.dispose()
        return
    bundle, cosignatures = paths[0], paths[1:]
    if not bundle.is_dir() or not cosignatures:
        raise InputError("usage: por witness add BUNDLE COSIG... (or --db URL COSIG...)")
    for name in add_cosignatures(bundle, cosignatures):
        click.echo(f"added {bundle / name}")
