"""The API keys pages over HTTP: a key created with scopes picked by resource (bad input named
beside its field), the key shown once and not on reload, used against the API, rotated with a
grace period, refused by the API the moment it is revoked, its IP allowlist changed, every
action in the audit log under the person who acted, and the tenancy and CSRF of every page
and action."""

import re

import httpx

from contactflow.platform.db import Database
from tests.support import LiveServer, Tenant, api_client, make_tenant
from tests.web.helpers import browser, make_person, second_location, signed_in

HOSTILE = '"><img src=x onerror=alert(1)>'
SHOWN = re.compile(r'<code id="api-key">(cf_(?:live|test)_[^<]+)</code>')


def shown_key(response: httpx.Response) -> tuple[str, str]:
    """The id of the key a form's answer shows, and the key."""
    assert response.status_code == 200, response.text
    found = SHOWN.search(response.text)
    assert found is not None, response.text[:2000]
    return response.headers["hx-push-url"].rsplit("/", 1)[1], found.group(1)


async def create_key(
    http: httpx.AsyncClient, token: str, location_id: str, *scopes: str, **fields: str
) -> tuple[str, str]:
    form: dict[str, str | list[str]] = {"scope": list(scopes), "csrf_token": token, **fields}
    return shown_key(await http.post(f"/app/l/{location_id}/keys/new", data=form))


async def api_status(server: LiveServer, key: str, path: str = "/audit") -> int:
    headers = {"Authorization": f"Bearer {key}", "Version": "2021-07-28"}
    async with api_client(server.base_url, headers) as api:
        return (await api.get(path)).status_code


