"""A location's overview, its landing page: what happened over the last hour, 24 hours and
7 days (events, flow runs, emails, webhook deliveries) as totals that link to the lists they
count, and charts drawn as SVG on the server; live, redrawn at most once a second as the
location's event log moves. The figures are the activity counters (platform/activity.py),
never a count of the tables."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform import activity
from contactflow.platform import event_types as types
from contactflow.platform.db import Database
from contactflow.web.guard import PageNotFound, ViewerDep, database
from contactflow.web.live import live_stream, log_position
from contactflow.web.pages import part, render
from contactflow.web.paging import LogPosition

router = APIRouter(prefix="/app/l/{location_id}", include_in_schema=False)
# A busy location's log moves all the time: its overview is redrawn at most this often.
REDRAW_SECONDS = 1.0
CHART_WIDTH = 320
CHART_HEIGHT = 100


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    width: activity.Width
    buckets: int
    # How a bucket's start reads on the chart.
    clock: str


WINDOWS = {
    window.key: window
    for window in (
        Window("1h", "Last hour", activity.MINUTE, 60, "%H:%M"),
        Window("24h", "Last 24 hours", activity.HOUR, 24, "%H:%M"),
        Window("7d", "Last 7 days", activity.HOUR, 7 * 24, "%a %H:%M"),
    )
}


@dataclass(frozen=True)
class Figure:
    """One thing counted: the counter it reads and the list it counts."""

    name: str
    kind: str
    css: str


@dataclass(frozen=True)
class Group:
    title: str
    figures: tuple[Figure, ...]


GROUPS = (
    Group("Events", (Figure("events", activity.EVENTS, "events"),)),
    Group(
        "Flow runs",
        (
            Figure("succeeded", types.FLOW_RUN_SUCCEEDED, "ok"),
            Figure("failed", types.FLOW_RUN_FAILED, "bad"),
        ),
    ),
    Group(
        "Emails",
        (
            Figure("sent", types.EMAIL_SENT, "sent"),
            Figure("opened", types.EMAIL_FIRST_OPENED, "opened"),
            Figure("clicked", types.LINK_FIRST_CLICKED, "clicked"),
            Figure("bounced", types.EMAIL_BOUNCED, "bad"),
        ),
    ),
    Group(
        "Webhook deliveries",
        (
            Figure("succeeded", activity.DELIVERY_SUCCEEDED, "ok"),
            Figure("failing", activity.DELIVERY_FAILED, "bad"),
        ),
    ),
)
FIGURES = [figure for group in GROUPS for figure in group.figures]
KINDS = [figure.kind for figure in FIGURES]


def window_start(window: Window) -> datetime:
    """When the window's first bucket began."""
    first = activity.current_bucket(window.width) - window.buckets + 1
    return datetime.fromtimestamp(first * window.width.seconds, tz=UTC)


def link(location_id: str, figure: Figure, since: datetime) -> str:
    """The list a figure counts: the runs of that state since the window began, the
    webhook endpoints with their deliveries, or the log's events of that type."""
    base = f"/app/l/{location_id}"
    if figure.kind in (types.FLOW_RUN_SUCCEEDED, types.FLOW_RUN_FAILED):
        query = urlencode({"state": figure.name, "since": since.strftime("%Y-%m-%dT%H:%M")})
        return f"{base}/runs?{query}"
    if figure.kind in (activity.DELIVERY_SUCCEEDED, activity.DELIVERY_FAILED):
        return f"{base}/webhooks"
    if figure.kind == activity.EVENTS:
        return f"{base}/events"
    return f"{base}/events?{urlencode({'type': figure.kind})}"


@dataclass(frozen=True)
class Line:
    figure: Figure
    total: int
    peak: int
    points: str


@dataclass(frozen=True)
class Chart:
    """A group's figures over the chosen window, as SVG polylines in a fixed box."""

    group: Group
    lines: list[Line]
    top: int
    start: str
    end: str

    @property
    def desc(self) -> str:
        said = ", ".join(
            f"{line.figure.name}: {line.total} in all, at most {line.peak} in one bucket"
            for line in self.lines
        )
        return f"From {self.start} to now (UTC). {said}."


def _points(values: list[int], top: int) -> str:
    step = CHART_WIDTH / max(len(values) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{CHART_HEIGHT - value * CHART_HEIGHT / top:.1f}"
        for index, value in enumerate(values)
    )


def _chart(group: Group, counts: dict[str, list[int]], window: Window) -> Chart:
    top = max([1, *(max(counts[figure.kind]) for figure in group.figures)])
    lines = []
    for figure in group.figures:
        values = counts[figure.kind]
        lines.append(Line(figure, sum(values), max(values), _points(values, top)))
    start = window_start(window)
    return Chart(group, lines, top, start.strftime(window.clock), "now")


async def _totals(
    session: AsyncSession, location_id: str
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, list[int]]]]:
    """Per window, each kind's total; and per window, each kind's counts by bucket."""
    minutes = await activity.series(session, location_id, activity.MINUTE, KINDS, 60)
    hours = await activity.series(session, location_id, activity.HOUR, KINDS, 7 * 24)
    by_window = {
        "1h": minutes,
        "24h": {kind: values[-24:] for kind, values in hours.items()},
        "7d": hours,
    }
    totals = {
        key: {kind: sum(values) for kind, values in counts.items()}
        for key, counts in by_window.items()
    }
    return totals, by_window


async def _figures(db: Database, location_id: str, window: Window) -> dict[str, Any]:
    async with db.reader() as session:
        totals, by_window = await _totals(session, location_id)
    links = {
        key: {figure.kind: link(location_id, figure, window_start(w)) for figure in FIGURES}
        for key, w in WINDOWS.items()
    }
    return {
        "windows": WINDOWS,
        "groups": GROUPS,
        "totals": totals,
        "links": links,
        "charts": [_chart(group, by_window[window.key], window) for group in GROUPS],
        "window": window,
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
    }


def _window(request: Request) -> Window | None:
    return WINDOWS.get(request.query_params.get("window", "1h"))


@router.get("")
async def location_home(viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    return RedirectResponse(f"/app/l/{location.id}/overview", status_code=303)


@router.get("/overview")
async def overview_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    window = _window(request)
    if window is None:
        return render(
            "overview.html",
            422,
            viewer=viewer,
            location=location,
            windows=WINDOWS,
            window=None,
            error="window: pick 1h, 24h or 7d",
            live_url="",
        )
    db = database(request)
    after = await log_position(db, location.id)
    return render(
        "overview.html",
        viewer=viewer,
        location=location,
        error="",
        live_url=f"/app/l/{location.id}/overview/live?window={window.key}&after={after}",
        location_id=location.id,
        **await _figures(db, location.id, window),
    )


@router.get("/overview/live")
async def overview_live(
    request: Request, viewer: ViewerDep, location_id: str, after: LogPosition = 0
) -> Response:
    """The figures, redrawn as the location's log moves (at most once a second)."""
    location = viewer.location(location_id)
    window = _window(request)
    if window is None:
        raise PageNotFound
    db = database(request)

    async def draw() -> str:
        values = await _figures(db, location.id, window)
        return part("overview.html", "figures", location_id=location.id, **values)

    return live_stream(
        request,
        db,
        viewer.signed_in.secret,
        location.id,
        after,
        "overview",
        draw,
        pace=REDRAW_SECONDS,
    )
