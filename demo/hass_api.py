"""A small client of Home Assistant's public APIs: onboarding, auth, REST and websocket.

Only what a browser or the mobile app also uses: the onboarding HTTP API, the OAuth-like
``/auth/token`` endpoint, the REST API and websocket commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
import itertools
import json
from typing import Any, Self

import aiohttp


class HomeAssistantError(RuntimeError):
    """Home Assistant answered an API call with an error."""


class ConnectionClosedError(HomeAssistantError):
    """Home Assistant closed the websocket connection (it stops, for example)."""


@dataclass(frozen=True, slots=True)
class Login:
    """The demo's user."""

    name: str
    username: str
    password: str


class WebSocket:
    """One authenticated websocket connection: ``await ws.command("type", **fields)``."""

    def __init__(self, connection: aiohttp.ClientWebSocketResponse) -> None:
        """Wrap an authenticated connection."""
        self._connection = connection
        self._ids = itertools.count(1)

    async def command(self, message_type: str, **fields: Any) -> Any:
        """Send one command and return its result (events of other commands are skipped)."""
        message_id = next(self._ids)
        await self._connection.send_json({"id": message_id, "type": message_type, **fields})
        while True:
            frame = await self._connection.receive()
            if frame.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionClosedError(f"{message_type}: the connection closed ({frame.type})")
            message = json.loads(frame.data)
            if message.get("id") != message_id or message.get("type") != "result":
                continue
            if not message["success"]:
                raise HomeAssistantError(f"{message_type}: {message['error']}")
            return message.get("result")


class HomeAssistantClient:
    """Home Assistant at ``base_url``; the demo's user after :meth:`onboard` or :meth:`login`."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        """A client of the instance at ``base_url`` (no trailing slash)."""
        self.session = session
        self.base_url = base_url
        self.client_id = f"{base_url}/"
        self._refresh_token: str | None = None
        self._access_token: str | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, base_url: str) -> AsyncIterator[Self]:
        """A client with its own HTTP session."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            yield cls(session, base_url)

    async def is_up(self) -> bool:
        """Whether the HTTP server answers (it starts when Home Assistant has started)."""
        try:
            # Any answer will do: /api/ answers 401 without a token, once the server runs
            # (the onboarding API is gone once onboarding is done).
            async with self.session.get(
                f"{self.base_url}/api/", timeout=aiohttp.ClientTimeout(total=5)
            ) as response:
                return response.status < 500
        except aiohttp.ClientError, TimeoutError:
            return False

    async def onboarding_steps(self) -> dict[str, bool]:
        """Step name → done."""
        async with self.session.get(f"{self.base_url}/api/onboarding") as response:
            await _raise_for_status(response)
            steps: list[dict[str, Any]] = await response.json()
        return {step["step"]: step["done"] for step in steps}

    async def onboard(self, login: Login, *, core_config: dict[str, Any]) -> None:
        """Every onboarding step, as the frontend's onboarding does them, with this user."""
        async with self.session.post(
            f"{self.base_url}/api/onboarding/users",
            json={
                "client_id": self.client_id,
                "name": login.name,
                "username": login.username,
                "password": login.password,
                "language": core_config.get("language", "en"),
            },
        ) as response:
            await _raise_for_status(response)
            auth_code = (await response.json())["auth_code"]
        await self._token({"grant_type": "authorization_code", "code": auth_code})
        async with self.websocket() as ws:
            await ws.command("config/core/update", **core_config)
        await self.rest("POST", "/api/onboarding/core_config")
        await self.rest("POST", "/api/onboarding/analytics")
        await self.rest(
            "POST",
            "/api/onboarding/integration",
            {"client_id": self.client_id, "redirect_uri": f"{self.base_url}/?auth_callback=1"},
        )

    async def login(self, login: Login) -> None:
        """Log in through the login flow the login page uses."""
        flow = await self.rest(
            "POST",
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.base_url}/?auth_callback=1",
            },
            auth=False,
        )
        result = await self.rest(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": login.username, "password": login.password},
            auth=False,
        )
        if result.get("type") != "create_entry":
            raise HomeAssistantError(f"login refused: {result.get('errors')}")
        await self._token({"grant_type": "authorization_code", "code": result["result"]})

    @property
    def logged_in(self) -> bool:
        """Whether the client holds tokens."""
        return self._refresh_token is not None

    async def refresh(self) -> None:
        """A new access token from the refresh token (they live 30 minutes)."""
        if self._refresh_token is None:
            raise HomeAssistantError("not logged in")
        await self._token({"grant_type": "refresh_token", "refresh_token": self._refresh_token})

    async def _token(self, form: dict[str, str]) -> None:
        async with self.session.post(
            f"{self.base_url}/auth/token", data={**form, "client_id": self.client_id}
        ) as response:
            await _raise_for_status(response)
            tokens = await response.json()
        self._access_token = tokens["access_token"]
        self._refresh_token = tokens.get("refresh_token", self._refresh_token)

    def _headers(self) -> dict[str, str]:
        if self._access_token is None:
            raise HomeAssistantError("not logged in")
        return {"Authorization": f"Bearer {self._access_token}"}

    async def rest(self, method: str, path: str, payload: Any = None, *, auth: bool = True) -> Any:
        """One REST call; its JSON answer (None when empty)."""
        async with self.session.request(
            method,
            f"{self.base_url}{path}",
            json=payload,
            headers=self._headers() if auth else None,
        ) as response:
            await _raise_for_status(response)
            if response.content_type != "application/json":
                return None
            return await response.json()

    async def is_running(self) -> bool:
        """Whether Home Assistant's core is running (startup finished); False while not."""
        try:
            config = await self.rest("GET", "/api/config")
        except aiohttp.ClientError, HomeAssistantError:
            return False
        return bool(config["state"] == "RUNNING")

    async def restart(self) -> None:
        """Ask Home Assistant to restart (the service closes this connection as it stops)."""
        # The answer may never come: the stopping server does not always close the socket.
        with contextlib.suppress(aiohttp.ClientError, ConnectionClosedError, TimeoutError):
            async with self.websocket() as ws:
                await asyncio.wait_for(
                    ws.command("call_service", domain="homeassistant", service="restart"), 10
                )

    @contextlib.asynccontextmanager
    async def websocket(self) -> AsyncIterator[WebSocket]:
        """An authenticated websocket connection."""
        await self.refresh()
        async with self.session.ws_connect(f"{self.base_url}/api/websocket") as connection:
            hello = await connection.receive_json()
            if hello.get("type") != "auth_required":
                raise HomeAssistantError(f"unexpected websocket greeting {hello}")
            await connection.send_json({"type": "auth", "access_token": self._access_token})
            answer = await connection.receive_json()
            if answer.get("type") != "auth_ok":
                raise HomeAssistantError(f"websocket login refused: {answer}")
            yield WebSocket(connection)


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    if response.status >= 400:
        body = await response.text()
        raise HomeAssistantError(
            f"{response.method} {response.url.path}: HTTP {response.status} {body[:500]}"
        )
