"""The emulated hardware, checked against the real adafruit_bme280 driver."""

from __future__ import annotations

import errno
import itertools
import math

from adafruit_bme280.basic import Adafruit_BME280_I2C
from hypothesis import given, settings, strategies as st
import pytest

from edge_agent.config import ActuatorConfig, ActuatorKind
from edge_agent.emulation import (
    BMP280_CHIP_ID,
    Bme280Calibration,
    Bme280Emulation,
    EmulatedI2CBus,
    MemoryPin,
    MemoryPinFactory,
    Tca9548aEmulation,
)

# The sensor's resolution at oversampling x1 (datasheet: 0.01 °C, 0.008 % RH, 0.0018 hPa;
# the emulation must be at least that exact through the real driver's compensation).
TEMPERATURE_RESOLUTION = 0.01
HUMIDITY_RESOLUTION = 0.008
PRESSURE_RESOLUTION = 0.0018

# Coefficients read from another real part, to show nothing depends on the defaults.
OTHER_PART = Bme280Calibration(
    t1=27504,
    t2=26435,
    t3=-1000,
    p1=36477,
    p2=-10685,
    p3=3024,
    p4=2855,
    p5=140,
    p6=-7,
    p7=15500,
    p8=-14600,
    p9=6000,
    h1=75,
    h2=370,
    h3=0,
    h4=302,
    h5=50,
    h6=30,
)


def bus_with_sensor(
    address: int = 0x76, **kwargs: object
) -> tuple[EmulatedI2CBus, Bme280Emulation]:
    """A bus with one emulated BME280 at ``address``."""
    bus = EmulatedI2CBus()
    sensor = Bme280Emulation(**kwargs)  # type: ignore[arg-type]
    bus.attach(address, sensor)
    return bus, sensor


def read_register(bus: EmulatedI2CBus, address: int, register: int, length: int = 1) -> bytes:
    """Read registers the way the driver does: pointer write, then a read."""
    buffer = bytearray(length)
    assert bus.try_lock()
    try:
        bus.writeto(address, bytes([register]))
        bus.readfrom_into(address, buffer)
    finally:
        bus.unlock()
    return bytes(buffer)


def write_registers(bus: EmulatedI2CBus, address: int, *pairs: int) -> None:
    """Write (register, value) pairs in one transfer."""
    assert bus.try_lock()
    try:
        bus.writeto(address, bytes(pairs))
    finally:
        bus.unlock()


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("calibration", [Bme280Calibration(), OTHER_PART], ids=["default", "other"])
@pytest.mark.parametrize(
    "environment",
    [
        (22.0, 50.0, 1013.25),
        (-40.0, 0.0, 300.0),
        (85.0, 100.0, 1100.0),
        (25.37, 63.21, 987.654),
        (0.0, 99.99, 850.0),
        (-12.345, 3.5, 1050.5),
    ],
)
def test_real_driver_reads_back_the_environment(
    calibration: Bme280Calibration, environment: tuple[float, float, float]
) -> None:
    """The unmodified adafruit driver turns the emulated registers into the set values."""
    bus, sensor = bus_with_sensor(0x77, calibration=calibration)
    driver = Adafruit_BME280_I2C(bus, 0x77)
    sensor.set_environment(*environment)
    temperature, humidity, pressure = environment
    assert driver.temperature == pytest.approx(temperature, abs=TEMPERATURE_RESOLUTION)
    assert driver.relative_humidity == pytest.approx(humidity, abs=HUMIDITY_RESOLUTION)
    assert driver.pressure == pytest.approx(pressure, abs=PRESSURE_RESOLUTION)


