"""The Python requirements of the integrations the demo's Home Assistant loads.

Home Assistant installs an integration's requirements when it loads it, unless it runs
with ``--skip-pip``. The demo runs with ``--skip-pip`` and installs them beforehand (the
``demo`` dependency group), so Home Assistant never installs anything at run time; this
module says which they are, from the integrations' manifests.
"""

from __future__ import annotations

from collections.abc import Iterable
import json
from pathlib import Path

from homeassistant import bootstrap
from homeassistant.util.package import is_installed

# What the demo's configuration sets up besides Home Assistant's always-loaded
# integrations: its YAML integrations, MQTT (a config entry) and RALA's dependencies,
# and the integrations that finishing onboarding's core configuration step sets up
# (homeassistant/components/onboarding/views.py).
DEMO_INTEGRATIONS = ("config", "frontend", "history", "logbook", "lovelace", "recorder", "mqtt")
ONBOARDING_INTEGRATIONS = ("google_translate", "met", "radio_browser", "shopping_list")

_COMPONENTS = Path(bootstrap.__file__).parent / "components"


def loaded_integrations(configured: Iterable[str] = DEMO_INTEGRATIONS) -> set[str]:
    """Every integration whose requirements Home Assistant processes for ``configured``.

    Its always-loaded integrations, the onboarding ones and ``configured``, with their
    dependencies and after-dependencies: Home Assistant processes the requirements of
    both (homeassistant/requirements.py), and a module imports the after-dependency's
    packages (analytics imports hassio's, for example).
    """
    pending = [
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *ONBOARDING_INTEGRATIONS,
        *configured,
    ]
    loaded: set[str] = set()
    while pending:
        domain = pending.pop()
        if domain in loaded:
            continue
        manifest = _COMPONENTS / domain / "manifest.json"
        if not manifest.is_file():
            continue  # not a built-in integration (sentry is optional, for example)
        loaded.add(domain)
        content = json.loads(manifest.read_text(encoding="utf-8"))
        pending += [*content.get("dependencies", []), *content.get("after_dependencies", [])]
    return loaded


def integration_requirements(configured: Iterable[str] = DEMO_INTEGRATIONS) -> dict[str, set[str]]:
    """Requirement (as pinned in the manifests) → the loaded integrations that need it."""
    requirements: dict[str, set[str]] = {}
    for domain in loaded_integrations(configured):
        manifest = json.loads((_COMPONENTS / domain / "manifest.json").read_text(encoding="utf-8"))
        for requirement in manifest.get("requirements", []):
            requirements.setdefault(requirement, set()).add(domain)
    return requirements


def missing_requirements(configured: Iterable[str] = DEMO_INTEGRATIONS) -> list[str]:
    """The requirements that are not installed in this environment, sorted."""
    return sorted(r for r in integration_requirements(configured) if not is_installed(r))
