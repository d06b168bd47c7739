"""Click groups that import a subcommand only when it runs, and the missing-extra message.

``por-verify proof`` must not pay for the reserves readers, nor ``por --help`` for the
builder (issue 12): a group holds a table of command name → ``"module:attr"`` (click's
documented LazyGroup pattern) with the one-line help its listing shows, and imports a
module only when its command is called or asked for ``--help``.

An optional extra that is not installed (``pip install .`` is the verifier alone) shows as
a ``ModuleNotFoundError`` when a command imports it: :class:`LazyGroup` turns it into the
exact ``pip install`` line to run and exit code 2 (the input cannot be checked here),
never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import click

# Top-level module → the extra (pyproject.toml [project.optional-dependencies]) that brings it.
EXTRA_OF_MODULE: Mapping[str, str] = {
    **dict.fromkeys(("eth_account", "eth_abi", "eth_keys", "eth_utils", "eth_typing", "btclib",
                     "btclib_wallet", "ecc", "bip322", "coincurve", "yaml"), "reserves"),
    **dict.fromkeys(("numpy", "pyarrow", "dask", "distributed", "fsspec", "sqlmodel",
                     "sqlalchemy", "alembic", "psycopg", "eth_tester", "eth"), "exchange"),
    **dict.fromkeys(("fastapi", "starlette", "uvicorn", "jinja2"), "server"),
    **dict.fromkeys(("wallycore", "_wallycore"), "private"),
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The extra whose absence ``error`` reports, or ``None`` if no extra brings that module."""
    top = (error.name or "").partition(".")[0]
    return EXTRA_OF_MODULE.get(top)


def exit_missing_extra(extra: str, error: ModuleNotFoundError) -> NoReturn:
    """Say which extra to install (the exact ``pip install`` line) and exit 2."""
    click.echo(f"ERROR: this command needs the optional '{extra}' dependencies "
               f"(module {error.name!r} is not installed). Install them with:\n"
               f"  pip install 'por-toolkit[{extra}]'\n"
               f"(from a clone of the repository: pip install '.[{extra}]')", err=True)
    sys.exit(2)


def listed_help(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` as click shortens a command's help in a listing."""
    return click.Command(None, help=text).get_short_help_str(limit)


class LazyGroup(click.Group):
    """A group whose subcommands are ``{name: ("module:attr", "one-line help")}``.

    The attribute is a :class:`click.Command`, or a function of no argument returning one.
    The one-line help is what ``--help`` lists, so listing commands imports none of them;
    tests/test_startup.py checks that it matches each command's own help.
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, tuple[str, str]] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(self._load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        target = self.lazy_commands[cmd_name][0]
        module_name, _, attr = target.partition(":")
        found = getattr(importlib.import_module(module_name), attr)
        command = found if isinstance(found, click.Command) else found()
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = [n for n in self.list_commands(ctx)
                 if n in self.lazy_commands or not self.commands[n].hidden]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows: Sequence[tuple[str, str]] = [
            (name, listed_help(self.lazy_commands[name][1], limit)
             if name in self.lazy_commands and name not in self.commands
             else self.commands[name].get_short_help_str(limit))
            for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except ModuleNotFoundError as error:
            extra = missing_extra(error)
            if extra is None:
                raise
            exit_missing_extra(extra, error)
