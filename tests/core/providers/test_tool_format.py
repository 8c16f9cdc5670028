"""Local models whose chat template knows tools: the format is read from the template, the tools and a tool round
are rendered by the model's own template, and calls in the model's format are parsed out of the streamed text."""

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Sampling, ToolCall, ToolSpec, Usage
from app.core.providers.tool_format import (
    HERMES,
    LLAMA3,
    MAX_CALLS,
    MISTRAL,
    CallScanner,
    native_format,
    template_messages,
    template_tools,
)
from app.core.tools import builtin
from tests.conftest import run_cli

HERMES_TEMPLATE = (Path(__file__).parent / "hermes_template.jinja").read_text()
CALCULATOR = ToolSpec(
    "roundtable__calculator", builtin.TOOLS["calculator"].description, builtin.TOOLS["calculator"].parameters
)


@pytest.fixture(scope="session")
def tools_model(tmp_path_factory, starter_model) -> Path:
    """The starter model with a Qwen-style chat template that renders tools (written with the gguf package's own
    metadata tool): a real model whose template knows tools."""
    path = tmp_path_factory.mktemp("models") / "smol-tools.gguf"
    template = Path(__file__).parent / "hermes_template.jinja"
    command = [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(starter_model), str(path)]
    subprocess.run([*command, "--chat-template-file", str(template), "--force"], check=True, capture_output=True)
    return path


def scan(format_: str, text: str, step: int = 3) -> tuple[str, list[ToolCall]]:
    ids = (f"c{n}" for n in itertools.count())
    scanner = CallScanner(format_, lambda: next(ids))
    shown = "".join(scanner.feed(text[i : i + step]) for i in range(0, len(text), step))
    rest, calls = scanner.finish()
    return shown + rest, calls


def test_the_format_is_read_from_the_chat_template(starter_model) -> None:
    from app.core.hub.gguf import inspect_model_file

    assert native_format(HERMES_TEMPLATE) == HERMES
    llama = "{% if tools %}{{ tools | tojson }}{% endif %}<|start_header_id|>ipython<|end_header_id|>"
    assert native_format(llama) == LLAMA3
    assert native_format("{% for t in tools %}[AVAILABLE_TOOLS]{% endfor %}[TOOL_CALLS]") == MISTRAL
    assert native_format("{{ messages }} <tool_call>") is None  # no tools rendered
    assert native_format("{% if tools %}{{ tools }}{% endif %}") is None  # tools, in a way we do not know
    starter = inspect_model_file(starter_model).metadata["tokenizer.chat_template"]
    assert native_format(starter) is None  # the starter model: the schema-constrained decision step


@pytest.mark.parametrize("step", [1, 4, 1000])
def test_calls_are_taken_out_of_the_streamed_text(step: int) -> None:
    hermes = 'Let me check.\n<tool_call>\n{"name": "calc", "arguments": {"expression": "1+1"}}\n</tool_call>'
    shown, [call] = scan(HERMES, hermes, step)
    assert shown == "Let me check.\n" and (call.name, call.arguments) == ("calc", {"expression": "1+1"})

    shown, [call] = scan(LLAMA3, ' {"name": "calc", "parameters": {"x": 2}}', step)
    assert shown == "" and call.arguments == {"x": 2}
    shown, [call] = scan(LLAMA3, '<|python_tag|>{"name": "calc", "parameters": {"x": 3}}', step)
    assert call.arguments == {"x": 3}

    mistral = '[TOOL_CALLS][{"name": "a", "arguments": {"q": 1}}, {"name": "b", "arguments": "{\\"z\\": 2}"}]'
    shown, calls = scan(MISTRAL, mistral, step)
    assert [(c.name, c.arguments) for c in calls] == [("a", {"q": 1}), ("b", {"z": 2})]


