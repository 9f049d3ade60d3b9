"""The OAuth JSON/form endpoints.

/oauth/token, /oauth/revoke and /oauth/introspect speak RFC 6749/7009/7662: form bodies in,
`{"error", "error_description"}` out on failure. /oauth/locationToken and
/oauth/installedLocations are HighLevel API routes called with a Company token, so they
answer with the API's error envelope like every other bearer-authenticated route.
"""

from typing import Annotated, Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from contactflow.platform import audit
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, ErrorBody, SettingsDep
from contactflow.platform.auth.http import _bearer, database
from contactflow.platform.auth.ip import allowed, client_ip
from contactflow.platform.auth.oauth import company
from contactflow.platform.auth.oauth.server import (
    Context,
    OAuthServer,
    error_response,
    read_request,
    run,
)
from contactflow.platform.auth.oauth.tokens import (
    CompanyCaller,
    Lifetimes,
    authenticate_company_token,
)
from contactflow.platform.auth.scopes import OAUTH_READ, OAUTH_WRITE
from contactflow.platform.errors import Forbidden, Unauthorized

router = APIRouter(prefix="/oauth", tags=["OAuth"])
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# HighLevel's SDK (3.x) posts these camelCase names; its API documents the snake_case ones.
SDK_ALIASES = {
    "clientId": "client_id",
    "clientSecret": "client_secret",
    "grantType": "grant_type",
    "refreshToken": "refresh_token",
    "userType": "user_type",
    "redirectUri": "redirect_uri",
    "codeVerifier": "code_verifier",
}


class OAuthErrorBody(BaseModel):
    error: str
    error_description: str | None = None


OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorBody, "description": "RFC 6749 5.2 error"},
    401: {"model": OAuthErrorBody, "description": "Client authentication failed"},
    413: {"model": ErrorBody, "description": "Body too large"},
    422: {"model": ErrorBody, "description": "A NUL character in the query string"},
}


