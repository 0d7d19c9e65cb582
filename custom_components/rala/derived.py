"""Climate values derived from one set of readings: air and leaf VPD, dew point, absolute humidity.

Pure: the zone and the import of buffered readings derive with the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

from .psychrometrics import absolute_humidity, dew_point, has_dew_point, vpd_air, vpd_leaf


@dataclass(frozen=True, slots=True)
class DerivedValues:
    """Climate values derived from a complete, fresh set of readings."""

    air_vpd: float
    """kPa."""
    leaf_vpd: float
    """kPa; negative when water condenses on the leaves."""
    leaf_temperature: float
    """°C: measured, or air temperature minus the leaf offset."""
    leaf_temperature_measured: bool
    dew_point: float | None
    """°C; ``None`` in air too dry for one (0 % RH, or a dew point below -50 °C)."""
    absolute_humidity: float
    """g/m³."""


def derive(
    air_temperature: float, humidity: float, leaf_temperature: float | None, leaf_offset: float
) -> DerivedValues:
    """Compute the derived values (°C, % RH in; leaf temperature measured or ``None``).

    Raises :class:`.psychrometrics.PsychrometricsError` for out-of-domain inputs.
    """
    leaf_vpd = vpd_leaf(air_temperature, humidity, leaf_temperature, leaf_offset_c=leaf_offset)
    return DerivedValues(
        air_vpd=vpd_air(air_temperature, humidity),
        leaf_vpd=leaf_vpd,
        leaf_temperature=(
            leaf_temperature if leaf_temperature is not None else air_temperature - leaf_offset
        ),
        leaf_temperature_measured=leaf_temperature is not None,
        dew_point=(
            dew_point(air_temperature, humidity)
            if has_dew_point(air_temperature, humidity)
            else None
        ),
        absolute_humidity=absolute_humidity(air_temperature, humidity),
    )
