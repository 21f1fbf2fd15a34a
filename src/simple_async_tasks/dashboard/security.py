"""Who may act: the bearer token (or the host app's own check), read-only mode, the signed
session cookie the browser pages use, and the CSRF token of every form.

Reading needs nothing beyond ``authorize`` (the dashboard binds to 127.0.0.1 by
default); every action needs, in order of precedence: the host app's ``authorize`` when
mounted with one, else the token: ``Authorization: Bearer <token>`` on the JSON API, or
the session cookie a browser gets by signing in with the token, plus the form's CSRF
token. Without a token and without ``authorize``, actions are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable

from starlette.requests import Request

from . import TOKEN_ENV

__all__ = ["Guard", "Refused"]

SESSION_COOKIE = "sat_session"
CSRF_COOKIE = "sat_csrf"


class Refused(Exception):
    """An action this request may not take: ``status`` 401 (who are you) or 403 (no)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class Guard:
    """The dashboard's checks, made once per app."""

    def __init__(
        self,
        *,
        token: str | None,
        read_only: bool,
        authorize: Callable[[Request], bool] | None,
    ) -> None:
        self.token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        self.read_only = read_only
        self.authorize = authorize
        self._secret = hashlib.sha256(
            b"simple-async-tasks dashboard\0" + (self.token or secrets.token_hex(32)).encode()
        ).digest()
        """Signs sessions and CSRF tokens; from the token, so every process that serves
        the same token accepts the same cookies, and a new token signs everyone out."""

    # -- reading ---------------------------------------------------------------------------

    def may_read(self, request: Request) -> None:
        if self.authorize is not None and not self.authorize(request):
            raise Refused(403, "the host app's authorization refused this request")

    # -- acting ----------------------------------------------------------------------------

    @property
    def can_act(self) -> bool:
        """Whether any request could act (for the pages: show the forms or not)."""
        return not self.read_only and (self.authorize is not None or self.token is not None)

    def may_act(self, request: Request, *, form_csrf: str | None = None) -> None:
        """Refuse unless ``request`` may take an action: from the API with the bearer
        token, from a page with the session cookie and the form's ``form_csrf``."""
        if self.read_only:
            raise Refused(403, "this dashboard is read-only (started with --read-only)")
        if self.authorize is not None:
            if not self.authorize(request):
                raise Refused(403, "the host app's authorization refused this action")
            if form_csrf is not None:
                self._check_csrf(request, form_csrf)
            return
        if self.token is None:
            raise Refused(
                403,
                f"actions need a token: start the dashboard with {TOKEN_ENV} set, and "
                "send it as 'Authorization: Bearer <token>' (or sign in on the page)",
            )
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and form_csrf is None:
            if hmac.compare_digest(header[7:].strip().encode(), self.token.encode()):
                return
            raise Refused(401, "wrong bearer token")
        if form_csrf is None:
            raise Refused(401, "send 'Authorization: Bearer <token>' to act")
        if self.session_of(request) is None:
            raise Refused(401, "sign in with the dashboard token first")
        self._check_csrf(request, form_csrf)

    # -- browser sessions ------------------------------------------------------------------

    def _sign(self, value: str) -> str:
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()

    def check_token(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def new_session(self) -> str:
        """A cookie value: a random id and its signature."""
        sid = secrets.token_hex(16)
        return f"{sid}.{self._sign('session:' + sid)}"

    def session_of(self, request: Request) -> str | None:
        """The session id of a valid cookie, or None."""
        cookie = request.cookies.get(SESSION_COOKIE, "")
        sid, _, signature = cookie.partition(".")
        if sid and hmac.compare_digest(signature, self._sign("session:" + sid)):
            return sid
        return None

    def browser_anchor(self, request: Request) -> str | None:
        """With the host app's auth (no session of ours), the per-browser value its forms'
        CSRF tokens are bound to: the ``sat_csrf`` cookie, or a new one for a first visit
        (kept on the request, for the page to set). None in token mode."""
        if self.authorize is None:
            return None
        anchor = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_anchor", None)
        if not anchor:
            anchor = request.state.csrf_anchor = secrets.token_hex(16)
        return str(anchor)

    def csrf_for(self, request: Request) -> str:
        """The CSRF token of this browser's forms: bound to its session (or, with the host
        app's auth, to its ``sat_csrf`` cookie)."""
        anchor = self.session_of(request) or self.browser_anchor(request) or ""
        return self._sign("csrf:" + anchor)

    def _check_csrf(self, request: Request, given: str) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            raise Refused(403, f"a form posted from another site ({origin}) is refused")
        anchor = self.session_of(request) or request.cookies.get(CSRF_COOKIE, "")
        if not anchor or not hmac.compare_digest(given, self._sign("csrf:" + anchor)):
            raise Refused(403, "the form's CSRF token is missing or stale: reload the page")
