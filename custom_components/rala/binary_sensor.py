"""Whether the edge node of a zone is connected, from its retained availability topic.

The node publishes ``online`` after every connect and ``offline`` on a clean exit; its
broker publishes the ``offline`` will when the link dies. Only zones that came from a node
have this entity.
"""

from __future__ import annotations

import logging
from typing import override

from homeassistant.components import mqtt
from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.mqtt import ReceiveMessage
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_NODE_AVAILABILITY_TOPIC
from .entity import GrowZoneEntity
from .models import RalaConfigEntry
from .zone import GrowZone

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

PAYLOAD_ONLINE = "online"
PAYLOAD_OFFLINE = "offline"

# No name of its own: Home Assistant names it after its device class ("Connectivity").
NODE_CONNECTIVITY = BinarySensorEntityDescription(
    key="node_connectivity",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RalaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the node's connectivity to a zone that came from a node."""
    topic = entry.data.get(CONF_NODE_AVAILABILITY_TOPIC)
    if entry.runtime_data.zone.node_id is not None and isinstance(topic, str):
        async_add_entities([NodeConnectivitySensor(entry.runtime_data.zone, topic)])


class NodeConnectivitySensor(GrowZoneEntity, BinarySensorEntity):
    """On while the zone's node is connected to the broker; unknown until it said so."""

    _follows_zone = False

    def __init__(self, zone: GrowZone, availability_topic: str) -> None:
        """Follow ``availability_topic`` once added."""
        super().__init__(zone, NODE_CONNECTIVITY)
        self._topic = availability_topic
        self._attr_is_on = None

    @override
    async def async_added_to_hass(self) -> None:
        """Subscribe to the node's availability (retained, so the state arrives at once)."""
        await super().async_added_to_hass()
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            _LOGGER.warning(
                "Grow zone %s: MQTT is not available, the node's connectivity is unknown",
                self.zone.name,
            )
            return
        self.async_on_remove(
            await mqtt.async_subscribe(self.hass, self._topic, self._async_received, qos=1)
        )

    @callback
    def _async_received(self, message: ReceiveMessage) -> None:
        payload = message.payload
        if payload not in (PAYLOAD_ONLINE, PAYLOAD_OFFLINE):
            # Anyone who may publish there could send anything: ignore it, keep the state.
            _LOGGER.debug("Ignoring availability payload %.40r on %s", payload, self._topic)
            return
        self._attr_is_on = payload == PAYLOAD_ONLINE
        self.async_write_ha_state()
