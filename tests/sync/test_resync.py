"""A full resync: the backfill run again from the first record, keeping the identity map. A
pair changed behind the sync's back (no event) is brought in step, a contact whose link was
lost is linked again to its partner, nothing is made twice; refused while the backfill runs,
a reconciliation is under way or the sync is paused, unknown across locations; a remote
account's sync resyncs the same way; the CLI prints and follows it."""

import httpx
from sqlalchemy import delete, func, select, update

from contactflow.contacts.models import Contact
from contactflow.mailsuite.models import MailContact
from contactflow.platform.db import Database
from contactflow.settings import Settings
from contactflow.sync.backfill import advance
from contactflow.sync.models import SyncLink
from contactflow.sync.remote_runs import RemoteSyncSettings
from contactflow.sync.remote_runs import advance as remote_advance
from tests.contacts.helpers import assert_error
from tests.mailsuite.helpers import json_of
from tests.support import (
    CLIENT_TIMEOUT_SECONDS,
    LiveServer,
    Tenant,
    api_client,
    cli_output,
    invoke_cli,
    make_tenant,
)
from tests.sync.helpers import ALONE, SYNCS, Json, make_world, wait_backfilled
from tests.sync.remote_helpers import remote_connection

SIZE = 20


async def _walked(db: Database) -> None:
    """The backfill walked to its end by this test alone (the server runs no workers)."""
    while await advance(db, 5, "US"):
        pass


async def _links(db: Database, sync_id: str) -> dict[str, str]:
    async with db.reader() as session:
        rows = await session.execute(
            select(SyncLink.crm_id, SyncLink.mailsuite_id).where(SyncLink.sync_id == sync_id)
        )
        return {crm_id: mailsuite_id for crm_id, mailsuite_id in rows}


async def _mail_count(db: Database, location_id: str) -> int:
    async with db.reader() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(MailContact)
            .where(MailContact.location_id == location_id)
        )
        return count or 0


async def test_a_resync_brings_pairs_changed_behind_its_back_in_step(
    own_settings: Settings, quiet_server: LiveServer
) -> None:
    db = Database(own_settings.database_url)
    try:
        tenant = await make_tenant(db)
        other = await make_tenant(db)
        world = await make_world(db, tenant.location_id, SIZE)
        async with api_client(quiet_server.base_url, tenant.headers) as http:
            sync_id = json_of(await http.post(SYNCS, json={}))["sync"]["id"]
            resync = f"{SYNCS}/{sync_id}/resync"
            running = assert_error(await http.post(resync), 409)
            assert f"the backfill of {sync_id} is running (0 of {SIZE})" in running["message"]
            await _walked(db)
            links = await _links(db, sync_id)
            mail_before = await _mail_count(db, tenant.location_id)
            # Behind the sync's back: a Mailsuite contact's name changed in the database (no
            # event tells the sync), and another contact's link row lost.
            changed, unlinked = world.crm_ids[1], world.crm_ids[2]
            async with db.unit_of_work() as uow:
                await uow.session.execute(
                    update(MailContact)
                    .where(MailContact.id == links[changed])
                    .values(first_name="Behind")
                )
                await uow.session.execute(
                    delete(SyncLink).where(SyncLink.sync_id == sync_id, SyncLink.crm_id == unlinked)
                )

            started = await http.post(resync)
            assert started.status_code == 202, started.text
            job = json_of(started)["sync"]["backfill"]
            # The Mailsuite contacts that matched nothing are in the Contacts API now.
            assert (job["state"], job["done"], job["total"]) == ("running", 0, SIZE + ALONE)
            assert job["finishedAt"] is None
            assert_error(await http.post(resync), 409)
            await _walked(db)
            done: Json = json_of(await http.get(f"{SYNCS}/{sync_id}"))["sync"]
            assert done["backfill"]["state"] == "finished"
            assert done["backfill"]["done"] == done["backfill"]["total"] == SIZE + ALONE
            assert done["backfill"]["matched"] == 1  # the contact whose link was lost
            assert done["backfill"]["created"] == 0
            assert done["linked"] == len(links)

            # A reconciliation asked for (no worker takes it here) holds resyncs back until
            # it has finished: its findings are of the sync as it stands.
            checking = json_of(await http.post(f"{SYNCS}/{sync_id}/reconciliations"))
            refused = assert_error(await http.post(resync), 409)
            assert (
                f"reconciliation {checking['reconciliation']['id']} of {sync_id} is checking"
                in refused["message"]
            )

            await http.post(f"{SYNCS}/{sync_id}/pause")
            paused = assert_error(await http.post(resync), 409)
            assert f"{sync_id} is paused; resume it, then resync" in paused["message"]
        async with api_client(quiet_server.base_url, other.headers) as theirs:
            assert_error(await theirs.post(resync), 404)
        assert await _links(db, sync_id) == links
        assert await _mail_count(db, tenant.location_id) == mail_before
        async with db.reader() as session:
            crm = await session.get(Contact, changed)
        assert crm is not None
        assert crm.first_name == "Behind"
    finally:
        await db.dispose()


