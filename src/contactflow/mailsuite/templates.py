"""Templates: a subject, an HTML body and an optional text body with merge placeholders.
A template that does not parse is refused when it is saved."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.contacts import ensure_workspace, find_contact, merge_fields
from contactflow.mailsuite.mail_schemas import TemplateCreate, TemplateUpdate
from contactflow.mailsuite.merge import (
    Compiled,
    MergeError,
    Rendered,
    compile_template,
    known_placeholders,
    merge_values,
    render,
    unknown_placeholders,
)
from contactflow.mailsuite.models import Template, Workspace
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.references import referenced
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound, Unprocessable, invalid
from contactflow.platform.ids import new_id

TEMPLATE_NOT_FOUND = "Template not found"
PREVIEW_UNSUBSCRIBE_URL = "#unsubscribe"


async def find_template(session: AsyncSession, location_id: str, template_id: str) -> Template:
    row = await session.get(Template, template_id)
    if row is None or row.location_id != location_id:
        raise NotFound(TEMPLATE_NOT_FOUND)
    return row


def compiled(subject: str, html: str, text: str) -> Compiled:
    """Parsed parts; a part that does not parse is a 422 naming it."""
    try:
        return compile_template(subject, html, text)
    except MergeError as error:
        raise invalid(error.field, error.reason) from error


def placeholders_of(row: Template) -> list[str]:
    return sorted(compiled(row.subject, row.html, row.text).placeholders)


def check_known(parts: Compiled, workspace: Workspace | None) -> None:
    """422 naming every placeholder neither a contact field nor a custom field key."""
    known = known_placeholders(workspace.custom_field_keys if workspace else [])
    unknown = unknown_placeholders(parts, known)
    if unknown:
        raise Unprocessable(
            [f"placeholders: unknown placeholder {{{{ {name} }}}}" for name in unknown],
            meta={"unknownPlaceholders": unknown, "knownPlaceholders": sorted(known)},
        )


def render_for(
    parts: Compiled, workspace: Workspace | None, fields: dict[str, object], unsubscribe_url: str
) -> Rendered:
    """One contact's message; a value the template cannot use is a 422."""
    keys = workspace.custom_field_keys if workspace else []
    try:
        return render(parts, merge_values(fields, keys, unsubscribe_url))
    except MergeError as error:
        raise invalid(error.field, error.reason) from error


async def create_template(uow: UnitOfWork, location_id: str, body: TemplateCreate) -> Template:
    compiled(body.subject, body.html, body.text)
    await ensure_workspace(uow, location_id)
    now = utcnow()
    row = Template(
        id=new_id(),
        location_id=location_id,
        name=body.name,
        subject=body.subject,
        html=body.html,
        text=body.text,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    return row


async def update_template(
    uow: UnitOfWork, location_id: str, template_id: str, body: TemplateUpdate
) -> Template:
    row = await find_template(uow.session, location_id, template_id)
    subject = body.subject if body.subject is not None else row.subject
    html = body.html if body.html is not None else row.html
    text = body.text if body.text is not None else row.text
    compiled(subject, html, text)
    row.subject, row.html, row.text = subject, html, text
    if body.name is not None:
        row.name = body.name
    row.updated_at = utcnow()
    return row


async def list_templates(
    session: AsyncSession, location_id: str, *, before: Position | None, limit: int
) -> Page[Template]:
    query = select(Template).where(Template.location_id == location_id)
    return await newest_first(
        session, query, Template.created_at, Template.id, before=before, limit=limit
    )


async def preview(
    session: AsyncSession, location_id: str, template_id: str, contact_id: str
) -> Rendered:
    """The template merged for one contact (the unsubscribe link is a stand-in)."""
    row = await find_template(session, location_id, template_id)
    parts = compiled(row.subject, row.html, row.text)
    return await preview_parts(session, location_id, parts, contact_id)


async def preview_parts(
    session: AsyncSession, location_id: str, parts: Compiled, contact_id: str
) -> Rendered:
    """Parts (saved or not) merged for one contact as a send would merge them; 422 naming
    unknown placeholders, or a value the template cannot use."""
    contact = await referenced(find_contact(session, location_id, contact_id), "contactId")
    workspace = await session.get(Workspace, location_id)
    check_known(parts, workspace)
    return render_for(parts, workspace, merge_fields(contact), PREVIEW_UNSUBSCRIBE_URL)
