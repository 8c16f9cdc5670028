"""Roundtable: several AI copilots, local and remote, working one task together on your machine."""

__version__ = "0.1.0"
