"""Test set-up shared by the edge agent's and the integration's tests."""
