"""What a Company token can do: mint Location tokens, list where its app is installed."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.auth.oauth.models import OAuthToken
from contactflow.platform.auth.oauth.tokens import (
    CompanyCaller,
    Grantee,
    Lifetimes,
    token_response,
    token_row,
)
from contactflow.platform.auth.scopes import COMPANY_SCOPES
from contactflow.platform.clock import utcnow
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Forbidden, NotFound
from contactflow.platform.tenancy import Location

COMPANY_DENIED = "The token does not have access to this company"


def _own_company(caller: CompanyCaller, company_id: str) -> None:
    if company_id != caller.token.company_id:
        raise Forbidden(COMPANY_DENIED)


async def exchange_location_token(
    uow: UnitOfWork, caller: CompanyCaller, company_id: str, location_id: str, lifetimes: Lifetimes
) -> dict[str, Any]:
    """A Location token for one of the company's locations, with the company token's
    location scopes. It joins the company grant's family, so revoking that grant (or reuse
    of one of its refresh tokens) revokes the location tokens minted from it too."""
    _own_company(caller, company_id)
    location = await uow.session.get(Location, location_id)
    if location is None or location.company_id != company_id:
        raise NotFound(f"location: {location_id} not found in the company")
    grantee = Grantee(caller.token.user_id, company_id, location_id)
    scope = " ".join(sorted(set(caller.token.scopes) - COMPANY_SCOPES))
    body = token_response(grantee, scope, lifetimes, with_refresh=True)
    uow.session.add(
        token_row(
            body,
            client_id=caller.client.id,
            grantee=grantee,
            family_id=caller.token.family_id,
            lifetimes=lifetimes,
        )
    )
    return body


@dataclass(frozen=True, slots=True)
class InstalledLocation:
    id: str
    name: str
    installed: bool


async def installed_locations(
    session: AsyncSession,
    caller: CompanyCaller,
    company_id: str,
    app_id: str,
    *,
    installed: bool | None,
    query: str | None,
    skip: int,
    limit: int,
) -> tuple[list[InstalledLocation], int]:
    """The company's locations, each marked installed when the app holds a live Location
    token for it; one page (by name) and the total that matched."""
    _own_company(caller, company_id)
    if app_id != caller.client.id:
        raise Forbidden("The token does not belong to this app")
    now = utcnow()
    live = set(
        await session.scalars(
            select(OAuthToken.location_id)
            .where(
                OAuthToken.client_id == app_id,
                OAuthToken.company_id == company_id,
                OAuthToken.location_id.is_not(None),
                OAuthToken.revoked_at.is_(None),
                or_(OAuthToken.access_expires_at > now, OAuthToken.refresh_expires_at > now),
            )
            .distinct()
        )
    )
    rows = await session.scalars(
        select(Location)
        .where(Location.company_id == company_id)
        .order_by(Location.name, Location.id)
    )
    matched = [
        InstalledLocation(row.id, row.name, row.id in live)
        for row in rows
        if (installed is None or (row.id in live) == installed)
        and (not query or query.lower() in row.name.lower())
    ]
    return matched[skip : skip + limit], len(matched)
