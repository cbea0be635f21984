"""Every third-party import of ``viewgen`` is declared in ``pyproject.toml``, where it belongs.

A static check of the source (``ast``), so that a package present only because a test extra or
another package brought it in fails here rather than on a user's fresh install (``tqdm`` once
did: imported by ``viewgen fly`` but undeclared, and pulled in by ``transformers``).

Rules:
- imports at module level (also inside a module-level ``try``/``if``) come from the base
  dependencies, except in the modules of an extra (``EXTRA_MODULES``), which may also use it;
- imports inside a function (lazy, for optional features) come from the base dependencies or
  from any extra, so that the CLI can name the extra to install when one is absent.

``.ci/run`` completes this with a real check: a fresh virtual environment with only the base
dependencies imports every module outside ``EXTRA_MODULES``.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
requirements = pytest.importorskip("packaging.requirements")

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ROOT = REPO_ROOT / "viewgen"
# Subpackages that belong to an extra: they may import that extra's packages at module level.
EXTRA_MODULES = {"serve": "viewgen/server/", "train": "viewgen/training/"}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    """(base distribution names, {extra: distribution names}), normalized."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    def names(specs):
        return {_normalize(requirements.Requirement(spec).name) for spec in specs}

    extras = {extra: names(specs) - {"viewgen"} for extra, specs in project["optional-dependencies"].items()}
    return names(project["dependencies"]), extras


def _imports(tree: ast.Module) -> list[tuple[str, int, bool]]:
    """(top-level module name, line, at module level) of every absolute import in ``tree``."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name.split(".")[0], child.lineno, not in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module.split(".")[0], child.lineno, not in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def _third_party_imports():
    """Yield (file relative to the repo, line, import name, at module level) for non-stdlib imports."""
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for name, line, top_level in _imports(tree):
            if name == "viewgen" or name in sys.stdlib_module_names or name == "__future__":
                continue
            yield path.relative_to(REPO_ROOT).as_posix(), line, name, top_level


@functools.lru_cache(maxsize=1)
def _installed_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions(import_name: str) -> set[str]:
    return {_normalize(d) for d in _installed_distributions().get(import_name, [])}


def test_every_third_party_import_is_declared_where_it_is_used():
    base, extras = _declared()
    any_extra = set().union(*extras.values())
    problems = []
    for file, line, name, top_level in _third_party_imports():
        dists = _distributions(name)
        if not dists:
            problems.append(f"{file}:{line}: `{name}` is not installed here, so it cannot be declared either")
            continue
        allowed = set(base)
        if top_level:
            allowed |= set().union(*(extras[e] for e, prefix in EXTRA_MODULES.items() if file.startswith(prefix)))
        else:
            allowed |= any_extra
        if not dists & allowed:
            where = "at module level" if top_level else "inside a function"
            problems.append(f"{file}:{line}: imports `{name}` ({', '.join(sorted(dists))}) {where}, "
                            "but pyproject.toml does not declare it there")
    assert not problems, "undeclared imports:\n" + "\n".join(problems)


def test_the_check_sees_imports_at_every_depth():
    tree = ast.parse("import a\ntry:\n    import b.c\nexcept ImportError:\n    pass\n"
                     "def f():\n    from d import e\n    class K:\n        import g\n")
    assert _imports(tree) == [("a", 1, True), ("b", 3, True), ("d", 7, False), ("g", 9, False)]


def test_an_undeclared_lazy_import_is_caught(monkeypatch, tmp_path):
    """The case that broke a fresh install: a lazy import of a package no extra declares."""
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"pytest>=7.4", ' in pyproject
    (tmp_path / "pyproject.toml").write_text(pyproject.replace('"pytest>=7.4", ', ""))
    fake_root = tmp_path / "viewgen"
    fake_root.mkdir()
    (fake_root / "cli.py").write_text("def run():\n    from pytest import approx\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_ROOT", fake_root)
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    with pytest.raises(AssertionError, match="imports `pytest`"):
        test_every_third_party_import_is_declared_where_it_is_used()
