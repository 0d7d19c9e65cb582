"""Hostile input, Home Assistant side: thousands of hostile messages on every RALA topic.

HA's real MQTT integration and recorder against a real mosquitto, a node's zone loaded;
hand-written, mutated and generated payloads on the node's live reading, backfill,
announcement and availability topics. Nothing may log an error or a traceback, the zone's
entities keep their last good values, a valid reading afterwards is still taken, and the
backfill's stored state stays within its bound.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_ON
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest

from custom_components.rala.backfill import MAX_STORED_BYTES
from custom_components.rala.const import CONF_NODE_AVAILABILITY_TOPIC, DOMAIN
from tests.reliability import corpus
from tests.reliability.figures import record, scaled

from .common import announcement
from .node_zone import (
    BACKFILL_TOPIC,
    LIVE_TOPIC,
    NODE,
    Setup,
    backfill_batch,
    mock_recorder_before_hass,
    node,
    node_reading,
    set_node_states,
    wait_until,
    zone,
)

__all__ = ["mock_recorder_before_hass", "node", "zone"]  # fixtures, used by name

pytestmark = [pytest.mark.mqtt]

AVAILABILITY_TOPIC = f"rala/{NODE}/availability"
ANNOUNCEMENT_TOPIC = f"rala/{NODE}/node"
BURST = 500
#: Entities that change with time rather than with readings (time in band, the streak).
_TIME_BASED = ("in_band", "streak")


def _on_own_clock(entity_id: str) -> bool:
    return any(part in entity_id for part in _TIME_BASED)


def _corpora(count: int) -> dict[str, list[bytes]]:
    now = dt_util.utcnow()
    valid: dict[str, Any] = {
        LIVE_TOPIC: node_reading(1, now),
        BACKFILL_TOPIC: backfill_batch([node_reading(2, now), node_reading(3, now)]),
        ANNOUNCEMENT_TOPIC: announcement(NODE),
        AVAILABILITY_TOPIC: ["online"],
    }
    corpora: dict[str, list[bytes]] = {}
    for seed, (topic, payload) in enumerate(sorted(valid.items())):
        keys = list(payload) if isinstance(payload, dict) else []
        generated = corpus.generated(keys, count // 3)
        mutated = list(corpus.mutations(payload, count - len(generated), seed))
        corpora[topic] = list(corpus.HAND_WRITTEN) + generated + mutated
    return corpora


def _publish_all(zone: Setup, messages: list[tuple[str, bytes]]) -> None:
    for topic, payload in messages:
        zone.node.publish(topic, payload)


def _restored(zone: Setup) -> bool:
    """The zone set up again from its node's own announcement, every entity back."""
    shown = _shown(zone)
    return (
        zone.entry.state is ConfigEntryState.LOADED
        and zone.entry.data[CONF_NODE_AVAILABILITY_TOPIC] == AVAILABILITY_TOPIC
        # An entity of an entry being reloaded is shown as restored, unavailable.
        and not any(attributes.get("restored") for _state, attributes in shown.values())
        and all(
            state == STATE_ON
            for entity_id, (state, _attributes) in shown.items()
            if entity_id.startswith("binary_sensor.")
        )
    )


def _publish_retained(zone: Setup, topic: str, payload: bytes) -> None:
    zone.node.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(30)


def _shown(zone: Setup) -> dict[str, tuple[str, dict[str, Any]]]:
    """State and attributes of every entity of the zone's config entry."""
    registry = er.async_get(zone.hass)
    shown = {}
    for entry in er.async_entries_for_config_entry(registry, zone.entry.entry_id):
        state = zone.hass.states.get(entry.entity_id)
        assert state is not None, entry.entity_id
        shown[entry.entity_id] = (state.state, dict(state.attributes))
    return shown


async def test_thousands_of_hostile_messages_on_every_topic_change_nothing(
    zone: Setup, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    hass = zone.hass
    caplog.set_level(logging.WARNING)
    # Retained, as the node's own: a valid mutated announcement reloads the zone, and the
    # reloaded zone reads its node's availability again.
    await hass.async_add_executor_job(_publish_retained, zone, AVAILABILITY_TOPIC, b"online")
    seq = 100
    await zone.deliver(LIVE_TOPIC, node_reading(seq, dt_util.utcnow()))
    before = _shown(zone)
    rejected_before = zone.history.state.counters["rejected_payloads"]

    # Generated in a worker thread: minutes of work in the event loop would stop HA's MQTT
    # client from answering the broker (it drops a client silent for 1.5 keepalives).
    corpora = await hass.async_add_executor_job(_corpora, scaled(2_500, 25_000))
    messages = [
        (topic, payload)
        for row in itertools.zip_longest(*corpora.values())
        for topic, payload in zip(corpora, row, strict=True)
        if payload is not None
    ]
    for first in range(0, len(messages), BURST):
        await hass.async_add_executor_job(_publish_all, zone, messages[first : first + BURST])
        # The broker keeps one client's messages in order: once HA took this reading, it
        # has handled the burst before it.
        seq += 1
        await zone.deliver(LIVE_TOPIC, node_reading(seq, dt_util.utcnow()))
        # The node's sensor entities report as its live readings would: a long run must
        # not leave the zone's inputs stale (that is no effect of the hostile messages).
        set_node_states(hass)
    sent = len(messages)
    # Valid mutations of the announcement are the node's own updates (another availability
    # topic, other unique_ids) and reload the zone: the node announces itself as it is.
    original = json.dumps(announcement(NODE)).encode()
    await hass.async_add_executor_job(zone.node.publish, ANNOUNCEMENT_TOPIC, original)
    await wait_until("the zone to follow its node's announcement again", lambda: _restored(zone))
    await hass.async_block_till_done()  # a reload the announcement scheduled has run
    await wait_until("the zone's entities after its reload", lambda: _restored(zone))
    seq += 1
    await zone.deliver(LIVE_TOPIC, node_reading(seq, dt_util.utcnow()))
    after = _shown(zone)
    counters = dict(zone.history.state.counters)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    changed = {
        entity_id: (before[entity_id][0], shown[0])
        for entity_id, shown in after.items()
        # A mutated announcement that is still valid is a node's update: it may add some.
        if entity_id in before and shown[0] != before[entity_id][0] and not _on_own_clock(entity_id)
    }
    connectivity = [entity_id for entity_id in after if entity_id.startswith("binary_sensor.")]
    await zone.stop()
    stored = hass_storage[f"{DOMAIN}.history.{zone.entry.entry_id}"]["data"]
    stored_bytes = len(json.dumps(stored))
    record(
        "ha-hostile",
        messages_sent=sent,
        topics=len(corpora),
        tracebacks=sum(1 for r in errors if r.exc_info),
        error_lines=len(errors),
        entities_changed=len(changed),
        rejected_payloads=counters["rejected_payloads"] - rejected_before,
        store_bytes=stored_bytes,
    )
    assert sent >= 10_000
    assert not errors, [r.getMessage()[:300] for r in errors[:5]]
    assert not changed, changed
    assert all(after[entity_id][0] == STATE_ON for entity_id in connectivity)
    assert counters["rejected_payloads"] > rejected_before
    assert stored_bytes < MAX_STORED_BYTES
