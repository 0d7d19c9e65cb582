"""Relays and their interlocks, on emulated pins with a hand-driven clock (no sleeps)."""

from __future__ import annotations

from dataclasses import dataclass
import logging
import sys
import types
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from edge_agent.actuators import ActuatorBank, ActuatorError, CommandResult, blinka_pin_factory
from edge_agent.config import ActuatorConfig, ActuatorKind, LinkLossAction
from edge_agent.emulation import MemoryPin, MemoryPinFactory


class FakeClock:
    """Monotonic seconds, moved by the test."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def relay(key: str, kind: ActuatorKind | str | None = None, **fields: Any) -> ActuatorConfig:
    """An actuator config; the kind defaults to the key."""
    settings: dict[str, Any] = {
        "key": key,
        "name": key.title(),
        "kind": ActuatorKind(kind or key),
        "zone": "Tent",
        "pin": f"D{5 + len(key)}",
    }
    settings.update(fields)
    return ActuatorConfig(**settings)


@dataclass
class Rig:
    """A bank with its pins and clock."""

    bank: ActuatorBank
    pins: MemoryPinFactory
    clock: FakeClock

    def pin(self, key: str) -> MemoryPin:
        return self.pins.pins[key]


def rig(*configs: ActuatorConfig) -> Rig:
    """Build a bank over MemoryPins with a fake clock."""
    clock = FakeClock()
    pins = MemoryPinFactory()
    return Rig(ActuatorBank(configs, pins, clock=clock), pins, clock)


# --------------------------------------------------------------------------- boot and read-back


def test_boot_states_and_active_low() -> None:
    """Off unless configured; the pin level honours active_low; outputs from the start."""
    setup = rig(
        relay("heater"),
        relay("light", boot_state=True),
        relay("pump", active_low=True),
        relay("exhaust_fan", active_low=True, boot_state=True),
    )
    assert setup.bank.keys() == ("heater", "light", "pump", "exhaust_fan")
    assert setup.bank.states() == {
        "heater": False,
        "light": True,
        "pump": False,
        "exhaust_fan": True,
    }
    assert setup.pin("heater").value is False
    assert setup.pin("light").value is True
    assert setup.pin("pump").value is True  # active low: off is a high level
    assert setup.pin("exhaust_fan").value is False
    assert all(pin.is_output for pin in setup.pins.pins.values())
    assert setup.bank.config("pump").active_low


def test_kind_states_cover_every_kind() -> None:
    """The simulator asks per kind: any actuator of the kind on."""
    setup = rig(relay("light", boot_state=True), relay("light_2", "light"), relay("pump"))
    states = setup.bank.kind_states()
    assert set(states) == set(ActuatorKind)
    assert states[ActuatorKind.LIGHT] is True
    assert states[ActuatorKind.PUMP] is False
    assert states[ActuatorKind.HEATER] is False


def test_state_is_the_pin_read_back_not_the_command() -> None:
    """A pin that does not follow is reported as it is, and the command as failed."""
    setup = rig(relay("heater"), relay("pump", active_low=True))
    setup.pin("heater").stuck_at = False
    result = setup.bank.command("heater", True)
    assert result == CommandResult(
        accepted=False, state=False, reason="pin reads back OFF after switching"
    )
    assert setup.bank.state("heater") is False
    setup.pin("pump").stuck_at = False  # low level on an active-low relay: energised
    assert setup.bank.state("pump") is True


def test_unreadable_pin_falls_back_to_the_driven_state(caplog: pytest.LogCaptureFixture) -> None:
    """If the read-back itself fails, the last driven state is reported (and logged)."""

    class FlakyPin(MemoryPin):
        broken = False

        @property
        def value(self) -> bool:
            if self.broken:
                raise OSError(5, "gpio read failed")
            return MemoryPin.value.fget(self)  # type: ignore[attr-defined,no-any-return]

        @value.setter
        def value(self, level: bool) -> None:
            MemoryPin.value.fset(self, level)  # type: ignore[attr-defined]

    pin = FlakyPin("D9")
    bank = ActuatorBank([relay("light")], lambda _config: pin, clock=FakeClock())
    assert bank.command("light", True).accepted
    pin.broken = True
    assert bank.state("light") is True
    assert "Cannot read back light" in caplog.text


def test_unknown_key_and_duplicate_keys() -> None:
    """Unknown actuators are a KeyError; a bank refuses two actuators with one key."""
    setup = rig(relay("heater"))
    with pytest.raises(KeyError):
        setup.bank.command("toaster", True)
    with pytest.raises(KeyError):
        setup.bank.state("toaster")
    with pytest.raises(ValueError, match="duplicate actuator keys: heater"):
        ActuatorBank([relay("heater"), relay("heater", pin="D20")], MemoryPinFactory())


def test_command_to_the_current_state_changes_nothing() -> None:
    """Asking for the state it is in is accepted without touching the pin or the timers."""
    setup = rig(relay("heater", min_off=60))
    levels = list(setup.pin("heater").levels)
    assert setup.bank.command("heater", False) == CommandResult(True, False, None)
    assert list(setup.pin("heater").levels) == levels


# --------------------------------------------------------------------------- min_on / min_off


def test_min_off_counts_from_boot() -> None:
    """A compressor that ran before a reboot is not restarted at once."""
    setup = rig(relay("dehumidifier", min_off=60))
    assert setup.bank.command("dehumidifier", True) == CommandResult(
        False, False, "min_off: 60 s left"
    )
    setup.clock.advance(59.5)
    assert setup.bank.command("dehumidifier", True).reason == "min_off: 1 s left"
    setup.clock.advance(0.5)
    assert setup.bank.command("dehumidifier", True) == CommandResult(True, True, None)


def test_min_on_and_min_off_after_switching() -> None:
    """Too-early changes are refused with the time left; on time they are accepted."""
    setup = rig(relay("heater", min_on=60, min_off=30))
    setup.clock.advance(30)
    assert setup.bank.command("heater", True).accepted
    setup.clock.advance(10)
    assert setup.bank.command("heater", False) == CommandResult(False, True, "min_on: 50 s left")
    setup.clock.advance(50)
    assert setup.bank.command("heater", False) == CommandResult(True, False, None)
    setup.clock.advance(29)
    assert setup.bank.command("heater", True) == CommandResult(False, False, "min_off: 1 s left")
    setup.clock.advance(1)
    assert setup.bank.command("heater", True).accepted


def test_refused_commands_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Every refusal says why in the log."""
    setup = rig(relay("heater", min_off=10))
    with caplog.at_level(logging.INFO, logger="edge_agent.actuators"):
        setup.bank.command("heater", True)
    assert "Refused to switch heater: min_off: 10 s left" in caplog.text


