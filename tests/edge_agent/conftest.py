"""The edge agent's tests talk to real brokers on 127.0.0.1."""

import pytest


@pytest.fixture(autouse=True)
def _edge_tests_may_use_sockets(sockets_allowed: None) -> None:
    """Every edge agent test may open sockets (see ``sockets_allowed``)."""
