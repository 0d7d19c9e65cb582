"""A real mosquitto broker for tests: free port on 127.0.0.1, generated config, stop/restart.

Tests never mock paho or the broker. This helper starts ``mosquitto`` as a child process
with its own config file in a temporary directory, waits until the port accepts
connections, and can stop (politely or with SIGKILL) and restart it on the same port so
tests can simulate outages.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import time

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str:
    """Return the mosquitto executable, or raise if it is not installed."""
    for candidate in MOSQUITTO_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("mosquitto")
    if found is None:
        raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
    return found


@dataclass(frozen=True, slots=True)
class BrokerPki:
    """A throw-away certificate authority and a server certificate for 127.0.0.1."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_test_pki(directory: Path) -> BrokerPki:
    """Create a CA and a server certificate (CN and SAN 127.0.0.1) with the openssl CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    extensions = directory / "server.ext"
    extensions.write_text("subjectAltName = IP:127.0.0.1\n", encoding="utf-8")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_cert),
        "-subj",
        "/CN=RALA test CA",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_cert),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        str(cert),
        "-extfile",
        str(extensions),
    )
    return BrokerPki(ca_cert=ca_cert, server_cert=cert, server_key=key)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Mosquitto:
    """One mosquitto broker on ``127.0.0.1:port``, configured from a file in ``directory``."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        users: dict[str, str] | None = None,
        tls: BrokerPki | None = None,
        persistent: bool = False,
        acl: str | None = None,
    ) -> None:
        """Write the config: anonymous access, or only ``users`` (name → password); TLS
        with the certificates of ``tls`` when given. ``persistent`` keeps retained
        messages and client sessions across a restart (in ``directory``). ``acl`` is the
        text of a mosquitto ACL file (``user <name>`` then ``topic read|write|readwrite
        <filter>`` lines, ``pattern`` lines with ``%u``/``%c``): with it, every login may
        use only the topics it grants; without it, every topic is open."""
        self.directory = directory
        self.port = port if port is not None else free_port()
        self.host = "127.0.0.1"
        self.config_file = directory / "mosquitto.conf"
        self.log_file = directory / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'false' if users else 'true'}",
            f"persistence {'true' if persistent else 'false'}",
            f"persistence_location {directory}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            # Run as root, mosquitto would switch to the "mosquitto" user, which cannot
            # read the password file and certificates in the test's private directory.
            lines.append("user root")
        if users:
            password_file = directory / "passwords"
            password_file.touch(mode=0o600)
            for name, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(password_file), name, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            lines.append(f"password_file {password_file}")
        if tls is not None:
            lines += [
                f"cafile {tls.ca_cert}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
            ]
        if acl is not None:
            acl_file = directory / "acl"
            acl_file.write_text(acl, encoding="utf-8")
            lines.append(f"acl_file {acl_file}")
        self.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @property
    def url(self) -> str:
        """``mqtt://host:port`` as the agent's ``--broker`` option takes it."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until its port accepts connections."""
        if self.running:
            raise RuntimeError("mosquitto is already running")
        deadline = time.monotonic() + timeout
        while True:
            with self.log_file.open("ab") as log:
                self._process = subprocess.Popen(
                    [find_mosquitto(), "-c", str(self.config_file)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_until_accepting(deadline):
                return
            # The port may still be held by the previous instance (TIME_WAIT is fine, a
            # lingering listener is not): try again until the deadline.
            self._terminate(signal.SIGKILL)
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"mosquitto did not start on port {self.port}: "
                    + self.log_file.read_text(encoding="utf-8", errors="replace")[-2000:]
                )
            time.sleep(0.2)

    def _wait_until_accepting(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self, *, kill: bool = False) -> None:
        """Stop the broker: SIGTERM (clean) or SIGKILL (crash); wait until it is gone."""
        self._terminate(signal.SIGKILL if kill else signal.SIGTERM)

    def _terminate(self, sig: signal.Signals) -> None:
        process = self._process
        self._process = None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()
