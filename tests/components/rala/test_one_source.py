"""One name per idea: actuator kinds and control defaults are written in one place each.

The integration spells the kinds once (``const.ActuatorKind`` and the node-only pump); the
option keys and the announcement's kinds are derived from them, and they equal the edge
agent's own kinds. Each control default is a literal in one module only; everywhere else
(the engine's settings, the bench) it is imported.
"""

import ast
from collections.abc import Iterator
from pathlib import Path
import re

import pytest

from custom_components.rala import announcement, const
from custom_components.rala.control import EXCLUSIVE_PARTNER, SAFETY_OFF_KINDS, ControlSettings
from edge_agent.config import (
    EXCLUSIVE_KINDS as AGENT_EXCLUSIVE_KINDS,
    FAIL_SAFE_OFF_KINDS as AGENT_FAIL_SAFE_OFF_KINDS,
    ActuatorKind as AgentActuatorKind,
)

ROOT = Path(__file__).parents[3]
SOURCES = sorted((ROOT / "custom_components" / "rala").glob("*.py")) + sorted(
    (ROOT / "bench").glob("*.py")
)


def test_kinds_equal_the_agents() -> None:
    """A node announces exactly the kinds the integration knows, pump included."""
    assert {kind.value for kind in AgentActuatorKind} == const.NODE_ACTUATOR_KINDS
    assert announcement.ACTUATOR_KINDS == const.NODE_ACTUATOR_KINDS


def test_the_node_and_the_zone_protect_the_same_kinds() -> None:
    """The node's interlocks and link-loss fail-safe are the engine's pairs and safety offs."""
    assert {str(kind): str(partner) for kind, partner in EXCLUSIVE_PARTNER.items()} == {
        str(kind): str(partner) for kind, partner in AGENT_EXCLUSIVE_KINDS.items()
    }
    assert {str(kind) for kind in SAFETY_OFF_KINDS} == {
        str(kind) for kind in AGENT_FAIL_SAFE_OFF_KINDS
    }


def test_option_keys_are_the_kinds() -> None:
    """A zone maps every kind but the pump, under the kind's value, in the kinds' order."""
    assert tuple(kind.value for kind in const.ActuatorKind) == const.ACTUATOR_KEYS
    assert const.PUMP not in const.ACTUATOR_KEYS
    assert set(const.ACTUATOR_KEYS) | {const.PUMP} == const.NODE_ACTUATOR_KINDS


def test_engine_defaults_are_the_zones() -> None:
    """The engine's defaults are the zone's option defaults."""
    settings = ControlSettings()
    assert settings.max_temperature == const.DEFAULT_MAX_TEMPERATURE
    assert settings.max_humidity == const.DEFAULT_MAX_HUMIDITY
    assert settings.stale_after == const.DEFAULT_MAX_INPUT_AGE
    assert settings.leaf_offset == const.DEFAULT_LEAF_OFFSET


# Each idea: the module and name that holds its literal, and the names that carry it.
DEFAULTS = {
    "leaf offset": ("psychrometrics", "DEFAULT_LEAF_OFFSET_C", r"(default_)?leaf_offset(_c)?"),
    "maximum temperature": ("const", "DEFAULT_MAX_TEMPERATURE", r"(default_)?max_temperature"),
    "maximum humidity": ("const", "DEFAULT_MAX_HUMIDITY", r"(default_)?max_humidity"),
    "maximum input age": ("const", "DEFAULT_MAX_INPUT_AGE", r"default_max_input_age|stale_after"),
    "temperature tolerance": ("const", "TEMPERATURE_TOLERANCE", r"temperature_tolerance"),
    "minimum on time": ("const", "ACTUATOR_MIN_ON", r"actuator_min_on|min_cycle"),
    "minimum off time": ("const", "ACTUATOR_MIN_OFF", r"actuator_min_off"),
}


def _numeric_literal(node: ast.expr | None) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def _literal_assignments(tree: ast.Module) -> Iterator[str]:
    """Names given a numeric literal: module and class constants, fields, argument defaults."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _numeric_literal(node.value):
            yield from (t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and _numeric_literal(node.value):
            if isinstance(node.target, ast.Name):
                yield node.target.id
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            positional = [*arguments.posonlyargs, *arguments.args]
            with_default = positional[len(positional) - len(arguments.defaults) :]
            pairs = [
                *zip(with_default, arguments.defaults, strict=True),
                *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
            ]
            yield from (arg.arg for arg, default in pairs if _numeric_literal(default))


@pytest.mark.parametrize("idea", sorted(DEFAULTS))
def test_each_default_has_one_source(idea: str) -> None:
    """The default is a literal in its source module only; elsewhere it is imported."""
    module, name, pattern = DEFAULTS[idea]
    carriers = re.compile(pattern, re.IGNORECASE)
    literals = [
        (source.parent.name, source.stem, assigned)
        for source in SOURCES
        for assigned in _literal_assignments(ast.parse(source.read_text(encoding="utf-8")))
        if carriers.fullmatch(assigned)
    ]
    assert literals == [("rala", module, name)]
