"""A liabilities round directory's layout: the one place its file names are defined.

``por liabilities build`` writes these into the round's directory, ``por-verify
liabilities`` and ``por serve --rounds`` read them (docs/spec.md §8, §15.10).
"""

from __future__ import annotations

from pathlib import Path

ROOT_FILE = "root.json"  # spec §8.1: the root summary, public
TREE_FILE = "tree.bin"  # spec §8.3: every node, private (for auditors)
RISK_FILE = "risk.json"  # spec §15.5: a margin round's risk parameters, public
INFO_FILE = "build-info.json"  # how the build ran (timings, workers): informative only
TOKEN_FILE = "proof-tokens.bin"  # noqa: S105 - a file name: the sealed proof-token index
# Where rounds built before the private secrets directory kept their secret (still read);
# never served (``por serve`` refuses a directory that holds one).
LEGACY_SECRET_FILE = "round-secret.key"  # noqa: S105 - a file name, not a secret


def root_path(round_dir: Path) -> Path:
    """The round's root summary."""
    return round_dir / ROOT_FILE


def tree_path(round_dir: Path) -> Path:
    """The round's tree file."""
    return round_dir / TREE_FILE


def risk_path(round_dir: Path) -> Path:
    """A margin round's risk parameters."""
    return round_dir / RISK_FILE
