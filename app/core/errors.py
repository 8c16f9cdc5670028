"""Errors the user can act on, each with a one-line message that says what to do, and the one table of exit codes."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The `roundtable` command's exit statuses: the only table (README "Exit status", docs/architecture.md §6).

    Every error class names its code here, and a run's `error` kinds map here (`exit_code_for_kind`).
    Scripts read these: never change or reuse a value.
    """

    OK = 0  # success; also a closed pipe (`roundtable threads show ID | head`)
    FAILED = 1  # a problem not listed below; a reply that failed for another reason
    USAGE = 2  # bad input: an unknown id, settings, an archive, a document, an unconfirmed endpoint; context full
    STORE = 3  # the database cannot be opened or written
    MODEL_FILE = 4  # a model file is missing, truncated or not GGUF
    MODEL_CRASHED = 5  # the model host died during a reply (only a run's `error` kind `crashed`)
    HUB = 6  # Hugging Face Hub: not reachable, not found, or no room on disk for a download
    KEYCHAIN = 7  # the keychain is locked, missing, or has no such key
    REMOTE = 8  # a remote copilot failed: auth, network, timeout, rate limit, server, protocol, rejected
    TOOL = 9  # a tool server failed to start or answer
    INTERNAL = 70  # a bug: the traceback is in the log file (sysexits' EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl+C, a cancelled download, a reply stopped before its end (128 + SIGINT)


# a run's `error` event kinds (providers/base.Error.kind) -> the exit status; any other kind is FAILED
_KIND_EXIT: dict[str, ExitCode] = {
    "model_file": ExitCode.MODEL_FILE,
    "crashed": ExitCode.MODEL_CRASHED,
    "context": ExitCode.USAGE,
    "adapter": ExitCode.USAGE,  # a copilot's LoRA adapter was made for another base model
    **dict.fromkeys(
        ("auth", "network", "timeout", "not_found", "rate_limit", "server", "protocol", "remote", "rejected", "tool"),
        ExitCode.REMOTE,
    ),
}


def exit_code_for_kind(kind: str) -> ExitCode:
    """The exit status for a run that ended with an `error` event of this kind."""
    return _KIND_EXIT.get(kind, ExitCode.FAILED)


class RoundtableError(Exception):
    """A problem the user can fix; str() is the one-line message shown to them.

    Attributes:
        exit_code: the CLI's exit status for this problem.
    """

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(RoundtableError):
    """Bad input from the user: an unknown id, a missing argument."""

    exit_code = ExitCode.USAGE


class SettingsError(RoundtableError):
    """The settings file holds a value of the wrong type or an unknown key."""

    exit_code = ExitCode.USAGE


class StoreError(RoundtableError):
    """The database cannot be opened or written (damaged, read-only, from a newer version)."""

    exit_code = ExitCode.STORE


class ModelFileError(RoundtableError):
    """A model file is missing, truncated or not GGUF."""

    exit_code = ExitCode.MODEL_FILE


class ModelCrashed(RoundtableError):
    """A model host died while working outside a reply (embedding): the message says how."""

    exit_code = ExitCode.MODEL_CRASHED


class Cancelled(RoundtableError):
    """The user stopped the work before it ended; nothing half-done was kept."""

    exit_code = ExitCode.INTERRUPTED
