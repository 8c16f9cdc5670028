"""`app.core.fields.Record` keeps the part of pydantic's BaseModel the settings and manifests use, with the same
words in its errors: each case is validated by a Record and by the same declaration in pydantic, side by side."""

import math
import pickle
from typing import Any, Literal

import pydantic
import pytest

from app.core import fields
from app.core.crew.copilots import Copilot
from app.core.settings import Settings


class Inner(fields.Record):
    ratio: float = fields.Field(0.5, gt=0.0, le=1.0)
    cap: int | None = fields.Field(None, ge=1)


class Outer(fields.Record):
    name: str = fields.Field(min_length=1, max_length=5)
    colour: str = fields.Field("#000000", pattern=r"^#[0-9a-f]{6}$")
    count: int = fields.Field(3, ge=0, lt=10)
    flag: bool = True
    mode: Literal["a", "b"] = "a"
    either: bool | Literal["auto"] = "auto"
    tags: list[str] = fields.Field(default_factory=list)
    inner: Inner = fields.Field(default_factory=lambda: Inner())

    @fields.field_validator("name")
    @classmethod
    def _no_x(cls, value: str) -> str:
        if "x" in value:
            raise ValueError("no x, please")
        return value


def _pydantic_twins() -> tuple[Any, Any]:
    """The same declarations in pydantic, under the same class names (its errors name them)."""

    class Inner(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        ratio: float = pydantic.Field(0.5, gt=0.0, le=1.0)
        cap: int | None = pydantic.Field(None, ge=1)

    class Outer(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        name: str = pydantic.Field(min_length=1, max_length=5)
        colour: str = pydantic.Field("#000000", pattern=r"^#[0-9a-f]{6}$")
        count: int = pydantic.Field(3, ge=0, lt=10)
        flag: bool = True
        mode: Literal["a", "b"] = "a"
        either: bool | Literal["auto"] = "auto"
        tags: list[str] = pydantic.Field(default_factory=list)
        inner: Inner = pydantic.Field(default_factory=Inner)

        @pydantic.field_validator("name")
        @classmethod
        def _no_x(cls, value: str) -> str:
            if "x" in value:
                raise ValueError("no x, please")
            return value

    return Inner, Outer


_, POuter = _pydantic_twins()


GOOD: list[dict[str, Any]] = [
    {"name": "ok"},
    {"name": "ok", "count": "7", "flag": "yes", "either": False, "tags": ("a", "b")},
    {"name": "ok", "count": 4.0, "inner": {"ratio": 1, "cap": "3"}, "mode": "b", "either": "auto"},
    {"name": "ok", "flag": 0, "inner": {"ratio": "0.25"}},
]
BAD: list[dict[str, Any]] = [
    {},  # name missing
    {"name": ""},
    {"name": "toolong"},
    {"name": "has x"},
    {"name": 5},
    {"name": "ok", "colour": "red"},
    {"name": "ok", "count": -1},
    {"name": "ok", "count": 10},
    {"name": "ok", "count": 1.5},
    {"name": "ok", "count": "many"},
    {"name": "ok", "count": None},
    {"name": "ok", "flag": "perhaps"},
    {"name": "ok", "flag": [1]},
    {"name": "ok", "mode": "c"},
    {"name": "ok", "mode": {"a": 1}},
    {"name": "ok", "tags": "a,b"},
    {"name": "ok", "tags": ["a", 2]},
    {"name": "ok", "inner": 3},
    {"name": "ok", "inner": {"ratio": 0}},
    {"name": "ok", "inner": {"ratio": 2}},
    {"name": "ok", "inner": {"ratio": "half"}},
    {"name": "ok", "inner": {"cap": 0}},
    {"name": "ok", "inner": {"other": 1}},
    {"name": "ok", "surprise": 1},
    {"name": "ok", "inner": {"ratio": math.nan}},
]


@pytest.mark.parametrize("data", GOOD, ids=range(len(GOOD)))
def test_what_pydantic_accepts_a_record_accepts_with_the_same_values(data: dict) -> None:
    ours, theirs = Outer.model_validate(data), POuter.model_validate(data)
    assert ours.model_dump() == theirs.model_dump()
    assert ours.model_dump(exclude_defaults=True) == theirs.model_dump(exclude_defaults=True)


@pytest.mark.parametrize("data", BAD, ids=range(len(BAD)))
def test_what_pydantic_refuses_a_record_refuses_in_the_same_words(data: dict) -> None:
    with pytest.raises(pydantic.ValidationError) as theirs:
        POuter.model_validate(data)
    with pytest.raises(fields.ValidationError) as ours:
        Outer.model_validate(data)
    expected, got = theirs.value.errors()[0], ours.value.errors()[0]
    assert (got["loc"], got["msg"], got["type"]) == (tuple(expected["loc"]), expected["msg"], expected["type"])


def test_a_union_of_a_bool_and_a_choice_names_both_when_neither_fits() -> None:
    # pydantic reports one error per member (loc `either.bool`, `either.literal['auto']`); we say it in one line
    with pytest.raises(fields.ValidationError) as refused:
        Outer.model_validate({"name": "ok", "either": "maybe"})
    error = refused.value.errors()[0]
    assert error["loc"] == ("either",) and error["msg"] == "Input should be true, false or 'auto'"


def test_assignment_is_validated_and_copies_dumps_and_pickles_behave_as_pydantics() -> None:
    record = Outer(name="ok")
    record.count = "5"
    assert record.count == 5
    with pytest.raises(fields.ValidationError, match="less than 10"):
        record.count = 12
    with pytest.raises(AttributeError):
        record.nonsense = 1
    assert record.count == 5

    copy = record.model_copy(update={"tags": ["t"]})
    assert copy.tags == ["t"] and record.tags == [] and copy != record
    assert record.model_dump(exclude_none=True)["inner"] == {"ratio": 0.5}  # cap None left out, nested too
    assert pickle.loads(pickle.dumps(copy)) == copy
    assert Outer.model_validate(copy) is copy
    assert list(Outer.model_fields)[:3] == ["name", "colour", "count"] and Outer.model_fields["name"].required


def test_defaults_are_fresh_for_each_record() -> None:
    first, second = Outer(name="a"), Outer(name="b")
    first.tags.append("mine")
    first.inner.ratio = 0.75
    assert second.tags == [] and second.inner.ratio == 0.5


@pytest.mark.parametrize("model", [Settings, Copilot])
def test_the_settings_and_manifests_dump_as_they_did_with_pydantic(model: Any) -> None:
    """The shapes stored on disk and in the database: every field, in declaration order, with its default."""
    record = model() if model is Settings else model(id="x", name="X")
    dumped = record.model_dump()
    assert list(dumped) == list(model.model_fields)
    assert model.model_validate(dumped) == record
    assert record.model_dump(exclude_defaults=True) == ({} if model is Settings else {"id": "x", "name": "X"})
