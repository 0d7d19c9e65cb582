"""Health of the node itself: CPU temperature, free disk, uptime, Wi-Fi signal.

Everything is read from the kernel's files under ``root`` (``/`` on the node), so that a
value the machine does not offer (no thermal zone, wired network) is simply ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import logging
import math
from pathlib import Path
import shutil
import time

__all__ = ["NodeHealth", "read_health"]

_LOGGER = logging.getLogger(__name__)

_CPU_TEMPERATURE = Path("sys/class/thermal/thermal_zone0/temp")
_UPTIME = Path("proc/uptime")
_WIRELESS = Path("proc/net/wireless")
_WIRELESS_HEADER_LINES = 2


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """A snapshot of the node's health; None where the node cannot tell."""

    cpu_temperature: float | None  # °C
    disk_free: float | None  # GB free on the outbox's file system
    uptime: float  # s since boot
    wifi_signal: int | None  # dBm


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def cpu_temperature(root: Path = Path("/")) -> float | None:
    """SoC temperature in °C from thermal zone 0 (the kernel reports millidegrees)."""
    text = _read_text(root / _CPU_TEMPERATURE)
    if text is None:
        return None
    try:
        return int(text.strip()) / 1000
    except ValueError:
        return None


def disk_free(path: Path) -> float | None:
    """GB free on the file system holding ``path`` (or its nearest existing parent)."""
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free / 1e9
        except OSError:
            continue  # not created yet: ask its parent
    return None  # not even the root or working directory could be asked


def uptime(root: Path = Path("/"), monotonic: Callable[[], float] = time.monotonic) -> float:
    """Seconds since boot from ``/proc/uptime``.

    Falls back to the monotonic clock, which on Linux also counts from boot.
    """
    text = _read_text(root / _UPTIME)
    if text is not None:
        try:
            seconds = float(text.split()[0])
        except (IndexError, ValueError):
            pass
        else:
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    return monotonic()


def wifi_signal(root: Path = Path("/")) -> int | None:
    """Signal level in dBm of the first wireless interface, None without Wi-Fi.

    ``/proc/net/wireless`` has two header lines, then per interface:
    ``wlan0: 0000   70.  -40.  -256 ...`` (status, link quality, level, noise, ...).
    Drivers that report the level as an unsigned byte (e.g. ``216.``) mean ``216 - 256``.
    """
    text = _read_text(root / _WIRELESS)
    if text is None:
        return None
    for line in text.splitlines()[_WIRELESS_HEADER_LINES:]:
        _, separator, values = line.partition(":")
        fields = values.split()
        if not separator or len(fields) < 3:
            continue
        try:
            level = round(float(fields[2].rstrip(".")))
        except ValueError:
            continue
        return level - 256 if level > 0 else level
    return None


def read_health(
    outbox_path: Path,
    *,
    root: Path = Path("/"),
    monotonic: Callable[[], float] = time.monotonic,
) -> NodeHealth:
    """Read every health value; ``root`` is where ``/sys`` and ``/proc`` are found."""
    return NodeHealth(
        cpu_temperature=cpu_temperature(root),
        disk_free=disk_free(outbox_path),
        uptime=uptime(root, monotonic),
        wifi_signal=wifi_signal(root),
    )
