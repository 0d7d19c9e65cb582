"""The agent loop: sensors → outbox → MQTT, commands → relays, link-loss fail-safe.

The loop's thread does all the work on sensors, relays and the forwarding state. Two
other threads exist: paho's network thread only hands events over a queue (see
:mod:`edge_agent.link`), and outbox pruning runs in a background thread because thinning a
large backlog takes seconds (the outbox serialises access with its lock). The loop waits
on the event queue until the next deadline (the next actuator tick, sample or
re-announcement), so it never spins.

Durations (sample interval, interlock timers, link-loss timeout) are measured on the
agent's ``clock``, which the simulator scales so that ``simulate --speed N`` runs N times
faster than real time. Reading timestamps are always the real UTC wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import functools
import logging
import queue
import random
import sqlite3
import threading
import time
from typing import Final, Protocol

from .actuators import ActuatorBank
from .config import AgentConfig
from .discovery import (
    CHECK_PROBE_ACTUATOR,
    MAX_REMOVED_COMPONENTS,
    PAYLOAD_OFF,
    PAYLOAD_OFFLINE,
    PAYLOAD_ON,
    PAYLOAD_ONLINE,
    PayloadError,
    Refusal,
    Topics,
    build_diagnostics_payload,
    build_discovery_payload,
    build_node_announcement,
    discovery_components,
    encode,
    format_timestamp,
    parse_command,
    parse_replay_request,
    stale_components,
)
from .forwarding import Forwarder
from .health import NodeHealth
from .identity import load_or_create_client_id
from .link import (
    Connected,
    ConnectionFailed,
    Disconnected,
    LinkEvent,
    Liveness,
    MessageReceived,
    MqttLink,
    PublishAcknowledged,
    StatusMessage,
    Subscription,
)
from .outbox import Outbox
from .refused import RefusedMessages
from .sensors import SensorSupervisor

_LOGGER = logging.getLogger(__name__)

#: Real seconds the first reading waits for the broker connection.
FIRST_SAMPLE_GRACE: Final = 2.0
#: Events handled in one go before the loop looks at its timers again.
MAX_EVENTS_PER_WAKEUP: Final = 1000
#: Real seconds between outbox prunes (retention and size cap).
PRUNE_PERIOD: Final = 600.0
DEFAULT_REANNOUNCE_DELAY: Final = 5.0
#: The broker must answer every request within this fraction of the link-loss timeout
#: (and is probed when it was silent that long), so that a half-open connection is given
#: up within half the timeout and the link-loss states are taken in time.
ANSWER_DEADLINE_FRACTION: Final = 0.25
#: ... but never sooner than this (real s): a busy broker may take a moment to answer.
MIN_ANSWER_DEADLINE: Final = 1.0


class ScaledClock:
    """Monotonic seconds that run ``speed`` times faster than real time."""

    def __init__(self, speed: float = 1.0, base: Callable[[], float] = time.monotonic) -> None:
        """Start at the base clock's current value."""
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._base = base
        self._origin = base()

    def __call__(self) -> float:
        """Scaled seconds."""
        return self._origin + (self._base() - self._origin) * self.speed


class World(Protocol):
    """Something that lives on the agent's clock, like the simulated tent."""

    def advance(self, now: float) -> None:
        """Bring the world up to ``now`` (agent clock seconds)."""


@dataclass(slots=True)
class AgentOptions:
    """Run-time knobs that are not part of the node's configuration."""

    clock: Callable[[], float] = time.monotonic
    #: How many times faster than real time ``clock`` runs.
    speed: float = 1.0
    #: Upper bound of the random delay before re-announcing after HA's birth (real s).
    reannounce_delay: float = DEFAULT_REANNOUNCE_DELAY
    rng: random.Random = field(default_factory=random.Random)
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Real seconds between outbox prunes (retention and size cap).
    prune_period: float = PRUNE_PERIOD
    #: MQTT client id; None: the installation's own, kept next to the outbox
    #: (see :mod:`edge_agent.identity`).
    client_id: str | None = None


