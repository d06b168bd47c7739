"""The verifier's memory of the last tree head it accepted, per log (docs/spec.md §12.2).

A small JSON file holding, for each log name, the exact signed tree head last accepted.
A new head is accepted only if it extends that one (:func:`verifier.log.sth.check_extends`);
so a log that shows one history to this user and another later is caught. The file is
replaced atomically (write, fsync, rename), so a crash leaves the old or the new memory.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from verifier import strictjson as sj
from verifier.errors import FormatError
from verifier.log.sth import SignedTreeHead
from verifier.signed.canonical import check_scheme

STATE_SCHEME = "por-verify-log-state"
STATE_VERSION = 1
STATE_FILE_NAME = "log-state.json"


class TreeHeadMemory:
    """The last accepted signed tree head of each log, kept in one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise FormatError(f"{self.path}: cannot read the remembered tree heads: {e}") from e
        where = str(self.path)
        value = sj.obj(sj.loads(data, where), where, {"scheme", "version", "logs"})
        check_scheme(value, where, STATE_SCHEME, STATE_VERSION)
        logs = value["logs"]
        if not isinstance(logs, dict):
            raise FormatError(f"{where}.logs: expected an object, found {type(logs).__name__}")
        return {name: sj.string(sth, f"{where}.logs.{name}") for name, sth in logs.items()}

    def last(self, log: str) -> SignedTreeHead | None:
        """The last tree head accepted for ``log``, or None if this log was never seen.

        Raises:
            FormatError: the memory file is corrupt (never silently forgotten).
        """
        text = self._read().get(log)
        if text is None:
            return None
        sth = SignedTreeHead.from_json(text, f"{self.path}: remembered tree head of {log!r}")
        if sth.head.log != log:
            raise FormatError(f"{self.path}: the head remembered for {log!r} is of another log")
        return sth

    def remember(self, sth: SignedTreeHead) -> None:
        """Store ``sth`` (its exact envelope) as the last head of its log, atomically.

        Raises:
            FormatError: the memory file is corrupt or cannot be written.
        """
        logs = self._read()
        logs[sth.head.log] = sth.signed.to_json()
        text = json.dumps(
            {"scheme": STATE_SCHEME, "version": STATE_VERSION, "logs": logs}, indent=2
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".log-state-")
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            raise FormatError(f"{self.path}: cannot write the remembered tree heads: {e}") from e
