"""BME280 reading through the real driver, and the supervisor that decides what to believe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
import itertools
import logging
import math
import sys
import types
from typing import Any

import pytest

from edge_agent.config import SensorConfig
from edge_agent.emulation import BMP280_CHIP_ID, Bme280Emulation, EmulatedI2CBus, Tca9548aEmulation
from edge_agent.sensors import (
    MAX_CONVERSION_TIME,
    Bme280Sensor,
    MuxChannelBus,
    NoHumiditySensorError,
    Reading,
    SensorError,
    SensorSupervisor,
    SpikeLimits,
    blinka_i2c_bus,
)

T_RES, H_RES, P_RES = 0.01, 0.008, 0.0018
FIXED_NOW = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


class Sleeps(list[float]):
    """Records the waits asked for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_sensor(bus: EmulatedI2CBus, sleeps: Sleeps | None = None, **config: Any) -> Bme280Sensor:
    """A Bme280Sensor for ``config`` on ``bus`` that does not really sleep."""
    settings: dict[str, Any] = {"key": "canopy", "name": "Canopy", "zone": "Tent"}
    settings.update(config)
    return Bme280Sensor(
        SensorConfig(**settings),
        bus,
        sleep=sleeps if sleeps is not None else Sleeps(),
        now=lambda: FIXED_NOW,
    )


@pytest.fixture
def bus() -> EmulatedI2CBus:
    """An empty emulated bus."""
    return EmulatedI2CBus()


@pytest.fixture
def chip(bus: EmulatedI2CBus) -> Bme280Emulation:
    """An emulated BME280 at 0x76."""
    device = Bme280Emulation()
    bus.attach(0x76, device)
    return device


# --------------------------------------------------------------------------- Bme280Sensor


def test_reads_the_environment_through_the_real_driver(
    bus: EmulatedI2CBus, chip: Bme280Emulation
) -> None:
    """A reading carries the key, the three values and the time."""
    chip.set_environment(24.61, 58.2, 1012.4)
    reading = make_sensor(bus).read()
    assert reading.sensor == "canopy"
    assert reading.temperature == pytest.approx(24.61, abs=T_RES)
    assert reading.humidity == pytest.approx(58.2, abs=H_RES)
    assert reading.pressure == pytest.approx(1012.4, abs=P_RES)
    assert reading.measured_at == FIXED_NOW


def test_default_timestamp_is_utc_now(bus: EmulatedI2CBus, chip: Bme280Emulation) -> None:
    """Without an injected clock the reading is stamped with the current UTC time."""
    before = datetime.now(UTC)
    reading = Bme280Sensor(SensorConfig("a", "A", "z"), bus, sleep=Sleeps()).read()
    assert before <= reading.measured_at <= datetime.now(UTC)
    assert reading.measured_at.tzinfo is UTC


def test_one_conversion_per_read_and_all_values_from_it(bus: EmulatedI2CBus) -> None:
    """T, RH and P of a reading come from the same conversion, even if the air changes."""
    environments = itertools.cycle(
        [(20.0, 40.0, 1000.0), (30.0, 70.0, 1020.0), (10.0, 90.0, 980.0)]
    )
    chip = Bme280Emulation(source=lambda: next(environments))
    bus.attach(0x76, chip)
    sensor = make_sensor(bus)
    for expected in [(20.0, 40.0, 1000.0), (30.0, 70.0, 1020.0), (10.0, 90.0, 980.0)]:
        before = chip.conversions
        reading = sensor.read()
        assert chip.conversions == before + 1
        assert (reading.temperature, reading.humidity, reading.pressure) == pytest.approx(
            expected, abs=0.01
        )


