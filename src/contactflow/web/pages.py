"""Drawing pages: one Jinja2 template per page, whose blocks are its live parts, so a full
page, an htmx swap and a live (SSE) update draw a thing the same way.

Everything a template prints is escaped. Pages load scripts and styles only from this
server (the vendored files in static/), so their policy allows nothing inline.
"""

import hashlib
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from jinja2_fragments import render_block

from contactflow.platform.clock import to_iso

DASHBOARD_PATH = "/app/"
STATIC_PATH = "/app/static"
PAGE_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
# The pages hold contact data and CSRF tokens: never cached; they vary with htmx's header.
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "Cache-Control": "no-store",
    "Vary": "HX-Request",
}


@cache
def _digest(name: str) -> str:
    data = resources.files("contactflow.web").joinpath("static", name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


def static(name: str) -> str:
    """The URL of a static file, with its content's hash so a changed file is fetched anew."""
    return f"{STATIC_PATH}/{name}?v={_digest(name)}"


def api_docs(router: APIRouter, endpoint: Callable[..., Any]) -> str:
    """Where the API docs (Swagger UI at /docs) show the operation: `#/{tag}/{operationId}`,
    Swagger UI's deep link."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            return f"/docs#/{quote(str(route.tags[0]), safe='')}/{quote(route.unique_id, safe='')}"
    raise LookupError(f"{endpoint.__name__} is not a route of the router")


def _when(value: Any) -> str:
    return "" if value is None else to_iso(value)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


templates = Environment(
    loader=PackageLoader("contactflow.web", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["static"] = static
templates.filters["when"] = _when
templates.filters["pretty"] = _pretty


def render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = templates.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def render_part(template: str, block: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(part(template, block, **values), status_code=status, headers=PAGE_HEADERS)


def part(template: str, block: str, **values: Any) -> str:
    """One block of a page's template, drawn alone (for htmx and live updates)."""
    return render_block(templates, template, block, **values)
