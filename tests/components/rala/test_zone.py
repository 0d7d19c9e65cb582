"""The zone runtime: inputs, unit conversion, derived values, staleness, targets."""

from datetime import datetime, timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.rala import psychrometrics
from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_LEAF_TEMPERATURE_ENTITY,
    CONF_LIGHT,
    CONF_LIGHTS_ON_TIME,
    CONF_MAX_INPUT_AGE,
    CONF_NODE_SAMPLE_INTERVAL,
    CONF_PHOTOPERIOD,
    CONF_TEMPERATURE_ENTITY,
    DOMAIN,
)
from custom_components.rala.growth_stages import STAGE_TARGETS, GrowthStage
from custom_components.rala.zone import GrowZone, UnavailableReason, VpdStatus

TEMP = "sensor.tent_temperature"
HUMIDITY = "sensor.tent_humidity"
LEAF = "sensor.leaf_temperature"
LIGHT = "switch.tent_light"
CELSIUS = {ATTR_UNIT_OF_MEASUREMENT: "°C", "device_class": "temperature"}
FAHRENHEIT = {ATTR_UNIT_OF_MEASUREMENT: "°F", "device_class": "temperature"}
PERCENT = {ATTR_UNIT_OF_MEASUREMENT: "%", "device_class": "humidity"}


async def _zone(hass: HomeAssistant, **options: object) -> tuple[MockConfigEntry, GrowZone]:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Tent",
        unique_id="zone_tent",
        data={"name": "Tent", CONF_TEMPERATURE_ENTITY: TEMP, CONF_HUMIDITY_ENTITY: HUMIDITY},
        options={CONF_LEAF_OFFSET: 2.0, **options},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry, entry.runtime_data.zone


async def test_derived_values_follow_inputs(hass: HomeAssistant) -> None:
    """Every input change recomputes VPD, dew point and absolute humidity."""
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    _, zone = await _zone(hass)
    assert zone.available
    assert zone.derived is not None
    assert zone.derived.air_vpd == pytest.approx(psychrometrics.vpd_air(25.0, 60.0))
    assert zone.derived.leaf_vpd == pytest.approx(
        psychrometrics.vpd_leaf(25.0, 60.0, leaf_offset_c=2.0)
    )
    assert zone.readings.air_temperature is not None
    assert zone.readings.air_temperature.value == 25.0

    calls: list[None] = []
    unsubscribe = zone.async_add_listener(lambda: calls.append(None))
    hass.states.async_set(HUMIDITY, "70", PERCENT)
    await hass.async_block_till_done()
    assert calls
    assert zone.derived.air_vpd == pytest.approx(psychrometrics.vpd_air(25.0, 70.0))
    unsubscribe()
    count = len(calls)
    hass.states.async_set(HUMIDITY, "71", PERCENT)
    await hass.async_block_till_done()
    assert len(calls) == count


async def test_fahrenheit_is_converted(hass: HomeAssistant) -> None:
    """A °F sensor gives the same VPD as the same temperature in °C."""
    hass.states.async_set(TEMP, "77.0", FAHRENHEIT)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    _, zone = await _zone(hass)
    assert zone.readings.air_temperature is not None
    assert zone.readings.air_temperature.value == pytest.approx(25.0)
    assert zone.derived is not None
    assert zone.derived.air_vpd == pytest.approx(psychrometrics.vpd_air(25.0, 60.0))


