"""BME280 climate sensors: reading them, and deciding which readings to believe.

:class:`Bme280Sensor` drives a BME280 through the real ``adafruit_bme280`` driver in forced
mode: one conversion per reading (so temperature, humidity and pressure belong to the same
moment), oversampling x1 for all three, and the datasheet's maximum conversion time waited
before the result is read. :class:`SensorSupervisor` sits on top of any sensor: it turns
I2C errors into skipped readings, rejects impossible values and sudden spikes, and marks
the sensor unavailable after repeated failures until it answers sensibly again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
import functools
import logging
import math
import time
from typing import TYPE_CHECKING, Any, Final, Protocol

from .config import SensorConfig

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "MAX_CONVERSION_TIME",
    "Bme280Sensor",
    "ClimateSensor",
    "I2CBus",
    "MuxChannelBus",
    "NoHumiditySensorError",
    "Reading",
    "SensorError",
    "SensorSupervisor",
    "SpikeLimits",
    "blinka_i2c_bus",
]

_LOGGER = logging.getLogger(__name__)

BME280_CHIP_ID: Final = 0x60
BMP280_CHIP_IDS: Final = frozenset({0x56, 0x57, 0x58})
_REG_CHIP_ID: Final = 0xD0
_REG_STATUS: Final = 0xF3
_REG_DATA: Final = 0xF7  # press_msb .. hum_lsb, 8 bytes, read in one burst
_DATA_LENGTH: Final = 8
_STATUS_MEASURING: Final = 0x08
_SKIPPED_20_BIT: Final = 0x80000
_SKIPPED_16_BIT: Final = 0x8000

# BME280 datasheet, appendix B: t_measure,max = 1.25 + 2.3*osrs_t + (2.3*osrs_p + 0.575)
# + (2.3*osrs_h + 0.575) ms; with oversampling x1 for all three that is 9.3 ms.
MAX_CONVERSION_TIME: Final = (1.25 + 2.3 + (2.3 + 0.575) + (2.3 + 0.575)) / 1000
# If the status register still says "measuring" after that, poll a little longer.
_STATUS_POLL_INTERVAL: Final = 0.002
_STATUS_POLLS: Final = 10
_LOCK_ATTEMPTS: Final = 1000

# Operating range of the BME280 (datasheet, table 1): outside it a value is a fault.
TEMPERATURE_RANGE: Final = (-40.0, 85.0)
HUMIDITY_RANGE: Final = (0.0, 100.0)
PRESSURE_RANGE: Final = (300.0, 1100.0)


@dataclass(frozen=True, slots=True)
class Reading:
    """One measurement of one sensor, calibration offsets applied."""

    sensor: str
    temperature: float  # °C
    humidity: float  # % RH
    pressure: float  # hPa
    measured_at: datetime  # UTC


class SensorError(Exception):
    """The sensor could not be read: I2C failure, missing device, wrong chip..."""


class NoHumiditySensorError(SensorError):
    """The chip is a BMP280 (chip id 0x58): pressure and temperature only."""


class I2CBus(Protocol):
    """The subset of ``busio.I2C`` the Adafruit drivers use."""

    def try_lock(self) -> bool:
        """Take the bus lock; False when it is held elsewhere."""

    def unlock(self) -> None:
        """Release the bus lock."""

    def writeto(
        self, address: int, buffer: Buffer, *, start: int = 0, end: int | None = None
    ) -> None:
        """Write ``buffer[start:end]`` to ``address``."""

    def readfrom_into(
        self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        """Read from ``address`` into ``buffer[start:end]``."""

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: Buffer,
        buffer_in: bytearray,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        """Write, then read with a repeated start."""

    def scan(self) -> list[int]:
        """Addresses that acknowledge."""


class ClimateSensor(Protocol):
    """Anything that measures temperature, humidity and pressure."""

    key: str

    def read(self) -> Reading:
        """Measure now; raises SensorError when the sensor cannot be read."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def blinka_i2c_bus(bus_number: int = 1) -> I2CBus:
    """Open the Raspberry Pi's I2C bus through Blinka (imported here, so PCs import fine).

    Bus 1 is the header's SDA/SCL (GPIO 2/3), bus 0 is GPIO 0/1. Raises SensorError when
    the bus cannot be opened (not a supported board, I2C not enabled, no permission).
    """
    try:
        import board  # noqa: PLC0415 - Blinka probes the hardware on import
        import busio  # noqa: PLC0415

        pins = {1: ("SCL", "SDA"), 0: ("D1", "D0")}.get(bus_number)
        if pins is None:
            return _unreachable_bus(bus_number)
        bus: I2CBus = busio.I2C(getattr(board, pins[0]), getattr(board, pins[1]))
    except (
        ImportError,
        OSError,
        ValueError,
        RuntimeError,  # also Blinka's NotImplementedError on a board it does not know
        AttributeError,
    ) as error:
        raise SensorError(f"cannot open I2C bus {bus_number}: {error}") from error
    return bus


