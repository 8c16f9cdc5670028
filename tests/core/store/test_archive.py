"""Workspaces carried to another machine: export, import with new ids, damaged and foreign archives refused,
and a thread as Markdown."""

import base64
import json
import os
import zipfile

import pytest

from tests.conftest import run_cli, write_settings
from tests.core.knowledge import samples


def test_a_workspace_travels_with_its_threads_tasks_copilots_and_documents(home, tmp_path) -> None:
    write_settings(home, "max_hops = 1\n")
    for copilot in ("analyst", "writer"):  # what they say does not matter here: short replies keep a busy CI quick
        assert run_cli("copilots", "edit", copilot, "--max-tokens", "24").returncode == 0
    samples.markdown(tmp_path / "zephyr.md")
    assert run_cli("run", "Say hello", "--workspace", "Finance", "--copilots", "analyst,writer").returncode == 0
    assert run_cli("docs", "add", str(tmp_path / "zephyr.md"), "--workspace", "Finance").returncode == 0
    archive = tmp_path / "finance.roundtable"
    exported = run_cli("workspaces", "export", "Finance", "-o", str(archive))
    assert exported.returncode == 0, exported.stderr

    other_home = tmp_path / "elsewhere"  # another machine: another data folder
    env = {**__import__("os").environ, "ROUNDTABLE_HOME": str(other_home)}
    imported = run_cli("workspaces", "import", str(archive), "--json", env=env)
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout)
    assert report["workspace"] == "finance" and report["threads"] == 1 and report["documents"] == 1

    def threads(environment):
        listed = json.loads(run_cli("threads", "ls", "--json", env=environment).stdout)
        return [t for t in listed if t["workspace_id"] == "finance"]

    (original,) = threads(None)
    (copy,) = threads(env)
    assert copy["id"] != original["id"] and copy["title"] == original["title"]
    before = json.loads(run_cli("threads", "show", original["id"], "--json").stdout)
    after = json.loads(run_cli("threads", "show", copy["id"], "--json", env=env).stdout)
    assert [(m["author"], m["text"]) for m in after["messages"]] == [
        (m["author"], m["text"]) for m in before["messages"]
    ]
    assert {m["id"] for m in after["messages"]}.isdisjoint({m["id"] for m in before["messages"]})
    assert [(t["from_copilot"], t["to_copilot"], t["status"]) for t in after["tasks"]] == [
        (t["from_copilot"], t["to_copilot"], t["status"]) for t in before["tasks"]
    ]
    assert [t["result_message_id"] for t in after["tasks"]] == [
        m["id"] for m in after["messages"] if m["id"] in {t["result_message_id"] for t in after["tasks"]}
    ]
    # each reply's kept request and token confidence travel too: the copy replays, and finds the same replies
    replies = [m for m in after["messages"] if m["role"] == "assistant"]
    assert replies and report["requests"] == report["confidence"] == len(replies)
    replayed = run_cli("threads", "replay", copy["id"], "--json", env=env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    outcomes = {r["message_id"]: r["outcome"] for r in json.loads(replayed.stdout)}
    assert outcomes == {m["id"]: "identical" for m in replies}
    found = json.loads(run_cli("search", "zephyr", "--workspace", "finance", "--json", env=env).stdout)
    assert found and found[0]["title"] == "zephyr.md"

    again = json.loads(run_cli("workspaces", "import", str(archive), "--json", env=env).stdout)
    assert again["workspace"] != "finance"  # a second import is a second workspace


def test_damaged_foreign_and_newer_archives_are_refused_and_nothing_is_imported(home, tmp_path) -> None:
    archive = tmp_path / "good.roundtable"
    assert run_cli("workspaces", "export", "default", "-o", str(archive)).returncode == 0
    damaged = tmp_path / "damaged.roundtable"
    damaged.write_bytes(archive.read_bytes()[:200])
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "something-else", "version": 1}))
    newer = tmp_path / "newer.roundtable"
    with zipfile.ZipFile(newer, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "roundtable-workspace", "version": 99, "roundtable": "9.0"}))
        z.writestr("workspace.json", "{}")
    broken = tmp_path / "broken.roundtable"
    with zipfile.ZipFile(archive) as z, zipfile.ZipFile(broken, "w") as out:
        out.writestr("manifest.json", z.read("manifest.json"))
        content = json.loads(z.read("workspace.json"))
        content["threads"] = [{"title": "no id"}]
        out.writestr("workspace.json", json.dumps(content))
    before = json.loads(run_cli("workspaces", "ls", "--json").stdout)
    for path, words in (
        (damaged, "damaged"),
        (foreign, "not a Roundtable workspace archive"),
        (newer, "newer Roundtable"),
        (broken, "nothing was imported"),
        (tmp_path / "missing.roundtable", "No file"),
    ):
        result = run_cli("workspaces", "import", str(path))
        assert result.returncode == 2 and words in result.stderr, (path.name, result.stderr)
    assert json.loads(run_cli("workspaces", "ls", "--json").stdout) == before