async def test_stale_input_makes_zone_unavailable(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """No update for longer than the maximum age: unavailable, logged once, back on update."""
    caplog.set_level(logging.INFO)
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    _, zone = await _zone(hass, **{CONF_MAX_INPUT_AGE: 120})
    assert zone.available
    freezer.tick(timedelta(seconds=100))
    hass.states.async_set(HUMIDITY, "60", PERCENT, force_update=False)
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert not zone.available
    assert zone.unavailable_reason is UnavailableReason.INPUT_STALE
    freezer.tick(timedelta(seconds=300))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert caplog.text.count("is unavailable") == 1
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    await hass.async_block_till_done()
    assert not zone.available  # the humidity is stale as well
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    await hass.async_block_till_done()
    assert zone.available
    assert caplog.text.count("available again") == 1


async def test_kelvin_is_converted(hass: HomeAssistant) -> None:
    """A kelvin sensor is converted too."""
    hass.states.async_set(TEMP, "298.15", {ATTR_UNIT_OF_MEASUREMENT: "K"})
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    _, zone = await _zone(hass)
    assert zone.readings.air_temperature is not None
    assert zone.readings.air_temperature.value == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("temperature", "humidity", "reason"),
    [
        (None, ("60", PERCENT), UnavailableReason.INPUT_UNAVAILABLE),
        (("unavailable", CELSIUS), ("60", PERCENT), UnavailableReason.INPUT_UNAVAILABLE),
        (("25", CELSIUS), ("unknown", PERCENT), UnavailableReason.INPUT_UNAVAILABLE),
        (("warm", CELSIUS), ("60", PERCENT), UnavailableReason.INPUT_INVALID),
        (("inf", CELSIUS), ("60", PERCENT), UnavailableReason.INPUT_INVALID),
        (("25", {}), ("60", PERCENT), UnavailableReason.INPUT_INVALID),
        (
            ("25", {ATTR_UNIT_OF_MEASUREMENT: "°R"}),
            ("60", PERCENT),
            UnavailableReason.INPUT_INVALID,
        ),
        (
            ("25", CELSIUS),
            ("60", {ATTR_UNIT_OF_MEASUREMENT: "g/m³"}),
            UnavailableReason.INPUT_INVALID,
        ),
        (("25", CELSIUS), ("120", PERCENT), UnavailableReason.INPUT_INVALID),
        (("95", CELSIUS), ("60", PERCENT), UnavailableReason.INPUT_INVALID),
    ],
)
async def test_bad_inputs_make_zone_unavailable(
    hass: HomeAssistant,
    temperature: tuple[str, dict[str, str]] | None,
    humidity: tuple[str, dict[str, str]],
    reason: UnavailableReason,
) -> None:
    """Missing, unavailable, non-numeric, unit-less or out-of-range inputs: no values."""
    if temperature is not None:
        hass.states.async_set(TEMP, *temperature)
    hass.states.async_set(HUMIDITY, *humidity)
    _, zone = await _zone(hass)
    assert not zone.available
    assert zone.derived is None
    assert zone.vpd_status is None
    assert zone.current_vpd is None
    assert zone.unavailable_reason is reason
    assert zone.unavailable_detail


