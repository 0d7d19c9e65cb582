"""Relays on GPIO pins, with the interlocks the node enforces whatever it is asked.

Rules, in :class:`ActuatorBank`:

- Each relay starts in its configured boot state (off unless configured); min_on/min_off
  count from the start, so a compressor that was running before a reboot is not
  restarted at once.
- The state reported is the pin read back (``active_low`` handled), never the command.
- ``min_on``/``min_off``: a change that comes too early is refused, with the time left.
- Exclusive pairs (heater/cooler, humidifier/dehumidifier) of the same zone are never on
  together: switching one on while its partner is on is refused.
- Safety transitions to OFF always happen, whatever min_on says: ``max_on`` (enforced by
  ``tick``), link loss (``link_lost`` for actuators whose link-loss action is OFF) and
  shutdown (``all_off``).
- Link loss with action ON respects min_off and the exclusive pairs; when it cannot
  happen yet it is deferred and retried by ``tick`` while the link stays lost (a command
  for that actuator cancels the deferred action). While the link is lost, an actuator whose
  link-loss action is OFF refuses to be switched on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import logging
import math
import time
from typing import Protocol

from .config import EXCLUSIVE_KINDS, ActuatorConfig, ActuatorKind, LinkLossAction

__all__ = [
    "ActuatorBank",
    "ActuatorError",
    "CommandResult",
    "OutputPin",
    "PinFactory",
    "blinka_pin_factory",
]

_LOGGER = logging.getLogger(__name__)


class ActuatorError(Exception):
    """A GPIO pin could not be opened or driven."""


class OutputPin(Protocol):
    """The subset of ``digitalio.DigitalInOut`` used to drive a relay."""

    @property
    def value(self) -> bool:
        """The level on the pin, read back."""

    @value.setter
    def value(self, level: bool) -> None:
        """Drive the pin."""

    def switch_to_output(self, value: bool = False) -> None:
        """Make the pin an output driving ``value``."""

    def deinit(self) -> None:
        """Release the pin."""


PinFactory = Callable[[ActuatorConfig], OutputPin]


def blinka_pin_factory(config: ActuatorConfig) -> OutputPin:
    """Open ``config.pin`` through Blinka's digitalio (libgpiod: works on the Pi 5 too).

    Blinka is imported here so that the package imports on machines without GPIO.
    Raises ActuatorError when the pin cannot be opened.
    """
    try:
        import board  # noqa: PLC0415 - Blinka probes the hardware on import
        import digitalio  # noqa: PLC0415

        pin: OutputPin = digitalio.DigitalInOut(getattr(board, config.pin))
    except (
        ImportError,
        AttributeError,
        OSError,
        RuntimeError,  # also Blinka's NotImplementedError on a board it does not know
        ValueError,
    ) as error:
        raise ActuatorError(f"cannot open GPIO {config.pin} for {config.key}: {error}") from error
    return pin


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did."""

    accepted: bool
    state: bool  # the pin read back after the command, True = energised
    reason: str | None  # why it was refused, e.g. "min_off: 42 s left"


class _Actuator:
    """One relay: its pin and the time of its last change."""

    def __init__(self, config: ActuatorConfig, pin: OutputPin, now: float) -> None:
        self.config = config
        self.pin = pin
        self.changed_at = now
        self.on_since: float | None = None
        self.driven = False

    def level(self, on: bool) -> bool:
        return on != self.config.active_low

    def read(self) -> bool:
        """Energised according to the pin read back; the driven state if it cannot be read."""
        try:
            return bool(self.pin.value) != self.config.active_low
        except (OSError, RuntimeError) as error:
            _LOGGER.warning("Cannot read back %s: %s", self.config.key, error)
            return self.driven

    def drive(self, on: bool, now: float) -> None:
        self.pin.value = self.level(on)
        self.driven = on
        self.changed_at = now
        self.on_since = now if on else None


