"""Exact decimal arithmetic for copilots: small models get sums wrong, a calculator does not.

An expression is parsed (recursive descent over a few tokens), never `eval`ed, and computed with `decimal` at 34
significant digits, so 0.1 + 0.2 is 0.3 and money keeps its cents. Bounded: the expression's length, exponents
and the size of every result, so a hostile or confused model cannot make it run for long.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable
from decimal import Decimal

MAX_EXPRESSION = 500  # characters
MAX_EXPONENT = 10_000  # |n| in x ^ n
_DIGITS = 34
_SHOWN_PLACES = 10  # decimal places in the answer (trailing zeros dropped)
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?)|(?P<name>[A-Za-z_]\w*)|(?P<op>\*\*|[-+*/^%(),×÷]))"
)
_CURRENCY = str.maketrans("", "", "$€£¥")

DESCRIPTION = (
    "Exact decimal arithmetic (use it for every calculation). Operators: + - * / ^ and parentheses; x% is x/100, "
    "x% of y is x/100 * y. "
    "Functions: percent_of(p, x) = p% of x; add_percent(x, p) = x plus p%; percent_change(old, new); "
    "compound(principal, rate_percent, years, periods_per_year=1) = the value after compound interest; "
    "round(x, places); sqrt(x); abs(x); min(a, b, ...); max(a, b, ...). Write numbers without thousands separators."
)
PARAMETERS = {
    "type": "object",
    "properties": {
        "expression": {"type": "string", "description": "the arithmetic to do, with the numbers of the request"}
    },
    "required": ["expression"],
}


class CalculationError(ValueError):
    """An expression that cannot be computed; the message says what is wrong, for the model to fix it."""


def _compound(principal: Decimal, rate: Decimal, years: Decimal, per_year: Decimal = Decimal(1)) -> Decimal:
    if per_year <= 0:
        raise CalculationError("compound(): periods_per_year must be positive.")
    return principal * _power(1 + rate / 100 / per_year, per_year * years)


def _round(value: Decimal, places: Decimal = Decimal(0)) -> Decimal:
    if places != places.to_integral_value() or not 0 <= places <= 20:
        raise CalculationError("round(): places must be a whole number from 0 to 20.")
    return value.quantize(Decimal(1).scaleb(-int(places)), rounding=decimal.ROUND_HALF_UP)


def _percent_change(old: Decimal, new: Decimal) -> Decimal:
    if old == 0:
        raise CalculationError("percent_change(): the old value is 0, so there is no percentage change.")
    return (new - old) / abs(old) * 100


def _sqrt(value: Decimal) -> Decimal:
    if value < 0:
        raise CalculationError("sqrt(): the number is negative.")
    return value.sqrt()


_FUNCTIONS: dict[str, tuple[Callable[..., Decimal], int, int]] = {  # name -> (function, fewest, most arguments)
    "percent_of": (lambda p, x: p / 100 * x, 2, 2),
    "add_percent": (lambda x, p: x * (1 + p / 100), 2, 2),
    "percent_change": (_percent_change, 2, 2),
    "compound": (_compound, 3, 4),
    "round": (_round, 1, 2),
    "sqrt": (_sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "min": (min, 1, 50),
    "max": (max, 1, 50),
}
_CONSTANTS = {"pi": Decimal("3.141592653589793238462643383279503"), "e": Decimal(1).exp()}


def _power(base: Decimal, exponent: Decimal) -> Decimal:
    if abs(exponent) > MAX_EXPONENT:
        raise CalculationError(f"The exponent {exponent} is too large (at most {MAX_EXPONENT}).")
    if base == 0 and exponent < 0:
        raise CalculationError("0 cannot be raised to a negative power.")
    if base < 0 and exponent != exponent.to_integral_value():
        raise CalculationError("A negative number has no real fractional power.")
    return base**exponent


class _Parser:
    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None:
            raise CalculationError("The expression ends too early.")
        if expected is not None and token != expected:
            raise CalculationError(f"Expected '{expected}' but found '{token}'.")
        self.at += 1
        return token

    def expression(self) -> Decimal:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> Decimal:
        value = self.power()
        while self.peek() in ("*", "/", "×", "÷"):
            if self.take() in ("*", "×"):
                value *= self.power()
                continue
            divisor = self.power()
            if divisor == 0:
                raise CalculationError("Division by zero.")
            value /= divisor
        return value

    def power(self) -> Decimal:
        base = self.unary()
        if self.peek() in ("^", "**"):
            self.take()
            return _power(base, self.power())  # right-associative: 2^3^2 is 2^9
        return base

    def unary(self) -> Decimal:
        if self.peek() in ("-", "+"):
            return -self.unary() if self.take() == "-" else self.unary()
        value = self.primary()
        while self.peek() == "%":
            self.take()
            value /= 100
            if (self.peek() or "").lower() == "of":  # "17.5% of 2400", as people write it
                self.take()
                value *= self.unary()
        return value

    def primary(self) -> Decimal:
        token = self.take()
        if token == "(":
            value = self.expression()
            self.take(")")
            return value
        if token[0].isdigit() or token[0] == ".":
            return Decimal(token)
        name = token.lower()
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name not in _FUNCTIONS:
            known = ", ".join(_FUNCTIONS)
            raise CalculationError(f"Unknown name '{token}': the functions are {known}.")
        function, fewest, most = _FUNCTIONS[name]
        self.take("(")
        arguments = [self.expression()]
        while self.peek() == ",":
            self.take()
            arguments.append(self.expression())
        self.take(")")
        if not fewest <= len(arguments) <= most:
            raise CalculationError(f"{name}() takes {fewest}–{most} numbers, not {len(arguments)}.")
        return function(*arguments)


def _tokens(expression: str) -> list[str]:
    text = expression.translate(_CURRENCY).strip()
    tokens, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise CalculationError(
                f"Cannot read '{text[at:].lstrip()[:10]}' (a calculator expression has numbers, "
                "+ - * / ^ %, parentheses and the listed functions)."
            )
        tokens.append(match.group(match.lastgroup or "op"))
        at = match.end()
    return tokens


def calculate(expression: str) -> Decimal:
    """The exact value of `expression`; CalculationError with a message a model can act on."""
    if not expression.strip():
        raise CalculationError("The expression is empty.")
    if len(expression) > MAX_EXPRESSION:
        raise CalculationError(f"The expression is longer than {MAX_EXPRESSION} characters.")
    context = decimal.Context(
        prec=_DIGITS, Emax=10_000, Emin=-10_000, traps=[decimal.Overflow, decimal.InvalidOperation]
    )
    try:
        with decimal.localcontext(context):
            parser = _Parser(expression)
            value = parser.expression()
            if parser.peek() is not None:
                raise CalculationError(f"Unexpected '{parser.peek()}' after a complete expression.")
            return +value  # rounded to the context's precision
    except decimal.Overflow as exc:
        raise CalculationError("The result is too large.") from exc
    except decimal.InvalidOperation as exc:
        raise CalculationError("That is not a number (an invalid operation).") from exc
    except RecursionError as exc:
        raise CalculationError("The expression is nested too deeply.") from exc


def show(value: Decimal) -> str:
    """A result as people write it: no exponent, at most ten decimal places, no trailing zeros."""
    if abs(value) >= Decimal(10) ** 21:
        return f"{value:.6e}"
    with decimal.localcontext(decimal.Context(prec=_DIGITS + _SHOWN_PLACES)):
        text = f"{value.quantize(Decimal(1).scaleb(-_SHOWN_PLACES), rounding=decimal.ROUND_HALF_EVEN):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
