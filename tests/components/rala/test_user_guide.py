"""The user guide keeps up with the integration: every field, action, stage and repair."""

import json
from pathlib import Path
import re

from homeassistant.util.yaml import load_yaml
import pytest

from custom_components.rala.const import (
    ACTUATOR_MIN_OFF,
    ACTUATOR_MIN_ON,
    DEFAULT_LEAF_OFFSET,
    DEFAULT_MAX_HUMIDITY,
    DEFAULT_MAX_INPUT_AGE,
    DEFAULT_MAX_TEMPERATURE,
    MAX_CYCLE_TIME,
    MAX_LEAF_OFFSET,
    MAX_MAX_HUMIDITY,
    MAX_MAX_INPUT_AGE,
    MAX_MAX_TEMPERATURE,
    MAX_PHOTOPERIOD,
    MAX_TARGET_TEMPERATURE,
    MAX_TARGET_VPD,
    MIN_CYCLE_TIME,
    MIN_LEAF_OFFSET,
    MIN_MAX_HUMIDITY,
    MIN_MAX_INPUT_AGE,
    MIN_MAX_TEMPERATURE,
    MIN_PHOTOPERIOD,
    MIN_TARGET_TEMPERATURE,
    MIN_TARGET_VPD,
    TEMPERATURE_TOLERANCE,
    ActuatorKind,
)
from custom_components.rala.control import modes_for
from custom_components.rala.growth_stages import STAGE_TARGETS

ROOT = Path(__file__).parents[3]
INTEGRATION = ROOT / "custom_components" / "rala"
GUIDE_PATH = ROOT / "docs" / "user-guide.md"
GUIDE = GUIDE_PATH.read_text(encoding="utf-8")
STRINGS = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))


FLAT_GUIDE = " ".join(GUIDE.split())
# The guide writes ranges with an en dash and negative numbers with a minus sign.
DASH = "\u2013"
MINUS = "\u2212"


def _kpa(value: float) -> str:
    """A pressure as the guide writes it: one decimal at least (1.0, 0.95)."""
    return f"{value:.1f}" if round(value, 1) == value else f"{value:.2f}"


def _form_labels() -> list[str]:
    """The English labels of every field of every config, reconfigure and options form."""
    labels = [
        label
        for step in STRINGS["config"]["step"].values()
        for label in step.get("data", {}).values()
    ]
    options = STRINGS["options"]["step"]["init"]
    labels.extend(options["data"].values())
    for section in options["sections"].values():
        labels.append(section["name"])
        labels.extend(section["data"].values())
    return labels


@pytest.mark.parametrize("label", sorted(set(_form_labels())))
def test_every_form_field_is_documented(label: str) -> None:
    """Growers find each field of the set-up, reconfigure and options forms in the guide."""
    assert label.lower() in GUIDE.lower()


def test_every_action_field_is_documented() -> None:
    """Each action and each of its fields, as written in YAML."""
    services = load_yaml(INTEGRATION / "services.yaml")
    assert isinstance(services, dict)
    for action, spec in services.items():
        assert f"`rala.{action}`" in GUIDE
        for field in spec["fields"]:
            assert f"`{field}`" in GUIDE, f"{action}.{field}"


def test_growth_stage_table_matches_the_code() -> None:
    """The table of stages shows the targets the integration applies."""
    rows = {
        cells[0]: cells[1:]
        for line in GUIDE.splitlines()
        if line.startswith("| ")
        and (cells := [cell.strip() for cell in line.strip("|").split("|")])
    }
    for stage, targets in STAGE_TARGETS.items():
        name = STRINGS["entity"]["select"]["growth_stage"]["state"][stage.value]
        day, night, band, target = rows[name]
        assert day == f"{targets.day_temperature_c:g} °C", stage
        assert night == f"{targets.night_temperature_c:g} °C", stage
        assert band.startswith(f"{_kpa(targets.vpd_low_kpa)}{DASH}{_kpa(targets.vpd_high_kpa)} kPa")
        assert target.startswith(f"{_kpa(targets.vpd_target_kpa)} kPa"), stage
        assert ("(air)" in band) is (not targets.vpd_is_leaf), stage


def test_numbers_in_the_guide_are_the_integrations() -> None:
    """Defaults, ranges and safety limits quoted in the guide."""
    for quoted in (
        (
            f"| Leaf offset | {DEFAULT_LEAF_OFFSET:g} °C | {MINUS}{-MIN_LEAF_OFFSET:g} to "
            f"{MAX_LEAF_OFFSET:g} °C"
        ),
        f"{MIN_MAX_INPUT_AGE} to {MAX_MAX_INPUT_AGE:,} s".replace(",", " "),
        f"or {DEFAULT_MAX_INPUT_AGE} s for other sensors",
        f"{MIN_TARGET_TEMPERATURE:g}{DASH}{MAX_TARGET_TEMPERATURE:g} °C",
        f"{MIN_TARGET_VPD:g}{DASH}{MAX_TARGET_VPD:g} kPa",
        f"**{DEFAULT_MAX_TEMPERATURE:g} °C**",
        f"**{DEFAULT_MAX_HUMIDITY:g} % RH**",
        f"target ± {TEMPERATURE_TOLERANCE:g} °C",
        f"at least {ACTUATOR_MIN_ON:g} seconds",
        (
            f"| Maximum temperature | {DEFAULT_MAX_TEMPERATURE:g} °C | "
            f"{MIN_MAX_TEMPERATURE:g} to {MAX_MAX_TEMPERATURE:g} °C |"
        ),
        (
            f"| Maximum humidity | {DEFAULT_MAX_HUMIDITY:g} % | "
            f"{MIN_MAX_HUMIDITY:g} to {MAX_MAX_HUMIDITY:g} % |"
        ),
        (
            f"| Minimum on time | {ACTUATOR_MIN_ON:g} s | {MIN_CYCLE_TIME:g} to "
            f"{MAX_CYCLE_TIME:,.0f} s |".replace(",", " ")
        ),
        f"| Hours of light | empty | {MIN_PHOTOPERIOD:g} to {MAX_PHOTOPERIOD:g} h |",
    ):
        assert quoted in FLAT_GUIDE, quoted
    assert ACTUATOR_MIN_OFF == ACTUATOR_MIN_ON  # the guide quotes one minimum time for both


def test_every_climate_mode_is_documented() -> None:
    """The modes table lists every mode the climate entity can offer."""
    modes = modes_for(ActuatorKind)
    labels = {
        "off": "Off",
        "heat": "Heat",
        "cool": "Cool",
        "heat_cool": "Heat/Cool",
        "dry": "Dry",
        "fan_only": "Fan only",
        "auto": "Auto",
    }
    assert {mode.value for mode in modes} == set(labels)
    for label in labels.values():
        assert f"\n| {label} |" in GUIDE, label


def test_every_entity_and_repair_is_documented() -> None:
    """Entity names (switching counters by pattern) and repair titles."""
    for platform in STRINGS["entity"].values():
        for key, entity in platform.items():
            if "name" in entity and not key.endswith("_switchings"):
                assert entity["name"] in GUIDE, key
    for key, issue in STRINGS["issues"].items():
        title = re.sub(r"\{[a-z_]+\}", "…", issue["title"])
        assert f"**{title}**" in GUIDE or f"*{title}*" in GUIDE, key


def test_relative_links_resolve() -> None:
    """Links to other files of the repository point at files that exist."""
    for target in re.findall(r"\]\((?!https?://|#)([^)#]+)", GUIDE):
        assert (GUIDE_PATH.parent / target).exists(), target
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/user-guide.md)" in readme