async def test_measured_leaf_temperature(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A leaf sensor replaces the offset; when it fails or goes stale the offset stands in."""
    hass.states.async_set(TEMP, "26.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    hass.states.async_set(LEAF, "24.5", CELSIUS)
    entry, zone = await _zone(hass, **{CONF_MAX_INPUT_AGE: 120})
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_LEAF_TEMPERATURE_ENTITY: LEAF}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    zone = entry.runtime_data.zone
    assert zone.input_entity_ids == [TEMP, HUMIDITY, LEAF]
    assert zone.derived is not None
    assert zone.derived.leaf_temperature_measured
    assert zone.derived.leaf_temperature == 24.5
    assert zone.derived.leaf_vpd == pytest.approx(psychrometrics.vpd_leaf(26.0, 60.0, 24.5))

    hass.states.async_set(LEAF, "garbage", CELSIUS)
    await hass.async_block_till_done()
    assert zone.derived is not None
    assert not zone.derived.leaf_temperature_measured
    assert zone.derived.leaf_temperature == 24.0  # 26 °C minus the 2 °C offset

    hass.states.async_set(LEAF, "25.0", CELSIUS)
    await hass.async_block_till_done()
    assert zone.derived.leaf_temperature == 25.0
    # The leaf sensor goes silent while air and humidity keep reporting.
    freezer.tick(timedelta(seconds=100))
    hass.states.async_set(TEMP, "26.1", CELSIUS)
    hass.states.async_set(HUMIDITY, "61", PERCENT)
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert zone.available
    assert zone.readings.leaf_temperature is None
    assert zone.derived is not None
    assert zone.derived.leaf_temperature == pytest.approx(24.1)


async def test_light_switches_day_and_night_targets(hass: HomeAssistant) -> None:
    """With a light mapped, day targets apply while it is on and night targets while off."""
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    hass.states.async_set(LIGHT, "off")
    _, zone = await _zone(hass, **{CONF_LIGHT: LIGHT})
    zone.async_set_targets(day_temperature=26.0, night_temperature=20.0, night_vpd=0.8)
    assert not zone.is_day
    assert zone.target_temperature == 20.0
    assert zone.target_vpd == 0.8

    hass.states.async_set(LIGHT, "on")
    await hass.async_block_till_done()
    assert zone.is_day
    assert zone.target_temperature == 26.0

    hass.states.async_set(LIGHT, "unavailable")
    await hass.async_block_till_done()
    assert zone.is_day  # a flaky light does not flip the targets

    zone.async_set_is_day(False)
    assert zone.target_temperature == 20.0


async def test_stage_and_targets(hass: HomeAssistant) -> None:
    """Stages apply literature targets; targets are validated; drying uses the air VPD."""
    hass.states.async_set(TEMP, "20.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "58", PERCENT)
    _, zone = await _zone(hass)
    calls: list[None] = []
    zone.async_add_listener(lambda: calls.append(None))

    zone.async_set_growth_stage(GrowthStage.SEEDLING)
    seedling = STAGE_TARGETS[GrowthStage.SEEDLING]
    assert zone.targets.day_temperature == seedling.day_temperature_c
    assert zone.vpd_band == pytest.approx((seedling.vpd_low_kpa, seedling.vpd_high_kpa))
    assert calls

    with pytest.raises(ValueError, match="day_vpd"):
        zone.async_set_targets(day_vpd=3.0)
    with pytest.raises(ValueError, match="night_temperature"):
        zone.async_set_targets(night_temperature=5.0)
    assert zone.targets.day_temperature == seedling.day_temperature_c
    count = len(calls)
    zone.async_set_targets(day_temperature=seedling.day_temperature_c)  # no change, no call
    assert len(calls) == count

    zone.async_set_growth_stage(GrowthStage.DRYING)
    assert not zone.vpd_is_leaf
    assert zone.derived is not None
    assert zone.current_vpd == zone.derived.air_vpd
    assert zone.vpd_status is VpdStatus.IN_RANGE  # 58 % RH at 20 °C is the drying band

    zone.async_set_growth_stage(GrowthStage.LATE_FLOWER, apply_targets=False)
    assert zone.growth_stage is GrowthStage.LATE_FLOWER
    assert zone.targets.day_temperature == STAGE_TARGETS[GrowthStage.DRYING].day_temperature_c


async def test_zero_humidity_has_no_dew_point(hass: HomeAssistant) -> None:
    """Bone-dry air has no dew point; the rest is still computed."""
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "0", PERCENT)
    _, zone = await _zone(hass)
    assert zone.derived is not None
    assert zone.derived.dew_point is None
    assert zone.derived.absolute_humidity == 0.0


@pytest.mark.parametrize("humidity", ["1e-321", "1e-322", "5e-324", "0.1"])
async def test_humidity_a_hair_above_zero_has_no_dew_point(
    hass: HomeAssistant, humidity: str
) -> None:
    """Air as dry as makes no difference to 0 % RH has no dew point either; the zone keeps
    computing everything else (it used to stop on a math error)."""
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, humidity, PERCENT)
    _, zone = await _zone(hass)
    assert zone.derived is not None
    assert zone.derived.dew_point is None
    assert zone.derived.air_vpd == pytest.approx(psychrometrics.vpd_air(25.0, float(humidity)))
    hass.states.async_set(HUMIDITY, "50", PERCENT)
    await hass.async_block_till_done()
    assert zone.derived is not None
    assert zone.derived.dew_point == pytest.approx(psychrometrics.dew_point(25.0, 50.0))


@pytest.mark.parametrize(("sample_interval", "expected"), [(10, 60), (45, 90), (None, 900)])
async def test_default_max_input_age(
    hass: HomeAssistant, sample_interval: int | None, expected: int
) -> None:
    """Two sample intervals of the node, at least a minute; 15 minutes for other sensors."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={
            "name": "Tent",
            CONF_TEMPERATURE_ENTITY: TEMP,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
            **({CONF_NODE_SAMPLE_INTERVAL: sample_interval} if sample_interval else {}),
        },
    )
    assert GrowZone(hass, entry).max_input_age == timedelta(seconds=expected)


