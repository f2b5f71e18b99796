"""The packages import one way: no module imports itself back, however far, and no package imports one above it.

Every import counts, at module level or inside a function (a function-level import only defers a cycle), except
those under `if TYPE_CHECKING:`, which never run. `from package import name` is an edge to `package.name` when that
is a module, else to the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spark_jobs", "ecom_pipeline", "flows", "ecom_local", "ecom_cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for package in PACKAGES for path in (REPO_ROOT / package).rglob("*.py")}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str) -> set[str]:
    """The project modules `name` imports."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_sees_the_imports_it_must() -> None:
    assert len(MODULES) > 40
    assert "ecom_pipeline.transform.glue" in GRAPH["ecom_pipeline.transform.launchers"]
    assert "ecom_pipeline.transform.job_contract" in GRAPH["ecom_pipeline.transform.glue"]
    assert "flows.pipeline" in GRAPH["ecom_cli.app"]  # imported inside a function: still an edge


def test_no_import_cycle_in_the_packages() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# What each package may import of the others. Glue receives spark_jobs alone; the core package never reaches up to
# the flows, the CLI or the local emulators; the emulators serve local runs and know nothing of the flows.
MAY_IMPORT = {
    "spark_jobs": set(),
    "ecom_pipeline": {"spark_jobs"},
    "flows": {"ecom_pipeline", "spark_jobs"},
    "ecom_local": {"ecom_pipeline", "spark_jobs"},
    "ecom_cli": {"ecom_pipeline", "spark_jobs", "flows", "ecom_local"},
}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import from a package into one it may not import, as `module -> module`."""
    return [
        f"{name} -> {target}"
        for name, targets in sorted(graph.items())
        for target in sorted(targets)
        if (package := name.split(".")[0]) != (other := target.split(".")[0]) and other not in MAY_IMPORT[package]
    ]


def test_no_package_imports_one_above_it() -> None:
    assert set(MAY_IMPORT) == set(PACKAGES)
    assert upward_imports(GRAPH) == []


def test_the_layering_check_finds_an_upward_import() -> None:
    graph = {"ecom_pipeline.quality": {"flows.pipeline"}, "flows.pipeline": {"ecom_pipeline.quality"}}
    assert upward_imports(graph) == ["ecom_pipeline.quality -> flows.pipeline"]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": set(), "c": {"a"}}, None),
    ],
)
def test_the_cycle_search_finds_a_cycle_and_only_a_cycle(
    graph: dict[str, set[str]], expected: list[str] | None
) -> None:
    assert find_cycle(graph) == expected
