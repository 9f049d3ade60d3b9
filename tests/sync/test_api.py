"""/sync/v1/syncs: bad configuration refused naming the field, one sync per location and
objects, another location's syncs not found, a sync's life through the API and the CLI."""

import httpx

from tests.conftest import TenantFactory
from tests.mailsuite.helpers import error_lines, json_of
from tests.support import LiveServer, Tenant, api_client, cli_output, invoke_cli
from tests.sync.helpers import SYNCS


async def test_bad_configuration_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    unknown = await client.post(
        SYNCS,
        json={
            "mapping": [
                {"crm": "firstName", "mailsuite": "givenName"},
                {"crm": "shoeSize", "mailsuite": "customFields.shoe_size"},
                {"crm": "email", "mailsuite": "customFields.not a key"},
            ]
        },
    )
    lines = error_lines(unknown, 422)
    assert any(line.startswith("mapping.0.mailsuite: 'givenName'") for line in lines), lines
    assert any(line.startswith("mapping.1.crm: 'shoeSize'") for line in lines), lines
    assert any(line.startswith("mapping.2.mailsuite:") for line in lines), lines

    policy = await client.post(
        SYNCS, json={"mapping": [{"crm": "email", "mailsuite": "email", "conflict": "loudest"}]}
    )
    assert any("conflict" in line for line in error_lines(policy, 422))
    twice = await client.post(
        SYNCS,
        json={
            "mapping": [
                {"crm": "firstName", "mailsuite": "firstName"},
                {"crm": "lastName", "mailsuite": "firstName"},
            ]
        },
    )
    assert error_lines(twice, 422) == ["mapping.1.mailsuite: 'firstName' is mapped twice"]
    direction = await client.post(SYNCS, json={"direction": "sideways"})
    assert any("direction" in line for line in error_lines(direction, 422))
    assert json_of(await client.get(SYNCS))["syncs"] == []


async def test_a_sync_is_changed_and_deleted_within_its_location(
    server: LiveServer, client: httpx.AsyncClient, new_tenant: TenantFactory
) -> None:
    created = await client.post(SYNCS, json={"name": "Leads", "direction": "crmToMailsuite"})
    assert created.status_code == 201, created.text
    sync_id = json_of(created)["sync"]["id"]
    second = await client.post(SYNCS, json={})
    assert second.status_code == 409
    assert json_of(second)["meta"] == {"syncId": sync_id}

    mapping = [{"crm": "companyName", "mailsuite": "customFields.company", "conflict": "crmWins"}]
    changed = await client.patch(f"{SYNCS}/{sync_id}", json={"mapping": mapping})
    assert json_of(changed)["sync"]["mapping"] == mapping
    bad = await client.patch(f"{SYNCS}/{sync_id}", json={"mapping": [{**mapping[0], "crm": "x"}]})
    assert error_lines(bad, 422)[0].startswith("mapping.0.crm: 'x'")

    other = await new_tenant()
    async with api_client(server.base_url, other.headers) as stranger:
        assert (await stranger.get(f"{SYNCS}/{sync_id}")).status_code == 404
        assert (await stranger.delete(f"{SYNCS}/{sync_id}")).status_code == 404
    assert (await client.delete(f"{SYNCS}/{sync_id}")).status_code == 204
    assert (await client.get(f"{SYNCS}/{sync_id}")).status_code == 404


async def test_cli_creates_lists_shows_pauses_and_resumes(
    server: LiveServer, database_url: str, tenant: Tenant
) -> None:
    """`show --follow` waits for the backfill, which the server's workers run; a sync of
    notes is made beside the contacts sync."""
    location = tenant.location_id
    sync_id = await cli_output(
        database_url,
        "sync",
        "create",
        "--location",
        location,
        "--map",
        "email=email:crmWins",
        "--map",
        "tags=customFields.labels",
        "--on-delete",
        "hold",
    )
    listed = await cli_output(database_url, "sync", "list", "--location", location)
    assert sync_id in listed
    assert "both" in listed
    shown = await cli_output(
        database_url, "sync", "show", sync_id, "--location", location, "--follow"
    )
    assert "tags <-> customFields.labels  (newestWins)" in shown
    assert "on delete hold" in shown
    assert "backfill finished: 0 of 0" in shown
    assert "(paused)" in await cli_output(
        database_url, "sync", "pause", sync_id, "--location", location
    )
    assert "(active)" in await cli_output(
        database_url, "sync", "resume", sync_id, "--location", location
    )
    refused = await invoke_cli(
        database_url, "sync", "create", "--location", location, "--map", "email=nowhere"
    )
    assert refused.exit_code == 1
    assert "mapping.0.mailsuite: 'nowhere'" in refused.output
    notes = await cli_output(
        database_url, "sync", "create", "--location", location, "--object", "notes"
    )
    shown = await cli_output(database_url, "sync", "show", notes, "--location", location)
    assert "notes, direction crmToMailsuite" in shown
    assert "0 waiting for their contact, 0 failing, 0 conflicts open" in shown
    assert "body <-> body  (newestWins)" in shown
    listed = await cli_output(database_url, "sync", "list", "--location", location)
    assert "Notes -> Mailsuite timeline" in listed
    unknown = await invoke_cli(
        database_url, "sync", "create", "--location", location, "--object", "events"
    )
    assert unknown.exit_code == 2
    assert "--object" in unknown.output
