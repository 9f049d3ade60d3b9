"""The audit log page over HTTP: what the keys pages and the API record, newest first under the
person who acted, filtered by action (an unknown one named beside its field), paged by keyset
without a gap or a repeat, escaped, and only the location's own entries."""

import re
from datetime import timedelta

from contactflow.platform import audit
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from tests.support import LiveServer, Tenant, make_tenant
from tests.web.helpers import browser, make_person, signed_in
from tests.web.test_api_keys import api_status, create_key

HOSTILE = '"><img src=x onerror=alert(1)>'


def audit_ids(html: str) -> list[str]:
    return re.findall(r'data-audit-id="([^"]+)"', html)


def actions(html: str) -> list[str]:
    return re.findall(r'data-action="([^"]+)"', html)


async def test_the_log_shows_what_was_done_newest_first_by_whom(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        key_id, key = await create_key(
            http, token, web_tenant.location_id, "contacts.readonly", allowedIps="192.0.2.1"
        )
        assert await api_status(web_server, key) == 403  # from 127.0.0.1: refused, audited
        await http.post(f"{ours}/keys/{key_id}/revoke", data={"csrf_token": token})

        page = await http.get(f"{ours}/audit")
        assert page.status_code == 200
        assert f'<a href="{ours}/audit">Audit log</a>' in page.text
        shown = actions(page.text)
        assert shown[:3] == ["credential.revoked", "credential.refused_ip", "credential.created"]
        assert f"<code>user:{person.user_id}</code>" in page.text
        assert f"credential: api_key:{key_id}" in page.text
        assert "<td>127.0.0.1</td>" in page.text  # where the refused call came from

        revoked = await http.get(f"{ours}/audit", params={"action": "credential.revoked"})
        assert set(actions(revoked.text)) == {"credential.revoked"}
        refused = await http.get(f"{ours}/audit", params={"action": HOSTILE})
        assert refused.status_code == 422
        assert 'id="filter-action-error">not an action of the log' in refused.text
        assert "<img" not in refused.text

    other = await make_tenant(web_db)
    async with browser(web_server.base_url) as http:
        await signed_in(http, await make_person(web_db, other.location_id, role="user"))
        theirs = await http.get(f"/app/l/{other.location_id}/audit")
        assert theirs.status_code == 200
        assert f"api_key:{key_id}" not in theirs.text
        assert (await http.get(f"{ours}/audit")).status_code == 404


async def test_the_log_pages_back_by_keyset_and_escapes_what_it_shows(
    web_server: LiveServer, web_db: Database
) -> None:
    tenant = await make_tenant(web_db)
    start = utcnow() - timedelta(hours=1)
    async with web_db.unit_of_work() as uow:
        for number in range(60):
            entry = audit.record(
                uow,
                audit.CREDENTIAL_NEW_IP,
                actor=HOSTILE,
                location_id=tenant.location_id,
                ip="198.51.100.7",
                note=f"{HOSTILE} {number}",
            )
            # Two entries a millisecond apart, and pairs at the same millisecond.
            entry.created_at = start + timedelta(milliseconds=number // 2)
    person = await make_person(web_db, tenant.location_id)
    ours = f"/app/l/{tenant.location_id}/audit"
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        first = await http.get(ours, params={"action": audit.CREDENTIAL_NEW_IP})
        assert "<img" not in first.text
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt; 59" in first.text
        newest = audit_ids(first.text)
        assert len(newest) == 50
        older = re.search(r'<a href="([^"]+)">Older entries</a>', first.text)
        assert older is not None
        second = await http.get(older.group(1).replace("&amp;", "&"))
        rest = audit_ids(second.text)
        assert len(rest) == 10
        assert not set(newest) & set(rest)
        assert "Older entries" not in second.text
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt; 0<" in second.text
        # A cursor that is not one of ours starts at the newest.
        again = await http.get(
            ours, params={"action": audit.CREDENTIAL_NEW_IP, "cursor": "nonsense"}
        )
        assert audit_ids(again.text)[:50] == newest
