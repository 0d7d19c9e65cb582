"""Constants of the RALA integration: keys, defaults, ranges, and the kinds of actuator.

Pure (standard library and the integration's pure modules): the control engine and the
bench read their defaults from here, so that each is written once.
"""

from datetime import timedelta
from enum import StrEnum
from typing import Final

from .psychrometrics import DEFAULT_LEAF_OFFSET_C

DOMAIN: Final = "rala"

# --- Config entry data: what the zone *is* (changed by the reconfigure flow) -----------------
# The name of the zone (also the config entry title).
CONF_ZONE_NAME: Final = "name"
# Input entities (entity ids of sensor entities).
CONF_TEMPERATURE_ENTITY: Final = "temperature_entity"
CONF_HUMIDITY_ENTITY: Final = "humidity_entity"
CONF_LEAF_TEMPERATURE_ENTITY: Final = "leaf_temperature_entity"
INPUT_ENTITY_KEYS: Final = (
    CONF_TEMPERATURE_ENTITY,
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_TEMPERATURE_ENTITY,
)
# Only present on zones that came from a discovered RALA edge node.
CONF_NODE_ID: Final = "node_id"
# The node's ``device_identifier`` (its HA MQTT device is ("mqtt", <device_identifier>)).
CONF_NODE_DEVICE_IDENTIFIER: Final = "node_device_identifier"
# The zone name as announced by the node (sensors and actuators carry it).
CONF_NODE_ZONE: Final = "node_zone"
# The key of the node sensor the zone reads.
CONF_NODE_SENSOR: Final = "node_sensor"
# The node's availability topic and sample interval, from the announcement.
CONF_NODE_AVAILABILITY_TOPIC: Final = "node_availability_topic"
CONF_NODE_SAMPLE_INTERVAL: Final = "node_sample_interval"
# Announced MQTT unique_ids the zone is bound to: {"temperature": uid, "humidity": uid,
# "heater": uid, ...}; resolved to entity ids through the entity registry.
CONF_NODE_UNIQUE_IDS: Final = "node_unique_ids"
# Minimum on and off time (s) the node enforces on each announced actuator, by kind:
# {"heater": [min_on, min_off], ...}. The node refuses commands inside them.
CONF_NODE_ACTUATOR_TIMINGS: Final = "node_actuator_timings"

# --- Config entry options: how the zone behaves (changed by the options flow) ----------------
# Leaf temperature = air temperature - offset (°C) when no leaf sensor is configured.
CONF_LEAF_OFFSET: Final = "leaf_offset"
DEFAULT_LEAF_OFFSET: Final = DEFAULT_LEAF_OFFSET_C
MIN_LEAF_OFFSET: Final = -5.0
MAX_LEAF_OFFSET: Final = 10.0
# An input whose state was not written for longer than this (seconds) is stale.
CONF_MAX_INPUT_AGE: Final = "max_input_age"
# Sensors of other integrations often report only on change: be generous by default.
DEFAULT_MAX_INPUT_AGE: Final = 900
MIN_MAX_INPUT_AGE: Final = 60
MAX_MAX_INPUT_AGE: Final = 86400


class ActuatorKind(StrEnum):
    """What an actuator does to the climate: the roles of a zone's actuator mapping.

    A RALA node announces these and :data:`PUMP`; the agent's ``edge_agent.config``
    spells the same kinds (a test holds them equal).
    """

    HEATER = "heater"
    COOLER = "cooler"
    HUMIDIFIER = "humidifier"
    DEHUMIDIFIER = "dehumidifier"
    EXHAUST_FAN = "exhaust_fan"
    CIRCULATION_FAN = "circulation_fan"
    LIGHT = "light"


# A node's pump waters; it has no role in a zone's climate, so a zone does not map it.
PUMP: Final = "pump"
# Every kind of actuator a node may announce.
NODE_ACTUATOR_KINDS: Final = frozenset({*(kind.value for kind in ActuatorKind), PUMP})

