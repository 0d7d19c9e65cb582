"""Growth stages: every stage has consistent, reachable default targets."""

import dataclasses
import math
from typing import Any

import pytest

from custom_components.rala.growth_stages import STAGE_TARGETS, GrowthStage, StageTargets
from custom_components.rala.psychrometrics import relative_humidity_for_vpd, vpd_air


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Pure module: no Home Assistant instance is needed, so none is started."""


def test_stage_keys_are_stable() -> None:
    """The values are stored in options and used as translation keys: they must not drift."""
    assert [stage.value for stage in GrowthStage] == [
        "seedling",
        "vegetative",
        "early_flower",
        "late_flower",
        "drying",
    ]
    assert GrowthStage("early_flower") is GrowthStage.EARLY_FLOWER


def test_every_stage_has_targets() -> None:
    """No stage is missing and nothing else is in the table."""
    assert set(STAGE_TARGETS) == set(GrowthStage)


def test_table_is_read_only() -> None:
    """Nobody can change the defaults at run time by accident."""
    with pytest.raises(TypeError):
        STAGE_TARGETS[GrowthStage.SEEDLING] = STAGE_TARGETS[GrowthStage.DRYING]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        STAGE_TARGETS[GrowthStage.SEEDLING].vpd_target_kpa = 3.0  # type: ignore[misc]


@pytest.mark.parametrize("stage", list(GrowthStage))
def test_bands_are_consistent(stage: GrowthStage) -> None:
    """Low < target < high, target mid-band, night no warmer than day, plausible values."""
    targets = STAGE_TARGETS[stage]
    assert 0.0 < targets.vpd_low_kpa < targets.vpd_target_kpa < targets.vpd_high_kpa < 2.0
    assert targets.vpd_target_kpa == pytest.approx((targets.vpd_low_kpa + targets.vpd_high_kpa) / 2)
    assert targets.vpd_band_kpa == (targets.vpd_low_kpa, targets.vpd_high_kpa)
    assert targets.night_temperature_c <= targets.day_temperature_c
    assert 15.0 <= targets.night_temperature_c <= targets.day_temperature_c <= 30.0


@pytest.mark.parametrize("stage", [s for s in GrowthStage if STAGE_TARGETS[s].vpd_is_leaf])
@pytest.mark.parametrize("period", ["day", "night"])
def test_leaf_vpd_band_reachable_with_default_leaf_offset(stage: GrowthStage, period: str) -> None:
    """Every band edge can be reached at the stage's temperatures with a sensible RH."""
    targets = STAGE_TARGETS[stage]
    t_air_c = targets.day_temperature_c if period == "day" else targets.night_temperature_c
    for vpd in (targets.vpd_low_kpa, targets.vpd_target_kpa, targets.vpd_high_kpa):
        assert 10.0 < relative_humidity_for_vpd(vpd, t_air_c) < 95.0


def test_vpd_bands_rise_through_the_plant_life() -> None:
    """Young plants want moist air, flowering plants drier air."""
    living = [GrowthStage.SEEDLING, GrowthStage.VEGETATIVE]
    living += [GrowthStage.EARLY_FLOWER, GrowthStage.LATE_FLOWER]
    targets = [STAGE_TARGETS[stage].vpd_target_kpa for stage in living]
    assert targets == sorted(targets)
    assert len(set(targets)) == len(targets)


def test_drying_is_defined_by_rh_and_air_vpd() -> None:
    """Drying: 55-62 % RH at 18-21 °C; its VPD band is an air VPD matching that RH band."""
    drying = STAGE_TARGETS[GrowthStage.DRYING]
    assert drying.rh_band_percent == (55.0, 62.0)
    assert not drying.vpd_is_leaf
    assert 18.0 <= drying.night_temperature_c <= drying.day_temperature_c <= 21.0
    low_rh, high_rh = drying.rh_band_percent
    t_c = drying.day_temperature_c
    assert drying.vpd_low_kpa <= vpd_air(t_c, high_rh) <= vpd_air(t_c, low_rh)
    assert vpd_air(t_c, low_rh) <= drying.vpd_high_kpa
    target_rh = relative_humidity_for_vpd(drying.vpd_target_kpa, t_c, t_c)
    assert low_rh <= target_rh <= high_rh


def test_only_drying_has_an_rh_band() -> None:
    """Living stages are steered by leaf VPD, not by an RH band."""
    for stage, targets in STAGE_TARGETS.items():
        assert (targets.rh_band_percent is not None) == (stage is GrowthStage.DRYING)
        assert targets.vpd_is_leaf == (stage is not GrowthStage.DRYING)


VALID: dict[str, Any] = {
    "day_temperature_c": 25.0,
    "night_temperature_c": 20.0,
    "vpd_low_kpa": 0.8,
    "vpd_target_kpa": 1.0,
    "vpd_high_kpa": 1.2,
}


def test_valid_targets_construct() -> None:
    """The reference values used below are themselves valid, with and without an RH band."""
    assert StageTargets(**VALID).vpd_is_leaf
    assert StageTargets(**VALID, rh_band_percent=(0.0, 100.0)).rh_band_percent == (0.0, 100.0)
    assert StageTargets(**VALID | {"night_temperature_c": 25.0}).night_temperature_c == 25.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vpd_low_kpa": 1.0}, "low < target < high"),
        ({"vpd_high_kpa": 1.0}, "low < target < high"),
        ({"vpd_low_kpa": 1.1}, "low < target < high"),
        ({"vpd_target_kpa": 1.3}, "low < target < high"),
        ({"vpd_low_kpa": -0.1}, "0 <= low"),
        ({"night_temperature_c": 25.5}, r"night temperature 25\.5 °C is above"),
        ({"day_temperature_c": math.nan}, "day_temperature_c must be a finite number"),
        ({"night_temperature_c": -math.inf}, "night_temperature_c must be a finite number"),
        ({"vpd_high_kpa": math.inf}, "vpd_high_kpa must be a finite number"),
        ({"vpd_target_kpa": math.nan}, "vpd_target_kpa must be a finite number"),
        ({"vpd_low_kpa": math.nan}, "vpd_low_kpa must be a finite number"),
        ({"rh_band_percent": (62.0, 55.0)}, "RH band must satisfy"),
        ({"rh_band_percent": (60.0, 60.0)}, "RH band must satisfy"),
        ({"rh_band_percent": (-1.0, 60.0)}, "RH band must satisfy"),
        ({"rh_band_percent": (50.0, 100.5)}, "RH band must satisfy"),
    ],
)
def test_inconsistent_targets_rejected(changes: dict[str, object], message: str) -> None:
    """Targets that contradict themselves cannot be built."""
    with pytest.raises(ValueError, match=message):
        StageTargets(**(VALID | changes))
