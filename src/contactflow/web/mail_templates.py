"""A location's Mailsuite templates: the list, and an editor (new or saved) whose preview
follows the typing (htmx): the template merged for a chosen contact, and the placeholders
no contact field or custom field answers to, flagged before saving. The preview merges
with the code sending merges with (templates.preview_parts); saving goes through the
templates service as the /mailsuite/v1/templates API does.

The merged HTML is shown in an iframe sandboxed without scripts (`sandbox=""`, `srcdoc`),
under the editor page's own policy besides, which allows no inline script or style.
"""

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite import contacts, mail_api, templates
from contactflow.mailsuite.mail_schemas import TemplateCreate, TemplateUpdate
from contactflow.mailsuite.merge import Rendered
from contactflow.mailsuite.models import MailContact, Template
from contactflow.platform.errors import DomainError, Unprocessable
from contactflow.platform.tenancy import Location
from contactflow.web.guard import Viewer, ViewerDep, database
from contactflow.web.pages import api_docs, render, render_part
from contactflow.web.paging import cursor_position, older_url
from contactflow.web.refusals import by_field, form_texts, refusal_lines

router = APIRouter(prefix="/app/l/{location_id}/mail-templates", include_in_schema=False)
TEMPLATES_PER_PAGE = 50
CONTACT_CHOICES = 100
FIELDS = ("name", "subject", "html", "text")
TEMPLATES_DOCS = api_docs(mail_api.router, mail_api.list_templates)
TEMPLATE_DOCS = api_docs(mail_api.router, mail_api.get_template)


@dataclass
class Draft:
    """The editor's form as sent, and what checking it found."""

    values: dict[str, str]
    contact_id: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    unknown: list[str] = field(default_factory=list)
    rendered: Rendered | None = None


def _base(location_id: str) -> str:
    return f"/app/l/{location_id}/mail-templates"


async def _draft_of(request: Request) -> Draft:
    form = await request.form()
    return Draft(
        values=form_texts(form, FIELDS), contact_id=form_texts(form, ("contactId",))["contactId"]
    )


def _refused(draft: Draft, error: DomainError | ValidationError) -> None:
    errors, message = by_field(refusal_lines(error), {*FIELDS, "contactId"})
    draft.errors.update(errors)
    draft.message = "; ".join(part for part in (draft.message, message) if part)


async def check(session: AsyncSession, location_id: str, draft: Draft) -> Draft:
    """Parse the draft, flag its unknown placeholders, and merge it for the chosen contact."""
    values = draft.values
    try:
        parts = templates.compiled(values["subject"], values["html"], values["text"])
    except DomainError as error:
        _refused(draft, error)
        return draft
    try:
        templates.check_known(parts, await contacts.workspace_of(session, location_id))
    except Unprocessable as error:
        draft.unknown = list((error.meta or {}).get("unknownPlaceholders", []))
        return draft
    if draft.contact_id:
        try:
            draft.rendered = await templates.preview_parts(
                session, location_id, parts, draft.contact_id
            )
        except DomainError as error:
            _refused(draft, error)
    return draft


async def _contacts(session: AsyncSession, location_id: str) -> list[MailContact]:
    page = await contacts.list_contacts(
        session, location_id, status=None, before=None, limit=CONTACT_CHOICES
    )
    return page.rows


@router.get("")
async def templates_page(
    request: Request, viewer: ViewerDep, location_id: str, cursor: str | None = None
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        page = await templates.list_templates(
            session, location.id, before=cursor_position(cursor), limit=TEMPLATES_PER_PAGE
        )
    older = older_url(_base(location.id), page.next)
    return render(
        "mail_templates.html",
        viewer=viewer,
        location=location,
        api_docs=TEMPLATES_DOCS,
        templates=page.rows,
        placeholders={row.id: templates.placeholders_of(row) for row in page.rows},
        older_url=older,
    )


async def _editor(
    request: Request,
    viewer: Viewer,
    location: Location,
    template: Template | None,
    draft: Draft,
    *,
    status: int = 200,
) -> Response:
    async with database(request).reader() as session:
        choices = await _contacts(session, location.id)
        if not draft.contact_id and choices:
            draft.contact_id = choices[0].id
        await check(session, location.id, draft)
    action = f"{_base(location.id)}/{template.id}" if template else f"{_base(location.id)}/new"
    return render(
        "mail_template.html",
        status,
        viewer=viewer,
        location=location,
        api_docs=TEMPLATE_DOCS,
        saved=template,
        action=action,
        preview_url=f"{_base(location.id)}/preview",
        contacts=choices,
        notice="Saved." if request.query_params.get("done") == "saved" else "",
        draft=draft,
        errors=draft.errors,
    )


@router.get("/new")
async def new_template(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    draft = Draft(values={"name": "", "subject": "", "html": "", "text": ""})
    return await _editor(request, viewer, location, None, draft)


@router.post("/preview")
async def preview(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    """The preview block for the editor's form as it stands (htmx, as the person types)."""
    location = viewer.location(location_id)
    draft = await _draft_of(request)
    async with database(request).reader() as session:
        await check(session, location.id, draft)
    return render_part("mail_template.html", "preview", draft=draft)


@router.post("/new")
async def create(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    draft = await _draft_of(request)
    try:
        async with database(request).unit_of_work() as uow:
            row = await templates.create_template(
                uow, location.id, TemplateCreate.model_validate(draft.values)
            )
    except (ValidationError, DomainError) as error:
        _refused(draft, error)
        return await _editor(request, viewer, location, None, draft, status=422)
    return RedirectResponse(f"{_base(location.id)}/{row.id}?done=saved", 303)


@router.get("/{template_id}")
async def template_page(
    request: Request, viewer: ViewerDep, location_id: str, template_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        row = await templates.find_template(session, location.id, template_id)
    values = {"name": row.name, "subject": row.subject, "html": row.html, "text": row.text}
    return await _editor(request, viewer, location, row, Draft(values=values))


@router.post("/{template_id}")
async def update(
    request: Request, viewer: ViewerDep, location_id: str, template_id: str
) -> Response:
    location = viewer.location(location_id)
    draft = await _draft_of(request)
    db = database(request)
    async with db.reader() as session:
        row = await templates.find_template(session, location.id, template_id)
    try:
        async with db.unit_of_work() as uow:
            await templates.update_template(
                uow, location.id, row.id, TemplateUpdate.model_validate(draft.values)
            )
    except (ValidationError, DomainError) as error:
        _refused(draft, error)
        return await _editor(request, viewer, location, row, draft, status=422)
    return RedirectResponse(f"{_base(location.id)}/{row.id}?done=saved", 303)
