"""A location's syncs of contacts with Mailsuite contacts, and of their tasks, notes and
appointments: the list (object, direction, status, pairs linked, the backfill's progress
with its rate and the time left); a new one made from an object, a name and a direction
(with the object's default mapping); a sync's page with its mapping,
counts and last error, paused, resumed and resynced through the sync service as the
/sync/v1/syncs API does, its reconciliations (web/sync_reconciliations.py), held
deletes (web/sync_held.py) and held conflicts (web/sync_conflicts.py).

A backfill's batches need not log any event (a matched pair writes nothing), so its
progress is not drawn from the event log as a campaign's is: while a backfill runs, its
block asks for itself again every few seconds (htmx), and stops once it has finished or
its sync is paused."""

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict, DomainError
from contactflow.platform.tenancy import Location
from contactflow.sync import api as sync_api
from contactflow.sync import service
from contactflow.sync.fields import MAILSUITE_CUSTOM
from contactflow.sync.models import ACTIVE, PAUSED, Sync, SyncStatus
from contactflow.sync.objects import kind_of
from contactflow.sync.schemas import SyncCreate, SyncOut
from contactflow.sync.service import SyncSettings
from contactflow.sync.wire import segment_words, sync_out
from contactflow.web import sync_conflicts, sync_held, sync_reconciliations
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import api_docs, render, render_part
from contactflow.web.paging import cursor_position, older_url
from contactflow.web.refusals import by_field, form_texts, refusal_lines

router = APIRouter(prefix="/app/l/{location_id}/syncs", include_in_schema=False)
SYNCS_PER_PAGE = 50
FIELDS = ("name", "direction")
SYNCS_DOCS = api_docs(sync_api.router, sync_api.list_syncs)
SYNC_DOCS = api_docs(sync_api.router, sync_api.get_sync)
CREATE_DOCS = api_docs(sync_api.router, sync_api.create_sync)
DIRECTIONS = {
    "both": "Both ways",
    "crmToMailsuite": "Contacts to Mailsuite",
    "mailsuiteToCrm": "Mailsuite to contacts",
}
OBJECTS = {
    "contacts": "Contacts",
    "tasks": "Tasks of linked contacts",
    "notes": "Notes, onto the Mailsuite timeline",
    "appointments": "Appointments, onto the Mailsuite timeline",
}
DELETE_POLICIES = {
    "ignore": "the partner is kept",
    "propagate": "the partner is deleted too",
    "hold": "held until a person approves",
}
NOTICES = {
    "created": "Sync created: its backfill links the contacts there are now.",
    "changed": "Settings saved: each record is synced by them from its next change.",
    "paused": "Paused: changes wait in the event log, the backfill after its batch.",
    "resumed": "Syncing again, from where it stopped.",
    "resyncing": "Resyncing: the backfill compares every linked pair again and links the "
    "records not linked yet.",
    "reconciling": "Reconciling: both sides are being compared.",
    "repairing": "Repairing every open finding.",
    "repaired": "Finding repaired (its outcome is in the list).",
    "approved": "Delete approved: the partner is deleted too.",
    "rejected": "Delete rejected: the partner is kept.",
    "decided": "That delete was decided already.",
    "resolved": "Conflict resolved: the value kept is on both sides.",
    "settled": "That conflict was resolved already.",
    "unreachable": "Not now: the remote account did not answer (or its connection needs "
    "connecting again, see the sync's health). Nothing was decided: decide again later.",
    "busy": "Not now: the backfill is still running, the sync is paused, a reconciliation "
    "has not finished, or its findings are being repaired.",
}
_WORD_START = re.compile(r"(?<=[a-z])(?=[A-Z0-9])")
Step = Callable[[UnitOfWork, str, str], Awaitable[Sync]]


def _status(status: SyncStatus) -> Step:
    return lambda uow, location_id, sync_id: service.set_status(uow, location_id, sync_id, status)


# Pause, Resume and Resync: what each does, and the notice the page shows after it (a
# refusal, 409, shows `busy`).
COURSE: dict[str, tuple[Step, str]] = {
    "pause": (_status(PAUSED), "paused"),
    "resume": (_status(ACTIVE), "resumed"),
    "resync": (service.resync, "resyncing"),
}


def field_words(name: str) -> str:
    """A mapped field's API name in words: `postalCode` is "Postal code"."""
    if name.startswith(MAILSUITE_CUSTOM):
        return f"Custom field {name.removeprefix(MAILSUITE_CUSTOM)}"
    words = _WORD_START.sub(" ", name).lower()
    return words[:1].upper() + words[1:]


def conflict_words(sync_object: str) -> dict[str, str]:
    """Each conflict policy in words, naming the object's records on each side."""
    catalog = kind_of(sync_object).catalog
    return {
        "crmWins": f"the {catalog.crm_noun} wins",
        "mailsuiteWins": f"the {catalog.mailsuite_noun} wins",
        "newestWins": "the newest change wins",
        "manual": "a person picks",
    }


