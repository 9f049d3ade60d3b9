"""An endpoint's deliveries: the list on its page (newest first, keyset paged, filtered by
state), and a delivery's page with every attempt (status, duration, what the receiver
answered) and Resend, through the webhooks service as the /webhooks API does.

Deliveries change without an event in the log (an attempt is a row, not an event), so a list
or a delivery still waiting to go out asks for itself again every few seconds (htmx polling,
as the bulk retry's progress does) until nothing on it is pending.
"""

from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.api_support import format_cursor
from contactflow.platform.webhooks import api as webhooks_api
from contactflow.platform.webhooks import service
from contactflow.platform.webhooks.models import PENDING
from contactflow.platform.webhooks.schemas import DeliveryState
from contactflow.web.guard import ViewerDep, database
from contactflow.web.pages import api_docs, render, render_part
from contactflow.web.paging import cursor_position

router = APIRouter(
    prefix="/app/l/{location_id}/webhooks/{endpoint_id}/deliveries", include_in_schema=False
)
DELIVERIES_PER_PAGE = 50
STATES: tuple[str, ...] = get_args(DeliveryState)
DELIVERY_DOCS = api_docs(webhooks_api.router, webhooks_api.list_attempts)
NOTICES = {
    "resent": "Queued to be sent again now.",
    "test": "A WebhookTest event is on its way to this endpoint.",
}


@dataclass(frozen=True)
class DeliveryFilter:
    """The deliveries list's state filter and page, as the page's address holds them."""

    state: str = ""
    cursor: str = ""

    @classmethod
    def of(cls, request: Request) -> "DeliveryFilter":
        return cls(
            state=request.query_params.get("state", ""),
            cursor=request.query_params.get("cursor", ""),
        )

    def query(self, **changed: str) -> str:
        pairs = {**self.__dict__, **changed}
        return urlencode({name: value for name, value in pairs.items() if value})

    def errors(self) -> dict[str, str]:
        if self.state and self.state not in STATES:
            return {"state": f"one of {', '.join(STATES)}"}
        return {}


def endpoint_path(location_id: str, endpoint_id: str) -> str:
    return f"/app/l/{location_id}/webhooks/{endpoint_id}"


async def listing(
    session: AsyncSession, location_id: str, endpoint_id: str, shown: DeliveryFilter
) -> dict[str, Any]:
    """What the deliveries block of an endpoint's page draws (raises NotFound)."""
    errors = shown.errors()
    rows = []
    if not errors:
        rows = await service.list_deliveries(
            session,
            location_id,
            endpoint_id,
            limit=DELIVERIES_PER_PAGE + 1,
            state=shown.state or None,
            before=cursor_position(shown.cursor),
        )
    page = endpoint_path(location_id, endpoint_id)
    older = ""
    if len(rows) > DELIVERIES_PER_PAGE:
        rows = rows[:DELIVERIES_PER_PAGE]
        last = rows[-1]
        older = f"{page}?{shown.query(cursor=format_cursor(last.created_at, last.id))}"
    pending = any(row.state == PENDING for row in rows)
    return {
        "location_id": location_id,
        "endpoint_path": page,
        "deliveries": rows,
        "delivery_filter": shown,
        "delivery_errors": errors,
        "delivery_states": STATES,
        "older_url": older,
        "poll_url": f"{page}/deliveries?{shown.query()}" if pending else "",
    }


@router.get("")
async def deliveries_part(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str
) -> Response:
    """The deliveries block alone: while one of them is pending, it asks for itself again."""
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        values = await listing(session, location.id, endpoint_id, DeliveryFilter.of(request))
    return render_part("webhook.html", "deliveries", **values)


async def _delivery_values(
    request: Request, location_id: str, endpoint_id: str, delivery_id: str
) -> dict[str, Any]:
    async with database(request).reader() as session:
        endpoint = await service.find_endpoint(session, location_id, endpoint_id)
        delivery = await service.find_delivery(session, location_id, endpoint_id, delivery_id)
        attempts = await service.attempts_of(session, location_id, endpoint_id, delivery_id)
    path = f"{endpoint_path(location_id, endpoint_id)}/deliveries/{delivery_id}"
    return {
        "location_id": location_id,
        "endpoint": endpoint,
        "delivery": delivery,
        "attempts": attempts,
        "progress_url": f"{path}/progress" if delivery.state == PENDING else "",
    }


@router.get("/{delivery_id}")
async def delivery_page(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str, delivery_id: str
) -> Response:
    location = viewer.location(location_id)
    values = await _delivery_values(request, location.id, endpoint_id, delivery_id)
    return render(
        "webhook_delivery.html",
        viewer=viewer,
        location=location,
        api_docs=DELIVERY_DOCS,
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
        **values,
    )


@router.get("/{delivery_id}/progress")
async def delivery_progress(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str, delivery_id: str
) -> Response:
    location = viewer.location(location_id)
    values = await _delivery_values(request, location.id, endpoint_id, delivery_id)
    return render_part("webhook_delivery.html", "delivery", **values)


@router.post("/{delivery_id}/resend")
async def resend(
    request: Request, viewer: ViewerDep, location_id: str, endpoint_id: str, delivery_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).unit_of_work() as uow:
        await service.resend(uow, location.id, endpoint_id, delivery_id)
    where = f"{endpoint_path(location.id, endpoint_id)}/deliveries/{delivery_id}?done=resent"
    return RedirectResponse(where, status_code=303)
