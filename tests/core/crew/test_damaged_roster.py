"""A damaged copilot row on a workspace's roster (from an older version, or written by hand) never blocks a run."""

import json
import sqlite3

from tests.conftest import run_cli


def put_damaged_copilot_on_the_roster(copilot_id: str) -> None:
    """A copilot row no manifest parser accepts, first on the default workspace's roster, written as a person would."""
    from app.core.paths import Paths

    assert run_cli("copilots", "ls").returncode == 0  # the database exists, with the starter crew on the roster
    with sqlite3.connect(Paths.from_environment().database) as conn:
        conn.execute(
            "INSERT INTO copilots (id, name, manifest, created_at, updated_at) VALUES (?, ?, ?, 'x', 'x')",
            [copilot_id, "Broken", json.dumps({"id": copilot_id, "sampling": {"temperature": "hot"}})],
        )
        conn.execute("INSERT INTO workspace_copilots VALUES ('default', ?, -1)", [copilot_id])


def test_a_run_leaves_a_damaged_roster_row_out_with_a_warning(home) -> None:
    put_damaged_copilot_on_the_roster("broken")

    ran = run_cli("run", "Say hello", "--max-hops", "0", "--json")
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr and "No copilot" not in ran.stderr, ran.stderr
    warning = (
        "Copilot 'broken' on the roster of 'default' is damaged, left out of the run: "
        "`roundtable copilots rm broken` removes it."
    )
    assert warning in ran.stderr, ran.stderr
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    assert events[-1]["type"] == "done" and events[-1]["status"] == "complete", events[-1]
    assert "broken" not in {e.get("copilot") for e in events} | {e.get("author") for e in events}

    # naming it is asking for it: refused, saying what to do
    named = run_cli("run", "Say hello", "--copilots", "broken")
    assert named.returncode == 2, named.stderr
    assert "Copilot 'broken' is damaged and cannot run: `roundtable copilots rm broken` removes it." in named.stderr

    assert run_cli("copilots", "rm", "broken").returncode == 0
    again = run_cli("run", "Say hello", "--max-hops", "0")
    assert again.returncode == 0 and "broken" not in again.stderr, again.stderr