# --------------------------------------------------------------------------- exclusive pairs


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("heater", "cooler"),
        ("cooler", "heater"),
        ("humidifier", "dehumidifier"),
        ("dehumidifier", "humidifier"),
    ],
)
def test_exclusive_pairs(first: str, second: str) -> None:
    """Switching one on while its partner is on is refused; after the partner is off it works."""
    setup = rig(relay(first), relay(second))
    assert setup.bank.command(first, True).accepted
    assert setup.bank.command(second, True) == CommandResult(
        False, False, f"interlock: {first} is on"
    )
    assert setup.bank.command(first, False).accepted
    assert setup.bank.command(second, True).accepted


def test_exclusive_pairs_are_per_zone() -> None:
    """A heater in one tent does not block a cooler in another."""
    setup = rig(relay("heater", zone="Flower"), relay("cooler", zone="Veg"))
    assert setup.bank.command("heater", True).accepted
    assert setup.bank.command("cooler", True).accepted


def test_non_exclusive_kinds_run_together() -> None:
    """Fans, lights, pumps and a heater: no interlock between them."""
    setup = rig(relay("heater"), relay("exhaust_fan"), relay("light"), relay("pump"))
    keys = setup.bank.keys()
    assert all(setup.bank.command(key, True).accepted for key in keys)


