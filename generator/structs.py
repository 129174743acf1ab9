"""What the msgspec ``Struct``s of fibery-kb share: one-line errors naming the key, and
what their fields declare (description, card title), for the docs and the model cards.

msgspec checks types and constraints while it decodes and stops at the first error. Its
message names the place as a JSON path in which a dict's key is only ``[...]``
(``$.publish_when[...][...]``). ``explain`` finds that key again in the data and words the
problem as fibery-kb always has (``publish_when.Guides.State``: ``List should have at
least 1 item``), so that a mistake in ``kb.toml`` or in a snapshot is named the same way
whichever library checked it. A check msgspec has no constraint for runs in the struct's
``__post_init__`` and raises ``FieldError``: msgspec would name only the struct, not the
field.
"""

from __future__ import annotations

import functools
import gc
import re
import types
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import msgspec

if typing.TYPE_CHECKING:
    import msgspec.inspect

T = TypeVar("T")
_ERROR = re.compile(r"(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.DOTALL)
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]|\[\.\.\.\]")
_OF_FIELD = {
    "unknown key": re.compile(r"Object contains unknown field `(.*)`", re.DOTALL),
    "Field required": re.compile(r"Object missing required field `(.*)`", re.DOTALL),
}
_MIN_ITEMS = re.compile(r"Expected `array` of length >= (\d+)")
_BOUND = re.compile(r"Expected `(?:int|float)` (>=|>|<=|<) (\S+)")
_BOUND_WORDS = {">=": "greater than or equal to", ">": "greater than", "<=": "less than or equal to", "<": "less than"}
_WRONG_TYPE = re.compile(r"Expected `([^`]+)`, got `([^`]+)`")
_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "a boolean",
    "array": "a list",
    "object": "a dictionary",
    "null": "null",
}


class FieldError(ValueError):
    """A value that a struct's ``__post_init__`` rejects, with the field it is the value of."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def explain(error: msgspec.ValidationError, root: Any, data: Any) -> tuple[str, str]:
    """``(key, problem)`` for msgspec's ``error`` in converting ``data`` (the decoded TOML or
    JSON) to the type ``root``: the key dotted (``databases.0.key``; ``""`` for the whole),
    the problem in the words above."""
    match = _ERROR.fullmatch(str(error))
    assert match is not None  # the pattern matches any text
    message = match["message"]
    keys, annotation = _locate(match["path"] or "", root, data)
    if isinstance(error.__cause__, FieldError):
        return ".".join([*keys, error.__cause__.field]), str(error.__cause__)
    for problem, pattern in _OF_FIELD.items():
        if found := pattern.fullmatch(message):
            return ".".join([*keys, found[1]]), problem
    return ".".join(keys), _problem(message, annotation)


def _problem(message: str, annotation: Any) -> str:
    """msgspec's ``message`` about a value of type ``annotation``, in our words."""
    if message.startswith("Invalid enum value"):
        return f"Input should be {_choices(annotation)}"
    if found := _MIN_ITEMS.fullmatch(message):
        return f"List should have at least {found[1]} item{'' if found[1] == '1' else 's'}"
    if found := _BOUND.fullmatch(message):
        return f"Input should be {_BOUND_WORDS[found[1]]} {found[2].removesuffix('.0')}"
    if found := _WRONG_TYPE.fullmatch(message):
        return f"Input should be {_type_words(found[1])}, not {_type_words(found[2])}"
    return message


def _type_words(names: str) -> str:
    """``str | null`` → "a string" (a missing key is how a TOML file or a snapshot says null)."""
    words = [_TYPE_WORDS.get(name, name) for name in names.split(" | ") if name != "null"]
    return " or ".join(words) or "null"


def _choices(annotation: Any) -> str:
    """The values an enum or a ``Literal`` allows, as "'a', 'b' or 'c'"."""
    annotation = _bare(annotation)
    options = (
        [member.value for member in annotation]
        if isinstance(annotation, type) and issubclass(annotation, Enum)
        else list(typing.get_args(annotation))
    )
    quoted = [repr(option) for option in options]
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


