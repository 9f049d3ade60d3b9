"""A sync of a remote account (another live server) takes `manual` conflicts and held
deletes: a field changed on both sides waits for a person, who keeps either side (the remote
written over the wire when the Mailsuite's is kept); a delete under `hold` waits, and
approving it deletes the partner on the other side, the remote's too, rejecting it keeps the
partner. Both logs settle: nothing the decisions wrote comes back as a change."""

import httpx

from contactflow.mailsuite import contacts as mailsuite
from contactflow.platform.db import Database
from contactflow.platform.event_types import CONTACT_UPDATE, MAILSUITE_CONTACT_UPSERT
from contactflow.settings import Settings
from tests.mailsuite.helpers import error_lines, json_of, poll
from tests.support import LiveServer, Tenant, api_client, make_tenant
from tests.sync.conftest import RemoteAccount
from tests.sync.helpers import SYNCS, Json, settled
from tests.sync.remote_helpers import (
    answered,
    connect,
    event_count,
    first_name,
    oauth_connection,
    remote_sync,
    running_relay,
)
from tests.web.helpers import browser, make_person, signed_in

MAIL = "/mailsuite/v1/contacts"
MAPPING = [
    {"crm": "firstName", "mailsuite": "firstName", "conflict": "manual"},
    {"crm": "email", "mailsuite": "email"},
]


async def _listed(client: httpx.AsyncClient, path: str, key: str, state: str) -> list[Json]:
    rows: list[Json] = (await answered(await client.get(path, params={"state": state})))[key]
    return rows


async def test_a_manual_conflict_of_a_remote_sync_waits_and_either_side_kept_settles(
    server: LiveServer,
    client: httpx.AsyncClient,
    tenant: Tenant,
    db: Database,
    remote_account: RemoteAccount,
) -> None:
    remote, account, here = remote_account.tenant, remote_account.http, tenant.location_id
    emails = ["rita@remote.io", "sam@remote.io"]
    sync_id, (rita, sam), (rita_mail, sam_mail) = await remote_sync(
        client, account, server, remote, db, emails, mapping=MAPPING
    )

    # Both sides change the manual field while the sync waits: it reads them together.
    await answered(await client.post(f"{SYNCS}/{sync_id}/pause"))
    for remote_id, mail_id in ((rita, rita_mail), (sam, sam_mail)):
        await answered(await account.put(f"/contacts/{remote_id}", json={"firstName": "There"}))
        await answered(await client.put(f"{MAIL}/{mail_id}", json={"firstName": "Here"}))
    await answered(await client.post(f"{SYNCS}/{sync_id}/resume"))
    conflicts = f"{SYNCS}/{sync_id}/conflicts"
    held = await poll(
        lambda: _listed(client, conflicts, "conflicts", "open"),
        lambda rows: len(rows) == 2,
        within=30,
    )
    by_contact = {row["crmId"]: row for row in held}
    assert {row["crmValue"] for row in held} == {"There"}
    assert await first_name(account, f"/contacts/{rita}") == "There"
    assert await first_name(client, f"{MAIL}/{rita_mail}") == "Here"

    # The remote's side kept: the Mailsuite is written; the Mailsuite's: the remote is.
    kept = await client.post(f"{conflicts}/{by_contact[rita]['id']}/resolve", json={"keep": "crm"})
    assert (await answered(kept))["conflict"]["state"] == "resolved"
    assert await first_name(client, f"{MAIL}/{rita_mail}") == "There"
    kept = await client.post(
        f"{conflicts}/{by_contact[sam]['id']}/resolve", json={"keep": "mailsuite"}
    )
    assert (await answered(kept))["conflict"]["chosen"] == "mailsuite"
    assert await first_name(account, f"/contacts/{sam}") == "Here"
    again = await client.post(f"{conflicts}/{by_contact[sam]['id']}/resolve", json={"keep": "crm"})
    assert error_lines(again, 409) == ["conflict: it was resolved already"]

    # The remote's write comes back through its webhook and is the sync's own.
    await settled(db, sync_id, here, within=30)
    assert await _listed(client, conflicts, "conflicts", "open") == []
    assert await first_name(account, f"/contacts/{rita}") == "There"
    assert await first_name(client, f"{MAIL}/{sam_mail}") == "Here"
    shown = (await answered(await client.get(f"{SYNCS}/{sync_id}")))["sync"]
    assert (shown["health"], shown["lastError"]) == ("ok", None)
    # Saved with a held delete policy too, as it was made with a manual field.
    changed = await client.patch(f"{SYNCS}/{sync_id}", json={"onDelete": "hold"})
    assert (await answered(changed))["sync"]["onDelete"] == "hold"
    # Written once each: on the remote, Sam by the person and by the resolution, Rita by the
    # person alone; in the Mailsuite (made by the backfill, changed by the person) Rita's
    # partner once more by the resolution, Sam's not.
    assert await event_count(db, remote.location_id, CONTACT_UPDATE, sam) == 2
    assert await event_count(db, remote.location_id, CONTACT_UPDATE, rita) == 1
    assert await event_count(db, here, MAILSUITE_CONTACT_UPSERT, rita_mail) == 3
    assert await event_count(db, here, MAILSUITE_CONTACT_UPSERT, sam_mail) == 2


