"""The HTML pages: server-rendered, no script, every value escaped (``html.esc``); every
form posts with its CSRF token and redirects back with a notice (post/redirect/get)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..app import TaskApp
from ..errors import SimpleAsyncTasksError
from ..lifecycle.schedule_model import DETAILS, RecurringInterval
from ..task import AsyncTaskStatus
from . import data
from .api import status_of
from .html import Markup, field, form, join, layout, link, select, table, tag
from .security import SESSION_COOKIE, Guard, Refused

__all__ = ["page_routes"]

Page = Callable[[Request], Markup]


class Pages:
    """The pages of one dashboard (its app, guard and mount point)."""

    def __init__(self, app: TaskApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    # -- plumbing --------------------------------------------------------------------------

    def root(self, request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/") + "/"

    def render(self, request: Request, title: str, body: Markup, status: int = 200) -> Response:
        response = HTMLResponse(
            layout(
                title,
                body,
                root=self.root(request),
                notice=request.query_params.get("notice"),
                error=request.query_params.get("error"),
                signed_in=self.guard.session_of(request) is not None
                or self.guard.authorize is not None,
                can_act=self.guard.can_act,
            ),
            status_code=status,
            headers={
                "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "form-action 'self'; frame-ancestors 'none'",
                "x-content-type-options": "nosniff",
                "referrer-policy": "same-origin",
            },
        )
        if self.guard.authorize is not None and "sat_csrf" not in request.cookies:
            import secrets

            response.set_cookie(
                "sat_csrf", secrets.token_hex(16), httponly=True, samesite="strict"
            )
        return response

    def view(
        self, title: str | Callable[[Request], str], build: Page
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                self.guard.may_read(request)
                body = await run_in_threadpool(build, request)
            except (SimpleAsyncTasksError, Refused) as error:
                message = tag("p", str(error), class_="error", id="error")
                return self.render(request, "Error", message, status_of(error))
            return self.render(request, title if isinstance(title, str) else title(request), body)

        return endpoint

    def action(
        self, do: Callable[[Request, dict[str, str]], str]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A form's POST: checked, done, then a redirect to where ``do`` says (with a
        notice), or back with the error."""

        async def endpoint(request: Request) -> Response:
            fields = _form(await request.body())
            back = fields.get("back") or self.root(request)
            try:
                self.guard.may_act(request, form_csrf=fields.get("csrf", ""))
                where = await run_in_threadpool(do, request, fields)
            except (SimpleAsyncTasksError, Refused, ValueError) as error:
                return RedirectResponse(_with(back, error=str(error)), status_code=303)
            return RedirectResponse(where, status_code=303)

        return endpoint

    def csrf(self, request: Request) -> str:
        return self.guard.csrf_for(request)

    # -- pages -----------------------------------------------------------------------------

    def overview(self, request: Request) -> Markup:
        stats = data.stats(self.app)
        statuses = [s.value for s in AsyncTaskStatus]
        rows = [
            [
                link(task_type, self.root(request) + "tasks", task_type=task_type),
                *(
                    link(counts[s], self.root(request) + "tasks", task_type=task_type, status=s)
                    if s in counts
                    else Markup('<span class="muted">-</span>')
                    for s in statuses
                ),
            ]
            for task_type, counts in stats.items()
        ]
        queues = [
            [q["name"], q["queue"], q.get("visible", "-"), q.get("in_flight", "-"),
             q.get("delayed", "-"), q.get("dead", "-")]
            for q in data.queues(self.app)
        ]  # fmt: skip
        workers = data.workers(self.app)
        alive = sum(1 for w in workers if w["alive"])
        return join(
            [
                tag("h2", "Tasks by type and status"),
                table(["Task type", *statuses], rows, id_="stats"),
                tag("h2", "Queues"),
                table(["Name", "URL", "Visible", "In flight", "Delayed", "Dead"], queues),
                tag("p", f"{alive} worker(s) alive, {len(workers) - alive} dead; "
                    f"{len(data.schedules(self.app))} stored schedule(s)."),
            ]
        )  # fmt: skip

    def task_list(self, request: Request) -> Markup:
        types = self.app.task_types
        task_type = request.query_params.get("task_type") or (types[0] if types else "")
        status = request.query_params.get("status") or "FAILED"
        cursor = request.query_params.get("cursor") or None
        page = data.tasks(self.app, task_type, status, cursor=cursor, limit=25)
        root = self.root(request)
        filters = tag(
            "form",
            join([
                select("Task type", "task_type", types, task_type),
                select("Status", "status", data.statuses_of(self.app, task_type), status),
                tag("button", "Show", type="submit"),
            ]),
            method="get",
            action=root + "tasks",
            id="filters",
        )  # fmt: skip
        rows = [
            [
                link(t["unique_key"], root + "task", task_type=task_type, key=t["unique_key"]),
                t["status"] + (f" ({t['retry']})" if t["retry"] else ""),
                f"{t['attempts']}/{t['failures']}",
                t["updated_at"],
                (t["last_error"] or "")[:120],
            ]
            for t in page["tasks"]
        ]
        more = (
            link("Next page", root + "tasks", task_type=task_type, status=status,
                 cursor=page["cursor"])
            if page["cursor"] else Markup("")
        )  # fmt: skip
        listed = table(["Unique key", "Status", "Runs/failed", "Updated", "Last error"], rows,
                       id_="tasks") if rows else tag("p", "No tasks.", class_="muted")  # fmt: skip
        bulk = Markup("")
        if rows and status == "FAILED" and self.guard.can_act:
            bulk = form(root + "tasks/delete-failed", self.csrf(request),
                        [field("I am sure", "confirm", "yes", type_="checkbox")],
                        button=f"Delete every FAILED {task_type}", id_="delete-failed",
                        hidden={"task_type": task_type, "back": _here(request)})  # fmt: skip
        return join([filters, listed, more, bulk])

    def task_detail(self, request: Request) -> Markup:
        task_type = request.query_params.get("task_type", "")
        key = request.query_params.get("key", "")
        shown = data.task(self.app, task_type, key)
        root = self.root(request)
        buttons = (
            join(
                form(root + "task/action", self.csrf(request), button=a.capitalize(),
                     id_=f"action-{a}", hidden={"task_type": task_type, "key": key, "action": a,
                                                "back": _here(request)})
                for a in shown["actions"]
            )
            if self.guard.can_act else Markup("")
        )  # fmt: skip
        skip = {"history", "actions", "last_error"}
        fields = [[k, _shown(v)] for k, v in shown.items() if k not in skip]
        error = shown.get("last_error")
        return join(
            [
                tag("div", buttons, id="actions"),
                tag("h2", "Last error") if error else "",
                tag("pre", error, id="last-error") if error else "",
                tag("h2", "History"),
                table(["When (UTC)", "What"], [[e["at"], e["what"]] for e in shown["history"]],
                      id_="history"),
                tag("h2", "Fields"),
                table(["Field", "Value"], fields, id_="fields"),
            ]
        )  # fmt: skip

    def dead_letters(self, request: Request) -> Markup:
        letters = data.dead_letters(self.app)
        rows = [
            [d["queue"], d["message_id"], d["task_type"], d["receive_count"], d["dead_at"],
             d["body"][:200]]
            for d in letters
        ]  # fmt: skip
        redrive = (
            form(self.root(request) + "dead-letters/redrive", self.csrf(request),
                 button="Redrive all", id_="redrive", hidden={"back": _here(request)})
            if self.guard.can_act and letters else Markup("")
        )  # fmt: skip
        if not rows:
            return tag("p", "No dead letters.", class_="muted")
        return join([redrive, table(["Queue", "Message", "Task type", "Receives", "Dead at",
                                     "Body"], rows, id_="dead-letters")])  # fmt: skip

    def workers(self, request: Request) -> Markup:
        rows = [
            [w["worker_id"], "alive" if w["alive"] else "DEAD", w["kind"], w["last_seen"],
             w["started_at"], ", ".join(w["queues"]), ", ".join(w["running"]) or "-"]
            for w in data.workers(self.app)
        ]  # fmt: skip
        if not rows:
            return tag("p", "No workers.", class_="muted")
        headers = ["Worker", "State", "Kind", "Last seen", "Started", "Queues", "Running"]
        return table(headers, rows, id_="workers")

    def queues(self, request: Request) -> Markup:
        rows = []
        for q in data.queues(self.app):
            purge = (
                form(self.root(request) + f"queues/{q['name']}/purge", self.csrf(request),
                     [field("I am sure", "confirm", "yes", type_="checkbox")],
                     button="Purge", id_=f"purge-{q['name']}", hidden={"back": _here(request)})
                if self.guard.can_act else ""
            )  # fmt: skip
            rows.append([q["name"], q["queue"], q.get("visible", q.get("error", "-")),
                         q.get("in_flight", "-"), q.get("delayed", "-"), q.get("dead", "-"),
                         purge])  # fmt: skip
        headers = ["Name", "URL", "Visible", "In flight", "Delayed", "Dead", ""]
        return table(headers, rows, id_="queues")

    def schedules(self, request: Request) -> Markup:
        root = self.root(request)
        rows = [
            [link(s["name"], root + f"schedules/{s['name']}"), s["job_name"],
             s["recurring_interval"], s["cron"],
             "paused" if s["paused"] else "done" if s["done"] else "active",
             s["next_occurrence"] or "-", s["creator"]]
            for s in data.schedules(self.app)
        ]  # fmt: skip
        listed = (
            table(["Name", "Task type", "Interval", "Cron (UTC)", "State", "Next", "Creator"],
                  rows, id_="schedules")
            if rows else tag("p", "No stored schedules.", class_="muted")
        )  # fmt: skip
        create = (
            join([tag("h2", "New schedule"), self._schedule_form(request, None)])
            if self.guard.can_act
            else Markup("")
        )
        return join([listed, create])

    def _schedule_form(self, request: Request, current: dict[str, Any] | None) -> Markup:
        root = self.root(request)
        shown: dict[str, Any] = current or {}
        details: dict[str, str] = shown.get("recurring_details", {})
        inputs = [
            field("Name", "name", "") if current is None else Markup(""),
            select("Task type", "job_name", self.app.task_types, shown.get("job_name")),
            select("Interval", "recurring_interval", [i.value for i in RecurringInterval],
                   shown.get("recurring_interval", "EVERY_DAY")),
            *(field(d.replace("_", " "), d, details.get(d, "*")) for d in DETAILS),
            field("Payload (JSON)", "payload", json.dumps(shown.get("payload", {}))),
            field("Creator", "creator", shown.get("creator", "")),
            field("Start at (ISO, optional)", "start_at", ""),
        ]  # fmt: skip
        hidden: dict[str, object] = {"back": _here(request)}
        if current is not None:
            hidden["expected_version"] = current["version"]
        action = root + ("schedules" if current is None else f"schedules/{current['name']}")
        button = "Create" if current is None else "Save"
        return form(action, self.csrf(request), [tag("div", i) for i in inputs], button=button,
                    id_="schedule-form", hidden=hidden)  # fmt: skip

    def schedule_detail(self, request: Request) -> Markup:
        shown = data.schedule(self.app, request.path_params["name"])
        root = self.root(request)
        name = shown["name"]
        ops = [] if not self.guard.can_act else [
            form(root + f"schedules/{name}/{op}", self.csrf(request), button=op.capitalize(),
                 id_=f"schedule-{op}", hidden={"back": _here(request)})
            for op in (("resume",) if shown["paused"] else ("pause",)) + ("delete",)
        ]  # fmt: skip
        fields = [[k, _shown(v)] for k, v in shown.items()]
        edit = (
            join([tag("h2", "Edit"), self._schedule_form(request, shown)])
            if self.guard.can_act
            else Markup("")
        )
        return join([join(ops), table(["Field", "Value"], fields, id_="fields"), edit])

    def login(self, request: Request) -> Markup:
        if self.guard.token is None:
            return tag("p", "This dashboard has no token: actions are off.", class_="muted")
        return tag(
            "form",
            join([field("Token", "token", type_="password"), tag("button", "Sign in")]),
            method="post",
            action=self.root(request) + "login",
            id="login",
        )

    # -- actions ---------------------------------------------------------------------------

    def do_task(self, request: Request, fields: dict[str, str]) -> str:
        task_type, key, action = fields["task_type"], fields["key"], fields["action"]
        data.act(self.app, task_type, key, action)
        past = {"retry": "retried", "halt": "halted", "resume": "resumed"}.get(action)
        notice = f"{past or action + 'd'} {task_type} {key}"
        if action == "delete":
            return _with(self.root(request) + "tasks", notice=notice, task_type=task_type)
        return _with(self.root(request) + "task", notice=notice, task_type=task_type, key=key)

    def do_delete_failed(self, request: Request, fields: dict[str, str]) -> str:
        if fields.get("confirm") != "yes":
            raise ValueError("tick 'I am sure' to delete every FAILED task: it cannot be undone")
        task_type = fields["task_type"]
        deleted = data.delete_failed(self.app, task_type)["deleted"]
        return _with(fields.get("back", "/"), notice=f"deleted {deleted} FAILED {task_type}")

    def do_redrive(self, request: Request, fields: dict[str, str]) -> str:
        moved = data.redrive(self.app)["redriven"]
        return _with(fields.get("back", "/"), notice=f"redrove {moved} message(s)")

    def do_purge(self, request: Request, fields: dict[str, str]) -> str:
        if fields.get("confirm") != "yes":
            raise ValueError("tick 'I am sure' to purge: every message of the queue is dropped")
        name = request.path_params["name"]
        purged = data.purge(self.app, name)["purged"]
        count = "every" if purged is None else str(purged)
        return _with(fields.get("back", "/"), notice=f"purged {count} message(s) of {name}")

    def do_create_schedule(self, request: Request, fields: dict[str, str]) -> str:
        created = self.app.schedules().create(fields.get("name", ""), **_schedule(fields))
        where = self.root(request) + f"schedules/{created.name}"
        return _with(where, notice=f"created schedule {created.name}")

    def do_update_schedule(self, request: Request, fields: dict[str, str]) -> str:
        name = request.path_params["name"]
        version = fields.get("expected_version")
        self.app.schedules().update(
            name, expected_version=int(version) if version else None, **_schedule(fields)
        )
        return _with(self.root(request) + f"schedules/{name}", notice=f"saved schedule {name}")

    def do_schedule_op(self, request: Request, fields: dict[str, str]) -> str:
        name, op = request.path_params["name"], request.path_params["op"]
        book = self.app.schedules()
        if op == "delete":
            book.delete(name)
            return _with(self.root(request) + "schedules", notice=f"deleted schedule {name}")
        if op not in ("pause", "resume"):
            raise ValueError(f"no schedule action {op!r}")
        (book.pause if op == "pause" else book.resume)(name)
        return _with(self.root(request) + f"schedules/{name}", notice=f"{op}d schedule {name}")

    async def do_login(self, request: Request) -> Response:
        fields = _form(await request.body())
        if not self.guard.check_token(fields.get("token", "")):
            return RedirectResponse(
                _with(self.root(request) + "login", error="wrong token"), status_code=303
            )
        response = RedirectResponse(_with(self.root(request), notice="signed in"), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            self.guard.new_session(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response


def _form(raw: bytes) -> dict[str, str]:
    """An urlencoded form body (no multipart: the pages post none)."""
    parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def _with(path: str, **query: str) -> str:
    extra = urlencode({k: v for k, v in query.items() if v is not None})
    if not extra:
        return path
    return path + ("&" if "?" in path else "?") + extra


def _here(request: Request) -> str:
    kept = {k: v for k, v in request.query_params.items() if k not in ("notice", "error")}
    return request.url.path + ("?" + urlencode(kept) if kept else "")


def _shown(value: object) -> str:
    return (
        json.dumps(value)
        if isinstance(value, dict | list)
        else ""
        if value is None
        else str(value)
    )


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


def page_routes(app: TaskApp, guard: Guard) -> list[Route]:
    pages = Pages(app, guard)
    view, act = pages.view, pages.action
    return [
        Route("/", view("Overview", pages.overview)),
        Route("/tasks", view("Tasks", pages.task_list)),
        Route(
            "/task",
            view(
                lambda r: f"{r.query_params.get('task_type')} {r.query_params.get('key')}",
                pages.task_detail,
            ),
        ),
        Route("/task/action", act(pages.do_task), methods=["POST"]),
        Route("/tasks/delete-failed", act(pages.do_delete_failed), methods=["POST"]),
        Route("/dead-letters", view("Dead letters", pages.dead_letters)),
        Route("/dead-letters/redrive", act(pages.do_redrive), methods=["POST"]),
        Route("/workers", view("Workers", pages.workers)),
        Route("/queues", view("Queues", pages.queues)),
        Route("/queues/{name}/purge", act(pages.do_purge), methods=["POST"]),
        Route("/schedules", view("Schedules", pages.schedules)),
        Route("/schedules", act(pages.do_create_schedule), methods=["POST"]),
        Route(
            "/schedules/{name}",
            view(lambda r: f"Schedule {r.path_params['name']}", pages.schedule_detail),
        ),
        Route("/schedules/{name}", act(pages.do_update_schedule), methods=["POST"]),
        Route("/schedules/{name}/{op}", act(pages.do_schedule_op), methods=["POST"]),
        Route("/login", view("Sign in", pages.login)),
        Route("/login", pages.do_login, methods=["POST"]),
    ]
