"""Validated records for the settings and the copilot manifests, without pydantic.

The window reads both before its first paint, and pydantic's import and schema building cost about a fifth of
the window's start-up time and 18 MB of its idle memory (`bench/ui_responsiveness.py --start-only`). A `Record`
keeps the part of pydantic's `BaseModel` the app uses, with the same names and the same words in its errors:

- fields declared as annotations with defaults, or `Field(default, ge=, gt=, le=, lt=, min_length=,
  max_length=, pattern=, description=, default_factory=)`;
- the types `int`, `float`, `bool`, `str`, `list[str]`, `Literal[...]`, a nested `Record`, and unions of them
  with `None` (or `bool | Literal[...]`), converted as pydantic's lax mode does (`"4"` is an int, `1` a float);
- unknown keys refused ("Extra inputs are not permitted"), and assignment validated like construction;
- `@field_validator(name)` class methods whose `ValueError` becomes the field's error;
- `model_validate`, `model_dump(exclude_none=, exclude_defaults=)`, `model_dump_json`, `model_copy(update=)`
  and `model_fields`.

Anything else from outside (archives, the Hub's listings, the local API's requests) still goes through pydantic.
"""

from __future__ import annotations

import copy
import json
import math
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, get_args, get_origin

_NO_DEFAULT: Any = object()


@dataclass(frozen=True)
class FieldInfo:
    """One field's default and constraints, as `Field(...)` declares them."""

    default: Any = _NO_DEFAULT
    default_factory: Callable[[], Any] | None = None
    description: str | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT and self.default_factory is None

    def make_default(self) -> Any:
        return self.default_factory() if self.default_factory is not None else copy.copy(self.default)


