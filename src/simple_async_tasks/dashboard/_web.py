"""What every page and form of the dashboard shares: the app, the guard, the mount point,
the layout with its security headers, and the plumbing of a view and of a form's POST."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..app import TaskApp
from ..errors import SimpleAsyncTasksError
from .api import status_of
from .html import Markup, layout, tag
from .security import CSRF_COOKIE, Guard, Refused

__all__ = ["Site", "form_of", "here", "with_query"]

Page = Callable[[Request], Markup]


class Site:
    """The pages and forms of one dashboard (its app, guard and mount point)."""

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
        anchor = self.guard.browser_anchor(request)
        if anchor is not None and CSRF_COOKIE not in request.cookies:
            response.set_cookie(CSRF_COOKIE, anchor, httponly=True, samesite="strict")
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
            fields = form_of(await request.body())
            back = fields.get("back") or self.root(request)
            try:
                self.guard.may_act(request, form_csrf=fields.get("csrf", ""))
                where = await run_in_threadpool(do, request, fields)
            except (SimpleAsyncTasksError, Refused, ValueError) as error:
                return RedirectResponse(with_query(back, error=str(error)), status_code=303)
            return RedirectResponse(where, status_code=303)

        return endpoint

    def csrf(self, request: Request) -> str:
        return self.guard.csrf_for(request)


def form_of(raw: bytes) -> dict[str, str]:
    """An urlencoded form body (no multipart: the pages post none)."""
    parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def with_query(path: str, **query: str) -> str:
    extra = urlencode({k: v for k, v in query.items() if v is not None})
    if not extra:
        return path
    return path + ("&" if "?" in path else "?") + extra


def here(request: Request) -> str:
    kept = {k: v for k, v in request.query_params.items() if k not in ("notice", "error")}
    return request.url.path + ("?" + urlencode(kept) if kept else "")
