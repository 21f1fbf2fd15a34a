"""The dashboard's JSON API and pages over HTTP (Starlette's TestClient, in process), on
SQLite: the envelope, what needs the token, read-only mode, CSRF, and escaping. The
browser tests (tests/test_dashboard_browser.py) drive the same pages in Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.dashboard import create_dashboard
from simple_async_tasks.testing import FakeClock

from .ops_app import Invoice, Report, app

S = AsyncTaskStatus
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def ops(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SAT_CLI_DIR", str(tmp_path))
    app.use(f"sqlite:///{tmp_path / 't.db'}", clock=FakeClock())
    yield app
    app.use("memory://")


def where(response: Any) -> str:
    """Where a form's redirect goes, its notice or error decoded."""
    from urllib.parse import unquote_plus

    return unquote_plus(response.headers["location"])


def client(ops: Any, **options: Any) -> TestClient:
    return TestClient(create_dashboard(ops, **options), base_url="http://127.0.0.1:8321")


def failed_invoice(ops: Any, tmp_path: Any, invoice_id: str = "i1", note: str = "") -> None:
    """Enqueue an Invoice and run it once, failing (Invoice has one attempt: FAILED for good)."""
    from datetime import timedelta

    (tmp_path / f"fail-{invoice_id}").touch()
    ops.enqueue(Invoice(invoice_id=invoice_id, note=note))
    worker = ops.worker(concurrency=1, schedule=False, poll_wait=timedelta(0), register=False)
    worker.run(max_idle=timedelta(seconds=0.2), handle_signals=False)
    (tmp_path / f"fail-{invoice_id}").unlink()
    assert ops.dao(Invoice).get(invoice_id).status is S.FAILED


def test_reads_are_enveloped_and_open(ops, tmp_path):
    ops.enqueue(Invoice(invoice_id="i1"))
    web = client(ops, token=TOKEN)
    stats = web.get("/api/stats").json()
    assert stats == {
        "data": {
            "Report": {s.value: 0 for s in S},
            "Invoice": {**{s.value: 0 for s in S}, "QUEUED": 1},
        },
        "error": None,
        "success": True,
    }
    listed = web.get("/api/tasks", params={"task_type": "Invoice", "status": "QUEUED"}).json()
    assert [t["unique_key"] for t in listed["data"]["tasks"]] == ["i1"]
    one = web.get("/api/tasks/Invoice/task", params={"unique_key": "i1"}).json()["data"]
    assert (one["status"], one["actions"]) == ("QUEUED", ["cancel", "halt", "delete"])
    assert one["history"][0]["what"] == "created (enqueued)"
    types = web.get("/api/task-types").json()["data"]
    assert [t["task_type"] for t in types] == ["Report", "Invoice"]
    assert web.get("/api/queues").json()["data"][0]["visible"] == 1
    assert web.get("/api/workers").json()["data"] == []
    assert web.get("/api/dead-letters").json()["data"] == {"letters": [], "unavailable": []}


def test_errors_carry_a_type_a_message_and_a_status(ops):
    web = client(ops, token=TOKEN)
    missing = web.get("/api/tasks/Invoice/task", params={"unique_key": "nope"})
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    assert missing.json()["data"] is None
    assert missing.json()["error"]["type"] == "TaskNotFoundError"
    assert web.get("/api/tasks", params={"task_type": "Nope"}).status_code == 400
    assert web.get("/api/schedules/none").status_code == 404
    wrong = web.post("/api/tasks/Invoice/actions/retry", json={}, headers=AUTH)
    assert (wrong.status_code, wrong.json()["error"]["message"]) == (400, "give unique_key")


