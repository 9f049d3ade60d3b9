"""The OAuth dance as a real client does it: Authlib's httpx client against a live server.

The browser part (the dashboard's sign-in form and the consent form) is driven over HTTP
with the same client, so its cookie jar carries the sign-in session from the sign-in form to
the consent form.
"""

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client

from contactflow.platform.auth.oauth import clients
from contactflow.platform.auth.passwords import hash_password
from contactflow.platform.db import Database
from contactflow.platform.ids import new_id
from contactflow.platform.tenancy import User
from tests.support import LiveServer

PASSWORD = "correct horse battery staple"
# Never contacted: the tests read the code from the redirect's Location header.
REDIRECT_URI = "http://127.0.0.1:9/callback"
APP_SCOPES = ("contacts.readonly", "contacts.write")
# One hash for every test user: scrypt is deliberately slow.
_PASSWORD_HASH = hash_password(PASSWORD)


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]


async def register_app(
    db: Database,
    company_id: str,
    *,
    scopes: tuple[str, ...] = APP_SCOPES,
    public: bool = False,
    allowed_ips: tuple[str, ...] = (),
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,),
) -> App:
    async with db.unit_of_work() as uow:
        client, secret = await clients.create_client(
            uow,
            company_id=company_id,
            name="Test App",
            redirect_uris=list(redirect_uris),
            scopes=list(scopes),
            public=public,
            allowed_ips=list(allowed_ips),
        )
    return App(client.id, secret, scopes)


async def add_user(db: Database, location_id: str, *, role: str = "admin") -> str:
    """A user who can sign in; returns their (unique) email."""
    email = f"{new_id().lower()}@oauth.test"
    async with db.unit_of_work() as uow:
        uow.session.add(
            User(
                location_id=location_id,
                first_name="Olga",
                last_name="Auth",
                email=email,
                role=role,
                password_hash=_PASSWORD_HASH,
            )
        )
    return email


def oauth_client(app: App, *, scope: str | None = None) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        scope=scope or " ".join(app.scopes),
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="none" if app.client_secret is None else "client_secret_post",
        # Generous: the machine is shared; a slow answer is not what is tested.
        timeout=30,
    )


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name} in the page"
    return html.unescape(found.group(1))


async def sign_in(
    client: AsyncOAuth2Client, server: LiveServer, email: str, sign_in_path: str
) -> httpx.Response:
    """The dashboard's sign-in form at `sign_in_path` (which names where to go next), as the
    browser the authorization endpoint sent there fills it in."""
    # `request`, not get/post: only it takes Authlib's withhold_token (no token yet).
    form = await client.request("GET", server.base_url + sign_in_path, withhold_token=True)
    assert form.status_code == 200, form.text
    fields = {name: _hidden(form.text, name) for name in ("csrf_token", "next")}
    signed_in: httpx.Response = await client.request(
        "POST",
        f"{server.base_url}/app/login",
        data={"email": email, "password": PASSWORD, **fields},
        withhold_token=True,
    )
    assert signed_in.status_code == 303, signed_in.text
    return signed_in


async def sign_in_and_consent(
    client: AsyncOAuth2Client,
    server: LiveServer,
    email: str,
    authorize_url: str,
    *,
    choice: str,
    decision: str = "allow",
) -> httpx.Response:
    """Open the authorization URL, sign in unless the client's cookie says it is, choose
    `choice` (a location id or "company") and answer the consent form; returns the answer's
    response (a redirect to the app)."""
    consent = await client.request("GET", authorize_url, withhold_token=True)
    if consent.status_code == 303:  # not signed in yet: to the sign-in page, and back
        signed_in = await sign_in(client, server, email, consent.headers["location"])
        consent_url = server.base_url + signed_in.headers["location"]
        assert consent_url == authorize_url
        consent = await client.request("GET", consent_url, withhold_token=True)
    assert consent.status_code == 200, consent.text
    assert f'value="{choice}"' in consent.text
    answer: httpx.Response = await client.request(
        "POST",
        f"{server.base_url}/oauth/authorize?{urlsplit(authorize_url).query}",
        data={
            "csrf_token": _hidden(consent.text, "csrf_token"),
            "decision": decision,
            "location": choice,
        },
        withhold_token=True,
    )
    return answer


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def dance(
    client: AsyncOAuth2Client,
    server: LiveServer,
    email: str,
    *,
    choice: str,
    user_type: str = "Location",
) -> dict[str, object]:
    """The whole authorization code flow with PKCE; returns the token response."""
    verifier = generate_token(48)
    url, state = client.create_authorization_url(
        f"{server.base_url}/oauth/authorize", code_verifier=verifier
    )
    answer = await sign_in_and_consent(client, server, email, url, choice=choice)
    assert redirect_params(answer)["state"] == state
    token: dict[str, object] = await client.fetch_token(
        f"{server.base_url}/oauth/token",
        authorization_response=answer.headers["location"],
        code_verifier=verifier,
        user_type=user_type,
    )
    return token


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