class Agent:
    """One edge node: its sensors, its relays, its outbox and its MQTT link."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        sensors: Sequence[SensorSupervisor],
        bank: ActuatorBank,
        outbox: Outbox,
        read_health: Callable[[], NodeHealth],
        options: AgentOptions | None = None,
        world: World | None = None,
    ) -> None:
        """Wire the parts; nothing happens until :meth:`run`."""
        self.config = config
        self.options = options or AgentOptions()
        self.topics = Topics(config.node_id, config.discovery_prefix)
        self._sensors = tuple(sensors)
        self._bank = bank
        self._actuator_keys = bank.keys()
        self._outbox = outbox
        self._read_health = read_health
        self._world = world
        self._clock = self.options.clock
        self._events: queue.Queue[LinkEvent] = queue.Queue()
        client_id = self.options.client_id or load_or_create_client_id(
            config.outbox.path.parent, config.node_id
        )
        answer_deadline = max(
            MIN_ANSWER_DEADLINE,
            config.link_loss_timeout / self.options.speed * ANSWER_DEADLINE_FRACTION,
        )
        self.link = MqttLink(
            config.broker,
            client_id=client_id,
            events=self._events,
            will=StatusMessage(self.topics.availability, PAYLOAD_OFFLINE),
            birth=StatusMessage(self.topics.availability, PAYLOAD_ONLINE),
            subscriptions=[
                Subscription(self.topics.ha_status),
                # Commands and replay requests must never be retained: keep the flag visible.
                Subscription(self.topics.command_filter, retain_as_published=True),
                Subscription(self.topics.replay, retain_as_published=True),
                # The broker's retained copy of our own discovery tells what to remove.
                Subscription(self.topics.discovery),
            ],
            liveness=Liveness(
                answer_deadline=answer_deadline,
                probe_after=answer_deadline,
                probe_topic=self.topics.probe,
            ),
        )
        #: Real seconds between readings: what Home Assistant sees.
        self.real_sample_interval = config.sample_interval / self.options.speed
        self._component_ids = frozenset(
            discovery_components(config, sample_interval=self.real_sample_interval)
        )
        self._forwarder = Forwarder(outbox, self.topics, self.link, note_problem=self._note_error)
        self._removed_components: dict[str, str] = {}
        self._refused = RefusedMessages()
        self._stop_requested = False
        self._ha_online = True  # until Home Assistant says otherwise
        self._link_down_since: float | None = self._clock()
        self._link_lost_applied = False
        self._reannounce_at: float | None = None  # real monotonic
        self._last_error: str | None = None
        self._next_sample = 0.0  # agent clock
        self._sampled = False
        self._pruner: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    def request_stop(self) -> None:
        """Ask the loop to finish (safe to call from a signal handler)."""
        self._stop_requested = True

    @property
    def tick_period(self) -> float:
        """Real seconds between actuator ticks: at most 1 s of agent time, at most 1 s real."""
        return max(0.02, min(1.0, 1.0 / self.options.speed))

    def run(self) -> int:
        """Run until :meth:`request_stop`; shut down safely and return the exit status."""
        _LOGGER.info(
            "node %s: %d sensor(s), %d actuator(s), sample interval %.1f s, broker %s:%d",
            self.config.node_id,
            len(self._sensors),
            len(self._actuator_keys),
            self.config.sample_interval,
            self.config.broker.host,
            self.config.broker.port,
        )
        self.link.start()
        # The first reading waits (briefly) for the connection, so that it goes out live.
        self._next_sample = self._clock() + FIRST_SAMPLE_GRACE * self.options.speed
        next_tick = time.monotonic()
        next_prune = time.monotonic() + self.options.prune_period
        try:
            while not self._stop_requested:
                self._wait_for_events(min(next_tick, self._real_deadline(self._next_sample)))
                now_real = time.monotonic()
                if now_real >= next_tick:
                    next_tick = now_real + self.tick_period
                    self._guarded(self._tick)
                now = self._clock()
                if now >= self._next_sample:
                    self._sampled = True
                    self._next_sample += self.config.sample_interval
                    if self._next_sample <= now:  # fell behind (suspend, overload): no burst
                        self._next_sample = now + self.config.sample_interval
                    self._guarded(self._sample_cycle)
                if self._reannounce_at is not None and now_real >= self._reannounce_at:
                    self._reannounce_at = None
                    _LOGGER.info("Home Assistant is back: announcing again")
                    self._guarded(self._announce)
                if now_real >= next_prune:
                    next_prune = now_real + self.options.prune_period
                    self._guarded(self._start_prune)
        finally:
            self._shutdown()
        return 0

    def _guarded(self, step: Callable[[], None]) -> None:
        """Run one step of the loop; a bug or an I/O error in it must not stop the node."""
        try:
            step()
        except Exception as err:
            _LOGGER.exception("unexpected error, carrying on")
            self._note_error(f"unexpected error: {type(err).__name__}: {err}")

    def _real_deadline(self, agent_time: float) -> float:
        """The real monotonic time at which the agent clock reaches ``agent_time``."""
        return time.monotonic() + (agent_time - self._clock()) / self.options.speed

    def _wait_for_events(self, deadline: float) -> None:
        if self._reannounce_at is not None:
            deadline = min(deadline, self._reannounce_at)
        timeout = min(max(0.0, deadline - time.monotonic()), 1.0)
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            return
        self._guarded(functools.partial(self._handle, event))
        # Drain whatever else arrived, without waiting, but leave room for the periodic work.
        for _ in range(MAX_EVENTS_PER_WAKEUP):
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            self._guarded(functools.partial(self._handle, event))

    def _shutdown(self) -> None:
        _LOGGER.info("stopping: relays to their safe state")
        try:
            self._bank.all_off()
        finally:
            final = [(self.topics.actuator_state(key), PAYLOAD_OFF) for key in self._actuator_keys]
            final.append((self.topics.availability, PAYLOAD_OFFLINE))
            self.link.stop(final)
            self._guarded(self._record_last_acknowledgements)
            if self._pruner is not None:
                self._pruner.join()
            self._outbox.close()
            _LOGGER.info("stopped")

    def _record_last_acknowledgements(self) -> None:
        """Mark sent what the broker acknowledged while the agent was stopping.

        The broker acknowledges in order, and the stop waits for the acknowledgements of
        the final messages, so those of the readings sent before them are queued by now.
        """
        self._forwarder.link_down()  # nothing more is sent
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, PublishAcknowledged):
                self._forwarder.acknowledged(event.mid)

    # ------------------------------------------------------------------ events

    def _handle(self, event: LinkEvent) -> None:
        match event:
            case Connected():
                self._on_connected()
            case Disconnected(reason=reason):
                self._forwarder.link_down()
                self._note_error(f"broker connection lost: {reason}")
                self._update_link_state()
            case ConnectionFailed(reason=reason):
                # Already logged by the link (rate-limited); kept for the diagnostics.
                self._forwarder.link_down()
                self._last_error = f"{format_timestamp(self.options.wall_clock())} {reason}"
                self._update_link_state()
            case MessageReceived(topic=topic, payload=payload, retained=retained):
                self._on_message(topic, payload, retained=retained)
            case PublishAcknowledged(mid=mid):
                self._forwarder.acknowledged(mid)

    def _on_connected(self) -> None:
        self._forwarder.link_up()
        if not self._sampled:
            self._next_sample = self._clock()
        self._announce()
        self._update_link_state()
        self._forwarder.pump()

    def _announce(self) -> None:
        """Discovery, node announcement, availability and every relay state."""
        discovery = build_discovery_payload(
            self.config,
            sample_interval=self.real_sample_interval,
            removed=self._removed_components,
        )
        self.link.publish(self.topics.discovery, encode(discovery), retain=True)
        announcement = build_node_announcement(
            self.config, sample_interval=self.real_sample_interval
        )
        self.link.publish(self.topics.node, encode(announcement), retain=True)
        self.link.publish(self.topics.availability, PAYLOAD_ONLINE, retain=True)
        for key in self._actuator_keys:
            self._publish_actuator_state(key)

    def _on_message(self, topic: str, payload: bytes, *, retained: bool) -> None:
        if topic == self.topics.ha_status:
            self._on_ha_status(payload, retained=retained)
        elif topic == self.topics.replay:
            self._on_replay_request(payload, retained=retained)
        elif topic == self.topics.discovery:
            self._on_own_discovery(payload)
        elif (key := self.topics.actuator_from_command_topic(topic)) is not None:
            self._on_command(key, payload, retained=retained)

    def _on_ha_status(self, payload: bytes, *, retained: bool) -> None:
        status = payload.decode("utf-8", errors="replace").strip()
        if status == PAYLOAD_ONLINE:
            self._ha_online = True
            if not retained:
                # A fleet of nodes must not answer Home Assistant's birth all at once.
                delay = self.options.rng.uniform(0.0, self.options.reannounce_delay)
                self._reannounce_at = time.monotonic() + delay
        elif status == PAYLOAD_OFFLINE:
            _LOGGER.warning("Home Assistant announced itself offline")
            self._ha_online = False
        else:
            self._refused.count(Refusal.HA_STATUS_UNKNOWN)
            _LOGGER.warning("ignoring unknown Home Assistant status %r", status[:40])
        self._update_link_state()

    def _on_own_discovery(self, payload: bytes) -> None:
        """Remove components the broker still retains but the config no longer has.

        At most MAX_REMOVED_COMPONENTS are held (and sent as removals), whatever arrives.
        """
        try:
            stale = stale_components(payload, self._component_ids, node_id=self.config.node_id)
        except PayloadError as err:
            self._refused.count(err.refusal)
            _LOGGER.warning("ignoring a message on %s: %s", self.topics.discovery, err)
            return
        new = sorted(key for key in stale if key not in self._removed_components)
        room = MAX_REMOVED_COMPONENTS - len(self._removed_components)
        if len(new) > room:
            self._refused.count(Refusal.DISCOVERY_TOO_MANY_REMOVALS)
            _LOGGER.warning(
                "not removing %d more component(s) from Home Assistant: at most %d at a time",
                len(new) - room,
                MAX_REMOVED_COMPONENTS,
            )
            new = new[:room]
        if not new:
            return
        _LOGGER.info("removing from Home Assistant: %s", ", ".join(new))
        self._removed_components.update((key, stale[key]) for key in new)
        discovery = build_discovery_payload(
            self.config,
            sample_interval=self.real_sample_interval,
            removed=self._removed_components,
        )
        self.link.publish(self.topics.discovery, encode(discovery), retain=True)

    def _on_command(self, key: str, payload: bytes, *, retained: bool) -> None:
        if key == CHECK_PROBE_ACTUATOR:
            _LOGGER.debug("command topic probe of rala-edge check received")
            return
        if key not in self._actuator_keys:
            self._refused.count(Refusal.COMMAND_UNKNOWN_ACTUATOR)
            self._note_error(f"command for unknown actuator {key!r} ignored")
            return
        try:
            on = parse_command(payload, retained=retained, now=self.options.wall_clock())
        except PayloadError as err:
            self._refused.count(err.refusal)
            self._note_error(f"{key}: {err}")
            return
        result = self._bank.command(key, on)
        if result.accepted:
            _LOGGER.info("%s %s", key, "on" if result.state else "off")
        else:
            self._refused.count(Refusal.COMMAND_NOT_ALLOWED)
            _LOGGER.warning("%s: %s refused: %s", key, "ON" if on else "OFF", result.reason)
        # Always answer with the pin read back, so Home Assistant shows what really happened.
        self._publish_actuator_state(key)

    def _on_replay_request(self, payload: bytes, *, retained: bool) -> None:
        if retained:
            self._refused.count(Refusal.REPLAY_RETAINED)
            _LOGGER.warning("ignoring a retained replay request")
            return
        try:
            request = parse_replay_request(payload)
        except PayloadError as err:
            self._refused.count(err.refusal)
            self._note_error(str(err))
            return
        if not self._forwarder.request_replay(request):
            self._refused.count(Refusal.REPLAY_QUEUE_FULL)
            self._note_error(f"replay request {request.request_id!r} refused: too many queued")

    # ------------------------------------------------------------------ periodic work

    def _tick(self) -> None:
        if self._world is not None:
            self._world.advance(self._clock())
        for key in self._bank.tick():
            self._publish_actuator_state(key)
        self._check_liveness()
        self._update_link_state()
        self._forwarder.expire_unacknowledged()

    def _check_liveness(self) -> None:
        """Give up a connection whose broker stopped answering (half-open TCP).

        The link counts as lost since the broker's last answer, so the link-loss states are
        taken ``link_loss_timeout`` after it, not only once TCP notices.
        """
        last_heard = self.link.check_liveness()
        if last_heard is None:
            return
        silent = max(0.0, time.monotonic() - last_heard)
        self._forwarder.link_down()
        since = self._clock() - silent * self.options.speed
        if self._link_down_since is None or since < self._link_down_since:
            self._link_down_since = since
        self._note_error(f"broker not answering for {silent:.0f} s: reconnecting")

    def _update_link_state(self) -> None:
        """Apply the link-loss fail-safe when the link has been down for too long."""
        now = self._clock()
        connected = self._forwarder.connected
        if connected and self._ha_online:
            self._link_down_since = None
            if self._link_lost_applied:
                _LOGGER.info("link restored")
                self._link_lost_applied = False
                self._bank.link_restored()
            return
        if self._link_down_since is None:
            self._link_down_since = now
        if (
            not self._link_lost_applied
            and now - self._link_down_since >= self.config.link_loss_timeout
        ):
            self._link_lost_applied = True
            why = "Home Assistant offline" if connected else "broker unreachable"
            self._note_error(
                f"link lost ({why} for {self.config.link_loss_timeout:.0f} s): "
                "actuators to their link-loss state"
            )
            for key in self._bank.link_lost():
                self._publish_actuator_state(key)

    def _sample_cycle(self) -> None:
        parts: list[str] = []
        for supervisor in self._sensors:
            reading = supervisor.poll()
            if reading is None:
                if supervisor.last_error:
                    self._last_error = supervisor.last_error
                parts.append(f"{supervisor.key} skipped ({supervisor.last_error or 'no reading'})")
                continue
            try:
                stored = self._outbox.append(reading)
            except (sqlite3.Error, OSError, ValueError, RuntimeError) as err:
                self._note_error(f"outbox append failed: {err}")
                continue
            self._forwarder.send_live(stored)
            parts.append(
                f"{reading.sensor} {reading.temperature:.1f} °C {reading.humidity:.1f} % "
                f"{reading.pressure:.1f} hPa seq={stored.seq}"
            )
        # Readings waiting only for their PUBACK are not a backlog.
        depth = max(0, self._outbox.depth() - self._forwarder.awaiting_acknowledgement)
        refused = f" refused={self._refused.total}" if self._refused.total else ""
        _LOGGER.info("%s outbox=%d%s", "; ".join(parts) or "no sensors", depth, refused)
        self._publish_diagnostics(depth)

    def _publish_diagnostics(self, depth: int) -> None:
        if not self._forwarder.connected:
            return
        try:
            health = self._read_health()
        except OSError as err:
            self._note_error(f"reading node health failed: {err}")
            return
        payload = build_diagnostics_payload(
            cpu_temperature=health.cpu_temperature,
            disk_free=health.disk_free,
            uptime=health.uptime,
            wifi_signal=health.wifi_signal,
            outbox_depth=depth,
            last_error=self._last_error,
            refused=self._refused.by_reason(),
        )
        self.link.publish(self.topics.diagnostics, encode(payload))

    def _publish_actuator_state(self, key: str) -> None:
        state = PAYLOAD_ON if self._bank.state(key) else PAYLOAD_OFF
        self.link.publish(self.topics.actuator_state(key), state, retain=True)

    def _start_prune(self) -> None:
        """Prune the outbox in a background thread, one prune at a time.

        Thinning a large backlog takes seconds on a Pi; meanwhile the loop must keep
        sampling, ticking the relays and answering commands.
        """
        if self._pruner is not None and self._pruner.is_alive():
            return
        self._pruner = threading.Thread(target=self._prune, name="outbox-prune", daemon=True)
        self._pruner.start()

    def _prune(self) -> None:
        try:
            self._outbox.prune()
        except Exception as err:  # noqa: BLE001 - a failed prune must not stop the agent
            self._note_error(f"outbox prune failed: {err}")

    def _note_error(self, message: str) -> None:
        _LOGGER.warning("%s", message)
        self._last_error = f"{format_timestamp(self.options.wall_clock())} {message}"
