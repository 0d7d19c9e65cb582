"""The brand images: square RGBA PNGs that Home Assistant serves from the integration itself."""

from http import HTTPStatus
from pathlib import Path
import struct
import zlib

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

BRAND = Path(__file__).parents[3] / "custom_components" / "rala" / "brand"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RGBA = 6


def _ihdr(data: bytes) -> tuple[int, int, int, int]:
    """Width, height, bit depth and colour type of a PNG; checks signature and CRC."""
    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    body = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(kind + body)
    width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
    return width, height, depth, colour_type


@pytest.mark.parametrize(("name", "size"), [("icon.png", 256), ("icon@2x.png", 512)])
def test_icons_have_the_sizes_home_assistant_expects(name: str, size: int) -> None:
    """256 px and 512 px squares with an alpha channel (a transparent background)."""
    assert _ihdr((BRAND / name).read_bytes()) == (size, size, 8, RGBA)


@pytest.mark.parametrize("name", ["icon.png", "icon@2x.png"])
async def test_home_assistant_serves_the_local_icons(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, name: str
) -> None:
    """The brands integration serves a custom integration's brand folder (no CDN involved)."""
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    response = await client.get(f"/api/brands/integration/rala/{name}")
    assert response.status == HTTPStatus.OK
    assert await response.read() == (BRAND / name).read_bytes()
