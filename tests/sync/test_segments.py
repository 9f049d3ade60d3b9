"""A sync's segment: an unusable one refused naming its field; a backfill that links only the
contacts it covers, and their tasks; a contact tagged into it linked, one tagged out of it
keeping its link and carrying nothing; a reconciliation that reports nothing it leaves out;
the count of what it leaves out; a remote account's backfill."""

from datetime import timedelta

import httpx
from sqlalchemy import delete, func, select, update

from contactflow.contacts.models import Contact
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from contactflow.sync.models import SyncLink, SyncPending
from contactflow.sync.segments import Segment
from tests.contacts.helpers import create_contact
from tests.mailsuite.helpers import error_lines, json_of, poll
from tests.support import LiveServer, Tenant, cli_output, invoke_cli, make_tenant
from tests.sync.helpers import (
    SYNCS,
    Json,
    backfill_job,
    linked_partner,
    settled,
    wait_backfilled,
)
from tests.sync.remote_helpers import remote_connection
from tests.sync.test_reconciliations import reconciled
from tests.sync.test_tasks import add_task, partner

MAIL = "/mailsuite/v1/contacts"
VIP = {"tags": ["VIP"]}


async def created_sync(client: httpx.AsyncClient, **body: object) -> Json:
    created = await client.post(SYNCS, json=body)
    assert created.status_code == 201, created.text
    sync: Json = json_of(created)["sync"]
    return sync


async def shown(client: httpx.AsyncClient, sync_id: str) -> Json:
    sync: Json = json_of(await client.get(f"{SYNCS}/{sync_id}"))["sync"]
    return sync


async def test_an_unusable_segment_is_refused_naming_its_field(
    client: httpx.AsyncClient,
) -> None:
    refusals = {
        "segment.tags.0": {"tags": [" "]},
        "segment.tags": {"tags": "vip"},
        "segment.updatedWithinDays": {"updatedWithinDays": 0},
        "segment.createdWithinDays": {"createdWithinDays": -3},
        "segment.color": {"color": "red"},
    }
    for field, segment in refusals.items():
        lines = error_lines(await client.post(SYNCS, json={"segment": segment}), 422)
        assert any(line.startswith(f"{field}:") for line in lines), (field, lines)
    absurd = await client.post(SYNCS, json={"segment": {"updatedWithinDays": 10**9}})
    assert error_lines(absurd, 422)[0].startswith("segment.updatedWithinDays:")
    text = await client.post(SYNCS, json={"segment": {"createdWithinDays": "7"}})
    assert error_lines(text, 422)[0].startswith("segment.createdWithinDays:")

    sync = await created_sync(client, segment={"tags": ["Lead", "lead"], "createdWithinDays": 30})
    assert sync["segment"] == {"tags": ["lead"], "createdWithinDays": 30, "updatedWithinDays": None}
    here = f"{SYNCS}/{sync['id']}"
    bad = await client.patch(here, json={"segment": {"tags": [""]}})
    assert error_lines(bad, 422)[0].startswith("segment.tags.0:")
    assert (await shown(client, sync["id"]))["segment"]["tags"] == ["lead"]
    tasks = await client.post(SYNCS, json={"object": "tasks", "segment": VIP})
    assert error_lines(tasks, 422)[0].startswith("segment: a tasks sync covers the tasks")
    everyone = await client.patch(here, json={"segment": {}})
    assert json_of(everyone)["sync"]["segment"] == {
        "tags": [],
        "createdWithinDays": None,
        "updatedWithinDays": None,
    }


async def test_the_cli_creates_a_sync_with_a_segment_and_shows_it(
    database_url: str, tenant: Tenant
) -> None:
    location = tenant.location_id
    empty = await invoke_cli(database_url, "sync", "create", "--location", location, "--tag", " ")
    assert empty.exit_code != 0
    assert "tag 1 is empty" in empty.output
    made = await cli_output(
        database_url,
        "sync",
        "create",
        "--location",
        location,
        "--tag",
        "VIP",
        "--updated-within",
        "30",
    )
    shown = await cli_output(database_url, "sync", "show", made, "--location", location)
    assert "covers contacts tagged vip, updated in the last 30 days; 0 left out" in shown


