"""A location's Mailsuite senders: each with where it delivers, Check (connect, TLS and log
in without sending, the SMTP server's answer shown) and Send a test (a test message queued
like any email, whose page then shows the SMTP server's answer as it arrives), through the
senders and emails services as the API and `contactflow mailsuite send-test` do."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contactflow.mailsuite import emails, mail_api, senders
from contactflow.mailsuite.api_common import LinksDep
from contactflow.mailsuite.smtp import SmtpAnswer, host_policy
from contactflow.platform.errors import DomainError
from contactflow.platform.tenancy import Location
from contactflow.web.guard import Viewer, ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.refusals import form_texts, refusal_lines

router = APIRouter(prefix="/app/l/{location_id}/senders", include_in_schema=False)
SENDERS_SHOWN = 100
SENDERS_DOCS = api_docs(mail_api.router, mail_api.list_senders)


async def _page(
    request: Request,
    viewer: Viewer,
    location: Location,
    *,
    status: int = 200,
    answers: dict[str, SmtpAnswer] | None = None,
    errors: dict[str, str] | None = None,
    tried: dict[str, str] | None = None,
) -> Response:
    async with database(request).reader() as session:
        page = await senders.list_senders(session, location.id, before=None, limit=SENDERS_SHOWN)
    return render(
        "senders.html",
        status,
        viewer=viewer,
        location=location,
        api_docs=SENDERS_DOCS,
        senders=page.rows,
        answers=answers or {},
        errors=errors or {},
        tried=tried or {},
    )


@router.get("")
async def senders_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    return await _page(request, viewer, viewer.location(location_id))


@router.post("/{sender_id}/check")
async def check(request: Request, viewer: ViewerDep, location_id: str, sender_id: str) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        sender = await senders.find_sender(session, location.id, sender_id)
    settings = request.app.state.settings
    answer = await senders.verify_sender(
        sender, host_policy(settings.smtp_allowed_networks), settings.smtp_timeout_seconds
    )
    return await _page(request, viewer, location, answers={sender.id: answer})


@router.post("/{sender_id}/test")
async def send_test(
    request: Request, viewer: ViewerDep, location_id: str, sender_id: str, links: LinksDep
) -> Response:
    location = viewer.location(location_id)
    to = form_texts(await request.form(), ("to",))["to"]
    db = database(request)
    async with db.reader() as session:
        sender = await senders.find_sender(session, location.id, sender_id)
    try:
        async with db.unit_of_work() as uow:
            email = await emails.queue_test_message(uow, sender.id, to, links)
    except DomainError as refused:
        errors = {sender.id: "; ".join(refusal_lines(refused))}
        return await _page(
            request, viewer, location, status=422, errors=errors, tried={sender.id: to}
        )
    return RedirectResponse(f"/app/l/{location.id}/emails/{email.id}", 303)