@settings(max_examples=150, deadline=None)
@given(
    temperature=st.floats(-40, 85),
    humidity=st.floats(0, 100),
    pressure=st.floats(300, 1100),
)
def test_round_trip_over_the_whole_operating_range(
    temperature: float, humidity: float, pressure: float
) -> None:
    """Any value in the BME280's operating range survives the trip through the driver."""
    bus, sensor = bus_with_sensor()
    driver = Adafruit_BME280_I2C(bus, 0x76)
    sensor.set_environment(temperature, humidity, pressure)
    assert driver.temperature == pytest.approx(temperature, abs=TEMPERATURE_RESOLUTION)
    assert driver.relative_humidity == pytest.approx(humidity, abs=HUMIDITY_RESOLUTION)
    assert driver.pressure == pytest.approx(pressure, abs=PRESSURE_RESOLUTION)


def test_values_beyond_the_adc_range_saturate() -> None:
    """The raw codes stay within 20/16 bits whatever is asked."""
    adc_t, adc_p, adc_h = Bme280Calibration().raw_values(500.0, 150.0, 5000.0)
    assert 0 <= adc_t < 1 << 20
    assert 0 <= adc_p < 1 << 20
    assert 0 <= adc_h < 1 << 16
    assert adc_t == (1 << 20) - 1


def test_calibration_registers_hold_the_coefficients() -> None:
    """dig_H4/dig_H5 share a nibble register; the driver's unpacking recovers them."""
    bus, _ = bus_with_sensor(calibration=OTHER_PART)
    driver = Adafruit_BME280_I2C(bus, 0x76)
    assert driver._temp_calib == [27504.0, 26435.0, -1000.0]
    assert driver._pressure_calib[0] == 36477.0
    assert driver._pressure_calib[-1] == 6000.0
    assert driver._humidity_calib == [75, 370.0, 0.0, 302.0, 50.0, 30.0]


def test_undefined_pressure_compensation_is_nan() -> None:
    """dig_P1 = 0 makes the formula divide by zero; the emulation says NaN."""
    calibration = Bme280Calibration(p1=0)
    assert math.isnan(calibration.pressure(calibration.t_fine(519888), 415148))
    assert not math.isnan(Bme280Calibration().pressure(calibration.t_fine(519888), 415148))


def test_source_callable_is_asked_once_per_conversion() -> None:
    """With a source, each conversion takes the environment at that moment."""
    values = itertools.cycle([(20.0, 40.0, 1000.0), (30.0, 60.0, 1010.0)])
    calls = 0

    def source() -> tuple[float, float, float]:
        nonlocal calls
        calls += 1
        return next(values)

    bus, sensor = bus_with_sensor(source=source)
    driver = Adafruit_BME280_I2C(bus, 0x76)
    assert driver.temperature == pytest.approx(20.0, abs=TEMPERATURE_RESOLUTION)
    assert driver.temperature == pytest.approx(30.0, abs=TEMPERATURE_RESOLUTION)
    assert calls == sensor.conversions == 2
    assert sensor.temperature == 30.0


def test_raw_override_forces_raw_codes() -> None:
    """Faults the physics cannot produce: fixed raw codes."""
    bus, sensor = bus_with_sensor()
    driver = Adafruit_BME280_I2C(bus, 0x76)
    sensor.raw_override = (0xFFFFF, 0xFFFFF, 0xFFFF)
    assert driver.temperature > 85  # garbage the supervisor has to reject


# --------------------------------------------------------------------------- registers


def test_chip_id_and_bmp280() -> None:
    """0x60 for a BME280; a BMP280 (0x58) is refused by the real driver."""
    bus, _ = bus_with_sensor()
    assert read_register(bus, 0x76, 0xD0) == b"\x60"
    bmp_bus, _ = bus_with_sensor(chip_id=BMP280_CHIP_ID)
    assert read_register(bmp_bus, 0x76, 0xD0) == b"\x58"
    with pytest.raises(RuntimeError, match="Chip ID 0x58"):
        Adafruit_BME280_I2C(bmp_bus, 0x76)


def test_data_registers_hold_reset_values_until_a_conversion() -> None:
    """After power-up the data registers read 0x80000 / 0x8000 (measurement skipped)."""
    bus, sensor = bus_with_sensor()
    assert read_register(bus, 0x76, 0xF7, 8) == bytes([0x80, 0, 0, 0x80, 0, 0, 0x80, 0])
    assert sensor.conversions == 0


