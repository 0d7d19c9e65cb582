"""Fixtures of the integration's tests."""

import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots that serialize registry entries and states as Home Assistant's own tests do.

    The harness's plugin defines this fixture too, but syrupy's plugin, registered later,
    shadows it; a conftest fixture wins over both.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)