def test_exclusive_partners_never_boot_on_together(caplog: pytest.LogCaptureFixture) -> None:
    """If both are configured to boot on, the first wins and the second boots off."""
    setup = rig(relay("humidifier", boot_state=True), relay("dehumidifier", boot_state=True))
    assert setup.bank.states() == {"humidifier": True, "dehumidifier": False}
    assert "dehumidifier boots off: its exclusive partner humidifier is on" in caplog.text


# --------------------------------------------------------------------------- max_on


def test_max_on_is_enforced_by_tick() -> None:
    """tick switches off whatever has been on for max_on, and says so."""
    setup = rig(relay("humidifier", max_on=90), relay("light", boot_state=True))
    assert setup.bank.tick() == []
    assert setup.bank.command("humidifier", True).accepted
    setup.clock.advance(89.9)
    assert setup.bank.tick() == []
    setup.clock.advance(0.1)
    assert setup.bank.tick() == ["humidifier"]
    assert setup.bank.state("humidifier") is False
    assert setup.bank.state("light") is True
    assert setup.bank.tick() == []


def test_max_on_wins_over_min_on_and_then_min_off_applies() -> None:
    """max_on is a safety transition; afterwards the relay rests for min_off."""
    setup = rig(relay("heater", min_on=120, max_on=60, min_off=30))
    setup.clock.advance(30)
    assert setup.bank.command("heater", True).accepted
    setup.clock.advance(60)
    assert setup.bank.tick() == ["heater"]
    assert setup.bank.command("heater", True).reason == "min_off: 30 s left"


def test_max_on_counts_from_boot_for_boot_on_relays() -> None:
    """A relay that boots on is timed from the boot."""
    setup = rig(relay("pump", boot_state=True, max_on=10))
    setup.clock.advance(10)
    assert setup.bank.tick() == ["pump"]


# --------------------------------------------------------------------------- link loss


def link_loss_rig() -> Rig:
    """Heater (off on loss), fan (on on loss), light (keep), dehumidifier (on, slow)."""
    return rig(
        relay("heater", min_on=600),
        relay("exhaust_fan", link_loss=LinkLossAction.ON),
        relay("light", boot_state=True),
        relay("dehumidifier", link_loss=LinkLossAction.ON, min_off=300),
    )


def test_link_loss_applies_each_action() -> None:
    """Heater off at once despite min_on; fan on; light kept; deferred ON waits for min_off."""
    setup = link_loss_rig()
    setup.clock.advance(10)
    assert setup.bank.command("heater", True).accepted
    assert not setup.bank.link_is_lost
    assert setup.bank.link_lost() == ["heater", "exhaust_fan"]
    assert setup.bank.link_is_lost
    assert setup.bank.states() == {
        "heater": False,
        "exhaust_fan": True,
        "light": True,
        "dehumidifier": False,
    }
    setup.clock.advance(289)
    assert setup.bank.tick() == []
    setup.clock.advance(1)
    assert setup.bank.tick() == ["dehumidifier"]
    assert setup.bank.state("dehumidifier") is True


def test_link_loss_on_respects_exclusive_pairs() -> None:
    """A cooler configured ON for link loss waits while a (kept) heater runs."""
    setup = rig(
        relay("heater", link_loss=LinkLossAction.KEEP),
        relay("cooler", link_loss=LinkLossAction.ON),
    )
    assert setup.bank.command("heater", True).accepted
    assert setup.bank.link_lost() == []
    assert setup.bank.state("cooler") is False


