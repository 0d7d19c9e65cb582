"""How long the reliability suites run, and what they measured, for docs/reliability.md.

``scripts/test`` runs every suite short (minutes in all); ``scripts/reliability`` sets
``RALA_RELIABILITY=long`` to run them at full length and ``RALA_RELIABILITY_FIGURES`` to a
file where each suite appends one JSON line of what it measured. The report in
docs/reliability.md is made from those lines only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

LONG_RUN_VARIABLE = "RALA_RELIABILITY"
FIGURES_VARIABLE = "RALA_RELIABILITY_FIGURES"


def long_run() -> bool:
    """Whether the suites run at their full length (``scripts/reliability``)."""
    return os.environ.get(LONG_RUN_VARIABLE) == "long"


def scaled(short: int, long: int) -> int:
    """``long`` in a long run, else ``short``: how many messages, kills or outages to try."""
    return long if long_run() else short


def record(suite: str, **figures: float | str) -> None:
    """Append what ``suite`` measured to the figures file, when one is asked for."""
    target = os.environ.get(FIGURES_VARIABLE)
    if not target:
        return
    line = json.dumps({"suite": suite, "long": long_run(), **figures}, sort_keys=True)
    with Path(target).open("a", encoding="utf-8") as figures_file:
        figures_file.write(line + "\n")
