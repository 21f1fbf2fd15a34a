"""HTML building with escaping by default: every value is escaped unless it is ``Markup``
built here, so task data (payloads, errors, keys) can never become markup."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

__all__ = ["Markup", "esc", "form", "layout", "link", "table"]


class Markup(str):
    """HTML this module built; everything else is text and is escaped."""

    __slots__ = ()


def esc(value: object) -> Markup:
    """``value`` as HTML text (``None`` as empty)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def tag(element: str, content: object = "", /, **attributes: object) -> Markup:
    attrs = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"'
        for k, v in attributes.items()
        if v is not None and v is not False
    )
    if element in _VOID:
        return Markup(f"<{element}{attrs}>")
    return Markup(f"<{element}{attrs}>{esc(content)}</{element}>")


_VOID = frozenset({"input", "br", "meta"})


def link(text: object, path: str, **query: object) -> Markup:
    shown = {k: v for k, v in query.items() if v is not None}
    href = path + ("?" + urlencode(shown) if shown else "")
    return tag("a", text, href=href)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, id_: str = "") -> Markup:
    head = join(tag("th", h) for h in headers)
    body = join(tag("tr", join(tag("td", cell) for cell in row)) for row in rows)
    return tag("table", Markup(f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"), id=id_)


def form(
    action: str,
    csrf: str,
    fields: Iterable[Markup] = (),
    *,
    button: str,
    id_: str | None = None,
    hidden: dict[str, object] | None = None,
) -> Markup:
    """A POST form with its CSRF token (and ``hidden`` values)."""
    parts = [tag("input", type="hidden", name="csrf", value=csrf)]
    parts += [tag("input", type="hidden", name=k, value=v) for k, v in (hidden or {}).items()]
    parts += list(fields)
    parts.append(tag("button", button, type="submit"))
    return tag(
        "form",
        join(parts),
        method="post",
        action=action,
        id=id_,
        class_="inline",
    )


def field(label: str, name: str, value: object = "", *, type_: str = "text") -> Markup:
    control = tag("input", name=name, value=value, type=type_, id=f"f-{name}")
    return tag("label", join([label, " ", control]), for_=f"f-{name}")


def select(label: str, name: str, options: Sequence[str], chosen: str | None) -> Markup:
    choices = join(tag("option", o, value=o, selected=(o == chosen)) for o in options)
    return tag("label", join([label, " ", tag("select", choices, name=name, id=f"f-{name}")]))


_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;
align-items:center}header a{color:#cfe0ff;text-decoration:none}header strong{color:#fff}
main{padding:1rem 1.2rem}table{border-collapse:collapse;background:#fff;margin:.5rem 0 1rem}
th,td{border:1px solid #dde1e8;padding:.3rem .6rem;text-align:left;vertical-align:top;
font-size:.9rem}th{background:#eef1f5}.inline{display:inline-block;margin:.2rem .4rem .2rem 0}
.notice{background:#e7f6ec;border:1px solid #9bd3ac;padding:.5rem .8rem}
.error{background:#fdecea;border:1px solid #f0a9a2;padding:.5rem .8rem}
pre{background:#fff;border:1px solid #dde1e8;padding:.5rem;white-space:pre-wrap}
label{margin-right:.8rem}button{cursor:pointer}.muted{color:#6b7280}
"""

NAV = (
    ("Overview", "/"),
    ("Tasks", "/tasks"),
    ("Dead letters", "/dead-letters"),
    ("Schedules", "/schedules"),
    ("Workers", "/workers"),
    ("Queues", "/queues"),
)


def layout(
    title: str,
    body: Markup,
    *,
    root: str,
    notice: str | None = None,
    error: str | None = None,
    signed_in: bool = False,
    can_act: bool = False,
) -> Markup:
    nav = join(link(name, root + path.lstrip("/") if path != "/" else root) for name, path in NAV)
    if not can_act:
        who = Markup('<span class="muted">read-only</span>')
    elif signed_in:
        who = tag("span", "signed in", class_="muted")
    else:
        who = link("Sign in to act", root + "login")
    banner = Markup("")
    if notice:
        banner = tag("p", notice, class_="notice", id="notice")
    if error:
        banner = tag("p", error, class_="error", id="error")
    page = Markup(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{esc(title)} · simple-async-tasks</title><style>{_STYLE}</style></head>"
        f"<body><header><strong>simple-async-tasks</strong>{nav}{who}</header>"
        f"<main><h1>{esc(title)}</h1>{banner}{body}</main></body></html>"
    )
    return page