async def test_the_cli_resyncs_and_follows_it_to_the_end(
    server: LiveServer, database_url: str, db: Database, tenant: Tenant
) -> None:
    await make_world(db, tenant.location_id, SIZE)
    location = tenant.location_id
    async with api_client(server.base_url, tenant.headers) as http:
        sync_id = json_of(await http.post(SYNCS, json={"name": "Again"}))["sync"]["id"]
        await wait_backfilled(http, sync_id)
        followed = await cli_output(
            database_url, "sync", "resync", sync_id, "--location", location, "--follow"
        )
        assert f"Again  sync {sync_id}  (active)" in followed
        assert f"backfill finished: {SIZE + ALONE} of {SIZE + ALONE}" in followed
        started = await cli_output(database_url, "sync", "resync", sync_id, "--location", location)
        assert f"backfill running: 0 of {SIZE + ALONE}" in started
        await wait_backfilled(http, sync_id)
    unknown = await invoke_cli(database_url, "sync", "resync", sync_id, "--location", "elsewhere")
    assert unknown.exit_code == 1
    assert "Sync not found" in unknown.output


async def test_a_remote_accounts_sync_resyncs_the_same_way(
    own_settings: Settings, quiet_server: LiveServer
) -> None:
    db = Database(own_settings.database_url)
    try:
        tenant, remote = await make_tenant(db), await make_tenant(db)
        world = await make_world(db, tenant.location_id, SIZE, crm_location=remote.location_id)
        async with (
            api_client(quiet_server.base_url, tenant.headers) as http,
            httpx.AsyncClient(timeout=CLIENT_TIMEOUT_SECONDS) as outbound,
        ):
            connection_id = await remote_connection(http, quiet_server.base_url, remote)
            created = await http.post(SYNCS, json={"connectionId": connection_id})
            sync_id = json_of(created)["sync"]["id"]
            settings = RemoteSyncSettings.of(own_settings, outbound)

            async def walked() -> Json:
                while await remote_advance(db, settings, "resync"):
                    pass
                sync: Json = json_of(await http.get(f"{SYNCS}/{sync_id}"))["sync"]
                return sync

            assert (await walked())["backfill"]["state"] == "finished"
            links = await _links(db, sync_id)
            changed = world.crm_ids[1]
            async with db.unit_of_work() as uow:
                await uow.session.execute(
                    update(MailContact)
                    .where(MailContact.id == links[changed])
                    .values(first_name="Behind")
                )
            started = await http.post(f"{SYNCS}/{sync_id}/resync")
            assert started.status_code == 202, started.text
            assert json_of(started)["sync"]["backfill"]["state"] == "running"
            done = await walked()
        assert done["backfill"]["done"] == done["backfill"]["total"] == SIZE + ALONE
        assert done["health"] == "ok"
        assert await _links(db, sync_id) == links
        async with api_client(quiet_server.base_url, remote.headers) as account:
            written = json_of(await account.get(f"/contacts/{changed}"))["contact"]
        assert written["firstName"] == "Behind"
    finally:
        await db.dispose()
