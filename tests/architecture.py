"""The project's own import graph, computed from the code with ``ast``: which facecast modules a module
imports (at any depth, including imports inside functions), and which files those are."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "facecast"
STAGES = ("sample", "ingest", "faces", "cast", "swap", "gate", "augment", "manifest", "evaluate", "card", "report")
GROUND_FLOORS = ("params", "tables", "errors", "reasons", "metrics", "executor", "io", "geometry", "models")


def module_file(module: str) -> Path | None:
    """The file of a facecast module (a package's ``__init__.py``), or None when there is none."""
    base = SRC / Path(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


@cache
def direct_imports(module: str) -> frozenset[str]:
    """The facecast modules ``module`` imports anywhere in its code (``from a import b`` counts ``a.b`` when
    that is a module, else ``a``), plus the packages they sit in (importing ``a.b`` runs ``a/__init__``)."""
    path = module_file(module)
    if path is None:
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if module_file(f"{node.module}.{a.name}") else node.module for a in node.names
            ]
        for name in names:
            if name == "facecast" or name.startswith("facecast."):
                parts = name.split(".")
                found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1) if module_file(".".join(parts[:n])))
    found.discard(module)
    return frozenset(found)


def closure(module: str) -> set[str]:
    """Every facecast module that importing ``module`` runs, itself included."""
    seen = {module}
    todo = [module]
    while todo:
        for dep in direct_imports(todo.pop()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def all_modules() -> list[str]:
    return sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


def layer(module: str) -> str:
    """The top-level part of facecast a module belongs to: a stage, a ground floor, or another module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "facecast"
