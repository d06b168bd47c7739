"""Run ``por ARGS...`` with ``por publish`` made to die at one step: the fault injection of
tests/attest/test_publish_kill.py, kept out of the production code.

Usage: ``python publish_killer.py STEP por-args...``. STEP is one of
``por.attest.publish.STEPS`` (the process dies where publish calls ``_reached(STEP)``) or
``append-commit`` (it dies inside the log append's transaction, just before its commit).
The process ends with ``os._exit(EXIT_CODE)``: no cleanup, no flush, as if killed.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sqlalchemy import Engine, event

from por.attest import publish
from por.cli import main
from por.log import appender

EXIT_CODE = 97
APPEND_COMMIT = "append-commit"


def _die(*_args: object) -> None:
    os._exit(EXIT_CODE)


def inject(target: str) -> None:
    """Make this process die at step ``target`` of publishing."""
    if target == APPEND_COMMIT:
        real_append = appender.append

        def append(engine: Engine, *args: Any, **kwargs: Any) -> Any:
            event.listen(engine, "commit", _die)
            try:
                return real_append(engine, *args, **kwargs)
            finally:
                event.remove(engine, "commit", _die)

        appender.append = append  # type: ignore[assignment]
        return
    if target not in publish.STEPS:
        raise SystemExit(f"publish_killer: unknown step {target!r}")

    def reached(step: str) -> None:
        if step == target:
            _die()

    publish._reached = reached


if __name__ == "__main__":
    inject(sys.argv[1])
    sys.argv = ["por", *sys.argv[2:]]
    sys.exit(main())