def test_while_the_link_is_lost_fail_safe_relays_stay_off() -> None:
    """A stray command cannot switch on a relay that link loss keeps off; restore allows it."""
    setup = link_loss_rig()
    setup.bank.link_lost()
    assert setup.bank.command("heater", True) == CommandResult(
        False, False, "link lost: stays off until the link is back"
    )
    assert setup.bank.command("light", False).accepted
    setup.bank.link_restored()
    assert not setup.bank.link_is_lost
    assert setup.bank.command("heater", True).accepted


def test_link_restored_drops_deferred_actions() -> None:
    """Once the link is back, a deferred link-loss ON no longer happens."""
    setup = link_loss_rig()
    setup.bank.link_lost()
    setup.bank.link_restored()
    setup.clock.advance(1000)
    assert setup.bank.tick() == []
    assert setup.bank.state("dehumidifier") is False


def test_a_command_cancels_a_deferred_link_loss_action() -> None:
    """An explicit command during link loss wins over the deferred link-loss ON."""
    setup = link_loss_rig()
    setup.bank.link_lost()
    assert setup.bank.command("dehumidifier", False).accepted  # already off: a no-op
    setup.clock.advance(1000)
    assert setup.bank.tick() == []


def test_max_on_during_link_loss_is_not_undone() -> None:
    """A link-loss ON relay cut by max_on stays off: no chattering back on."""
    setup = rig(relay("exhaust_fan", link_loss=LinkLossAction.ON, max_on=60))
    assert setup.bank.link_lost() == ["exhaust_fan"]
    setup.clock.advance(60)
    assert setup.bank.tick() == ["exhaust_fan"]
    setup.clock.advance(60)
    assert setup.bank.tick() == []


def test_link_lost_twice_changes_nothing_more() -> None:
    """Repeated link-loss notices are harmless."""
    setup = link_loss_rig()
    setup.bank.link_lost()
    assert setup.bank.link_lost() == []


# --------------------------------------------------------------------------- shutdown


def test_all_off_switches_everything_off_and_releases_the_pins() -> None:
    """Shutdown ignores min_on, releases every pin, and the bank is closed afterwards."""
    setup = rig(
        relay("heater", min_on=600),
        relay("exhaust_fan", active_low=True, boot_state=True),
    )
    setup.clock.advance(1)
    assert setup.bank.command("heater", True).accepted
    setup.bank.all_off()
    assert setup.pin("heater").levels[-1] is False
    assert setup.pin("exhaust_fan").levels[-1] is True  # active low: off
    assert all(pin.released for pin in setup.pins.pins.values())
    setup.bank.all_off()  # idempotent
    for action in (
        lambda: setup.bank.command("heater", True),
        setup.bank.tick,
        setup.bank.link_lost,
    ):
        with pytest.raises(RuntimeError, match="shut down"):
            action()


def test_all_off_continues_past_a_broken_pin(caplog: pytest.LogCaptureFixture) -> None:
    """One pin failing does not keep the others on."""
    setup = rig(relay("heater", boot_state=True), relay("light", boot_state=True))
    setup.pin("heater").deinit()  # driving it now raises
    setup.bank.all_off()
    assert setup.pin("light").levels[-1] is False
    assert "Cannot switch heater off" in caplog.text


def test_all_off_survives_a_pin_that_cannot_be_released(caplog: pytest.LogCaptureFixture) -> None:
    """A failing deinit is logged; the other pins are still released."""

    class StickyPin(MemoryPin):
        def deinit(self) -> None:
            raise OSError(16, "Device or resource busy")

    pins: list[MemoryPin] = []

    def factory(config: ActuatorConfig) -> MemoryPin:
        pin = StickyPin(config.pin) if config.key == "heater" else MemoryPin(config.pin)
        pins.append(pin)
        return pin

    bank = ActuatorBank([relay("heater"), relay("light")], factory, clock=FakeClock())
    bank.all_off()
    assert "Cannot release the pin of heater" in caplog.text
    assert pins[1].released


