"""Secret fields: always text, never echoed.

YAML and the environment type a bare ``31415926535`` or ``true`` as a number or a
boolean; a plain ``SecretStr`` then rejects it and pydantic's error quotes the value.
:data:`Secret` takes any scalar as text and hides any other input from error messages;
:func:`secret_paths` finds every such field so the loader can keep a secret's text as
written (``0123`` stays ``0123``, not YAML's octal 83) and tests can cover each one.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, SecretStr, ValidatorFunctionWrapHandler, WrapValidator

ANY_KEY = "*"
"""Stands for any key of a ``dict[str, Model]`` section in a secret's path."""


class HiddenInput:
    """What pydantic sees instead of an invalid secret, so its errors name only the type."""

    def __init__(self, value: object) -> None:
        self.kind = type(value).__name__

    def __repr__(self) -> str:
        return f"a {self.kind}, value not shown"


def _as_text(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, bool):
        value = "true" if value else "false"  # as YAML spells it
    elif isinstance(value, int | float):
        value = str(value)
    elif value is not None and not isinstance(value, str | SecretStr):
        value = HiddenInput(value)
    return handler(value)


Secret = Annotated[SecretStr, WrapValidator(_as_text)]
"""A ``SecretStr`` that takes numbers and booleans as their text and never echoes its input."""


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _is_secret(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_secret(a) for a in typing.get_args(annotation))
    return False


def _models_in(annotation: Any) -> Iterator[tuple[tuple[str, ...], type[BaseModel]]]:
    """Nested models of a field, with the path steps that lead into them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield (), annotation
        return
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        yield from _models_in(args[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            yield from _models_in(arg)
    elif origin is dict:
        for steps, model in _models_in(args[1]):
            yield (ANY_KEY, *steps), model
    elif origin is list:
        for steps, model in _models_in(args[0]):
            yield (ANY_KEY, *steps), model


def secret_paths(model: type[BaseModel]) -> list[tuple[str, ...]]:
    """Paths (by alias where one is set) of every secret field under ``model``; ``*`` is any key."""
    paths: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if _is_secret(field.annotation):
            paths.append((key,))
            continue
        for steps, sub in _models_in(field.annotation):
            paths.extend((key, *steps, *rest) for rest in secret_paths(sub))
    return paths


def is_secret_path(path: typing.Sequence[str], paths: typing.Iterable[tuple[str, ...]]) -> bool:
    return any(
        len(p) == len(path) and all(a in (ANY_KEY, b) for a, b in zip(p, path, strict=True))
        for p in paths
    )
