"""The package's layering, checked: data flows one way and no layer imports a higher one.

Each module's imports of gridplan modules (at the top and inside functions) are read from
its syntax tree; a module may import its own package and any lower layer, never a higher one
or a sibling package of its own layer (flat modules of one layer may use each other).
Private names (``_name``) are imported only inside the package that defines them.
``make lint`` runs this file too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gridplan"

#: Lowest first. A module belongs to the first entry its dotted name starts with.
LAYERS: list[tuple[str, ...]] = [
    (
        "gridplan._errors",
        "gridplan.settings",
        "gridplan._atomic",
        "gridplan._text",
        "gridplan._lazy",
        "gridplan._progress",
        "gridplan._cpsat",
    ),
    ("gridplan.privacy", "gridplan.offsets", "gridplan.i18n", "gridplan._vendor", "gridplan.db"),
    (
        "gridplan.dataset",
        "gridplan.uses",
        "gridplan.households",
        "gridplan.adjacency",
        "gridplan.land",
    ),
    ("gridplan.validate",),
    ("gridplan.io",),
    ("gridplan.sample",),
    ("gridplan.partition",),
    ("gridplan.units",),
    ("gridplan.network",),
    ("gridplan.access", "gridplan.staffing"),
    ("gridplan.requests",),
    ("gridplan.output",),
    ("gridplan.run",),
    ("gridplan.edit",),
    ("gridplan.cli", "gridplan.cli_requests"),
]


def unit_of(module: str) -> tuple[int, str]:
    """(layer, concept) of a dotted module name; the concept is the layer entry it matches."""
    for level, entries in enumerate(LAYERS):
        for entry in entries:
            if module == entry or module.startswith(entry + "."):
                return level, entry
    msg = f"{module} is in no layer of tests/test_layers.py: add it"
    raise AssertionError(msg)


def is_package(concept: str) -> bool:
    """Whether a layer entry is a subpackage (siblings of one layer stay apart) or a module."""
    return (PACKAGE.parent / concept.replace(".", "/")).is_dir()


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if name != "gridplan":  # the lazy top-level surface may name anything
            out.append((name, path))
    return out


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names imported, line) of every gridplan import in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "gridplan":
                for a in node.names:
                    if a.name != "__version__":
                        out.append((f"gridplan.{a.name}", [], node.lineno))
            elif node.module.startswith("gridplan."):
                out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gridplan."):
                    out.append((a.name, [], node.lineno))
    return out


MODULES = modules()


@pytest.mark.parametrize("name,path", MODULES, ids=[m for m, _ in MODULES])
def test_no_layer_imports_a_higher_one(name: str, path: Path) -> None:
    level, concept = unit_of(name)
    bad = []
    for target, _names, line in imports(path):
        t_level, t_concept = unit_of(target)
        sibling = t_level == level and t_concept != concept and is_package(t_concept)
        if t_level > level or sibling:
            bad.append(f"line {line}: {target} ({LAYERS[t_level][0]} layer)")
    assert not bad, f"{name} imports a higher layer or a sibling concept: {bad}"


@pytest.mark.parametrize("name,path", MODULES, ids=[m for m, _ in MODULES])
def test_private_names_stay_in_their_package(name: str, path: Path) -> None:
    _level, concept = unit_of(name)
    bad = []
    for target, names, line in imports(path):
        _t_level, t_concept = unit_of(target)
        private = [n for n in names if n.startswith("_")]
        if private and t_concept != concept:
            bad.append(f"line {line}: {', '.join(private)} from {target}")
    assert not bad, f"{name} imports private names of another package: {bad}"


def test_every_module_has_a_layer() -> None:
    for name, _path in MODULES:
        unit_of(name)
