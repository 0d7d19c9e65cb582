"""The config, reconfigure and options flows of a grow zone."""

import asyncio
from datetime import timedelta
import json
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_MQTT,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.rala.const import (
    CONF_HEATER,
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_LEAF_TEMPERATURE_ENTITY,
    CONF_LIGHT,
    CONF_LIGHTS_ON_TIME,
    CONF_MAX_HUMIDITY,
    CONF_MAX_INPUT_AGE,
    CONF_MAX_TEMPERATURE,
    CONF_MIN_OFF_TIME,
    CONF_MIN_ON_TIME,
    CONF_NODE_ACTUATOR_TIMINGS,
    CONF_NODE_DEVICE_IDENTIFIER,
    CONF_NODE_ID,
    CONF_NODE_SAMPLE_INTERVAL,
    CONF_NODE_SENSOR,
    CONF_NODE_UNIQUE_IDS,
    CONF_NODE_ZONE,
    CONF_PHOTOPERIOD,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)
from custom_components.rala.diagnostics import async_get_config_entry_diagnostics

from .common import (
    HUMIDITY,
    TEMPERATURE,
    announcement,
    register_node_entities,
    service_info,
    set_inputs,
    zone_entry,
)

ZONE_INPUT = {
    CONF_ZONE_NAME: "Flower tent",
    CONF_TEMPERATURE_ENTITY: TEMPERATURE,
    CONF_HUMIDITY_ENTITY: HUMIDITY,
}
FLOW_MODULE = "custom_components.rala.config_flow"


async def _start_user(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return dict(result)


async def _discover(hass: HomeAssistant, payload: dict[str, Any] | str) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=service_info(payload)
    )
    return dict(result)


# --- user step ------------------------------------------------------------------------------


