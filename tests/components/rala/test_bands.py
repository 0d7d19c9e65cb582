"""The one rule of "in band" (pure: no Home Assistant involved)."""

import math

import pytest

from custom_components.rala.bands import Band, BandError


@pytest.mark.parametrize(
    ("low", "high"),
    [(2.0, 1.0), (1.0, 1.0), (math.nan, 1.0), (0.0, math.inf)],
    ids=["reversed", "empty", "nan", "infinite"],
)
def test_an_empty_or_infinite_band_is_refused(low: float, high: float) -> None:
    """A band needs finite edges, low below high; the message names the edges."""
    with pytest.raises(BandError, match=r".+"):
        Band(low, high)


def test_edges_are_in_band() -> None:
    """Closed range: both edges count as in band; a string or NaN is not in any band."""
    band = Band(0.8, 1.2)
    assert 0.8 in band
    assert 1.2 in band
    assert 1.0 in band
    assert 0.79 not in band
    assert 1.21 not in band
    assert float("nan") not in band  # noqa: PLW0177 (the comparison is the point)
    assert "1.0" not in band


def test_around_is_symmetric_and_floored() -> None:
    """``around`` centres the band; its low edge is raised to the floor (a VPD to 0)."""
    assert Band.around(24.0, 1.5) == Band(22.5, 25.5)
    assert Band.around(0.3, 0.4, floor=0.0) == Band(0.0, 0.7)
    with pytest.raises(BandError, match="half width"):
        Band.around(24.0, 0.0)


def test_classify_agrees_with_in_band() -> None:
    """Inside exactly when in band (edges included); below or above by the side it is out."""
    band = Band(0.8, 1.2)
    values = (0.7, 0.8, 1.2, 1.3)
    sides = [band.classify(v, below="below", inside="inside", above="above") for v in values]
    assert sides == ["below", "inside", "inside", "above"]
