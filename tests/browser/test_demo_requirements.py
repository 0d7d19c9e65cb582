"""The demo's pins are exactly what its Home Assistant's integrations ask for.

Home Assistant runs with ``--skip-pip`` in the demo: a requirement missing from the
``demo`` dependency group would fail an integration's set-up instead of being installed.
"""

from pathlib import Path
import tomllib

from homeassistant.const import __version__ as HA_VERSION  # noqa: N812
from packaging.requirements import Requirement

from demo.requirements import integration_requirements, loaded_integrations, missing_requirements

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"playwright"}  # the browser check's own, not Home Assistant's


def _demo_group() -> dict[str, str]:
    """Normalised name → requirement string of the pyproject's demo group."""
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {
        Requirement(item).name.lower(): item
        for item in groups["dependency-groups"]["demo"]
        if isinstance(item, str)
    }


def test_the_group_pins_what_the_loaded_integrations_require() -> None:
    """Same names, same pins as the manifests; Home Assistant itself is the installed one."""
    group = _demo_group()
    assert group.pop("homeassistant") == f"homeassistant=={HA_VERSION}"
    for tool in TOOLS:
        group.pop(tool)
    wanted = {Requirement(r).name.lower(): r for r in integration_requirements()}
    assert group == wanted


def test_every_requirement_is_installed() -> None:
    """scripts/setup installed the lock file: nothing is left for Home Assistant to install."""
    assert missing_requirements() == []


def test_the_demo_loads_neither_default_config_nor_the_integrations_it_leaves_out() -> None:
    """default_config's extras (C builds, downloads at run time) stay out of the demo."""
    loaded = loaded_integrations()
    assert {"mqtt", "frontend", "recorder", "history", "logbook", "lovelace"} <= loaded
    assert not {"default_config", "zeroconf", "bluetooth", "dhcp", "ssdp", "usb"} & loaded