def test_a_thread_exports_as_markdown_with_its_sources(home, tmp_path) -> None:
    samples.markdown(tmp_path / "zephyr.md")
    run_cli("docs", "add", str(tmp_path / "zephyr.md"))
    run_cli("copilots", "edit", "analyst", "--knowledge")
    asked = run_cli("ask", "--copilot", "analyst", "--json", "What coupon does the Zephyr bond pay?")
    thread_id = json.loads(asked.stdout.splitlines()[-1])["thread_id"]
    exported = run_cli("threads", "export", thread_id, "-o", str(tmp_path / "thread.md"))
    assert exported.returncode == 0
    text = (tmp_path / "thread.md").read_text()
    assert text.startswith("# What coupon does the Zephyr bond pay?")
    assert "## user\n\nWhat coupon does the Zephyr bond pay?" in text and "## analyst" in text
    assert "> [1] zephyr.md, Zephyr bond" in text


# -- issue 12: an imported workspace is untrusted -----------------------------------------------------------


def database_dump(home) -> str:
    """Every row of the database, as SQL text: equal before and after means nothing was written."""
    import sqlite3

    from app.core.paths import Paths

    conn = sqlite3.connect(Paths.from_environment().database)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_imported_copilots_bring_no_key_tools_or_approvals_and_remote_ones_wait_for_confirmation(
    home, tmp_path, monkeypatch
) -> None:
    from tests.core.store.archive_builder import content, remote_copilot, write_archive
    from tests.loopback import LoopbackServer, Response, sse

    server = LoopbackServer()
    server.routes[("POST", "/v1/chat/completions")] = lambda _request: Response(
        chunks=[
            sse(None, {"choices": [{"index": 0, "delta": {"content": "Hi."}, "finish_reason": "stop"}]}),
            "data: [DONE]\n\n",
        ]
    )
    monkeypatch.setenv("ROUNDTABLE_TEST_SECRET", "sk-the-users-own-key")
    local = {"id": "helper", "name": "Helper", "tools": ["bonds"], "api_key_name": "openai"}
    archive = write_archive(tmp_path / "finance.roundtable", content([remote_copilot("quant", server.url), local]))
    try:
        imported = run_cli("workspaces", "import", str(archive))
        assert imported.returncode == 0, imported.stderr
        assert "Copilot 'quant': imported, needs review" in imported.stdout
        assert f"sends nothing to {server.url} until you run `roundtable copilots trust quant`" in imported.stdout
        assert "Copilot 'helper': imported, needs review" in imported.stdout
        for copilot_id in ("quant", "helper"):
            shown = json.loads(run_cli("copilots", "show", copilot_id, "--json").stdout)
            assert shown["api_key_name"] is None and shown["tools"] == []
        listed = run_cli("copilots", "ls")
        assert "Quant (imported, needs review)" in listed.stdout and "Helper (imported, needs review)" in listed.stdout

        refused = run_cli("run", "Price the bond", "--workspace", "finance")
        assert refused.returncode == 2, refused.stderr
        assert f"would send your messages to {server.url}" in refused.stderr
        assert "run `roundtable copilots trust quant`" in refused.stderr and "Traceback" not in refused.stderr
        asked = run_cli("ask", "--copilot", "quant", "hello")
        assert asked.returncode == 2 and "copilots trust quant" in asked.stderr
        assert server.requests == []  # nothing left the machine
        assert json.loads(run_cli("threads", "ls", "--json").stdout) == [] or all(
            t["title"] != "Price the bond" for t in json.loads(run_cli("threads", "ls", "--json").stdout)
        )

        trusted = run_cli("copilots", "trust", "quant")
        assert trusted.returncode == 0 and server.url in trusted.stdout
        assert (
            "needs review" not in [line for line in run_cli("copilots", "ls").stdout.splitlines() if "Quant" in line][0]
        )
        answered = run_cli("ask", "--copilot", "quant", "hello")
        assert answered.returncode == 0, answered.stderr
        (request,) = server.requests
        sent = json.dumps(request.headers)
        assert "sk-the-users-own-key" not in sent and "authorization" not in sent.lower()
    finally:
        server.close()


