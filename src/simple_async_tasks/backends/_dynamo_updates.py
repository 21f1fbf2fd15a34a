"""The ``UpdateExpression`` of the DynamoDB DAO's two writes of a task: a whole-task save
(enqueue, upsert) and a lifecycle transition (claim, renewal, finish, ...).

Pure functions of an ``Expression`` (which collects the names and values): no call,
no client, so each is read and tested on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..contracts import KEEP, Transition
from ..task import AsyncTask
from ._dynamo_codec import AttributeValue, to_attr, utc_text
from ._dynamo_expressions import Expression
from ._dynamo_index import StatusIndex
from ._dynamo_locks import TTL_ATTRIBUTE
from ._records import OPTIONAL_LIFECYCLE_FIELDS


def _optional_fields(
    expr: Expression, source: object, sets: list[str], removes: list[str]
) -> None:
    """SET or REMOVE each optional lifecycle field as ``source`` (a task, or a transition
    whose ``KEEP`` leaves the stored value) says."""
    n = expr.name
    for name in OPTIONAL_LIFECYCLE_FIELDS:
        value = getattr(source, name)
        if value is KEEP:
            continue
        if value is None:
            removes.append(n(name))
        else:
            text = utc_text(value) if isinstance(value, datetime) else str(value)
            sets.append(f"{n(name)} = {expr.value({'S': text})}")


def _finish(
    expr: Expression, expires: AttributeValue | None, sets: list[str], removes: list[str]
) -> str:
    """The expression text, with the time-to-live set (a finished task that expires) or
    removed."""
    if expires is not None:
        sets.append(f"{expr.name(TTL_ATTRIBUTE)} = {expr.value(expires)}")
    else:
        removes.append(expr.name(TTL_ATTRIBUTE))
    return "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")


def save_update(
    expr: Expression,
    task: AsyncTask,
    *,
    task_type: str,
    unique_key: str,
    fields: dict[str, Any],
    index: StatusIndex,
    now: datetime,
    expires: AttributeValue | None,
) -> str:
    """The whole-task write: business fields replaced, lifecycle fields as the task has
    them, except what a save keeps from the stored record (``uuid``, ``created_at``, the
    counts) and the version, incremented."""
    n = expr.name
    created = f"if_not_exists({n('created_at')}, {expr.value({'S': utc_text(now)})})"
    index_sets, removes = index.keys(
        expr, task.status, unique_key, due=task.execute_after, now=now, created_at=created
    )
    sets = [
        f"{n('task_type')} = {expr.value({'S': task_type})}",
        f"{n('unique_key')} = {expr.value({'S': unique_key})}",
        f"{n('status')} = {expr.value({'S': task.status.value})}",
        f"{n('fields')} = {expr.value(to_attr(fields))}",
        *index_sets,
        f"{n('updated_at')} = {expr.value({'S': utc_text(now)})}",
        f"{n('uuid')} = if_not_exists({n('uuid')}, {expr.value({'S': task.uuid})})",
        f"{n('created_at')} = {created}",
        f"{n('attempts')} = if_not_exists({n('attempts')}, {expr.value({'N': '0'})})",
        f"{n('failures')} = if_not_exists({n('failures')}, {expr.value({'N': '0'})})",
        f"{n('version')} = if_not_exists({n('version')}, {expr.value({'N': '0'})}) "
        f"+ {expr.value({'N': '1'})}",
    ]
    _optional_fields(expr, task, sets, removes)
    return _finish(expr, expires, sets, removes)


def transition_update(
    expr: Expression,
    change: Transition,
    *,
    unique_key: str,
    index: StatusIndex,
    now: datetime,
    expires: AttributeValue | None,
) -> str:
    """A lifecycle change: the status and its index keys, the counters added to, the
    optional fields set, cleared or kept, the version incremented."""
    n = expr.name
    due = change.execute_after if isinstance(change.execute_after, datetime) else None
    index_sets, removes = index.keys(expr, change.status, unique_key, due=due, now=now)
    sets = [
        f"{n('status')} = {expr.value({'S': change.status.value})}",
        *index_sets,
        f"{n('updated_at')} = {expr.value({'S': utc_text(now)})}",
        f"{n('version')} = {n('version')} + {expr.value({'N': '1'})}",
    ]
    for counter, delta in (("attempts", change.add_attempts), ("failures", change.add_failures)):
        if delta:
            sets.append(f"{n(counter)} = {n(counter)} + {expr.value({'N': str(delta)})}")
    _optional_fields(expr, change, sets, removes)
    return _finish(expr, expires, sets, removes)
