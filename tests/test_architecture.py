"""The dependency rule, checked independently of import-linter: verifier/ stands alone."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"por", "api", "sqlmodel", "sqlalchemy", "fastapi", "starlette", "numpy", "uvicorn"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_verifier_imports_nothing_of_ours_nor_servers() -> None:
    files = list((ROOT / "verifier").rglob("*.py"))
    assert len(files) > 10
    bad = {str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN) for f in files}
    assert {f: m for f, m in bad.items() if m} == {}


def test_import_linter_contract_names_the_same_modules() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    for module in ("por", "sqlmodel", "sqlalchemy", "fastapi", "numpy"):
        assert f'"{module}"' in text.split("[[tool.importlinter.contracts]]", 1)[1]
