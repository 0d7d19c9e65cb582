"""Grow triggers of automations: a zone left its band, is back in band, changed stage.

Each trigger names its zone by config entry id (``options: {zone: ...}``) and follows
the zone itself rather than one of its entities, so "in band" is exactly the zone's
``vpd_status`` and a renamed entity changes nothing. A zone's first values after it
loads are a baseline, not a change: a restart never fires "left its band".
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, cast, override

from homeassistant.const import CONF_OPTIONS
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.trigger import (
    Trigger,
    TriggerActionRunner,
    TriggerConfig,
    TriggerNotTriggeredReporter,
)
from homeassistant.helpers.typing import ConfigType
import probatio

from .growth_stages import GrowthStage
from .zone import GrowZone, VpdStatus
from .zone_follower import CONF_ZONE, ZoneFollower, validate_zone

CONF_TO = "to"

OUT_OF_BAND = frozenset({VpdStatus.TOO_LOW, VpdStatus.TOO_HIGH})


class _ZoneTrigger(Trigger):
    """A trigger that watches one value of a zone and fires on the changes it wants."""

    _extra_options: ClassVar[Mapping[probatio.Marker, Any]] = MappingProxyType({})

    @override
    @classmethod
    async def async_validate_config(cls, hass: HomeAssistant, config: ConfigType) -> ConfigType:
        """The zone must be a RALA grow zone; unknown options are refused."""
        schema = probatio.Schema(
            {
                probatio.Required(CONF_OPTIONS): {
                    probatio.Required(CONF_ZONE): lambda value: validate_zone(hass, value),
                    **cls._extra_options,
                }
            }
        )
        return cast(ConfigType, schema(config))

    def __init__(self, hass: HomeAssistant, config: TriggerConfig) -> None:
        """Remember the zone and the options."""
        super().__init__(hass, config)
        self._options: dict[str, Any] = config.options or {}
        self._last: object = None

    @abc.abstractmethod
    def _value(self, zone: GrowZone) -> object:
        """The value of the zone the trigger watches; ``None`` while it has none."""

    @abc.abstractmethod
    def _fires(self, old: object, new: object) -> bool:
        """Whether a change of the watched value from ``old`` to ``new`` fires."""

    @abc.abstractmethod
    def _description(self, zone: GrowZone) -> str:
        """What fired, for the automation's trace and logbook."""

    @override
    async def async_attach_runner(
        self,
        run_action: TriggerActionRunner,
        did_not_trigger: TriggerNotTriggeredReporter | None = None,
    ) -> CALLBACK_TYPE:
        """Follow the zone; run the action on each change the trigger wants."""

        @callback
        def baseline(zone: GrowZone) -> None:
            self._last = self._value(zone)

        @callback
        def zone_changed(zone: GrowZone) -> None:
            new = self._value(zone)
            # An unavailable zone keeps the last known value: silent sensors neither
            # leave nor re-enter a band, the first valid reading after them may.
            if new is None or new == self._last:
                return
            old, self._last = self._last, new
            if self._fires(old, new):
                payload = {
                    CONF_ZONE: self._options[CONF_ZONE],
                    "zone_name": zone.name,
                    "from": None if old is None else str(old),
                    CONF_TO: str(new),
                }
                run_action(payload, self._description(zone))

        follower = ZoneFollower(self._hass, self._options[CONF_ZONE], zone_changed)
        return follower.async_start(baseline)


class LeftBandTrigger(_ZoneTrigger):
    """The zone's VPD left its band: in range before, too low or too high now."""

    @override
    def _value(self, zone: GrowZone) -> object:
        return zone.vpd_status

    @override
    def _fires(self, old: object, new: object) -> bool:
        return old is VpdStatus.IN_RANGE and new in OUT_OF_BAND

    @override
    def _description(self, zone: GrowZone) -> str:
        return f"grow zone {zone.name} left its VPD band"


class BackInBandTrigger(_ZoneTrigger):
    """The zone's VPD is back in its band after being too low or too high."""

    @override
    def _value(self, zone: GrowZone) -> object:
        return zone.vpd_status

    @override
    def _fires(self, old: object, new: object) -> bool:
        return old in OUT_OF_BAND and new is VpdStatus.IN_RANGE

    @override
    def _description(self, zone: GrowZone) -> str:
        return f"grow zone {zone.name} back in its VPD band"


class GrowthStageChangedTrigger(_ZoneTrigger):
    """The zone's growth stage changed, optionally only to the given stages."""

    _extra_options = MappingProxyType(
        {
            probatio.Optional(CONF_TO): probatio.All(
                probatio.EnsureList(), probatio.Length(min=1), [probatio.In(list(GrowthStage))]
            )
        }
    )

    @override
    def _value(self, zone: GrowZone) -> object:
        return zone.growth_stage

    @override
    def _fires(self, old: object, new: object) -> bool:
        wanted = self._options.get(CONF_TO)
        return old is not None and (wanted is None or new in wanted)

    @override
    def _description(self, zone: GrowZone) -> str:
        return f"growth stage of grow zone {zone.name} changed"


TRIGGERS: dict[str, type[Trigger]] = {
    "left_band": LeftBandTrigger,
    "back_in_band": BackInBandTrigger,
    "growth_stage_changed": GrowthStageChangedTrigger,
}


async def async_get_triggers(hass: HomeAssistant) -> dict[str, type[Trigger]]:
    """The grow triggers of RALA."""
    return TRIGGERS
