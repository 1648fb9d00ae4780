"""The layout rules of ARCHITECTURE.md, checked on the code's real import graph (tests/architecture.py)."""

from __future__ import annotations

import pytest

from architecture import GROUND_FLOORS, STAGES, all_modules, closure, direct_imports, layer, module_file

MODULES = all_modules()


def test_every_stage_package_has_the_same_entry_point():
    import importlib

    for stage in STAGES:
        module = importlib.import_module(f"facecast.{stage}.stage")
        assert callable(module.run), stage
        assert isinstance(module.SECTIONS, tuple) and module.SECTIONS, stage


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_package_imports_no_other_stage_package(stage):
    for module in MODULES:
        if layer(module) != stage:
            continue
        others = {layer(dep) for dep in direct_imports(module)} & (set(STAGES) - {stage})
        assert not others, f"{module} imports stage package(s) {sorted(others)}: stages talk only through tables"


@pytest.mark.parametrize("floor", GROUND_FLOORS)
def test_a_ground_floor_imports_no_stage_package(floor):
    for module in MODULES:
        if layer(module) != floor:
            continue
        stages = {layer(dep) for dep in closure(module)} & set(STAGES)
        assert not stages, f"{module} (a ground floor) imports stage package(s) {sorted(stages)}"


def test_the_import_graph_has_no_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(direct_imports(module)):
            if dep.startswith(module + "."):
                continue  # a package's __init__ may import its own modules
            if state.get(dep) == 1 and not module.startswith(dep + "."):
                cycle = [*path[path.index(dep) :], module, dep] if dep in path else [module, dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, module])
        state[module] = 2

    for module in MODULES:
        if module not in state:
            visit(module, [])


def test_the_graph_sees_imports_inside_functions():
    # cast/synthesis.py imports the landmark model inside a function; the graph must see it
    assert "facecast.models.landmarks" in direct_imports("facecast.cast.synthesis")
    assert module_file("facecast.geometry.landmarks") is not None