async def test_deletes_held_by_a_remote_sync_wait_for_approval_on_either_side(
    server: LiveServer,
    client: httpx.AsyncClient,
    tenant: Tenant,
    db: Database,
    remote_account: RemoteAccount,
) -> None:
    remote, account, here = remote_account.tenant, remote_account.http, tenant.location_id
    emails = ["ann@remote.io", "ben@remote.io", "cal@remote.io"]
    sync_id, (ann, ben, cal), partners = await remote_sync(
        client, account, server, remote, db, emails, onDelete="hold"
    )
    mail = dict(zip((ann, ben, cal), partners, strict=True))

    # Two deleted on the remote (its webhook tells), one in the Mailsuite.
    for remote_id in (ann, ben):
        assert (await account.delete(f"/contacts/{remote_id}")).status_code == 200
    async with db.unit_of_work() as uow:  # Mailsuite's own delete (its API has none)
        await mailsuite.delete_contact(uow, here, mail[cal])
    held_deletes = f"{SYNCS}/{sync_id}/held-deletes"
    held = await poll(
        lambda: _listed(client, held_deletes, "heldDeletes", "held"),
        lambda rows: len(rows) == 3,
        within=30,
    )
    by_record = {row["recordId"]: row for row in held}
    assert by_record[mail[cal]]["partnerId"] == cal
    assert (await account.get(f"/contacts/{cal}")).status_code == 200
    assert (await client.get(f"{MAIL}/{mail[ann]}")).status_code == 200

    approved = await client.post(f"{held_deletes}/{by_record[ann]['id']}/approve")
    assert (await answered(approved))["heldDelete"]["outcome"] == "its mailsuite partner is deleted"
    assert (await client.get(f"{MAIL}/{mail[ann]}")).status_code == 404
    rejected = await client.post(f"{held_deletes}/{by_record[ben]['id']}/reject")
    assert (await answered(rejected))["heldDelete"]["state"] == "rejected"
    assert (await client.get(f"{MAIL}/{mail[ben]}")).status_code == 200
    # A Mailsuite delete approved reaches the remote account over the wire.
    approved = await client.post(f"{held_deletes}/{by_record[mail[cal]]['id']}/approve")
    assert (await answered(approved))["heldDelete"]["outcome"] == "its crm partner is deleted"
    assert (await account.get(f"/contacts/{cal}")).status_code == 404

    await settled(db, sync_id, here, within=30)
    assert await _listed(client, held_deletes, "heldDeletes", "held") == []
    shown = (await answered(await client.get(f"{SYNCS}/{sync_id}")))["sync"]
    assert (shown["health"], shown["lastError"]) == ("ok", None)


async def test_a_resolution_the_remote_refuses_decides_nothing_and_is_made_once_reconnected(
    server: LiveServer, client: httpx.AsyncClient, tenant: Tenant, db: Database, settings: Settings
) -> None:
    remote = await make_tenant(db)
    here = tenant.location_id
    with running_relay(settings, server.base_url, remote.key) as relay:
        async with api_client(server.base_url, remote.headers) as account:
            body = {"email": "kim@remote.io", "firstName": "There"}
            kim = (await answered(await account.post("/contacts/", json=body)))["contact"]["id"]
            # A Mailsuite contact of the same address with another first name: linked by the
            # backfill, the manual field waits for a person.
            body = {"email": "kim@remote.io", "firstName": "Here"}
            await answered(await client.post(MAIL, json=body))
            connection_id = await oauth_connection(client, relay, remote)
            await connect(client, connection_id)
            made = await client.post(
                SYNCS, json={"connectionId": connection_id, "mapping": MAPPING}
            )
            sync = (await answered(made))["sync"]
            conflicts = f"{SYNCS}/{sync['id']}/conflicts"
            [held] = await poll(
                lambda: _listed(client, conflicts, "conflicts", "open"),
                lambda rows: len(rows) == 1,
                within=30,
            )

            # The token is revoked and no longer renewed: nothing is decided, and the
            # person is told why, on the dashboard and through the API.
            relay.provider.revoke()
            relay.provider.refusing_refresh = True
            page = f"/app/l/{here}/syncs/{sync['id']}"
            async with browser(server.base_url) as http:
                token = await signed_in(http, await make_person(db, here))
                kept_there = f"{page}/conflicts/{held['id']}/mailsuite"
                refused = await http.post(kept_there, data={"csrf_token": token})
                shown = await http.get(refused.headers["location"])
                assert "Nothing was decided" in shown.text
                again = await client.post(
                    f"{conflicts}/{held['id']}/resolve", json={"keep": "mailsuite"}
                )
                [line] = error_lines(again, 503)
                assert line.endswith(
                    "nothing was decided: connect the sync's connection again, then decide again"
                )
                assert json_of(again)["meta"] == {"remedy": "reconnect"}
                assert await _listed(client, conflicts, "conflicts", "open") == [held]
                failing = (await answered(await client.get(f"{SYNCS}/{sync['id']}")))["sync"]
                assert (failing["health"], failing["remedy"]) == ("failing", "reconnect")
                assert await first_name(account, f"/contacts/{kim}") == "There"

                # Connected again, the same decision is made at once.
                relay.provider.refusing_refresh = False
                await connect(client, connection_id)
                resolved = await http.post(kept_there, data={"csrf_token": token})
                shown = await http.get(resolved.headers["location"])
                assert 'role="status">Conflict resolved' in shown.text
            assert await first_name(account, f"/contacts/{kim}") == "Here"
            assert await _listed(client, conflicts, "conflicts", "open") == []
