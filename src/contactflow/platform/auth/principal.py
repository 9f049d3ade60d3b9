"""The caller of a request, whatever credential it came with (API key or OAuth Location token)."""

from dataclasses import dataclass
from datetime import datetime

from contactflow.platform.errors import Forbidden, Unauthorized

LOCATION_DENIED = "The token does not have access to this location"


@dataclass(frozen=True, slots=True)
class Principal:
    """A location-bound caller. `app_id` names the application the rate limits count against:
    the API key itself, or the OAuth client that holds the token."""

    credential_id: str
    credential_kind: str
    company_id: str
    location_id: str
    scopes: frozenset[str]
    sandbox: bool
    app_id: str
    allowed_ips: tuple[str, ...] = ()
    # When the credential stops working by itself, if ever.
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        return f"{self.credential_kind}:{self.credential_id}"

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Unauthorized(f"The token is not authorized for this scope: {scope}")

    def check_location(self, location_id: str | None) -> str:
        """The location a request acts on: the token's own; naming another is 403."""
        if location_id is not None and location_id != self.location_id:
            raise Forbidden(LOCATION_DENIED)
        return self.location_id
