"""The JSON API under ``/api``: what the pages show and do, in the seed project's envelope
``{"data": ..., "error": null, "success": true}`` (on failure ``data`` is null and
``error`` is ``{"type": ..., "message": ...}``, with a matching HTTP status)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..app import TaskApp
from ..errors import (
    ConditionFailedError,
    ConfigurationError,
    InvalidScheduleError,
    InvalidTaskError,
    MutexHeldError,
    ScheduleNotFoundError,
    SimpleAsyncTasksError,
    TaskNotFoundError,
    UnknownTaskTypeError,
)
from . import data
from .security import Guard, Refused

__all__ = ["api_routes", "status_of"]


def envelope(value: object, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": value, "error": None, "success": True}, status_code=status)


def failure(error: Exception, status: int) -> JSONResponse:
    body = {"data": None, "error": {"type": type(error).__name__, "message": str(error)}}
    return JSONResponse({**body, "success": False}, status_code=status)


def status_of(error: Exception) -> int:
    """The HTTP status of one of the library's errors."""
    if isinstance(error, Refused):
        return error.status
    if isinstance(error, TaskNotFoundError | ScheduleNotFoundError):
        return 404
    if isinstance(error, InvalidScheduleError | ConfigurationError | UnknownTaskTypeError):
        return 400
    if isinstance(error, InvalidTaskError | ConditionFailedError | MutexHeldError):
        return 409
    return 502  # a backend call failed


Handler = Callable[[Request], object]


def _json_route(guard: Guard, handler: Handler, *, acts: bool = False) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        try:
            if acts:
                guard.may_act(request)
            else:
                guard.may_read(request)
            body: dict[str, Any] = {}
            if request.method in ("POST", "PATCH", "PUT"):
                raw = await request.body()
                body = _object(raw)
            request.state.body = body
            value = await run_in_threadpool(handler, request)  # the backends block
        except (SimpleAsyncTasksError, Refused) as error:
            return failure(error, status_of(error))
        except ValueError as error:  # a malformed body or parameter
            return failure(error, 400)
        return envelope(value)

    return endpoint


def _object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the request body must be a JSON object")
    return value


def _text(request: Request, name: str, default: str | None = None) -> str:
    value = request.query_params.get(name) or request.state.body.get(name) or default
    if value is None:
        raise ValueError(f"give {name}")
    return str(value)


def api_routes(app: TaskApp, guard: Guard) -> list[Route]:
    """The routes of the JSON API (mounted at ``/api`` by ``create_dashboard``)."""

    def read(path: str, handler: Handler) -> Route:
        return Route(path, _json_route(guard, handler), methods=["GET"])

    def write(path: str, handler: Handler, method: str = "POST") -> Route:
        return Route(path, _json_route(guard, handler, acts=True), methods=[method])

    def tasks(request: Request) -> object:
        task_type = _text(request, "task_type", (app.task_types or [""])[0])
        limit = int(request.query_params.get("limit", "50"))
        return data.tasks(
            app,
            task_type,
            _text(request, "status", "FAILED"),
            cursor=request.query_params.get("cursor") or None,
            limit=limit,
        )

    def action(request: Request) -> object:
        name = request.path_params["action"]
        key = _text(request, "unique_key")
        return data.act(app, request.path_params["task_type"], key, name)

    def create_schedule(request: Request) -> object:
        body = request.state.body
        fields = data.schedule_fields(body)
        name = str(body.get("name", ""))
        return app.schedules().create(name, **fields).as_dict()

    def update_schedule(request: Request) -> object:
        body = request.state.body
        version = body.get("expected_version")
        changed = app.schedules().update(
            request.path_params["name"],
            expected_version=int(version) if version is not None else None,
            **data.schedule_fields(body),
        )
        return changed.as_dict()

    def schedule_op(request: Request) -> object:
        book, name, op = app.schedules(), request.path_params["name"], request.path_params["op"]
        if op == "pause":
            return book.pause(name).as_dict()
        if op == "resume":
            return book.resume(name).as_dict()
        raise ValueError(f"no schedule action {op!r}: pause or resume")

    def delete_schedule(request: Request) -> object:
        app.schedules().delete(request.path_params["name"])
        return {"deleted": request.path_params["name"]}

    return [
        read("/stats", lambda r: data.stats(app)),
        read("/task-types", lambda r: data.task_types(app)),
        read("/tasks", tasks),
        read(
            "/tasks/{task_type}/task",
            lambda r: data.task(app, r.path_params["task_type"], _text(r, "unique_key")),
        ),
        write("/tasks/{task_type}/actions/{action}", action),
        write(
            "/tasks/{task_type}/delete-failed",
            lambda r: data.delete_failed(app, r.path_params["task_type"]),
        ),
        read("/locks", lambda r: data.locks(app)),
        write(
            "/locks/break",
            lambda r: data.break_lock(
                app, _text(r, "key"), force=bool(r.state.body.get("force", False))
            ),
        ),
        read("/queues", lambda r: data.queues(app)),
        write("/queues/{name}/purge", lambda r: data.purge(app, r.path_params["name"])),
        read("/dead-letters", lambda r: data.dead_letters(app)),
        write("/dead-letters/redrive", lambda r: data.redrive(app)),
        read("/workers", lambda r: data.workers(app)),
        read("/schedules", lambda r: data.schedules(app)),
        write("/schedules", create_schedule),
        read("/schedules/{name}", lambda r: data.schedule(app, r.path_params["name"])),
        write("/schedules/{name}", update_schedule, "PATCH"),
        write("/schedules/{name}", delete_schedule, "DELETE"),
        write("/schedules/{name}/{op}", schedule_op),
    ]
