"""The grants and endpoints the server offers, as Authlib subclasses over our tables.

- authorization_code, with PKCE S256 required of every client (plain refused);
- refresh_token, rotating: each refresh returns a new refresh token and spends the old one;
  presenting a spent one again revokes the whole family and is audited;
- client_credentials, for a confidential app acting for its own company (a Company token);
- RFC 7009 revocation and RFC 7662 introspection.
Every method here runs inside `server.run`, on the request's synchronous session.
"""

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from sqlalchemy import select

from contactflow.platform import audit
from contactflow.platform.auth import credential_format
from contactflow.platform.auth.credential_cache import forget_everywhere
from contactflow.platform.auth.oauth.models import (
    COMPANY,
    CONFIDENTIAL_AUTH_METHODS,
    USER_TYPES,
    AuthorizationCode,
    OAuthClient,
    OAuthToken,
)
from contactflow.platform.auth.oauth.tokens import (
    CODE_PREFIX,
    REFRESH_PREFIX,
    Grantee,
    PresentedToken,
    find_presented,
    revoke_family,
)
from contactflow.platform.clock import to_epoch_ms, utcnow

if TYPE_CHECKING:
    from contactflow.platform.auth.oauth.server import OAuthServer

# RFC 6749 4.1.2 recommends at most ten minutes.
CODE_LIFETIME = timedelta(minutes=10)
# Public clients authenticate with their client_id alone ("none"); PKCE protects their codes.
ANY_CLIENT = [*CONFIDENTIAL_AUTH_METHODS, "none"]


def _check_user_type(request: Any, granted: str) -> None:
    """HighLevel's `user_type` field: optional, but when sent it must name what the grant
    is for, so a client never receives a different kind of token than it asked for."""
    asked = request.form.get("user_type")
    if asked is None:
        return
    if asked not in USER_TYPES:
        raise InvalidRequestError("user_type must be Company or Location")
    if asked != granted:
        raise InvalidRequestError(f"This grant is for a {granted}, not a {asked}")


class S256CodeChallenge(CodeChallenge):
    """PKCE for every client, confidential ones too, and S256 only: `plain` would put the
    verifier itself through the browser."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256 (plain is refused)")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT
    server: "OAuthServer"

    def generate_authorization_code(self) -> str:
        return credential_format.generate(CODE_PREFIX)

    def save_authorization_code(self, code: str, request: Any) -> None:
        grantee: Grantee = request.user
        data = request.payload.data
        now = utcnow()
        self.server.session.add(
            AuthorizationCode(
                code_hash=credential_format.digest(code),
                client_id=request.client.id,
                user_id=grantee.user_id,
                company_id=grantee.company_id,
                location_id=grantee.location_id,
                redirect_uri=request.payload.redirect_uri,
                scopes=request.scope.split(),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                created_at=now,
                expires_at=now + CODE_LIFETIME,
            )
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        if not credential_format.is_well_formed(code, CODE_PREFIX):
            return None
        row = self.server.session.scalar(
            select(AuthorizationCode)
            .where(
                AuthorizationCode.code_hash == credential_format.digest(code),
                AuthorizationCode.client_id == client.id,
            )
            .with_for_update()
        )
        if row is None or row.expires_at <= utcnow():
            return None
        if row.used_at is not None:
            # RFC 6749 4.1.2: a code used twice has leaked; what it issued is revoked.
            revoke_family(self.server.session, row.id)
            audit.record(
                self.server.uow,
                audit.AUTHORIZATION_CODE_REUSED,
                actor=client.principal_app_id,
                location_id=row.location_id,
                company_id=row.company_id,
                ip=self.server.context.ip,
                family=row.id,
            )
            raise InvalidGrantError("The code was already used; its tokens are revoked")
        return row

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Kept, marked used, so that a second exchange is recognised as reuse.
        authorization_code.used_at = utcnow()

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Grantee:
        code = authorization_code
        return Grantee(code.user_id, code.company_id, code.location_id)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        _check_user_type(self.request, self.request.authorization_code.user_type)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: "OAuthServer"

    def authenticate_refresh_token(self, refresh_token: str) -> OAuthToken | None:
        if not credential_format.is_well_formed(refresh_token, REFRESH_PREFIX):
            return None
        # FOR UPDATE: two refreshes racing with one token must not both succeed; the
        # second waits, then finds the token spent, which is reuse.
        row = self.server.session.scalar(
            select(OAuthToken)
            .where(OAuthToken.refresh_token_hash == credential_format.digest(refresh_token))
            .with_for_update()
        )
        if row is None:
            return None
        if row.refreshed_at is not None:
            self._reused(row)
        if row.revoked_at is not None:
            return None
        if row.refresh_expires_at is None or row.refresh_expires_at <= utcnow():
            return None
        return row

    def _reused(self, row: OAuthToken) -> None:
        """A spent refresh token came back: either the client or a thief holds a copy, and
        there is no telling which, so every token of the family is revoked."""
        revoke_family(self.server.session, row.family_id)
        audit.record(
            self.server.uow,
            audit.REFRESH_TOKEN_REUSED,
            actor=f"oauth_client:{row.client_id}",
            location_id=row.location_id,
            company_id=row.company_id,
            ip=self.server.context.ip,
            family=row.family_id,
            token=row.id,
        )
        raise InvalidGrantError("The refresh token was already used; the grant is revoked")

    def authenticate_user(self, refresh_token: OAuthToken) -> Grantee:
        row = refresh_token
        return Grantee(row.user_id, row.company_id, row.location_id)

    def revoke_old_credential(self, refresh_token: OAuthToken) -> None:
        # The pair is replaced: its refresh token is spent and its access token ends now.
        now = utcnow()
        refresh_token.refreshed_at = now
        refresh_token.revoked_at = now
        forget_everywhere()

    def validate_token_request(self) -> None:
        super().validate_token_request()
        _check_user_type(self.request, self.request.refresh_token.user_type)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(CONFIDENTIAL_AUTH_METHODS)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        _check_user_type(self.request, COMPANY)


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009. Revoking either token of a grant revokes the whole family: a refresh token
    would otherwise mint new access tokens, and RFC 7009 2.1 allows it for access tokens."""

    CLIENT_AUTH_METHODS = ANY_CLIENT
    server: "OAuthServer"

    def query_token(self, token_string: str, token_type_hint: str | None) -> PresentedToken | None:
        return find_presented(self.server.session, token_string)

    def revoke_token(self, token: PresentedToken, request: Any) -> None:
        revoke_family(self.server.session, token.row.family_id)


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662, for the app's own tokens: another app's token reads as inactive."""

    CLIENT_AUTH_METHODS = ANY_CLIENT
    server: "OAuthServer"

    def query_token(self, token_string: str, token_type_hint: str | None) -> PresentedToken | None:
        return find_presented(self.server.session, token_string)

    def check_permission(self, token: PresentedToken, client: OAuthClient, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: PresentedToken) -> dict[str, Any]:
        row = token.row
        body: dict[str, Any] = {
            "active": True,
            "client_id": row.client_id,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "scope": row.get_scope(),
            "iat": to_epoch_ms(row.created_at) // 1000,
            "userType": row.user_type,
            "companyId": row.company_id,
        }
        if token.expires_at is not None:
            body["exp"] = to_epoch_ms(token.expires_at) // 1000
        if row.user_id is not None:
            body["sub"] = row.user_id
        if row.location_id is not None:
            body["locationId"] = row.location_id
        return body


def register(server: "OAuthServer") -> None:
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
