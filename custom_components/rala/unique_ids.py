"""The unique ids of a grow zone's own entities (a node's entities are in :mod:`.node_protocol`).

Pure module: the entities, the dashboard and the import of buffered readings into the
zone's sensors' statistics find an entity by the same scheme.
"""

from __future__ import annotations


def zone_entity_unique_id(entry_id: str, key: str) -> str:
    """The unique id of the zone entity described by ``key``."""
    return f"{entry_id}_{key}"


def zone_entity_key(entry_id: str, unique_id: str) -> str | None:
    """The description key of a zone entity, from its unique id (``None`` if not one)."""
    prefix = zone_entity_unique_id(entry_id, "")
    return unique_id.removeprefix(prefix) if unique_id.startswith(prefix) else None
