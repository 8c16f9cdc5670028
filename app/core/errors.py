"""Errors the user can act on: each carries a one-line message that says what to do."""

from __future__ import annotations


class RoundtableError(Exception):
    """A problem the user can fix; str() is the one-line message shown to them.

    Attributes:
        exit_code: the CLI's exit status for this problem.
    """

    exit_code = 1


class UsageError(RoundtableError):
    """Bad input from the user: an unknown id, a missing argument."""

    exit_code = 2


class SettingsError(RoundtableError):
    """The settings file holds a value of the wrong type or an unknown key."""

    exit_code = 2


class StoreError(RoundtableError):
    """The database cannot be opened or written (damaged, read-only, from a newer version)."""

    exit_code = 3


class ModelFileError(RoundtableError):
    """A model file is missing, truncated or not GGUF."""

    exit_code = 4