async def test_a_key_is_created_with_picked_scopes_shown_once_and_works(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/keys"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        listed = await http.get(ours)
        assert f'<a href="{ours}">API keys</a>' in listed.text
        assert 'data-key-id="' in listed.text  # the tenant's own key, made without a name
        form = await http.get(f"{ours}/new")
        assert "<legend>Contacts</legend>" in form.text
        assert 'name="scope" value="audit.readonly"' in form.text
        assert "oauth.readonly" not in form.text  # company tokens only

        for data, field, reason in (
            ({"name": HOSTILE}, "scope", "at least one scope is required"),
            ({"scope": "nope"}, "scope", "unknown scope(s) nope"),
            (
                {"scope": "contacts.readonly", "allowedIps": "10.0.0.1\n10.0.0.300/8"},
                "allowedIps",
                "entry 2: not an IP address or CIDR",
            ),
            ({"scope": "contacts.readonly", "expires": "soon"}, "expires", "a date and time"),
            (
                {"scope": "contacts.readonly", "expires": "2020-01-01T00:00"},
                "expires",
                "must be in the future",
            ),
            ({"scope": "contacts.readonly", "name": "x" * 256}, "name", "at most 255"),
        ):
            refused = await http.post(f"{ours}/new", data={**data, "csrf_token": token})
            assert refused.status_code == 422, (data, refused.text)
            assert f'id="key-{field}-error">{reason}' in refused.text, (data, refused.text)
            assert "<img" not in refused.text

        added = await http.post(
            f"{ours}/new",
            data={
                "name": HOSTILE,
                "scope": ["audit.readonly", "contacts.readonly"],
                "allowedIps": "127.0.0.1\n::1",
                "csrf_token": token,
            },
        )
        key_id, key = shown_key(added)
        assert added.headers["hx-push-url"] == f"{ours}/{key_id}"
        assert key.startswith("cf_live_")
        assert "<img" not in added.text
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in added.text

        assert await api_status(web_server, key) == 200
        assert await api_status(web_server, key, "/webhooks") == 401  # not a scope it has

        page = await http.get(f"{ours}/{key_id}")
        assert page.status_code == 200
        assert key not in page.text
        assert 'id="api-key"' not in page.text
        assert "127.0.0.1/32, ::1/128" in page.text
        assert "audit.readonly, contacts.readonly" in page.text
        listed = await http.get(ours)
        assert f'data-key-id="{key_id}"' in listed.text
        assert key[:12] in listed.text
        assert key not in listed.text

    headers = {"Authorization": f"Bearer {key}", "Version": "2021-07-28"}
    async with api_client(web_server.base_url, headers) as api:
        entries = (await api.get("/audit", params={"action": "credential.created"})).json()
    made = [e for e in entries["entries"] if e["detail"]["credential"] == f"api_key:{key_id}"]
    assert [e["actor"] for e in made] == [f"user:{person.user_id}"]


async def test_a_key_is_rotated_with_grace_and_refused_once_revoked(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/keys"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        old_id, old = await create_key(http, token, web_tenant.location_id, "audit.readonly")

        for grace, reason in (
            ("soon", "a number of hours"),
            ("200", "a number of hours, from 0 to 168"),
        ):
            refused = await http.post(
                f"{ours}/{old_id}/rotate", data={"grace": grace, "csrf_token": token}
            )
            assert refused.status_code == 422
            assert f'id="rotate-grace-error">{reason}' in refused.text
        rotated = await http.post(
            f"{ours}/{old_id}/rotate", data={"grace": "1", "csrf_token": token}
        )
        new_id, new = shown_key(rotated)
        assert new_id != old_id
        assert "The previous key keeps working beside it until" in rotated.text
        assert await api_status(web_server, old) == 200
        assert await api_status(web_server, new) == 200
        old_page = await http.get(f"{ours}/{old_id}")
        assert "rotated</span>" in old_page.text
        assert f'href="{ours}/{new_id}"' in old_page.text
        assert old not in old_page.text
        assert new not in old_page.text
        assert new not in (await http.get(f"{ours}/{new_id}")).text

        revoked = await http.post(f"{ours}/{new_id}/revoke", data={"csrf_token": token})
        assert revoked.headers["location"] == f"{ours}/{new_id}?done=revoked"
        assert await api_status(web_server, new) == 401
        page = await http.get(revoked.headers["location"])
        assert "Revoked: the API refuses the key from now on." in page.text
        assert "Rotate the key" not in page.text
        assert "Revoke the key" not in page.text

        # With no grace, the old key stops working at once.
        now = await http.post(f"{ours}/{old_id}/rotate", data={"grace": "0", "csrf_token": token})
        assert await api_status(web_server, shown_key(now)[1]) == 200
        assert await api_status(web_server, old) == 401


async def test_an_ip_allowlist_is_changed_and_a_bad_entry_named(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/keys"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        key_id, key = await create_key(http, token, web_tenant.location_id, "audit.readonly")
        here = f"{ours}/{key_id}/allowlist"
        refused = await http.post(
            here, data={"allowedIps": f"192.0.2.0/24\n{HOSTILE}", "csrf_token": token}
        )
        assert refused.status_code == 422
        assert 'id="allowlist-error">entry 2: not an IP address or CIDR' in refused.text
        assert "<img" not in refused.text
        assert "&#34;&gt;&lt;img src=x" in refused.text  # what was typed stays, escaped
        assert await api_status(web_server, key) == 200

        elsewhere = await http.post(here, data={"allowedIps": "192.0.2.0/24", "csrf_token": token})
        assert elsewhere.headers["location"] == f"{ours}/{key_id}?done=allowlist"
        assert await api_status(web_server, key) == 403
        page = await http.get(elsewhere.headers["location"])
        assert "Saved the addresses the key may be used from." in page.text
        assert ">192.0.2.0/24</textarea>" in page.text

        await http.post(here, data={"allowedIps": "127.0.0.0/8, ::1", "csrf_token": token})
        assert await api_status(web_server, key) == 200
        await http.post(here, data={"allowedIps": "", "csrf_token": token})
        assert "<dd>anywhere</dd>" in (await http.get(f"{ours}/{key_id}")).text


async def test_key_pages_are_404_across_locations_and_by_role_and_refuse_without_csrf(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db)
    sibling = await second_location(web_db, web_tenant)
    admin = await make_person(web_db, web_tenant.location_id)
    user = await make_person(web_db, sibling, role="user")
    ours = f"/app/l/{web_tenant.location_id}/keys"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        mine, key = await create_key(http, token, web_tenant.location_id, "audit.readonly")
        theirs, their_key = await create_key(http, token, sibling, "audit.readonly")
        assert (await http.get(f"/app/l/{other.location_id}/keys")).status_code == 404
        assert (await http.get(f"{ours}/{theirs}")).status_code == 404
        for action in ("rotate", "revoke", "allowlist"):
            data = {"grace": "1", "allowedIps": "192.0.2.1", "csrf_token": token}
            response = await http.post(f"{ours}/{theirs}/{action}", data=data)
            assert response.status_code == 404, action
            refused = await http.post(f"{ours}/{mine}/{action}", data={"grace": "1"})
            assert refused.status_code == 403, action
        refused = await http.post(f"{ours}/new", data={"scope": "audit.readonly"})
        assert refused.status_code == 403
        assert (await http.get(f"/app/l/{sibling}/keys/{theirs}")).status_code == 200
    async with browser(web_server.base_url) as http:
        await signed_in(http, user)
        for path in (ours, f"{ours}/new", f"{ours}/{mine}"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.get(f"/app/l/{sibling}/keys")).status_code == 200
    assert await api_status(web_server, key) == 200
    assert await api_status(web_server, their_key) == 200
