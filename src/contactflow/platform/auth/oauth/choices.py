"""What a signed-in user may grant an app: the locations (or the company) to choose from."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.platform.auth.oauth.models import OAuthClient
from contactflow.platform.auth.oauth.tokens import Grantee
from contactflow.platform.auth.scopes import COMPANY_SCOPES
from contactflow.platform.tenancy import User, locations_of

COMPANY_CHOICE = "company"


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer to "which location may the app reach?"."""

    value: str
    label: str
    company_id: str
    location_id: str | None

    def grantee(self, user: User) -> Grantee:
        return Grantee(user_id=user.id, company_id=self.company_id, location_id=self.location_id)


async def choices(
    session: AsyncSession, user: User, client: OAuthClient, scope: str
) -> list[Choice]:
    """What the user may grant the app: an app serves the company it is registered for;
    an admin may pick any of the company's locations, or the company itself when the app
    asks for company scopes; any other user only their own location."""
    mine = await locations_of(session, user)
    if not mine or mine[0].company_id != client.company_id:
        return []
    found = [Choice(row.id, row.name, row.company_id, row.id) for row in mine]
    if user.role == "admin" and COMPANY_SCOPES & set(scope.split()):
        found.insert(0, Choice(COMPANY_CHOICE, "The whole company", client.company_id, None))
    return found
