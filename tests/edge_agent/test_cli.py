"""The ``rala-edge`` command line."""

from pathlib import Path
import subprocess
import sys

from edge_agent import __version__


def test_version_from_the_installed_console_script() -> None:
    """``rala-edge --version`` prints the package version on this interpreter."""
    script = Path(sys.executable).with_name("rala-edge")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == f"rala-edge {__version__}"


def test_version_as_a_module() -> None:
    """``python -m edge_agent --version`` works where the console script is not on PATH."""
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.strip() == f"rala-edge {__version__}"