def test_text_that_only_looks_like_a_call_is_shown_as_text() -> None:
    assert scan(HERMES, "a <tool b <tool_cal") == ("a <tool b <tool_cal", [])  # a marker's start, never finished
    assert scan(HERMES, "x<tool_call>not json") == ("x<tool_call>not json", [])
    assert scan(HERMES, '<tool_call>{"arguments": {}}</tool_call>')[1] == []  # no name: no call
    assert scan(LLAMA3, 'As JSON: {"name": "x"}') == ('As JSON: {"name": "x"}', [])  # a call only opens a reply
    broken = scan(HERMES, '<tool_call>{"name": "calc", "arguments": "{not json"}</tool_call>')[1]
    assert broken[0].name == "calc" and broken[0].arguments is None  # said so when run, not guessed
    many = "".join(f'<tool_call>{{"name": "t{n}", "arguments": {{}}}}</tool_call>' for n in range(50))
    assert len(scan(HERMES, many)[1]) == MAX_CALLS


def test_the_models_own_template_renders_the_tools_and_a_tool_round() -> None:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    call = ToolCall("c1", "roundtable__calculator", {"expression": "17.5% of 2400"})
    messages = [
        ChatMessage("user", "Use the calculator: 17.5% of 2400"),
        ChatMessage("assistant", "", tool_calls=[call]),
        ChatMessage("tool", "420", name="roundtable.calculator", tool_call_id="c1"),
    ]
    formatter = Jinja2ChatFormatter(HERMES_TEMPLATE, eos_token="<|im_end|>", bos_token="")
    prompt = formatter(messages=template_messages(messages), tools=template_tools([CALCULATOR])).prompt
    [listed] = re.findall(r"<tools>\s*(\{.*?\})\s*</tools>", prompt, re.DOTALL)  # not the instructions' <tools>
    assert json.loads(listed)["function"]["name"] == "roundtable__calculator"
    made = prompt.split("<tool_call>")[-1].split("</tool_call>")[0]
    assert json.loads(made) == {"name": "roundtable__calculator", "arguments": {"expression": "17.5% of 2400"}}
    assert "<tool_response>\n420\n</tool_response>" in prompt


def test_a_local_model_with_a_tool_template_gets_the_tools_in_its_prompt(ctx, tools_model) -> None:
    from app.core.crew.copilots import Copilot

    ctx.store.add_model(tools_model, "local", {}, model_id="smol-tools")
    copilot = Copilot(id="native", name="Native", model="smol-tools")
    provider = ctx.provider_for(copilot)
    assert provider.supports_tools and provider.tool_format == HERMES
    assert not ctx.provider_for(copilot.model_copy(update={"model": None})).supports_tools  # the starter's own

    def prompt_tokens(tools: list[ToolSpec]) -> int:
        request = ChatRequest([ChatMessage("user", "Hello")], Sampling(temperature=0.0, max_tokens=4), tools=tools)
        [usage] = [e for e in provider.stream(request, CancelToken()) if isinstance(e, Usage)]
        return usage.prompt_tokens

    listed = len(json.dumps(template_tools([CALCULATOR]))) // 8  # a generous floor: about 4 characters a token
    assert prompt_tokens([CALCULATOR]) - prompt_tokens([]) > listed


def test_a_named_tool_is_called_for_a_native_model_and_its_result_read_back(home, tools_model) -> None:
    assert run_cli("models", "add", str(tools_model)).returncode == 0
    added = run_cli("copilots", "add", "native", "--model", "smol-tools", "--tools", "roundtable.calculator")
    assert added.returncode == 0, added.stderr
    asked = run_cli("ask", "--copilot", "native", "--yes", "--json", "Use the calculator: 17.5% of 2400")
    assert asked.returncode == 0, asked.stderr
    events = [json.loads(line) for line in asked.stdout.splitlines()]
    tools = [(e["status"], e["result"]) for e in events if e["type"] == "tool"]
    assert tools[:2] == [("called", None), ("done", "420")]
    assert not [e for e in events if e["type"] == "error"]
    assert events[-1]["type"] == "done" and events[-1]["status"] == "complete"
