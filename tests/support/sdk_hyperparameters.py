"""Every field of the official SDK's job-create ``hyperparameters``, found by walking its
TypedDicts, each with a distinct sample value: tests built on it follow the SDK when it
gains a field, instead of a list we would have to remember to update.

``EXCLUDED`` is what prefstream deliberately does not offer (and its tests prove refused).
"""

from __future__ import annotations

import collections.abc
import typing
from dataclasses import dataclass
from typing import Any, Literal

import typing_extensions
from nemo_microservices.types.customization import HyperparametersParam

Path = tuple[str, ...]

EXCLUDED: dict[Path, str] = {
    ("grpo",): "GRPO trains from an environment, not from a preference dataset",
    ("distillation",): "distillation trains from a teacher model, not from a preference dataset",
}
"""Sections for training types a DPO pipeline has no data for."""
EXCLUDED_VALUES: dict[Path, frozenset[str]] = {
    ("training_type",): frozenset({"grpo", "distillation"}),
}
"""Literal values refused for the same reason as the sections above."""


@dataclass(frozen=True)
class Field:
    path: Path
    annotation: Any

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def choices(self) -> tuple[Any, ...]:
        """The Literal's values (empty for other types)."""
        return typing.get_args(self.annotation) if _is_literal(self.annotation) else ()


def _is_literal(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Literal, typing_extensions.Literal)


def sdk_fields(root: Any = HyperparametersParam, prefix: Path = ()) -> list[Field]:
    """The leaves under ``root``, nested TypedDicts walked, excluded sections left out."""
    out: list[Field] = []
    for name, annotation in typing.get_type_hints(root).items():
        path = (*prefix, name)
        if path in EXCLUDED:
            continue
        if typing_extensions.is_typeddict(annotation):
            out.extend(sdk_fields(annotation, path))
        else:
            out.append(Field(path, annotation))
    return out


def sample(field: Field, index: int) -> Any:
    """A valid value, distinct per ``index`` so a value sent under the wrong key shows."""
    annotation = field.annotation
    if _is_literal(annotation):
        refused = EXCLUDED_VALUES.get(field.path, frozenset())
        return next(v for v in field.choices() if v not in refused)
    if annotation is bool:
        return True
    if annotation is int:
        return 2 + index
    if annotation is float:
        return round(0.5 + index / 100, 2)  # in (0, 1): a valid dropout, beta or fraction
    if annotation is str:
        return f"text-{index}"
    if typing.get_origin(annotation) in (collections.abc.Sequence, list):
        return [f"item-{index}-a", f"item-{index}-b"]
    raise TypeError(f"no sample for SDK field {field.dotted}: {annotation!r}; teach sample()")


def samples() -> list[tuple[Field, Any]]:
    return [(f, sample(f, i)) for i, f in enumerate(sdk_fields())]


def nested(values: list[tuple[Field, Any]]) -> dict[str, Any]:
    """``{"dpo": {"max_grad_norm": 0.5}, ...}`` from the fields' paths."""
    out: dict[str, Any] = {}
    for field, value in values:
        node = out
        for key in field.path[:-1]:
            node = node.setdefault(key, {})
        node[field.path[-1]] = value
    return out


def at(body: dict[str, Any], path: Path) -> Any:
    node: Any = body
    for key in path:
        node = node[key]
    return node
