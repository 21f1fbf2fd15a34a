"""The HTML pages: server-rendered, no script, every value escaped (``html.esc``); every
form posts with its CSRF token to ``forms`` and is redirected back with a notice
(post/redirect/get)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..app import TaskApp
from ..lifecycle.schedule_model import DETAILS, RecurringInterval
from ..task import AsyncTaskStatus
from . import data
from ._web import Site, here
from .forms import Forms
from .html import Markup, field, form, join, link, select, table, tag
from .security import Guard

__all__ = ["page_routes"]


class Pages(Site):
    """The views of the dashboard."""

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
                        hidden={"task_type": task_type, "back": here(request)})  # fmt: skip
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
                                                "back": here(request)})
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
        shown = data.dead_letters(self.app)
        letters = shown["letters"]
        notes = join(
            tag("p", f"{u['queue']}: {u['reason']}", class_="muted") for u in shown["unavailable"]
        )
        rows = [
            [d["queue"], d["message_id"], d["task_type"], d["receive_count"], d["dead_at"],
             d["body"][:200]]
            for d in letters
        ]  # fmt: skip
        redrive = (
            form(self.root(request) + "dead-letters/redrive", self.csrf(request),
                 button="Redrive all", id_="redrive", hidden={"back": here(request)})
            if self.guard.can_act and letters else Markup("")
        )  # fmt: skip
        if not rows:
            return join([tag("p", "No dead letters.", class_="muted"), notes])
        return join([redrive, table(["Queue", "Message", "Task type", "Receives", "Dead at",
                                     "Body"], rows, id_="dead-letters"), notes])  # fmt: skip

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
                     button="Purge", id_=f"purge-{q['name']}", hidden={"back": here(request)})
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
        hidden: dict[str, object] = {"back": here(request)}
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
                 id_=f"schedule-{op}", hidden={"back": here(request)})
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


def _shown(value: object) -> str:
    return (
        json.dumps(value)
        if isinstance(value, dict | list)
        else ""
        if value is None
        else str(value)
    )


def page_routes(app: TaskApp, guard: Guard) -> list[Route]:
    pages, forms = Pages(app, guard), Forms(app, guard)
    view, act = pages.view, forms.action
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
        Route("/task/action", act(forms.do_task), methods=["POST"]),
        Route("/tasks/delete-failed", act(forms.do_delete_failed), methods=["POST"]),
        Route("/dead-letters", view("Dead letters", pages.dead_letters)),
        Route("/dead-letters/redrive", act(forms.do_redrive), methods=["POST"]),
        Route("/workers", view("Workers", pages.workers)),
        Route("/queues", view("Queues", pages.queues)),
        Route("/queues/{name}/purge", act(forms.do_purge), methods=["POST"]),
        Route("/schedules", view("Schedules", pages.schedules)),
        Route("/schedules", act(forms.do_create_schedule), methods=["POST"]),
        Route(
            "/schedules/{name}",
            view(lambda r: f"Schedule {r.path_params['name']}", pages.schedule_detail),
        ),
        Route("/schedules/{name}", act(forms.do_update_schedule), methods=["POST"]),
        Route("/schedules/{name}/{op}", act(forms.do_schedule_op), methods=["POST"]),
        Route("/login", view("Sign in", pages.login)),
        Route("/login", forms.do_login, methods=["POST"]),
    ]
