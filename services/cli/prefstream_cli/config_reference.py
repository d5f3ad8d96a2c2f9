"""Markdown reference of every config key, generated from the pydantic models themselves."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from prefstream_config import PrefstreamConfig
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

HEADER = """# Configuration reference

Generated from the models in `libs/config` by `make config-reference`; do not edit by hand.
One YAML file holds everything. NAT's sections (`trajectory_builders`, `trainer_adapters`,
`trainers`, `finetuning`, `llms`) use NAT's names and defaults, so a NAT finetuning config
loads unchanged. Resolution order: defaults < YAML (with `${VAR}` / `${VAR:-default}`
expansion) < environment `PREFSTREAM__SECTION__KEY=value` < `-o section.key value`.
`prefstream config show` prints the result with secrets masked. A secret is the text
written, whatever YAML or the environment would make of it (`password: 0123` is "0123",
not 83), and no error message ever shows a secret's value.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is SecretStr:
        return "secret"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "—"
        if isinstance(value, BaseModel):
            return "(section)"
        return f"`{json.dumps(value)}`" if value not in ({}, []) else "empty"
    value = field.default
    if value is PydanticUndefined:
        return "—"
    if isinstance(value, SecretStr):
        return '`""`' if not value.get_secret_value() else "(set)"
    return f"`{json.dumps(value, default=str)}`"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _nested(annotation: Any) -> tuple[type[BaseModel], str] | None:
    """The section model of a field (``Model``, ``Model | None``, ``list[Model] | None``) and
    the suffix its title gets (``[]`` for a list)."""
    if (model := _model_of(annotation)) is not None:
        return model, ""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args and (model := _model_of(args[0])) is not None:
        return model, "[]"
    if origin in (typing.Union, types.UnionType):
        found = [n for a in args if a is not type(None) and (n := _nested(a)) is not None]
        return found[0] if len(found) == 1 else None
    return None


def _section(title: str, model: type[BaseModel], lines: list[str]) -> None:
    lines += ["", f"## `{title}`", ""]
    if model.__doc__:
        lines += [" ".join(model.__doc__.split()), ""]
    lines += ["| key | type | default | notes |", "|---|---|---|---|"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        found = _nested(field.annotation)
        if found is not None:
            nested.append((f"{title}.{key}{found[1]}", found[0]))
        notes = " ".join((field.description or "").split())
        lines.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {notes} |")
    for sub_title, sub in nested:
        _section(sub_title, sub, lines)


def render_reference() -> str:
    lines = [HEADER.rstrip()]
    for name, field in PrefstreamConfig.model_fields.items():
        annotation = field.annotation
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is dict and args and _model_of(args[1]):
            model = _model_of(args[1])
            assert model is not None
            _section(f"{name}.<name>", model, lines)
        elif (model := _model_of(annotation)) is not None:
            _section(name, model, lines)
    return "\n".join(lines) + "\n"
