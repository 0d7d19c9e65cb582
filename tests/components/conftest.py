"""Home Assistant test set-up.

The project's ``custom_components`` package is imported before anything else on purpose:
otherwise the harness's own ``testing_config/custom_components`` wins the import and
the integration is "not found".
"""

import custom_components.rala  # noqa: F401  # isort: skip

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from this checkout."""
