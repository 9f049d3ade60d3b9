"""A location's users, for the company's admins: the list, an invitation (a one-time link to
set a password, shown once in the answer that made it, forms.py), a user's role, and where
they are signed in, each session ended one by one or all at once. Anyone else gets 404."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contactflow.platform.auth import invitations, sessions
from contactflow.platform.errors import DomainError, NotFound
from contactflow.platform.tenancy import ROLES, Location, User, users_of
from contactflow.web.forms import NewSecret, shown_once
from contactflow.web.guard import PageNotFound, Viewer, ViewerDep, database
from contactflow.web.pages import render
from contactflow.web.refusals import FilledForm, form_text

router = APIRouter(prefix="/app/l/{location_id}/users", include_in_schema=False)
INVITE_FIELDS = {"email", "firstName", "lastName", "role"}
INVITE_PATH = "/app/invite"
NOTICES = {
    "role": "Saved the role.",
    "ended": "Ended the session.",
    "ended-all": "Signed out everywhere.",
}


def users_path(location_id: str) -> str:
    return f"/app/l/{location_id}/users"


async def users_page(
    request: Request,
    viewer: Viewer,
    location: Location,
    *,
    invite: FilledForm | None = None,
    link: NewSecret | None = None,
    status: int = 200,
) -> Response:
    async with database(request).reader() as session:
        users = await users_of(session, location.id)
        invited = await invitations.pending(session, [user.id for user in users])
    response = render(
        "users.html",
        status,
        viewer=viewer,
        location=location,
        users=users,
        invited=invited,
        roles=ROLES,
        invite=invite or FilledForm({"email": "", "firstName": "", "lastName": "", "role": "user"}),
        link=link,
    )
    if link is not None:
        return shown_once(response, users_path(location.id))
    return response


@router.get("")
async def users_view(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    return await users_page(request, viewer, viewer.administered(location_id))


@router.post("/invite")
async def invite(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.administered(location_id)
    form = await request.form()
    values: dict[str, Any] = {name: form_text(form, name) for name in INVITE_FIELDS}
    try:
        async with database(request).unit_of_work() as uow:
            _, secret = await invitations.invite(
                uow,
                location,
                email=values["email"],
                first_name=values["firstName"],
                last_name=values["lastName"],
                role=values["role"],
                actor=viewer.actor,
            )
    except DomainError as error:
        refused = FilledForm.refused(values, error, INVITE_FIELDS)
        return await users_page(request, viewer, location, invite=refused, status=422)
    link = f"{str(request.base_url).rstrip('/')}{INVITE_PATH}/{secret}"
    return await users_page(request, viewer, location, link=NewSecret(link))


async def _user(request: Request, location: Location, user_id: str) -> User:
    async with database(request).reader() as session:
        return await invitations.find_user(session, location.id, user_id)


async def user_page(
    request: Request,
    viewer: Viewer,
    location: Location,
    user_id: str,
    *,
    role: FilledForm | None = None,
    status: int = 200,
) -> Response:
    user = await _user(request, location, user_id)
    async with database(request).reader() as session:
        rows = await sessions.of_user(session, user.id)
        invited = await invitations.pending(session, [user.id])
    return render(
        "user.html",
        status,
        viewer=viewer,
        location=location,
        user=user,
        sessions=rows,
        invited=invited.get(user.id),
        roles=ROLES,
        role=role or FilledForm({"role": user.role}),
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
    )


@router.get("/{user_id}")
async def user_view(
    request: Request, viewer: ViewerDep, location_id: str, user_id: str
) -> Response:
    return await user_page(request, viewer, viewer.administered(location_id), user_id)


@router.post("/{user_id}/role")
async def change_role(
    request: Request, viewer: ViewerDep, location_id: str, user_id: str
) -> Response:
    location = viewer.administered(location_id)
    values = {"role": form_text(await request.form(), "role")}
    if user_id == viewer.signed_in.user.id:
        refused = FilledForm(values, {"role": "another admin changes your own role"})
        return await user_page(request, viewer, location, user_id, role=refused, status=422)
    try:
        async with database(request).unit_of_work() as uow:
            user = await invitations.find_user(uow.session, location.id, user_id)
            await invitations.change_role(uow, user, values["role"], actor=viewer.actor)
    except NotFound:
        raise PageNotFound from None
    except DomainError as error:
        refused = FilledForm.refused(values, error, {"role"})
        return await user_page(request, viewer, location, user_id, role=refused, status=422)
    return RedirectResponse(f"{users_path(location.id)}/{user_id}?done=role", status_code=303)


@router.post("/{user_id}/sessions/{session_id}/end")
async def end_session(
    request: Request, viewer: ViewerDep, location_id: str, user_id: str, session_id: str
) -> Response:
    location = viewer.administered(location_id)
    user = await _user(request, location, user_id)
    async with database(request).unit_of_work() as uow:
        await sessions.end(uow, user.id, session_id)
    return RedirectResponse(f"{users_path(location.id)}/{user.id}?done=ended", status_code=303)


@router.post("/{user_id}/sessions/end-all")
async def end_all(request: Request, viewer: ViewerDep, location_id: str, user_id: str) -> Response:
    location = viewer.administered(location_id)
    user = await _user(request, location, user_id)
    async with database(request).unit_of_work() as uow:
        await sessions.end_all(uow, user.id)
    where = f"{users_path(location.id)}/{user.id}?done=ended-all"
    return RedirectResponse(where, status_code=303)
