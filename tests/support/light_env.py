"""Running the installed commands in a subprocess, with optional modules made unimportable.

`blocked_env` puts a `sitecustomize.py` on PYTHONPATH that installs a meta path finder
refusing the given top-level modules, as if their extra were not installed (issue 12);
`modules_at_exit` runs a command through a small wrapper that writes, when the process
exits, which of the heavy modules it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HEAVY = ("eth_account", "btclib", "coincurve", "numpy", "pyarrow", "dask", "sqlalchemy",
         "fastapi", "starlette", "eth_tester", "eth")
RESERVES_MODULES = ("eth_account", "eth_abi", "eth_keys", "eth_utils", "btclib", "btclib_wallet",
                    "ecc", "bip322", "coincurve", "yaml")
EXCHANGE_MODULES = ("numpy", "pyarrow", "dask", "distributed", "sqlmodel", "sqlalchemy",
                    "alembic", "psycopg", "eth_tester", "eth")
SERVER_MODULES = ("fastapi", "starlette", "uvicorn", "jinja2")
BIN = Path(sys.executable).parent

_SITECUSTOMIZE = '''
import sys
BLOCKED = frozenset({blocked!r})

class _Refuse:
    """Refuse the blocked modules: the test's stand-in for an extra not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _Refuse())
'''

_WRAPPER = '''
import atexit, json, sys
out, entry, args = sys.argv[1], sys.argv[2], sys.argv[3:]
heavy = {heavy!r}
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(m for m in heavy
                                                               if m in sys.modules))))
module, _, attr = entry.partition(":")
main = getattr(__import__(module, fromlist=[attr]), attr)
main(args, prog_name=module)
'''


def blocked_env(tmp: Path, blocked: Sequence[str]) -> dict[str, str]:
    """An environment in which importing any of ``blocked`` fails as if not installed."""
    site = tmp / "blocked-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(blocked=tuple(blocked)))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(site)
    return env


def run(command: str, args: Sequence[str], env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Run the installed console script ``command`` (por, por-verify) with ``args``."""
    return subprocess.run([str(BIN / command), *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def modules_at_exit(tmp: Path, entry: str, args: Sequence[str]
                    ) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``entry`` ("module:attr" of a click command) with ``args``; return the process
    and the heavy modules it had imported when it exited."""
    out = tmp / "modules.json"
    wrapper = tmp / "wrapper.py"
    wrapper.write_text(_WRAPPER.format(heavy=HEAVY))
    done = subprocess.run([sys.executable, str(wrapper), str(out), entry, *args],
                          capture_output=True, text=True, timeout=300, check=False)
    return done, json.loads(out.read_text())