def test_a_pin_error_is_a_refused_command(caplog: pytest.LogCaptureFixture) -> None:
    """Driving a pin that fails is reported, not raised."""
    setup = rig(relay("light"))
    pin = setup.pin("light")
    pin.deinit()
    pin.released = False  # readable again, but the next write fails:
    pin.is_output = False
    result = setup.bank.command("light", True)
    assert not result.accepted
    assert result.reason == "pin error: Not an output"
    assert "Cannot switch light on" in caplog.text


def test_pins_opened_before_a_failure_are_switched_off() -> None:
    """If a pin cannot be opened, the ones already opened are put off and released."""
    opened: list[MemoryPin] = []

    def factory(config: ActuatorConfig) -> MemoryPin:
        if config.key == "pump":
            raise ActuatorError("cannot open GPIO D9")
        pin = MemoryPin(config.pin)
        opened.append(pin)
        return pin

    with pytest.raises(ActuatorError):
        ActuatorBank([relay("light", boot_state=True), relay("pump")], factory, clock=FakeClock())
    assert opened[0].levels[-1] is False
    assert opened[0].released


# --------------------------------------------------------------------------- blinka


def fake_blinka(monkeypatch: pytest.MonkeyPatch, pins: tuple[str, ...] = ("D17",)) -> list[Any]:
    """Install `board` and `digitalio` stand-ins; returns the list of opened pins."""
    opened: list[Any] = []
    board = types.ModuleType("board")
    for name in pins:
        setattr(board, name, f"pin-{name}")
    digitalio = types.ModuleType("digitalio")

    def digital_in_out(pin: str) -> MemoryPin:
        opened.append(pin)
        return MemoryPin(pin)

    digitalio.DigitalInOut = digital_in_out  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "board", board)
    monkeypatch.setitem(sys.modules, "digitalio", digitalio)
    return opened


def test_blinka_pin_factory_opens_the_board_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config's pin name is looked up on Blinka's board module."""
    opened = fake_blinka(monkeypatch)
    pin = blinka_pin_factory(relay("heater", pin="D17"))
    assert opened == ["pin-D17"]
    assert isinstance(pin, MemoryPin)


def test_blinka_pin_factory_unknown_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pin the board does not have is an ActuatorError naming it."""
    fake_blinka(monkeypatch, pins=())
    with pytest.raises(ActuatorError, match="cannot open GPIO D17 for heater"):
        blinka_pin_factory(relay("heater", pin="D17"))


# --------------------------------------------------------------------------- properties

# The kinds with interlocks come up more often than the rest.
EXCLUSIVE = [
    ActuatorKind.HEATER,
    ActuatorKind.COOLER,
    ActuatorKind.HUMIDIFIER,
    ActuatorKind.DEHUMIDIFIER,
]
KINDS = EXCLUSIVE * 3 + list(ActuatorKind)
DURATION = st.sampled_from([0.0, 5.0, 30.0, 60.0, 120.0])


@st.composite
def actuator_configs(draw: st.DrawFn) -> list[ActuatorConfig]:
    """Two to six actuators with random interlock settings in one or two zones."""
    count = draw(st.integers(2, 6))
    configs = []
    for index in range(count):
        kind = draw(st.sampled_from(KINDS))
        min_on = draw(DURATION)
        max_on = draw(
            st.one_of(st.none(), st.sampled_from([min_on + 1, min_on + 60, min_on + 200]))
        )
        configs.append(
            ActuatorConfig(
                key=f"a{index}",
                name=f"A{index}",
                kind=kind,
                zone=draw(st.sampled_from(["Flower", "Flower", "Veg"])),
                pin=f"D{index + 4}",
                active_low=draw(st.booleans()),
                boot_state=draw(st.booleans()),
                min_on=min_on,
                min_off=draw(DURATION),
                max_on=max_on,
                link_loss=draw(st.sampled_from(list(LinkLossAction))),
            )
        )
    return configs