async def test_user_creates_a_zone_once(hass: HomeAssistant) -> None:
    """A zone is created from existing sensors; a second zone of the same name is refused."""
    result = await _start_user(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], ZONE_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Flower tent"
    assert result["data"] == ZONE_INPUT
    assert result["options"] == {CONF_LEAF_OFFSET: 2.0}
    assert result["result"].unique_id == "zone_flower_tent"

    result = await _start_user(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**ZONE_INPUT, CONF_TEMPERATURE_ENTITY: "sensor.other"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_user_rejects_bad_input_and_recovers(hass: HomeAssistant) -> None:
    """The same entity twice, or a sensor of another zone, is an error; fixing it works."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id="zone_veg",
        data={
            CONF_ZONE_NAME: "Veg",
            CONF_TEMPERATURE_ENTITY: "sensor.veg_temperature",
            CONF_HUMIDITY_ENTITY: "sensor.veg_humidity",
        },
    ).add_to_hass(hass)
    result = await _start_user(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**ZONE_INPUT, CONF_HUMIDITY_ENTITY: TEMPERATURE}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "same_entity"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**ZONE_INPUT, CONF_LEAF_TEMPERATURE_ENTITY: TEMPERATURE}
    )
    assert result["errors"] == {"base": "same_entity"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**ZONE_INPUT, CONF_TEMPERATURE_ENTITY: "sensor.veg_temperature"}
    )
    assert result["errors"] == {CONF_TEMPERATURE_ENTITY: "sensor_in_use"}

    leaf_input = {**ZONE_INPUT, CONF_LEAF_TEMPERATURE_ENTITY: "sensor.leaf"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], leaf_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == leaf_input


# --- MQTT discovery -------------------------------------------------------------------------


async def test_discovery_creates_zone_bound_to_node_entities(hass: HomeAssistant) -> None:
    """Announced, confirmed, bound to the node's MQTT entities through the registry."""
    document = announcement()
    entity_ids = register_node_entities(hass, document)

    result = await _discover(hass, document)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "mqtt_confirm"
    assert result["description_placeholders"] == {
        "node": "Tent Pi",
        "zone": "Flower tent",
        "sensor": "Canopy",
        "actuators": "Heater",
    }
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert flow["context"]["title_placeholders"] == {"name": "Tent Pi — Flower tent"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Flower tent"
    entry = result["result"]
    assert entry.unique_id == "tent-pi_flower_tent"
    assert entry.data[CONF_TEMPERATURE_ENTITY] == entity_ids["rala_tent-pi_canopy_temperature"]
    assert entry.data[CONF_HUMIDITY_ENTITY] == entity_ids["rala_tent-pi_canopy_humidity"]
    assert entry.data[CONF_NODE_ID] == "tent-pi"
    assert entry.data[CONF_NODE_ZONE] == "Flower tent"
    assert entry.data[CONF_NODE_SENSOR] == "canopy"
    assert entry.data[CONF_NODE_DEVICE_IDENTIFIER] == "rala_tent-pi"
    assert entry.data[CONF_NODE_SAMPLE_INTERVAL] == 30
    assert entry.data[CONF_NODE_UNIQUE_IDS] == {
        "temperature": "rala_tent-pi_canopy_temperature",
        "humidity": "rala_tent-pi_canopy_humidity",
        "heater": "rala_tent-pi_heater",
    }
    assert entry.data[CONF_NODE_ACTUATOR_TIMINGS] == {"heater": [60, 60]}
    assert entry.options == {CONF_LEAF_OFFSET: 2.0, CONF_HEATER: "switch.heater"}


async def test_discovery_waits_for_entities_to_appear(hass: HomeAssistant) -> None:
    """Entities created while the flow waits let it finish by itself."""
    document = announcement()
    result = await _discover(hass, document)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "wait_for_entities"
    for _ in range(3):  # let the waiting task start and block on the registry
        await asyncio.sleep(0)

    register_node_entities(hass, document)
    await hass.async_block_till_done()
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TEMPERATURE_ENTITY] == "sensor.canopy_temperature"


async def test_discovery_timeout_then_retry(hass: HomeAssistant) -> None:
    """No entities in time: the missing ones are listed; a retry after they appear works."""
    document = announcement()
    with patch(f"{FLOW_MODULE}.ENTITY_WAIT_TIMEOUT", timedelta(seconds=0.01)):
        result = await _discover(hass, document)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        await hass.async_block_till_done()
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "entities_missing"
    assert result["description_placeholders"] == {
        "missing": "rala_tent-pi_canopy_temperature, rala_tent-pi_canopy_humidity, "
        "rala_tent-pi_heater"
    }

    register_node_entities(hass, document)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_discovery_entity_vanishing_before_finish(hass: HomeAssistant) -> None:
    """An entity removed between the wait and the finish sends the flow back to waiting."""
    document = announcement()
    result = await _discover(hass, document)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    entity_ids = register_node_entities(hass, document)
    await hass.async_block_till_done()
    er.async_get(hass).async_remove(entity_ids["rala_tent-pi_heater"])
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "entities_missing"
    assert result["description_placeholders"] == {"missing": "rala_tent-pi_heater"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", "node_withdrawn"),
        ("{not json", "invalid_json"),
        ("[]", "invalid_announcement"),
        (json.dumps(announcement(node_id="other")), "invalid_announcement"),
        (json.dumps(announcement(sensors="none")), "invalid_announcement"),
        (json.dumps(announcement(sensors=[])), "no_zone"),
    ],
)
async def test_discovery_bad_announcement_aborts(
    hass: HomeAssistant, payload: str, reason: str
) -> None:
    """Withdrawn, malformed or unusable announcements abort with a reason."""
    result = await _discover(hass, payload)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_discovery_unsupported_schema_raises_repair(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    """A newer schema is refused with a repair issue that a supported announcement clears."""
    result = await _discover(hass, announcement(schema=2))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unsupported_schema"
    issue = issue_registry.async_get_issue(DOMAIN, "unsupported_schema_tent-pi")
    assert issue is not None
    assert issue.translation_placeholders == {"node": "tent-pi", "schema": "2"}

    result = await _discover(hass, announcement())
    assert result["type"] is FlowResultType.FORM
    assert issue_registry.async_get_issue(DOMAIN, "unsupported_schema_tent-pi") is None


async def test_discovery_of_configured_node_updates_it(hass: HomeAssistant) -> None:
    """A configured node is not offered again; a changed announcement updates the zone."""
    document = announcement()
    register_node_entities(hass, document)
    result = await _discover(hass, document)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    result = await _discover(hass, document)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    # The node now samples every 10 s, moved the zone to another sensor, got a light and
    # holds its heater off for 5 minutes.
    changed = announcement(sample_interval=10)
    changed["actuators"][0]["min_off"] = 300
    changed["sensors"][0]["key"] = "top"
    changed["sensors"][0]["unique_ids"] = {
        "temperature": "rala_tent-pi_top_temperature",
        "humidity": "rala_tent-pi_top_humidity",
    }
    changed["actuators"].append(
        {
            "key": "lamp",
            "name": "Lamp",
            "kind": "light",
            "zone": "Flower tent",
            "unique_id": "rala_tent-pi_lamp",
        }
    )
    register_node_entities(hass, changed)
    result = await _discover(hass, changed)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data[CONF_NODE_SAMPLE_INTERVAL] == 10
    assert entry.data[CONF_NODE_SENSOR] == "top"
    assert entry.data[CONF_NODE_ACTUATOR_TIMINGS] == {"heater": [60, 300], "light": [0.0, 0.0]}
    assert entry.data[CONF_TEMPERATURE_ENTITY] == "sensor.top_temperature"
    assert entry.options[CONF_LIGHT] == "switch.lamp"
    assert entry.options[CONF_HEATER] == "switch.heater"
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.zone.temperature_entity_id == "sensor.top_temperature"


def _placeholder(hass: HomeAssistant, entity_id: str) -> bool:
    """Whether the entity is not set up: no state, or the one HA keeps for a registered one."""
    state = hass.states.get(entity_id)
    return state is None or state.attributes.get("restored") is True


async def _loaded_node_zone(hass: HomeAssistant) -> MockConfigEntry:
    """A zone of the node from the protocol example, set up through discovery, with readings."""
    document = announcement()
    entity_ids = register_node_entities(hass, document)
    hass.states.async_set(
        entity_ids["rala_tent-pi_canopy_temperature"], "25.0", {"unit_of_measurement": "°C"}
    )
    hass.states.async_set(
        entity_ids["rala_tent-pi_canopy_humidity"], "60", {"unit_of_measurement": "%"}
    )
    result = await _discover(hass, document)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.zone.available
    return entry


def _replaced(old: str, new: str) -> str:
    return json.dumps(announcement()).replace(old, new, 1)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(json.dumps(announcement(sample_interval=1e12)), id="interval 1e12"),
        pytest.param(json.dumps(announcement(sample_interval=3600.5)), id="interval 3600.5"),
        pytest.param(
            _replaced('"sample_interval": 30', '"sample_interval": 1' + "0" * 400),
            id="interval beyond a float",
        ),
        pytest.param(_replaced('"min_on": 60', '"min_on": 1e12'), id="min_on 1e12"),
        pytest.param(_replaced('"min_off": 60', '"min_off": ' + "9" * 30), id="min_off 30 digits"),
        pytest.param(_replaced('"max_on": null', '"max_on": 604801'), id="max_on over a week"),
        pytest.param(_replaced('"schema": 1', '"schema": ' + "1" * 30), id="schema 30 digits"),
        pytest.param(
            json.dumps(announcement(extra=[[[[[[[[[[]]]]]]]]]])), id="nested 11 levels deep"
        ),
    ],
)
async def test_out_of_range_announcement_leaves_the_zone_as_it_is(
    hass: HomeAssistant, payload: str
) -> None:
    """Numbers outside their ranges, over-long integers and deep nesting are refused as a
    whole, before anything reaches the zone: it stays loaded, with its data unchanged."""
    entry = await _loaded_node_zone(hass)
    data = dict(entry.data)
    result = await _discover(hass, payload)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] in {"invalid_announcement", "invalid_json"}
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert dict(entry.data) == data
    assert entry.runtime_data.zone.available
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["announcements"] == {"rejected_announcements": 1}