def test_forced_mode_converts_once_and_sleeps() -> None:
    """ctrl_meas with mode 01 makes one conversion, then the mode bits read sleep."""
    bus, sensor = bus_with_sensor()
    sensor.set_environment(25.0, 55.0, 1000.0)
    write_registers(bus, 0x76, 0xF2, 0x01, 0xF4, 0b001_001_01)
    assert sensor.conversions == 1
    assert sensor.mode == 0
    assert read_register(bus, 0x76, 0xF4) == bytes([0b001_001_00])
    data = read_register(bus, 0x76, 0xF7, 8)
    adc_t, adc_p, adc_h = sensor.calibration.raw_values(25.0, 55.0, 1000.0)
    assert data == bytes(
        [
            adc_p >> 12,
            (adc_p >> 4) & 0xFF,
            (adc_p & 0xF) << 4,
            adc_t >> 12,
            (adc_t >> 4) & 0xFF,
            (adc_t & 0xF) << 4,
            adc_h >> 8,
            adc_h & 0xFF,
        ]
    )
    # Reading again does not convert again: the chip sleeps.
    sensor.set_environment(30.0, 55.0, 1000.0)
    assert read_register(bus, 0x76, 0xF7, 8) == data
    assert sensor.conversions == 1


def test_ctrl_hum_takes_effect_only_with_ctrl_meas() -> None:
    """Humidity oversampling written alone does not apply until ctrl_meas is written."""
    bus, _ = bus_with_sensor()
    write_registers(bus, 0x76, 0xF4, 0b001_001_01)  # ctrl_hum still 0: humidity skipped
    assert read_register(bus, 0x76, 0xFD, 2) == b"\x80\x00"
    write_registers(bus, 0x76, 0xF2, 0x01)
    assert read_register(bus, 0x76, 0xFD, 2) == b"\x80\x00"
    write_registers(bus, 0x76, 0xF4, 0b001_001_01)
    assert read_register(bus, 0x76, 0xFD, 2) != b"\x80\x00"


def test_skipped_temperature_and_pressure() -> None:
    """Oversampling 0 (skipped) leaves the reset value in that data register."""
    bus, _ = bus_with_sensor()
    write_registers(bus, 0x76, 0xF2, 0x01, 0xF4, 0b000_000_01)
    assert read_register(bus, 0x76, 0xF7, 6) == bytes([0x80, 0, 0, 0x80, 0, 0])


def test_normal_mode_converts_on_every_data_read() -> None:
    """In normal mode the data registers follow the environment."""
    bus, sensor = bus_with_sensor()
    write_registers(bus, 0x76, 0xF2, 0x01, 0xF4, 0b001_001_11)
    assert sensor.mode == 3
    first = read_register(bus, 0x76, 0xFA, 3)
    sensor.set_environment(35.0, 50.0, 1013.25)
    assert read_register(bus, 0x76, 0xFA, 3) != first
    assert read_register(bus, 0x76, 0xD0) == b"\x60"  # not a data register: no conversion
    assert sensor.conversions == 2


def test_status_reports_measuring_for_busy_polls() -> None:
    """The measuring bit stays set for the configured number of status reads."""
    bus, _ = bus_with_sensor(busy_polls=2)
    write_registers(bus, 0x76, 0xF2, 0x01, 0xF4, 0b001_001_01)
    assert [read_register(bus, 0x76, 0xF3)[0] for _ in range(3)] == [0x08, 0x08, 0x00]