def test_forced_mode_oversampling_x1_and_the_datasheet_wait(
    bus: EmulatedI2CBus, chip: Bme280Emulation
) -> None:
    """ctrl_hum = x1, ctrl_meas = x1/x1 forced; the wait is the maximum conversion time."""
    sleeps = Sleeps()
    sensor = make_sensor(bus, sleeps)
    sensor.read()
    assert pytest.approx(0.0093) == MAX_CONVERSION_TIME
    assert sleeps == [pytest.approx(0.0093)]
    registers = bytearray(3)
    assert bus.try_lock()
    try:
        bus.writeto_then_readfrom(0x76, b"\xf2", registers)
    finally:
        bus.unlock()
    ctrl_hum, _, ctrl_meas = registers
    assert ctrl_hum == 0x01
    assert ctrl_meas == 0b001_001_00  # x1 temperature, x1 pressure, back to sleep
    assert chip.mode == 0


def test_polls_status_while_the_conversion_runs(bus: EmulatedI2CBus) -> None:
    """A conversion that takes longer than the datasheet says is waited for, briefly."""
    bus.attach(0x76, Bme280Emulation(busy_polls=2))
    sleeps = Sleeps()
    make_sensor(bus, sleeps).read()
    assert sleeps == [pytest.approx(0.0093), 0.002, 0.002]


def test_a_conversion_that_never_finishes_is_an_error(bus: EmulatedI2CBus) -> None:
    """The status poll is bounded."""
    bus.attach(0x76, Bme280Emulation(busy_polls=1000))
    with pytest.raises(SensorError, match="canopy at 0x76: the conversion did not finish"):
        make_sensor(bus).read()


def test_calibration_offsets_and_humidity_clamp(bus: EmulatedI2CBus, chip: Bme280Emulation) -> None:
    """Offsets are added; humidity stays within 0..100 after its offset."""
    sensor = make_sensor(bus, temperature_offset=-0.5, humidity_offset=3.0, pressure_offset=1.25)
    chip.set_environment(25.0, 50.0, 1000.0)
    reading = sensor.read()
    assert reading.temperature == pytest.approx(24.5, abs=T_RES)
    assert reading.humidity == pytest.approx(53.0, abs=H_RES)
    assert reading.pressure == pytest.approx(1001.25, abs=P_RES)
    chip.set_environment(25.0, 99.0, 1000.0)
    assert sensor.read().humidity == 100.0
    dry = make_sensor(bus, humidity_offset=-5.0)
    chip.set_environment(25.0, 2.0, 1000.0)
    assert dry.read().humidity == 0.0


def test_bmp280_has_no_humidity_sensor(bus: EmulatedI2CBus) -> None:
    """Chip id 0x58 gets its own, clear error."""
    bus.attach(0x77, Bme280Emulation(chip_id=BMP280_CHIP_ID))
    sensor = make_sensor(bus, address=0x77)
    with pytest.raises(NoHumiditySensorError, match="BMP280 has no humidity sensor") as caught:
        sensor.read()
    assert "canopy at 0x77: chip id 0x58" in str(caught.value)
    assert sensor.chip_id() == 0x58


def test_unknown_chip_id(bus: EmulatedI2CBus) -> None:
    """Something else at the address is not read as a BME280."""
    bus.attach(0x76, Bme280Emulation(chip_id=0x55))
    with pytest.raises(SensorError, match=r"chip id 0x55 is not a BME280 \(expected 0x60\)"):
        make_sensor(bus).read()


def test_missing_sensor_then_plugged_in(bus: EmulatedI2CBus) -> None:
    """No device: a SensorError saying so; plugged in later, it just works."""
    sensor = make_sensor(bus)
    with pytest.raises(SensorError, match=r"no answer \(sensor missing or miswired\?\)"):
        sensor.read()
    with pytest.raises(SensorError, match="canopy at 0x76: no answer"):
        sensor.chip_id()
    device = Bme280Emulation()
    device.set_environment(21.0, 45.0, 1005.0)
    bus.attach(0x76, device)
    assert sensor.read().temperature == pytest.approx(21.0, abs=T_RES)


