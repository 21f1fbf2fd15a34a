"""One class and one function per task: ``@app.task`` returns a ``TaskFunction`` that runs
the logic, enqueues from the class's fields (now, in a while, at a time) and reads back the
result kept on the record."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import ClassVar

import attrs
import pytest

from simple_async_tasks import AsyncTask, AsyncTaskStatus, TaskApp
from simple_async_tasks.errors import InvalidTaskError, TaskNotFoundError
from simple_async_tasks.testing import FakeClock, drain

S = AsyncTaskStatus


@attrs.frozen(kw_only=True)
class Invoice(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("invoice_id",)
    invoice_id: str
    cents: int


@attrs.frozen
class Receipt:
    number: str
    sent_at: datetime


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))


def build(clock: FakeClock, url: str = "memory://"):
    app = TaskApp(url, clock=clock)
    ran: list[str] = []

    @app.task(Invoice)
    def send_invoice(task: Invoice) -> Receipt:
        ran.append(task.invoice_id)
        return Receipt(number=f"R-{task.invoice_id}", sent_at=clock.now())

    return app, send_invoice, ran


def test_calling_it_runs_the_logic_and_nothing_else(clock):
    app, send_invoice, ran = build(clock)
    receipt = send_invoice(Invoice(invoice_id="i1", cents=5))
    assert receipt.number == "R-i1"
    assert ran == ["i1"]
    assert send_invoice.__name__ == "send_invoice"
    assert send_invoice.task_class is Invoice
    assert send_invoice.task_type == "Invoice"
    assert drain(app).delivered == 0  # nothing was enqueued


def test_enqueue_from_the_fields_dedups_runs_once_and_keeps_the_result(clock):
    app, send_invoice, ran = build(clock)
    first = send_invoice.enqueue(invoice_id="i1", cents=500)
    again = send_invoice.enqueue(invoice_id="i1", cents=500)
    assert (first.status, again.uuid) == (S.QUEUED, first.uuid)
    assert send_invoice.result("i1") is None  # not run yet
    drain(app)
    assert ran == ["i1"]
    stored = app.dao(Invoice).get("i1")
    assert stored is not None
    assert stored.status is S.FULFILLED
    assert stored.result == '{"number":"R-i1","sent_at":"2026-01-01T00:00:00+00:00"}'
    assert send_invoice.result("i1") == Receipt("R-i1", datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert send_invoice.result(first) == send_invoice.result("i1")


def test_enqueue_in_and_at_wait_for_their_time(clock):
    app, send_invoice, ran = build(clock)
    later = send_invoice.enqueue_in(timedelta(minutes=5), invoice_id="late", cents=1)
    assert later.execute_after == clock.now() + timedelta(minutes=5)
    due = clock.now() + timedelta(minutes=10)
    at = send_invoice.enqueue_at(due, invoice_id="at", cents=1)
    assert at.execute_after == due
    drain(app, advance_clock=False)
    assert ran == []  # neither is due
    clock.advance(timedelta(minutes=5))
    drain(app, advance_clock=False)
    assert ran == ["late"]
    drain(app)  # moves the clock to the next due parcel
    assert ran == ["late", "at"]


def test_enqueue_at_and_in_refuse_what_would_silently_misfire(clock):
    _, send_invoice, _ = build(clock)
    with pytest.raises(InvalidTaskError, match="timezone-aware"):
        send_invoice.enqueue_at(datetime(2026, 1, 1), invoice_id="x", cents=1)
    with pytest.raises(InvalidTaskError, match="non-negative timedelta"):
        send_invoice.enqueue_in(timedelta(seconds=-1), invoice_id="x", cents=1)
    with pytest.raises(TypeError):
        send_invoice.enqueue(invoice_id="x")  # the class's own __init__ checks the fields


def test_result_of_an_unknown_key_says_so(clock):
    _, send_invoice, _ = build(clock)
    with pytest.raises(TaskNotFoundError, match="no stored Invoice task"):
        send_invoice.result("nope")


def test_keep_result_false_stores_nothing(clock):
    app = TaskApp("memory://", clock=clock)

    @app.task(Invoice, keep_result=False)
    def private(task: Invoice) -> str:
        return "secret"

    private.enqueue(invoice_id="p", cents=1)
    report = drain(app)
    assert report.delivered == 1
    stored = app.dao(Invoice).get("p")
    assert stored is not None
    assert (stored.status, stored.result) == (S.FULFILLED, None)
    assert private.result("p") is None


def test_a_result_over_the_limit_or_not_json_is_not_kept_and_the_task_is_still_done(clock, caplog):
    from simple_async_tasks import ExecuteOptions

    app = TaskApp("memory://", clock=clock)

    @app.task(Invoice, options=ExecuteOptions(max_result_bytes=100))
    def big(task: Invoice) -> object:
        return "x" * 200 if task.invoice_id == "big" else complex(1, 2)  # not JSON

    big.enqueue(invoice_id="big", cents=1)
    big.enqueue(invoice_id="odd", cents=1)
    with caplog.at_level(logging.ERROR, logger="simple_async_tasks"):
        drain(app)
    for key in ("big", "odd"):
        stored = app.dao(Invoice).get(key)
        assert stored is not None
        assert (stored.status, stored.result) == (S.FULFILLED, None)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "202 bytes of JSON, over the limit of 100" in messages
    assert "cannot be written as JSON" in messages


def test_the_result_is_kept_on_sqlite_too(clock, tmp_path):
    app, send_invoice, _ = build(clock, f"sqlite:///{tmp_path / 't.db'}")
    send_invoice.enqueue(invoice_id="s1", cents=1)
    worker = app.worker(schedule=False, poll_wait=timedelta(milliseconds=50))
    assert worker.run(handle_signals=False, max_idle=timedelta(seconds=0.3)).succeeded == 1
    assert send_invoice.result("s1") == Receipt("R-s1", clock.now())


def test_the_result_never_travels_in_a_parcel(clock):
    from simple_async_tasks.parcel import ParcelMeta, TaskParcel, encode_parcel
    from simple_async_tasks.serialization import default_converter

    task = Invoice(invoice_id="i", cents=1, result='"kept"')
    meta = ParcelMeta(queue_type="MEMORY", queue_url="memory://", task_type="Invoice")
    assert '"result"' not in encode_parcel(TaskParcel(task=task, meta=meta), default_converter)


def test_plain_results_are_written_as_the_converter_and_dumps_would():
    """The fast path for str, int and bool results writes the same JSON as the slow one."""
    from hypothesis import given
    from hypothesis import strategies as st

    from simple_async_tasks.lifecycle.results import encode_result
    from simple_async_tasks.serialization import default_converter, dumps

    @given(st.one_of(st.text(), st.integers(), st.booleans()))
    def check(value):
        slow = dumps(default_converter.unstructure(value))
        assert encode_result(value, default_converter, 10**9, "t") == slow

    check()


def test_a_result_that_no_longer_fits_the_return_type_says_so(clock):
    from simple_async_tasks.errors import SerializationError

    app = TaskApp("memory://", clock=clock)

    @app.task(Invoice)
    def send(task: Invoice) -> Receipt:
        return Receipt(number="R-1", sent_at=clock.now())

    send.enqueue(invoice_id="i1", cents=1)
    drain(app)
    dao = app.dao(Invoice)
    stored = dao.get("i1")
    assert stored is not None
    dao.upsert(attrs.evolve(stored, result='{"number": 5}'))  # written by an older version
    with pytest.raises(SerializationError, match=r"stored result of Invoice .* does not fit"):
        send.result("i1")


def test_a_return_type_that_cannot_be_resolved_is_a_definition_error(clock):
    from simple_async_tasks.errors import TaskDefinitionError

    app = TaskApp("memory://", clock=clock)

    @attrs.frozen
    class Local:  # defined in a function: a string annotation cannot find it
        n: int

    @app.task(Invoice)
    def send(task: Invoice) -> Local:
        return Local(n=1)

    send.enqueue(invoice_id="i1", cents=1)
    drain(app)
    with pytest.raises(TaskDefinitionError, match="cannot resolve the return annotation"):
        send.result("i1")
