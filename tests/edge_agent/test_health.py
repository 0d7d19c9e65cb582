"""Node health read from a fake root directory laid out like /sys and /proc."""

from __future__ import annotations

from pathlib import Path
import shutil

import pytest

from edge_agent.health import NodeHealth, read_health

WIRELESS = """\
Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
{lines}"""


def make_root(
    tmp_path: Path,
    *,
    thermal: str | None = None,
    uptime: str | None = None,
    wireless: str | None = None,
) -> Path:
    """A directory with the given kernel files (None: the file does not exist)."""
    root = tmp_path / "root"
    root.mkdir()
    files = {
        "sys/class/thermal/thermal_zone0/temp": thermal,
        "proc/uptime": uptime,
        "proc/net/wireless": wireless,
    }
    for relative, content in files.items():
        if content is not None:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="ascii")
    return root


def test_a_pi_with_wifi(tmp_path: Path) -> None:
    """All four values from a Raspberry Pi's files."""
    root = make_root(
        tmp_path,
        thermal="51234\n",
        uptime="86400.52 342001.10\n",
        wireless=WIRELESS.format(
            lines=" wlan0: 0000   70.  -61.  -256        0      0      0      0      0        0\n"
        ),
    )
    outbox = tmp_path / "state" / "outbox.sqlite"
    outbox.parent.mkdir()
    outbox.write_bytes(b"")
    health = read_health(outbox, root=root)
    assert health.cpu_temperature == pytest.approx(51.234)
    assert health.uptime == pytest.approx(86400.52)
    assert health.wifi_signal == -61
    expected_free = shutil.disk_usage(outbox.parent).free / 1e9
    assert health.disk_free is not None
    assert health.disk_free == pytest.approx(expected_free, rel=0.05)


def test_nothing_readable(tmp_path: Path) -> None:
    """No thermal zone, no Wi-Fi: None; uptime falls back to the monotonic clock."""
    root = make_root(tmp_path)
    health = read_health(tmp_path / "outbox.sqlite", root=root, monotonic=lambda: 1234.5)
    assert health == NodeHealth(
        cpu_temperature=None,
        disk_free=health.disk_free,
        uptime=1234.5,
        wifi_signal=None,
    )
    assert health.disk_free is not None  # tmp_path exists


def test_disk_free_for_an_outbox_that_does_not_exist_yet(tmp_path: Path) -> None:
    """Before the first start the outbox and its directory are missing: use the parent."""
    health = read_health(tmp_path / "not" / "yet" / "outbox.sqlite", root=make_root(tmp_path))
    assert health.disk_free is not None
    assert health.disk_free > 0


def test_disk_free_below_a_file(tmp_path: Path) -> None:
    """A path that cannot exist (below a regular file) falls back to what does exist."""
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="ascii")
    health = read_health(blocker / "sub" / "outbox.sqlite", root=make_root(tmp_path))
    assert health.disk_free is not None


@pytest.mark.parametrize(
    ("thermal", "uptime", "expected_uptime"),
    [
        ("garbage", "", 7.0),
        ("", "not-a-number 1.0", 7.0),
        ("55000", "-3 1", 7.0),
        ("55000", "nan 1", 7.0),
    ],
)
def test_malformed_files(tmp_path: Path, thermal: str, uptime: str, expected_uptime: float) -> None:
    """Files with unexpected content count as unreadable."""
    root = make_root(tmp_path, thermal=thermal, uptime=uptime)
    health = read_health(tmp_path, root=root, monotonic=lambda: 7.0)
    assert health.cpu_temperature == (55.0 if thermal == "55000" else None)
    assert health.uptime == expected_uptime


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param("", None, id="no-wireless-interface"),
        pytest.param(
            " wlan0: 0000   54.  216.  0        0      0      0      0      0        0\n",
            -40,
            id="unsigned-level",
        ),
        pytest.param(
            " wlan0: 0000   54.  -72  -256        0      0      0      0      0        0\n",
            -72,
            id="no-trailing-dot",
        ),
        pytest.param(
            " wlan0: 0000\n wlan1: 0000   40.  -67.  -256   0 0 0 0 0 0\n",
            -67,
            id="first-usable-interface",
        ),
        pytest.param(" wlan0: 0000   54.  strong  0\n", None, id="garbage-level"),
        pytest.param("no colon here at all\n", None, id="not-an-interface-line"),
    ],
)
def test_wifi_signal_parsing(tmp_path: Path, lines: str, expected: int | None) -> None:
    """/proc/net/wireless in the shapes drivers write it."""
    root = make_root(tmp_path, wireless=WIRELESS.format(lines=lines))
    assert read_health(tmp_path, root=root).wifi_signal == expected


def test_unreadable_file_is_none(tmp_path: Path) -> None:
    """A path that exists but cannot be read as a file (a directory) is None."""
    root = make_root(tmp_path)
    (root / "sys/class/thermal/thermal_zone0/temp").mkdir(parents=True)
    assert read_health(tmp_path, root=root).cpu_temperature is None


def test_defaults_read_this_machine() -> None:
    """Without a root, the real /sys and /proc are read (values depend on the machine)."""
    health = read_health(Path("/"))
    assert health.uptime > 0
    assert health.disk_free is not None