def _unreachable_bus(bus_number: int) -> I2CBus:
    raise SensorError(f"I2C bus {bus_number} is not reachable through Blinka (0 or 1)")


def _acquire(bus: I2CBus) -> None:
    for _ in range(_LOCK_ATTEMPTS):
        if bus.try_lock():
            return
        time.sleep(0.001)
    raise SensorError("the I2C bus stayed locked by someone else")


class MuxChannelBus:
    """The view of a bus through one TCA9548A channel.

    Taking the lock selects the channel, releasing it deselects all channels again, so every
    transfer of the driver reaches the sensor behind the mux, and a sensor with the same
    address directly on the bus (or behind another channel) never answers at the same time.
    """

    def __init__(self, bus: I2CBus, mux_address: int, channel: int) -> None:
        """Route transfers on ``bus`` through ``channel`` of the mux at ``mux_address``."""
        self._bus = bus
        self._mux_address = mux_address
        self._select = bytes([1 << channel])

    def try_lock(self) -> bool:
        """Lock the bus and select the channel (raises OSError when the mux does not answer)."""
        if not self._bus.try_lock():
            return False
        try:
            self._bus.writeto(self._mux_address, self._select)
        except OSError:
            self._bus.unlock()
            raise
        return True

    def unlock(self) -> None:
        """Deselect every channel and release the bus."""
        try:
            self._bus.writeto(self._mux_address, b"\x00")
        except OSError as error:
            # The next selection overwrites the control byte anyway.
            _LOGGER.debug("Could not deselect mux 0x%02x: %s", self._mux_address, error)
        finally:
            self._bus.unlock()

    def writeto(
        self, address: int, buffer: Buffer, *, start: int = 0, end: int | None = None
    ) -> None:
        """Write through the selected channel."""
        self._bus.writeto(address, buffer, start=start, end=end)

    def readfrom_into(
        self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        """Read through the selected channel."""
        self._bus.readfrom_into(address, buffer, start=start, end=end)

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: Buffer,
        buffer_in: bytearray,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        """Write then read through the selected channel."""
        self._bus.writeto_then_readfrom(
            address,
            buffer_out,
            buffer_in,
            out_start=out_start,
            out_end=out_end,
            in_start=in_start,
            in_end=in_end,
        )

    def scan(self) -> list[int]:
        """Addresses answering while the channel is selected (call with the lock held)."""
        return self._bus.scan()


class _Driver(Protocol):
    def measure(self, sleep: Callable[[float], None]) -> tuple[float, float, float]: ...


@functools.cache
def _forced_mode_driver_class() -> type[Any]:
    """The adafruit driver, extended to compensate one burst-read conversion.

    The driver's ``temperature``/``relative_humidity``/``pressure`` properties each start a
    new forced conversion. To get all three from one conversion, ``measure`` triggers the
    conversion through the driver's ``mode`` setter, burst-reads the eight data registers
    (the chip shadows them during a burst, so they are consistent), and then lets the
    driver's own compensation run against that snapshot: while it is in place, register
    reads are served from it and the driver's re-arming writes are dropped.
    """
    from adafruit_bme280.basic import (  # noqa: PLC0415 - keep the package import light
        MODE_FORCE,
        OVERSCAN_X1,
        Adafruit_BME280_I2C,
    )

    class ForcedModeBme280(Adafruit_BME280_I2C):  # type: ignore[misc]
        def __init__(self, bus: I2CBus, address: int) -> None:
            self._snapshot: bytes | None = None
            super().__init__(bus, address)
            self.overscan_temperature = OVERSCAN_X1
            self.overscan_pressure = OVERSCAN_X1
            self.overscan_humidity = OVERSCAN_X1

        def measure(self, sleep: Callable[[float], None]) -> tuple[float, float, float]:
            self.mode = MODE_FORCE  # writes ctrl_hum, then ctrl_meas: one conversion starts
            sleep(MAX_CONVERSION_TIME)
            for _ in range(_STATUS_POLLS):
                if not self._read_register(_REG_STATUS, 1)[0] & _STATUS_MEASURING:
                    break
                sleep(_STATUS_POLL_INTERVAL)
            else:
                raise SensorError("the conversion did not finish in time")
            data = bytes(self._read_register(_REG_DATA, _DATA_LENGTH))
            raw_pressure = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4)
            raw_temperature = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4)
            raw_humidity = (data[6] << 8) | data[7]
            if (
                _SKIPPED_20_BIT in (raw_temperature, raw_pressure)
                or raw_humidity == _SKIPPED_16_BIT
            ):
                raise SensorError("the conversion was skipped (data registers at reset value)")
            self._snapshot = data
            try:
                return (
                    float(self.temperature),
                    float(self.relative_humidity),
                    float(self.pressure),
                )
            finally:
                self._snapshot = None

        def _read_register(self, register: int, length: int) -> bytearray:
            snapshot = self._snapshot
            if snapshot is None:
                return bytearray(super()._read_register(register, length))
            if register == _REG_STATUS:
                return bytearray(length)  # the conversion is complete
            offset = register - _REG_DATA
            if offset < 0 or offset + length > _DATA_LENGTH:
                raise SensorError(f"driver read 0x{register:02x} outside the data snapshot")
            return bytearray(snapshot[offset : offset + length])

        def _write_register_byte(self, register: int, value: int) -> None:
            if self._snapshot is None:
                super()._write_register_byte(register, value)

    return ForcedModeBme280


