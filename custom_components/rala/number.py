"""Temperature and VPD targets of a grow zone for the day and the night, restored after restart.

Home Assistant (2026.10 and 2026.11) has no display precision for number entities: the
entity registry's ``display_precision`` and ``suggested_display_precision`` options reach
the frontend for sensors only, and a number's state is its float. A target is therefore
shown with the decimals it has (1 kPa, 1.05 kPa, 24.5 °C); the targets the integration
computes itself carry no more than those of their step (see ``climate.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import override

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import EntityCategory, UnitOfPressure, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import (
    MAX_TARGET_TEMPERATURE,
    MAX_TARGET_VPD,
    MIN_TARGET_TEMPERATURE,
    MIN_TARGET_VPD,
    TARGET_DAY_TEMPERATURE,
    TARGET_DAY_VPD,
    TARGET_NIGHT_TEMPERATURE,
    TARGET_NIGHT_VPD,
)
from .entity import GrowZoneEntity
from .models import RalaConfigEntry

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class TargetNumberDescription(NumberEntityDescription):
    """A target number; ``key`` is the name of the :class:`.zone.ZoneTargets` field."""


def _temperature(key: str) -> TargetNumberDescription:
    return TargetNumberDescription(
        key=key,
        translation_key=f"target_{key}",
        entity_category=EntityCategory.CONFIG,
        device_class=NumberDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        native_min_value=MIN_TARGET_TEMPERATURE,
        native_max_value=MAX_TARGET_TEMPERATURE,
        native_step=0.5,
        mode=NumberMode.BOX,
    )


def _vpd(key: str) -> TargetNumberDescription:
    return TargetNumberDescription(
        key=key,
        translation_key=f"target_{key}",
        entity_category=EntityCategory.CONFIG,
        device_class=NumberDeviceClass.PRESSURE,
        native_unit_of_measurement=UnitOfPressure.KPA,
        native_min_value=MIN_TARGET_VPD,
        native_max_value=MAX_TARGET_VPD,
        native_step=0.05,
        mode=NumberMode.BOX,
    )


TARGETS: tuple[TargetNumberDescription, ...] = (
    _temperature(TARGET_DAY_TEMPERATURE),
    _temperature(TARGET_NIGHT_TEMPERATURE),
    _vpd(TARGET_DAY_VPD),
    _vpd(TARGET_NIGHT_VPD),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RalaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the target numbers of a zone."""
    zone = entry.runtime_data.zone
    async_add_entities(TargetNumber(zone, description) for description in TARGETS)


class TargetNumber(GrowZoneEntity, RestoreNumber):
    """One of the zone's targets; the zone holds the value, this entity restores it."""

    entity_description: TargetNumberDescription

    @override
    async def async_added_to_hass(self) -> None:
        """Push the value from before the restart into the zone."""
        await super().async_added_to_hass()
        last = await self.async_get_last_number_data()
        if last is None or last.native_value is None:
            return
        try:
            self.zone.async_set_targets(**{self.entity_description.key: last.native_value})
        except ValueError as err:
            _LOGGER.warning(
                "Grow zone %s: not restoring %s: %s", self.zone.name, self.entity_id, err
            )

    @property
    @override
    def native_value(self) -> float:
        """The target in °C or kPa."""
        value: float = getattr(self.zone.targets, self.entity_description.key)
        return value

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Set the target (HA already checked it against min and max)."""
        self.zone.async_set_targets(**{self.entity_description.key: value})
