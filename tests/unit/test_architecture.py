"""The layering of docs/architecture.md, checked: imports point down, no cycles, small modules.

Every import of every product module counts, including those inside functions and
under ``TYPE_CHECKING``: an arrow that only the type checker follows is still an arrow
a reader has to follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Product folders and the package name each is imported as.
FOLDERS = {"enricher": "enricher", "db": "enricher.db", "providers": "enricher.providers"}

#: Lowest first. A module may import modules of its own layer or of a lower one.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("storage and providers", ("enricher.db", "enricher.providers")),
    (
        "leaves",
        (
            "enricher.errors",
            "enricher.clock",
            "enricher.durations",
            "enricher.pricing",
            "enricher.ids",
            "enricher.status",
            "enricher.storable",
            "enricher.hashing",
            "enricher.backoff",
            "enricher.deadline",
            "enricher.validation",
            "enricher.config_errors",
        ),
    ),
    ("config", ("enricher.config",)),
    (
        "core",
        (
            "enricher.models",
            "enricher.context",
            "enricher.registry",
            "enricher.provider_pool",
            "enricher.targets",
            "enricher.tasks",
        ),
    ),
    ("throttle", ("enricher.throttle",)),
    ("queue", ("enricher.queue", "enricher.housekeeping")),
    ("observe", ("enricher.observe",)),
    ("app", ("enricher.app",)),
    ("worker", ("enricher.worker",)),
    ("ingest", ("enricher.ingest",)),
    ("demo", ("enricher.demo",)),
    ("testing", ("enricher.testing",)),
    ("web", ("enricher.web",)),
    ("cli", ("enricher.cli", "enricher.__main__")),
    ("public API", ("enricher",)),
]

MAX_LINES = 600


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


def product_modules() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT / folder)
            if relative.parts[:2] == ("demo", "corpus") or path.is_symlink():
                continue
            parts = [package, *relative.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            modules[name] = Module(name, path, path.name == "__init__.py")
    return modules


MODULES = product_modules()


def imported(module: Module) -> Iterator[tuple[str, int]]:
    """``(module imported, line)`` for every import statement in ``module``."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in ast.walk(ast.parse(module.path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from pkg import sub`` imports the submodule when there is one.
                full = f"{base}.{alias.name}"
                yield (full if full in MODULES else base), node.lineno


def resolve(name: str) -> str | None:
    """The product module an import names (a name inside a module: that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def edges() -> dict[str, set[tuple[str, int]]]:
    graph: dict[str, set[tuple[str, int]]] = {name: set() for name in MODULES}
    for name, module in MODULES.items():
        for target, line in imported(module):
            resolved = resolve(target)
            if resolved is not None and resolved != name:
                graph[name].add((resolved, line))
    return graph


GRAPH = edges()


def layer_of(name: str) -> int:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = name == prefix or name.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    if best is None:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS and docs/architecture.md")
    return best[1]


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_imports_point_down() -> None:
    upward = [
        f"{name}:{line} imports {target} ({LAYERS[layer_of(target)][0]} is above "
        f"{LAYERS[layer_of(name)][0]})"
        for name, targets in GRAPH.items()
        for target, line in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


@pytest.mark.parametrize("package", ["enricher.db", "enricher.providers"])
def test_storage_and_providers_import_only_themselves(package: str) -> None:
    outside = [
        f"{name}:{line} imports {target}"
        for name, targets in GRAPH.items()
        if name == package or name.startswith(package + ".")
        for target, line in sorted(targets)
        if not (target == package or target.startswith(package + "."))
    ]
    assert outside == []


def test_storage_and_providers_know_nothing_of_each_other() -> None:
    # Both are checked above to import only themselves; this names the rule a reader
    # looks for, and catches a move of either into the other.
    for name in MODULES:
        if name.startswith("enricher.db"):
            assert not name.startswith("enricher.providers")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph``, or None (iterative DFS, white/grey/black)."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return None


def test_no_import_cycles() -> None:
    plain = {name: {target for target, _ in targets} for name, targets in GRAPH.items()}
    cycle = find_cycle(plain)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_product_module_is_over_600_lines() -> None:
    long = {
        name: lines
        for name, module in MODULES.items()
        if (lines := len(module.path.read_text("utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize("package", ["db", "providers"])
def test_the_folders_do_not_import_under_their_old_names(package: str) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", f"import {package}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f"import enricher.{package}, not {package}" in result.stderr


def test_every_error_class_is_in_the_tree() -> None:
    """Each exception class the product defines hangs from one of the three roots and
    is drawn in the tree of :mod:`enricher.errors`, so a reader finds all of them there."""
    import importlib
    import inspect

    import enricher.errors

    drawn = enricher.errors.__doc__ or ""
    missing = []
    for name in MODULES:
        if name.startswith(("enricher.testing", "enricher.__main__")):
            continue
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            if not issubclass(cls, enricher.errors.ERRORS) or cls_name not in drawn:
                missing.append(f"{name}.{cls_name}")
    assert missing == []
