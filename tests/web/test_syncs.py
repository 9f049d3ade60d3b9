"""The syncs pages over HTTP on both backends: the empty state linking the API docs; a sync
created through the form (a bad name or direction, or a second sync of the contacts, said
on the form, never a 500), and a sync of tasks beside it, listed with their objects,
direction, status and backfill, their pages with mapping and counts, a name escaped; Pause,
Resume and Resync through their forms with CSRF, the backfill going on from where it
stopped, or again from the first record; another location's syncs (their Edit form too) a
404, by role."""

import re

import httpx
from sqlalchemy import delete, select

from contactflow.contacts import service as contacts
from contactflow.contacts.schemas import ContactCreate as CrmCreate
from contactflow.contacts.schemas import ContactUpdate as CrmUpdate
from contactflow.mailsuite import contacts as mailsuite
from contactflow.mailsuite.schemas import ContactUpdate as MailUpdate
from contactflow.platform.db import Database
from contactflow.sync import service
from contactflow.sync.fields import FieldMap
from contactflow.sync.models import PAUSED, Sync, SyncLink
from contactflow.sync.schemas import BackfillOut, SegmentOut, SyncOut
from contactflow.sync.service import SyncSettings
from contactflow.web.pages import part
from contactflow.web.syncs import following
from tests.mailsuite.helpers import poll
from tests.support import LiveServer, Tenant, make_tenant
from tests.sync.helpers import ALONE, make_world, paused_sync
from tests.web.helpers import browser, make_person, second_location, signed_in

SCRIPT = "<script>alert(1)</script>"
CONTACTS = 20


def sync_ids(html: str) -> list[str]:
    return re.findall(r'data-sync-id="([^"]+)"', html)


