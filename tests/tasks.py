"""Task classes shared by the tests."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask


@attrs.frozen(kw_only=True)
class SendEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str
    email: str = "someone@example.com"


@attrs.frozen(kw_only=True)
class SyncAccount(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("account_id", "job")
    mutex: ClassVar[tuple[str, ...] | None] = ("account_id",)
    account_id: str
    job: int


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Address:
    street: str
    zip_code: str | None = None


@attrs.frozen(kw_only=True)
class RichTask(AsyncTask):
    """Every supported field type."""

    unique: ClassVar[tuple[str, ...]] = ("key",)
    task_type: ClassVar[str | None] = "rich-task"
    key: str
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    blob: bytes = b""
    when: datetime | None = None
    day: date | None = None
    color: Color = Color.RED
    tags: list[str] = attrs.field(factory=list)
    scores: dict[str, int] = attrs.field(factory=dict)
    address: Address | None = None
    note: str = ""
