"""The demo stack for the browser checks: one per session (it takes half a minute)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from demo.stack import DemoOptions, DemoStack


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoStack]:
    """Mosquitto, the newest Home Assistant with RALA and two simulated tents."""
    workdir = Path(tmp_path_factory.mktemp("demo"))
    async with DemoStack(DemoOptions(workdir=workdir, tents=2)) as stack:
        yield stack
