"""Emulated hardware: an I2C bus with BME280 sensors and TCA9548A muxes, and GPIO pins.

Used by the tests and by ``rala-edge simulate``. The emulation works at the level the real
drivers talk to: the bus implements the subset of ``busio.I2C`` that the Adafruit drivers
use, and :class:`Bme280Emulation` is register-accurate enough that the real
``adafruit_bme280`` driver reads back the physical values given to
:meth:`Bme280Emulation.set_environment` (to within the sensor's resolution).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
import errno
import math
import struct
from typing import TYPE_CHECKING, Final, Protocol

from .config import ActuatorConfig

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "BME280_CHIP_ID",
    "BMP280_CHIP_ID",
    "Bme280Calibration",
    "Bme280Emulation",
    "EmulatedI2CBus",
    "I2CDevice",
    "MemoryPin",
    "MemoryPinFactory",
    "Tca9548aEmulation",
]

BME280_CHIP_ID: Final = 0x60
BMP280_CHIP_ID: Final = 0x58

# Register map (BME280 datasheet, section 5.3).
_REG_CALIB_00: Final = 0x88  # dig_T1 .. dig_P9 (24 bytes), 0xA0 unused, 0xA1 dig_H1
_REG_DIG_H1: Final = 0xA1
_REG_CHIP_ID: Final = 0xD0
_REG_RESET: Final = 0xE0
_REG_CALIB_26: Final = 0xE1  # dig_H2 .. dig_H6 (7 bytes)
_REG_CTRL_HUM: Final = 0xF2
_REG_STATUS: Final = 0xF3
_REG_CTRL_MEAS: Final = 0xF4
_REG_CONFIG: Final = 0xF5
_REG_PRESS_MSB: Final = 0xF7
_REG_DATA_END: Final = 0xFE
_RESET_WORD: Final = 0xB6
_STATUS_MEASURING: Final = 0x08
_MODE_SLEEP: Final = 0x00
_MODE_NORMAL: Final = 0x03
# Data register content when a measurement was skipped or never made.
_SKIPPED_20_BIT: Final = 0x80000
_SKIPPED_16_BIT: Final = 0x8000


class I2CDevice(Protocol):
    """A device on the emulated bus: one I2C write or read transaction at a time."""

    def write(self, data: bytes) -> None:
        """Receive the bytes of a write transaction (address byte excluded)."""

    def read(self, length: int) -> bytes:
        """Answer a read transaction of ``length`` bytes."""


def _remote_io_error(address: int) -> OSError:
    # What Linux' i2c-dev reports when nobody acknowledges the address.
    return OSError(errno.EREMOTEIO, f"Remote I/O error (no ACK from 0x{address:02x})")


class EmulatedI2CBus:
    """In-memory I2C bus implementing the ``busio.I2C`` subset the Adafruit drivers use.

    Like the real bus, every transfer must happen while the caller holds the lock
    (``try_lock``/``unlock``); an unlocked transfer raises RuntimeError so that driver
    misuse shows up in tests. Devices answering the same address at once see every write,
    and their read bytes are AND-ed (open-drain bus).
    """

    def __init__(self) -> None:
        """Create an empty bus."""
        self._devices: dict[int, I2CDevice] = {}
        self._locked = False
        self._failures_left = 0
        self._failure: type[OSError] = OSError
        self.transactions = 0

    # -- set-up and fault injection

    def attach(self, address: int, device: I2CDevice) -> None:
        """Connect ``device`` at the 7-bit ``address`` (replacing whatever was there)."""
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"0x{address:02x} is not a usable 7-bit I2C address")
        self._devices[address] = device

    def detach(self, address: int) -> None:
        """Disconnect the device at ``address`` (a sensor unplugged); no-op when empty."""
        self._devices.pop(address, None)

    def fail_next(self, count: int = 1, error: type[OSError] = OSError) -> None:
        """Make the next ``count`` transfers raise ``error`` (like a glitch on the wires)."""
        if count < 0:
            raise ValueError("count must not be negative")
        self._failures_left = count
        self._failure = error

    # -- busio.I2C interface

    def try_lock(self) -> bool:
        """Take the bus lock; False when somebody else holds it."""
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self) -> None:
        """Release the bus lock."""
        self._locked = False

    def scan(self) -> list[int]:
        """Addresses that acknowledge, including devices on selected mux channels."""
        self._check_locked()
        found: set[int] = set()
        for address, device in self._devices.items():
            found.add(address)
            if isinstance(device, Tca9548aEmulation):
                found.update(device.downstream_addresses())
        return sorted(found)

    def writeto(
        self,
        address: int,
        buffer: Buffer,
        *,
        start: int = 0,
        end: int | None = None,
    ) -> None:
        """Write ``buffer[start:end]`` to the device at ``address``."""
        devices = self._begin(address)
        data = bytes(memoryview(buffer)[start:end])
        for device in devices:
            device.write(data)

    def readfrom_into(
        self,
        address: int,
        buffer: bytearray | memoryview,
        *,
        start: int = 0,
        end: int | None = None,
    ) -> None:
        """Read from the device at ``address`` into ``buffer[start:end]``."""
        devices = self._begin(address)
        stop = len(buffer) if end is None else end
        buffer[start:stop] = self._read(devices, stop - start)

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: Buffer,
        buffer_in: bytearray | memoryview,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        """Write then read with a repeated start, as one transfer."""
        devices = self._begin(address)
        data = bytes(memoryview(buffer_out)[out_start:out_end])
        for device in devices:
            device.write(data)
        stop = len(buffer_in) if in_end is None else in_end
        buffer_in[in_start:stop] = self._read(devices, stop - in_start)

    # -- internals

    def _check_locked(self) -> None:
        if not self._locked:
            raise RuntimeError("I2C transfer without holding the bus lock")

    def _begin(self, address: int) -> list[I2CDevice]:
        self._check_locked()
        self.transactions += 1
        if self._failures_left > 0:
            self._failures_left -= 1
            raise self._failure(errno.EIO, "Input/output error (injected)")
        devices = list(self._responders(address))
        if not devices:
            raise _remote_io_error(address)
        return devices

    def _responders(self, address: int) -> Iterator[I2CDevice]:
        direct = self._devices.get(address)
        if direct is not None:
            yield direct
        for device in self._devices.values():
            if isinstance(device, Tca9548aEmulation):
                yield from device.downstream(address)

    @staticmethod
    def _read(devices: list[I2CDevice], length: int) -> bytes:
        answers = [device.read(length) for device in devices]
        combined = bytearray(answers[0])
        for answer in answers[1:]:
            for index, value in enumerate(answer):
                combined[index] &= value
        return bytes(combined)


class Tca9548aEmulation:
    """TCA9548A 8-channel I2C mux: one control byte selects the enabled channels."""

    def __init__(self) -> None:
        """Create a mux with every channel disabled (its power-on state)."""
        self.control = 0x00
        self._channels: list[dict[int, I2CDevice]] = [{} for _ in range(8)]

    def attach(self, channel: int, address: int, device: I2CDevice) -> None:
        """Connect ``device`` at ``address`` on downstream ``channel`` (0..7)."""
        if not 0 <= channel <= 7:
            raise ValueError(f"channel {channel} does not exist (0..7)")
        self._channels[channel][address] = device

    def detach(self, channel: int, address: int) -> None:
        """Disconnect the device at ``address`` on ``channel``."""
        self._channels[channel].pop(address, None)

    def write(self, data: bytes) -> None:
        """Store the control byte (the last one written wins, as on the chip)."""
        if data:
            self.control = data[-1]

    def read(self, length: int) -> bytes:
        """Return the control byte."""
        return bytes([self.control]) * length

    def _enabled(self) -> Iterator[dict[int, I2CDevice]]:
        for channel, devices in enumerate(self._channels):
            if self.control & (1 << channel):
                yield devices

    def downstream(self, address: int) -> Iterator[I2CDevice]:
        """Devices answering ``address`` on the enabled channels (and nested muxes)."""
        for devices in self._enabled():
            device = devices.get(address)
            if device is not None:
                yield device
            for nested in devices.values():
                if isinstance(nested, Tca9548aEmulation):
                    yield from nested.downstream(address)

    def downstream_addresses(self) -> set[int]:
        """Addresses reachable through the enabled channels."""
        found: set[int] = set()
        for devices in self._enabled():
            for address, device in devices.items():
                found.add(address)
                if isinstance(device, Tca9548aEmulation):
                    found.update(device.downstream_addresses())
        return found


@dataclass(frozen=True, slots=True)
class Bme280Calibration:
    """Factory trimming coefficients of one BME280 (values of a real part by default)."""

    t1: int = 28183
    t2: int = 26479
    t3: int = 50
    p1: int = 37706
    p2: int = -10664
    p3: int = 3024
    p4: int = 7016
    p5: int = -89
    p6: int = -7
    p7: int = 9900
    p8: int = -10230
    p9: int = 4285
    h1: int = 75
    h2: int = 362
    h3: int = 0
    h4: int = 313
    h5: int = 50
    h6: int = 30

    def registers(self) -> dict[int, int]:
        """Register contents (address -> byte) holding these coefficients."""
        block = struct.pack(
            "<HhhHhhhhhhhh",
            self.t1,
            self.t2,
            self.t3,
            self.p1,
            self.p2,
            self.p3,
            self.p4,
            self.p5,
            self.p6,
            self.p7,
            self.p8,
            self.p9,
        )
        result = {_REG_CALIB_00 + index: value for index, value in enumerate(block)}
        result[_REG_DIG_H1] = self.h1 & 0xFF
        # dig_H4 and dig_H5 are 12-bit values sharing the nibbles of 0xE5.
        humidity = struct.pack(
            "<hBbBbb",
            self.h2,
            self.h3,
            self.h4 >> 4,
            ((self.h5 & 0x0F) << 4) | (self.h4 & 0x0F),
            self.h5 >> 4,
            self.h6,
        )
        result.update({_REG_CALIB_26 + index: value for index, value in enumerate(humidity)})
        return result

    # The compensation formulas below are the floating-point ones of the Bosch reference
    # driver, exactly as adafruit_bme280 evaluates them, so that inverting them gives the
    # raw value the real driver turns back into the physical value.

    def t_fine(self, adc_t: float) -> int:
        """Fine temperature (°C * 5120) for the 20-bit raw temperature ``adc_t``."""
        var1 = (adc_t / 16384.0 - self.t1 / 1024.0) * self.t2
        var2 = ((adc_t / 131072.0 - self.t1 / 8192.0) * (adc_t / 131072.0 - self.t1 / 8192.0)) * (
            self.t3
        )
        return int(var1 + var2)

    def pressure(self, t_fine: int, adc_p: float) -> float:
        """Pressure in hPa for the 20-bit raw pressure ``adc_p`` (NaN when undefined)."""
        var1 = float(t_fine) / 2.0 - 64000.0
        var2 = var1 * var1 * self.p6 / 32768.0
        var2 += var1 * self.p5 * 2.0
        var2 = var2 / 4.0 + self.p4 * 65536.0
        var3 = self.p3 * var1 * var1 / 524288.0
        var1 = (var3 + self.p2 * var1) / 524288.0
        var1 = (1.0 + var1 / 32768.0) * self.p1
        if not var1:
            return math.nan
        pressure = 1048576.0 - adc_p
        pressure = ((pressure - var2 / 4096.0) * 6250.0) / var1
        var1 = self.p9 * pressure * pressure / 2147483648.0
        var2 = pressure * self.p8 / 32768.0
        pressure += (var1 + var2 + self.p7) / 16.0
        return pressure / 100

    def humidity(self, t_fine: int, adc_h: float) -> float:
        """Relative humidity in % for the 16-bit raw humidity ``adc_h`` (unclamped)."""
        var1 = float(t_fine) - 76800.0
        var2 = self.h4 * 64.0 + (self.h5 / 16384.0) * var1
        var3 = adc_h - var2
        var4 = self.h2 / 65536.0
        var5 = 1.0 + (self.h3 / 67108864.0) * var1
        var6 = 1.0 + (self.h6 / 67108864.0) * var1 * var5
        var6 = var3 * var4 * (var5 * var6)
        return var6 * (1.0 - self.h1 * var6 / 524288.0)

    def raw_values(
        self, temperature: float, humidity: float, pressure: float
    ) -> tuple[int, int, int]:
        """Raw ADC values (temperature, pressure, humidity) that compensate to the inputs.

        Each compensation is monotonic over the raw range, so a bisection over the integer
        ADC codes finds the code whose compensated value is closest to the target. Targets
        outside what the ADC can express saturate at the end of the range.
        """
        adc_t = _closest_code(
            lambda code: self.t_fine(code) / 5120.0, temperature, bits=20, increasing=True
        )
        t_fine = self.t_fine(adc_t)
        adc_p = _closest_code(
            lambda code: self.pressure(t_fine, code), pressure, bits=20, increasing=False
        )
        adc_h = _closest_code(
            lambda code: self.humidity(t_fine, code), humidity, bits=16, increasing=True
        )
        return adc_t, adc_p, adc_h


def _closest_code(
    compensate: Callable[[float], float], target: float, *, bits: int, increasing: bool
) -> int:
    low, high = 0, (1 << bits) - 1
    while high - low > 1:
        middle = (low + high) // 2
        value = compensate(middle)
        if (value < target) == increasing:
            low = middle
        else:
            high = middle
    return min((low, high), key=lambda code: abs(compensate(code) - target))


EnvironmentSource = Callable[[], tuple[float, float, float]]


class Bme280Emulation:
    """Register-level BME280 (or BMP280 with ``chip_id=0x58``) for :class:`EmulatedI2CBus`.

    A write to ctrl_meas selecting forced mode performs one conversion: the environment
    (``set_environment`` or the ``source`` callable, returning temperature °C, relative
    humidity %, pressure hPa) is turned into raw ADC codes that the real driver's
    compensation maps back onto it, and latched into the data registers. The sensor then
    returns to sleep, so the data registers keep that conversion until the next one.
    ``busy_polls`` status reads report "measuring" after each conversion starts.
    """

    def __init__(
        self,
        *,
        chip_id: int = BME280_CHIP_ID,
        calibration: Bme280Calibration | None = None,
        source: EnvironmentSource | None = None,
        busy_polls: int = 0,
    ) -> None:
        """Create a powered-up sensor at 22 °C, 50 % RH, 1013.25 hPa."""
        self.chip_id = chip_id
        self.calibration = calibration or Bme280Calibration()
        self.source = source
        self.busy_polls = busy_polls
        self.temperature = 22.0
        self.humidity = 50.0
        self.pressure = 1013.25
        # Raw codes (temperature, pressure, humidity) forced into the next conversions,
        # for faults the compensation cannot express; None = computed from the environment.
        self.raw_override: tuple[int, int, int] | None = None
        self.conversions = 0
        self._registers = bytearray(256)
        self._pointer = 0
        self._measuring_left = 0
        self._humidity_oversampling = 0
        self._cache_key: tuple[float, float, float] | None = None
        self._cache_raw = (0, 0, 0)
        self.power_cycle()

    def set_environment(self, temperature: float, humidity: float, pressure: float) -> None:
        """Set the air the sensor sits in (used unless a ``source`` is given)."""
        self.temperature = temperature
        self.humidity = humidity
        self.pressure = pressure

    def power_cycle(self) -> None:
        """Lose power: control registers and data go back to their reset values."""
        self._registers = bytearray(256)
        for address, value in self.calibration.registers().items():
            self._registers[address] = value
        self._registers[_REG_CHIP_ID] = self.chip_id
        self._latch(_SKIPPED_20_BIT, _SKIPPED_20_BIT, _SKIPPED_16_BIT)
        self._measuring_left = 0
        self._humidity_oversampling = 0

    @property
    def mode(self) -> int:
        """The mode bits of ctrl_meas (0 sleep, 1/2 forced, 3 normal)."""
        return self._registers[_REG_CTRL_MEAS] & 0x03

    # -- I2CDevice

    def write(self, data: bytes) -> None:
        """Set the register pointer; further bytes are (register, value) pairs after it."""
        if not data:
            return  # address probe
        self._pointer = data[0]
        if len(data) >= 2:
            self._write_register(data[0], data[1])
            pairs = data[2:]
            for index in range(0, len(pairs) - 1, 2):
                self._write_register(pairs[index], pairs[index + 1])

    def read(self, length: int) -> bytes:
        """Read ``length`` registers from the pointer on, auto-incrementing."""
        if self.mode == _MODE_NORMAL and _REG_PRESS_MSB <= self._pointer <= _REG_DATA_END:
            self._convert()
        result = bytearray()
        for _ in range(length):
            result.append(self._read_register(self._pointer))
            self._pointer = (self._pointer + 1) & 0xFF
        return bytes(result)

    # -- internals

    def _read_register(self, address: int) -> int:
        if address == _REG_STATUS:
            if self._measuring_left > 0:
                self._measuring_left -= 1
                return _STATUS_MEASURING
            return 0
        return self._registers[address]

    def _write_register(self, address: int, value: int) -> None:
        if address == _REG_RESET:
            if value == _RESET_WORD:
                self.power_cycle()
            return
        if address in (_REG_CTRL_HUM, _REG_CONFIG):
            self._registers[address] = value
        elif address == _REG_CTRL_MEAS:
            self._registers[address] = value
            # ctrl_hum only takes effect with the following ctrl_meas write.
            self._humidity_oversampling = self._registers[_REG_CTRL_HUM] & 0x07
            if value & 0x03 in (0x01, 0x02):
                self._convert()
                # Forced mode: back to sleep once the conversion is done.
                self._registers[_REG_CTRL_MEAS] = value & ~0x03 | _MODE_SLEEP
                self._measuring_left = self.busy_polls
        # Everything else (calibration, chip id, data) is read-only.

    def _convert(self) -> None:
        self.conversions += 1
        if self.raw_override is not None:
            adc_t, adc_p, adc_h = self.raw_override
        else:
            if self.source is not None:
                self.temperature, self.humidity, self.pressure = self.source()
            key = (self.temperature, self.humidity, self.pressure)
            if key != self._cache_key:
                self._cache_raw = self.calibration.raw_values(*key)
                self._cache_key = key
            adc_t, adc_p, adc_h = self._cache_raw
        ctrl_meas = self._registers[_REG_CTRL_MEAS]
        humidity_enabled = self.chip_id == BME280_CHIP_ID and self._humidity_oversampling != 0
        self._latch(
            adc_t if ctrl_meas >> 5 else _SKIPPED_20_BIT,
            adc_p if (ctrl_meas >> 2) & 0x07 else _SKIPPED_20_BIT,
            adc_h if humidity_enabled else _SKIPPED_16_BIT,
        )

    def _latch(self, adc_t: int, adc_p: int, adc_h: int) -> None:
        data = bytes(
            [
                (adc_p >> 12) & 0xFF,
                (adc_p >> 4) & 0xFF,
                (adc_p << 4) & 0xF0,
                (adc_t >> 12) & 0xFF,
                (adc_t >> 4) & 0xFF,
                (adc_t << 4) & 0xF0,
                (adc_h >> 8) & 0xFF,
                adc_h & 0xFF,
            ]
        )
        self._registers[_REG_PRESS_MSB : _REG_DATA_END + 1] = data


LEVEL_HISTORY: Final = 1000
"""How many driven levels a :class:`MemoryPin` remembers."""


class MemoryPin:
    """GPIO stand-in with the subset of ``digitalio.DigitalInOut`` that actuators use.

    Behaves like Blinka's pin: it starts as an input, ``switch_to_output`` makes it an
    output (passing through low first, as Blinka does), setting ``value`` on an input or a
    released pin raises. ``levels`` records the last :data:`LEVEL_HISTORY` levels driven
    (bounded: ``simulate`` runs for months); ``stuck_at`` makes the pin read back a fixed
    level (a shorted or broken output).
    """

    def __init__(self, name: str = "") -> None:
        """Create an unconfigured (input) pin."""
        self.name = name
        self.is_output = False
        self.released = False
        self.stuck_at: bool | None = None
        self.levels: deque[bool] = deque(maxlen=LEVEL_HISTORY)
        self._level = False

    @property
    def value(self) -> bool:
        """The level on the pin (read back)."""
        self._check_usable()
        return self._level if self.stuck_at is None else self.stuck_at

    @value.setter
    def value(self, level: bool) -> None:
        self._check_usable()
        if not self.is_output:
            raise AttributeError("Not an output")
        self._level = bool(level)
        self.levels.append(self._level)

    def switch_to_output(self, value: bool = False) -> None:
        """Make the pin an output driving ``value``."""
        self._check_usable()
        self.is_output = True
        self.value = False
        self.value = value

    def deinit(self) -> None:
        """Release the pin; it can no longer be used."""
        self.released = True

    def _check_usable(self) -> None:
        if self.released:
            raise RuntimeError(f"pin {self.name or '?'} has been released (deinit)")


class MemoryPinFactory:
    """Pin factory for ActuatorBank handing out :class:`MemoryPin` objects, kept by key."""

    def __init__(self) -> None:
        """Start with no pins."""
        self.pins: dict[str, MemoryPin] = {}

    def __call__(self, config: ActuatorConfig) -> MemoryPin:
        """Return a new pin for the actuator ``config``."""
        pin = MemoryPin(config.pin)
        self.pins[config.key] = pin
        return pin