COMMAND = st.tuples(st.just("command"), st.integers(0, 5), st.booleans())
OPERATIONS = st.lists(
    st.one_of(
        COMMAND,
        COMMAND,
        st.tuples(st.just("advance"), st.sampled_from([0.5, 1.0, 4.0, 10.0, 29.0, 61.0, 200.0])),
        st.tuples(st.just("tick")),
        st.tuples(st.just("link_lost")),
        st.tuples(st.just("link_restored")),
    ),
    max_size=80,
)

PAIRS = [
    (ActuatorKind.HEATER, ActuatorKind.COOLER),
    (ActuatorKind.HUMIDIFIER, ActuatorKind.DEHUMIDIFIER),
]


def check_exclusive(configs: list[ActuatorConfig], states: dict[str, bool]) -> None:
    """No zone has both members of an exclusive pair on."""
    for zone in {config.zone for config in configs}:
        on_kinds = {config.kind for config in configs if config.zone == zone and states[config.key]}
        for first, second in PAIRS:
            assert not {first, second} <= on_kinds, (zone, states)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs=actuator_configs(), operations=OPERATIONS)
def test_interlocks_hold_for_any_sequence(
    configs: list[ActuatorConfig], operations: list[tuple[Any, ...]]
) -> None:
    """Random commands, clock advances, ticks and link changes never break an interlock.

    - never both members of an exclusive pair on in one zone;
    - a change by command or by a link-loss ON respects min_on/min_off; only the safety
      transitions to OFF (max_on in tick, link-loss OFF) may cut min_on short;
    - after every tick nothing has been on for max_on or longer;
    - results report the pin read back; nothing changes but what an operation may change.
    """
    clock = FakeClock()
    bank = ActuatorBank(configs, MemoryPinFactory(), clock=clock)
    by_key = {config.key: config for config in configs}
    states = bank.states()
    changed_at = dict.fromkeys(by_key, clock.now)
    on_since = {key: clock.now if on else None for key, on in states.items()}
    check_exclusive(configs, states)
    link_lost = False

    for operation in operations:
        name = operation[0]
        result: CommandResult | None = None
        if name == "command":
            key = f"a{operation[1] % len(configs)}"
            result = bank.command(key, operation[2])
        elif name == "advance":
            clock.advance(operation[1])
        elif name == "tick":
            bank.tick()
        elif name == "link_lost":
            bank.link_lost()
            link_lost = True
        else:
            bank.link_restored()
            link_lost = False

        after = bank.states()
        check_exclusive(configs, after)
        for key, now_on in after.items():
            config = by_key[key]
            if now_on == states[key]:
                continue
            elapsed = clock.now - changed_at[key]
            if name == "command":
                assert key == f"a{operation[1] % len(configs)}"
                assert now_on == operation[2]
                assert elapsed >= (config.min_off if now_on else config.min_on)
            elif name == "tick" and not now_on:
                assert config.max_on is not None
                since = on_since[key]
                assert since is not None
                assert clock.now - since >= config.max_on
            elif name == "link_lost" and not now_on:
                assert config.link_loss is LinkLossAction.OFF
            elif name in {"tick", "link_lost"} and now_on:
                assert link_lost
                assert config.link_loss is LinkLossAction.ON
                assert elapsed >= config.min_off
            else:
                pytest.fail(f"{name} changed {key}")
            changed_at[key] = clock.now
            on_since[key] = clock.now if now_on else None
        if result is not None:
            key = f"a{operation[1] % len(configs)}"
            assert result.state == after[key]
            if result.accepted:
                assert after[key] == operation[2]
            else:
                assert result.reason
        if name == "tick":
            for key, since in on_since.items():
                max_on = by_key[key].max_on
                if since is not None and max_on is not None:
                    assert clock.now - since < max_on
        if link_lost:
            for key, on in after.items():
                if by_key[key].link_loss is LinkLossAction.OFF:
                    assert not on
        states = after

    bank.all_off()
    assert not any(pin_state for pin_state in (bank._actuators[key].driven for key in by_key))