async def test_zone_with_out_of_range_node_data_fails_before_its_entities_and_recovers(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Node data outside the announcement's ranges (stored before they were checked) fails
    the setup before any entity is set up; the node's next valid announcement repairs the
    zone, and nothing is set up twice."""
    entry = await _loaded_node_zone(hass)
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_NODE_SAMPLE_INTERVAL: 1e12}
    )
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "sample interval" in caplog.text
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert entities
    # No entity of the zone was set up: what remains of them is the placeholder HA keeps.
    assert all(_placeholder(hass, entity.entity_id) for entity in entities)

    result = await _discover(hass, announcement(sample_interval=20))
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_NODE_SAMPLE_INTERVAL] == 20
    assert entry.runtime_data.zone.available
    assert entry.runtime_data.zone.max_input_age == timedelta(seconds=60)
    assert "already been setup" not in caplog.text
    assert not any(_placeholder(hass, entity.entity_id) for entity in entities)


async def test_discovery_keeps_reconfigured_inputs_of_unchanged_node(
    hass: HomeAssistant,
) -> None:
    """A re-announcement with the same unique_ids does not undo a reconfiguration."""
    document = announcement()
    register_node_entities(hass, document)
    result = await _discover(hass, document)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    entry = result["result"]
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_TEMPERATURE_ENTITY: "sensor.probe"}
    )
    result = await _discover(hass, announcement(sw_version="0.2.0"))
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_TEMPERATURE_ENTITY] == "sensor.probe"


async def test_discovery_ignored_node_is_left_alone(hass: HomeAssistant) -> None:
    """A zone the grower ignored is neither offered nor updated."""
    ignored = MockConfigEntry(
        domain=DOMAIN, source=SOURCE_IGNORE, unique_id="tent-pi_flower_tent", data={}
    )
    ignored.add_to_hass(hass)
    result = await _discover(hass, announcement())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert ignored.data == {}


async def test_discovery_in_progress_is_not_duplicated(hass: HomeAssistant) -> None:
    """The same zone is not offered twice at once."""
    first = await _discover(hass, announcement())
    assert first["type"] is FlowResultType.FORM
    second = await _discover(hass, announcement(sw_version="0.1.1"))
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_in_progress"


async def test_discovery_of_node_with_two_zones_offers_both(hass: HomeAssistant) -> None:
    """After the first zone of a node is created, the next one is offered."""
    document = announcement()
    document["sensors"].append(
        {
            "key": "veg",
            "name": "Veg sensor",
            "zone": "Veg tent",
            "state_topic": "rala/tent-pi/sensor/veg/state",
            "unique_ids": {
                "temperature": "rala_tent-pi_veg_temperature",
                "humidity": "rala_tent-pi_veg_humidity",
            },
        }
    )
    register_node_entities(hass, document)
    result = await _discover(hass, document)
    assert result["description_placeholders"]["zone"] == "Flower tent"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["unique_id"] == "tent-pi_veg_tent"
    assert result["next_flow"] == ("config_flow", flows[0]["flow_id"])
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Veg tent"
    assert CONF_HEATER not in result["result"].options
    await hass.async_block_till_done()
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


# --- reconfigure ----------------------------------------------------------------------------


async def test_reconfigure_changes_inputs(hass: HomeAssistant) -> None:
    """The input entities of a zone can be changed; bad input is refused first."""
    other = MockConfigEntry(
        domain=DOMAIN,
        unique_id="zone_veg",
        data={
            CONF_ZONE_NAME: "Veg",
            CONF_TEMPERATURE_ENTITY: "sensor.veg_temperature",
            CONF_HUMIDITY_ENTITY: "sensor.veg_humidity",
        },
    )
    other.add_to_hass(hass)
    entry = zone_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_LEAF_TEMPERATURE_ENTITY: "sensor.leaf"}
    )
    set_inputs(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TEMPERATURE_ENTITY: TEMPERATURE, CONF_HUMIDITY_ENTITY: TEMPERATURE},
    )
    assert result["errors"] == {"base": "same_entity"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TEMPERATURE_ENTITY: "sensor.veg_temperature", CONF_HUMIDITY_ENTITY: HUMIDITY},
    )
    assert result["errors"] == {CONF_TEMPERATURE_ENTITY: "sensor_in_use"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TEMPERATURE_ENTITY: "sensor.new_temperature", CONF_HUMIDITY_ENTITY: HUMIDITY},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data == {
        CONF_ZONE_NAME: "Tent",
        CONF_TEMPERATURE_ENTITY: "sensor.new_temperature",
        CONF_HUMIDITY_ENTITY: HUMIDITY,
    }
    assert entry.runtime_data.zone.temperature_entity_id == "sensor.new_temperature"
    assert entry.runtime_data.zone.leaf_temperature_entity_id is None

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_TEMPERATURE_ENTITY: TEMPERATURE,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
            CONF_LEAF_TEMPERATURE_ENTITY: "sensor.leaf_probe",
        },
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.runtime_data.zone.leaf_temperature_entity_id == "sensor.leaf_probe"


# --- options --------------------------------------------------------------------------------


async def test_options_of_loaded_zone(hass: HomeAssistant) -> None:
    """Leaf offset, input age and actuators are stored; targets go to the zone."""
    entry = zone_entry()
    entry.add_to_hass(hass)
    set_inputs(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    targets = {"day_temperature": 27.0, "night_temperature": 20.0, "day_vpd": 1.1, "night_vpd": 0.9}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_LEAF_OFFSET: 1.5,
            "actuators": {CONF_HEATER: "switch.heater", CONF_LIGHT: "switch.heater"},
            "targets": targets,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "actuator_reused"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_LEAF_OFFSET: 1.5,
            CONF_MAX_INPUT_AGE: 300,
            "actuators": {CONF_HEATER: "switch.heater", CONF_LIGHT: "light.lamp"},
            "targets": targets,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_LEAF_OFFSET: 1.5,
        CONF_MAX_INPUT_AGE: 300,
        CONF_HEATER: "switch.heater",
        CONF_LIGHT: "light.lamp",
    }
    await hass.async_block_till_done()
    zone = entry.runtime_data.zone
    assert zone.leaf_offset == 1.5
    assert zone.max_input_age == timedelta(seconds=300)
    assert zone.actuators == {CONF_HEATER: "switch.heater", CONF_LIGHT: "light.lamp"}
    # The zone was reloaded; its targets survived through the restored number entities.
    assert zone.targets.day_temperature == 27.0
    assert zone.targets.night_vpd == 0.9

    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_LEAF_OFFSET: 1.5, "actuators": {}, "targets": targets}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_LEAF_OFFSET: 1.5}


async def test_options_of_unloaded_zone_have_no_targets(hass: HomeAssistant) -> None:
    """Without a running zone there are no live targets to show."""
    entry = zone_entry()
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "targets" not in result["data_schema"].schema
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_LEAF_OFFSET: -1.0, "actuators": {}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_LEAF_OFFSET: -1.0}


def _suggested(result: Any, key: str) -> Any:
    """The value the options form suggests for ``key``."""
    for marker in result["data_schema"].schema:
        if marker == key:
            return (marker.description or {}).get("suggested_value")
    raise KeyError(key)


async def test_options_hard_limits_minimum_times_and_light_schedule(hass: HomeAssistant) -> None:
    """The safety settings and the light schedule are stored; the schedule needs both
    fields; the form suggests the defaults, then the stored values."""
    entry = zone_entry()
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert _suggested(result, CONF_MAX_TEMPERATURE) == 35.0
    assert _suggested(result, CONF_MAX_HUMIDITY) == 85.0
    assert _suggested(result, CONF_MIN_ON_TIME) == 60.0
    assert _suggested(result, CONF_MIN_OFF_TIME) == 60.0
    assert _suggested(result, CONF_LIGHTS_ON_TIME) is None
    settings = {
        CONF_LEAF_OFFSET: 2.0,
        CONF_MAX_TEMPERATURE: 32.5,
        CONF_MAX_HUMIDITY: 80,
        CONF_MIN_ON_TIME: 120,
        CONF_MIN_OFF_TIME: 180,
        "actuators": {},
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**settings, CONF_PHOTOPERIOD: 18}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "light_schedule_incomplete"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**settings, CONF_LIGHTS_ON_TIME: "06:00:00", CONF_PHOTOPERIOD: 18}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        **{k: v for k, v in settings.items() if k != "actuators"},
        CONF_LIGHTS_ON_TIME: "06:00:00",
        CONF_PHOTOPERIOD: 18,
    }
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert _suggested(result, CONF_MAX_TEMPERATURE) == 32.5
    assert _suggested(result, CONF_MIN_OFF_TIME) == 180
    assert _suggested(result, CONF_LIGHTS_ON_TIME) == "06:00:00"
    assert _suggested(result, CONF_PHOTOPERIOD) == 18
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {**settings, CONF_MAX_HUMIDITY: 101}
        )


async def test_discovery_next_zone_already_offered(hass: HomeAssistant) -> None:
    """The next zone is not offered twice when a flow for it is already open."""
    veg_sensor = {
        "key": "veg",
        "name": "Veg sensor",
        "zone": "Veg tent",
        "state_topic": "rala/tent-pi/sensor/veg/state",
        "unique_ids": {
            "temperature": "rala_tent-pi_veg_temperature",
            "humidity": "rala_tent-pi_veg_humidity",
        },
    }
    veg_only = await _discover(hass, announcement(sensors=[veg_sensor], actuators=[]))
    assert veg_only["description_placeholders"]["zone"] == "Veg tent"

    both = announcement()
    both["sensors"].append(veg_sensor)
    register_node_entities(hass, both)
    result = await _discover(hass, both)
    assert result["description_placeholders"]["zone"] == "Flower tent"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "next_flow" not in result
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["flow_id"] for flow in flows] == [veg_only["flow_id"]]
