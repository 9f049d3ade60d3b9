"""Routes of /mailsuite/v1 for the workspace, its contacts, lists, tasks and timelines: HTTP
in, service call, wire model out."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from contactflow.mailsuite import contacts, lists, tasks, timeline
from contactflow.mailsuite.api_common import (
    PREFIX,
    ContactId,
    CursorQuery,
    Limit,
    Reader,
    Writer,
    next_cursor,
    position,
)
from contactflow.mailsuite.models import ContactStatus, TaskStatus
from contactflow.mailsuite.schemas import (
    ContactCreate,
    ContactEnvelope,
    ContactList,
    ContactUpdate,
    ContactUpserted,
    ListCreate,
    ListEnvelope,
    ListList,
    ListUpdate,
    MemberList,
    MemberOut,
    MembersAdded,
    MembersBody,
    TaskCreate,
    TaskEnvelope,
    TaskList,
    TaskUpdate,
    TimelineCreate,
    TimelineEnvelope,
    TimelineList,
    WorkspaceEnvelope,
    WorkspaceUpdate,
)
from contactflow.mailsuite.wire import (
    contact_out,
    list_out,
    task_out,
    timeline_out,
    workspace_out,
)
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.platform.clock import as_utc, to_iso
from contactflow.platform.errors import Unprocessable

router = APIRouter(prefix=PREFIX, tags=["Mailsuite"], responses=ERROR_RESPONSES)
ListId = Annotated[str, Path(alias="listId", min_length=1, max_length=64)]
TaskId = Annotated[str, Path(alias="taskId", min_length=1, max_length=64)]


@router.get("/workspace", response_model=WorkspaceEnvelope, summary="The location's workspace")
async def get_workspace(caller: Reader, db: DatabaseDep) -> WorkspaceEnvelope:
    async with db.reader() as session:
        row = await contacts.workspace_of(session, caller.location_id)
        return WorkspaceEnvelope(workspace=workspace_out(caller.location_id, row))


@router.put("/workspace", response_model=WorkspaceEnvelope, summary="Name the workspace")
async def update_workspace(
    body: WorkspaceUpdate, caller: Writer, db: DatabaseDep
) -> WorkspaceEnvelope:
    async with db.unit_of_work() as uow:
        row = await contacts.rename_workspace(uow, caller.location_id, body.name)
        return WorkspaceEnvelope(workspace=workspace_out(caller.location_id, row))


# Contacts -------------------------------------------------------------------------------


@router.get("/contacts", response_model=ContactList, summary="List contacts, newest first")
async def list_contacts(
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 20,
    cursor: CursorQuery = None,
    status: Annotated[ContactStatus | None, Query(description="Only this status")] = None,
) -> ContactList:
    async with db.reader() as session:
        page = await contacts.list_contacts(
            session, caller.location_id, status=status, before=position(cursor), limit=limit
        )
        return ContactList(
            contacts=[contact_out(row) for row in page.rows], next_cursor=next_cursor(page)
        )


@router.post("/contacts", status_code=201, response_model=ContactEnvelope, summary="Add a contact")
async def create_contact(
    body: ContactCreate, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> ContactEnvelope:
    async with db.unit_of_work() as uow:
        row = await contacts.create_contact(
            uow, caller.location_id, body, settings.default_phone_region
        )
        return ContactEnvelope(contact=contact_out(row))


@router.post(
    "/contacts/upsert",
    response_model=ContactUpserted,
    responses={201: {"model": ContactUpserted, "description": "Added a new contact"}},
    summary="Add or update the contact of an email address",
)
async def upsert_contact(
    body: ContactCreate,
    response: Response,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> ContactUpserted:
    async with db.unit_of_work() as uow:
        row, new = await contacts.upsert_contact(
            uow, caller.location_id, body, settings.default_phone_region
        )
        result = ContactUpserted(contact=contact_out(row), new=new)
    response.status_code = 201 if new else 200
    return result


@router.get("/contacts/{contactId}", response_model=ContactEnvelope, summary="Get a contact")
async def get_contact(contact_id: ContactId, caller: Reader, db: DatabaseDep) -> ContactEnvelope:
    async with db.reader() as session:
        row = await contacts.find_contact(session, caller.location_id, contact_id)
        return ContactEnvelope(contact=contact_out(row))


@router.put("/contacts/{contactId}", response_model=ContactEnvelope, summary="Change a contact")
async def update_contact(
    contact_id: ContactId,
    body: ContactUpdate,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> ContactEnvelope:
    async with db.unit_of_work() as uow:
        row = await contacts.update_contact(
            uow, caller.location_id, contact_id, body, settings.default_phone_region
        )
        return ContactEnvelope(contact=contact_out(row))


@router.get(
    "/contacts/{contactId}/timeline",
    response_model=TimelineList,
    summary="A contact's timeline, newest first",
)
async def get_timeline(
    contact_id: ContactId,
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 20,
    cursor: CursorQuery = None,
) -> TimelineList:
    async with db.reader() as session:
        page = await timeline.contact_timeline(
            session, caller.location_id, contact_id, before=position(cursor), limit=limit
        )
        return TimelineList(
            entries=[timeline_out(row) for row in page.rows], next_cursor=next_cursor(page)
        )


@router.post(
    "/contacts/{contactId}/timeline",
    status_code=201,
    response_model=TimelineEnvelope,
    responses={200: {"model": TimelineEnvelope, "description": "Already recorded (same source)"}},
    summary="Add a timeline entry (a note, or what another system saw)",
)
async def add_timeline_entry(
    contact_id: ContactId,
    body: TimelineCreate,
    response: Response,
    caller: Writer,
    db: DatabaseDep,
) -> TimelineEnvelope:
    async with db.unit_of_work() as uow:
        await contacts.find_contact(uow.session, caller.location_id, contact_id)
        row, new = await timeline.add_entry(
            uow,
            caller.location_id,
            contact_id,
            body.kind,
            body.body,
            source_system=body.source_system,
            source_id=body.source_id,
            occurred_at=as_utc(body.occurred_at) if body.occurred_at else None,
        )
        if not new and row.contact_id != contact_id:
            raise Unprocessable(["sourceId: already recorded for another contact"])
        result = TimelineEnvelope(entry=timeline_out(row))
    response.status_code = 201 if new else 200
    return result


# Lists --------------------------------------------------------------------------------


@router.get("/lists", response_model=ListList, summary="List lists, newest first")
async def list_lists(
    caller: Reader, db: DatabaseDep, limit: Limit = 20, cursor: CursorQuery = None
) -> ListList:
    async with db.reader() as session:
        page = await lists.list_lists(
            session, caller.location_id, before=position(cursor), limit=limit
        )
        counts = await lists.member_counts(session, [row.id for row in page.rows])
        return ListList(
            lists=[list_out(row, counts[row.id]) for row in page.rows],
            next_cursor=next_cursor(page),
        )


@router.post("/lists", status_code=201, response_model=ListEnvelope, summary="Add a list")
async def create_list(body: ListCreate, caller: Writer, db: DatabaseDep) -> ListEnvelope:
    async with db.unit_of_work() as uow:
        row = await lists.create_list(uow, caller.location_id, body)
        return ListEnvelope(list=list_out(row, 0))


@router.get("/lists/{listId}", response_model=ListEnvelope, summary="Get a list")
async def get_list(list_id: ListId, caller: Reader, db: DatabaseDep) -> ListEnvelope:
    async with db.reader() as session:
        row = await lists.find_list(session, caller.location_id, list_id)
        counts = await lists.member_counts(session, [row.id])
        return ListEnvelope(list=list_out(row, counts[row.id]))


@router.put("/lists/{listId}", response_model=ListEnvelope, summary="Change a list")
async def update_list(
    list_id: ListId, body: ListUpdate, caller: Writer, db: DatabaseDep
) -> ListEnvelope:
    async with db.unit_of_work() as uow:
        row = await lists.update_list(uow, caller.location_id, list_id, body)
        counts = await lists.member_counts(uow.session, [row.id])
        return ListEnvelope(list=list_out(row, counts[row.id]))


@router.get(
    "/lists/{listId}/members", response_model=MemberList, summary="A list's members, newest first"
)
async def list_members(
    list_id: ListId, caller: Reader, db: DatabaseDep, limit: Limit = 20, cursor: CursorQuery = None
) -> MemberList:
    async with db.reader() as session:
        page = await lists.list_members(
            session, caller.location_id, list_id, before=position(cursor), limit=limit
        )
        found = await lists.contacts_by_id(session, [row.contact_id for row in page.rows])
        members = [
            MemberOut(contact=contact_out(found[row.contact_id]), added_at=to_iso(row.added_at))
            for row in page.rows
        ]
        return MemberList(members=members, next_cursor=next_cursor(page))


@router.post(
    "/lists/{listId}/members", response_model=MembersAdded, summary="Add contacts to a list"
)
async def add_members(
    list_id: ListId, body: MembersBody, caller: Writer, db: DatabaseDep
) -> MembersAdded:
    async with db.unit_of_work() as uow:
        added, present = await lists.add_members(uow, caller.location_id, list_id, body.contact_ids)
        return MembersAdded(added=added, already_members=present)


@router.delete(
    "/lists/{listId}/members/{contactId}", status_code=204, summary="Take a contact off a list"
)
async def remove_member(
    list_id: ListId, contact_id: ContactId, caller: Writer, db: DatabaseDep
) -> Response:
    async with db.unit_of_work() as uow:
        await lists.remove_member(uow, caller.location_id, list_id, contact_id)
    return Response(status_code=204)


# Tasks --------------------------------------------------------------------------------


@router.get("/tasks", response_model=TaskList, summary="List tasks, newest first")
async def list_tasks(
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 20,
    cursor: CursorQuery = None,
    status: Annotated[TaskStatus | None, Query()] = None,
    contact_id: Annotated[str | None, Query(alias="contactId", max_length=64)] = None,
) -> TaskList:
    async with db.reader() as session:
        page = await tasks.list_tasks(
            session,
            caller.location_id,
            status=status,
            contact_id=contact_id,
            before=position(cursor),
            limit=limit,
        )
        return TaskList(tasks=[task_out(row) for row in page.rows], next_cursor=next_cursor(page))


@router.post("/tasks", status_code=201, response_model=TaskEnvelope, summary="Add a task")
async def create_task(body: TaskCreate, caller: Writer, db: DatabaseDep) -> TaskEnvelope:
    async with db.unit_of_work() as uow:
        row = await tasks.create_task(uow, caller.location_id, body)
        return TaskEnvelope(task=task_out(row))


@router.get("/tasks/{taskId}", response_model=TaskEnvelope, summary="Get a task")
async def get_task(task_id: TaskId, caller: Reader, db: DatabaseDep) -> TaskEnvelope:
    async with db.reader() as session:
        return TaskEnvelope(
            task=task_out(await tasks.find_task(session, caller.location_id, task_id))
        )


@router.put("/tasks/{taskId}", response_model=TaskEnvelope, summary="Change or complete a task")
async def update_task(
    task_id: TaskId, body: TaskUpdate, caller: Writer, db: DatabaseDep
) -> TaskEnvelope:
    async with db.unit_of_work() as uow:
        row = await tasks.update_task(uow, caller.location_id, task_id, body)
        return TaskEnvelope(task=task_out(row))
