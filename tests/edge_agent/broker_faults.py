"""Faults of a real mosquitto for tests: a broker frozen with SIGSTOP.

A stopped broker keeps every TCP connection open (the kernel still acknowledges what is
sent to it and even accepts new connections into the listen backlog) but answers
nothing: a half-open link, as a hung broker, a NAT or a Wi-Fi router that forgot the
connection would leave it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import os
import signal

from tests.mosquitto import Mosquitto


def broker_pid(broker: Mosquitto) -> int:
    """The process id of the running broker."""
    process = broker._process  # tests/mosquitto.py keeps its child process to itself
    if process is None or process.poll() is not None:
        raise RuntimeError("mosquitto is not running")
    return process.pid


@contextmanager
def frozen(broker: Mosquitto) -> Iterator[None]:
    """The broker stopped (SIGSTOP) inside the block, continued (SIGCONT) after it."""
    pid = broker_pid(broker)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