async def test_a_person_creates_a_sync_and_sees_it_listed_with_its_mapping(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    here = f"/app/l/{web_tenant.location_id}/syncs"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        empty = await http.get(here)
        assert empty.status_code == 200
        assert "No syncs yet" in empty.text
        assert 'href="/docs#/Sync/create_sync_sync_v1_syncs_post"' in empty.text
        assert f'href="{here}">Syncs</a>' in empty.text

        form = await http.get(f"{here}/new")
        assert '<option value="both" selected>' in form.text
        for sent, field in (
            ({"name": "", "direction": "both"}, "name"),
            ({"name": "Ok", "direction": "sideways"}, "direction"),
        ):
            refused = await http.post(f"{here}/new", data={**sent, "csrf_token": token})
            assert refused.status_code == 422, refused.text
            assert f'id="{field}-error"' in refused.text
            assert f'aria-describedby="{field}-error" aria-invalid="true"' in refused.text

        made = await http.post(
            f"{here}/new",
            data={"name": SCRIPT, "direction": "crmToMailsuite", "csrf_token": token},
        )
        assert made.status_code == 303, made.text
        page = await http.get(made.headers["location"])
        assert page.status_code == 200
        assert SCRIPT not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert 'role="status">Sync created' in page.text
        assert "Contacts to Mailsuite" in page.text
        assert (
            "<td>Tags <code>tags</code></td>"
            "<td>Custom field tags <code>customFields.tags</code></td>" in page.text
        )
        assert "the newest change wins" in page.text

        listed = await http.get(here)
        sync_id = made.headers["location"].split("/")[-1].split("?")[0]
        assert sync_ids(listed.text) == [sync_id]
        assert SCRIPT not in listed.text
        assert 'class="state state-active"' in listed.text

        again = await http.post(
            f"{here}/new", data={"name": "Twice", "direction": "both", "csrf_token": token}
        )
        assert again.status_code == 422, again.text
        assert 'role="alert">object: this location syncs contacts already' in again.text

        one_way = await http.post(
            f"{here}/new",
            data={
                "object": "appointments",
                "name": "Appointments",
                "direction": "both",
                "csrf_token": token,
            },
        )
        assert one_way.status_code == 422, one_way.text
        assert 'id="direction-error"' in one_way.text
        tasks = await http.post(
            f"{here}/new",
            data={"object": "tasks", "name": "Tasks", "direction": "both", "csrf_token": token},
        )
        assert tasks.status_code == 303, tasks.text
        tasks_page = await http.get(tasks.headers["location"])
        assert "<dd>Tasks of linked contacts</dd>" in tasks_page.text
        assert 'data-count="waiting">0<' in tasks_page.text
        assert (
            "<td>Completed <code>completed</code></td><td>Status <code>status</code></td>"
            in tasks_page.text
        )
        both = await http.get(here)
        assert len(sync_ids(both.text)) == 2
        assert 'data-object="tasks">Tasks of linked contacts<' in both.text


async def test_pause_and_resume_need_csrf_and_the_backfill_goes_on(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    await make_world(web_db, web_tenant.location_id, CONTACTS)
    sync = await paused_sync(web_db, web_tenant.location_id)
    person = await make_person(web_db, web_tenant.location_id, role="user")
    here = f"/app/l/{web_tenant.location_id}/syncs/{sync.id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        page = await http.get(here)
        assert f"Backfill: 0 of {CONTACTS}" in page.text
        assert f"Paused with {CONTACTS} to go." in page.text
        assert "hx-get" not in page.text
        assert f'action="{here}/resume"' in page.text
        assert (await http.post(f"{here}/resume")).status_code == 403
        assert (await http.post(f"{here}/resume", data={"csrf_token": "x"})).status_code == 403
        assert 'state-paused"' in (await http.get(here)).text

        resumed = await http.post(f"{here}/resume", data={"csrf_token": token})
        assert resumed.status_code == 303
        shown = await http.get(resumed.headers["location"])
        assert 'role="status">Syncing again' in shown.text
        assert 'class="state state-active"' in shown.text

        async def counts() -> httpx.Response:
            return await http.get(f"{here}/progress", headers={"HX-Request": "true"})

        done = await poll(counts, lambda r: 'data-backfill="finished"' in r.text, within=60)
        assert done.status_code == 200
        assert f"Backfill: {CONTACTS + ALONE} of {CONTACTS + ALONE}" in done.text
        assert "hx-get" not in done.text
        assert "<html" not in done.text

        paused = await http.post(f"{here}/pause", data={"csrf_token": token})
        assert paused.status_code == 303
        shown = await http.get(paused.headers["location"])
        assert 'role="status">Paused' in shown.text
        assert 'class="state state-paused"' in shown.text
        assert f'action="{here}/resume"' in shown.text
        assert (await http.post(f"{here}/stop", data={"csrf_token": token})).status_code == 404


async def test_resync_needs_csrf_and_runs_the_backfill_again(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    await make_world(web_db, web_tenant.location_id, CONTACTS)
    sync = await paused_sync(web_db, web_tenant.location_id, "Again")
    person = await make_person(web_db, web_tenant.location_id, role="user")
    here = f"/app/l/{web_tenant.location_id}/syncs/{sync.id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        # Paused, or while its backfill runs, a sync offers no Resync (and refuses one).
        assert f'action="{here}/resync"' not in (await http.get(here)).text
        refused = await http.post(f"{here}/resync", data={"csrf_token": token})
        assert 'role="status">Not now' in (await http.get(refused.headers["location"])).text
        await http.post(f"{here}/resume", data={"csrf_token": token})

        async def page() -> httpx.Response:
            return await http.get(here)

        finished = await poll(page, lambda r: 'data-backfill="finished"' in r.text, within=60)
        assert f'action="{here}/resync"' in finished.text
        assert (await http.post(f"{here}/resync")).status_code == 403
        assert (await http.post(f"{here}/resync", data={"csrf_token": "x"})).status_code == 403
        resynced = await http.post(f"{here}/resync", data={"csrf_token": token})
        assert resynced.status_code == 303
        shown = await http.get(resynced.headers["location"])
        assert 'role="status">Resyncing' in shown.text
        again = await poll(page, lambda r: 'data-backfill="finished"' in r.text, within=60)
        assert f"Backfill: {CONTACTS + ALONE} of {CONTACTS + ALONE}" in again.text
        assert f'action="{here}/resync"' in again.text


async def test_sync_pages_are_404_across_locations_by_role(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db)
    theirs = await paused_sync(web_db, other.location_id, "Theirs")
    sibling = await second_location(web_db, web_tenant)
    sibling_sync = await paused_sync(web_db, sibling, "Sibling's")
    admin = await make_person(web_db, web_tenant.location_id)
    user = await make_person(web_db, web_tenant.location_id, role="user")
    ours = f"/app/l/{web_tenant.location_id}/syncs"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        for path in (
            f"{ours}/{theirs.id}",
            f"{ours}/{theirs.id}/progress",
            f"{ours}/{theirs.id}/edit",
            f"/app/l/{other.location_id}/syncs",
            f"/app/l/{other.location_id}/syncs/new",
        ):
            assert (await http.get(path)).status_code == 404, path
        for step in ("pause", "resume", "resync", "edit"):
            response = await http.post(f"{ours}/{theirs.id}/{step}", data={"csrf_token": token})
            assert response.status_code == 404, step
        made = await http.post(
            f"/app/l/{other.location_id}/syncs/new",
            data={"name": "Into theirs", "direction": "both", "csrf_token": token},
        )
        assert made.status_code == 404
        assert (await http.get(f"/app/l/{sibling}/syncs/{sibling_sync.id}")).status_code == 200
        assert (await http.get(f"{ours}/{sibling_sync.id}")).status_code == 404
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, user)
        assert (await http.get(f"/app/l/{sibling}/syncs")).status_code == 404
        assert (await http.get(f"/app/l/{sibling}/syncs/{sibling_sync.id}")).status_code == 404
        sibling_edit = f"/app/l/{sibling}/syncs/{sibling_sync.id}/edit"
        assert (await http.get(sibling_edit)).status_code == 404
        renamed = {"csrf_token": token, "name": "Renamed", "rows": "0"}
        assert (await http.post(sibling_edit, data=renamed)).status_code == 404
        assert (await http.get(ours)).status_code == 200
    async with web_db.reader() as session:
        untouched = await session.get(Sync, theirs.id)
    assert untouched is not None
    assert untouched.status == PAUSED


def test_a_running_backfill_shows_its_rate_and_time_left_and_asks_again() -> None:
    job = BackfillOut(
        state="running",
        walking="crm",
        done=40,
        total=100,
        matched=10,
        created=28,
        skipped=2,
        excluded=0,
        last_skip=SCRIPT,
        per_second=12.5,
        seconds_left=130.0,
        started_at="2026-01-01T00:00:00.000Z",
        finished_at=None,
    )
    sync = SyncOut(
        id="s1",
        location_id="l1",
        name="Running",
        object="contacts",
        direction="both",
        mapping=[],
        segment=SegmentOut(tags=[], created_within_days=None, updated_within_days=None),
        status="active",
        linked=38,
        waiting=0,
        excluded=0,
        failing=0,
        backfill=job,
        on_delete="ignore",
        open_conflicts=0,
        reconcile_every_minutes=None,
        next_reconciliation_at=None,
        last_error=None,
        last_error_at=None,
        connection_id=None,
        health="ok",
        remedy=None,
        retry_at=None,
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )
    assert following(sync)
    html = part("sync.html", "counts", location_id="l1", sync=sync, refresh_url="/again")
    assert 'hx-get="/again" hx-trigger="load delay:2s"' in html
    assert "Backfill: 40 of 100" in html
    assert '<progress id="sync-backfill" max="100" value="40">' in html
    assert "12.5 a second, about 3 min left" in html
    assert SCRIPT not in html
    assert not following(sync.model_copy(update={"status": "paused"}))
    # Paused before its first batch counted the records: an empty bar, not a full one.
    uncounted = job.model_copy(update={"done": 0, "total": 0})
    paused = sync.model_copy(update={"status": "paused", "backfill": uncounted})
    html = part("sync.html", "counts", location_id="l1", sync=paused, refresh_url="/again")
    assert '<progress id="sync-backfill" max="100" value="0">' in html
    assert "Paused before the records were counted." in html


async def test_a_person_checks_a_sync_and_repairs_what_it_found(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    """Check now, a finding listed (a link lost behind the sync's back), Repair all with its
    progress, and a second check that finds nothing; another location's sync a 404."""
    location = web_tenant.location_id
    await make_world(web_db, location, 3)
    async with web_db.unit_of_work() as uow:
        sync = await service.create_sync(uow, location, SyncSettings("Checked"))
    person = await make_person(web_db, location)
    here = f"/app/l/{location}/syncs/{sync.id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        assert "Not reconciled yet." in (await http.get(here)).text
        await poll(lambda: http.get(f"{here}/progress"), lambda r: "finished" in r.text, within=60)
        async with web_db.unit_of_work() as uow:
            await uow.session.execute(delete(SyncLink).where(SyncLink.sync_id == sync.id))

        async def block() -> httpx.Response:
            return await http.get(f"{here}/reconciliation", headers={"HX-Request": "true"})

        def checked(response: httpx.Response) -> bool:
            return (
                'data-reconciliation="finished"' in response.text and "hx-get" not in response.text
            )

        checking = await http.post(f"{here}/reconcile", data={"csrf_token": token})
        assert checking.status_code == 303
        assert 'role="status">Reconciling' in (await http.get(checking.headers["location"])).text
        found = await poll(block, checked, within=30)
        assert "missing in Mailsuite" in found.text
        assert "<html" not in found.text
        [reconciliation_id] = re.findall(r"/reconciliations/([^/]+)/repair", found.text)
        repairing = await http.post(
            f"{here}/reconciliations/{reconciliation_id}/repair", data={"csrf_token": token}
        )
        assert repairing.status_code == 303
        repaired = await poll(block, lambda r: 'data-repair="finished"' in r.text, within=30)
        assert "(failed)" not in repaired.text

        await http.post(f"{here}/reconcile", data={"csrf_token": token})
        again = await poll(block, lambda r: checked(r) and reconciliation_id not in r.text)
        assert "Nothing out of step." in again.text

        other = await make_tenant(web_db)
        theirs = await paused_sync(web_db, other.location_id, "Theirs")
        elsewhere = f"/app/l/{location}/syncs/{theirs.id}"
        assert (await http.get(f"{elsewhere}/reconciliation")).status_code == 404
        stranger = await http.post(f"{elsewhere}/reconcile", data={"csrf_token": token})
        assert stranger.status_code == 404


async def test_a_person_approves_and_rejects_held_deletes(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    location = web_tenant.location_id
    world = await make_world(web_db, location, 3)
    async with web_db.unit_of_work() as uow:
        settings = SyncSettings("Held", on_delete="hold")
        sync = await service.create_sync(uow, location, settings)
    person = await make_person(web_db, location)
    here = f"/app/l/{location}/syncs/{sync.id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        assert "held until a person approves" in (await http.get(here)).text
        await poll(lambda: http.get(f"{here}/progress"), lambda r: "finished" in r.text, within=60)
        async with web_db.unit_of_work() as uow:
            for contact_id in world.crm_ids[1:3]:
                await contacts.delete_contact(uow, location, contact_id)
        page = await poll(lambda: http.get(here), lambda r: len(held_ids(r.text)) == 2)
        assert "Deletes waiting for approval" in page.text
        first, second = held_ids(page.text)
        approved = await http.post(
            f"{here}/held-deletes/{first}/approve", data={"csrf_token": token}
        )
        assert (
            'role="status">Delete approved' in (await http.get(approved.headers["location"])).text
        )
        rejected = await http.post(
            f"{here}/held-deletes/{second}/reject", data={"csrf_token": token}
        )
        shown = await http.get(rejected.headers["location"])
        assert 'role="status">Delete rejected' in shown.text
        assert held_ids(shown.text) == []
        twice = await http.post(f"{here}/held-deletes/{second}/approve", data={"csrf_token": token})
        assert "decided already" in (await http.get(twice.headers["location"])).text
        odd = await http.post(f"{here}/held-deletes/{second}/maybe", data={"csrf_token": token})
        assert odd.status_code == 404


def held_ids(html: str) -> list[str]:
    return re.findall(r'data-held-id="([^"]+)"', html)


async def test_a_person_resolves_a_held_conflict_and_reads_the_pair_history(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    location = web_tenant.location_id
    async with web_db.unit_of_work() as uow:
        body = CrmCreate.model_validate({"email": "kim@example.com", "firstName": "Kim"})
        kim = await contacts.create_contact(uow, location, body, "US")
        mapping = (FieldMap("firstName", "firstName", "manual"), FieldMap("email", "email"))
        sync = await service.create_sync(uow, location, SyncSettings("Held", mapping=mapping))
    person = await make_person(web_db, location)
    here = f"/app/l/{location}/syncs/{sync.id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        assert "a person picks" in (await http.get(here)).text
        await poll(lambda: http.get(f"{here}/progress"), lambda r: "finished" in r.text, within=60)
        async with web_db.reader() as session:
            link = await session.scalar(select(SyncLink).where(SyncLink.crm_id == kim.id))
        assert link is not None
        async with web_db.unit_of_work() as uow:
            await service.set_status(uow, location, sync.id, PAUSED)
            await contacts.update_contact(
                uow, location, kim.id, CrmUpdate.model_validate({"firstName": SCRIPT}), "US"
            )
            change = MailUpdate.model_validate({"firstName": "Kimberly"})
            await mailsuite.update_contact(uow, location, link.mailsuite_id, change, "US")
            await service.set_status(uow, location, sync.id, "active")
        # The count and the list are read one after the other: the sync may hold the conflict
        # in between, so the page is read again until both show it.
        page = await poll(
            lambda: http.get(here),
            lambda r: len(conflict_ids(r.text)) == 1 and 'data-count="open-conflicts">1<' in r.text,
        )
        assert "Conflicts waiting for a person" in page.text
        assert SCRIPT not in page.text
        [held] = conflict_ids(page.text)
        odd = await http.post(f"{here}/conflicts/{held}/both", data={"csrf_token": token})
        assert odd.status_code == 404
        unsigned = await http.post(f"{here}/conflicts/{held}/mailsuite")
        assert unsigned.status_code == 403
        kept = await http.post(f"{here}/conflicts/{held}/mailsuite", data={"csrf_token": token})
        shown = await http.get(kept.headers["location"])
        assert 'role="status">Conflict resolved' in shown.text
        assert conflict_ids(shown.text) == []
        twice = await http.post(f"{here}/conflicts/{held}/crm", data={"csrf_token": token})
        assert "resolved already" in (await http.get(twice.headers["location"])).text
        async with web_db.reader() as session:
            stored = await contacts.find_contact(session, location, kim.id)
        assert stored.first_name == "Kimberly"

        history = await http.get(f"{here}/pairs/{kim.id}")
        assert history.status_code == 200
        assert re.findall(r'data-change="([^"]+)"', history.text) == ["written", "conflict"]
        assert (await http.get(f"{here}/pairs/nobody")).status_code == 404
        other = await make_tenant(web_db)
        theirs = await paused_sync(web_db, other.location_id, "Theirs")
        elsewhere = f"/app/l/{location}/syncs/{theirs.id}"
        assert (await http.get(f"{elsewhere}/pairs/{kim.id}")).status_code == 404
        stranger = await http.post(f"{elsewhere}/conflicts/{held}/crm", data={"csrf_token": token})
        assert stranger.status_code == 404


def conflict_ids(html: str) -> list[str]:
    return re.findall(r'data-conflict-id="([^"]+)"', html)
