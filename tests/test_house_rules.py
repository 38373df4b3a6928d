"""The house rules of `sim`, checked on its source: rooms that import one way, brokers that stay
models, private names that stay private, and no dispatch on a broker's type outside sim/brokers.

A room is a top-level module (sim/kernel.py), a sub-package (sim/scenario/), each broker
package (sim/brokers/kafka/), and each module directly in sim/brokers/ (registry.py, base.py),
so the registry may import the broker packages while they import the shared base. Imports
count wherever they are: inside functions, under TYPE_CHECKING, and through
`importlib.import_module` with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

import sim
from tests.helpers import ROOT

SIM = ROOT / "sim"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in SIM.rglob("*.py")}


def room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "sim"  # the package's facade: re-exports only
    if parts[1] == "brokers" and len(parts) > 2:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def imports(path: Path) -> Iterator[tuple[str, ast.AST]]:
    """Every module name `path` imports, with the node (every import, wherever it is)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield name, node
            for alias in node.names:
                yield f"{name}.{alias.name}", node
        elif isinstance(node, ast.Call):
            func = node.func
            called = getattr(func, "attr", getattr(func, "id", ""))
            if called == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
                yield str(node.args[0].value), node


def resolve(name: str) -> str | None:
    """The sim module `name` refers to (a module, or a name inside one), else None."""
    while name and name not in MODULES:
        name = name.rsplit(".", 1)[0] if "." in name else ""
    return name or None


def room_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        for name, node in imports(path):
            target = resolve(name) if name.startswith("sim") else None
            if target is None:
                continue
            a, b = room(module), room(target)
            if a != b:
                graph.add_edge(a, b, where=f"{module} -> {target} (line {node.lineno})")
    return graph


def test_no_import_cycles_between_rooms() -> None:
    graph = room_graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    details = []
    for cycle in cycles:
        sub = graph.subgraph(cycle)
        details += [f"{a} -> {b}: {d['where']}" for a, b, d in sub.edges(data=True)]
    assert not cycles, "\n".join(details)


def test_no_room_imports_the_facade() -> None:
    """`import sim` re-exports; a room importing it would import everything."""
    for module, path in MODULES.items():
        if module == "sim":
            continue
        for name, node in imports(path):
            assert name != "sim" and not name.startswith("sim.__"), f"{module}: line {node.lineno}"


def broker_packages() -> list[str]:
    return sorted(
        {
            room(m)
            for m in MODULES
            if room(m).count(".") == 2 and (SIM / "brokers" / room(m).split(".")[2]).is_dir()
        }
    )


def test_the_scenario_package_imports_no_broker_package() -> None:
    for module, path in MODULES.items():
        if room(module) != "sim.scenario":
            continue
        for name, node in imports(path):
            target = resolve(name) if name.startswith("sim") else None
            assert target is None or room(target) not in broker_packages(), (
                f"{module} line {node.lineno} imports {target}: go through sim.brokers.registry"
            )


FORBIDDEN_FOR_BROKERS = ("sim.viz", "sim.cli", "sim.experiments", "matplotlib")


@pytest.mark.parametrize("package", broker_packages())
def test_brokers_never_import_plotting_the_cli_or_experiments(package: str) -> None:
    for module, path in MODULES.items():
        if room(module) != package:
            continue
        for name, node in imports(path):
            bad = [f for f in FORBIDDEN_FOR_BROKERS if name == f or name.startswith(f + ".")]
            assert not bad, f"{module} line {node.lineno} imports {name}"


def test_no_private_name_of_a_broker_package_is_used_outside_it() -> None:
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            target = resolve(node.module)
            if target is None or room(target) not in broker_packages():
                continue
            if room(module) == room(target):
                continue
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{module} line {node.lineno} imports {private} from {target}"


def test_no_broker_type_name_is_used_for_dispatch_outside_the_brokers() -> None:
    """A string equal to a registered type (`"kafka"`) outside sim/brokers/ would be a
    decision taken by name instead of through the broker's spec."""
    types = set(sim.broker_types())
    for module, path in MODULES.items():
        if module.startswith("sim.brokers"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in types:
                pytest.fail(f"{module} line {node.lineno}: the broker type {node.value!r}")


def test_a_broker_is_one_package_and_one_registry_line() -> None:
    from sim.brokers import registry

    for broker_type, spec in registry.SPECS.items():
        package = spec.section.__module__.rsplit(".", 1)[0]
        assert package == f"sim.brokers.{broker_type}", broker_type
        for model in (spec.producer, spec.consumer, spec.section):
            assert model.__module__.startswith(package + "."), model
        assert (SIM / "brokers" / broker_type / "spec.py").is_file()
