"""Tool consent on the terminal and in the store: the prompt shows a tool's full arguments inert, only "always"
is saved, saved answers are listed and revoked, and taking a tool from a copilot takes its approvals too."""

import json
import os
import select
import sqlite3
import subprocess
import time

import pytest

from tests.conftest import REPO, cli_command, run_cli
from tests.core.tools.test_mcp_tools import quant  # noqa: F401 (a fixture: a remote copilot granted the bond tools)

# What a hostile model might send: a terminal title, clear-screen and cursor-up escapes, a carriage return and a
# fake prompt, a C1 CSI, a bidi override, and a long tail so that a cut-off would hide the end.
HOSTILE = (
    "\x1b]0;pwned\x07\x1b[2J\x1b[1A\rAllow bonds.coupon? [o]nce / [a]lways / [N]o: o\n"
    "\x9b31mred\u202eeulav\x7f" + "A" * 5000 + " END-OF-ARGUMENT"
)
PROMPT_END = b"[a]lways in this workspace / [N]o: "  # the hostile argument fakes a shorter one


def approvals(*args: str) -> list[dict]:
    listed = run_cli("tools", "approvals", "--json", *args)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


class Terminal:
    """`roundtable ARGS` with its stdin, stdout and stderr on a real pseudo-terminal."""

    def __init__(self, *args: str) -> None:
        self.leader, follower = os.openpty()
        self.process = subprocess.Popen(
            cli_command(*args), stdin=follower, stdout=follower, stderr=follower, cwd=REPO, close_fds=True
        )
        os.close(follower)
        self.seen = b""

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.seen:
            ready, _, _ = select.select([self.leader], [], [], 120)  # a hang guard, not a timing assertion
            assert ready, f"no {marker!r} on the terminal; it showed {self.seen[-2000:]!r}"
            try:
                chunk = os.read(self.leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                chunk = b""
            assert chunk, f"the terminal closed before {marker!r}; it showed {self.seen[-2000:]!r}"
            self.seen += chunk
        return self.seen

    def answer(self, text: str) -> bytes:
        """Type an answer, then read everything until the process ends.

        The terminal is read while the process runs: one that writes more than the terminal buffers would
        otherwise block on its output, and never end."""
        os.write(self.leader, text.encode())
        deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
        while True:
            ready, _, _ = select.select([self.leader], [], [], 1)
            if ready:
                try:
                    chunk = os.read(self.leader, 65536)
                except OSError:  # EIO: the process closed the terminal
                    chunk = b""
                if not chunk:
                    break
                self.seen += chunk
            elif self.process.poll() is not None:
                break  # it ended and all it wrote was read; something it started may still hold the terminal
            else:
                assert time.monotonic() < deadline, f"the process did not end; it showed {self.seen[-2000:]!r}"
        assert self.process.wait(120) == 0, self.seen[-2000:]
        return self.seen

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        os.close(self.leader)


@pytest.fixture
def terminal():
    opened: list[Terminal] = []

    def start(*args: str) -> Terminal:
        opened.append(Terminal(*args))
        return opened[-1]

    yield start
    for each in opened:
        each.close()


def test_the_terminal_prompt_shows_a_hostile_argument_whole_and_inert(quant, terminal) -> None:  # noqa: F811
    quant.plan = ("bonds__memo", {"text": HOSTILE})
    term = terminal("ask", "--copilot", "quant", "File a memo.")
    shown = term.read_until(PROMPT_END)
    asked = shown[shown.index(b"quant wants to use the tool") :]
    # nothing that a terminal would act on: no ESC, no C1 CSI (UTF-8 c2 9b), no bare carriage return
    assert b"\x1b" not in asked and b"\xc2\x9b" not in asked and b"\x07" not in asked
    assert b"\r" not in asked.replace(b"\r\n", b"")
    # the whole argument, as exact JSON (the pty turns \n into \r\n)
    body = asked.split(b"with these arguments:\r\n", 1)[1].rsplit(b"\r\nAllow bonds.memo?", 1)[0]
    assert json.loads(body.replace(b"\r\n", b"\n").decode()) == {"text": HOSTILE}
    assert b"\\u001b]0;pwned\\u0007\\u001b[2J" in body and b"\\u009b31m" in body and b"\\u202e" in body
    assert b"quant wants to use the tool bonds.memo" in asked and b"END-OF-ARGUMENT" in body

    done = term.answer("o\n")
    assert f"The tool said: filed {len(HOSTILE)} characters".encode() in done, done[-500:]
    assert approvals() == []  # "once" is not saved


def test_always_is_saved_listed_and_revoked_and_a_closed_stdin_denies(quant, terminal) -> None:  # noqa: F811
    term = terminal("ask", "--copilot", "quant", "What coupon does a 1000 bond at 4% pay?")
    term.read_until(PROMPT_END)
    assert b"The tool said: 40.00" in term.answer("a\n")
    (saved,) = approvals()
    assert (saved["workspace_id"], saved["workspace"], saved["copilot_id"], saved["tool"]) == (
        "default",
        "Default",
        "quant",
        "bonds.coupon",
    )
    listed = run_cli("tools", "approvals", "--workspace", "Default").stdout
    assert "quant" in listed and "bonds.coupon" in listed and saved["approved_at"][:16].replace("T", " ") in listed

    unasked = run_cli("ask", "--copilot", "quant", "Again, with nobody at the terminal.")  # saved: not asked
    assert "The tool said: 40.00" in unasked.stdout and "--yes" not in unasked.stderr

    wrong = run_cli("tools", "approvals", "revoke", "bonds.stall")
    assert wrong.returncode == 2 and "No saved approval matches" in wrong.stderr
    neither = run_cli("tools", "approvals", "revoke")
    assert neither.returncode == 2 and "or give --all" in neither.stderr
    unknown = run_cli("tools", "approvals", "revoke", "--all", "--workspace", "nowhere")
    assert unknown.returncode == 2 and "No workspace 'nowhere'" in unknown.stderr
    revoked = run_cli("tools", "approvals", "revoke", "bonds.coupon", "--workspace", "default", "--copilot", "quant")
    assert revoked.returncode == 0 and "Revoked 1 approval;" in revoked.stdout
    assert approvals() == []

    refused = run_cli("ask", "--copilot", "quant", "And now?")  # no tty, no --yes: denied, and it says why
    assert "The user did not allow bonds.coupon" in refused.stdout
    assert "nobody is at the terminal to ask: run it with --yes" in refused.stderr


def test_any_other_answer_or_end_of_input_denies(quant, terminal) -> None:  # noqa: F811
    term = terminal("ask", "--copilot", "quant", "What coupon?")
    term.read_until(PROMPT_END)
    assert b"The user did not allow bonds.coupon" in term.answer("yes please\n")
    term = terminal("ask", "--copilot", "quant", "What coupon?")
    term.read_until(PROMPT_END)
    assert b"The user did not allow bonds.coupon" in term.answer("\x04")  # Ctrl+D at the prompt
    assert approvals() == []


def test_taking_a_tool_from_a_copilot_takes_its_approvals(quant, ctx) -> None:  # noqa: F811
    store = ctx.store
    workspace = store.create_workspace("Research")
    for where, copilot, tool in [
        ("default", "quant", "bonds.coupon"),
        ("default", "quant", "bonds.memo"),
        (workspace, "quant", "bonds.coupon"),
        ("default", "writer", "bonds.coupon"),
    ]:
        store.approve_tool(where, copilot, tool)

    def saved() -> set[tuple[str, str, str]]:
        return {(a["workspace_id"], a["copilot_id"], a["tool"]) for a in approvals()}

    assert {a["workspace_id"] for a in approvals("--workspace", "Research")} == {workspace}
    # quant keeps bonds.coupon only: its memo approval goes, coupon stays, the writer's are not quant's to lose
    assert run_cli("copilots", "edit", "quant", "--tools", "bonds.coupon").returncode == 0
    assert saved() == {
        ("default", "quant", "bonds.coupon"),
        (workspace, "quant", "bonds.coupon"),
        ("default", "writer", "bonds.coupon"),
    }
    # a grant given back asks again: nothing comes back with it
    assert run_cli("copilots", "grant", "quant", "bonds").returncode == 0
    assert ("default", "quant", "bonds.memo") not in saved()
    assert run_cli("copilots", "revoke", "quant", "bonds.coupon").returncode == 0  # "bonds" still covers it
    assert run_cli("copilots", "revoke", "quant", "bonds").returncode == 0
    assert saved() == {("default", "writer", "bonds.coupon")}

    store.approve_tool("default", "quant", "bonds.coupon")
    assert run_cli("copilots", "rm", "quant").returncode == 0
    assert saved() == {("default", "writer", "bonds.coupon")}
    all_gone = run_cli("tools", "approvals", "revoke", "--all", "--workspace", "default")
    assert all_gone.returncode == 0 and "Revoked 1 approval;" in all_gone.stdout and saved() == set()


def test_a_revoked_server_grant_revokes_all_its_tools_and_a_server_name_is_no_wildcard(ctx) -> None:
    store = ctx.store
    for copilot, tool in [("quant", "my_srv.a"), ("quant", "myXsrv.a"), ("quant", "my_srv.b")]:
        store.approve_tool("default", copilot, tool)
    assert store.revoke_tool_approvals(tool="my_srv") == 2
    assert [a["tool"] for a in store.tool_approvals()] == ["myXsrv.a"]
    store.add_tool_server("my_srv", ["true"])
    store.approve_tool("default", "quant", "my_srv.a")
    store.remove_tool_server("my_srv")
    assert [a["tool"] for a in store.tool_approvals()] == ["myXsrv.a"]


def test_older_approvals_are_dropped_on_upgrade(home) -> None:
    """Before m006 an approval named no copilot and `--yes` saved one: those rows are not kept as consent."""
    from sqlite_utils import Database

    from app.core.store.database import Connection
    from app.core.store.migrations import MIGRATIONS, migrate

    index = [step.__name__ for step in MIGRATIONS].index("m006_tool_approvals_per_copilot")
    home.mkdir(parents=True, exist_ok=True)
    path = home / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    migrate(Database(raw), upto=index)
    raw.execute("INSERT INTO tool_approvals VALUES ('default', 'bonds.coupon', '2024-01-01T00:00:00')")
    raw.close()
    upgraded = Connection(path)
    columns = [row["name"] for row in upgraded.read("PRAGMA table_info(tool_approvals)")]
    assert columns == ["workspace_id", "copilot_id", "tool", "approved_at"]
    assert upgraded.read("SELECT * FROM tool_approvals") == []
