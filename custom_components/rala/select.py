"""Growth stage of a grow zone: choosing one applies its literature targets."""

from __future__ import annotations

from typing import override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .entity import GrowZoneEntity
from .growth_stages import GrowthStage
from .models import RalaConfigEntry

PARALLEL_UPDATES = 0

GROWTH_STAGE = SelectEntityDescription(
    key="growth_stage",
    translation_key="growth_stage",
    entity_category=EntityCategory.CONFIG,
    options=[stage.value for stage in GrowthStage],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RalaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the growth stage select of a zone."""
    async_add_entities([GrowthStageSelect(entry.runtime_data.zone, GROWTH_STAGE)])


class GrowthStageSelect(GrowZoneEntity, SelectEntity, RestoreEntity):
    """The zone's growth stage, restored after a restart."""

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the stage without overwriting the targets restored by the numbers."""
        await super().async_added_to_hass()
        last_state = await self.async_get_last_state()
        if last_state is not None and last_state.state in GrowthStage:
            self.zone.async_set_growth_stage(GrowthStage(last_state.state), apply_targets=False)

    @property
    @override
    def current_option(self) -> str:
        """The current stage."""
        return self.zone.growth_stage.value

    @override
    async def async_select_option(self, option: str) -> None:
        """Choose a stage and apply its targets."""
        self.zone.async_set_growth_stage(GrowthStage(option))