def _locate(path: str, annotation: Any, data: Any) -> tuple[list[str], Any]:
    """Follow msgspec's ``path`` (``.databases[0].key``, ``.publish_when[...]``) through
    ``data`` and its type: the keys it passes, dict keys found again, and the type at its end."""
    keys: list[str] = []
    for step in _STEP.finditer(path):
        name, index = step[1], step[2]
        annotation = _item_type(annotation, name)
        if name is not None:
            key, data = name, data.get(name) if isinstance(data, dict) else None
        elif index is not None:
            key, data = index, data[int(index)] if isinstance(data, list) and int(index) < len(data) else None
        else:
            key = _failing_key(data, annotation)
            data = data.get(key) if isinstance(data, dict) else None
        keys.append(key)
    return keys, annotation


def _item_type(annotation: Any, field: str | None) -> Any:
    """The type of ``field`` of a struct, or of an item of a list or a dict (``field`` None)."""
    annotation = _bare(annotation)
    if field is not None:
        return _hints(annotation).get(field, Any) if isinstance(annotation, type) else Any
    args = typing.get_args(annotation)
    return args[-1] if args else Any


def _failing_key(data: Any, annotation: Any) -> str:
    """The first key of the dict ``data`` whose value is not an ``annotation``."""
    for key, value in data.items() if isinstance(data, dict) else ():
        try:
            msgspec.convert(value, annotation)
        except msgspec.ValidationError:
            return str(key)
    return "..."


def _bare(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` constraints and without ``| None``."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        others = [a for a in typing.get_args(annotation) if a is not type(None)]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(others) == 1:
            annotation = others[0]
            continue
        return annotation


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


# --------------------------------------------------------------------------- what fields declare


def about(text: str, **constraints: Any) -> msgspec.Meta:
    """A field's description, with its constraints (``ge``, ``min_length``…), kept with its
    type: ``fields_of`` reads it for the model cards and the ``kb.toml`` reference."""
    return msgspec.Meta(description=text, **constraints)


@dataclass(frozen=True)
class FieldInfo:
    """One field of a struct as its declaration describes it (``msgspec.Meta``)."""

    name: str
    type: msgspec.inspect.Type
    """msgspec's description of the type, constraints included (``IntType(ge=1, ...)``)."""
    default: Any
    """The default (a factory's product), or ``msgspec.NODEFAULT`` when the field is required."""
    title: str | None
    description: str | None
    extra: dict[str, Any]
    """``Meta(extra=...)``: ``{"url": True}`` makes a model card show the value as a link."""


def fields_of(cls: type[msgspec.Struct]) -> list[FieldInfo]:
    """The fields of the struct ``cls``, in declaration order, with what each declares."""
    import msgspec.inspect  # only the docs, the tests and the model cards ask

    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType), cls
    infos = []
    for field in info.fields:
        meta, kind = field.type, field.type
        schema: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if isinstance(meta, msgspec.inspect.Metadata):
            kind, schema, extra = meta.type, meta.extra_json_schema or {}, meta.extra or {}
        default = field.default if field.default_factory is msgspec.NODEFAULT else field.default_factory()
        infos.append(FieldInfo(field.name, kind, default, schema.get("title"), schema.get("description"), dict(extra)))
    return infos


# --------------------------------------------------------------------------- decoding


def decode_json(data: bytes | str, into: type[T]) -> T:
    """``msgspec.json.decode(data, type=into)`` with the garbage collector paused. Decoding
    a snapshot allocates millions of containers, all of which stay alive: each collection
    that their allocation triggers walks them for nothing (half the time of decoding 100,000
    entities). Decoding makes no reference cycles, so there is nothing to collect."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return msgspec.json.decode(data, type=into)
    finally:
        if paused:
            gc.enable()
