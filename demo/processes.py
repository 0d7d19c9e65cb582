"""Child processes of the demo: started in their own session, never outliving the demo.

Each child gets its own session, so a Ctrl-C in the terminal reaches only the demo, which
then stops the children in order (agents, Home Assistant, broker). Each child also asks
the kernel for SIGTERM when the demo dies, so even a killed demo leaves nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import ctypes
import os
from pathlib import Path
import shutil
import signal
import socket
import time

_PR_SET_PDEATHSIG = 1


def _terminate_with_parent() -> None:  # pragma: no cover - runs in the child
    """preexec_fn: SIGTERM this process when the demo (its parent) exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for_port(port: int, timeout: float, process: ChildProcess | None = None) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections (while ``process`` lives)."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and not process.running:
            raise RuntimeError(f"{process.name} exited before listening on port {port}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


class ChildProcess:
    """One child process with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_file: Path,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Describe the process; :meth:`start` starts it."""
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self.cwd = cwd
        self.env = env
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        """Start the process (output appended to the log file)."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
                preexec_fn=_terminate_with_parent,
            )

    async def wait(self) -> int:
        """Wait for the process to exit; its exit code."""
        if self._process is None:
            raise RuntimeError(f"{self.name} was not started")
        return await self._process.wait()

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code (None if not started)."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            try:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), timeout)
            except ProcessLookupError:
                pass
            except TimeoutError:
                process.kill()
                await process.wait()
        return process.returncode


def find_mosquitto() -> str:
    """The mosquitto executable (Debian installs it in /usr/sbin, outside a user's PATH)."""
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("mosquitto")
    if found is None:
        raise RuntimeError("mosquitto is not installed: run scripts/setup")
    return found


def mosquitto_process(directory: Path, port: int) -> ChildProcess:
    """An anonymous broker on 127.0.0.1:``port``, no persistence, configured in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence false",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    if os.geteuid() == 0:
        # Started as root, mosquitto would switch to its own user, which cannot read here.
        lines.append("user root")
    config = directory / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ChildProcess(
        "mosquitto", [find_mosquitto(), "-c", str(config)], directory / "mosquitto.log"
    )
