"""The layers, read from the imports: arrows point down only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "hookline"
# Each package, and the hookline packages it must never import.
FORBIDDEN = {
    "api": {"store"},
    "ui": {"store"},
    "cli": {"store", "delivery"},
    "tools": {"store", "service", "delivery"},
    "service": {"api", "ui", "cli", "tools"},
    "delivery": {"service", "api", "ui", "cli", "tools"},
    "store": {"service", "delivery", "api", "ui", "cli", "tools"},
    "domain": {"store", "service", "delivery", "api", "ui", "cli", "tools", "bench"},
}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "hookline" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_downwards(package: str) -> None:
    files = sorted((SRC / package).rglob("*.py"))
    assert files
    breaches = {
        str(path.relative_to(SRC)): sorted(_imported_packages(path) & FORBIDDEN[package])
        for path in files
    }
    assert {k: v for k, v in breaches.items() if v} == {}


def test_only_the_store_speaks_sql() -> None:
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] in ("store",):
            continue
        source = path.read_text()
        assert "sqlalchemy import text" not in source, path
        assert "hookline.store.schema" not in source, path
