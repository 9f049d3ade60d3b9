"""Routes of /contacts: HTTP in, service call, wire model out. No logic lives here."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic_core import to_json
from sqlalchemy import Connection

from contactflow.contacts import links, listing, reads, search, service
from contactflow.contacts.schemas import (
    BulkBusinessBody,
    BulkBusinessResult,
    BulkTagsBody,
    BulkTagsResult,
    BusinessContacts,
    ContactCreate,
    ContactEnvelope,
    ContactList,
    ContactOrNone,
    ContactUpdate,
    ContactUpdated,
    ContactUpsert,
    FollowersAdded,
    FollowersBody,
    FollowersRemoved,
    ListMeta,
    SearchBody,
    SearchResult,
    Succeeded,
    TagsBody,
    TagsOut,
    UpsertResult,
    WorkflowBody,
)
from contactflow.contacts.wire import contact_dict, contact_out
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import CONTACTS_READ, CONTACTS_WRITE
from contactflow.platform.clock import to_epoch_ms
from contactflow.platform.errors import NotFound
from contactflow.platform.http import current_trace_id

router = APIRouter(prefix="/contacts", tags=["Contacts"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, requires(CONTACTS_READ)]
Writer = Annotated[Principal, requires(CONTACTS_WRITE)]
ContactId = Annotated[str, Path(alias="contactId", min_length=1, max_length=64)]
LocationQuery = Annotated[str | None, Query(alias="locationId", max_length=64)]
TextQuery = Annotated[str | None, Query(max_length=255)]


def json_response(body: dict[str, Any], status_code: int = 200) -> Response:
    """The bytes FastAPI would send for the route's response model, serialised straight from
    the wire dict, without building and validating the models first (ADR 0012)."""
    return Response(to_json(body), status_code=status_code, media_type="application/json")


@router.get("/", response_model=ContactList, summary="List contacts (keyset pages)")
async def list_contacts(
    request: Request,
    caller: Reader,
    db: DatabaseDep,
    location_id: LocationQuery = None,
    query: TextQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    start_after_id: Annotated[str | None, Query(alias="startAfterId", max_length=64)] = None,
    start_after: Annotated[int | None, Query(alias="startAfter", ge=0, le=32503680000000)] = None,
) -> Response:
    location = caller.check_location(location_id)

    def read(connection: Connection) -> tuple[listing.Page, list[str]]:
        page = listing.list_contacts(
            connection,
            location,
            limit=limit,
            query=query,
            start_after=start_after,
            start_after_id=start_after_id,
        )
        return page, reads.wires(connection, page.contacts)

    # A text query walks the location's contacts; a page without one reads an index.
    page, contacts = await (db.scan(read) if query else db.read(read))
    last = page.contacts[-1] if page.contacts else None
    cursor = (to_epoch_ms(last.date_added), last.id) if last else None
    next_url = None
    if page.has_more and cursor is not None:
        next_url = str(
            request.url.include_query_params(startAfter=cursor[0], startAfterId=cursor[1])
        )
    current = page.position // limit + 1
    meta = ListMeta(
        total=page.total,
        next_page_url=next_url,
        start_after_id=cursor[1] if cursor else None,
        start_after=cursor[0] if cursor else None,
        current_page=current,
        next_page=current + 1 if page.has_more else None,
        prev_page=current - 1 if current > 1 else None,
    )
    meta_json = to_json(meta.model_dump(by_alias=True)).decode()
    body = reads.json_object({"contacts": reads.json_array(contacts), "meta": meta_json})
    return Response(body, media_type="application/json")


@router.post("/", status_code=201, response_model=ContactEnvelope, summary="Create a contact")
async def create_contact(
    body: ContactCreate, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> Response:
    location = caller.check_location(body.location_id)
    async with db.unit_of_work() as uow:
        row = await service.create_contact(uow, location, body, settings.default_phone_region)
    return json_response({"contact": contact_dict(row)}, 201)


@router.post(
    "/upsert",
    response_model=UpsertResult,
    responses={201: {"model": UpsertResult, "description": "Created a new contact"}},
    summary="Create or update a contact",
)
async def upsert_contact(
    body: ContactUpsert,
    response: Response,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> UpsertResult:
    location = caller.check_location(body.location_id)
    async with db.unit_of_work() as uow:
        row, new = await service.upsert_contact(uow, location, body, settings.default_phone_region)
        result = UpsertResult(new=new, contact=contact_out(row), trace_id=current_trace_id())
    response.status_code = 201 if new else 200
    return result


@router.post("/search", response_model=SearchResult, summary="Search contacts")
async def search_contacts(body: SearchBody, caller: Reader, db: DatabaseDep) -> Response:
    location = caller.check_location(body.location_id)
    found = await db.scan(lambda connection: search.search_json(connection, location, body))
    return Response(found, media_type="application/json")


@router.get("/search/duplicate", response_model=ContactOrNone, summary="Find a duplicate contact")
async def find_duplicate(
    caller: Reader,
    db: DatabaseDep,
    settings: SettingsDep,
    location_id: LocationQuery = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    number: Annotated[str | None, Query(max_length=40)] = None,
) -> ContactOrNone:
    location = caller.check_location(location_id)
    async with db.reader() as session:
        row = await service.find_duplicate(
            session, location, email, number, settings.default_phone_region
        )
        return ContactOrNone(contact=contact_out(row) if row else None)


@router.get(
    "/business/{businessId}", response_model=BusinessContacts, summary="Contacts of a business"
)
async def contacts_of_business(
    caller: Reader,
    db: DatabaseDep,
    business_id: Annotated[str, Path(alias="businessId", min_length=1, max_length=64)],
    location_id: LocationQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    query: TextQuery = None,
    start_after: Annotated[
        list[str] | None,
        Query(
            alias="startAfter",
            max_length=2,
            description="The last contact read: its dateAdded (epoch ms), then its id",
        ),
    ] = None,
) -> BusinessContacts:
    location = caller.check_location(location_id)
    async with db.reader() as session:
        rows, count = await listing.contacts_of_business(
            session,
            location,
            business_id,
            limit=limit,
            skip=skip,
            query=query,
            start_after=start_after,
        )
        return BusinessContacts(contacts=[contact_out(row) for row in rows], count=count)


@router.post(
    "/bulk/tags/update/{type}",
    status_code=201,
    response_model=BulkTagsResult,
    summary="Add or remove tags on many contacts",
)
async def bulk_tags(
    body: BulkTagsBody,
    caller: Writer,
    db: DatabaseDep,
    type: Annotated[links.BulkTagAction, Path()],
) -> BulkTagsResult:
    location = caller.check_location(body.location_id)
    async with db.unit_of_work() as uow:
        outcome = await links.bulk_tags(
            uow, location, type, body.contacts, body.tags, remove_all=bool(body.remove_all_tags)
        )
    ok = outcome.error_count == 0
    return BulkTagsResult(
        succeded=ok, succeeded=ok, error_count=outcome.error_count, responses=outcome.responses
    )


@router.post(
    "/bulk/business", response_model=BulkBusinessResult, summary="Set or clear the business"
)
async def bulk_business(
    body: BulkBusinessBody, caller: Writer, db: DatabaseDep
) -> BulkBusinessResult:
    location = caller.check_location(body.location_id)
    async with db.unit_of_work() as uow:
        ids = await links.bulk_business(uow, location, body.ids, body.business_id)
    return BulkBusinessResult(success=len(ids) == len(set(body.ids)), ids=ids)


@router.get("/{contactId}", response_model=ContactEnvelope, summary="Get a contact")
async def get_contact(contact_id: ContactId, caller: Reader, db: DatabaseDep) -> Response:
    location = caller.location_id
    found = await db.read(lambda connection: reads.one_contact(connection, location, contact_id))
    if found is None:
        raise NotFound(service.CONTACT_NOT_FOUND)
    return Response(found, media_type="application/json")


@router.put("/{contactId}", response_model=ContactUpdated, summary="Update a contact")
async def update_contact(
    contact_id: ContactId,
    body: ContactUpdate,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> ContactUpdated:
    async with db.unit_of_work() as uow:
        row = await service.update_contact(
            uow, caller.location_id, contact_id, body, settings.default_phone_region
        )
        return ContactUpdated(contact=contact_out(row))


@router.delete("/{contactId}", response_model=Succeeded, summary="Delete a contact")
async def delete_contact(contact_id: ContactId, caller: Writer, db: DatabaseDep) -> Succeeded:
    async with db.unit_of_work() as uow:
        await service.delete_contact(uow, caller.location_id, contact_id)
    return Succeeded()


@router.post("/{contactId}/tags", status_code=201, response_model=TagsOut, summary="Add tags")
async def add_tags(
    contact_id: ContactId, body: TagsBody, caller: Writer, db: DatabaseDep
) -> TagsOut:
    async with db.unit_of_work() as uow:
        row = await links.add_tags(uow, caller.location_id, contact_id, body.tags)
        return TagsOut(tags=row.tags)


@router.delete("/{contactId}/tags", response_model=TagsOut, summary="Remove tags")
async def remove_tags(
    contact_id: ContactId, body: TagsBody, caller: Writer, db: DatabaseDep
) -> TagsOut:
    async with db.unit_of_work() as uow:
        row = await links.remove_tags(uow, caller.location_id, contact_id, body.tags)
        return TagsOut(tags=row.tags)


@router.post(
    "/{contactId}/followers",
    status_code=201,
    response_model=FollowersAdded,
    summary="Add followers",
)
async def add_followers(
    contact_id: ContactId, body: FollowersBody, caller: Writer, db: DatabaseDep
) -> FollowersAdded:
    async with db.unit_of_work() as uow:
        row, added = await links.add_followers(uow, caller.location_id, contact_id, body.followers)
        return FollowersAdded(followers=row.followers, followers_added=added)


@router.delete(
    "/{contactId}/followers", response_model=FollowersRemoved, summary="Remove followers"
)
async def remove_followers(
    contact_id: ContactId, body: FollowersBody, caller: Writer, db: DatabaseDep
) -> FollowersRemoved:
    async with db.unit_of_work() as uow:
        row, removed = await links.remove_followers(
            uow, caller.location_id, contact_id, body.followers
        )
        return FollowersRemoved(followers=row.followers, followers_removed=removed)


CampaignId = Annotated[str, Path(alias="campaignId", min_length=1, max_length=64)]


async def campaign_lookup(request: Request) -> links.Lookup:
    lookup: links.Lookup = request.app.state.campaign_lookup
    return lookup


async def workflow_lookup(request: Request) -> links.Lookup:
    lookup: links.Lookup = request.app.state.workflow_lookup
    return lookup


CampaignLookupDep = Annotated[links.Lookup, Depends(campaign_lookup)]
WorkflowLookupDep = Annotated[links.Lookup, Depends(workflow_lookup)]
WorkflowId = Annotated[str, Path(alias="workflowId", min_length=1, max_length=64)]


@router.delete(
    "/{contactId}/campaigns/remove-all",
    response_model=Succeeded,
    summary="Remove a contact from every campaign",
)
async def remove_from_every_campaign(
    contact_id: ContactId, caller: Writer, db: DatabaseDep
) -> Succeeded:
    async with db.unit_of_work() as uow:
        await links.remove_from_campaigns(uow, caller.location_id, contact_id)
    return Succeeded()


@router.post(
    "/{contactId}/campaigns/{campaignId}",
    status_code=201,
    response_model=Succeeded,
    summary="Add a contact to a campaign",
)
async def add_to_campaign(
    contact_id: ContactId,
    campaign_id: CampaignId,
    caller: Writer,
    db: DatabaseDep,
    find_campaign: CampaignLookupDep,
) -> Succeeded:
    async with db.unit_of_work() as uow:
        await links.add_to_campaign(uow, caller.location_id, contact_id, campaign_id, find_campaign)
    return Succeeded()


@router.delete(
    "/{contactId}/campaigns/{campaignId}",
    response_model=Succeeded,
    summary="Remove a contact from a campaign",
)
async def remove_from_campaign(
    contact_id: ContactId, campaign_id: CampaignId, caller: Writer, db: DatabaseDep
) -> Succeeded:
    async with db.unit_of_work() as uow:
        await links.remove_from_campaigns(uow, caller.location_id, contact_id, campaign_id)
    return Succeeded()


@router.post(
    "/{contactId}/workflow/{workflowId}",
    response_model=Succeeded,
    summary="Add a contact to a workflow",
)
async def add_to_workflow(
    contact_id: ContactId,
    workflow_id: WorkflowId,
    caller: Writer,
    db: DatabaseDep,
    find_workflow: WorkflowLookupDep,
    body: WorkflowBody | None = None,
) -> Succeeded:
    start = body.event_start_time if body else None
    async with db.unit_of_work() as uow:
        await links.add_to_workflow(
            uow, caller.location_id, contact_id, workflow_id, start, find_workflow
        )
    return Succeeded()


@router.delete(
    "/{contactId}/workflow/{workflowId}",
    response_model=Succeeded,
    summary="Remove a contact from a workflow",
)
async def remove_from_workflow(
    contact_id: ContactId, workflow_id: WorkflowId, caller: Writer, db: DatabaseDep
) -> Succeeded:
    async with db.unit_of_work() as uow:
        await links.remove_from_workflow(uow, caller.location_id, contact_id, workflow_id)
    return Succeeded()
