"""dvc.yaml agrees with the code: every stage's deps cover the files its code really imports and the tables it
reads, its outs hold the tables it writes, its metrics the metrics file it writes; the paths come from
facecast.tables. Dropping one deps entry makes this fail (the stage would silently not re-run after an edit)."""

from __future__ import annotations

import ast
import inspect
from pathlib import PurePosixPath

import pytest
import yaml

from facecast import tables

from architecture import ROOT, STAGES, closure, module_file

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _paths(entries: list) -> list[PurePosixPath]:
    """The paths of a dvc.yaml list (plain strings, or one-key mappings with options)."""
    return [PurePosixPath(next(iter(e)) if isinstance(e, dict) else e) for e in entries or []]


def _covered(path: PurePosixPath, entries: list[PurePosixPath]) -> bool:
    return any(path == e or e in path.parents for e in entries)


def code_files(stage: str) -> set[PurePosixPath]:
    """The files the stage's script runs: its package's entry point, the runner, and all they import."""
    modules = closure(f"facecast.{stage}.stage") | closure("facecast.runner")
    files = {PurePosixPath(module_file(m).relative_to(ROOT).as_posix()) for m in modules}
    return files | {PurePosixPath(f"stages/{stage}.py")}


def table_calls(stage: str) -> tuple[set[str], set[str]]:
    """(tables read, tables written) by the stage's package: the literal names in tables.read/read_df/write calls."""
    read: set[str] = set()
    written: set[str] = set()
    for path in (ROOT / "src" / "facecast" / stage).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id == "tables") or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if node.func.attr in ("read", "read_df"):
                    read.add(first.value)
                elif node.func.attr == "write":
                    written.add(first.value)
    return read, written


def metrics_written(stage: str) -> set[PurePosixPath]:
    """The metrics files ``run`` passes: ``tables.METRICS / "x.json"`` literals in its source."""
    import importlib

    source = inspect.getsource(importlib.import_module(f"facecast.{stage}.stage").run)
    found = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.right, ast.Constant)
            and str(node.right.value).endswith(".json")
        ):
            if isinstance(node.left, ast.Attribute) and node.left.attr == "METRICS":
                found.add(PurePosixPath(tables.METRICS.as_posix()) / node.right.value)
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_deps_cover_the_code_the_stage_runs(stage):
    deps = _paths(DVC[stage]["deps"])
    missing = sorted(str(f) for f in code_files(stage) if not _covered(f, deps))
    assert not missing, f"dvc.yaml stage {stage}: deps miss {missing} (the stage imports them)"


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_command_runs_its_script(stage):
    assert DVC[stage]["cmd"] == f"python stages/{stage}.py"


@pytest.mark.parametrize("stage", STAGES)
def test_tables_read_are_deps_and_tables_written_are_outs(stage):
    read, written = table_calls(stage)
    deps, outs = _paths(DVC[stage]["deps"]), _paths(DVC[stage].get("outs"))
    for name in sorted(read - written):
        path = PurePosixPath(tables.spec(name).path.as_posix())
        assert _covered(path, deps), f"dvc.yaml stage {stage}: reads {path} but does not list it in deps"
    for name in sorted(written):
        path = PurePosixPath(tables.spec(name).path.as_posix())
        assert _covered(path, outs), f"dvc.yaml stage {stage}: writes {path} but does not declare it in outs"


@pytest.mark.parametrize("stage", STAGES)
def test_metrics_written_are_declared(stage):
    declared = _paths(DVC[stage].get("metrics"))
    for path in metrics_written(stage):
        assert path in declared, f"dvc.yaml stage {stage}: writes {path} but does not declare it in metrics"


def test_the_check_fails_when_a_deps_entry_is_removed():
    deps = _paths(DVC["gate"]["deps"])
    needed = code_files("gate")
    for drop in [d for d in deps if str(d).startswith("src/")]:
        remaining = [d for d in deps if d != drop]
        assert any(not _covered(f, remaining) for f in needed), f"removing {drop} from gate's deps goes unnoticed"


def test_every_table_has_one_file_and_lives_where_dvc_puts_it():
    paths = [spec.path for spec in tables.SPECS.values()]
    assert len(set(paths)) == len(paths)
    outs = {p for stage in DVC.values() for p in _paths(stage.get("outs"))}
    for spec in tables.SPECS.values():
        assert _covered(PurePosixPath(spec.path.as_posix()), sorted(outs)), f"{spec.path}: no stage declares it"