def Field(  # noqa: N802 (pydantic's name, so a declaration reads the same)
    default: Any = _NO_DEFAULT,
    *,
    default_factory: Callable[[], Any] | None = None,
    description: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """A field's default and constraints (typed `Any` so that `x: int = Field(1)` type-checks)."""
    return FieldInfo(default, default_factory, description, ge, gt, le, lt, min_length, max_length, pattern)


class ValidationError(ValueError):
    """What was wrong, as pydantic reports it: `errors()` lists dicts with loc, msg, type and input."""

    def __init__(self, title: str, errors: list[dict[str, Any]]) -> None:
        self._errors = errors
        lines = [f"{len(errors)} validation error{'s' if len(errors) != 1 else ''} for {title}"]
        for error in errors:
            lines.append(".".join(str(part) for part in error["loc"]))
            lines.append(f"  {error['msg']} [type={error['type']}, input_value={error.get('input')!r}]")
        super().__init__("\n".join(lines))

    def errors(self) -> list[dict[str, Any]]:
        return list(self._errors)


class _Invalid(Exception):
    """One value's problem, raised while checking it; the caller adds where it was."""

    def __init__(self, kind: str, message: str, loc: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.kind, self.message, self.loc = kind, message, loc


def field_validator(name: str) -> Callable[[Any], Any]:
    """Mark a class method as the check of field `name`: it gets the converted value and returns the value to
    keep, or raises ValueError with the words the user should read."""

    def mark(method: Any) -> Any:
        function: Any = method.__func__ if isinstance(method, classmethod) else method
        function.__validates__ = name
        return method

    return mark


def _number_text(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


_TRUE = {"true", "yes", "on", "1", "t", "y"}
_FALSE = {"false", "no", "off", "0", "f", "n"}


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        if math.isfinite(value):
            raise _Invalid("int_from_float", "Input should be a valid integer, got a number with a fractional part")
        raise _Invalid("finite_number", "Input should be a finite number")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _Invalid(
                "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
            ) from None
    raise _Invalid("int_type", "Input should be a valid integer")


def _as_float(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise _Invalid(
                "float_parsing", "Input should be a valid number, unable to parse string as a number"
            ) from None
    raise _Invalid("float_type", "Input should be a valid number")


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, str | int | float):
        raise _Invalid("bool_parsing", "Input should be a valid boolean, unable to interpret input")
    raise _Invalid("bool_type", "Input should be a valid boolean")


def _as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid("string_type", "Input should be a valid string")


def _choices(values: tuple[Any, ...]) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _convert(kind: Any, value: Any) -> Any:
    """`value` as type `kind`, or _Invalid."""
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        options = tuple(option for option in options if option is not type(None))
        literals = [option for option in options if get_origin(option) is Literal]
        for option in literals:  # an exact choice first ("auto" before bool's "true"/"false" words)
            if value in get_args(option) and type(value) in {type(v) for v in get_args(option)}:
                return value
        problems = []
        for option in options:
            try:
                return _convert(option, value)
            except _Invalid as exc:
                problems.append(exc)
        if len(options) == 1:
            raise problems[0]
        described = [_described(option) for option in options]
        raise _Invalid("union", f"Input should be {', '.join(described[:-1])} or {described[-1]}")
    if origin is Literal:
        choices = get_args(kind)
        if value in choices and type(value) in {type(v) for v in choices}:
            return value
        raise _Invalid("literal_error", f"Input should be {_choices(choices)}")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise _Invalid("list_type", "Input should be a valid list")
        (item_kind,) = get_args(kind) or (Any,)
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_convert(item_kind, item))
            except _Invalid as exc:
                raise _Invalid(exc.kind, exc.message, (index, *exc.loc)) from None
        return items
    if kind is Any:
        return value
    if isinstance(kind, type) and issubclass(kind, Record):
        if isinstance(value, kind):
            return value
        if not isinstance(value, dict):
            raise _Invalid("model_type", f"Input should be a valid dictionary or instance of {kind.__name__}")
        return kind._from_mapping(value)
    converter = {bool: _as_bool, int: _as_int, float: _as_float, str: _as_str}.get(kind)
    if converter is None:
        raise TypeError(f"a Record field cannot be of type {kind!r}")
    return converter(value)


def _described(kind: Any) -> str:
    if get_origin(kind) is Literal:
        return ", ".join(repr(v) for v in get_args(kind))
    return {bool: "true, false", int: "an integer", float: "a number", str: "a string"}.get(kind, str(kind))


def _check_constraints(info: FieldInfo, value: Any) -> None:
    """pydantic's order: le, lt, ge, gt for numbers; lengths, then the pattern, for text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        for kind, bound, holds, words in (
            ("less_than_equal", info.le, value <= (info.le or 0), "less than or equal to"),
            ("less_than", info.lt, value < (info.lt or 0), "less than"),
            ("greater_than_equal", info.ge, value >= (info.ge or 0), "greater than or equal to"),
            ("greater_than", info.gt, value > (info.gt or 0), "greater than"),
        ):
            if bound is not None and not holds:
                raise _Invalid(kind, f"Input should be {words} {_number_text(bound)}")
    if isinstance(value, str | list):
        noun = "character" if isinstance(value, str) else "item"
        start = "String" if isinstance(value, str) else "List"
        prefix = "string_" if isinstance(value, str) else ""
        if info.min_length is not None and len(value) < info.min_length:
            plural = "" if info.min_length == 1 else "s"
            raise _Invalid(f"{prefix}too_short", f"{start} should have at least {info.min_length} {noun}{plural}")
        if info.max_length is not None and len(value) > info.max_length:
            plural = "" if info.max_length == 1 else "s"
            raise _Invalid(f"{prefix}too_long", f"{start} should have at most {info.max_length} {noun}{plural}")
    if info.pattern is not None and isinstance(value, str) and not re.search(info.pattern, value):
        raise _Invalid("string_pattern_mismatch", f"String should match pattern '{info.pattern}'")


class Record:
    """A validated record: subclass it and declare fields as annotations (see the module's docstring)."""

    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    _types: ClassVar[dict[str, Any] | None] = None
    _validators: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, FieldInfo] = {}
        validators: dict[str, Callable[[Any], Any]] = {}
        for klass in reversed(cls.__mro__):
            for name in klass.__dict__.get("__annotations__", {}):
                if name.startswith("_") or name == "model_fields":
                    continue
                declared = klass.__dict__.get(name, _NO_DEFAULT)
                fields[name] = declared if isinstance(declared, FieldInfo) else FieldInfo(default=declared)
            for attribute in klass.__dict__.values():
                function = attribute.__func__ if isinstance(attribute, classmethod) else attribute
                target = getattr(function, "__validates__", None)
                if target is not None:
                    validators[target] = getattr(cls, function.__name__)
        for name in fields:  # the class attribute would shadow nothing, but would read as the default
            if name in cls.__dict__:
                delattr(cls, name)
        cls.model_fields = fields
        cls._validators = validators
        cls._types = None

    @classmethod
    def _field_types(cls) -> dict[str, Any]:
        if cls._types is None:  # resolved on first use: the annotations are strings until the module is whole
            hints = typing.get_type_hints(cls)
            cls._types = {name: hints[name] for name in cls.model_fields}
        return cls._types

    @classmethod
    def _check_field(cls, name: str, value: Any) -> Any:
        """The value to keep for field `name`, or _Invalid with the field's own place in `loc`."""
        try:
            kept = _convert(cls._field_types()[name], value)
            if kept is not None:
                _check_constraints(cls.model_fields[name], kept)
            validator = cls._validators.get(name)
            if validator is not None:
                try:
                    kept = validator(kept)
                except ValueError as exc:
                    raise _Invalid("value_error", f"Value error, {exc}") from None
        except _Invalid as exc:
            raise _Invalid(exc.kind, exc.message, (name, *exc.loc)) from None
        return kept

    @classmethod
    def _from_mapping(cls, data: dict[str, Any]) -> Self:
        """A record from `data`; _Invalid for the first problem, in field order, then unknown keys."""
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            if name in data:
                values[name] = cls._check_field(name, data[name])
            elif info.required:
                raise _Invalid("missing", "Field required", (name,))
            else:
                values[name] = info.make_default()
        for key in data:
            if key not in cls.model_fields:
                raise _Invalid("extra_forbidden", "Extra inputs are not permitted", (key,))
        record = cls.__new__(cls)
        object.__setattr__(record, "__dict__", values)
        return record

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        """A record from a dict (or a record of this class), or ValidationError."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise ValidationError(
                cls.__name__,
                [
                    {
                        "type": "model_type",
                        "loc": (),
                        "msg": f"Input should be a valid dictionary or instance of {cls.__name__}",
                        "input": data,
                    }
                ],
            )
        try:
            return cls._from_mapping(data)
        except _Invalid as exc:
            found: Any = data
            for part in exc.loc:
                try:
                    found = found[part]
                except (KeyError, IndexError, TypeError):
                    break
            error = {"type": exc.kind, "loc": exc.loc, "msg": exc.message, "input": found}
            raise ValidationError(cls.__name__, [error]) from None

    def __init__(self, **data: Any) -> None:
        object.__setattr__(self, "__dict__", type(self).model_validate(data).__dict__)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.model_fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        try:
            kept = self._check_field(name, value)
        except _Invalid as exc:
            error = {"type": exc.kind, "loc": exc.loc, "msg": exc.message, "input": value}
            raise ValidationError(type(self).__name__, [error]) from None
        self.__dict__[name] = kept

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like a pydantic model

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self.__dict__.items())

    def model_dump(self, *, exclude_none: bool = False, exclude_defaults: bool = False) -> dict[str, Any]:
        """The fields as plain data (nested records as dicts, lists copied)."""
        dumped: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if exclude_none and value is None:
                continue
            if exclude_defaults:
                info = self.model_fields[name]
                if not info.required and value == info.make_default():
                    continue
            if isinstance(value, Record):
                value = value.model_dump(exclude_none=exclude_none, exclude_defaults=exclude_defaults)
            elif isinstance(value, list):
                value = list(value)
            dumped[name] = value
        return dumped

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(), ensure_ascii=False, separators=(",", ":"))

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Self:
        """A shallow copy with `update`'s fields set as given (not validated, as pydantic does)."""
        record = type(self).__new__(type(self))
        object.__setattr__(record, "__dict__", {**self.__dict__, **(update or {})})
        return record
