"""RALA's blueprints are installed into the configuration on setup, never over an edit."""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest

from custom_components.rala.blueprint_install import SHIPPED_BLUEPRINTS, install_blueprints
from custom_components.rala.const import DOMAIN

REPOSITORY_BLUEPRINTS = Path(__file__).parents[3] / "blueprints" / "automation" / "rala"


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A private configuration folder."""
    hass.config.config_dir = str(tmp_path)
    return tmp_path / "blueprints" / "automation" / "rala"


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.yaml"))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _same(folder: Path, name: Path, content: bytes) -> bool:
    return (folder / name).read_bytes() == content


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_the_integration_carries_the_repositorys_blueprints() -> None:
    """The copy inside the integration is byte for byte the repository's."""
    shipped = {path.name: path.read_bytes() for path in SHIPPED_BLUEPRINTS.glob("*.yaml")}
    repository = {path.name: path.read_bytes() for path in REPOSITORY_BLUEPRINTS.glob("*.yaml")}
    assert shipped == repository


async def test_setup_installs_blueprints_home_assistant_can_load(
    hass: HomeAssistant, config_dir: Path
) -> None:
    """After setup the automation editor lists every RALA blueprint, without errors."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    assert _names(config_dir) == _names(SHIPPED_BLUEPRINTS)
    loaded = await async_get_blueprints(hass).async_get_blueprints()
    rala = {path: blueprint for path, blueprint in loaded.items() if path.startswith("rala/")}
    assert sorted(rala) == [f"rala/{name}" for name in _names(SHIPPED_BLUEPRINTS)]
    assert all(not isinstance(blueprint, Exception) for blueprint in rala.values()), rala


async def test_an_edited_copy_is_kept(hass: HomeAssistant, config_dir: Path) -> None:
    """The grower's edit wins; the missing blueprints are still added."""
    _write(config_dir / "vpd_out_of_band.yaml", "# my own version\n")
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    assert _same(config_dir, Path("vpd_out_of_band.yaml"), b"# my own version\n")
    light = "light_schedule.yaml"
    assert _same(config_dir, Path(light), (SHIPPED_BLUEPRINTS / light).read_bytes())


def test_only_rala_s_own_unedited_copy_is_updated(tmp_path: Path) -> None:
    """An older copy RALA wrote is replaced; one with the same name but edited is not."""
    older, edited = b"# RALA, older version\n", b"# RALA, older version, edited\n"
    (tmp_path / "light_schedule.yaml").write_bytes(older)
    (tmp_path / "vpd_out_of_band.yaml").write_bytes(edited)
    installed = {name: _sha256(older) for name in ("light_schedule.yaml", "vpd_out_of_band.yaml")}
    written = install_blueprints(tmp_path, installed)
    shipped_light = (SHIPPED_BLUEPRINTS / "light_schedule.yaml").read_bytes()
    assert (tmp_path / "light_schedule.yaml").read_bytes() == shipped_light
    assert (tmp_path / "vpd_out_of_band.yaml").read_bytes() == edited
    assert written["light_schedule.yaml"] == _sha256(shipped_light)
    assert written["vpd_out_of_band.yaml"] == _sha256(older)
    # A second run changes nothing.
    assert install_blueprints(tmp_path, written) == written


async def test_an_unwritable_folder_does_not_stop_the_integration(
    hass: HomeAssistant, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The blueprints are a convenience: without them the zones still work."""
    _write(config_dir, "not a folder")
    assert await async_setup_component(hass, DOMAIN, {})
    assert "could not be installed" in caplog.text
