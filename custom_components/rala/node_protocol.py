"""The names of a RALA edge node on the wire: its topics, its entities' unique ids, its id.

Pure module (standard library only), the integration's side of ``docs/protocol.md``. It
mirrors the agent's ``edge_agent.discovery.Topics`` and unique-id functions, and a test
(``tests/components/rala/test_discovery_schema.py``) compares the two, so the sides cannot
drift. Everything else in the integration imports these names instead of building strings.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import Final

TOPIC_ROOT: Final = "rala"
NODE_ID_PATTERN: Final = re.compile(r"[a-z0-9_-]+")
"""A node id: lower-case letters, digits, ``_`` and ``-`` (the agent refuses others)."""
KEY_PATTERN: Final = re.compile(r"[a-z0-9_-]+")
"""A sensor or actuator key. The agent's keys are ``[a-z0-9_]+``; ``-`` is also taken, so a
key stays readable if the agent ever allows it."""
ANNOUNCEMENT_FILTER: Final = f"{TOPIC_ROOT}/+/node"
"""The topic filter of every node's announcement (the manifest's ``mqtt`` key)."""
_ANNOUNCEMENT_TOPIC: Final = re.compile(rf"{TOPIC_ROOT}/([^/+#]+)/node")
_SENSOR_STATE_TOPIC: Final = re.compile(rf"{TOPIC_ROOT}/[^/+#]+/sensor/([^/+#]*)/state")
MAX_TOPIC_LENGTH: Final = 256
"""The longest topic a node may name in its announcement (its own are under 100)."""
_TOPIC_LEVEL: Final = r"[^/+#\x00-\x1f\x7f]+"
"""One level of a topic the integration subscribes to as it is: no wildcard, no control
character (a broker ends the connection of a client that subscribes to ``a/#/b`` or
to a topic with a NUL, and with it all of Home Assistant's MQTT)."""


@dataclass(frozen=True, slots=True)
class Topics:
    """The MQTT topics of one node that the integration builds (see ``docs/protocol.md``).

    The others (availability, state and command topics) come from the node's announcement
    and discovery."""

    node_id: str

    @property
    def base(self) -> str:
        """``rala/<node>``."""
        return f"{TOPIC_ROOT}/{self.node_id}"

    @property
    def backfill(self) -> str:
        """Batches of readings the node buffered."""
        return f"{self.base}/backfill"

    @property
    def replay(self) -> str:
        """Where the integration asks the node to replay readings."""
        return f"{self.base}/replay"

    @property
    def sensor_state_filter(self) -> str:
        """Subscription filter matching the live readings of every sensor of the node."""
        return self.sensor_state("+")

    def sensor_state(self, sensor: str) -> str:
        """Live readings of one sensor."""
        return f"{self.base}/sensor/{sensor}/state"


def is_node_topic(node_id: str, topic: str) -> bool:
    """Whether ``topic`` is one of the node's own, fit to subscribe to as it is.

    Under ``rala/<node>/``, at most :data:`MAX_TOPIC_LENGTH` characters, no empty level, no
    wildcard and no control character.
    """
    base = Topics(node_id).base
    return len(topic) <= MAX_TOPIC_LENGTH and (
        re.fullmatch(rf"{re.escape(base)}(?:/{_TOPIC_LEVEL})+", topic) is not None
    )


def node_id_from_announcement_topic(topic: str) -> str | None:
    """The ``<node>`` of ``rala/<node>/node``, or ``None`` for any other topic."""
    match = _ANNOUNCEMENT_TOPIC.fullmatch(topic)
    return match.group(1) if match else None


def sensor_from_state_topic(topic: str) -> str | None:
    """The ``<sensor>`` of ``rala/<node>/sensor/<sensor>/state``, or ``None``.

    An empty level (``rala/<node>/sensor//state`` matches the subscription filter) comes
    back as ``""``, which is no sensor key: the reading is refused as such.
    """
    match = _SENSOR_STATE_TOPIC.fullmatch(topic)
    return match.group(1) if match else None


def sensor_unique_id(node_id: str, sensor: str, quantity: str) -> str:
    """The unique id of one quantity (temperature, humidity, pressure) of one sensor.

    A zone binds to the unique ids its node announced (stored in its entry); pressure, which
    no zone binds to, is found by this scheme.
    """
    return f"rala_{node_id}_{sensor}_{quantity}"
