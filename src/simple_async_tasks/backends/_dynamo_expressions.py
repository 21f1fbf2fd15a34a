"""Write conditions as DynamoDB condition expressions."""

from __future__ import annotations

from typing import Any

from ..conditions import (
    Absent,
    AllOf,
    AnyOf,
    AttemptsEqual,
    Condition,
    DueBy,
    FailuresBelow,
    LeaseExpiredBy,
    LeaseIs,
    StatusIn,
    UpdatedBefore,
    VersionEquals,
)
from ._dynamo_codec import utc_text


class Expression:
    """Collects placeholder names and values while expressions are built."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict[str, Any]] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#{attribute}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, attr: dict[str, Any]) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = attr
        return placeholder

    def condition(self, condition: Condition) -> str:
        """The expression text of ``condition``."""
        if isinstance(condition, Absent):
            return f"attribute_not_exists({self.name('pk')})"
        if isinstance(condition, AllOf):
            return "(" + " AND ".join(self.condition(c) for c in condition.conditions) + ")"
        if isinstance(condition, AnyOf):
            return "(" + " OR ".join(self.condition(c) for c in condition.conditions) + ")"
        if isinstance(condition, StatusIn):
            if not condition.statuses:
                pk = self.name("pk")
                return f"(attribute_exists({pk}) AND attribute_not_exists({pk}))"
            options = ", ".join(
                self.value({"S": s.value})
                for s in sorted(condition.statuses, key=lambda s: s.value)
            )
            return f"{self.name('status')} IN ({options})"
        if isinstance(condition, VersionEquals):
            return f"{self.name('version')} = {self.value({'N': str(condition.version)})}"
        if isinstance(condition, AttemptsEqual):
            return f"{self.name('attempts')} = {self.value({'N': str(condition.attempts)})}"
        if isinstance(condition, FailuresBelow):
            return f"{self.name('failures')} < {self.value({'N': str(condition.limit)})}"
        if isinstance(condition, LeaseIs):
            return f"{self.name('lease_id')} = {self.value({'S': condition.lease_id})}"
        if isinstance(condition, DueBy):
            field = self.name("execute_after")
            moment = self.value({"S": utc_text(condition.moment)})
            return f"(attribute_not_exists({field}) OR {field} <= {moment})"
        if isinstance(condition, LeaseExpiredBy):
            field = self.name("lease_until")
            moment = self.value({"S": utc_text(condition.moment)})
            return f"(attribute_not_exists({field}) OR {field} <= {moment})"
        if isinstance(condition, UpdatedBefore):
            return f"{self.name('updated_at')} < {self.value({'S': utc_text(condition.moment)})}"
        raise TypeError(f"unknown condition {condition!r}")

    def params(self) -> dict[str, Any]:
        """The ExpressionAttributeNames/Values parameters (omitted when empty)."""
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out