@pytest.mark.parametrize("failing_transfer", range(4))
def test_i2c_errors_anywhere_in_a_read_become_sensor_errors(
    bus: EmulatedI2CBus, chip: Bme280Emulation, failing_transfer: int
) -> None:
    """Whichever transfer of a read fails, the read raises SensorError; the next one works."""
    sensor = make_sensor(bus)
    sensor.read()  # connected: a read is ctrl_hum, ctrl_meas, status, data
    chip.set_environment(26.0, 50.0, 1000.0)
    start = bus.transactions
    # Let `failing_transfer` transfers pass, then fail one.
    original = bus._begin
    calls = 0

    def flaky(address: int) -> Any:
        nonlocal calls
        calls += 1
        if calls == failing_transfer + 1:
            raise OSError(5, "Input/output error")
        return original(address)

    bus._begin = flaky  # type: ignore[method-assign]
    with pytest.raises(SensorError, match="I2C error"):
        sensor.read()
    bus._begin = original  # type: ignore[method-assign]
    assert bus.transactions >= start
    assert sensor.read().temperature == pytest.approx(26.0, abs=T_RES)


def test_recovers_after_the_sensor_lost_power(bus: EmulatedI2CBus, chip: Bme280Emulation) -> None:
    """A power glitch resets the chip's settings; each read sets them again."""
    sensor = make_sensor(bus)
    sensor.read()
    chip.power_cycle()
    chip.set_environment(23.0, 61.0, 1001.0)
    reading = sensor.read()
    assert reading.humidity == pytest.approx(61.0, abs=H_RES)


def test_skipped_conversion_is_an_error(bus: EmulatedI2CBus, chip: Bme280Emulation) -> None:
    """Data registers still at their reset value mean no measurement: not a reading."""
    chip.raw_override = (0x80000, 0x60000, 0x6000)
    with pytest.raises(SensorError, match="conversion was skipped"):
        make_sensor(bus).read()


def test_sensor_behind_a_mux(bus: EmulatedI2CBus) -> None:
    """The mux channel is selected for every transfer and deselected afterwards."""
    mux = Tca9548aEmulation()
    bus.attach(0x70, mux)
    behind = Bme280Emulation()
    behind.set_environment(18.0, 80.0, 990.0)
    mux.attach(4, 0x76, behind)
    direct = Bme280Emulation()
    direct.set_environment(28.0, 40.0, 990.0)
    bus.attach(0x77, direct)
    roots = make_sensor(bus, key="roots", mux_address=0x70, mux_channel=4)
    canopy = make_sensor(bus, address=0x77)
    assert roots.location == "0x76 via mux 0x70 channel 4"
    for _ in range(2):
        assert roots.read().temperature == pytest.approx(18.0, abs=T_RES)
        assert mux.control == 0
        assert canopy.read().temperature == pytest.approx(28.0, abs=T_RES)
    assert behind.conversions == 2
    assert direct.conversions == 2


def test_mux_missing(bus: EmulatedI2CBus) -> None:
    """A mux that does not answer is reported, and the bus lock is not left taken."""
    sensor = make_sensor(bus, mux_address=0x70, mux_channel=0)
    with pytest.raises(SensorError, match=r"roots|canopy at 0x76 via mux 0x70 channel 0: the mux"):
        sensor.read()
    assert bus.try_lock()
    bus.unlock()


def test_mux_channel_bus_locking_and_failed_deselect(bus: EmulatedI2CBus) -> None:
    """try_lock is False while the bus is taken; a failed deselect still releases the bus."""
    mux = Tca9548aEmulation()
    bus.attach(0x70, mux)
    mux.attach(1, 0x76, Bme280Emulation())
    view = MuxChannelBus(bus, 0x70, 1)
    assert bus.try_lock()
    assert not view.try_lock()
    bus.unlock()
    assert view.try_lock()
    assert mux.control == 0b10
    assert view.scan() == [0x70, 0x76]
    buffer = bytearray(1)
    view.readfrom_into(0x70, buffer)
    assert buffer == bytearray([0b10])
    bus.detach(0x70)
    view.unlock()  # the deselect fails: logged, bus released anyway
    assert bus.try_lock()
    bus.unlock()