async def test_start_is_idempotent(hass: HomeAssistant) -> None:
    """Starting a started zone tracks nothing twice."""
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    _, zone = await _zone(hass)
    listeners = hass.bus.async_listeners()
    zone.async_start()
    assert hass.bus.async_listeners() == listeners


def _local(text: str) -> datetime:
    """A local wall-clock time of Home Assistant's time zone, in UTC."""
    parsed = dt_util.parse_datetime(text)
    assert parsed is not None
    return dt_util.as_utc(parsed.replace(tzinfo=dt_util.get_default_time_zone()))


async def test_light_schedule_switches_day_and_night_without_a_light(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """18/6 from 06:00, no light entity: night at 05:00, day from 06:00, night from 00:00;
    the climate engine gets the time to the next switch."""
    freezer.move_to(_local("2026-11-25 05:00:00"))
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    _, zone = await _zone(hass, **{CONF_LIGHTS_ON_TIME: "06:00:00", CONF_PHOTOPERIOD: 18})
    assert zone.light_schedule is not None
    assert not zone.is_day
    phase = zone.light_phase(dt_util.utcnow())
    assert (phase.is_day, phase.seconds_to_switch) == (False, pytest.approx(3600))
    assert not phase.scheduled  # the engine never switches a light of its own accord
    freezer.move_to(_local("2026-11-25 06:00:01"))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert zone.is_day
    assert zone.light_phase(dt_util.utcnow()).seconds_to_switch == pytest.approx(18 * 3600 - 1)
    freezer.move_to(_local("2026-11-26 00:00:01"))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert not zone.is_day


async def test_light_entity_and_schedule_forecast_only_while_they_agree(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The light entity decides day and night; the schedule only tells when it switches
    next, and only while the light does what the schedule says."""
    freezer.move_to(_local("2026-11-25 12:00:00"))
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    hass.states.async_set(LIGHT, "on")
    _, zone = await _zone(
        hass, **{CONF_LIGHT: LIGHT, CONF_LIGHTS_ON_TIME: "06:00", CONF_PHOTOPERIOD: 18}
    )
    assert zone.light_phase(dt_util.utcnow()).seconds_to_switch == pytest.approx(12 * 3600)
    hass.states.async_set(LIGHT, "off")  # switched off by hand at noon
    await hass.async_block_till_done()
    assert not zone.is_day
    assert zone.light_phase(dt_util.utcnow()).seconds_to_switch is None


@pytest.mark.parametrize(
    "options",
    [
        {CONF_LIGHTS_ON_TIME: "25:00", CONF_PHOTOPERIOD: 18},
        {CONF_LIGHTS_ON_TIME: "06:00", CONF_PHOTOPERIOD: 30},
    ],
)
async def test_invalid_light_schedule_is_ignored_with_a_warning(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture, options: dict[str, object]
) -> None:
    """A schedule the options flow would not accept (edited by hand): warned, always day."""
    hass.states.async_set(TEMP, "25.0", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    _, zone = await _zone(hass, **options)
    assert zone.light_schedule is None
    assert zone.is_day
    assert zone.light_phase(dt_util.utcnow()).seconds_to_switch is None
    assert "light schedule ignored" in caplog.text