def test_one_bad_copilot_refuses_the_whole_archive_naming_its_field(home, tmp_path) -> None:
    from tests.core.store.archive_builder import content, remote_copilot, write_archive

    good = remote_copilot("quant", "http://127.0.0.1:9")
    bad = {"id": "hot", "name": "Hot", "sampling": {"temperature": 9}}
    archive = write_archive(tmp_path / "bad.roundtable", content([good, bad]))
    run_cli("copilots", "ls")  # the database exists before
    before = database_dump(home)
    result = run_cli("workspaces", "import", str(archive))
    assert result.returncode == 2, result.stderr
    assert "copilots.1" in result.stderr and "'sampling.temperature'" in result.stderr
    assert "Traceback" not in result.stderr
    assert database_dump(home) == before


def test_a_bad_copilot_row_in_the_database_never_locks_the_app(home) -> None:
    import sqlite3

    assert run_cli("copilots", "ls").returncode == 0
    from app.core.paths import Paths

    with sqlite3.connect(Paths.from_environment().database) as conn:
        rows = [
            ("broken", "Broken", '{"id": "broken", "name": "Broken", "sampling": {"temperature": "hot"}}'),
            ("garbage", "Garbage", "not json at all"),
            ("noid", "No id", "{}"),
        ]
        for row in rows:
            conn.execute(
                "INSERT INTO copilots (id, name, manifest, created_at, updated_at) VALUES (?,?,?,'x','x')", row
            )
    listed = run_cli("copilots", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(c["id"] for c in json.loads(listed.stdout)) == ["analyst", "generalist", "reviewer", "writer"]
    for copilot_id in ("broken", "garbage", "noid"):
        assert f"`roundtable copilots rm {copilot_id}` removes it" in listed.stderr
    assert run_cli("ask", "--copilot", "writer", "Say hi").returncode == 0
    for copilot_id in ("broken", "garbage", "noid"):
        removed = run_cli("copilots", "rm", copilot_id)
        assert removed.returncode == 0, removed.stderr
    assert "warning" not in run_cli("copilots", "ls").stderr


def test_row_ids_are_128_bits_and_an_archive_imports_into_a_database_holding_its_own_content(home, tmp_path) -> None:
    from app.core.store.records import new_id
    from tests.core.store.archive_builder import content, write_archive

    ids = {new_id() for _ in range(10_000)}
    assert len(ids) == 10_000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    archive = write_archive(tmp_path / "big.roundtable", content(messages=5000))
    first = run_cli("workspaces", "import", str(archive), "--json")
    assert first.returncode == 0, first.stderr
    exported = tmp_path / "again.roundtable"
    assert run_cli("workspaces", "export", json.loads(first.stdout)["workspace"], "-o", str(exported)).returncode == 0
    # the same 5k messages, exported with this database's ids, come back in next to themselves
    second = run_cli("workspaces", "import", str(exported), "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["messages"] == 5000


def test_saved_tool_approvals_never_travel_with_an_archive(home, tmp_path, monkeypatch) -> None:
    """An "always allow" saved here is not exported, and no approval (even a stale one) applies to what comes in."""
    import os
    import sqlite3

    from app.core.paths import Paths

    def approvals(env=None) -> set[tuple[str, str, str]]:
        listed = run_cli("tools", "approvals", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        return {(a["workspace_id"], a["copilot_id"], a["tool"]) for a in json.loads(listed.stdout)}

    def approve(database, workspace: str, copilot_id: str, tool: str) -> None:
        """The row `ask` saves for the answer "always" (tests/core/tools/test_tool_consent.py asks for real)."""
        with sqlite3.connect(database) as conn:
            conn.execute("INSERT INTO tool_approvals VALUES (?, ?, ?, 'x')", [workspace, copilot_id, tool])

    added = run_cli("copilots", "add", "quant", "--tools", "bonds")
    assert added.returncode == 0, added.stderr
    approve(Paths.from_environment().database, "default", "quant", "bonds.coupon")
    assert approvals() == {("default", "quant", "bonds.coupon")}
    archive = tmp_path / "default.roundtable"
    assert run_cli("workspaces", "export", "default", "-o", str(archive)).returncode == 0
    with zipfile.ZipFile(archive) as z:
        assert "approv" not in z.read("workspace.json").decode()

    # here: the copilot is ours already (kept), the new workspace starts with nothing allowed
    here = run_cli("workspaces", "import", str(archive), "--name", "Copy", "--json")
    assert here.returncode == 0, here.stderr
    assert json.loads(here.stdout)["workspace"] == "copy"
    assert approvals() == {("default", "quant", "bonds.coupon")}  # ours untouched, none for 'copy'

    # elsewhere: stale rows for the copilot's id and the new workspace's id (an older version, by hand) are dropped
    other = tmp_path / "elsewhere"
    env = {**os.environ, "ROUNDTABLE_HOME": str(other)}
    assert run_cli("copilots", "ls", env=env).returncode == 0
    monkeypatch.setenv("ROUNDTABLE_HOME", str(other))
    other_database = Paths.from_environment().database
    approve(other_database, "default", "quant", "bonds.coupon")
    approve(other_database, "finance", "writer", "bonds.memo")
    assert approvals(env) == {("default", "quant", "bonds.coupon"), ("finance", "writer", "bonds.memo")}
    there = run_cli("workspaces", "import", str(archive), "--name", "Finance", "--json", env=env)
    assert there.returncode == 0, there.stderr
    assert json.loads(there.stdout)["workspace"] == "finance"
    assert approvals(env) == set()
    shown = json.loads(run_cli("copilots", "show", "quant", "--json", env=env).stdout)
    assert shown["tools"] == []


def test_an_archive_short_of_room_keeps_the_newest_replies_records(ctx, tmp_path, monkeypatch) -> None:
    """replies.json stays under its limit: the newest replies keep their confidence and request, the oldest
    lose them first (confidence before requests), and what was kept imports as it was."""
    from app.core import confidence
    from app.core.provenance import pack_request
    from app.core.providers.base import ChatMessage, ChatRequest, Sampling
    from app.core.store import archive

    store = ctx.store
    thread = store.create_thread("Bonds")
    kept: dict[str, tuple[bytes, bytes]] = {}
    for number in range(4):
        message_id = store.start_message(thread.id, "analyst")
        noise = os.urandom(3000).hex()  # does not pack small: each request takes real room
        request = pack_request(ChatRequest([ChatMessage("user", f"question {number} {noise}")], Sampling(seed=number)))
        tokens = confidence.pack([(f" word{number}", -0.1, [(" other", -2.5)])])
        store.finish_message(message_id, "complete", {}, confidence=tokens, request=request)
        kept[message_id] = (tokens, request)
    sizes = [len(base64.b64encode(request)) for _, request in kept.values()]
    monkeypatch.setattr(archive, "MAX_REPLIES_BYTES", 1024 + 1000 + 2 * max(sizes))  # 4 confidence records, 2 requests
    target = tmp_path / "bonds.roundtable"
    counts = archive.export_workspace(store, "default", target)
    newest = list(kept)[-2:]
    assert counts["confidence"] == 4 and counts["requests"] == 2
    content = archive.read_archive(target)
    assert sorted(content.replies.requests) == sorted(newest)
    report = archive.import_workspace(store, target, "Copy")
    assert report.counts["requests"] == 2 and report.counts["confidence"] == 4
    copies = [m for t in store.list_threads(report.workspace) for m in store.messages(t.id)]
    assert sorted(store.confidence(m.id) for m in copies) == sorted(tokens for tokens, _ in kept.values())
    requests = [store.request(m.id) for m in copies]
    assert requests.count(None) == 2 and sorted(filter(None, requests)) == sorted(kept[i][1] for i in newest)


def test_a_kept_request_that_does_not_read_stays_home_and_requests_are_bounded_together(
    ctx, tmp_path, monkeypatch
) -> None:
    """An export never writes a record an import would refuse; an import refuses kept requests that would
    unpack to more than their shared limit (each may be small: the work is bounded, not only each record)."""
    from app.core.provenance import pack_request
    from app.core.providers.base import ChatMessage, ChatRequest, Sampling
    from app.core.store import archive, archive_checks

    store = ctx.store
    thread = store.create_thread("Bonds")
    requests = []
    for number in range(3):
        message_id = store.start_message(thread.id, "analyst")
        request = pack_request(ChatRequest([ChatMessage("user", "q" * 20_000)], Sampling(seed=number)))
        store.finish_message(message_id, "complete", {}, request=request)
        requests.append(request)
    damaged = store.start_message(thread.id, "analyst")
    store.finish_message(damaged, "complete", {}, request=b"not zlib")
    target = tmp_path / "bonds.roundtable"
    assert archive.export_workspace(store, "default", target)["requests"] == 3  # the damaged one stayed home
    assert damaged not in archive.read_archive(target).replies.requests

    monkeypatch.setattr(archive_checks, "MAX_REQUESTS_UNPACKED_BYTES", 50_000)  # two of them fit, not three
    before = store.workspaces()
    with pytest.raises(archive_checks.ArchiveError, match="kept requests unpack to over .* MB together"):
        archive.import_workspace(store, target, "Copy")
    assert store.workspaces() == before
