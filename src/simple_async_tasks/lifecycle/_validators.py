"""attrs validators for the settings values, whose errors name the class and the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

V = TypeVar("V")


def must(
    kind: type[V], holds: Callable[[V], bool], what: str
) -> Callable[[Any, attrs.Attribute[V], V], None]:
    """A validator of ``kind`` values raising ``ValueError("<Class>.<field> must <what>,
    got <value>")`` when ``holds`` is false."""

    def validate(instance: Any, attribute: attrs.Attribute[V], value: V) -> None:
        if not holds(value):
            name = type(instance).__name__
            raise ValueError(f"{name}.{attribute.name} must {what}, got {value}")

    return validate
