"""A contact's page: its fields, tags, tasks, notes and appointments beside its Mailsuite
side (the linked Mailsuite contact's emails with their opens and clicks, its tasks and its
timeline). Its fields, tags, a new note and a new task are changed through the contacts
services the API calls, so every change logs its event, starts its flows and reaches its
webhooks."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from contactflow.contacts import api as contacts_api
from contactflow.contacts import appointments, links, records, service
from contactflow.contacts.events import contact_snapshot
from contactflow.contacts.models import Contact
from contactflow.contacts.record_schemas import NoteCreate, TaskCreate
from contactflow.contacts.schemas import ContactUpdate, TagsBody
from contactflow.mailsuite import contacts as mail_contacts
from contactflow.mailsuite import emails as mail_emails
from contactflow.mailsuite import tasks as mail_tasks
from contactflow.mailsuite import timeline
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import DomainError, NotFound
from contactflow.platform.tenancy import Location
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.refusals import MOMENT_HINT, FilledForm, utc_moment

router = APIRouter(prefix="/app/l/{location_id}/contacts/{contact_id}", include_in_schema=False)
CONTACT_DOCS = api_docs(contacts_api.router, contacts_api.get_contact)
# The newest of each on the Mailsuite side; the Mailsuite API pages on from there.
MAIL_ROWS = 20
# The form's text fields, by wire name; a blank one clears the field.
TEXT_FIELDS = {
    "firstName": "First name",
    "lastName": "Last name",
    "email": "Email",
    "phone": "Phone",
    "companyName": "Company",
    "address1": "Address",
    "city": "City",
    "state": "State",
    "postalCode": "Postal code",
    "country": "Country",
    "website": "Website",
    "timezone": "Time zone",
    "source": "Source",
    "dateOfBirth": "Date of birth",
}
# The fields of each form of the page, which its refusals are put beside.
KNOWN = {
    "fields": {*TEXT_FIELDS, "type", "dnd"},
    "tags": {"tags"},
    "note": {"body"},
    "task": {"title", "body", "dueDate"},
}
NOTICES = {
    "saved": "Saved the contact.",
    "tagged": "Added the tags.",
    "untagged": "Removed the tag.",
    "noted": "Added the note.",
    "tasked": "Added the task.",
}


@dataclass
class Forms:
    """The page's forms: as the contact has them, or one as sent and refused."""

    fields: FilledForm
    tags: FilledForm = field(default_factory=lambda: FilledForm({"tags": ""}))
    note: FilledForm = field(default_factory=lambda: FilledForm({"body": ""}))
    task: FilledForm = field(
        default_factory=lambda: FilledForm({"title": "", "body": "", "dueDate": ""})
    )


def _values_of(contact: Contact) -> dict[str, Any]:
    snapshot = contact_snapshot(contact)
    return {
        **{name: snapshot[name] or "" for name in TEXT_FIELDS},
        "type": contact.type,
        "dnd": contact.dnd,
    }


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _fields_given(form: FormData) -> dict[str, Any]:
    return {
        **{name: _text(form, name) for name in TEXT_FIELDS},
        "type": _text(form, "type"),
        "dnd": form.get("dnd") == "on",
    }


async def _values(session: AsyncSession, location_id: str, contact_id: str) -> dict[str, Any]:
    contact = await service.find_contact(session, location_id, contact_id)
    mail = await mail_contacts.find_by_crm_id(session, location_id, contact.id)
    emails, tasks, entries = [], [], []
    if mail is not None:
        emails = (
            await mail_emails.list_emails(
                session,
                location_id,
                status=None,
                contact_id=mail.id,
                campaign_id=None,
                before=None,
                limit=MAIL_ROWS,
            )
        ).rows
        tasks = (
            await mail_tasks.list_tasks(
                session, location_id, status=None, contact_id=mail.id, before=None, limit=MAIL_ROWS
            )
        ).rows
        entries = (
            await timeline.contact_timeline(
                session, location_id, mail.id, before=None, limit=MAIL_ROWS
            )
        ).rows
    return {
        "contact": contact,
        "tasks": await records.list_tasks(session, location_id, contact.id),
        "notes": await records.list_notes(session, location_id, contact.id),
        "appointments": await appointments.appointments_of(session, location_id, contact.id),
        "mail": mail,
        "mail_emails": emails,
        "mail_tasks": tasks,
        "timeline": entries,
    }


async def _page(
    request: Request,
    viewer: Viewer,
    location: Location,
    contact_id: str,
    forms: Forms | None = None,
    status: int = 200,
) -> Response:
    async with database(request).reader() as session:
        values = await _values(session, location.id, contact_id)
    return render(
        "contact.html",
        status,
        viewer=viewer,
        location=location,
        api_docs=CONTACT_DOCS,
        forms=forms or Forms(FilledForm(_values_of(values["contact"]))),
        text_fields=TEXT_FIELDS,
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
        **values,
    )


Change = Callable[[UnitOfWork], Awaitable[object]]