def _base(location_id: str) -> str:
    return f"/app/l/{location_id}/syncs"


def following(sync: SyncOut) -> bool:
    """Whether its progress still moves on its own: a backfill running for an active sync."""
    return sync.status == ACTIVE and sync.backfill is not None and sync.backfill.state == "running"


async def _list(session: AsyncSession, location_id: str, cursor: str | None) -> dict[str, Any]:
    page = await service.list_syncs(
        session, location_id, before=cursor_position(cursor), limit=SYNCS_PER_PAGE
    )
    syncs = [await sync_out(session, sync) for sync in page.rows]
    return {
        "location_id": location_id,
        "syncs": syncs,
        "directions": DIRECTIONS,
        "objects": OBJECTS,
        "create_docs": CREATE_DOCS,
        "refresh_url": (
            f"{_base(location_id)}/progress" if not cursor and any(map(following, syncs)) else ""
        ),
        "older_url": older_url(_base(location_id), page.next),
    }


async def _one(session: AsyncSession, location_id: str, sync_id: str) -> dict[str, Any]:
    sync = await sync_out(session, await service.find_sync(session, location_id, sync_id))
    return {
        "location_id": location_id,
        "sync": sync,
        "refresh_url": f"{_base(location_id)}/{sync.id}/progress" if following(sync) else "",
        **await sync_reconciliations.latest(session, location_id, sync.id),
        **await sync_held.waiting(session, location_id, sync.id),
        **await sync_conflicts.open_conflicts(session, location_id, sync.id),
    }


@router.get("")
async def syncs_page(
    request: Request, viewer: ViewerDep, location_id: str, cursor: str | None = None
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        values = await _list(session, location.id, cursor)
    return render(
        "syncs.html",
        viewer=viewer,
        location=location,
        api_docs=SYNCS_DOCS,
        **values,
    )


@router.get("/progress")
async def syncs_progress(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    """The first page's list, drawn again while a backfill runs."""
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        values = await _list(session, location.id, None)
    return render_part("syncs.html", "sync_list", **values)


def _new_form(
    viewer: Viewer, location: Location, values: dict[str, str], errors: dict[str, str], message: str
) -> Response:
    return render(
        "sync_new.html",
        422 if errors or message else 200,
        viewer=viewer,
        location=location,
        api_docs=CREATE_DOCS,
        directions=DIRECTIONS,
        objects=OBJECTS,
        values=values,
        errors=errors,
        message=message,
    )


@router.get("/new")
async def new_sync(viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    return _new_form(viewer, location, {"object": "contacts", "direction": "both"}, {}, "")


@router.post("/new")
async def create(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    values = form_texts(await request.form(), (*FIELDS, "object"))
    try:
        # Without an object, contacts, as in the API; a refusal of the object (the location
        # syncs it already, or has no contacts sync) is said above the form.
        wanted = SyncCreate.model_validate({**values, "object": values["object"] or "contacts"})
        settings = SyncSettings(wanted.name, wanted.object, wanted.direction)
        async with database(request).unit_of_work() as uow:
            sync = await service.create_sync(uow, location.id, settings)
    except (ValidationError, DomainError) as error:
        errors, message = by_field(refusal_lines(error), set(FIELDS))
        return _new_form(viewer, location, values, errors, message)
    return RedirectResponse(f"{_base(location.id)}/{sync.id}?done=created", 303)


@router.get("/{sync_id}")
async def sync_page(
    request: Request, viewer: ViewerDep, location_id: str, sync_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        values = await _one(session, location.id, sync_id)
    return render(
        "sync.html",
        viewer=viewer,
        location=location,
        api_docs=SYNC_DOCS,
        directions=DIRECTIONS,
        objects=OBJECTS,
        conflicts=conflict_words(values["sync"].object),
        words=field_words,
        delete_policies=DELETE_POLICIES,
        segment_words=segment_words,
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
        **values,
    )


@router.get("/{sync_id}/progress")
async def sync_progress(
    request: Request, viewer: ViewerDep, location_id: str, sync_id: str
) -> Response:
    """The sync's counts, drawn again while its backfill runs."""
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        values = await _one(session, location.id, sync_id)
    return render_part("sync.html", "counts", **values)


@router.post("/{sync_id}/{step}")
async def change_course(
    request: Request, viewer: ViewerDep, location_id: str, sync_id: str, step: str
) -> Response:
    location = viewer.location(location_id)
    if step not in COURSE:
        raise PageNotFound
    act, done = COURSE[step]
    try:
        async with database(request).unit_of_work() as uow:
            await act(uow, location.id, sync_id)
    except Conflict:
        done = "busy"
    return RedirectResponse(f"{_base(location.id)}/{sync_id}?done={done}", 303)
