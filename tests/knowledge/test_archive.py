"""Workspaces carried to another machine: export, import with new ids, damaged and foreign archives refused,
and a thread as Markdown."""

import json
import zipfile

from tests.conftest import run_cli, write_settings
from tests.knowledge import samples


def test_a_workspace_travels_with_its_threads_tasks_copilots_and_documents(home, tmp_path) -> None:
    write_settings(home, "max_hops = 1\n")
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