def test_a_bus_locked_elsewhere_is_an_error(
    bus: EmulatedI2CBus, chip: Bme280Emulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the lock never comes free, the read gives up with a SensorError."""
    monkeypatch.setattr("edge_agent.sensors._LOCK_ATTEMPTS", 3)
    assert bus.try_lock()
    with pytest.raises(SensorError, match="stayed locked"):
        make_sensor(bus).read()
    bus.unlock()


def test_compensation_never_reads_the_bus_again(bus: EmulatedI2CBus, chip: Bme280Emulation) -> None:
    """While the snapshot is in place, a read outside it is an error, not a bus access."""
    from edge_agent.sensors import _forced_mode_driver_class

    driver = _forced_mode_driver_class()(bus, 0x76)
    driver._snapshot = bytes(8)
    transactions = bus.transactions
    with pytest.raises(SensorError, match="driver read 0xd0 outside the data snapshot"):
        driver._read_register(0xD0, 1)
    assert bus.transactions == transactions


# --------------------------------------------------------------------------- blinka


class FakeBlinka:
    """`board` and `busio` modules standing in for Blinka on a machine without I2C pins."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, error: Exception | None = None) -> None:
        self.opened: list[tuple[str, str]] = []
        board = types.ModuleType("board")
        for name in ("SCL", "SDA", "D0", "D1"):
            setattr(board, name, name)
        busio = types.ModuleType("busio")

        def i2c(scl: str, sda: str) -> EmulatedI2CBus:
            if error is not None:
                raise error
            self.opened.append((scl, sda))
            return EmulatedI2CBus()

        busio.I2C = i2c  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "board", board)
        monkeypatch.setitem(sys.modules, "busio", busio)


def test_blinka_bus_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bus 1 is SCL/SDA, bus 0 is D1/D0, anything else is refused."""
    blinka = FakeBlinka(monkeypatch)
    assert isinstance(blinka_i2c_bus(1), EmulatedI2CBus)
    assert isinstance(blinka_i2c_bus(0), EmulatedI2CBus)
    assert blinka.opened == [("SCL", "SDA"), ("D1", "D0")]
    with pytest.raises(SensorError, match="I2C bus 4 is not reachable"):
        blinka_i2c_bus(4)


def test_blinka_bus_errors_become_sensor_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blinka's own errors (no I2C on this board) come out as a SensorError."""
    FakeBlinka(monkeypatch, ValueError("No Hardware I2C on (scl,sda)"))
    with pytest.raises(SensorError, match="cannot open I2C bus 1: No Hardware I2C"):
        blinka_i2c_bus(1)


# --------------------------------------------------------------------------- supervisor


class ScriptedSensor:
    """A ClimateSensor playing a script of readings and errors."""

    key = "canopy"

    def __init__(self, script: list[Reading | Exception]) -> None:
        self._script: Iterator[Reading | Exception] = iter(script)

    def read(self) -> Reading:
        item = next(self._script)
        if isinstance(item, Exception):
            raise item
        return item


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reading(temperature: float = 24.0, humidity: float = 60.0, pressure: float = 1010.0) -> Reading:
    """A reading of the scripted sensor."""
    return Reading("canopy", temperature, humidity, pressure, FIXED_NOW)


def supervise(
    script: list[Reading | Exception], clock: FakeClock | None = None, **kwargs: Any
) -> SensorSupervisor:
    """A supervisor over a scripted sensor."""
    return SensorSupervisor(ScriptedSensor(script), clock=clock or FakeClock(), **kwargs)


def test_good_readings_pass_through() -> None:
    """A plausible reading is returned unchanged."""
    first, second = reading(), reading(24.2, 60.5, 1010.1)
    supervisor = supervise([first, second])
    assert supervisor.poll() is first
    assert supervisor.poll() is second
    assert supervisor.available
    assert (supervisor.rejected_count, supervisor.failure_count) == (0, 0)
    assert supervisor.last_error is None
    assert supervisor.last_reading is second
    assert supervisor.key == "canopy"