def test_soft_reset_and_power_cycle() -> None:
    """0xB6 to 0xE0 resets control and data; other words are ignored; calibration stays."""
    bus, sensor = bus_with_sensor()
    write_registers(bus, 0x76, 0xF2, 0x01, 0xF4, 0b001_001_01, 0xF5, 0xA0)
    write_registers(bus, 0x76, 0xE0, 0x12)
    assert read_register(bus, 0x76, 0xF5) == b"\xa0"
    write_registers(bus, 0x76, 0xE0, 0xB6)
    assert read_register(bus, 0x76, 0xF2, 4) == bytes(4)
    assert read_register(bus, 0x76, 0xFA, 3) == bytes([0x80, 0, 0])
    assert read_register(bus, 0x76, 0x88, 2) == (28183).to_bytes(2, "little")
    write_registers(bus, 0x76, 0xD0, 0x99)  # read-only
    assert read_register(bus, 0x76, 0xD0) == b"\x60"
    sensor.power_cycle()
    assert sensor.conversions == 1


def test_pointer_auto_increments_and_probe_is_harmless() -> None:
    """Reads continue at the next register; an empty write (address probe) changes nothing."""
    bus, _ = bus_with_sensor()
    assert bus.try_lock()
    try:
        bus.writeto(0x76, bytes([0x88]))
        bus.writeto(0x76, b"")
        first = bytearray(2)
        bus.readfrom_into(0x76, first)
        second = bytearray(4)
        bus.readfrom_into(0x76, second, start=1, end=3)
        bus.writeto(0x76, bytes([0x00, 0xD0]), start=1)
        third = bytearray(1)
        bus.readfrom_into(0x76, third)
    finally:
        bus.unlock()
    dig_t1_t2 = (28183).to_bytes(2, "little") + (26479).to_bytes(2, "little")
    assert bytes(first) == dig_t1_t2[:2]
    assert bytes(second) == b"\x00" + dig_t1_t2[2:] + b"\x00"
    assert third == bytearray([0x60])


# --------------------------------------------------------------------------- bus


def test_transfers_need_the_lock() -> None:
    """Like a real driver must, transfers happen only under the bus lock."""
    bus, _ = bus_with_sensor()
    with pytest.raises(RuntimeError, match="without holding the bus lock"):
        bus.writeto(0x76, b"\xd0")
    assert bus.try_lock()
    assert not bus.try_lock()
    bus.unlock()
    assert bus.try_lock()
    bus.unlock()


def test_missing_device_and_injected_errors() -> None:
    """No ACK is EREMOTEIO as on Linux; fail_next injects a number of errors."""
    bus, _ = bus_with_sensor()
    with pytest.raises(OSError, match="no ACK from 0x77") as missing:
        read_register(bus, 0x77, 0xD0)
    assert missing.value.errno == errno.EREMOTEIO
    bus.fail_next(2, TimeoutError)
    for _ in range(2):
        with pytest.raises(TimeoutError):
            read_register(bus, 0x76, 0xD0)
    assert read_register(bus, 0x76, 0xD0) == b"\x60"
    with pytest.raises(ValueError, match="negative"):
        bus.fail_next(-1)
    bus.detach(0x76)
    bus.detach(0x76)
    with pytest.raises(OSError, match="no ACK"):
        read_register(bus, 0x76, 0xD0)
    with pytest.raises(ValueError, match="7-bit"):
        bus.attach(0x80, Bme280Emulation())


def test_writeto_then_readfrom_with_slices() -> None:
    """The repeated-start transfer honours the buffer slices."""
    bus, _ = bus_with_sensor()
    inbound = bytearray(4)
    assert bus.try_lock()
    try:
        bus.writeto_then_readfrom(
            0x76, b"\x00\xd0\x00", inbound, out_start=1, out_end=2, in_start=2
        )
    finally:
        bus.unlock()
    assert inbound == bytearray([0, 0, 0x60, 0])


