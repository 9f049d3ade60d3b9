"""The location's connections and their status, as GET /connections lists them."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactflow.flows.connections import service
from contactflow.flows.connections.api import connection_out
from contactflow.web.guard import ViewerDep, database
from contactflow.web.pages import render

router = APIRouter(prefix="/app/l/{location_id}", include_in_schema=False)


@router.get("/connections")
async def connections_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    # A location's first listing adds its built-in connections, as the API's does.
    async with database(request).unit_of_work() as uow:
        rows = [connection_out(row) for row in await service.list_connections(uow, location.id)]
    return render("connections.html", viewer=viewer, location=location, connections=rows)
