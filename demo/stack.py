"""The demo stack: mosquitto, Home Assistant (newest release) and simulated RALA nodes.

Everything runs on 127.0.0.1 on free ports, from a work directory that is wiped and made
anew for every run. Home Assistant is set up only through its public APIs, as a person
would in the browser: onboarding, the MQTT integration's config flow, the RALA discovery
flows the node announcements start, and a dashboard whose config is RALA's strategy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
import sys
import time
from types import TracebackType
from typing import Any, Self

from .hass_api import HomeAssistantClient, Login
from .processes import ChildProcess, free_port, mosquitto_process, wait_for_port
from .requirements import missing_requirements

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "custom_components" / "rala"
EDGE_AGENT = ROOT / ".venv-edge" / "bin" / "rala-edge"

LOGIN = Login(name="Demo", username="demo", password="rala-demo")
DASHBOARD_URL_PATH = "rala-grow"
DASHBOARD = {"url_path": DASHBOARD_URL_PATH, "title": "Grow", "icon": "mdi:sprout"}
DASHBOARD_CONFIG = {"strategy": {"type": "custom:rala"}}
# Home Assistant's own defaults for a new instance (its default home is in Amsterdam),
# with the country set, so no "country not configured" repair issue is raised.
CORE_CONFIG = {
    "country": "NL",
    "currency": "EUR",
    "language": "en",
    "time_zone": "Europe/Amsterdam",
    "unit_system": "metric",
}
# The integrations the demo configures; Home Assistant adds its always-loaded ones. Not
# default_config: several of its integrations build C extensions or download at run time.
CONFIGURED_INTEGRATIONS = ("config", "frontend", "history", "logbook", "lovelace", "recorder")
HASS_RESTART_EXIT_CODE = 100  # what `hass` exits with when a restart is asked for
TENTS = ("Flower tent", "Veg tent", "Mother tent", "Clone tent")
START_TIMEOUT = 300.0  # seconds: a cold first start on a busy 2-core machine is slow


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What to run."""

    workdir: Path
    tents: int = 1
    speed: float = 10.0  # simulated seconds per real second
    interval: float = 30.0  # simulated seconds between two readings


@dataclass(frozen=True, slots=True)
class Node:
    """One simulated RALA node (one tent)."""

    node_id: str
    name: str
    zone: str


def nodes(count: int) -> list[Node]:
    """The demo's nodes: one per tent."""
    if not 1 <= count <= len(TENTS):
        raise ValueError(f"--tents must be between 1 and {len(TENTS)}, got {count}")
    return [
        Node(node_id=zone.lower().replace(" ", "-"), name=f"{zone} Pi", zone=zone)
        for zone in TENTS[:count]
    ]


def configuration_yaml(http_port: int | None) -> str:
    """``configuration.yaml``; with ``http_port``, the ``http:`` block of the first start.

    Home Assistant 2026.11 migrates a YAML ``http:`` block into its storage once, as a
    *pending* configuration that reverts (with a restart) after 5 minutes unless it is
    confirmed, and raises a "YAML is deprecated" repair issue while the block is there.
    Without the block, the first start binds every interface (0.0.0.0), which the demo
    must not. So the first start has the block (127.0.0.1 and a free port), the demo
    confirms it with the websocket command ``http/config/promote`` (what the UI's
    confirmation calls), removes the block and restarts Home Assistant: from then on the
    confirmed configuration is the stored one and no repair issue is left.
    """
    lines = [
        "# Written by scripts/demo; the whole directory is made anew on every run.",
        "homeassistant:",
        "  name: RALA demo",
        *(f"{domain}:" for domain in CONFIGURED_INTEGRATIONS),
        "logger:",
        "  default: info",
    ]
    if http_port is not None:
        lines += ["http:", "  server_host: 127.0.0.1", f"  server_port: {http_port}"]
    return "\n".join(lines) + "\n"