def test_actions_need_the_token(ops, tmp_path):
    failed_invoice(ops, tmp_path)
    path, body = "/api/tasks/Invoice/actions/retry", {"unique_key": "i1"}
    no_token = client(ops, token=None).post(path, json=body, headers=AUTH)
    assert no_token.status_code == 403
    assert "actions need a token" in no_token.json()["error"]["message"]
    web = client(ops, token=TOKEN)
    assert web.post(path, json=body).status_code == 401
    assert web.post(path, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    read_only = client(ops, token=TOKEN, read_only=True).post(path, json=body, headers=AUTH)
    assert (read_only.status_code, "read-only" in read_only.text) == (403, True)
    assert ops.dao(Invoice).get("i1").status is S.FAILED  # nothing changed so far
    done = web.post(path, json=body, headers=AUTH)
    assert done.status_code == 200, done.text
    assert done.json()["data"]["status"] == "QUEUED"
    again = web.post(path, json=body, headers=AUTH)
    assert again.status_code == 409  # QUEUED now: only FAILED tasks can be retried
    deleted = web.post("/api/tasks/Invoice/actions/delete", json=body, headers=AUTH)
    assert deleted.json()["data"]["deleted"] is True
    assert ops.dao(Invoice).get("i1") is None


def test_the_host_apps_authorize_replaces_the_token(ops):
    allowed = {"yes": True}
    web = client(ops, authorize=lambda request: allowed["yes"])
    body = {
        "name": "nightly",
        "job_name": "Report",
        "recurring_interval": "EVERY_DAY",
        "payload": {"report": "sales"},
    }
    created = web.post("/api/schedules", json=body)
    assert created.status_code == 200, created.text
    allowed["yes"] = False
    assert web.get("/api/schedules").status_code == 403
    assert web.post("/api/schedules/nightly/pause").status_code == 403


def test_schedules_over_the_api(ops):
    web = client(ops, token=TOKEN)
    body = {"name": "n", "job_name": "Report", "recurring_interval": "EVERY_HOUR"}
    refused = web.post("/api/schedules", json=body, headers=AUTH)  # no payload: no report
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "InvalidScheduleError"
    assert web.get("/api/schedules").json()["data"] == []  # nothing stored
    created = web.post("/api/schedules", json={**body, "payload": {"report": "r"}}, headers=AUTH)
    assert created.json()["data"]["cron"] == "0 * * * *"
    patched = web.patch(
        "/api/schedules/n",
        json={"recurring_details": {"minute": "30"}, "expected_version": 1},
        headers=AUTH,
    )
    assert patched.json()["data"]["cron"] == "30 * * * *"
    stale = web.patch(
        "/api/schedules/n", json={"creator": "x", "expected_version": 1}, headers=AUTH
    )
    assert stale.status_code == 409
    assert web.post("/api/schedules/n/pause", headers=AUTH).json()["data"]["paused"] is True
    assert web.post("/api/schedules/n/resume", headers=AUTH).json()["data"]["paused"] is False
    assert web.delete("/api/schedules/n", headers=AUTH).json()["data"] == {"deleted": "n"}
    assert web.get("/api/schedules").json()["data"] == []


def test_pages_escape_task_data(ops, tmp_path):
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    key = '"><img src=x onerror=alert(2)>'
    failed_invoice(ops, tmp_path, invoice_id=key, note=attack)
    web = client(ops, token=TOKEN)
    page = web.get("/task", params={"task_type": "Invoice", "key": key})
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "<img" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    listing = web.get("/tasks", params={"task_type": "Invoice", "status": "FAILED"})
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in listing.text
    assert "<img" not in listing.text


def test_a_form_needs_a_session_and_its_csrf_token(ops, tmp_path):
    failed_invoice(ops, tmp_path)
    web = client(ops, token=TOKEN)
    form = {"task_type": "Invoice", "key": "i1", "action": "retry", "back": "/"}
    anonymous = web.post("/task/action", data={**form, "csrf": "x"}, follow_redirects=False)
    assert anonymous.status_code == 303
    assert "sign in" in where(anonymous)
    wrong = web.post("/login", data={"token": "nope"}, follow_redirects=False)
    assert "wrong token" in where(wrong)
    signed = web.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert signed.status_code == 303
    cookie = signed.cookies.get("sat_session") or web.cookies.get("sat_session")
    assert cookie
    forged = web.post("/task/action", data={**form, "csrf": "forged"}, follow_redirects=False)
    assert "CSRF" in where(forged)
    assert ops.dao(Invoice).get("i1").status is S.FAILED
    page = web.get("/task", params={"task_type": "Invoice", "key": "i1"}).text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    cross = web.post(
        "/task/action",
        data={**form, "csrf": csrf},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert "another site" in where(cross)
    done = web.post("/task/action", data={**form, "csrf": csrf}, follow_redirects=False)
    assert "retried Invoice i1" in where(done)
    assert ops.dao(Invoice).get("i1").status is S.QUEUED


def test_report_type_is_listed_on_the_overview(ops):
    ops.enqueue(Report(report="r", scheduled_for=ops.clock.now()))
    page = client(ops).get("/")
    assert page.status_code == 200
    assert 'id="stats"' in page.text
    assert "read-only" in page.text  # no token: no action offered


def test_mounted_in_a_host_app_its_links_and_forms_keep_the_prefix(ops, tmp_path):
    from starlette.applications import Starlette
    from starlette.routing import Mount

    failed_invoice(ops, tmp_path)
    host = Starlette(routes=[Mount("/ops", app=create_dashboard(ops, token=TOKEN))])
    web = TestClient(host, base_url="http://127.0.0.1:8000")
    page = web.get("/ops/")
    assert page.status_code == 200
    assert 'href="/ops/tasks"' in page.text
    detail = web.get("/ops/task", params={"task_type": "Invoice", "key": "i1"})
    assert 'action="/ops/task/action"' in detail.text
    assert "<title>Invoice i1 · simple-async-tasks</title>" in detail.text
    assert web.get("/ops/api/stats").json()["success"] is True


def test_locks_and_failed_tasks_in_bulk_over_the_api(ops, tmp_path):
    from datetime import timedelta

    from simple_async_tasks.contracts import MutexLock, Transition, status_in

    failed_invoice(ops, tmp_path, "i1")
    failed_invoice(ops, tmp_path, "i2")
    ops.enqueue(Invoice(invoice_id="i3"))
    web = client(ops, token=TOKEN)
    bulk = web.post("/api/tasks/Invoice/delete-failed", headers=AUTH).json()["data"]
    assert bulk == {"task_type": "Invoice", "deleted": 2}
    assert ops.dao(Invoice).count_by_status(S.FAILED) == 0
    assert ops.dao(Invoice).get("i3").status is S.QUEUED

    now = ops.clock.now()
    lock = MutexLock(
        key="Invoice#acme", owner="lease-1", acquired_at=now, expires_at=now + timedelta(minutes=1)
    )
    claim = Transition(status=S.ATTEMPTED, add_attempts=1, attempted_at=now)
    ops.dao(Invoice).transition("i3", claim, condition=status_in(S.QUEUED), acquire=lock)
    assert web.get("/api/locks").json()["data"] == [
        {
            "key": "Invoice#acme",
            "owner": "lease-1",
            "acquired_at": now.isoformat(),
            "expires_at": (now + timedelta(minutes=1)).isoformat(),
            "held": True,
        }
    ]
    live = web.post("/api/locks/break", json={"key": "Invoice#acme"}, headers=AUTH)
    assert (live.status_code, live.json()["error"]["type"]) == (409, "MutexHeldError")
    forced = web.post(
        "/api/locks/break", json={"key": "Invoice#acme", "force": True}, headers=AUTH
    )
    assert forced.json()["data"] == {"key": "Invoice#acme", "owner": "lease-1", "broken": True}
    again = web.post("/api/locks/break", json={"key": "Invoice#acme", "force": True}, headers=AUTH)
    assert again.json()["data"]["broken"] is False
    assert web.get("/api/locks").json()["data"] == []


def test_the_failed_list_deletes_them_all_once_confirmed(ops, tmp_path):
    failed_invoice(ops, tmp_path, "i1")
    web = client(ops, token=TOKEN)
    web.post("/login", data={"token": TOKEN})
    page = web.get("/tasks", params={"task_type": "Invoice", "status": "FAILED"}).text
    assert 'id="delete-failed"' in page
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    form = {"csrf": csrf, "task_type": "Invoice", "back": "/tasks"}
    unconfirmed = web.post("/tasks/delete-failed", data=form, follow_redirects=False)
    assert "tick 'I am sure'" in where(unconfirmed)
    assert ops.dao(Invoice).count_by_status(S.FAILED) == 1
    done = web.post(
        "/tasks/delete-failed", data={**form, "confirm": "yes"}, follow_redirects=False
    )
    assert "deleted 1 FAILED Invoice" in where(done)
    assert ops.dao(Invoice).count_by_status(S.FAILED) == 0


def test_with_the_host_apps_authorize_the_first_form_works(ops, tmp_path):
    failed_invoice(ops, tmp_path)
    web = client(ops, authorize=lambda request: True)
    page = web.get("/task", params={"task_type": "Invoice", "key": "i1"}).text  # first visit
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    form = {"task_type": "Invoice", "key": "i1", "action": "retry", "back": "/", "csrf": csrf}
    done = web.post("/task/action", data=form, follow_redirects=False)
    assert "retried Invoice i1" in where(done)
    assert ops.dao(Invoice).get("i1").status is S.QUEUED


def test_dead_letters_are_listed_and_a_queue_without_any_says_why(ops, tmp_path):
    from datetime import timedelta

    ops.use(f"sqlite:///{tmp_path / 't.db'}?max_receives=1&visibility_timeout=0")
    ops.enqueue(Invoice(invoice_id="i1"))
    queue = ops.queue
    queue.receive(1)  # received once, the most allowed, and not deleted
    ops.clock.advance(timedelta(seconds=1))
    queue.receive(1)  # over max_receives: moved to the dead letters
    web = client(ops, token=TOKEN)
    shown = web.get("/api/dead-letters").json()["data"]
    assert [(d["queue"], d["task_type"]) for d in shown["letters"]] == [("default", "Invoice")]
    assert "Invoice" in web.get("/dead-letters").text
    moved = web.post("/api/dead-letters/redrive", headers=AUTH).json()["data"]
    assert moved == {"redriven": 1}

    ops.use("memory://")
    none = client(ops, token=TOKEN).get("/api/dead-letters").json()["data"]
    assert none["letters"] == []
    assert "memory:// queue has no dead letters" in none["unavailable"][0]["reason"]
