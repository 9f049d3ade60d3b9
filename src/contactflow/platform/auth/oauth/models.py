"""OAuth tables: apps (clients), authorization codes, tokens, sign-in sessions.

Every secret column holds a SHA-256 digest (credential_format.digest), never the secret.
The methods on OAuthClient and AuthorizationCode are the ones Authlib's grants call
(its ClientMixin and AuthorizationCodeMixin, duck-typed).
"""

import secrets
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.auth import credential_format
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UTCDateTime
from contactflow.platform.ids import new_id

LOCATION = "Location"
COMPANY = "Company"
USER_TYPES = (LOCATION, COMPANY)
# How a confidential app may authenticate; a public one (no secret) uses "none" and PKCE.
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class OAuthClient(Base):
    """A registered app. Its id is the OAuth `client_id`."""

    __tablename__ = "oauth_clients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    # Compared exactly, never as prefixes or patterns.
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # CIDRs its tokens may be used from; empty means anywhere.
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def principal_app_id(self) -> str:
        """What rate limits and audit entries name this app by."""
        return f"oauth_client:{self.id}"

    def get_client_id(self) -> str:
        return self.id

    def get_default_redirect_uri(self) -> None:
        # Every authorization request must name its redirect URI (as OAuth 2.1 has it), so
        # the code is always bound to one and the token request must repeat it.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant: all of the app's when none is asked for; None (refused)
        when the request asks for one the app was not registered with."""
        if not scope:
            return " ".join(self.scopes)
        requested = scope.split()
        return " ".join(requested) if set(requested) <= set(self.scopes) else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.public or self.secret_hash is None:
            return False
        return secrets.compare_digest(credential_format.digest(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in CONFIDENTIAL_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            # Only an app that can keep a secret may act for its company without a user.
            return not self.public
        return grant_type in ("authorization_code", "refresh_token")


class AuthorizationCode(Base):
    __tablename__ = "oauth_authorization_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    # None when the user granted access to the whole company (a Company token).
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Codes are single-use: a second exchange revokes what the first one issued.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def user_type(self) -> str:
        return LOCATION if self.location_id else COMPANY

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.scopes)


class OAuthToken(Base):
    """An access token and (for user grants) its refresh token.

    A refresh replaces the row with a new one of the same `family_id`; all rows that descend
    from one authorization (a code, or a company token's location exchange) share it, so
    reuse of a spent refresh token can revoke the whole family at once.
    """

    __tablename__ = "oauth_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    # None for client_credentials: the app acting for its own company.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    # None for a Company token, which reaches locations only through /oauth/locationToken.
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when its refresh token was exchanged: presenting that refresh token again is reuse.
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "client_id", "location_id"),)

    @property
    def user_type(self) -> str:
        return LOCATION if self.location_id else COMPANY

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.id

    def get_scope(self) -> str:
        return " ".join(self.scopes)
