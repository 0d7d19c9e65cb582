"""What "in band" means: a closed range of good values, its edges included.

Pure (standard library only). The control engine, the zone's VPD status, the time-in-band
metrics and the bench's scoring all judge a value by :class:`Band`, so that a reading the
controller leaves alone is never counted as out of band elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
import math


class BandError(ValueError):
    """A band is empty or not finite (the message names the edges)."""


@dataclass(frozen=True, slots=True)
class Band:
    """A closed range ``low``..``high`` (``low < high``, both finite)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        """Refuse a band that is empty or not finite."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise BandError(f"band edges must be finite numbers, got {self.low!r}..{self.high!r}")
        if not self.low < self.high:
            raise BandError(f"band low {self.low} must be below high {self.high}")

    @classmethod
    def around(cls, centre: float, half_width: float, *, floor: float = -math.inf) -> Band:
        """``centre ± half_width``, its low edge raised to ``floor`` (a VPD is never below 0)."""
        if not half_width > 0:
            raise BandError(f"band half width must be positive, got {half_width!r}")
        return cls(max(floor, centre - half_width), centre + half_width)

    def __contains__(self, value: object) -> bool:
        """Whether ``value`` (a number) lies in the band, edges included."""
        return isinstance(value, int | float) and self.low <= value <= self.high

    def classify[T](self, value: float, *, below: T, inside: T, above: T) -> T:
        """``inside`` for a value in the band, else ``below`` or ``above`` it."""
        if value in self:
            return inside
        return below if value < self.low else above
