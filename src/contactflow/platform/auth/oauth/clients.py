"""App registration: a client id, a secret shown once, exact redirect URIs, scopes."""

import ipaddress
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform import audit
from contactflow.platform.auth import credential_format
from contactflow.platform.auth.api_keys import validate_scopes
from contactflow.platform.auth.credential_cache import forget_everywhere
from contactflow.platform.auth.ip import validate_networks
from contactflow.platform.auth.oauth.models import OAuthClient
from contactflow.platform.auth.oauth.tokens import CLIENT_SECRET_PREFIX
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import BadRequest, NotFound
from contactflow.platform.tenancy import Company

MAX_REDIRECT_URI_LENGTH = 2048
MAX_NAME_LENGTH = 255


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_redirect_uri(uri: str) -> str:
    """https, or http on loopback only (RFC 8252 7.3: native apps listening locally);
    no fragment (RFC 6749 3.1.2). Kept verbatim: requests must repeat it exactly."""
    field = f"redirectUri {uri!r}"
    if len(uri) > MAX_REDIRECT_URI_LENGTH or not uri.isascii() or not uri.isprintable():
        raise BadRequest(f"{field}: must be printable ASCII of at most 2048 characters")
    if any(character in uri for character in ' "\\<>'):
        raise BadRequest(f"{field}: must not contain spaces, quotes, backslashes or <>")
    try:
        parts = urlsplit(uri)
    except ValueError as error:
        raise BadRequest(f"{field}: not a URL ({error})") from error
    if not parts.hostname:
        raise BadRequest(f"{field}: must be an absolute URL with a host")
    if parts.fragment or uri.endswith("#"):
        raise BadRequest(f"{field}: must not have a fragment")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise BadRequest(f"{field}: must use https (http only on localhost or loopback)")
    return uri


def _name(name: str) -> str:
    if not name.strip():
        raise BadRequest("name: must not be empty")
    if len(name.strip()) > MAX_NAME_LENGTH or not name.isprintable():
        raise BadRequest(f"name: at most {MAX_NAME_LENGTH} printable characters")
    return name.strip()


def _redirect_uris(uris: list[str]) -> list[str]:
    if not uris:
        raise BadRequest("redirectUri: at least one is required")
    return list(dict.fromkeys(validate_redirect_uri(uri) for uri in uris))


async def create_client(
    uow: UnitOfWork,
    *,
    company_id: str,
    name: str,
    redirect_uris: list[str],
    scopes: list[str],
    public: bool = False,
    allowed_ips: list[str] | None = None,
    actor: str = "cli",
) -> tuple[OAuthClient, str | None]:
    """The app and its client secret (None for a public app), which exists only here."""
    if await uow.session.get(Company, company_id) is None:
        raise NotFound(f"company: {company_id} not found")
    secret = None if public else credential_format.generate(CLIENT_SECRET_PREFIX)
    client = OAuthClient(
        company_id=company_id,
        name=_name(name),
        public=public,
        secret_hash=credential_format.digest(secret) if secret else None,
        redirect_uris=_redirect_uris(redirect_uris),
        scopes=validate_scopes(scopes),
        allowed_ips=validate_networks(allowed_ips or [], "allowIp"),
    )
    uow.session.add(client)
    await uow.session.flush()
    audit.record(
        uow,
        audit.CREDENTIAL_CREATED,
        actor=actor,
        company_id=company_id,
        credential=client.principal_app_id,
        scopes=client.scopes,
    )
    return client, secret


async def list_clients(session: AsyncSession, company_id: str | None = None) -> list[OAuthClient]:
    query = select(OAuthClient).order_by(OAuthClient.created_at, OAuthClient.id)
    if company_id is not None:
        query = query.where(OAuthClient.company_id == company_id)
    return list(await session.scalars(query))


async def find_client(session: AsyncSession, company_id: str, client_id: str) -> OAuthClient:
    """The company's app with this id; another company's is not found."""
    client = await session.scalar(
        select(OAuthClient).where(OAuthClient.id == client_id, OAuthClient.company_id == company_id)
    )
    if client is None:
        raise NotFound(f"client: {client_id} not found")
    return client


async def update_client(
    uow: UnitOfWork,
    client: OAuthClient,
    *,
    name: str,
    redirect_uris: list[str],
    scopes: list[str],
    allowed_ips: list[str],
    actor: str = "cli",
) -> OAuthClient:
    """Change what an app is registered with; all is checked before anything changes. Its
    tokens keep the scopes they were granted; the allowlist applies to them at once."""
    changed = {
        "name": _name(name),
        "redirect_uris": _redirect_uris(redirect_uris),
        "scopes": validate_scopes(scopes),
        "allowed_ips": validate_networks(allowed_ips, "allowIp"),
    }
    for attribute, value in changed.items():
        setattr(client, attribute, value)
    forget_everywhere()
    audit.record(
        uow,
        audit.CREDENTIAL_CHANGED,
        actor=actor,
        company_id=client.company_id,
        credential=client.principal_app_id,
        redirectUris=client.redirect_uris,
        scopes=client.scopes,
        allowedIps=client.allowed_ips,
    )
    return client
