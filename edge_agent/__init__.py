"""RALA edge agent: grow-tent sensors and relays on a Raspberry Pi, announced to Home Assistant."""

__version__ = "0.1.0"
