"""The users pages over HTTP, for company admins: an invitation's link shown once, which sets
a password and signs in once, within 24 hours (used twice or too late: refused); a user's
role changed (never one's own); their sessions ended one by one or all at once; and 404 for
anyone who is not an admin of the company, 403 without CSRF."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import update

from contactflow.platform.auth import credential_format
from contactflow.platform.auth.invitations import Invitation
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database
from tests.support import LiveServer, Tenant, make_tenant
from tests.web.helpers import (
    Person,
    browser,
    csrf_of,
    make_person,
    second_location,
    session_cookie,
    sign_in,
    signed_in,
)

HOSTILE = '"><img src=x onerror=alert(1)>'
LINK = re.compile(r'<code id="invite-link">([^<]+)</code>')


async def invite(http: httpx.AsyncClient, token: str, location_id: str, **fields: str) -> str:
    """Invite through the form; the path of the link shown."""
    form = {"email": "", "firstName": "Sam", "lastName": "Lee", "role": "user", **fields}
    answer = await http.post(
        f"/app/l/{location_id}/users/invite", data={**form, "csrf_token": token}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["hx-push-url"] == f"/app/l/{location_id}/users"
    found = LINK.search(answer.text)
    assert found is not None
    return urlsplit(found.group(1)).path


async def accept(http: httpx.AsyncClient, path: str, password: str, confirm: str) -> httpx.Response:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    form = {"password": password, "confirm": confirm, "csrf_token": csrf_of(page.text)}
    return await http.post(path, data=form)


def new_email() -> str:
    return f"invited{utcnow().timestamp():.6f}@people.example.org".replace(".", "", 1)


async def test_an_invitation_sets_a_password_and_signs_in_once(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    admin = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}/users"
    email = new_email()
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        page = await http.get(ours)
        assert f'<a href="{ours}">Users</a>' in page.text
        assert admin.email in page.text
        for fields, field, reason in (
            ({"email": "not an email"}, "email", "An email address must have an @-sign."),
            ({"email": admin.email}, "email", "a user of this location has it already"),
            ({"email": email, "role": "owner"}, "role", "one of user, admin"),
            ({"email": email, "firstName": "x" * 300}, "firstName", "at most 255"),
        ):
            form = {"firstName": "", "lastName": "", "role": "user", **fields}
            refused = await http.post(f"{ours}/invite", data={**form, "csrf_token": token})
            assert refused.status_code == 422, (fields, refused.text)
            assert f'id="invite-{field}-error">{reason}' in refused.text, (fields, refused.text)
            assert "invite-link" not in refused.text

        path = await invite(http, token, web_tenant.location_id, email=email, firstName=HOSTILE)
        assert path.startswith("/app/invite/cf_inv_")
        listed = await http.get(ours)
        assert path not in listed.text
        assert "<img" not in listed.text
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt; Lee" in listed.text
        assert "invited, until" in listed.text

    async with browser(web_server.base_url) as http:
        opened = await http.get(path)
        assert email in opened.text
        mismatch = await accept(http, path, "a long passphrase", "another one")
        assert mismatch.status_code == 422
        assert 'id="confirm-error">not the same password' in mismatch.text
        short = await accept(http, path, "short", "short")
        assert short.status_code == 422
        assert 'id="password-error">must be 8 to 1024 characters long' in short.text
        refused = await http.post(path, data={"password": "a long passphrase", "confirm": "x"})
        assert refused.status_code == 403  # no CSRF token
        joined = await accept(http, path, "a long passphrase", "a long passphrase")
        assert joined.status_code == 303, joined.text
        assert joined.headers["location"] == "/app/"
        assert "httponly" in session_cookie(joined)
        home = await http.get("/app/")
        assert home.headers["location"] == f"/app/l/{web_tenant.location_id}/overview"
        assert "Users" not in (await http.get(home.headers["location"])).text  # a user

    async with browser(web_server.base_url) as http:
        again = await http.get(path)
        assert again.status_code == 404
        assert "Invitation not valid" in again.text
        login = await http.get("/app/login")
        form = {"password": "x" * 9, "confirm": "x" * 9, "csrf_token": csrf_of(login.text)}
        assert (await http.post(path, data=form)).status_code in (403, 404)
        assert (await sign_in(http, email, "a long passphrase")).status_code == 303

    async with browser(web_server.base_url) as http:
        await signed_in(http, admin)
        logged = await http.get(f"/app/l/{web_tenant.location_id}/audit")
        assert 'data-action="user.joined"' in logged.text
        assert 'data-action="user.invited"' in logged.text
        assert "has a password" in (await http.get(ours)).text


async def test_a_used_or_expired_invitation_is_refused(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    admin = await make_person(web_db, web_tenant.location_id)
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        late = await invite(http, token, web_tenant.location_id, email=new_email())
        twice = await invite(http, token, web_tenant.location_id, email=new_email())
    # A day and a second later, as far as the link is concerned.
    digest = credential_format.digest(late.rsplit("/", 1)[1])
    async with web_db.unit_of_work() as uow:
        await uow.session.execute(
            update(Invitation)
            .where(Invitation.token_hash == digest)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    async with browser(web_server.base_url) as http:
        page = await http.get(late)
        assert page.status_code == 404
        assert "older than 24 hours" in page.text
    async with browser(web_server.base_url) as first, browser(web_server.base_url) as second:
        # Both open the form; the first to send it wins, the second is refused.
        pages = [await first.get(twice), await second.get(twice)]
        sent = [
            {
                "password": "passphrase one",
                "confirm": "passphrase one",
                "csrf_token": csrf_of(p.text),
            }
            for p in pages
        ]
        assert (await first.post(twice, data=sent[0])).status_code == 303
        used = await second.post(twice, data=sent[1])
        assert used.status_code == 404
        assert "was used already" in used.text


async def test_an_admin_changes_a_role_and_ends_sessions(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    admin = await make_person(web_db, web_tenant.location_id)
    person = await make_person(web_db, web_tenant.location_id, role="user")
    here = f"/app/l/{web_tenant.location_id}/users/{person.user_id}"
    async with (
        browser(web_server.base_url) as http,
        browser(web_server.base_url, **{"User-Agent": "First browser"}) as one,
        browser(web_server.base_url, **{"User-Agent": "Second browser"}) as two,
    ):
        token = await signed_in(http, admin)
        await signed_in(one, person)
        await signed_in(two, person)
        page = await http.get(here)
        assert "First browser" in page.text
        assert "Second browser" in page.text
        rows = dict(re.findall(r'data-session-id="([^"]+)">(.*?)</tr>', page.text, re.DOTALL))
        assert len(rows) == 2

        refused = await http.post(f"{here}/role", data={"role": "owner", "csrf_token": token})
        assert refused.status_code == 422
        assert 'id="user-role-error">one of user, admin' in refused.text
        own = f"/app/l/{web_tenant.location_id}/users/{admin.user_id}/role"
        mine = await http.post(own, data={"role": "user", "csrf_token": token})
        assert mine.status_code == 422
        assert 'id="user-role-error">another admin changes your own role' in mine.text
        promoted = await http.post(f"{here}/role", data={"role": "admin", "csrf_token": token})
        assert promoted.headers["location"] == f"{here}?done=role"
        assert "Users" in (await one.get(f"/app/l/{web_tenant.location_id}/flows")).text

        [first] = [session for session, row in rows.items() if "First browser" in row]
        ended = await http.post(f"{here}/sessions/{first}/end", data={"csrf_token": token})
        assert ended.headers["location"] == f"{here}?done=ended"
        assert (await one.get("/app/account")).status_code == 303
        assert (await two.get("/app/account")).status_code == 200
        await http.post(f"{here}/sessions/end-all", data={"csrf_token": token})
        assert (await two.get("/app/account")).status_code == 303
        assert "Signed in nowhere." in (await http.get(here)).text
        assert (await http.get("/app/account")).status_code == 200  # the admin's own


async def test_user_pages_are_for_company_admins_only(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant
) -> None:
    other = await make_tenant(web_db)
    theirs = await make_person(web_db, other.location_id, role="user")
    sibling = await second_location(web_db, web_tenant)
    admin = await make_person(web_db, web_tenant.location_id)
    user = await make_person(web_db, web_tenant.location_id, role="user")
    elsewhere = await make_person(web_db, sibling, role="user")
    ours = f"/app/l/{web_tenant.location_id}/users"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, admin)
        # A user of another location of the company is reached through that location.
        assert (await http.get(f"/app/l/{sibling}/users/{elsewhere.user_id}")).status_code == 200
        for path in (
            f"{ours}/{elsewhere.user_id}",
            f"{ours}/{theirs.user_id}",
            f"/app/l/{other.location_id}/users",
            f"/app/l/{other.location_id}/users/{theirs.user_id}",
        ):
            assert (await http.get(path)).status_code == 404, path
        for action in ("role", "sessions/end-all", "sessions/x/end"):
            data = {"role": "admin", "csrf_token": token}
            answer = await http.post(f"{ours}/{theirs.user_id}/{action}", data=data)
            assert answer.status_code == 404, action
            assert (await http.post(f"{ours}/{user.user_id}/{action}")).status_code == 403
        assert (await http.post(f"{ours}/invite", data={"email": "a@b.example"})).status_code == 403
    await _refused_to(web_server, user, ours, user.user_id)
    await _refused_to(web_server, elsewhere, f"/app/l/{sibling}/users", elsewhere.user_id)


async def _refused_to(server: LiveServer, person: Person, users: str, user_id: str) -> None:
    async with browser(server.base_url) as http:
        token = await signed_in(http, person)
        for path in (users, f"{users}/{user_id}"):
            assert (await http.get(path)).status_code == 404, path
        data = {"email": "x@example.org", "role": "admin", "csrf_token": token}
        assert (await http.post(f"{users}/invite", data=data)).status_code == 404
        assert (await http.post(f"{users}/{user_id}/role", data=data)).status_code == 404
