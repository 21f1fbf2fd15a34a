"""Fault 5: bad input to the Lambda handler, fuzzed (10,000 records per CI run)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simple_async_tasks import (
    AsyncTaskStatus,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import create_sqs_handler
from simple_async_tasks.errors import InvalidEventError

from ..tasks import SendEmail, SyncAccount

RECORDS_PER_EVENT = 50
GOOD_KINDS = ["good", "good-extra-fields"]
BAD_KINDS = [
    "not-json",
    "json-wrong-shape",
    "unknown-type",
    "missing-field",
    "wrong-type",
    "huge",
    "non-utf8",
    "not-stored",
    "body-not-a-string",
    "class-trick",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _record(message_id: str | None, body: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:tasks",
        "awsRegion": "us-east-1",
    }
    if message_id is not None:
        record["messageId"] = message_id
    return record


def _bad_body(kind: str, data: st.DataObject) -> Any:
    meta = {"queueType": "SQS", "queueUrl": "q", "taskType": "SendEmail", "requeueDepth": 0}
    if kind == "not-json":
        text = data.draw(st.text(min_size=1, max_size=40))
        try:
            json.loads(text)
            return "{" + text
        except ValueError:
            return text
    if kind == "json-wrong-shape":
        value = data.draw(json_values)
        if isinstance(value, dict) and isinstance(value.get("task"), dict):
            value["meta"] = "not an object"
        return json.dumps(value)
    if kind == "unknown-type":
        name = data.draw(
            st.text(min_size=1, max_size=12).filter(
                lambda s: s not in ("SendEmail", "SyncAccount")
            )
        )
        return json.dumps({"task": {"user_id": "u"}, "meta": {**meta, "taskType": name}})
    if kind == "missing-field":
        return json.dumps({"task": {"email": "a@b"}, "meta": meta})
    if kind == "wrong-type":
        bad = data.draw(st.sampled_from([5, 1.5, True, None, ["u"], {"u": 1}]))
        return json.dumps({"task": {"user_id": bad}, "meta": meta})
    if kind == "huge":
        return json.dumps({"task": {"user_id": "x" * 300_000}, "meta": meta})
    if kind == "non-utf8":
        return data.draw(st.sampled_from(["\udcff\udcfe{", '{"task": "\ud800"}', "\x00\xff\xfe"]))
    if kind == "not-stored":
        return json.dumps({"task": {"user_id": "never-enqueued"}, "meta": meta})
    if kind == "body-not-a-string":
        return data.draw(st.sampled_from([b'{"task": {}}', None, 42, {"task": {}}]))
    if kind == "class-trick":
        return json.dumps(
            {"task": {"__class__": "os.system", "user_id": ["rm -rf"]}, "meta": meta}
        )
    raise AssertionError(kind)


def run_fuzz(caplog: pytest.LogCaptureFixture, max_examples: int) -> int:
    seen = {"records": 0}

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        dao = InMemoryTaskDao(SendEmail)
        accounts = InMemoryTaskDao(SyncAccount)
        queue = InMemoryTaskQueue(keep_history=False)
        enqueue = with_queue_lifecycle(
            get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue
        )
        handler = create_sqs_handler(
            [
                with_execute_lifecycle(lambda t: None, dao=dao, queue=queue),
                with_execute_lifecycle(lambda t: None, dao=accounts, queue=queue),
            ]
        )
        kinds = data.draw(
            st.lists(
                st.sampled_from(GOOD_KINDS + BAD_KINDS + ["no-message-id"]),
                min_size=RECORDS_PER_EVENT,
                max_size=RECORDS_PER_EVENT,
            )
        )
        records, good, bad = [], {}, set()
        for index, kind in enumerate(kinds):
            message_id = f"m{index}"
            if kind in GOOD_KINDS:
                user = f"user{index}"
                enqueue(user)
                (message,) = queue.receive(1)
                body = message.body
                if kind == "good-extra-fields":
                    parsed = json.loads(body)
                    parsed["task"]["surprise"] = data.draw(json_values)
                    parsed["meta"]["newMetaKey"] = 1
                    body = json.dumps(parsed)
                records.append(_record(message_id, body))
                good[message_id] = user
            elif kind == "no-message-id":
                records.append(_record(None, "{}"))
            else:
                records.append(_record(message_id, _bad_body(kind, data)))
                bad.add(message_id)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="simple_async_tasks"):
            response = handler({"Records": records}, None)  # never raises for a record
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        assert failed == bad
        for message_id, user in good.items():
            assert dao.get(user).status is AsyncTaskStatus.FULFILLED, message_id
        for message_id in bad:
            assert f"message {message_id} failed:" in caplog.text
        seen["records"] += len(records)

    fuzz()
    return seen["records"]


def test_handler_fuzzed_with_bad_records(caplog, scale):
    records = run_fuzz(caplog, max_examples=200 * scale)
    assert records >= 10_000 * scale


@given(
    st.none()
    | st.integers()
    | st.text()
    | st.lists(json_values, max_size=3)
    | st.dictionaries(st.text(max_size=8), json_values, max_size=4)
)
def test_an_event_that_is_not_sqs_gets_one_clear_error(event):
    handler = create_sqs_handler(
        with_execute_lifecycle(
            lambda t: None, dao=InMemoryTaskDao(SendEmail), queue=InMemoryTaskQueue()
        )
    )
    if isinstance(event, dict) and event.get("Records") == []:
        assert handler(event, None) == {"batchItemFailures": []}
        return
    with pytest.raises(InvalidEventError, match="SQS events"):
        handler(event, None)
