"""The RALA dashboard in a real browser at phone size, on the newest Home Assistant."""

import os
from pathlib import Path

import pytest

from demo.dashboard_check import check_dashboard
from demo.stack import DemoStack

pytestmark = pytest.mark.asyncio(loop_scope="session")

BROKEN_URL_PATH = "broken-check"
BROKEN_DASHBOARD = {
    "views": [
        {
            "path": "broken",
            "type": "sections",
            "sections": [
                {
                    "type": "grid",
                    "cards": [
                        {"type": "custom:no-such-card"},
                        {"type": "tile", "entity": "sensor.no_such_sensor"},
                        {"type": "tile", "entity": "sensor.flower_tent_leaf_vpd"},
                    ],
                }
            ],
        }
    ]
}


async def test_the_generated_dashboard_has_no_error(demo_stack: DemoStack, tmp_path: Path) -> None:
    """Every view: no error or warning card, every entity there, no JS error, a clean log."""
    shots = Path(os.environ.get("RALA_SCREENSHOTS", tmp_path))
    report = await check_dashboard(demo_stack, screenshots=shots)
    assert report.problems == []
    assert report.views == ["overview", "flower-tent", "veg-tent"]
    assert all(path.stat().st_size > 10_000 for path in report.screenshots)


async def test_the_check_fails_on_a_broken_dashboard(demo_stack: DemoStack) -> None:
    """An unknown card and a missing entity are both reported."""
    assert demo_stack.client is not None
    async with demo_stack.client.websocket() as ws:
        await ws.command(
            "lovelace/dashboards/create",
            url_path=BROKEN_URL_PATH,
            title="Broken",
            show_in_sidebar=False,
        )
        await ws.command("lovelace/config/save", url_path=BROKEN_URL_PATH, config=BROKEN_DASHBOARD)
    report = await check_dashboard(demo_stack, url_path=BROKEN_URL_PATH, check_log=False)
    assert any("error card" in problem for problem in report.problems), report.problems
    assert any("sensor.no_such_sensor" in problem for problem in report.problems), report.problems