class ActuatorBank:
    """All relays of the node, with their interlocks. See the module docstring."""

    def __init__(
        self,
        configs: Sequence[ActuatorConfig],
        pin_factory: PinFactory,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Open every pin and set its boot state (an exclusive partner already on wins)."""
        self._clock = clock
        self._actuators: dict[str, _Actuator] = {}
        self._link_lost = False
        self._deferred_on: set[str] = set()
        self._closed = False
        keys = [config.key for config in configs]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"duplicate actuator keys: {', '.join(duplicates)}")
        now = clock()
        try:
            for config in configs:
                pin = pin_factory(config)
                actuator = _Actuator(config, pin, now)
                self._actuators[config.key] = actuator
                boot_on = config.boot_state
                if boot_on and (partner := self._partner_on(actuator)) is not None:
                    _LOGGER.warning(
                        "%s boots off: its exclusive partner %s is on", config.key, partner
                    )
                    boot_on = False
                pin.switch_to_output(value=actuator.level(boot_on))
                actuator.driven = boot_on
                actuator.on_since = now if boot_on else None
        except BaseException:
            self.all_off()
            raise

    # -- queries

    def keys(self) -> tuple[str, ...]:
        """Actuator keys in configuration order."""
        return tuple(self._actuators)

    def config(self, key: str) -> ActuatorConfig:
        """The configuration of ``key`` (KeyError when unknown)."""
        return self._actuators[key].config

    def state(self, key: str) -> bool:
        """Pin read back, True = energised (KeyError when unknown)."""
        return self._actuators[key].read()

    def states(self) -> dict[str, bool]:
        """Every actuator's pin read back."""
        return {key: actuator.read() for key, actuator in self._actuators.items()}

    def kind_states(self) -> dict[ActuatorKind, bool]:
        """For every kind: is any actuator of that kind on (False when there is none)."""
        result = dict.fromkeys(ActuatorKind, False)
        for actuator in self._actuators.values():
            if actuator.read():
                result[actuator.config.kind] = True
        return result

    @property
    def link_is_lost(self) -> bool:
        """Whether ``link_lost`` was called without ``link_restored`` since."""
        return self._link_lost

    # -- commands

    def command(self, key: str, on: bool) -> CommandResult:
        """Switch ``key`` on or off, unless an interlock forbids it (KeyError when unknown)."""
        actuator = self._actuators[key]
        self._check_open()
        self._deferred_on.discard(key)
        if actuator.read() == on:
            return CommandResult(accepted=True, state=on, reason=None)
        if on and self._link_lost and actuator.config.link_loss is LinkLossAction.OFF:
            return self._refused(actuator, "link lost: stays off until the link is back")
        reason = self._blocked(actuator, on)
        if reason is not None:
            return self._refused(actuator, reason)
        return self._switch(actuator, on, why="command")

    def tick(self) -> list[str]:
        """Enforce max_on and retry deferred link-loss actions; returns the changed keys."""
        self._check_open()
        now = self._clock()
        changed: list[str] = []
        for key, actuator in self._actuators.items():
            max_on = actuator.config.max_on
            if (
                max_on is not None
                and actuator.on_since is not None
                and now - actuator.on_since >= max_on
                and actuator.read()
            ):
                _LOGGER.warning("%s reached max_on (%g s): switching off", key, max_on)
                self._switch(actuator, False, why="max_on")
                changed.append(key)
        if self._deferred_on:
            changed.extend(self._switch_on_for_link_loss(sorted(self._deferred_on)))
        return changed

    def link_lost(self) -> list[str]:
        """Apply each actuator's link-loss action (OFF first); returns the changed keys."""
        self._check_open()
        self._link_lost = True
        changed: list[str] = []
        for key, actuator in self._actuators.items():
            if actuator.config.link_loss is LinkLossAction.OFF and actuator.read():
                self._deferred_on.discard(key)
                self._switch(actuator, False, why="link lost")
                changed.append(key)
        wanted_on = [
            key
            for key, actuator in self._actuators.items()
            if actuator.config.link_loss is LinkLossAction.ON
        ]
        changed.extend(self._switch_on_for_link_loss(wanted_on))
        return changed

    def link_restored(self) -> None:
        """The link is back: pending link-loss actions are dropped, commands are obeyed."""
        self._link_lost = False
        self._deferred_on.clear()

    def all_off(self) -> None:
        """Shutdown: everything off at once (min_on does not apply), then release the pins."""
        if self._closed:
            return
        self._closed = True
        now = self._clock()
        for key, actuator in self._actuators.items():
            try:
                actuator.drive(False, now)
            except (OSError, RuntimeError, AttributeError):
                _LOGGER.exception("Cannot switch %s off", key)
        for key, actuator in self._actuators.items():
            try:
                actuator.pin.deinit()
            except (OSError, RuntimeError) as error:
                _LOGGER.warning("Cannot release the pin of %s: %s", key, error)

    # -- internals

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the actuator bank has been shut down (all_off)")

    def _partner_on(self, actuator: _Actuator) -> str | None:
        partner_kind = EXCLUSIVE_KINDS.get(actuator.config.kind)
        if partner_kind is None:
            return None
        for key, other in self._actuators.items():
            if (
                other is not actuator
                and other.config.kind is partner_kind
                and other.config.zone == actuator.config.zone
                and other.read()
            ):
                return key
        return None

    def _blocked(self, actuator: _Actuator, on: bool) -> str | None:
        """Why switching ``actuator`` to ``on`` is not allowed now, or None."""
        elapsed = self._clock() - actuator.changed_at
        if on:
            partner = self._partner_on(actuator)
            if partner is not None:
                return f"interlock: {partner} is on"
            left = actuator.config.min_off - elapsed
            if left > 0:
                return f"min_off: {math.ceil(left)} s left"
        else:
            left = actuator.config.min_on - elapsed
            if left > 0:
                return f"min_on: {math.ceil(left)} s left"
        return None

    def _refused(self, actuator: _Actuator, reason: str) -> CommandResult:
        _LOGGER.info("Refused to switch %s: %s", actuator.config.key, reason)
        return CommandResult(accepted=False, state=actuator.read(), reason=reason)

    def _switch(self, actuator: _Actuator, on: bool, *, why: str) -> CommandResult:
        key = actuator.config.key
        try:
            actuator.drive(on, self._clock())
        except (OSError, RuntimeError, AttributeError) as error:
            _LOGGER.exception("Cannot switch %s %s", key, "on" if on else "off")
            return CommandResult(
                accepted=False, state=actuator.read(), reason=f"pin error: {error}"
            )
        state = actuator.read()
        _LOGGER.info("%s %s (%s)", key, "ON" if state else "OFF", why)
        if state != on:
            return CommandResult(
                accepted=False,
                state=state,
                reason=f"pin reads back {'ON' if state else 'OFF'} after switching",
            )
        return CommandResult(accepted=True, state=state, reason=None)

    def _switch_on_for_link_loss(self, keys: Sequence[str]) -> list[str]:
        """Switch ``keys`` on where the interlocks allow; defer the others."""
        changed: list[str] = []
        for key in keys:
            actuator = self._actuators[key]
            self._deferred_on.discard(key)
            if actuator.read():
                continue
            reason = self._blocked(actuator, True)
            if reason is not None:
                _LOGGER.info("%s: link-loss ON deferred (%s)", key, reason)
                self._deferred_on.add(key)
                continue
            self._switch(actuator, True, why="link lost")
            changed.append(key)
        return changed
