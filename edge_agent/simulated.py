"""The simulated tent wired behind the real drivers: what ``rala-edge simulate`` runs.

The agent is exactly the one ``rala-edge run`` uses. Only the hardware differs: each
configured BME280 is a register-level emulation on an emulated I2C bus, read by the real
driver, whose physical values come from :class:`edge_agent.sim.SimulatedTent`; the relays
are in-memory pins whose states drive the tent's heater, humidifier, fans and lights.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Final

from .actuators import ActuatorBank
from .config import AgentConfig
from .emulation import Bme280Emulation, EmulatedI2CBus, MemoryPinFactory, Tca9548aEmulation
from .sim import SimulatedTent, TentParameters

#: The tent is integrated in steps of this many simulated seconds (keeps results
#: independent of how often the agent happens to tick).
SIMULATION_STEP: Final = 1.0
#: At most this much simulated time is caught up in one go (after a stall).
MAX_CATCH_UP: Final = 3600.0

DEFAULT_NODE_ID: Final = "rala-sim"
DEFAULT_NAME: Final = "RALA simulated tent"
DEFAULT_ZONE: Final = "Simulated tent"


def default_simulation_raw_config(
    *, node_id: str, host: str, port: int, sample_interval: float
) -> dict[str, Any]:
    """A complete node: one sensor and the usual relays of a tent (as YAML would give it)."""
    actuators = [
        ("heater", "Heater", "heater", "D17"),
        ("humidifier", "Humidifier", "humidifier", "D27"),
        ("dehumidifier", "Dehumidifier", "dehumidifier", "D22"),
        ("exhaust_fan", "Exhaust fan", "exhaust_fan", "D23"),
        ("light", "Light", "light", "D24"),
    ]
    return {
        "node_id": node_id,
        "name": DEFAULT_NAME,
        "broker": {"host": host, "port": port},
        "sample_interval": sample_interval,
        "sensors": [{"key": "canopy", "name": "Canopy", "zone": DEFAULT_ZONE}],
        "actuators": [
            {"key": key, "name": name, "kind": kind, "pin": pin, "zone": DEFAULT_ZONE}
            for key, name, kind, pin in actuators
        ],
    }


@dataclass(frozen=True, slots=True)
class SimulatedHardware:
    """The emulated bus and pins, and the tent that connects them."""

    bus: EmulatedI2CBus
    pin_factory: MemoryPinFactory
    tent: SimulatedTent


def build_simulated_hardware(config: AgentConfig, *, seed: int) -> SimulatedHardware:
    """Emulated BME280s (behind emulated muxes where configured) fed by one simulated tent."""
    params = TentParameters.from_mapping(config.simulation)
    tent = SimulatedTent(params, seed=seed)
    bus = EmulatedI2CBus()
    muxes: dict[int, Tca9548aEmulation] = {}
    for sensor in config.sensors:
        device = Bme280Emulation(source=tent.measure)
        if sensor.mux_address is None or sensor.mux_channel is None:
            bus.attach(sensor.address, device)
            continue
        mux = muxes.get(sensor.mux_address)
        if mux is None:
            mux = muxes[sensor.mux_address] = Tca9548aEmulation()
            bus.attach(sensor.mux_address, mux)
        mux.attach(sensor.mux_channel, sensor.address, device)
    return SimulatedHardware(bus=bus, pin_factory=MemoryPinFactory(), tent=tent)


class SimulatedWorld:
    """Advances the tent on the agent's clock with the relays' current states."""

    def __init__(self, tent: SimulatedTent, bank: ActuatorBank, start: float) -> None:
        """``start`` is the agent clock reading that corresponds to the tent's time zero."""
        self._tent = tent
        self._bank = bank
        self._time = start

    def advance(self, now: float) -> None:
        """Step the tent in whole simulation steps up to ``now``."""
        behind = now - self._time
        if behind > MAX_CATCH_UP:
            self._time = now - MAX_CATCH_UP
            behind = MAX_CATCH_UP
        steps = math.floor(behind / SIMULATION_STEP)
        if steps <= 0:
            return
        self._tent.step(steps * SIMULATION_STEP, self._bank.kind_states())
        self._time += steps * SIMULATION_STEP
