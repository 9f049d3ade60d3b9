"""/sync/v1/syncs/{id}/records: the records behind each of a sync's counts, paged, each list as
long as its count (linked, waiting, excluded by the segment, failing, openConflicts); a bad
status, cursor or limit refused naming it, and so is the list of a remote account's contacts
left out by the segment, which are not kept here; a reader's key lists, another location's
does not find the sync."""

import dataclasses

import httpx

from contactflow.platform.auth.api_keys import create_key
from contactflow.platform.db import Database
from tests.contacts.helpers import create_contact
from tests.mailsuite.helpers import error_lines, json_of, poll
from tests.support import LiveServer, Tenant, api_client, make_tenant
from tests.sync.helpers import SYNCS, Json, linked_partner, wait_backfilled
from tests.sync.remote_helpers import remote_connection
from tests.sync.test_tasks import add_task

MAIL = "/mailsuite/v1/contacts"
MAPPING = [
    {"crm": "firstName", "mailsuite": "firstName", "conflict": "manual"},
    {"crm": "email", "mailsuite": "email"},
]
# Each status, and the count of the sync it lists.
COUNTS = {
    "linked": "linked",
    "waiting": "waiting",
    "excluded": "excluded",
    "failing": "failing",
    "conflict": "openConflicts",
}


async def listed(client: httpx.AsyncClient, sync_id: str, status: str) -> list[Json]:
    """Every record with `status`, a page of one at a time."""
    records: list[Json] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"status": status, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(f"{SYNCS}/{sync_id}/records", params=params)
        assert response.status_code == 200, response.text
        page = json_of(response)
        records += page["records"]
        cursor = page["nextCursor"]
        if cursor is None:
            return records


async def counts_and_lists(client: httpx.AsyncClient, sync_id: str) -> dict[str, tuple[int, int]]:
    sync = json_of(await client.get(f"{SYNCS}/{sync_id}"))["sync"]
    return {
        status: (sync[count], len(await listed(client, sync_id, status)))
        for status, count in COUNTS.items()
    }


