"""``scripts/demo`` itself: it prints where to log in, and Ctrl-C leaves nothing running."""

import os
from pathlib import Path
import signal
import subprocess
import time

ROOT = Path(__file__).resolve().parents[2]


def _processes_using(workdir: Path) -> list[str]:
    """Command lines of running processes that name ``workdir`` (the demo's children do)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        if cmdline.parent.name == str(os.getpid()):
            continue
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(workdir) in text:
            found.append(text)
    return found


def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """The dashboard's URL and the login are printed; after SIGINT no child is left."""
    workdir = tmp_path / "demo"
    demo = subprocess.Popen(
        [str(ROOT / "scripts" / "demo"), "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    output = []
    deadline = time.monotonic() + 300
    try:
        for line in demo.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line or time.monotonic() > deadline:
                break
        text = "".join(output)
        assert "RALA demo: http://127.0.0.1:" in text, text
        assert "login:     demo / rala-demo" in text, text
        assert _processes_using(workdir), "the demo's children should be running"
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=120) == 0, demo.stdout.read()
    finally:
        if demo.poll() is None:
            demo.kill()
    assert _processes_using(workdir) == []
