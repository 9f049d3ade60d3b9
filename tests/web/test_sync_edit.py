"""A sync's Edit form over HTTP on both backends: it shows the sync's settings and mapping;
a change saved through it is what the API reads back, and the sync's page says it in words
(a name escaped); a refused change (a field mapped twice, an unknown field, no field, a
schedule out of range) is a 422 with each reason beside its field, the person's input kept
and nothing saved; no CSRF token is a 403. Another location's sync is a 404, by role, with
the other sync pages (test_syncs.py)."""

import re
from typing import Any

from contactflow.platform.db import Database
from contactflow.sync import service
from contactflow.sync.models import Sync
from contactflow.sync.service import SyncSettings
from tests.flows.helpers import Hub
from tests.support import LiveServer, Tenant
from tests.sync.helpers import paused_sync
from tests.web.helpers import Person, browser, make_person, signed_in

SCRIPT = "<script>alert(1)</script>"
# The contacts sync's own mapping, as the form's rows hold it, and two blank rows.
DEFAULT_ROWS = [
    ("firstName", "firstName", "", "newestWins"),
    ("lastName", "lastName", "", "newestWins"),
    ("email", "email", "", "newestWins"),
    ("phone", "phone", "", "newestWins"),
    ("tags", "customFields.", "tags", "newestWins"),
    ("", "", "", "newestWins"),
    ("", "", "", "newestWins"),
]


def edit_form(
    token: str,
    rows: list[tuple[str, str, str, str]],
    removed: tuple[int, ...] = (),
    **settings: str,
) -> dict[str, Any]:
    """What the Edit form sends: its settings, and each row's fields."""
    sent: dict[str, Any] = {
        "csrf_token": token,
        "name": "Everyone",
        "direction": "both",
        "onDelete": "ignore",
        "reconcile": "asked",
        "every": "60",
        "rows": str(len(rows)),
        **settings,
    }
    for index, (crm, mailsuite, key, conflict) in enumerate(rows):
        part = f"row-{index}"
        sent |= {
            f"{part}-crm": crm,
            f"{part}-mailsuite": mailsuite,
            f"{part}-key": key,
            f"{part}-conflict": conflict,
        }
        if index in removed:
            sent[f"{part}-remove"] = "1"
    return sent


def error_of(html: str, place: str) -> str:
    found = re.search(rf'<p class="error" id="{place}-error">([^<]*)</p>', html)
    assert found is not None, (place, html)
    return found.group(1)


async def stored(db: Database, sync_id: str) -> Sync:
    async with db.reader() as session:
        sync = await session.get(Sync, sync_id)
    assert sync is not None
    return sync


async def a_users_sync(db: Database, tenant: Tenant) -> tuple[Sync, Person, str]:
    """A paused sync named Everyone, a user of its location, and the sync's page."""
    sync = await paused_sync(db, tenant.location_id, "Everyone")
    person = await make_person(db, tenant.location_id, role="user")
    return sync, person, f"/app/l/{tenant.location_id}/syncs/{sync.id}"


