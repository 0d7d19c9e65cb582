"""Config flow of the RALA integration: one config entry per grow zone.

- ``mqtt``: a RALA edge node announced itself on ``rala/<node>/node``; the flow offers
  its zones one at a time and binds the zone to the node's MQTT entities, resolved from
  the announced unique_ids through the entity registry (waiting for them if needed).
- ``user``: a zone from any temperature and humidity sensors already in Home Assistant.
- ``reconfigure``: change the input entities of a zone.
- options: leaf offset, maximum input age, hard limits, minimum on/off times, light
  schedule, actuator mapping, and the live targets.

Config entry data holds what the zone is (name, inputs, node binding); options hold how it
behaves (leaf offset, input age, actuators). Targets are runtime state of the zone, kept by
its number entities; the options form shows and changes them but does not store them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import logging
from typing import Any, override

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_MQTT,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    FlowType,
    OptionsFlowWithReload,
)
from homeassistant.core import Event, callback
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.helpers import entity_registry as er, selector
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from homeassistant.util import slugify
from homeassistant.util.hass_dict import HassKey
import probatio

from .announcement import (
    REASON_EMPTY,
    REASON_UNSUPPORTED_SCHEMA,
    Announcement,
    AnnouncementError,
    ZoneBinding,
    parse_announcement,
)
from .const import (
    ACTUATOR_DOMAINS,
    ACTUATOR_KEYS,
    ACTUATOR_MIN_OFF,
    ACTUATOR_MIN_ON,
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_LEAF_TEMPERATURE_ENTITY,
    CONF_LIGHTS_ON_TIME,
    CONF_MAX_HUMIDITY,
    CONF_MAX_INPUT_AGE,
    CONF_MAX_TEMPERATURE,
    CONF_MIN_OFF_TIME,
    CONF_MIN_ON_TIME,
    CONF_NODE_ACTUATOR_TIMINGS,
    CONF_NODE_AVAILABILITY_TOPIC,
    CONF_NODE_DEVICE_IDENTIFIER,
    CONF_NODE_ID,
    CONF_NODE_SAMPLE_INTERVAL,
    CONF_NODE_SENSOR,
    CONF_NODE_UNIQUE_IDS,
    CONF_NODE_ZONE,
    CONF_PHOTOPERIOD,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DEFAULT_LEAF_OFFSET,
    DEFAULT_MAX_HUMIDITY,
    DEFAULT_MAX_TEMPERATURE,
    DOMAIN,
    ENTITY_WAIT_TIMEOUT,
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
    MQTT_PLATFORM,
    TARGET_DAY_TEMPERATURE,
    TARGET_DAY_VPD,
    TARGET_KEYS,
    TARGET_NIGHT_TEMPERATURE,
    TARGET_NIGHT_VPD,
)
from .node_protocol import node_id_from_announcement_topic
from .repairs import async_clear_unsupported_schema, async_raise_unsupported_schema
from .zone import GrowZone, announced_actuator_entity_id

_LOGGER = logging.getLogger(__name__)

REJECTED_ANNOUNCEMENTS: HassKey[dict[str, int]] = HassKey(f"{DOMAIN}_rejected_announcements")
"""Announcements refused since Home Assistant started, by node id (for diagnostics)."""

# Optional options: stored only when given; the defaults apply otherwise.
OPTIONAL_SETTINGS = (
    CONF_MAX_INPUT_AGE,
    CONF_MAX_TEMPERATURE,
    CONF_MAX_HUMIDITY,
    CONF_MIN_ON_TIME,
    CONF_MIN_OFF_TIME,
    CONF_LIGHTS_ON_TIME,
    CONF_PHOTOPERIOD,
)
SETTING_DEFAULTS: dict[str, float] = {
    CONF_MAX_TEMPERATURE: DEFAULT_MAX_TEMPERATURE,
    CONF_MAX_HUMIDITY: DEFAULT_MAX_HUMIDITY,
    CONF_MIN_ON_TIME: ACTUATOR_MIN_ON,
    CONF_MIN_OFF_TIME: ACTUATOR_MIN_OFF,
}
SECTION_ACTUATORS = "actuators"
SECTION_TARGETS = "targets"
# The quantities of an announced sensor a zone uses, and the data keys they resolve to.
SENSOR_QUANTITIES = {"temperature": CONF_TEMPERATURE_ENTITY, "humidity": CONF_HUMIDITY_ENTITY}


def _sensor_selector(device_class: SensorDeviceClass) -> selector.EntitySelector:
    return selector.EntitySelector(
        selector.EntitySelectorConfig(domain="sensor", device_class=device_class)
    )


INPUTS_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_TEMPERATURE_ENTITY): _sensor_selector(SensorDeviceClass.TEMPERATURE),
        probatio.Required(CONF_HUMIDITY_ENTITY): _sensor_selector(SensorDeviceClass.HUMIDITY),
        probatio.Optional(CONF_LEAF_TEMPERATURE_ENTITY): _sensor_selector(
            SensorDeviceClass.TEMPERATURE
        ),
    }
)
USER_SCHEMA = probatio.Schema({probatio.Required(CONF_ZONE_NAME): selector.TextSelector()}).extend(
    INPUTS_SCHEMA.schema
)


def _number(minimum: float, maximum: float, step: float, unit: str) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=minimum,
            max=maximum,
            step=step,
            unit_of_measurement=unit,
            mode=selector.NumberSelectorMode.BOX,
        )
    )


def zone_unique_id(node_id: str | None, zone: str) -> str:
    """The unique_id of a zone: per node and zone name, or per name for a user zone."""
    if node_id is None:
        return f"zone_{slugify(zone)}"
    return f"{node_id}_{slugify(zone)}"


def _validate_inputs(user_input: Mapping[str, Any]) -> dict[str, str]:
    inputs = [
        user_input[CONF_TEMPERATURE_ENTITY],
        user_input[CONF_HUMIDITY_ENTITY],
        *([leaf] if (leaf := user_input.get(CONF_LEAF_TEMPERATURE_ENTITY)) else []),
    ]
    if len(set(inputs)) != len(inputs):
        return {"base": "same_entity"}
    return {}


def _resolve_entity_id(registry: er.EntityRegistry, key: str, unique_id: str) -> str | None:
    """The entity id of an announced MQTT unique_id (sensor quantity or actuator kind)."""
    if key in SENSOR_QUANTITIES:
        return registry.async_get_entity_id("sensor", MQTT_PLATFORM, unique_id)
    return announced_actuator_entity_id(registry, unique_id)


def _announced_unique_ids(binding: ZoneBinding) -> dict[str, str]:
    """The unique_ids a zone binds to: temperature, humidity and one per actuator kind."""
    unique_ids = {quantity: binding.sensor.unique_ids[quantity] for quantity in SENSOR_QUANTITIES}
    unique_ids.update({kind: actuator.unique_id for kind, actuator in binding.actuators.items()})
    return unique_ids


class RalaConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create a grow zone."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with no discovered node."""
        self._announcement: Announcement | None = None
        self._binding: ZoneBinding | None = None
        self._wait_task: asyncio.Task[bool] | None = None

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> RalaOptionsFlow:
        """Options of a zone."""
        return RalaOptionsFlow()

    # --- user ---------------------------------------------------------------------------------

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create a zone from temperature and humidity entities the grower already has."""
        errors: dict[str, str] = {}
        if user_input is not None:
            await self.async_set_unique_id(zone_unique_id(None, user_input[CONF_ZONE_NAME]))
            self._abort_if_unique_id_configured()
            errors = _validate_inputs(user_input) or self._sensor_in_use(
                user_input[CONF_TEMPERATURE_ENTITY]
            )
            if not errors:
                return self.async_create_entry(
                    title=user_input[CONF_ZONE_NAME],
                    data=user_input,
                    options={CONF_LEAF_OFFSET: DEFAULT_LEAF_OFFSET},
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
            errors=errors,
        )

    def _sensor_in_use(
        self, temperature_entity_id: str, ignore: str | None = None
    ) -> dict[str, str]:
        for entry in self._async_current_entries(include_ignore=False):
            if entry.entry_id != ignore and (
                entry.data.get(CONF_TEMPERATURE_ENTITY) == temperature_entity_id
            ):
                return {CONF_TEMPERATURE_ENTITY: "sensor_in_use"}
        return {}

    # --- reconfigure --------------------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the input entities of a zone."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _validate_inputs(user_input) or self._sensor_in_use(
                user_input[CONF_TEMPERATURE_ENTITY], ignore=entry.entry_id
            )
            if not errors:
                data = {**entry.data, **user_input}
                if not user_input.get(CONF_LEAF_TEMPERATURE_ENTITY):
                    data.pop(CONF_LEAF_TEMPERATURE_ENTITY, None)
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                INPUTS_SCHEMA, user_input or entry.data
            ),
            errors=errors,
        )

    # --- MQTT discovery -----------------------------------------------------------------------

    @override
    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """A node announced itself (or changed, or withdrew) on ``rala/<node>/node``."""
        try:
            announcement = parse_announcement(discovery_info.payload, discovery_info.topic)
        except AnnouncementError as err:
            _LOGGER.debug("Ignoring announcement on %s: %s", discovery_info.topic, err)
            node_id = node_id_from_announcement_topic(discovery_info.topic) or discovery_info.topic
            if err.reason != REASON_EMPTY:
                rejected = self.hass.data.setdefault(REJECTED_ANNOUNCEMENTS, {})
                rejected[node_id] = rejected.get(node_id, 0) + 1
            if err.reason == REASON_UNSUPPORTED_SCHEMA and err.schema is not None:
                async_raise_unsupported_schema(self.hass, node_id, err.schema)
            return self.async_abort(reason=err.reason)
        async_clear_unsupported_schema(self.hass, announcement.node_id)

        bindings = announcement.zones()
        if not bindings:
            return self.async_abort(reason="no_zone")
        unconfigured: list[ZoneBinding] = []
        for binding in bindings:
            unique_id = zone_unique_id(announcement.node_id, binding.zone)
            entry = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
            if entry is None:
                unconfigured.append(binding)
            elif entry.source != SOURCE_IGNORE:
                self._update_configured_zone(entry, announcement, binding)
        if not unconfigured:
            return self.async_abort(reason="already_configured")

        self._announcement = announcement
        self._binding = unconfigured[0]
        await self.async_set_unique_id(zone_unique_id(announcement.node_id, self._binding.zone))
        self._abort_if_unique_id_configured()
        self.context["title_placeholders"] = {"name": f"{announcement.name} — {self._binding.zone}"}
        return await self.async_step_mqtt_confirm()

    def _node_data(self, announcement: Announcement, binding: ZoneBinding) -> dict[str, Any]:
        """What the config entry data records of the node."""
        return {
            CONF_NODE_ID: announcement.node_id,
            CONF_NODE_DEVICE_IDENTIFIER: announcement.device_identifier,
            CONF_NODE_ZONE: binding.zone,
            CONF_NODE_SENSOR: binding.sensor.key,
            CONF_NODE_AVAILABILITY_TOPIC: announcement.availability_topic,
            CONF_NODE_SAMPLE_INTERVAL: announcement.sample_interval,
            CONF_NODE_UNIQUE_IDS: _announced_unique_ids(binding),
            CONF_NODE_ACTUATOR_TIMINGS: {
                kind: [actuator.min_on or 0.0, actuator.min_off or 0.0]
                for kind, actuator in binding.actuators.items()
            },
        }

    @callback
    def _update_configured_zone(
        self, entry: ConfigEntry, announcement: Announcement, binding: ZoneBinding
    ) -> None:
        """A changed announcement updates its zone (as ``_abort_if_unique_id_configured``).

        Input entities are re-resolved only when the announced unique_ids changed, so that
        a grower's reconfiguration survives re-announcements of an unchanged node. Newly
        announced actuators are added to unmapped roles; existing mappings are kept.
        """
        node_data = self._node_data(announcement, binding)
        data = {**entry.data, **node_data}
        options = dict(entry.options)
        if entry.data.get(CONF_NODE_UNIQUE_IDS) != node_data[CONF_NODE_UNIQUE_IDS]:
            resolved, _ = self._resolve(node_data[CONF_NODE_UNIQUE_IDS])
            data.update({k: v for k, v in resolved.items() if k in SENSOR_QUANTITIES.values()})
            for key, entity_id in resolved.items():
                if key in ACTUATOR_KEYS and not options.get(key):
                    options[key] = entity_id
        # A zone whose setup failed (node data of an older version outside the protocol's
        # ranges) is set up again with the valid announcement.
        if self.hass.config_entries.async_update_entry(entry, data=data, options=options) and (
            entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_ERROR)
        ):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)

    def _resolve(self, unique_ids: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
        """Resolve announced unique_ids to entity ids: (found by data/option key, missing)."""
        registry = er.async_get(self.hass)
        found: dict[str, str] = {}
        missing: list[str] = []
        for key, unique_id in unique_ids.items():
            entity_id = _resolve_entity_id(registry, key, unique_id)
            if entity_id is None:
                missing.append(unique_id)
            else:
                found[SENSOR_QUANTITIES.get(key, key)] = entity_id
        return found, missing

    def _discovered(self) -> tuple[Announcement, ZoneBinding]:
        if self._announcement is None or self._binding is None:  # pragma: no cover
            raise RuntimeError("discovery steps run only after async_step_mqtt")
        return self._announcement, self._binding

    async def async_step_mqtt_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask whether to set up the discovered zone."""
        announcement, binding = self._discovered()
        if user_input is not None:
            return await self.async_step_wait_for_entities()
        actuators = ", ".join(actuator.name for actuator in binding.actuators.values()) or "—"
        return self.async_show_form(
            step_id="mqtt_confirm",
            description_placeholders={
                "node": announcement.name,
                "zone": binding.zone,
                "sensor": binding.sensor.name,
                "actuators": actuators,
            },
        )

    async def async_step_wait_for_entities(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Wait until Home Assistant's MQTT discovery has created the node's entities."""
        _, binding = self._discovered()
        unique_ids = _announced_unique_ids(binding)
        if self._wait_task is None:
            if not self._resolve(unique_ids)[1]:
                return await self.async_step_finish()
            self._wait_task = self.hass.async_create_task(
                self._async_wait_for_entities(unique_ids), eager_start=False
            )
        if not self._wait_task.done():
            return self.async_show_progress(
                step_id="wait_for_entities",
                progress_action="wait_for_entities",
                progress_task=self._wait_task,
            )
        all_found = self._wait_task.result()
        self._wait_task = None
        return self.async_show_progress_done(
            next_step_id="finish" if all_found else "entities_missing"
        )

    async def _async_wait_for_entities(self, unique_ids: Mapping[str, str]) -> bool:
        """True once every unique_id resolves, False after :data:`ENTITY_WAIT_TIMEOUT`."""
        registry_changed = asyncio.Event()

        @callback
        def _registry_updated(_event: Event[er.EventEntityRegistryUpdatedData]) -> None:
            registry_changed.set()

        unsubscribe = self.hass.bus.async_listen(
            er.EVENT_ENTITY_REGISTRY_UPDATED, _registry_updated
        )
        try:
            async with asyncio.timeout(ENTITY_WAIT_TIMEOUT.total_seconds()):
                while self._resolve(unique_ids)[1]:
                    registry_changed.clear()
                    await registry_changed.wait()
        except TimeoutError:
            return False
        finally:
            unsubscribe()
        return True

    async def async_step_entities_missing(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Tell which entities are still missing; submitting waits again."""
        _, binding = self._discovered()
        if user_input is not None:
            return await self.async_step_wait_for_entities()
        _, missing = self._resolve(_announced_unique_ids(binding))
        return self.async_show_form(
            step_id="entities_missing",
            description_placeholders={"missing": ", ".join(missing)},
        )

    async def async_step_finish(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create the zone, bound to the node's entities."""
        announcement, binding = self._discovered()
        node_data = self._node_data(announcement, binding)
        resolved, missing = self._resolve(node_data[CONF_NODE_UNIQUE_IDS])
        if missing:
            # They were there a moment ago (or the grower retried too early): wait again.
            return await self.async_step_entities_missing()
        data: dict[str, Any] = {CONF_ZONE_NAME: binding.zone, **node_data}
        data.update({k: v for k, v in resolved.items() if k in SENSOR_QUANTITIES.values()})
        options: dict[str, Any] = {CONF_LEAF_OFFSET: DEFAULT_LEAF_OFFSET}
        options.update({k: v for k, v in resolved.items() if k in ACTUATOR_KEYS})
        return self.async_create_entry(title=binding.zone, data=data, options=options)

    @override
    async def async_on_create_entry(self, result: ConfigFlowResult) -> ConfigFlowResult:
        """A node with several zones: offer the next one, now that this zone's entry exists."""
        if self._announcement is None or not isinstance(self.init_data, MqttServiceInfo):
            return result
        announcement = self._announcement
        if any(
            self.hass.config_entries.async_entry_for_domain_unique_id(
                DOMAIN, zone_unique_id(announcement.node_id, binding.zone)
            )
            is None
            for binding in announcement.zones()
        ):
            next_flow = await self.hass.config_entries.flow.async_init(
                DOMAIN, context={"source": SOURCE_MQTT}, data=self.init_data
            )
            if next_flow["type"] is FlowResultType.FORM:
                result["next_flow"] = (FlowType.CONFIG_FLOW, next_flow["flow_id"])
        return result


class RalaOptionsFlow(OptionsFlowWithReload):
    """Leaf offset, input age, actuator mapping and the targets of a zone."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The one options form."""
        zone: GrowZone | None = (
            self.config_entry.runtime_data.zone
            if self.config_entry.state is ConfigEntryState.LOADED
            else None
        )
        schema = self._schema(with_targets=zone is not None)
        errors: dict[str, str] = {}
        if user_input is not None:
            actuators = {k: v for k, v in user_input.get(SECTION_ACTUATORS, {}).items() if v}
            errors = self._validate_actuators(actuators) or self._validate_schedule(user_input)
            if not errors:
                if zone is not None:
                    # Validated by the selectors' ranges; the zone's check is the same.
                    zone.async_set_targets(**user_input.get(SECTION_TARGETS, {}))
                options = {
                    CONF_LEAF_OFFSET: user_input[CONF_LEAF_OFFSET],
                    **actuators,
                }
                options.update(
                    {key: user_input[key] for key in OPTIONAL_SETTINGS if user_input.get(key)}
                )
                return self.async_create_entry(data=options)
        suggested: dict[str, Any] = {
            CONF_LEAF_OFFSET: self.config_entry.options.get(CONF_LEAF_OFFSET, DEFAULT_LEAF_OFFSET),
            SECTION_ACTUATORS: {
                key: self.config_entry.options[key]
                for key in ACTUATOR_KEYS
                if self.config_entry.options.get(key)
            },
        }
        suggested.update(SETTING_DEFAULTS)
        suggested.update(
            {
                key: value
                for key in OPTIONAL_SETTINGS
                if (value := self.config_entry.options.get(key))
            }
        )
        if zone is not None:
            suggested[SECTION_TARGETS] = {key: getattr(zone.targets, key) for key in TARGET_KEYS}
        if user_input is not None:
            suggested = user_input
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )

    @staticmethod
    def _validate_schedule(user_input: Mapping[str, Any]) -> dict[str, str]:
        """A light schedule needs both its lights-on time and its photoperiod (or neither)."""
        if bool(user_input.get(CONF_LIGHTS_ON_TIME)) != bool(user_input.get(CONF_PHOTOPERIOD)):
            return {"base": "light_schedule_incomplete"}
        return {}

    def _validate_actuators(self, actuators: Mapping[str, str]) -> dict[str, str]:
        entity_ids = list(actuators.values())
        if len(set(entity_ids)) != len(entity_ids):
            return {"base": "actuator_reused"}
        # Inputs cannot be picked here: the selector offers actuator domains only.
        return {}

    @staticmethod
    def _schema(*, with_targets: bool) -> probatio.Schema:
        actuator_selector = selector.EntitySelector(
            selector.EntitySelectorConfig(domain=list(ACTUATOR_DOMAINS))
        )
        fields: dict[Any, Any] = {
            probatio.Required(CONF_LEAF_OFFSET): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=MIN_LEAF_OFFSET,
                    max=MAX_LEAF_OFFSET,
                    step=0.1,
                    unit_of_measurement="°C",
                    mode=selector.NumberSelectorMode.BOX,
                )
            ),
            probatio.Optional(CONF_MAX_INPUT_AGE): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=MIN_MAX_INPUT_AGE,
                    max=MAX_MAX_INPUT_AGE,
                    step=1,
                    unit_of_measurement="s",
                    mode=selector.NumberSelectorMode.BOX,
                )
            ),
            probatio.Optional(CONF_MAX_TEMPERATURE): _number(
                MIN_MAX_TEMPERATURE, MAX_MAX_TEMPERATURE, 0.5, "°C"
            ),
            probatio.Optional(CONF_MAX_HUMIDITY): _number(
                MIN_MAX_HUMIDITY, MAX_MAX_HUMIDITY, 1, "%"
            ),
            probatio.Optional(CONF_MIN_ON_TIME): _number(MIN_CYCLE_TIME, MAX_CYCLE_TIME, 1, "s"),
            probatio.Optional(CONF_MIN_OFF_TIME): _number(MIN_CYCLE_TIME, MAX_CYCLE_TIME, 1, "s"),
            probatio.Optional(CONF_LIGHTS_ON_TIME): selector.TimeSelector(),
            probatio.Optional(CONF_PHOTOPERIOD): _number(
                MIN_PHOTOPERIOD, MAX_PHOTOPERIOD, 0.5, "h"
            ),
            probatio.Required(SECTION_ACTUATORS): section(
                probatio.Schema(
                    {probatio.Optional(key): actuator_selector for key in ACTUATOR_KEYS}
                ),
                {"collapsed": False},
            ),
        }
        if with_targets:
            temperature = selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=MIN_TARGET_TEMPERATURE,
                    max=MAX_TARGET_TEMPERATURE,
                    step=0.5,
                    unit_of_measurement="°C",
                    mode=selector.NumberSelectorMode.BOX,
                )
            )
            vpd = selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=MIN_TARGET_VPD,
                    max=MAX_TARGET_VPD,
                    step=0.05,
                    unit_of_measurement="kPa",
                    mode=selector.NumberSelectorMode.BOX,
                )
            )
            fields[probatio.Required(SECTION_TARGETS)] = section(
                probatio.Schema(
                    {
                        probatio.Required(TARGET_DAY_TEMPERATURE): temperature,
                        probatio.Required(TARGET_NIGHT_TEMPERATURE): temperature,
                        probatio.Required(TARGET_DAY_VPD): vpd,
                        probatio.Required(TARGET_NIGHT_VPD): vpd,
                    }
                ),
                {"collapsed": True},
            )
        return probatio.Schema(fields)
