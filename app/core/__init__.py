"""Roundtable's headless core. Nothing below this package imports Qt."""