async def test_a_person_changes_a_sync_and_the_api_reads_the_change(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    sync, person, here = await a_users_sync(web_db, web_tenant)
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        page = await http.get(here)
        assert f'href="{here}/edit">Edit</a>' in page.text
        assert "<dt>Reconciled</dt><dd>only when asked</dd>" in page.text

        form = await http.get(f"{here}/edit")
        assert form.status_code == 200
        assert 'id="sync-name" name="name" required maxlength="255" value="Everyone"' in form.text
        assert '<option value="both" selected>Both ways</option>' in form.text
        assert 'name="onDelete" value="ignore" aria-describedby="on-delete-ignore" checked' in (
            form.text
        )
        assert 'name="reconcile" value="asked" checked' in form.text
        assert 'name="rows" value="7"' in form.text
        assert '<option value="firstName" selected>First name</option>' in form.text
        assert '<option value="postalCode">Postal code</option>' in form.text
        assert 'id="row-4-key" name="row-4-key" maxlength="64"' in form.text
        assert 'value="tags"' in form.text
        assert '<option value="manual">a person picks</option>' in form.text
        assert 'href="/docs#/Sync/update_sync_sync_v1_syncs__syncId__patch"' in form.text

        rows = list(DEFAULT_ROWS)
        rows[0] = ("firstName", "firstName", "", "manual")
        rows[5] = ("companyName", "customFields.", "company", "crmWins")
        changed = edit_form(
            token,
            rows,
            removed=(3,),
            name=SCRIPT,
            direction="crmToMailsuite",
            onDelete="hold",
            reconcile="every",
            every="30",
        )
        saved = await http.post(f"{here}/edit", data=changed)
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"{here}?done=changed"
        shown = await http.get(saved.headers["location"])
        assert 'role="status">Settings saved' in shown.text
        assert SCRIPT not in shown.text
        assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in shown.text
        assert "<dd>held until a person approves</dd>" in shown.text
        assert "<dt>Reconciled</dt><dd>on its own every 30 min" in shown.text
        assert (
            "<td>Company name <code>companyName</code></td>"
            "<td>Custom field company <code>customFields.company</code></td>"
            "<td>the contact wins</td>"
        ) in shown.text
        assert "<code>phone</code>" not in shown.text
        again = await http.get(f"{here}/edit")
        assert SCRIPT not in again.text

    read = (await web_hub.get(f"/sync/v1/syncs/{sync.id}"))["sync"]
    assert read["name"] == SCRIPT
    assert read["direction"] == "crmToMailsuite"
    assert read["onDelete"] == "hold"
    assert read["reconcileEveryMinutes"] == 30
    assert read["mapping"] == [
        {"crm": "firstName", "mailsuite": "firstName", "conflict": "manual"},
        {"crm": "lastName", "mailsuite": "lastName", "conflict": "newestWins"},
        {"crm": "email", "mailsuite": "email", "conflict": "newestWins"},
        {"crm": "tags", "mailsuite": "customFields.tags", "conflict": "newestWins"},
        {"crm": "companyName", "mailsuite": "customFields.company", "conflict": "crmWins"},
    ]


async def test_a_refused_change_is_said_beside_its_field_and_nothing_is_saved(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    sync = await paused_sync(web_db, web_tenant.location_id, "Everyone")
    before = (await stored(web_db, sync.id)).mapping
    person = await make_person(web_db, web_tenant.location_id)
    here = f"/app/l/{web_tenant.location_id}/syncs/{sync.id}/edit"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        rows = list(DEFAULT_ROWS)
        rows[1] = ("firstName", "lastName", "", "crmWins")
        rows[5] = ("shoeSize", "customFields.", "shoes", "newestWins")
        refused = await http.post(
            f"{here}", data=edit_form(token, rows, name="Renamed", onDelete="propagate")
        )
        assert refused.status_code == 422, refused.text
        assert error_of(refused.text, "row-1-crm") == (
            "Row 2, contact field: &#39;firstName&#39; is mapped twice"
        )
        assert error_of(refused.text, "row-5-crm").startswith(
            "Row 6, contact field: &#39;shoeSize&#39; is not a contact field (one of firstName"
        )
        assert 'aria-describedby="row-5-crm-error" aria-invalid="true"' in refused.text
        assert 'value="Renamed"' in refused.text
        assert 'value="propagate" aria-describedby="on-delete-propagate" checked' in refused.text
        assert '<option value="shoeSize" selected>shoeSize</option>' in refused.text
        assert 'name="row-5-key" maxlength="64" pattern="[A-Za-z_][A-Za-z0-9_]*" value="shoes"' in (
            refused.text
        )

        a_custom_key = [("email", "customFields.", "no spaces", "newestWins")]
        bad_key = await http.post(here, data=edit_form(token, a_custom_key))
        assert bad_key.status_code == 422
        assert error_of(bad_key.text, "row-0-mailsuite").startswith(
            "Row 1, Mailsuite contact field: &#39;customFields.no spaces&#39; is not a"
        )

        nothing = await http.post(
            here, data=edit_form(token, DEFAULT_ROWS, removed=(0, 1, 2, 3, 4))
        )
        assert nothing.status_code == 422
        assert error_of(nothing.text, "mapping").startswith("Mapping: ")
        a_year = await http.post(
            here, data=edit_form(token, DEFAULT_ROWS, reconcile="every", every="525600")
        )
        assert a_year.status_code == 422
        assert error_of(a_year.text, "reconcileEveryMinutes").startswith("Reconciliation: ")
        sideways = await http.post(here, data=edit_form(token, DEFAULT_ROWS, direction="sideways"))
        assert sideways.status_code == 422
        assert error_of(sideways.text, "direction").startswith("Direction: ")

        unsigned = edit_form(token, DEFAULT_ROWS, name="No token")
        del unsigned["csrf_token"]
        assert (await http.post(here, data=unsigned)).status_code == 403
        forged = edit_form("forged", DEFAULT_ROWS, name="Forged")
        assert (await http.post(here, data=forged)).status_code == 403
    kept = await stored(web_db, sync.id)
    assert (kept.name, kept.on_delete, kept.mapping) == ("Everyone", "ignore", before)


async def test_a_sync_of_tasks_is_edited_with_the_task_fields(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    location = web_tenant.location_id
    await paused_sync(web_db, location)
    async with web_db.unit_of_work() as uow:
        tasks = await service.create_sync(uow, location, SyncSettings("Tasks", object="tasks"))
    person = await make_person(web_db, location)
    here = f"/app/l/{location}/syncs/{tasks.id}/edit"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        form = await http.get(here)
        assert '<option value="dueDate" selected>Due date</option>' in form.text
        assert '<option value="crmWins">the task wins</option>' in form.text
        assert "customFields" not in form.text
        rows = [("completed", "status", "", "mailsuiteWins"), ("title", "body", "", "newestWins")]
        refused = await http.post(here, data=edit_form(token, rows, name="Tasks"))
        assert refused.status_code == 422
        assert error_of(refused.text, "row-1-mailsuite").startswith(
            "Row 2, Mailsuite task field: &#39;body&#39; is not a Mailsuite task field"
        )
        saved = await http.post(here, data=edit_form(token, rows[:1], name="Tasks"))
        assert saved.status_code == 303, saved.text
    assert (await stored(web_db, tasks.id)).mapping == [
        {"crm": "completed", "mailsuite": "status", "conflict": "mailsuiteWins"}
    ]


async def test_a_person_chooses_which_contacts_a_sync_covers(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    sync, person, here = await a_users_sync(web_db, web_tenant)
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        form = await http.get(f"{here}/edit")
        assert 'id="sync-segment-tags" name="segmentTags" maxlength="2000" value=""' in form.text
        page = await http.get(here)
        assert '<dd id="sync-covers">every contact</dd>' in page.text
        assert 'data-count="excluded">0</a></td>' in page.text

        zero = edit_form(token, DEFAULT_ROWS, segmentTags="vip", segmentCreated="0")
        refused = await http.post(f"{here}/edit", data=zero)
        assert refused.status_code == 422, refused.text
        assert error_of(refused.text, "segmentCreated").startswith("Added within the last days: ")
        assert 'name="segmentTags" maxlength="2000" value="vip"' in refused.text
        assert (await stored(web_db, sync.id)).segment is None

        chosen = edit_form(token, DEFAULT_ROWS, segmentTags="VIP, , lead", segmentUpdated="30")
        saved = await http.post(f"{here}/edit", data=chosen)
        assert saved.status_code == 303, saved.text
        shown = await http.get(here)
        assert (
            '<dd id="sync-covers">contacts tagged vip or lead, updated in the last 30 days</dd>'
        ) in shown.text
        again = await http.get(f"{here}/edit")
        assert 'name="segmentTags" maxlength="2000" value="vip, lead"' in again.text
        assert 'name="segmentUpdated" type="number" min="1" max="3650" value="30"' in again.text

    assert (await stored(web_db, sync.id)).segment == {
        "tags": ["vip", "lead"],
        "createdWithinDays": None,
        "updatedWithinDays": 30,
    }
