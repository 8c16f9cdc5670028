"""The built-in calculator: exact decimal answers, parsed never evaluated, bounded, and errors a model can act on;
granted and called like any tool, through the same consent."""

import json
import re

import pytest

from app.core.tools.builtin import call
from app.core.tools.calculator import MAX_EXPRESSION, CalculationError, calculate, show
from tests.conftest import run_cli
from tests.core.tools.test_mcp_tools import call_chunk, text_chunk
from tests.loopback import LoopbackServer, Request, Response, sse


@pytest.mark.parametrize(
    ("expression", "answer"),
    [
        ("0.1 + 0.2", "0.3"),  # binary floats say 0.30000000000000004
        ("1250 * 4%", "50"),
        ("compound(10000, 5, 10)", "16288.9462677744"),  # 10000 × 1.05^10
        ("compound(1000, 12, 1, 12)", "1126.825030132"),  # monthly compounding
        ("percent_of(15, 240)", "36"),
        ("add_percent(200, 7.5)", "215"),
        ("percent_change(80, 100)", "25"),
        ("17.5% of 2400", "420"),  # as people write it
        ("2 + 10% of 50% of 300", "17"),
        ("round(2.675, 2)", "2.68"),  # half up, exactly: a float rounds it to 2.67
        ("2 ^ 3 ^ 2", "512"),
        ("-(3 + 4) * 2", "-14"),
        ("100 ÷ 8 × 3", "37.5"),
        ("$1000 * 1.05^3", "1157.625"),  # a currency sign is dropped
        ("1/3", "0.3333333333"),
        ("max(1, 5, 3) - min(4, 2)", "3"),
        ("sqrt(2) ^ 2", "2"),
    ],
)
def test_exact_answers(expression: str, answer: str) -> None:
    assert show(calculate(expression)) == answer


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "Division by zero"),
        ("2 +", "ends too early"),
        ("(1 + 2", "ends too early"),
        ("1 2", "Unexpected '2'"),
        ("__import__('os').system('true')", "Cannot read ''os')"),  # refused before anything is computed
        ("__import__(1)", "Unknown name '__import__'"),
        ("open(1)", "Unknown name 'open'"),
        ("9 ^ 9 ^ 9", "exponent 387420489 is too large"),
        ("10 ^ 9999 * 10 ^ 9999", "too large"),
        ("1" * (MAX_EXPRESSION + 1), "longer than"),
        ("(" * 240 + "1" + ")" * 240, "nested too deeply"),
        ("sqrt(-1)", "negative"),
        ("compound(1, 2)", "takes 3–4 numbers"),
        ("1 ; 2", "Cannot read ';"),
        ("", "empty"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(CalculationError, match=re.escape(message)):
        calculate(expression)


def test_the_tool_answers_and_reports_errors_as_results(ctx) -> None:
    assert call("calculator", {"expression": "1250 * 4%"}, ctx.store, "default").text == "50"
    wrong = call("calculator", {"expression": "1/0"}, ctx.store, "default")
    assert wrong.is_error and wrong.text == "Division by zero."
    assert call("calculator", {"expr": "1"}, ctx.store, "default").is_error


@pytest.fixture
def accountant(home):
    """A remote model that asks the calculator for a compound interest figure, then says what it got."""
    server = LoopbackServer()

    def reply(request: Request) -> Response:
        last = request.body["messages"][-1]
        if last["role"] == "tool":
            return Response(chunks=[text_chunk(f"It comes to {last['content']}."), sse(None, "[DONE]")])
        offered = [t["function"]["name"] for t in request.body.get("tools", [])]
        assert "roundtable__calculator" in offered, offered
        return Response(
            chunks=[call_chunk("roundtable__calculator", {"expression": "compound(10000, 5, 10)"}), sse(None, "[DONE]")]
        )

    server.routes[("POST", "/v1/chat/completions")] = reply
    assert run_cli("copilots", "add", "acct", "--openai", server.url, "--model", "m").returncode == 0
    yield server
    server.close()


def test_a_copilot_granted_the_calculator_gets_the_exact_figure(accountant) -> None:
    assert run_cli("copilots", "grant", "acct", "roundtable.nope").returncode == 2
    granted = run_cli("copilots", "grant", "acct", "roundtable.calculator")
    assert granted.returncode == 0, granted.stderr
    asked = run_cli("ask", "--copilot", "acct", "--yes", "--json", "10000 at 5% for 10 years?")
    assert asked.returncode == 0, asked.stderr
    events = [json.loads(line) for line in asked.stdout.splitlines()]
    tools = [(e["tool"], e["status"], e["result"]) for e in events if e["type"] == "tool"]
    assert tools == [("roundtable.calculator", "called", None), ("roundtable.calculator", "done", "16288.9462677744")]
    assert "".join(e["delta"] for e in events if e["type"] == "text") == "It comes to 16288.9462677744."
    # the same consent as any tool: without --yes nobody at the terminal allows it
    refused = run_cli("ask", "--copilot", "acct", "Again?")
    assert "The user did not allow roundtable.calculator" in refused.stdout
    reserved = run_cli("tools", "add", "roundtable", "--", "true")
    assert reserved.returncode == 2 and "Roundtable's own tools" in reserved.stderr
