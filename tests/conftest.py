"""Shared test setup: the tests folder's helper modules are importable by name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "support"))
