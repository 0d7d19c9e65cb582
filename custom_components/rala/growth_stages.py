"""Growth stages and their default climate targets: a documented starting point, not a recipe.

Pure module, standard library only. Every number below is a default a grower is expected to
tune for cultivar, lighting and room; they are where RALA starts, chosen from these sources:

VPD bands (leaf VPD, kPa)
    The three bands of the VPD charts in wide use among indoor growers (the Perfect Grower and
    Pulse Grow style charts): propagation 0.4-0.8, vegetative 0.8-1.2, flowering 1.2-1.6. These
    are industry practice, not peer-reviewed results. RALA uses them as is for seedling,
    vegetative and late flower; *early flower 1.0-1.4 is RALA's own choice*, straddling
    vegetative and flowering because the plant is still stretching in the first weeks of flower.
    The target of every band is its middle. The physics behind the direction of the bands (low
    VPD: little transpiration, condensation and fungal disease; high VPD: stomata close, growth
    stops) is explained in J. J. Prenger and P. P. Ling, "Greenhouse Condensation Control:
    Understanding and Using Vapor Pressure Deficit (VPD)", Ohio State University Extension fact
    sheet AEX-804-01.

Temperatures (°C)
    S. Chandra, H. Lata, I. A. Khan and M. A. ElSohly (2008), "Photosynthetic response of
    Cannabis sativa L. to variations in photosynthetic photon flux densities, temperature and
    CO2 conditions", Physiol. Mol. Biol. Plants 14(4): 299-306, doi:10.1007/s12298-008-0027-x,
    conclude that the temperature optimum for photosynthesis is 25-30 °C (at about 1500
    µmol/m²/s). RALA's day targets (23-26 °C) sit at or just below the low end of that range,
    because hobby rooms rarely reach that light level and warmer air costs energy and needs
    ever drier air for the same VPD. Nights 3-5 °C cooler follow common grow-room practice (a
    positive day/night difference); the cooler late-flower days and nights are grower practice
    as well, not a cited result.

Drying
    18-21 °C and 55-62 % RH, dark, for a slow dry of harvested material: grower practice (cooler
    and slower variants such as the "60/60" rule, 15.5 °C and 60 % RH, are also common), not a
    peer-reviewed result. Harvested material is not a transpiring leaf, so the drying band is an
    **air** VPD (leaf temperature = air temperature); it is the 55-62 % RH band expressed at
    about 20 °C, and the RH band itself is kept in :attr:`StageTargets.rh_band_percent` as the
    primary sanity check.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
import math
from types import MappingProxyType


class GrowthStage(StrEnum):
    """Stage of a crop's life; the value is the stable key used in options and services."""

    SEEDLING = "seedling"
    VEGETATIVE = "vegetative"
    EARLY_FLOWER = "early_flower"
    LATE_FLOWER = "late_flower"
    DRYING = "drying"


@dataclass(frozen=True, slots=True, kw_only=True)
class StageTargets:
    """Default climate targets of one growth stage.

    ``vpd_is_leaf`` tells whether the VPD band is a leaf VPD (living plants) or an air VPD
    (drying). ``rh_band_percent`` is set only where the stage is defined by RH (drying).
    Construction checks consistency and raises :class:`ValueError` on nonsense.
    """

    day_temperature_c: float
    night_temperature_c: float
    vpd_low_kpa: float
    vpd_target_kpa: float
    vpd_high_kpa: float
    vpd_is_leaf: bool = True
    rh_band_percent: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        """Reject targets that contradict themselves."""
        numbers = {
            "day_temperature_c": self.day_temperature_c,
            "night_temperature_c": self.night_temperature_c,
            "vpd_low_kpa": self.vpd_low_kpa,
            "vpd_target_kpa": self.vpd_target_kpa,
            "vpd_high_kpa": self.vpd_high_kpa,
        }
        for name, value in numbers.items():
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not 0.0 <= self.vpd_low_kpa < self.vpd_target_kpa < self.vpd_high_kpa:
            raise ValueError(
                "VPD band must satisfy 0 <= low < target < high, got "
                f"{self.vpd_low_kpa!r} < {self.vpd_target_kpa!r} < {self.vpd_high_kpa!r}"
            )
        if self.night_temperature_c > self.day_temperature_c:
            raise ValueError(
                f"night temperature {self.night_temperature_c!r} °C is above "
                f"day temperature {self.day_temperature_c!r} °C"
            )
        if self.rh_band_percent is not None:
            low_rh, high_rh = self.rh_band_percent
            if not 0.0 <= low_rh < high_rh <= 100.0:
                raise ValueError(
                    f"RH band must satisfy 0 <= low < high <= 100, got {self.rh_band_percent!r}"
                )

    @property
    def vpd_band_kpa(self) -> tuple[float, float]:
        """The VPD band as ``(low, high)`` in kPa."""
        return (self.vpd_low_kpa, self.vpd_high_kpa)


STAGE_TARGETS: Mapping[GrowthStage, StageTargets] = MappingProxyType(
    {
        GrowthStage.SEEDLING: StageTargets(
            day_temperature_c=25.0,
            night_temperature_c=22.0,
            vpd_low_kpa=0.4,
            vpd_target_kpa=0.6,
            vpd_high_kpa=0.8,
        ),
        GrowthStage.VEGETATIVE: StageTargets(
            day_temperature_c=26.0,
            night_temperature_c=21.0,
            vpd_low_kpa=0.8,
            vpd_target_kpa=1.0,
            vpd_high_kpa=1.2,
        ),
        GrowthStage.EARLY_FLOWER: StageTargets(
            day_temperature_c=25.0,
            night_temperature_c=20.0,
            vpd_low_kpa=1.0,
            vpd_target_kpa=1.2,
            vpd_high_kpa=1.4,
        ),
        GrowthStage.LATE_FLOWER: StageTargets(
            day_temperature_c=23.0,
            night_temperature_c=18.0,
            vpd_low_kpa=1.2,
            vpd_target_kpa=1.4,
            vpd_high_kpa=1.6,
        ),
        GrowthStage.DRYING: StageTargets(
            day_temperature_c=20.0,
            night_temperature_c=20.0,
            vpd_low_kpa=0.8,
            vpd_target_kpa=0.95,
            vpd_high_kpa=1.1,
            vpd_is_leaf=False,
            rh_band_percent=(55.0, 62.0),
        ),
    }
)
"""Default targets of every growth stage (read-only)."""