# Actuator mapping (options): entity ids of any HA switch, fan, humidifier or light entity,
# under the value of the actuator's kind.
CONF_HEATER: Final = ActuatorKind.HEATER.value
CONF_COOLER: Final = ActuatorKind.COOLER.value
CONF_HUMIDIFIER: Final = ActuatorKind.HUMIDIFIER.value
CONF_DEHUMIDIFIER: Final = ActuatorKind.DEHUMIDIFIER.value
CONF_EXHAUST_FAN: Final = ActuatorKind.EXHAUST_FAN.value
CONF_CIRCULATION_FAN: Final = ActuatorKind.CIRCULATION_FAN.value
CONF_LIGHT: Final = ActuatorKind.LIGHT.value
ACTUATOR_KEYS: Final = tuple(kind.value for kind in ActuatorKind)
# Entity domains an actuator may be mapped to.
ACTUATOR_DOMAINS: Final = ("switch", "fan", "humidifier", "light", "input_boolean")

# --- Targets ------------------------------------------------------------------------------------
TARGET_DAY_TEMPERATURE: Final = "day_temperature"
TARGET_NIGHT_TEMPERATURE: Final = "night_temperature"
TARGET_DAY_VPD: Final = "day_vpd"
TARGET_NIGHT_VPD: Final = "night_vpd"
TARGET_KEYS: Final = (
    TARGET_DAY_TEMPERATURE,
    TARGET_NIGHT_TEMPERATURE,
    TARGET_DAY_VPD,
    TARGET_NIGHT_VPD,
)
MIN_TARGET_TEMPERATURE: Final = 10.0
MAX_TARGET_TEMPERATURE: Final = 35.0
MIN_TARGET_VPD: Final = 0.2
MAX_TARGET_VPD: Final = 2.5

# --- Climate control (climate.py) ---------------------------------------------------------------
# The temperature band a zone counts as good: target ± this (°C).
TEMPERATURE_TOLERANCE: Final = 1.5
# Hard limits (options): above them heating/humidifying stops and cooling/drying starts,
# whatever the mode and the targets.
CONF_MAX_TEMPERATURE: Final = "max_temperature"
DEFAULT_MAX_TEMPERATURE: Final = 35.0
CONF_MAX_HUMIDITY: Final = "max_humidity"
DEFAULT_MAX_HUMIDITY: Final = 85.0
MIN_MAX_TEMPERATURE: Final = 20.0
MAX_MAX_TEMPERATURE: Final = 50.0
MIN_MAX_HUMIDITY: Final = 50.0
MAX_MAX_HUMIDITY: Final = 100.0
# Minimum on and off time (s) the climate entity keeps for every mapped climate actuator
# (relays and compressors dislike short cycles; a RALA node enforces its own on top).
# Options of the zone; these are the defaults.
CONF_MIN_ON_TIME: Final = "min_on_time"
CONF_MIN_OFF_TIME: Final = "min_off_time"
ACTUATOR_MIN_ON: Final = 60.0
ACTUATOR_MIN_OFF: Final = 60.0
MIN_CYCLE_TIME: Final = 10.0
MAX_CYCLE_TIME: Final = 3600.0
# Light schedule (options): day and night follow it when no light entity is mapped, and it
# tells the climate entity when the lights switch next (to anticipate the next targets).
CONF_LIGHTS_ON_TIME: Final = "lights_on_time"
CONF_PHOTOPERIOD: Final = "photoperiod"
MIN_PHOTOPERIOD: Final = 1.0
MAX_PHOTOPERIOD: Final = 23.5

# --- Discovery ----------------------------------------------------------------------------------
# The platform of the entities an edge node creates through HA's MQTT discovery.
MQTT_PLATFORM: Final = "mqtt"
# How long the discovery flow waits for the node's MQTT entities to be registered.
ENTITY_WAIT_TIMEOUT: Final = timedelta(seconds=30)

# --- Repairs ------------------------------------------------------------------------------------
# A node offline for longer than this raises a repair issue.
NODE_OFFLINE_REPAIR_AFTER: Final = timedelta(minutes=15)
