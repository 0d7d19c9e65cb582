"""RALA's blueprints arrive with the integration, in the configuration's blueprint folder.

The integration carries a copy of the repository's ``blueprints/automation/rala/``
(a test keeps the two identical), so a grower without GitHub access can still create
automations from them. On setup each blueprint is written to
``<config>/blueprints/automation/rala/`` when it is absent. A copy is replaced by a
newer shipped version only while it is exactly what RALA wrote before (its SHA-256 is
remembered); a copy the grower edited is never touched, and a deleted one comes back
(deleting the folder is how to get the shipped versions again).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

SHIPPED_BLUEPRINTS = Path(__file__).parent / "blueprints" / "automation" / DOMAIN
"""The blueprints inside the integration."""
BLUEPRINT_SUBFOLDER = ("blueprints", "automation", DOMAIN)
"""Where Home Assistant looks for them, relative to the configuration folder."""
STORAGE_KEY = f"{DOMAIN}.installed_blueprints"


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def install_blueprints(target: Path, installed: dict[str, str]) -> dict[str, str]:
    """Write each shipped blueprint that is absent or still RALA's own older copy.

    ``installed`` maps file names to the digest RALA wrote last; the result is the
    updated map. Blocking file I/O: run it in the executor.
    """
    target.mkdir(parents=True, exist_ok=True)
    written = dict(installed)
    for shipped in sorted(SHIPPED_BLUEPRINTS.glob("*.yaml")):
        content = shipped.read_bytes()
        copy = target / shipped.name
        if copy.exists():
            current = _digest(copy.read_bytes())
            if current == _digest(content) or current != installed.get(shipped.name):
                # Up to date, or the grower's own edit: theirs to keep.
                continue
        copy.write_bytes(content)
        written[shipped.name] = _digest(content)
        _LOGGER.info("Installed the blueprint %s", copy.name)
    return written


async def async_install_blueprints(hass: HomeAssistant) -> None:
    """Put RALA's blueprints into the configuration's blueprint folder (see module doc)."""
    store: Store[dict[str, str]] = Store(hass, 1, STORAGE_KEY)
    installed = await store.async_load() or {}
    target = Path(hass.config.path(*BLUEPRINT_SUBFOLDER))
    try:
        written = await hass.async_add_executor_job(install_blueprints, target, installed)
    except OSError as err:
        # A read-only configuration folder must not stop the grow zones.
        _LOGGER.warning("The RALA blueprints could not be installed in %s: %s", target, err)
        return
    if written != installed:
        await store.async_save(written)