async def _change(
    request: Request,
    viewer: Viewer,
    location: Location,
    contact_id: str,
    form: str,
    given: dict[str, Any],
    change: Change,
    done: str,
) -> Response:
    """Make the change in one unit of work, then show the page again: with a notice, or with
    the form `form` as sent and what the service or the wire model refused beside its
    fields (the page's other forms as they are)."""
    try:
        async with database(request).unit_of_work() as uow:
            await change(uow)
    except NotFound:
        raise PageNotFound from None
    except (ValidationError, DomainError) as error:
        refused = FilledForm.refused(given, error, KNOWN[form])
        # A duplicate's refusal names the field it matched on in its meta.
        if isinstance(error, DomainError) and error.meta:
            matching = str(error.meta.get("matchingField"))
            if matching in KNOWN[form]:
                refused.errors[matching] = "another contact of this location has it"
        return await _refused(request, viewer, location, contact_id, form, refused)
    where = f"/app/l/{location.id}/contacts/{contact_id}?done={done}"
    return RedirectResponse(where, status_code=303)


async def _refused(
    request: Request,
    viewer: Viewer,
    location: Location,
    contact_id: str,
    form: str,
    refused: FilledForm,
) -> Response:
    async with database(request).reader() as session:
        contact = await service.find_contact(session, location.id, contact_id)
    forms = replace(Forms(FilledForm(_values_of(contact))), **{form: refused})
    return await _page(request, viewer, location, contact_id, forms, 422)


@router.get("")
async def contact_view(
    request: Request, viewer: ViewerDep, location_id: str, contact_id: str
) -> Response:
    return await _page(request, viewer, viewer.location(location_id), contact_id)


@router.post("")
async def save_fields(
    request: Request, viewer: ViewerDep, location_id: str, contact_id: str
) -> Response:
    location = viewer.location(location_id)
    given = _fields_given(await request.form())
    region = request.app.state.settings.default_phone_region

    async def change(uow: UnitOfWork) -> object:
        # A blank text field clears it; a blank type is refused (a contact has one).
        blanked = {
            name: None if name in TEXT_FIELDS and value == "" else value
            for name, value in given.items()
        }
        body = ContactUpdate.model_validate(blanked)
        return await service.update_contact(uow, location.id, contact_id, body, region)

    return await _change(request, viewer, location, contact_id, "fields", given, change, "saved")


@router.post("/tags")
async def add_tags(
    request: Request, viewer: ViewerDep, location_id: str, contact_id: str
) -> Response:
    location = viewer.location(location_id)
    given = {"tags": _text(await request.form(), "tags")}
    tags = [tag.strip() for tag in given["tags"].split(",") if tag.strip()]
    if not tags:
        refused = FilledForm(given, {"tags": "required: one or more tags, comma-separated"})
        return await _refused(request, viewer, location, contact_id, "tags", refused)

    async def change(uow: UnitOfWork) -> object:
        body = TagsBody.model_validate({"tags": tags})
        return await links.add_tags(uow, location.id, contact_id, body.tags)

    return await _change(request, viewer, location, contact_id, "tags", given, change, "tagged")


@router.post("/tags/remove")
async def remove_tag(
    request: Request, viewer: ViewerDep, location_id: str, contact_id: str
) -> Response:
    location = viewer.location(location_id)
    tag = _text(await request.form(), "tag")

    async def change(uow: UnitOfWork) -> object:
        body = TagsBody.model_validate({"tags": [tag]})
        return await links.remove_tags(uow, location.id, contact_id, body.tags)

    given = {"tags": ""}
    return await _change(request, viewer, location, contact_id, "tags", given, change, "untagged")


@router.post("/notes")
async def add_note(
    request: Request, viewer: ViewerDep, location_id: str, contact_id: str
) -> Response:
    location = viewer.location(location_id)
    given = {"body": _text(await request.form(), "body")}

    async def change(uow: UnitOfWork) -> object:
        body = NoteCreate.model_validate(given)
        return await records.create_note(uow, location.id, contact_id, body)

    return await _change(request, viewer, location, contact_id, "note", given, change, "noted")


@router.post("/tasks")
async def add_task(
    request: Request, viewer: ViewerDep, location_id: str, contact_id: str
) -> Response:
    location = viewer.location(location_id)
    form = await request.form()
    given = {name: _text(form, name) for name in KNOWN["task"]}
    try:
        due = utc_moment(given["dueDate"])
    except ValueError:
        hint = f"required: {MOMENT_HINT}" if not given["dueDate"] else MOMENT_HINT
        refused = FilledForm(given, {"dueDate": hint})
        return await _refused(request, viewer, location, contact_id, "task", refused)

    async def change(uow: UnitOfWork) -> object:
        body = TaskCreate.model_validate(
            {
                "title": given["title"],
                "body": given["body"] or None,
                "dueDate": due,
                "completed": False,
            }
        )
        return await records.create_task(uow, location.id, contact_id, body)

    return await _change(request, viewer, location, contact_id, "task", given, change, "tasked")