async def test_a_tag_segment_links_only_tagged_contacts_and_their_tasks_as_tags_change(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    ada = await create_contact(client, firstName="Ada", email="ada@example.com", tags=["vip"])
    bob = await create_contact(client, firstName="Bob", email="bob@example.com")
    ada_task = await add_task(client, ada["id"], "Call Ada")
    bob_task = await add_task(client, bob["id"], "Call Bob")

    contacts = await created_sync(client, segment=VIP)
    done = await wait_backfilled(client, contacts["id"])
    assert (done["linked"], done["excluded"], done["backfill"]["excluded"]) == (1, 1, 1)
    ada_mail = await linked_partner(db, contacts["id"], ada["id"])
    tasks = await created_sync(client, object="tasks")
    done = await wait_backfilled(client, tasks["id"])
    assert (done["linked"], done["waiting"], done["excluded"]) == (1, 0, 1)
    assert await partner(db, tasks["id"], ada_task["id"]) is not None
    assert await partner(db, tasks["id"], bob_task["id"]) is None

    # Bob tagged: the sync brings him in, and his task when it next changes.
    tagged = await client.post(f"/contacts/{bob['id']}/tags", json={"tags": ["vip"]})
    assert tagged.status_code == 201, tagged.text
    await linked_partner(db, contacts["id"], bob["id"], within=60)
    retitled = await client.put(
        f"/contacts/{bob['id']}/tasks/{bob_task['id']}", json={"title": "Call Bob again"}
    )
    assert retitled.status_code == 200, retitled.text
    await poll(lambda: partner(db, tasks["id"], bob_task["id"]), lambda found: found is not None)

    # Ada untagged: her link stays, her changes stop there.
    untagged = await client.request("DELETE", f"/contacts/{ada['id']}/tags", json={"tags": ["vip"]})
    assert untagged.status_code == 200, untagged.text
    renamed = await client.put(f"/contacts/{ada['id']}", json={"firstName": "Adele"})
    assert renamed.status_code == 200, renamed.text
    await settled(db, contacts["id"], tenant.location_id, within=60)
    mail = json_of(await client.get(f"{MAIL}/{ada_mail}"))["contact"]
    assert mail["firstName"] == "Ada"
    assert await linked_partner(db, contacts["id"], ada["id"]) == ada_mail
    assert (await shown(client, contacts["id"]))["excluded"] == 1
    assert (await shown(client, tasks["id"]))["excluded"] == 1


async def test_a_changed_segment_walks_again_linking_the_contacts_it_now_covers(
    db: Database, client: httpx.AsyncClient
) -> None:
    await create_contact(client, firstName="Ada", email="ada@example.com", tags=["vip"])
    bob = await create_contact(client, firstName="Bob", email="bob@example.com", tags=["lead"])
    bob_task = await add_task(client, bob["id"], "Call Bob")
    contacts = await created_sync(client, segment=VIP)
    await wait_backfilled(client, contacts["id"])
    tasks = await created_sync(client, object="tasks")
    await wait_backfilled(client, tasks["id"])
    assert await partner(db, tasks["id"], bob_task["id"]) is None

    # Bob and his task, untouched since, come in with the segment that covers him.
    here = f"{SYNCS}/{contacts['id']}"
    wider = {"segment": {"tags": ["vip", "lead"]}}
    assert (await client.patch(here, json=wider)).status_code == 200
    await linked_partner(db, contacts["id"], bob["id"], within=60)
    await poll(lambda: partner(db, tasks["id"], bob_task["id"]), lambda found: found is not None)
    done = await wait_backfilled(client, contacts["id"])
    assert (done["linked"], done["excluded"]) == (2, 0)
    walked = (await backfill_job(db, contacts["id"])).started_at

    # The same segment saved again walks nothing; a narrower one keeps Ada's link.
    assert (await client.patch(here, json=wider)).status_code == 200
    assert (await backfill_job(db, contacts["id"])).started_at == walked
    narrower = await client.patch(here, json={"segment": {"tags": ["lead"]}})
    assert narrower.status_code == 200, narrower.text
    done = await wait_backfilled(client, contacts["id"])
    assert (done["linked"], done["excluded"], done["backfill"]["excluded"]) == (2, 1, 1)
    assert (await wait_backfilled(client, tasks["id"]))["linked"] == 1


async def test_a_contact_left_out_is_told_the_first_part_of_the_segment_it_fails(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    now = utcnow()
    old, stale = now - timedelta(days=90), now - timedelta(days=40)
    dates = {"ann": (now, now), "ben": (old, now), "cy": (now, stale), "di": (old, stale)}
    ids = {}
    for name, (added, updated) in dates.items():
        tags = ["vip"] if name != "di" else []
        made = await create_contact(client, firstName=name, tags=tags)
        ids[made["id"]] = name
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                update(Contact)
                .where(Contact.id == made["id"])
                .values(date_added=added, date_updated=updated, wire=None)
            )
    segment = Segment.given(["VIP"], created_within_days=60, updated_within_days=30)
    async with db.reader() as session:
        rows = await session.execute(segment.why_left_out(tenant.location_id, now))
    since = (now - timedelta(days=60), now - timedelta(days=30))
    assert {ids[contact]: why for contact, why in rows} == {
        "ben": f"added before {since[0]:%Y-%m-%d}",
        "cy": f"not updated since {since[1]:%Y-%m-%d}",
        "di": "tagged none of vip",
    }


async def test_a_task_of_a_contact_left_out_never_waits(
    db: Database, client: httpx.AsyncClient
) -> None:
    # No address, no tag: a contact neither linked nor covered. Dan has no tag either, and
    # the Mailsuite contact with his address is therefore linked to nobody.
    cleo = await create_contact(client, firstName="Cleo")
    await create_contact(client, firstName="Dan", email="dan@example.com")
    made = await client.post(MAIL, json={"email": "dan@example.com"})
    assert made.status_code == 201, made.text
    contacts = await created_sync(client, segment=VIP)
    await wait_backfilled(client, contacts["id"])
    tasks = await created_sync(client, object="tasks")
    await wait_backfilled(client, tasks["id"])
    await add_task(client, cleo["id"], "Meet Cleo")
    dans = {"title": "Write to Dan", "contactId": json_of(made)["contact"]["id"]}
    assert (await client.post("/mailsuite/v1/tasks", json=dans)).status_code == 201

    async def waiting() -> tuple[int, int]:
        async with db.reader() as session:
            rows = await session.scalar(
                select(func.count()).where(SyncPending.sync_id == tasks["id"])
            )
        return rows or 0, (await shown(client, tasks["id"]))["excluded"]

    assert await poll(waiting, lambda counts: counts[1] == 1) == (0, 1)
    await settled(db, tasks["id"], tasks["locationId"], within=60)
    assert (await waiting())[0] == 0


async def test_a_reconciliation_reports_nothing_the_segment_leaves_out(
    db: Database, client: httpx.AsyncClient
) -> None:
    ada = await create_contact(client, firstName="Ada", email="ada@example.com", tags=["vip"])
    cara = await create_contact(client, firstName="Cara", email="cara@example.com", tags=["vip"])
    await create_contact(client, firstName="Bob", email="bob@example.com")
    # Bob's address in the Mailsuite, unlinked: his, so not missing in the Contacts API.
    made = await client.post(MAIL, json={"email": "bob@example.com"})
    assert made.status_code == 201, made.text
    sync = await created_sync(client, segment=VIP)
    await wait_backfilled(client, sync["id"])
    await linked_partner(db, sync["id"], ada["id"])
    # Cara's link lost behind the sync's back: she is covered, so she is missing.
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            delete(SyncLink).where(SyncLink.sync_id == sync["id"], SyncLink.crm_id == cara["id"])
        )
    found = (await reconciled(client, sync["id"]))["found"]
    assert (found["missingInMailsuite"], found["missingInCrm"]) == (1, 1)


async def test_a_remote_accounts_backfill_links_only_what_the_segment_covers(
    server: LiveServer, client: httpx.AsyncClient, db: Database
) -> None:
    remote = await make_tenant(db)
    connection = await remote_connection(client, server.base_url, remote)
    async with httpx.AsyncClient(base_url=server.base_url, headers=remote.headers) as account:
        for number, tags in enumerate([["vip"], [], ["lead"]]):
            body = {"email": f"r{number}@example.com", "tags": tags}
            made = await account.post("/contacts/", json=body)
            assert made.status_code == 201, made.text
    sync = await created_sync(client, connectionId=connection, segment=VIP)
    done = await wait_backfilled(client, sync["id"])
    assert (done["linked"], done["excluded"], done["backfill"]["done"]) == (1, 2, 3)
