from __future__ import annotations

import base64
import json
import pickle
from datetime import datetime
from typing import ClassVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_async_tasks import AsyncTask
from simple_async_tasks.contracts import ParcelMeta, TaskParcel
from simple_async_tasks.errors import ParcelDecodeError
from simple_async_tasks.parcel import body_size_bound, decode_parcel, encode_parcel, parse_parcel
from simple_async_tasks.serialization import default_converter

from .tasks import Color, RichTask, SendEmail


def test_envelope_matches_the_typescript_original():
    parcel = TaskParcel(
        task=SendEmail(user_id="u1", email="a@b.c"),
        meta=ParcelMeta(queue_type="SQS", queue_url="https://q", task_type="SendEmail"),
    )
    body = json.loads(encode_parcel(parcel, default_converter))
    assert set(body) == {"task", "meta"}
    assert body["meta"] == {
        "queueType": "SQS",
        "queueUrl": "https://q",
        "enqueueUuid": parcel.meta.enqueue_uuid,
        "requeueDepth": 0,
        "taskType": "SendEmail",
    }
    assert body["task"]["user_id"] == "u1"
    assert body["task"]["status"] == "QUEUED"


def test_typescript_parcel_without_meta_is_read_with_no_task_type():
    raw = parse_parcel('{"task": {"user_id": "u1"}}')  # TS before 1.5.0 sent no meta
    assert raw.task == {"user_id": "u1"}
    assert raw.meta.task_type is None
    assert raw.meta.requeue_depth == 0


def test_typescript_parcel_without_task_type_and_unknown_meta_keys():
    body = json.dumps(
        {
            "task": {"status": "QUEUED", "user_id": "u1", "email": "a@b.c"},
            "meta": {
                "queueType": "SQS",
                "queueUrl": "https://q",
                "enqueueUuid": "e1",
                "requeueDepth": 2,
                "somethingNew": True,
            },
        }
    )
    parcel = decode_parcel(body, SendEmail, default_converter)
    assert parcel.task.user_id == "u1"
    assert parcel.meta.task_type is None
    assert parcel.meta.requeue_depth == 2
    assert parcel.meta.enqueue_uuid == "e1"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"meta": {}}', "no 'task' object"),
        ('{"task": {}, "meta": "SQS"}', "meta must be an object"),
        ('{"task": {}, "meta": {"requeueDepth": -1}}', "requeueDepth"),
        ('{"task": {}, "meta": {"requeueDepth": true}}', "requeueDepth"),
        ('{"task": {}, "meta": {"taskType": 5}}', "taskType"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body, message):
    with pytest.raises(ParcelDecodeError, match=message):
        parse_parcel(body)


def test_pickle_is_data_not_code():
    evil = base64.b64encode(pickle.dumps(SendEmail(user_id="u1"))).decode()
    with pytest.raises(ParcelDecodeError):
        parse_parcel(evil)
    with pytest.raises(ParcelDecodeError):
        parse_parcel(pickle.dumps({"task": {}, "meta": {}}))


def test_class_tricks_are_ignored_as_data():
    body = json.dumps(
        {
            "task": {"user_id": "u1", "__class__": "os.system", "__reduce__": ["rm"]},
            "meta": {"taskType": "SendEmail"},
        }
    )
    parcel = decode_parcel(body, SendEmail, default_converter)
    assert type(parcel.task) is SendEmail
    assert not hasattr(parcel.task, "__reduce__x")
    assert parcel.task.user_id == "u1"


def test_wrong_field_type_is_a_decode_error():
    body = json.dumps({"task": {"user_id": 42}, "meta": {"taskType": "SendEmail"}})
    with pytest.raises(ParcelDecodeError, match="user_id"):
        decode_parcel(body, SendEmail, default_converter)


@attrs.frozen(kw_only=True)
class Scalars(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("key",)
    key: str
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    note: str | None = None
    color: Color | None = None
    when: datetime | None = None


@settings(max_examples=300, deadline=None)
@given(
    key=st.text(),
    count=st.integers(),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    flag=st.booleans(),
    note=st.none() | st.text(),
    color=st.none() | st.sampled_from(Color),
    when=st.none() | st.datetimes(timezones=st.timezones()),
    version=st.integers(0, 2**63),
    depth=st.integers(0, 10**6),
    url=st.text(),
)
def test_the_size_bound_of_a_parcel_is_never_below_its_encoded_size(
    key, count, ratio, flag, note, color, when, version, depth, url
):
    """``check`` trusts this bound instead of encoding, so it must hold for every value."""
    task = Scalars(
        key=key,
        count=count,
        ratio=ratio,
        flag=flag,
        note=note,
        color=color,
        when=when,
        version=version,
        created_at=when,
        lease_id=note,
    )
    meta = ParcelMeta(queue_type="SQS", queue_url=url, task_type="Scalars", requeue_depth=depth)
    parcel = TaskParcel(task=task, meta=meta)
    bound = body_size_bound(parcel, default_converter)
    assert bound is not None
    assert bound >= len(encode_parcel(parcel, default_converter).encode("utf-8"))


def test_a_parcel_near_the_limit_is_checked_by_encoding_it():
    from simple_async_tasks import InMemoryTaskQueue
    from simple_async_tasks.errors import QueueLimitError

    queue = InMemoryTaskQueue(max_body_bytes=4096)
    meta = ParcelMeta(queue_type="MEMORY", queue_url="memory://q", task_type="SendEmail")
    queue.check(TaskParcel(task=SendEmail(user_id="u", email="x" * 300), meta=meta))
    # about 600 bytes of JSON, whose bound (with the stamp margin) is over 4096: encoded
    queue.check(TaskParcel(task=SendEmail(user_id="u", email="x" * 500), meta=meta))
    with pytest.raises(QueueLimitError, match="4096-byte limit"):
        queue.check(TaskParcel(task=SendEmail(user_id="u", email="x" * 4000), meta=meta))


def test_a_task_with_a_field_of_another_type_has_no_bound():
    parcel = TaskParcel(
        task=RichTask(key="k"),
        meta=ParcelMeta(queue_type="SQS", queue_url="q", task_type="rich-task"),
    )
    assert body_size_bound(parcel, default_converter) is None
