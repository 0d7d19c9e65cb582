"""The integration's pure modules import the standard library only (and each other).

No Home Assistant, no MQTT: they can be tested and reused on their own (the bench and the
simulator use them outside Home Assistant).
"""

import ast
from pathlib import Path
import sys

import pytest

PURE_MODULES = frozenset(
    {
        "announcement",
        "backfill",
        "bands",
        "bounded_json",
        "const",
        "control",
        "controller",
        "derived",
        "growth_stages",
        "metrics",
        "node_protocol",
        "psychrometrics",
        "unique_ids",
        "zone_config",
    }
)
PACKAGE = Path(__file__).parents[3] / "custom_components" / "rala"


@pytest.mark.parametrize("module", sorted(PURE_MODULES))
def test_module_is_pure(module: str) -> None:
    """Standard library imports, and relative imports of other pure modules only."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    standard: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            standard.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.module is not None
            if node.level:
                assert node.level == 1, node.module
                assert node.module in PURE_MODULES, node.module
            else:
                standard.add(node.module.split(".")[0])
    assert standard
    assert standard <= set(sys.stdlib_module_names), standard - set(sys.stdlib_module_names)
