"""The house plan of ../shared/DESIGN.md, enforced: which viewgen package may import which.

Imports are read from the source (``ast``), module level and lazy ones alike, so a violation
is caught even where it would only run on a rare path.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "viewgen"

# package -> the viewgen packages it may import (besides itself). Top-level modules
# (hub, runtime, staging, devices) are packages of their own name here.
ALLOWED: dict[str, set[str] | None] = {
    "geometry": set(),
    "procedural": set(),
    "rendering": {"geometry"},
}
# package -> packages it must never import
FORBIDDEN: dict[str, set[str]] = {
    "networks": {"geometry", "rendering", "io", "pipelines", "control", "memory", "refiners", "depth", "data"},
    "control": {"pipelines"},
    "memory": {"pipelines"},
    "refiners": {"pipelines", "data"},
    # metrics and statistics of frames and poses; the protocols that run flights sit above them
    "evaluation": {"pipelines", "control", "memory", "refiners", "training"},
}
# module -> the forbidden packages it may import all the same. evaluation/protocols.py runs flights
# (viewgen eval's protocols) and evaluation/truth_flight.py flies the autopilot over a sample's
# world (protocol (b)'s truth): they sit above pipelines and control, as cli does; the metric and
# statistics modules beside them stay free of them. evaluation/loop_protocol.py flies the loop-closure
# protocol's paths with each memory it compares (last frame, persistent world), so it imports memory.
EXCEPTIONS: dict[str, set[str]] = {"viewgen/evaluation/protocols.py": {"control", "pipelines"},
                                   "viewgen/evaluation/truth_flight.py": {"control"},
                                   "viewgen/evaluation/loop_protocol.py": {"memory"}}
NOBODY_IMPORTS = {"cli", "server"}  # the top of the house; cli starts the server; `python -m viewgen` runs cli
# leaf modules every package may import: they import no viewgen package themselves
LEAVES = {"checks"}


def _package_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def viewgen_imports(path: Path) -> set[str]:
    """The viewgen packages (second name: ``geometry``, ``hub``, ...) that ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names if node.module == "viewgen"]
        else:
            continue
        found |= {_package_of(name) for name in names if name.startswith("viewgen.")}
    return found


def _modules():
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = path.relative_to(PACKAGE_ROOT).parts
        package = parts[0].removesuffix(".py") if len(parts) > 1 or parts[0] != "__init__.py" else ""
        yield path, package


def layout_violations() -> list[str]:
    problems = []
    for path, package in _modules():
        imported = viewgen_imports(path) - {package, ""}
        if package in LEAVES and imported:
            problems.append(f"{path.name}: a leaf module imports {sorted(imported)}, and may import no viewgen package")
        imported -= LEAVES
        where = path.relative_to(PACKAGE_ROOT.parent).as_posix()
        allowed = ALLOWED.get(package)
        if allowed is not None and imported - allowed:
            problems.append(f"{where}: {package} may import only {sorted(allowed) or 'no viewgen package'}, "
                            f"imports {sorted(imported - allowed)}")
        forbidden = imported & FORBIDDEN.get(package, set()) - EXCEPTIONS.get(where, set())
        if forbidden:
            problems.append(f"{where}: {package} must not import {sorted(forbidden)}")
        top = imported & NOBODY_IMPORTS - {"cli": {"server"}, "__main__": {"cli"}}.get(package, set())
        if top:
            problems.append(f"{where}: imports {sorted(top)}, which nothing may import")
    return problems


def test_the_dependency_direction_of_the_house_plan():
    problems = layout_violations()
    assert not problems, "imports against DESIGN.md's dependency direction:\n" + "\n".join(problems)


@pytest.mark.parametrize("source, expected", [
    ("import viewgen.geometry.poses", {"geometry"}),
    ("from viewgen.rendering.warp import warp_rgbd", {"rendering"}),
    ("from viewgen import hub, runtime", {"hub", "runtime"}),
    ("def f():\n    from viewgen.cli.main import main", {"cli"}),
    ("import numpy", set()),
])
def test_imports_are_read_at_every_depth(tmp_path, source, expected):
    path = tmp_path / "module.py"
    path.write_text(source)
    assert viewgen_imports(path) == expected


def test_a_violation_is_reported(tmp_path, monkeypatch):
    (tmp_path / "viewgen" / "rendering").mkdir(parents=True)
    (tmp_path / "viewgen" / "rendering" / "warp.py").write_text("from viewgen.networks import SpadeGenerator\n")
    (tmp_path / "viewgen" / "control").mkdir()
    (tmp_path / "viewgen" / "control" / "x.py").write_text("def f():\n    from viewgen.pipelines import X\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_ROOT", tmp_path / "viewgen")
    problems = layout_violations()
    assert len(problems) == 2
    assert "rendering may import only ['geometry'], imports ['networks']" in problems[1]
    assert "control must not import ['pipelines']" in problems[0]
