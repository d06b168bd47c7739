"""Before/after check for refactors of the shared command-line options (not a test: run it
on both code states with the same WORLD directory and compare the outputs byte for byte).

``--help`` of every ``por`` and ``por-verify`` command; ``--pin`` spellings (valid, padded,
wrapped in other whitespace, look-alike digits, truncated) on ``por keys list``,
``por-verify bundle`` (text and JSON) and ``por-verify proof --bundle``; ``por serve``'s
witness options refused before it starts; and, in process with ``uvicorn.run`` replaced, the
environment and arguments ``por serve`` hands the server. Prints JSON: one list of
``[args, exit code, stdout, stderr]``, then one line per in-process ``por serve``.

    .venv/bin/python tests/support/cli_option_outputs.py /tmp/world > before.json  # old code
    .venv/bin/python tests/support/cli_option_outputs.py /tmp/world > after.json   # new code
    cmp before.json after.json

WORLD is built on first use (a published spot round: tests/support/attest_helpers.py), and
reused so that both runs see the same keys and bundle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

BIN = Path(sys.executable).parent
ENV = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}


def build_world(world: Path) -> None:
    """A published round (bundle-r1), its key list, a user's proof and the key id."""
    from attest_helpers import build_round, make_world, publish, sign_and_cosign

    from por.store.db import open_store

    world.mkdir(parents=True)
    w = make_world(world)
    build_round(w, world, "r1")
    engine = open_store(f"sqlite:///{world / 'por.db'}")
    sign_and_cosign(engine, w, "r1", 0)
    publish(engine, w, "r1", world / "bundle-r1", 0)
    engine.dispose()
    (world / "keyid.txt").write_text(w.exchange_key.public.key_id)


def command_paths(group: click.Command, ctx: click.Context, prefix: list[str]) -> list[list[str]]:
    """Every command below ``group`` (itself included), as argument lists."""
    out = [prefix]
    if isinstance(group, click.Group):
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            if cmd is not None:
                out += command_paths(cmd, click.Context(cmd, info_name=name, parent=ctx),
                                     [*prefix, name])
    return out


def pins(key: str) -> list[str]:
    return [key, key.upper(), key[:10].upper() + key[10:], f" {key} ", f"\t{key}\n",
            f"\r{key}", f"\v{key}", f"\f{key}", f"{key}\x1c", f"\x85{key}", f"\xa0{key}",
            f"\u2003{key}", f"{key}\u3000", f"\u200b{key}", key[:-1], key + "0", "", "   ",
            "zz", "00" * 32, "".join(chr(ord(c) + 0xFEE0) for c in key),
            key[:30] + " " + key[30:], "g" * 64, key[:-1] + "\u0661"]


def main_() -> None:
    world = Path(sys.argv[1])
    if not world.exists():
        build_world(world)
    key = (world / "keyid.txt").read_text()
    tmp = Path(tempfile.mkdtemp())
    results: list[list[Any]] = []

    def run(argv: list[str]) -> None:
        r = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, env=ENV,
                           timeout=120, check=False)

        def norm(b: bytes) -> str:
            return b.decode("utf-8", "backslashreplace").replace(str(tmp), "TMP")

        results.append([[a.replace(str(tmp), "TMP") for a in argv], r.returncode,
                        norm(r.stdout), norm(r.stderr)])

    from por.cli import main as por_main
    from verifier.cli import main as verify_main

    for tool, main in (("por", por_main), ("por-verify", verify_main)):
        for path in command_paths(main, click.Context(main, info_name=tool), []):
            run([tool, *path, "--help"])
    keylist, bundle = str(world / "keylist.json"), str(world / "bundle-r1")
    proof = str(world / "r1" / "proof-u3.json")
    run(["por", "keys", "list", keylist])
    for p in pins(key):
        run(["por", "keys", "list", keylist, "--pin", p])
    spellings: list[str | None] = [None, *pins(key)]
    for i, spelling in enumerate(spellings):
        pin = [] if spelling is None else ["--pin", spelling]
        for extra in ([], ["--json"]):
            state = tmp / f"state-{i}-{len(extra)}.json"
            run(["por-verify", "bundle", bundle, "--skip-chain", "--now",
                 "2026-11-26T00:00:00Z", "--state", str(state), *extra, *pin])
            run(["por-verify", "proof", proof, "--bundle", bundle, *extra, *pin])
    run(["por-verify", "proof", proof, "--pin", key])
    witness = str(world / "auditor.pub.json")
    (tmp / "adir").mkdir()
    for args in (["--witness-key", str(tmp / "nope.json")], ["--witness-key", str(tmp / "adir")],
                 ["--witness-key", witness, "--witness-quorum", "2"], ["--witness-quorum", "-1"],
                 ["--witness-quorum", "x"], ["--witness-quorum", "1"],
                 ["--witness-key", witness, "--witness-key", witness, "--witness-quorum", "2"],
                 ["--witness-key"], ["--witness-quorum"],
                 ["--auditor-key", str(tmp / "nope.json")], ["--pin", "x"]):
        run(["por", "serve", "--port", "1", *args])  # each refused before the server starts
    print(json.dumps(results, indent=0))

    # In process: what por serve hands uvicorn (its run replaced: no server starts).
    import uvicorn
    from click.testing import CliRunner

    from por.cli.serve import serve_cmd

    seen: list[Any] = []
    uvicorn.run = lambda *a, **k: seen.append(  # type: ignore[assignment]
        [list(a), sorted((x, str(y)) for x, y in k.items() if x != "log_config")])
    for args in ([], ["--witness-key", witness],
                 ["--witness-key", witness, "--witness-quorum", "1"],
                 ["--witness-key", witness, "--witness-quorum", "0"],
                 ["--witness-key", witness, "--witness-key", str(world / "exchange.pem")]):
        r = CliRunner().invoke(serve_cmd, ["--db", "sqlite:///x.db", *args])
        env = sorted((k, v) for k, v in os.environ.items() if k.startswith("POR_SERVE"))
        print(json.dumps([args, r.exit_code, r.output, env, seen[-1:]]))
    print(f"{len(results)} command lines", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main_()