def test_errors_skip_then_unavailable_then_recover(caplog: pytest.LogCaptureFixture) -> None:
    """I2C errors skip the reading; after N in a row unavailable; a good reading recovers."""
    error = SensorError("canopy at 0x76: I2C error: [Errno 121] Remote I/O error")
    script: list[Reading | Exception] = [reading(), error, error, error, error, reading(24.1)]
    supervisor = supervise(script, failures_before_unavailable=3)
    assert supervisor.poll() is not None
    with caplog.at_level(logging.DEBUG, logger="edge_agent.sensors"):
        assert supervisor.poll() is None
        assert supervisor.available
        assert supervisor.last_error == str(error)
        assert supervisor.poll() is None
        assert supervisor.available
        assert supervisor.poll() is None
        assert not supervisor.available
        assert supervisor.poll() is None
        assert supervisor.failure_count == 4
        assert supervisor.consecutive_failures == 4
        recovered = supervisor.poll()
    assert recovered is not None
    assert recovered.temperature == 24.1
    assert supervisor.available
    assert supervisor.consecutive_failures == 0
    assert supervisor.last_error is None
    assert supervisor.failure_count == 4
    assert "unavailable after 3 failed readings" in caplog.text
    assert "available again" in caplog.text


def test_a_buggy_sensor_does_not_stop_the_agent() -> None:
    """Even an unexpected exception from a sensor is a skipped reading."""
    supervisor = supervise([ZeroDivisionError("division by zero")])
    assert supervisor.poll() is None
    assert supervisor.last_error == "canopy: unexpected ZeroDivisionError: division by zero"
    assert supervisor.failure_count == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (reading(temperature=math.nan), "temperature is nan"),
        (reading(humidity=math.inf), "humidity is inf"),
        (reading(pressure=-math.inf), "pressure is -inf"),
        (reading(temperature=85.5), "temperature 85.50 °C is outside the sensor's range -40..85"),
        (reading(temperature=-40.01), "temperature -40.01 °C is outside"),
        (reading(humidity=100.5), "humidity 100.50 % RH is outside the sensor's range 0..100"),
        (reading(humidity=-0.1), "humidity -0.10 % RH is outside"),
        (reading(pressure=299.0), "pressure 299.00 hPa is outside the sensor's range 300..1100"),
        (reading(pressure=1100.5), "pressure 1100.50 hPa is outside"),
    ],
)
def test_impossible_values_are_rejected_and_counted(bad: Reading, message: str) -> None:
    """Outside the BME280's range, NaN or infinite: rejected, counted, reason kept."""
    supervisor = supervise([bad, reading()])
    assert supervisor.poll() is None
    assert supervisor.rejected_count == 1
    assert supervisor.failure_count == 0
    assert supervisor.last_error is not None
    assert message in supervisor.last_error
    assert supervisor.poll() is not None
    assert supervisor.rejected_count == 1


def test_range_limits_themselves_are_possible() -> None:
    """The ends of the operating range are accepted."""
    script: list[Reading | Exception] = [
        reading(-40.0, 0.0, 300.0),
        reading(85.0, 100.0, 1100.0),
    ]
    clock = FakeClock()
    supervisor = supervise(script, clock, spike_limits=SpikeLimits(window=0.0))
    assert supervisor.poll() is not None
    clock.now += 1
    assert supervisor.poll() is not None


def test_persistently_impossible_values_make_the_sensor_unavailable() -> None:
    """Garbage forever is as bad as silence."""
    supervisor = supervise([reading(temperature=math.nan)] * 3)
    for _ in range(3):
        supervisor.poll()
    assert not supervisor.available
    assert supervisor.rejected_count == 3


