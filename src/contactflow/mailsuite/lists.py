"""Lists: named sets of contacts that campaigns go to."""

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.mailsuite.contacts import ensure_workspace
from contactflow.mailsuite.models import ListMember, MailContact, MailList
from contactflow.mailsuite.paging import Page, Position, newest_first
from contactflow.mailsuite.schemas import ListCreate, ListUpdate
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import NotFound, invalid
from contactflow.platform.ids import new_id

LIST_NOT_FOUND = "List not found"


async def find_list(session: AsyncSession, location_id: str, list_id: str) -> MailList:
    row = await session.get(MailList, list_id)
    if row is None or row.location_id != location_id:
        raise NotFound(LIST_NOT_FOUND)
    return row


async def member_counts(session: AsyncSession, list_ids: list[str]) -> dict[str, int]:
    if not list_ids:
        return {}
    rows = await session.execute(
        select(ListMember.list_id, func.count())
        .where(ListMember.list_id.in_(list_ids))
        .group_by(ListMember.list_id)
    )
    counts = {list_id: int(count) for list_id, count in rows}
    return {list_id: counts.get(list_id, 0) for list_id in list_ids}


async def create_list(uow: UnitOfWork, location_id: str, body: ListCreate) -> MailList:
    await ensure_workspace(uow, location_id)
    now = utcnow()
    row = MailList(
        id=new_id(),
        location_id=location_id,
        name=body.name,
        description=body.description,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    return row


async def update_list(
    uow: UnitOfWork, location_id: str, list_id: str, body: ListUpdate
) -> MailList:
    row = await find_list(uow.session, location_id, list_id)
    if body.name is not None:
        row.name = body.name
    if body.description is not None:
        row.description = body.description
    row.updated_at = utcnow()
    return row


async def list_lists(
    session: AsyncSession, location_id: str, *, before: Position | None, limit: int
) -> Page[MailList]:
    query = select(MailList).where(MailList.location_id == location_id)
    return await newest_first(
        session, query, MailList.created_at, MailList.id, before=before, limit=limit
    )


async def add_members(
    uow: UnitOfWork, location_id: str, list_id: str, contact_ids: list[str]
) -> tuple[list[str], list[str]]:
    """Add contacts; the ids added and those already members. Unknown ids are a 422."""
    await find_list(uow.session, location_id, list_id)
    wanted = list(dict.fromkeys(contact_ids))
    found = set(
        await uow.session.scalars(
            select(MailContact.id).where(
                MailContact.location_id == location_id, MailContact.id.in_(wanted)
            )
        )
    )
    unknown = [contact_id for contact_id in wanted if contact_id not in found]
    if unknown:
        raise invalid("contactIds", f"contacts not found in this workspace: {', '.join(unknown)}")
    present = set(
        await uow.session.scalars(
            select(ListMember.contact_id).where(
                ListMember.list_id == list_id, ListMember.contact_id.in_(wanted)
            )
        )
    )
    added = [contact_id for contact_id in wanted if contact_id not in present]
    now = utcnow()
    uow.session.add_all(
        ListMember(list_id=list_id, contact_id=contact_id, added_at=now) for contact_id in added
    )
    return added, [contact_id for contact_id in wanted if contact_id in present]


async def remove_member(uow: UnitOfWork, location_id: str, list_id: str, contact_id: str) -> None:
    await find_list(uow.session, location_id, list_id)
    result = await uow.session.execute(
        delete(ListMember).where(ListMember.list_id == list_id, ListMember.contact_id == contact_id)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound("The contact is not a member of this list")


async def list_members(
    session: AsyncSession,
    location_id: str,
    list_id: str,
    *,
    before: Position | None,
    limit: int,
) -> Page[ListMember]:
    await find_list(session, location_id, list_id)
    query = select(ListMember).where(ListMember.list_id == list_id)
    return await newest_first(
        session, query, ListMember.added_at, ListMember.contact_id, before=before, limit=limit
    )


async def contacts_by_id(session: AsyncSession, contact_ids: list[str]) -> dict[str, MailContact]:
    if not contact_ids:
        return {}
    rows = await session.scalars(select(MailContact).where(MailContact.id.in_(contact_ids)))
    return {row.id: row for row in rows}
