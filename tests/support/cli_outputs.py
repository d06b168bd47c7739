"""Before/after check for refactors of verifier/cli that must not change behaviour (not a
test: run it on both code states and compare the outputs byte for byte).

``por-verify proof`` over every committed spot, margin and private vector and 25 mutants of
each (a character changed), with and without --root, --json and the --bundle-only options;
``foreign auto`` over the published foreign samples; missing files. Prints one JSON list of
``[args, exit code, stdout, stderr]``.

    .venv/bin/python tests/support/cli_outputs.py > before.json   # on the old code
    .venv/bin/python tests/support/cli_outputs.py > after.json    # on the new code
    cmp before.json after.json
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import rfc8785
from click.testing import CliRunner

from verifier.cli import main

TESTS = Path(__file__).parents[1]
SCHEMES = (("liabilities.json", "published_root"), ("margin.json", "root"),
           ("private.json", "root"))


def _texts(rng: random.Random, proof: Any) -> list[str]:
    base = rfc8785.dumps(proof).decode()
    out = [base]
    for _ in range(25):
        i = rng.randrange(len(base))
        out.append(base[:i] + rng.choice('0123456789abcdef"{}[],:x') + base[i + 1:])
    return out


def cases(tmp: Path) -> list[list[str]]:
    """Every command line to run, its files written under ``tmp``."""
    rng = random.Random(7)
    out: list[list[str]] = []
    for file, root_key in SCHEMES:
        for v in json.loads((TESTS / "vectors" / file).read_text())["vectors"]:
            if "proof" not in v:
                continue
            root = v.get(root_key)
            variants = [[], ["--json"], ["--pin", "ab"], ["--witness-quorum", "1", "--json"]]
            if root:
                variants += [["--root", root], ["--json", "--root", root], ["--root", root[:-1]]]
            for k, text in enumerate(_texts(rng, v["proof"])):
                path = tmp / f"{file}-{v['name']}-{k}.json"
                path.write_text(text)
                out += [["proof", str(path), *extra] for extra in variants]
    out.append(["proof", str(tmp / "missing.json")])
    out += [["foreign", "auto", str(f)] for f in sorted((TESTS / "data" / "foreign").rglob("*"))
            if f.is_file() and f.suffix in (".json", ".txt", ".csv")]
    missing = str(tmp / "missing.json")
    out += [["foreign", "auto", missing], ["cross-check", missing],
            ["cross-check", "--json", missing]]
    return out


def main_() -> None:
    tmp = Path(tempfile.mkdtemp())
    runner = CliRunner()
    results = []
    for args in cases(tmp):
        r = runner.invoke(main, args)
        results.append([[a.replace(str(tmp), "TMP") for a in args], r.exit_code,
                        r.stdout.replace(str(tmp), "TMP"), r.stderr.replace(str(tmp), "TMP")])
    json.dump(results, sys.stdout, indent=0)
    print(f"{len(results)} command lines", file=sys.stderr)


if __name__ == "__main__":
    main_()