class Bme280Sensor:
    """A BME280 on the I2C bus (optionally behind a TCA9548A), read in forced mode.

    Nothing is sent to the bus until the first ``read``; after any failure the driver is
    set up again (chip id, calibration) on the next ``read``, so a sensor that was
    unplugged or lost power comes back by itself.
    """

    def __init__(
        self,
        config: SensorConfig,
        bus: I2CBus,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Prepare the sensor described by ``config`` on ``bus``."""
        self.key = config.key
        self.config = config
        self._bus: I2CBus = bus
        if config.mux_address is not None and config.mux_channel is not None:
            self._bus = MuxChannelBus(bus, config.mux_address, config.mux_channel)
        self._sleep = sleep
        self._now = now
        self._driver: _Driver | None = None

    @property
    def location(self) -> str:
        """Where the sensor sits, for messages: ``0x76`` or ``0x76 via mux 0x70 channel 2``."""
        text = f"0x{self.config.address:02x}"
        if self.config.mux_address is not None:
            text += f" via mux 0x{self.config.mux_address:02x} channel {self.config.mux_channel}"
        return text

    def read(self) -> Reading:
        """Make one conversion and return the calibrated reading; raises SensorError."""
        try:
            driver = self._driver or self._connect()
            temperature, humidity, pressure = driver.measure(self._sleep)
        except SensorError as error:
            self._driver = None
            raise type(error)(f"{self.key} at {self.location}: {error}") from error
        except (OSError, ValueError, RuntimeError, ArithmeticError) as error:
            self._driver = None
            raise SensorError(f"{self.key} at {self.location}: I2C error: {error}") from error
        self._driver = driver
        reading = Reading(self.key, temperature, humidity, pressure, self._now())
        return with_offsets(reading, self.config)

    def chip_id(self) -> int:
        """Read the chip id register (0x60 for a BME280); raises SensorError."""
        try:
            return self._read_chip_id()
        except SensorError as error:
            raise SensorError(f"{self.key} at {self.location}: {error}") from error

    def _read_chip_id(self) -> int:
        buffer = bytearray(1)
        try:
            _acquire(self._bus)
        except OSError as error:
            raise SensorError(f"the mux does not answer: {error}") from error
        try:
            self._bus.writeto_then_readfrom(self.config.address, bytes([_REG_CHIP_ID]), buffer)
        except OSError as error:
            raise SensorError(f"no answer (sensor missing or miswired?): {error}") from error
        finally:
            self._bus.unlock()
        return buffer[0]

    def _connect(self) -> _Driver:
        chip_id = self._read_chip_id()
        if chip_id in BMP280_CHIP_IDS:
            raise NoHumiditySensorError(
                f"chip id 0x{chip_id:02x}: BMP280 has no humidity sensor "
                "(a BME280, chip id 0x60, is needed)"
            )
        if chip_id != BME280_CHIP_ID:
            raise SensorError(f"chip id 0x{chip_id:02x} is not a BME280 (expected 0x60)")
        driver: _Driver = _forced_mode_driver_class()(self._bus, self.config.address)
        return driver


@dataclass(frozen=True, slots=True)
class SpikeLimits:
    """What counts as a spike: a jump from the last accepted reading that air cannot make.

    A well-mixed tent does not change by more than ``temperature`` °C, ``humidity`` % RH or
    ``pressure`` hPa between two readings a few minutes apart, but a loose wire or a
    disturbed conversion can. Only readings within ``window`` seconds of the last accepted
    one are compared. A real step (sensor moved, door opened) is accepted once
    ``confirmations`` consecutive readings agree with each other about the new level, or
    once the window has passed since the last accepted reading.
    """

    temperature: float = 5.0
    humidity: float = 20.0
    pressure: float = 5.0
    window: float = 300.0
    confirmations: int = 3

    def jump(self, reference: Reading, reading: Reading) -> str | None:
        """Describe the first quantity that jumped by more than its limit, or None."""
        for name, limit, unit in (
            ("temperature", self.temperature, "°C"),
            ("humidity", self.humidity, "% RH"),
            ("pressure", self.pressure, "hPa"),
        ):
            change = getattr(reading, name) - getattr(reference, name)
            if abs(change) > limit:
                return f"{name} jumped by {change:+.2f} {unit} (limit {limit:g} {unit})"
        return None


def implausibility(reading: Reading) -> str | None:
    """Why ``reading`` cannot be a real BME280 measurement, or None when it can."""
    for name, (low, high), unit in (
        ("temperature", TEMPERATURE_RANGE, "°C"),
        ("humidity", HUMIDITY_RANGE, "% RH"),
        ("pressure", PRESSURE_RANGE, "hPa"),
    ):
        value = getattr(reading, name)
        if not math.isfinite(value):
            return f"{name} is {value}"
        if not low <= value <= high:
            return f"{name} {value:.2f} {unit} is outside the sensor's range {low:g}..{high:g}"
    return None


class SensorSupervisor:
    """Wraps a :class:`ClimateSensor`: plausibility checks, failure counting, availability.

    ``poll`` never raises. A poll fails when the sensor raises SensorError or its reading
    is rejected (outside the BME280's range, NaN/inf, or a spike, see SpikeLimits). After
    ``failures_before_unavailable`` failed polls in a row the sensor is unavailable; the
    next accepted reading makes it available again. ``available`` starts True.
    """

    def __init__(
        self,
        sensor: ClimateSensor,
        *,
        failures_before_unavailable: int = 3,
        spike_limits: SpikeLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Supervise ``sensor``."""
        if failures_before_unavailable < 1:
            raise ValueError("failures_before_unavailable must be at least 1")
        self.sensor = sensor
        self.key = sensor.key
        self.failures_before_unavailable = failures_before_unavailable
        self.spike_limits = spike_limits or SpikeLimits()
        self._clock = clock
        self.available = True
        self.rejected_count = 0  # readings refused as impossible or spikes, in total
        self.failure_count = 0  # polls where the sensor could not be read, in total
        self.consecutive_failures = 0  # failed polls since the last accepted reading
        self.last_error: str | None = None  # cleared by an accepted reading
        self.last_reading: Reading | None = None
        self._last_accepted_at: float | None = None
        self._candidate: Reading | None = None
        self._candidate_count = 0

    def poll(self) -> Reading | None:
        """Read the sensor; the reading, or None when it was skipped."""
        try:
            reading = self.sensor.read()
        except SensorError as error:
            self.failure_count += 1
            self._failed(str(error))
            return None
        except Exception as error:  # noqa: BLE001 - a sensor bug must not stop the agent
            self.failure_count += 1
            self._failed(f"{self.key}: unexpected {type(error).__name__}: {error}")
            return None
        problem = implausibility(reading)
        if problem is None:
            problem = self._spike(reading)
        if problem is not None:
            self.rejected_count += 1
            self._failed(f"{self.key}: rejected reading: {problem}")
            return None
        return self._accepted(reading)

    def _spike(self, reading: Reading) -> str | None:
        limits = self.spike_limits
        reference = self.last_reading
        if (
            reference is None
            or self._last_accepted_at is None
            or self._clock() - self._last_accepted_at > limits.window
        ):
            return None
        problem = limits.jump(reference, reading)
        if problem is None:
            self._candidate = None
            return None
        if self._candidate is not None and limits.jump(self._candidate, reading) is None:
            self._candidate_count += 1
        else:
            self._candidate_count = 1
        self._candidate = reading
        if self._candidate_count >= limits.confirmations:
            _LOGGER.info("%s: accepting a confirmed step: %s", self.key, problem)
            return None
        return problem

    def _failed(self, message: str) -> None:
        self.consecutive_failures += 1
        self.last_error = message
        if self.available and self.consecutive_failures >= self.failures_before_unavailable:
            self.available = False
            _LOGGER.warning(
                "%s unavailable after %d failed readings: %s",
                self.key,
                self.consecutive_failures,
                message,
            )
        elif self.consecutive_failures == 1:
            _LOGGER.warning("Skipping reading: %s", message)
        else:
            _LOGGER.debug("Skipping reading: %s", message)

    def _accepted(self, reading: Reading) -> Reading:
        if not self.available:
            _LOGGER.warning("%s available again", self.key)
        self.available = True
        self.consecutive_failures = 0
        self.last_error = None
        self.last_reading = reading
        self._last_accepted_at = self._clock()
        self._candidate = None
        self._candidate_count = 0
        return reading


def with_offsets(reading: Reading, config: SensorConfig) -> Reading:
    """``reading`` corrected by the calibration offsets of ``config`` (humidity 0..100)."""
    return replace(
        reading,
        temperature=reading.temperature + config.temperature_offset,
        humidity=min(100.0, max(0.0, reading.humidity + config.humidity_offset)),
        pressure=reading.pressure + config.pressure_offset,
    )