async def test_each_count_leads_to_as_many_records(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    vip = {"tags": ["vip"]}
    ada = await create_contact(client, firstName="Ada", email="ada@example.com", **vip)
    cara = await create_contact(client, firstName="Cara", email="cara@example.com", **vip)
    bob = await create_contact(client, firstName="Bob", email="bob@example.com")
    # Covered, but with no address it has no partner: its task waits for it.
    dan = await create_contact(client, firstName="Dan", **vip)
    taken = await client.post(MAIL, json={"email": "taken@example.com"})
    assert taken.status_code == 201, taken.text
    made = await client.post(SYNCS, json={"mapping": MAPPING, "segment": vip})
    assert made.status_code == 201, made.text
    contacts = json_of(made)["sync"]["id"]
    await wait_backfilled(client, contacts)
    ada_mail = await linked_partner(db, contacts, ada["id"])
    tasks_made = await client.post(SYNCS, json={"object": "tasks"})
    assert tasks_made.status_code == 201, tasks_made.text
    tasks = json_of(tasks_made)["sync"]["id"]
    await wait_backfilled(client, tasks)
    waiting_task = await add_task(client, dan["id"], "Call Dan")
    left_out_task = await add_task(client, bob["id"], "Call Bob")

    # Ada's first name changed on both sides (manual: a conflict), Cara's address changed to
    # one the Mailsuite has (refused: failing).
    assert (await client.post(f"{SYNCS}/{contacts}/pause")).status_code == 200
    for path, body in (
        (f"/contacts/{ada['id']}", {"firstName": "Augusta"}),
        (f"{MAIL}/{ada_mail}", {"firstName": "Ada L."}),
        (f"/contacts/{cara['id']}", {"email": "taken@example.com"}),
    ):
        assert (await client.put(path, json=body)).status_code == 200
    assert (await client.post(f"{SYNCS}/{contacts}/resume")).status_code == 200

    async def shown() -> Json:
        sync: Json = json_of(await client.get(f"{SYNCS}/{contacts}"))["sync"]
        return sync

    await poll(shown, lambda sync: (sync["failing"], sync["openConflicts"]) == (1, 1), within=60)
    found = await counts_and_lists(client, contacts)
    assert found == {
        "linked": (2, 2),
        "waiting": (0, 0),
        "excluded": (1, 1),
        "failing": (1, 1),
        "conflict": (1, 1),
    }
    [failing] = await listed(client, contacts, "failing")
    assert (failing["crmId"], failing["email"], failing["status"]) == (
        cara["id"],
        "taken@example.com",
        "failing",
    )
    assert failing["reason"]
    assert failing["history"].endswith(f"/links/{cara['id']}/history")
    history = await client.get(failing["history"])
    assert json_of(history)["changes"][0]["result"] == "refused"
    [conflict] = await listed(client, contacts, "conflict")
    assert (conflict["crmId"], conflict["mailsuiteId"]) == (ada["id"], ada_mail)
    assert conflict["reason"].startswith("firstName")
    excluded = {record["crmId"]: record for record in await listed(client, contacts, "excluded")}
    assert set(excluded) == {bob["id"]}
    assert excluded[bob["id"]]["name"] == "Bob"
    assert (excluded[bob["id"]]["mailsuiteId"], excluded[bob["id"]]["history"]) == (None, None)
    assert excluded[bob["id"]]["reason"] == "tagged none of vip"
    linked = await listed(client, contacts, "linked")
    assert {record["crmId"] for record in linked} == {ada["id"], cara["id"]}
    assert all(record["at"] and record["mailsuiteId"] for record in linked)

    found = await counts_and_lists(client, tasks)
    assert (found["waiting"], found["excluded"], found["linked"]) == ((1, 1), (1, 1), (0, 0))
    [left_out] = await listed(client, tasks, "excluded")
    assert (left_out["crmId"], left_out["reason"]) == (left_out_task["id"], "tagged none of vip")
    [waiting] = await listed(client, tasks, "waiting")
    assert (waiting["crmId"], waiting["mailsuiteId"], waiting["history"]) == (
        waiting_task["id"],
        None,
        None,
    )
    assert waiting["reason"] == f"waits for its contact {dan['id']}"


async def test_a_bad_status_cursor_or_limit_is_refused_naming_it_and_tenancy_applies(
    db: Database, server: LiveServer, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    made = await client.post(SYNCS, json={})
    assert made.status_code == 201, made.text
    here = f"{SYNCS}/{json_of(made)['sync']['id']}/records"
    refusals: dict[str, list[dict[str, str | int]]] = {
        "status": [{}, {"status": "inSync"}],
        "cursor": [{"status": "linked", "cursor": ""}, {"status": "linked", "cursor": "x" * 65}],
        "limit": [{"status": "linked", "limit": 0}, {"status": "linked", "limit": "many"}],
    }
    for field, cases in refusals.items():
        for params in cases:
            lines = error_lines(await client.get(here, params=params), 422)
            assert any(field in line for line in lines), (params, lines)

    async with db.unit_of_work() as uow:
        _, key = await create_key(uow, tenant.location_id, ["sync.readonly"])
    reader = dataclasses.replace(tenant, key=key)
    async with api_client(server.base_url, reader.headers) as http:
        assert (await http.get(here, params={"status": "linked"})).status_code == 200
    other = await make_tenant(db)
    async with api_client(server.base_url, other.headers) as stranger:
        assert (await stranger.get(here, params={"status": "linked"})).status_code == 404


async def test_a_remote_accounts_excluded_contacts_are_not_listed(
    db: Database, server: LiveServer, client: httpx.AsyncClient
) -> None:
    remote = await make_tenant(db)
    connection = await remote_connection(client, server.base_url, remote)
    made = await client.post(SYNCS, json={"connectionId": connection, "segment": {"tags": ["vip"]}})
    assert made.status_code == 201, made.text
    here = f"{SYNCS}/{json_of(made)['sync']['id']}/records"
    [line] = error_lines(await client.get(here, params={"status": "excluded"}), 422)
    assert line.startswith("status: a remote account's contacts are not kept here")
    assert (await client.get(here, params={"status": "linked"})).status_code == 200