def _form(fields: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The request body, documented by hand: the endpoint reads the raw form itself so that
    every malformed body still gets an RFC 6749 error, never FastAPI's 422."""
    schema = {
        "type": "object",
        "properties": {name: {"type": "string", "description": d} for name, d in fields.items()},
        "required": list(required),
    }
    content = {"application/x-www-form-urlencoded": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


CLIENT_FIELDS = {
    "client_id": "The app's client id (or send both in HTTP Basic auth)",
    "client_secret": "The app's secret; public apps send none",
}


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None
    scope: str
    userType: str
    companyId: str
    locationId: str | None = None
    userId: str | None = None


class IntrospectionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    active: bool


class RevocationOut(BaseModel):
    pass


@router.post(
    "/token",
    summary="Get or refresh an access token",
    response_model=TokenOut,
    responses=OAUTH_ERRORS,
    openapi_extra=_form(
        {
            **CLIENT_FIELDS,
            "grant_type": "authorization_code, refresh_token or client_credentials",
            "code": "The authorization code (authorization_code)",
            "redirect_uri": "The redirect URI the code was issued to (authorization_code)",
            "code_verifier": "The PKCE verifier (authorization_code)",
            "refresh_token": "The refresh token (refresh_token); it is spent by the exchange",
            "user_type": "Company or Location: the kind of token expected",
            "scope": "Narrower scopes (refresh_token, client_credentials)",
        },
        required=("grant_type",),
    ),
)
async def token(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    try:
        oauth_request = await read_request(
            request,
            form=True,
            query=False,
            trust_proxy=settings.trust_proxy,
            aliases=SDK_ALIASES,
        )
        if not oauth_request.form.get("grant_type"):
            raise InvalidRequestError("Missing grant_type")
    except OAuth2Error as error:
        return error_response(error)
    # A unit of work even for refusals: reuse detection revokes and audits on the way out.
    async with db.unit_of_work() as uow:
        context = Context.of(request, settings, uow)
        response: Response = await run(
            uow.session, context, lambda server: server.create_token_response(oauth_request)
        )
        return response


async def _endpoint(
    request: Request, db: DatabaseDep, settings: SettingsDep, name: str
) -> Response:
    try:
        oauth_request = await read_request(
            request, form=True, query=False, trust_proxy=settings.trust_proxy
        )
    except OAuth2Error as error:
        return error_response(error)

    def call(server: OAuthServer) -> Response:
        response: Response = server.create_endpoint_response(name, oauth_request)
        return response

    if name == "introspection":  # reads only: no need to queue behind SQLite's writer
        async with db.reader() as session:
            return await run(session, Context.of(request, settings), call)
    async with db.unit_of_work() as uow:
        return await run(uow.session, Context.of(request, settings, uow), call)


TOKEN_FIELDS = {
    **CLIENT_FIELDS,
    "token": "An access or refresh token issued to this app",
    "token_type_hint": "access_token or refresh_token (optional; the prefix tells)",
}


@router.post(
    "/revoke",
    summary="Revoke a token and its whole grant (RFC 7009)",
    response_model=RevocationOut,
    responses=OAUTH_ERRORS,
    openapi_extra=_form(TOKEN_FIELDS, required=("token",)),
)
async def revoke(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    return await _endpoint(request, db, settings, "revocation")


@router.post(
    "/introspect",
    summary="Describe one of the app's tokens (RFC 7662)",
    response_model=IntrospectionOut,
    responses=OAUTH_ERRORS,
    openapi_extra=_form(TOKEN_FIELDS, required=("token",)),
)
async def introspect(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    return await _endpoint(request, db, settings, "introspection")


def requires_company(scope: str) -> Any:
    """A Company token that carries `scope`, used from an address its app allows."""

    async def caller(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> CompanyCaller:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("Missing bearer token in the Authorization header")
        db = database(request)
        async with db.reader() as session:
            found = await authenticate_company_token(session, credentials.credentials)
        ip = client_ip(request, trust_proxy=request.app.state.settings.trust_proxy)
        where = {"actor": found.actor, "company_id": found.token.company_id, "ip": ip}
        if not allowed(ip, found.client.allowed_ips or ()):
            await audit.record_now(db, audit.REFUSED_IP, **where)
            raise Forbidden(f"Requests from {ip} are not allowed for this token")
        if scope not in found.token.scopes:
            await audit.record_now(db, audit.REFUSED_SCOPE, **where, scope=scope)
            raise Unauthorized(f"The token is not authorized for this scope: {scope}")
        return found

    return Depends(caller)


class LocationTokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    scope: str
    userType: str
    companyId: str
    locationId: str
    userId: str | None = None


@router.post(
    "/locationToken",
    summary="Get a Location token from a Company token",
    response_model=LocationTokenOut,
    responses=ERROR_RESPONSES,
)
# The HighLevel SDK's spelling of the same route.
@router.post("/location-token", include_in_schema=False)
async def location_token(
    caller: Annotated[CompanyCaller, requires_company(OAUTH_WRITE)],
    db: DatabaseDep,
    settings: SettingsDep,
    company_id: Annotated[str, Form(alias="companyId", pattern=ID_PATTERN)],
    location_id: Annotated[str, Form(alias="locationId", pattern=ID_PATTERN)],
) -> Response:
    async with db.unit_of_work() as uow:
        body = await company.exchange_location_token(
            uow, caller, company_id, location_id, Lifetimes.of(settings)
        )
    return JSONResponse(body, headers=NO_STORE)


class InstalledLocationOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    name: str
    address: str
    isInstalled: bool


class InstalledLocationsOut(BaseModel):
    locations: list[InstalledLocationOut]
    count: int
    installToFutureLocations: bool


@router.get(
    "/installedLocations",
    summary="The company's locations where the app is installed",
    response_model=InstalledLocationsOut,
    response_model_by_alias=True,
    responses=ERROR_RESPONSES,
)
@router.get("/installed-locations", include_in_schema=False, response_model_by_alias=True)
async def installed_locations(
    caller: Annotated[CompanyCaller, requires_company(OAUTH_READ)],
    db: DatabaseDep,
    company_id: Annotated[str, Query(alias="companyId", pattern=ID_PATTERN)],
    app_id: Annotated[str, Query(alias="appId", pattern=ID_PATTERN)],
    is_installed: Annotated[bool | None, Query(alias="isInstalled")] = None,
    query: Annotated[str | None, Query(max_length=255)] = None,
    skip: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InstalledLocationsOut:
    async with db.reader() as session:
        page, total = await company.installed_locations(
            session,
            caller,
            company_id,
            app_id,
            installed=is_installed,
            query=query,
            skip=skip,
            limit=limit,
        )
    return InstalledLocationsOut(
        locations=[
            InstalledLocationOut(id=row.id, name=row.name, address="", isInstalled=row.installed)
            for row in page
        ],
        count=total,
        installToFutureLocations=False,
    )
