"""No module of the integration imports a module that imports it, not even for typing.

Data flows one way: the zone does not know the backfill of its readings (``history``), and
the backfill does not know the zone; what it needs comes in a frozen configuration.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[3] / "custom_components" / "rala"


def _imports(module: Path) -> set[str]:
    """The modules of the package that ``module`` imports, at run time or for typing."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:  # from . import psychrometrics
                imported.update(alias.name for alias in node.names)
            else:
                imported.add(node.module.split(".")[0])
    return imported


def _graph() -> dict[str, set[str]]:
    return {module.stem: _imports(module) for module in PACKAGE.glob("*.py")}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        if (module := todo.pop()) not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen


def test_no_import_cycles() -> None:
    """Every module's imports, followed to the end, never lead back to it."""
    graph = _graph()
    assert {"history", "zone", "backfill", "node_protocol"} <= graph.keys()
    cycles = sorted(module for module in graph if module in _reachable(graph, module))
    assert cycles == []


def test_history_and_zone_do_not_know_each_other() -> None:
    """The zone builds the backfill's configuration from pure modules; neither imports the other."""
    graph = _graph()
    assert "zone" not in _reachable(graph, "history")
    assert "history" not in _reachable(graph, "zone")


def test_the_check_finds_a_cycle() -> None:
    """The search above can fail: a made-up pair that imports each other is found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [module for module in graph if module in _reachable(graph, module)] == ["a", "b", "c"]
