"""quality_scale.yaml tracks every rule of Home Assistant's integration quality scale."""

from pathlib import Path
import re
from typing import Any

import homeassistant.components
from homeassistant.util.yaml import load_yaml

ROOT = Path(__file__).parents[3]
STATUSES = {"done", "todo", "exempt"}


def _rules(path: Path) -> dict[str, Any]:
    loaded = load_yaml(path)
    assert isinstance(loaded, dict)
    rules = loaded["rules"]
    assert isinstance(rules, dict)
    return rules


def _status(rule: object) -> tuple[str, str | None]:
    """A rule is a bare status or a mapping with status and comment."""
    if isinstance(rule, str):
        return rule, None
    assert isinstance(rule, dict)
    return rule["status"], rule.get("comment")


def test_every_rule_of_the_scale_is_tracked() -> None:
    """The same rules as the core integrations of the installed Home Assistant track."""
    core = Path(homeassistant.components.__file__).parent
    known = {rule for path in core.glob("*/quality_scale.yaml") for rule in _rules(path)}
    assert len(known) > 40  # the scale, not a handful of files
    assert set(_rules(ROOT / "custom_components" / "rala" / "quality_scale.yaml")) == known


def test_every_rule_has_an_honest_status() -> None:
    """Known statuses; what is not done says why; documentation points at existing files."""
    for name, rule in _rules(ROOT / "custom_components" / "rala" / "quality_scale.yaml").items():
        status, comment = _status(rule)
        assert status in STATUSES, name
        if status != "done":
            assert comment, f"{name} is {status} without a reason"
        if name.startswith("docs-") and status == "done":
            assert comment, f"{name}: say where it is documented"
            documents = re.findall(r"[\w/.-]+\.md\b", comment)
            assert documents, f"{name}: name the document"
            for document in documents:
                assert (ROOT / document).is_file(), f"{name}: {document}"