def test_mux_routes_to_the_selected_channels() -> None:
    """Devices behind a TCA9548A answer only while their channel is selected."""
    bus = EmulatedI2CBus()
    mux = Tca9548aEmulation()
    bus.attach(0x70, mux)
    bus.attach(0x77, Bme280Emulation())
    mux.attach(3, 0x76, Bme280Emulation())
    nested = Tca9548aEmulation()
    mux.attach(5, 0x71, nested)
    nested.attach(0, 0x76, Bme280Emulation(chip_id=BMP280_CHIP_ID))
    assert bus.try_lock()
    try:
        assert bus.scan() == [0x70, 0x77]
        bus.writeto(0x70, bytes([1 << 3]))
        assert bus.scan() == [0x70, 0x76, 0x77]
        control = bytearray(1)
        bus.readfrom_into(0x70, control)
        assert control == bytearray([0x08])
        bus.writeto(0x70, bytes([1 << 5]))
        bus.writeto(0x71, b"\x01")
        assert bus.scan() == [0x70, 0x71, 0x76, 0x77]
        chip = bytearray(1)
        bus.writeto_then_readfrom(0x76, b"\xd0", chip)
        assert chip == bytearray([0x58])
        bus.writeto(0x70, b"")  # no control byte: unchanged
        assert mux.control == 1 << 5
        bus.writeto(0x70, b"\x00")
        assert bus.scan() == [0x70, 0x77]
    finally:
        bus.unlock()
    mux.detach(3, 0x76)
    with pytest.raises(ValueError, match="channel 8"):
        mux.attach(8, 0x76, Bme280Emulation())


def test_two_devices_on_one_address_collide() -> None:
    """With a channel selected, a device behind it and one on the main bus answer together."""
    bus = EmulatedI2CBus()
    mux = Tca9548aEmulation()
    bus.attach(0x70, mux)
    bus.attach(0x76, Bme280Emulation())
    mux.attach(0, 0x76, Bme280Emulation(chip_id=0x58))
    assert read_register(bus, 0x76, 0xD0) == b"\x60"
    write_registers(bus, 0x70, 0x01)
    assert read_register(bus, 0x76, 0xD0) == bytes([0x60 & 0x58])


def test_real_driver_behind_the_mux() -> None:
    """The real driver works through a selected channel (the mux is transparent)."""
    bus = EmulatedI2CBus()
    mux = Tca9548aEmulation()
    bus.attach(0x70, mux)
    sensor = Bme280Emulation()
    mux.attach(6, 0x77, sensor)
    write_registers(bus, 0x70, 1 << 6)
    driver = Adafruit_BME280_I2C(bus, 0x77)
    sensor.set_environment(19.5, 72.0, 960.0)
    assert driver.temperature == pytest.approx(19.5, abs=TEMPERATURE_RESOLUTION)


# --------------------------------------------------------------------------- pins


def test_memory_pin_behaves_like_blinka() -> None:
    """Input until switched to output; Blinka passes through low; read back; release."""
    pin = MemoryPin("D17")
    assert pin.value is False
    with pytest.raises(AttributeError, match="Not an output"):
        pin.value = True
    pin.switch_to_output(value=True)
    assert pin.is_output
    assert pin.value is True
    assert list(pin.levels) == [False, True]
    pin.value = False
    assert list(pin.levels) == [False, True, False]
    pin.stuck_at = True
    assert pin.value is True
    pin.deinit()
    assert pin.released
    with pytest.raises(RuntimeError, match="D17 has been released"):
        _ = pin.value
    with pytest.raises(RuntimeError, match="released"):
        pin.switch_to_output()


def test_memory_pin_factory_keeps_pins_by_key() -> None:
    """The factory hands out a fresh pin per actuator and remembers it."""
    factory = MemoryPinFactory()
    config = ActuatorConfig(
        key="fan", name="Fan", kind=ActuatorKind.EXHAUST_FAN, zone="z", pin="D5"
    )
    pin = factory(config)
    assert factory.pins == {"fan": pin}
    assert pin.name == "D5"


def test_memory_pin_history_is_bounded() -> None:
    """A pin toggled for months keeps only its recent levels, newest last."""
    from edge_agent.emulation import LEVEL_HISTORY, MemoryPin

    pin = MemoryPin("D17")
    pin.switch_to_output(value=False)
    for index in range(LEVEL_HISTORY * 3):
        pin.value = index % 2 == 0
    assert len(pin.levels) == LEVEL_HISTORY
    assert pin.levels[-1] is ((LEVEL_HISTORY * 3 - 1) % 2 == 0)
