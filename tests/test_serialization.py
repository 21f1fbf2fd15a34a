from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.contracts import ParcelMeta, TaskParcel
from simple_async_tasks.errors import SerializationError
from simple_async_tasks.parcel import decode_parcel, encode_parcel
from simple_async_tasks.serialization import (
    default_converter,
    dumps,
    loads,
    structure_task,
    unstructure_task,
)

from .tasks import Address, Color, RichTask

aware = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9999, 1, 1),
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30))]),
)
text = st.text(max_size=30)

rich_tasks = st.builds(
    RichTask,
    key=text,
    count=st.integers(min_value=-(2**63), max_value=2**63),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    flag=st.booleans(),
    blob=st.binary(max_size=64),
    when=st.none() | aware,
    day=st.none() | st.dates(),
    color=st.sampled_from(Color),
    tags=st.lists(text, max_size=5),
    scores=st.dictionaries(text, st.integers(), max_size=5),
    address=st.none() | st.builds(Address, street=text, zip_code=st.none() | text),
    note=text,
    status=st.sampled_from(AsyncTaskStatus),
    attempts=st.integers(min_value=0, max_value=1000),
    last_error=st.none() | text,
    execute_after=st.none() | aware,
    created_at=st.none() | aware,
)


@given(rich_tasks)
def test_any_task_survives_the_json_round_trip(task):
    body = dumps(unstructure_task(task))
    back = structure_task(loads(body), RichTask)
    assert back == task
    assert type(back.status) is AsyncTaskStatus  # not a plain str that compares equal
    assert type(back.color) is Color


@given(rich_tasks, st.integers(min_value=0, max_value=500))
def test_any_parcel_survives_the_wire(task, depth):
    parcel = TaskParcel(
        task=task,
        meta=ParcelMeta(
            queue_type="SQS", queue_url="q", task_type="rich-task", requeue_depth=depth
        ),
    )
    assert (
        decode_parcel(encode_parcel(parcel, default_converter), RichTask, default_converter)
        == parcel
    )


def test_wire_shapes_of_special_types():
    task = RichTask(
        key="k",
        blob=b"\x00\xff",
        when=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        day=date(2026, 1, 2),
        color=Color.BLUE,
    )
    data = unstructure_task(task)
    assert data["blob"] == "AP8="  # base64
    assert data["when"] == "2026-01-02T03:04:05+00:00"  # ISO-8601
    assert data["day"] == "2026-01-02"
    assert data["color"] == "blue"  # enums by value
    assert data["status"] == "QUEUED"
    assert data["note"] == ""  # empty strings stay empty strings


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_values_json_cannot_hold_are_refused(bad):
    with pytest.raises(SerializationError, match="cannot be written as JSON"):
        dumps(unstructure_task(RichTask(key="k", ratio=bad)))


def test_nan_in_incoming_json_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        loads('{"x": NaN}')


def test_structure_errors_name_the_field():
    with pytest.raises(SerializationError, match=r"count"):
        structure_task({"key": "k", "count": "many"}, RichTask)
    with pytest.raises(SerializationError, match="key"):
        structure_task({"count": 1}, RichTask)
    with pytest.raises(SerializationError, match="expected a JSON object"):
        structure_task(["k"], RichTask)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key", 42),
        ("count", "1"),
        ("count", True),
        ("ratio", "0.5"),
        ("flag", 1),
        ("tags", "ab"),
        ("scores", [1]),
        ("scores", "x"),
        ("address", "x"),
    ],
)
def test_wrong_scalar_types_are_refused_not_coerced(field, value):
    with pytest.raises(SerializationError, match=field):
        structure_task({"key": "k", field: value}, RichTask)


def test_bad_base64_and_datetimes_are_refused():
    with pytest.raises(SerializationError, match="blob"):
        structure_task({"key": "k", "blob": "not base64!"}, RichTask)
    with pytest.raises(SerializationError, match="when"):
        structure_task({"key": "k", "when": 12}, RichTask)


def test_extra_fields_are_ignored():
    task = structure_task({"key": "k", "uuid": "id1", "surprise": 1}, RichTask)
    assert task == RichTask(key="k", uuid="id1")


def test_converter_is_replaceable():
    from simple_async_tasks.serialization import make_converter

    conv = make_converter()
    conv.register_unstructure_hook(Color, lambda c: c.name)
    conv.register_structure_hook(Color, lambda v, _: Color[v])
    task = RichTask(key="k", color=Color.BLUE)
    data = unstructure_task(task, conv)
    assert data["color"] == "BLUE"
    assert structure_task(json.loads(json.dumps(data)), RichTask, conv) == task
