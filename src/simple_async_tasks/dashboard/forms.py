"""The dashboard's forms: each POST is checked (session and CSRF token, or the host's
``authorize``), done in one call of ``data``, then redirected with a notice."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..lifecycle.schedule_model import DETAILS
from . import data
from ._web import Site, form_of, with_query
from .security import SESSION_COOKIE

__all__ = ["Forms"]


class Forms(Site):
    """The actions of the pages."""

    def do_task(self, request: Request, fields: dict[str, str]) -> str:
        task_type, key, action = fields["task_type"], fields["key"], fields["action"]
        data.act(self.app, task_type, key, action)
        past = {"retry": "retried", "halt": "halted", "resume": "resumed"}.get(action)
        notice = f"{past or action + 'd'} {task_type} {key}"
        if action == "delete":
            return with_query(self.root(request) + "tasks", notice=notice, task_type=task_type)
        return with_query(self.root(request) + "task", notice=notice, task_type=task_type, key=key)

    def do_delete_failed(self, request: Request, fields: dict[str, str]) -> str:
        if fields.get("confirm") != "yes":
            raise ValueError("tick 'I am sure' to delete every FAILED task: it cannot be undone")
        task_type = fields["task_type"]
        deleted = data.delete_failed(self.app, task_type)["deleted"]
        return with_query(fields.get("back", "/"), notice=f"deleted {deleted} FAILED {task_type}")

    def do_redrive(self, request: Request, fields: dict[str, str]) -> str:
        moved = data.redrive(self.app)["redriven"]
        return with_query(fields.get("back", "/"), notice=f"redrove {moved} message(s)")

    def do_purge(self, request: Request, fields: dict[str, str]) -> str:
        if fields.get("confirm") != "yes":
            raise ValueError("tick 'I am sure' to purge: every message of the queue is dropped")
        name = request.path_params["name"]
        purged = data.purge(self.app, name)["purged"]
        count = "every" if purged is None else str(purged)
        return with_query(fields.get("back", "/"), notice=f"purged {count} message(s) of {name}")

    def do_create_schedule(self, request: Request, fields: dict[str, str]) -> str:
        created = self.app.schedules().create(fields.get("name", ""), **_schedule(fields))
        where = self.root(request) + f"schedules/{created.name}"
        return with_query(where, notice=f"created schedule {created.name}")

    def do_update_schedule(self, request: Request, fields: dict[str, str]) -> str:
        name = request.path_params["name"]
        version = fields.get("expected_version")
        self.app.schedules().update(
            name, expected_version=int(version) if version else None, **_schedule(fields)
        )
        return with_query(
            self.root(request) + f"schedules/{name}", notice=f"saved schedule {name}"
        )

    def do_schedule_op(self, request: Request, fields: dict[str, str]) -> str:
        name, op = request.path_params["name"], request.path_params["op"]
        book = self.app.schedules()
        if op == "delete":
            book.delete(name)
            return with_query(self.root(request) + "schedules", notice=f"deleted schedule {name}")
        if op not in ("pause", "resume"):
            raise ValueError(f"no schedule action {op!r}")
        (book.pause if op == "pause" else book.resume)(name)
        return with_query(
            self.root(request) + f"schedules/{name}", notice=f"{op}d schedule {name}"
        )

    async def do_login(self, request: Request) -> Response:
        fields = form_of(await request.body())
        if not self.guard.check_token(fields.get("token", "")):
            return RedirectResponse(
                with_query(self.root(request) + "login", error="wrong token"), status_code=303
            )
        response = RedirectResponse(
            with_query(self.root(request), notice="signed in"), status_code=303
        )
        response.set_cookie(
            SESSION_COOKIE,
            self.guard.new_session(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response


def _schedule(fields: dict[str, str]) -> dict[str, Any]:
    """The schedule fields of a form: details as a mapping, the payload parsed."""
    out: dict[str, Any] = {}
    for name in ("job_name", "recurring_interval", "creator"):
        if name in fields:
            out[name] = fields[name]
    if any(d in fields for d in DETAILS):
        out["recurring_details"] = {d: fields.get(d) or "*" for d in DETAILS}
    if "payload" in fields:
        try:
            out["payload"] = json.loads(fields["payload"] or "{}")
        except ValueError as error:
            raise ValueError(f"the payload is not JSON: {error}") from None
        if not isinstance(out["payload"], dict):
            raise ValueError("the payload must be a JSON object of the task's fields")
    if fields.get("start_at"):
        out["start_at"] = fields["start_at"]
    return data.schedule_fields(out)