def agent_config_yaml(node: Node, broker_port: int) -> str:
    """The simulated node's configuration (the default simulated tent, named per tent)."""
    actuators = [
        ("heater", "Heater", "heater", "D17"),
        ("humidifier", "Humidifier", "humidifier", "D27"),
        ("dehumidifier", "Dehumidifier", "dehumidifier", "D22"),
        ("exhaust_fan", "Exhaust fan", "exhaust_fan", "D23"),
        ("light", "Light", "light", "D24"),
    ]
    config: dict[str, Any] = {
        "node_id": node.node_id,
        "name": node.name,
        "broker": {"host": "127.0.0.1", "port": broker_port},
        "sensors": [{"key": "canopy", "name": "Canopy", "zone": node.zone}],
        "actuators": [
            {"key": key, "name": name, "kind": kind, "pin": pin, "zone": node.zone}
            for key, name, kind, pin in actuators
        ],
    }
    return json.dumps(config, indent=2) + "\n"  # JSON is YAML


async def until[T](what: str, probe: Callable[[], Any], timeout: float) -> T:
    """Poll the coroutine function ``probe`` until it returns something other than None."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value is not None:
            result: T = value
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


class DemoStack:
    """``async with DemoStack(options) as stack:`` — everything up, the dashboard ready."""

    def __init__(self, options: DemoOptions, log: Callable[[str], None] | None = None) -> None:
        """Plan the stack in ``options.workdir`` (wiped when the stack starts)."""
        self.options = options
        self.nodes = nodes(options.tents)
        self.workdir = options.workdir
        self.config_dir = options.workdir / "config"
        self.login = LOGIN
        self.http_port = free_port()
        self.broker_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.dashboard_url = f"{self.url}/{DASHBOARD_URL_PATH}"
        self.ready_after: float | None = None  # seconds from start to a ready dashboard
        self.hass_version = ""
        self._log = log or (lambda _message: None)
        self._broker = ChildProcess("mosquitto", [], self.workdir / "mosquitto.log")
        self._agents: list[ChildProcess] = []
        self._hass: ChildProcess | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._boots = 0
        self._exited: asyncio.Event = asyncio.Event()
        self._client_cm: contextlib.AbstractAsyncContextManager[HomeAssistantClient] | None = None
        self.client: HomeAssistantClient | None = None
        self.zone_entry_ids: list[str] = []

    # --- life cycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Start everything; on any failure, stop what was started and re-raise."""
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop everything."""
        await self.stop()

    async def start(self) -> None:
        """Bring the stack up; returns when the dashboard is ready."""
        started = time.monotonic()
        missing = missing_requirements()
        if missing:
            raise RuntimeError(
                "Home Assistant's integrations need packages that are not installed "
                f"(run scripts/setup): {', '.join(missing)}"
            )
        self._prepare_workdir()
        self._log(f"broker on 127.0.0.1:{self.broker_port}")
        self._broker = mosquitto_process(self.workdir / "mosquitto", self.broker_port)
        await self._broker.start()
        await wait_for_port(self.broker_port, 10, self._broker)
        for node in self.nodes:
            await self._start_agent(node)

        self._write_configuration(first_start=True)
        self._log(f"Home Assistant (first start) on {self.url}")
        self._supervisor = asyncio.create_task(self._supervise_hass(), name="hass supervisor")
        self._client_cm = HomeAssistantClient.connect(self.url)
        self.client = client = await self._client_cm.__aenter__()
        await self._wait_until_up(client)
        await client.onboard(self.login, core_config=CORE_CONFIG)
        await self._wait_until_up(client)
        self._log("onboarded; confirming the HTTP configuration")
        await self._confirm_http_config(client)

        self._write_configuration(first_start=False)
        boots = self._boots
        await client.restart()
        await until("Home Assistant to restart", self._booted_after(boots), START_TIMEOUT)
        await self._wait_until_up(client)
        self._log("Home Assistant restarted; setting up MQTT")

        await self._set_up_mqtt(client)
        self.zone_entry_ids = await self._confirm_discovered_zones(client)
        await self._start_climate_control(client)
        await self._create_dashboard(client)
        self.hass_version = (await client.rest("GET", "/api/config"))["version"]
        self.ready_after = time.monotonic() - started

    async def stop(self) -> None:
        """Stop the agents, Home Assistant and the broker, in that order."""
        self._stopping = True
        for agent in self._agents:
            await agent.stop(timeout=15)
        if self._hass is not None:
            await self._hass.stop(timeout=60)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        if self._client_cm is not None:
            await self._client_cm.__aexit__(None, None, None)
            self._client_cm = None
            self.client = None
        await self._broker.stop(timeout=10)

    @property
    def pids(self) -> list[int]:
        """Process ids of every child that was started (running or not)."""
        children = [self._broker, *self._agents, *([self._hass] if self._hass else [])]
        return [pid for child in children if (pid := child.pid) is not None]

    async def wait_for_failure(self) -> str:
        """Return (a reason) when Home Assistant or an agent exits on its own."""
        watchers: list[asyncio.Task[Any]] = [asyncio.create_task(self._exited.wait())]
        watchers += [asyncio.create_task(agent.wait()) for agent in self._agents]
        watchers.append(asyncio.create_task(self._broker.wait()))
        try:
            await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for watcher in watchers:
                watcher.cancel()
        if self._exited.is_set():
            return f"Home Assistant exited (log: {self.hass_log})"
        for agent in self._agents:
            if not agent.running:
                return f"{agent.name} exited (log: {agent.log_file})"
        return f"mosquitto exited (log: {self._broker.log_file})"

    @property
    def hass_log(self) -> Path:
        """Home Assistant's log of the current start."""
        return self.config_dir / "home-assistant.log"

    def hass_logs(self) -> list[Path]:
        """Home Assistant's logs of every start of this run, oldest first."""
        earlier = sorted(self.config_dir.glob("home-assistant.start-*.log"))
        return [*earlier, *([self.hass_log] if self.hass_log.exists() else [])]

    # --- the parts -------------------------------------------------------------------------

    def _prepare_workdir(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.config_dir / "custom_components").mkdir(parents=True)
        # A link, not a copy: the demo runs the checkout's integration as it is.
        (self.config_dir / "custom_components" / "rala").symlink_to(INTEGRATION)

    def _write_configuration(self, *, first_start: bool) -> None:
        (self.config_dir / "configuration.yaml").write_text(
            configuration_yaml(self.http_port if first_start else None), encoding="utf-8"
        )

    async def _start_agent(self, node: Node) -> None:
        directory = self.workdir / "agents" / node.node_id
        directory.mkdir(parents=True)
        config = directory / "config.yaml"
        config.write_text(agent_config_yaml(node, self.broker_port), encoding="utf-8")
        agent = ChildProcess(
            f"rala-edge {node.node_id}",
            [
                str(EDGE_AGENT),
                "simulate",
                "--config",
                str(config),
                "--speed",
                str(self.options.speed),
                "--interval",
                str(self.options.interval),
                "--seed",
                str(len(self._agents)),
                "--announce-delay",
                "1",
                "--state-dir",
                str(directory / "state"),
            ],
            directory / "agent.log",
        )
        self._log(f"simulated node {node.node_id} ({node.zone})")
        await agent.start()
        self._agents.append(agent)

    async def _supervise_hass(self) -> None:
        """Run ``hass``; start it again when it exits for a restart (as its runner would)."""
        hass = Path(sys.executable).with_name("hass")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        while not self._stopping:
            if self.hass_log.exists():
                # Keep each start's log: Home Assistant keeps only the one before.
                self.hass_log.rename(self.config_dir / f"home-assistant.start-{self._boots}.log")
            self._hass = ChildProcess(
                "Home Assistant",
                [str(hass), "--config", str(self.config_dir), "--skip-pip"],
                self.workdir / "hass.out",
                cwd=self.workdir,
                env=env,
            )
            await self._hass.start()
            self._boots += 1
            code = await self._hass.wait()
            if code != HASS_RESTART_EXIT_CODE:
                break
        self._exited.set()

    def _booted_after(self, boots: int) -> Callable[[], Any]:
        async def probe() -> bool | None:
            if self._exited.is_set():
                raise RuntimeError(f"Home Assistant exited; see {self.hass_log}")
            return True if self._boots > boots else None

        return probe

    async def _wait_until_up(self, client: HomeAssistantClient) -> None:
        """Wait for the HTTP server, then (once logged in) for the end of the startup.

        The HTTP server answers before the startup has finished; a restart asked for
        then is ignored by Home Assistant, so everything waits for the running state.
        """

        async def probe(check: Callable[[], Awaitable[bool]]) -> bool | None:
            if self._exited.is_set():
                raise RuntimeError(f"Home Assistant exited; see {self.hass_log}")
            return True if await check() else None

        await until("Home Assistant's HTTP server", lambda: probe(client.is_up), START_TIMEOUT)
        if client.logged_in:
            await until("Home Assistant's startup", lambda: probe(client.is_running), START_TIMEOUT)

    async def _confirm_http_config(self, client: HomeAssistantClient) -> None:
        async with client.websocket() as ws:
            config = await ws.command("http/config")
            pending = config.get("pending") or {}
            if pending.get("server_host") != ["127.0.0.1"] or (
                pending.get("server_port") != self.http_port
            ):
                raise RuntimeError(f"unexpected pending HTTP configuration: {config}")
            await ws.command("http/config/promote")

    async def _set_up_mqtt(self, client: HomeAssistantClient) -> None:
        flow = await client.rest("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        if flow.get("step_id") != "broker":
            raise RuntimeError(f"unexpected MQTT config flow step: {flow}")
        result = await client.rest(
            "POST",
            f"/api/config/config_entries/flow/{flow['flow_id']}",
            # The form's "other settings" section: no TLS (a loopback broker).
            {
                "broker": "127.0.0.1",
                "port": self.broker_port,
                "other_settings": {"set_client_cert": False, "set_ca_cert": "off"},
            },
        )
        if result.get("type") != "create_entry":
            raise RuntimeError(f"the MQTT integration was not set up: {result}")

    async def _confirm_discovered_zones(self, client: HomeAssistantClient) -> list[str]:
        """Confirm the RALA flow of each node's announcement; the zones' entry ids."""
        wanted = {f"{node.node_id}_{node.zone.lower().replace(' ', '_')}" for node in self.nodes}
        confirmed: dict[str, str] = {}

        async def discovered() -> list[dict[str, Any]] | None:
            async with client.websocket() as ws:
                flows = await ws.command("config_entries/flow/progress")
            ours = [
                flow
                for flow in flows
                if flow["handler"] == "rala"
                and flow["context"].get("unique_id") in wanted - confirmed.keys()
            ]
            return ours or None

        while len(confirmed) < len(wanted):
            flows: list[dict[str, Any]] = await until(
                "the nodes' announcements to start RALA flows", discovered, START_TIMEOUT
            )
            for flow in flows:
                unique_id = flow["context"]["unique_id"]
                confirmed[unique_id] = await self._finish_flow(client, flow["flow_id"])
                self._log(f"zone {flow['context'].get('title_placeholders', {}).get('name')}")
        return list(confirmed.values())

    async def _finish_flow(self, client: HomeAssistantClient, flow_id: str) -> str:
        """Submit the confirmation form, follow the progress step; the created entry's id.

        While the flow waits for the node's MQTT entities it shows a progress step; reading
        the flow (GET, as the frontend does on a progress event) moves it on when done.
        """
        path = f"/api/config/config_entries/flow/{flow_id}"
        result = await client.rest("POST", path, {})

        async def finished() -> str | None:
            nonlocal result
            if result["type"] == "create_entry":
                entry_id: str = result["result"]["entry_id"]
                return entry_id
            if result["type"] not in ("progress", "progress_done"):
                raise RuntimeError(f"the RALA discovery flow did not create a zone: {result}")
            result = await client.rest("GET", path)
            return None

        return await until("the zone's config entry", finished, START_TIMEOUT)

    async def _start_climate_control(self, client: HomeAssistantClient) -> None:
        """Every zone's climate entity in its most capable mode, as a grower would set it."""
        async with client.websocket() as ws:
            zones = (await ws.command("rala/zones"))["zones"]
            for zone in zones:
                climate = zone["entities"]["climate"]
                modes = (await client.rest("GET", f"/api/states/{climate}"))["attributes"][
                    "hvac_modes"
                ]
                await ws.command(
                    "call_service",
                    domain="climate",
                    service="set_hvac_mode",
                    service_data={"entity_id": climate, "hvac_mode": modes[-1]},
                )

    async def _create_dashboard(self, client: HomeAssistantClient) -> None:
        async with client.websocket() as ws:
            await ws.command("lovelace/dashboards/create", show_in_sidebar=True, **DASHBOARD)
            await ws.command(
                "lovelace/config/save", url_path=DASHBOARD_URL_PATH, config=DASHBOARD_CONFIG
            )