@pytest.mark.parametrize(
    ("spike", "message"),
    [
        (reading(temperature=29.5), "temperature jumped by +5.50 °C (limit 5 °C)"),
        (reading(temperature=18.0), "temperature jumped by -6.00 °C"),
        (reading(humidity=81.0), "humidity jumped by +21.00 % RH (limit 20 % RH)"),
        (reading(pressure=1003.0), "pressure jumped by -7.00 hPa (limit 5 hPa)"),
    ],
)
def test_spikes_are_rejected(spike: Reading, message: str) -> None:
    """A jump no tent air can make between two readings is rejected and counted."""
    clock = FakeClock()
    supervisor = supervise([reading(), spike, reading(24.3)], clock)
    supervisor.poll()
    clock.now += 30
    assert supervisor.poll() is None
    assert supervisor.rejected_count == 1
    assert supervisor.last_error is not None
    assert message in supervisor.last_error
    clock.now += 30
    assert supervisor.poll() is not None


def test_changes_within_the_limits_are_accepted() -> None:
    """Just under the limits is a fast but possible change."""
    clock = FakeClock()
    supervisor = supervise([reading(), reading(28.9, 79.9, 1014.9)], clock)
    supervisor.poll()
    clock.now += 30
    assert supervisor.poll() is not None


def test_a_real_step_is_accepted_once_confirmed() -> None:
    """Readings that agree on a new level are accepted on the third (the default)."""
    clock = FakeClock()
    script: list[Reading | Exception] = [
        reading(24.0),
        reading(32.0),
        reading(32.2),
        reading(32.1),
        reading(32.3),
    ]
    supervisor = supervise(script, clock)
    results = []
    for _ in script:
        results.append(supervisor.poll())
        clock.now += 30
    assert [result is not None for result in results] == [True, False, False, True, True]
    assert supervisor.rejected_count == 2


def test_disagreeing_spikes_are_never_confirmed() -> None:
    """Random garbage does not add up to a confirmed step."""
    clock = FakeClock()
    script: list[Reading | Exception] = [reading(24.0)] + [
        reading(temperature) for temperature in (40.0, 10.0, 40.0, 10.0, 55.0, -5.0)
    ]
    supervisor = supervise(script, clock, failures_before_unavailable=10)
    supervisor.poll()
    for _ in range(6):
        clock.now += 30
        assert supervisor.poll() is None
    assert supervisor.rejected_count == 6


def test_after_the_window_the_new_level_is_accepted() -> None:
    """Compared only with a recent reading: after a long gap any plausible value goes."""
    clock = FakeClock()
    supervisor = supervise([reading(24.0), reading(35.0)], clock)
    supervisor.poll()
    clock.now += 301
    assert supervisor.poll() is not None


def test_a_good_reading_between_spikes_resets_the_confirmation() -> None:
    """A spike, a normal reading, another spike: both spikes rejected."""
    clock = FakeClock()
    script: list[Reading | Exception] = [
        reading(24.0),
        reading(31.0),
        reading(24.2),
        reading(31.0),
        reading(31.1),
    ]
    supervisor = supervise(script, clock)
    results = []
    for _ in script:
        results.append(supervisor.poll())
        clock.now += 10
    assert [result is not None for result in results] == [True, False, True, False, False]


def test_supervisor_argument_check() -> None:
    """At least one failure is needed before a sensor can be unavailable."""
    with pytest.raises(ValueError, match="at least 1"):
        supervise([], failures_before_unavailable=0)


def test_supervised_real_sensor_unplugged_and_plugged_back(bus: EmulatedI2CBus) -> None:
    """End to end: the real driver, the emulated chip disappearing and coming back."""
    chip = Bme280Emulation()
    chip.set_environment(24.0, 60.0, 1010.0)
    bus.attach(0x76, chip)
    supervisor = SensorSupervisor(make_sensor(bus), clock=FakeClock())
    assert supervisor.poll() is not None
    bus.detach(0x76)
    for _ in range(3):
        assert supervisor.poll() is None
    assert not supervisor.available
    assert supervisor.last_error is not None
    assert "no answer" in supervisor.last_error
    bus.attach(0x76, chip)
    again = supervisor.poll()
    assert again is not None
    assert again.temperature == pytest.approx(24.0, abs=T_RES)
    assert supervisor.available
    chip.raw_override = (0xFFFFF, 0xFFFFF, 0xFFFF)  # a glitching chip: values out of range
    assert supervisor.poll() is None
    assert supervisor.rejected_count == 1
