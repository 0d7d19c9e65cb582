"""Test set-up shared by the edge agent's and the integration's tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mosquitto import Mosquitto


@pytest.fixture
def sockets_allowed() -> None:
    """Let the test open sockets (to the local test broker).

    Home Assistant's test plugin blocks sockets for every test through pytest-socket; on an
    interpreter without that plugin sockets are allowed anyway.
    """
    try:
        import pytest_socket
    except ImportError:
        return
    pytest_socket.enable_socket()


@pytest.fixture
def mosquitto(
    tmp_path_factory: pytest.TempPathFactory, sockets_allowed: None
) -> Iterator[Mosquitto]:
    """A real mosquitto broker on a free 127.0.0.1 port, killed after the test."""
    broker = Mosquitto(Path(tmp_path_factory.mktemp("mosquitto")))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop(kill=True)
