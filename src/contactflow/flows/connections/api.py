"""Routes of /connections, the OAuth start and callback, and the receiver of a remote
HighLevel account's webhooks: HTTP in, service call, wire model out."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from contactflow.flows.connections import highlevel_hooks, oauth_client, probes, service, usage
from contactflow.flows.connections.models import Connection
from contactflow.flows.connections.schemas import (
    ConnectionCreate,
    ConnectionEnvelope,
    ConnectionList,
    ConnectionOut,
    ConnectionTest,
    ConnectionUpdate,
)
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep, SettingsDep
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import CONNECTIONS_READ, CONNECTIONS_WRITE
from contactflow.platform.clock import to_iso
from contactflow.platform.runtime import url_policy

router = APIRouter(prefix="/connections", tags=["Connections"], responses=ERROR_RESPONSES)
hooks = APIRouter(prefix="/hooks", tags=["Connections"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, requires(CONNECTIONS_READ)]
Writer = Annotated[Principal, requires(CONNECTIONS_WRITE)]
ConnectionId = Annotated[str, Path(alias="connectionId", min_length=1, max_length=64)]
CallbackValue = Annotated[str, Query(min_length=1, max_length=2048)]

# The browser came from the dashboard's connections page (or an API client's own page): the
# link leads back to the dashboard's, where the connection now shows as connected.
CONNECTED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connected</title></head>
<body><h1>Connected</h1><p>The connection can now call the account.
<a href="/app/l/{location}/connections">Back to the connections</a>, or close this page.</p>
</body></html>"""


def connection_out(row: Connection) -> ConnectionOut:
    return ConnectionOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        auth=row.auth,
        base_url=row.base_url,
        location_id=row.remote_location_id,
        builtin=row.builtin,
        has_secret=row.secret is not None,
        username=row.username,
        header_name=row.header_name,
        client_id=row.client_id,
        authorize_url=row.authorize_url,
        token_url=row.token_url,
        scopes=list(row.scopes or []),
        connected=row.auth != "oauth" or row.access_token is not None,
        token_expires_at=to_iso(row.token_expires_at) if row.token_expires_at else None,
        webhook_public_key=row.webhook_public_key,
        webhook_path=f"/hooks/highlevel/{row.id}",
        poll=row.poll_seconds,
        last_error=row.last_error,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


@router.get("", response_model=ConnectionList, summary="List connections, built-in ones first")
async def list_connections(caller: Reader, db: DatabaseDep) -> ConnectionList:
    async with db.unit_of_work() as uow:
        rows = await service.list_connections(uow, caller.location_id)
        return ConnectionList(connections=[connection_out(row) for row in rows])


@router.post("", status_code=201, response_model=ConnectionEnvelope, summary="Create a connection")
async def create_connection(
    body: ConnectionCreate, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> ConnectionEnvelope:
    async with db.unit_of_work() as uow:
        row = await service.create_connection(uow, caller.location_id, body, url_policy(settings))
        return ConnectionEnvelope(connection=connection_out(row))


@router.get(
    "/oauth/callback",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The connected page"}},
    summary="Where the provider sends the browser back after consent (public: the state is "
    "the credential)",
)
async def oauth_callback(
    code: CallbackValue, state: CallbackValue, db: DatabaseDep, settings: SettingsDep
) -> Response:
    callback = oauth_client.redirect_uri(settings.base_url)
    row = await oauth_client.complete_authorization(db, state, code, callback)
    return HTMLResponse(CONNECTED_PAGE.format(location=quote(row.location_id, safe="")))


@router.get("/{connectionId}", response_model=ConnectionEnvelope, summary="Get a connection")
async def get_connection(
    connection_id: ConnectionId, caller: Reader, db: DatabaseDep
) -> ConnectionEnvelope:
    async with db.unit_of_work() as uow:
        await service.ensure_builtin(uow, caller.location_id)
        row = await service.find_connection(uow.session, caller.location_id, connection_id)
        return ConnectionEnvelope(connection=connection_out(row))


@router.put("/{connectionId}", response_model=ConnectionEnvelope, summary="Change a connection")
async def update_connection(
    connection_id: ConnectionId,
    body: ConnectionUpdate,
    caller: Writer,
    db: DatabaseDep,
    settings: SettingsDep,
) -> ConnectionEnvelope:
    async with db.unit_of_work() as uow:
        row = await service.update_connection(
            uow, caller.location_id, connection_id, body, url_policy(settings)
        )
        return ConnectionEnvelope(connection=connection_out(row))


@router.delete(
    "/{connectionId}",
    status_code=204,
    summary="Delete a connection (409 while a published flow uses it)",
)
async def delete_connection(
    connection_id: ConnectionId, caller: Writer, db: DatabaseDep
) -> Response:
    async with db.unit_of_work() as uow:
        await usage.delete_connection(uow, caller.location_id, connection_id)
    return Response(status_code=204)


@router.get(
    "/{connectionId}/oauth/start",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {
            "description": "To the provider's authorization page",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    },
    summary="Redirect to the provider's authorization page (PKCE S256)",
)
async def oauth_start(
    connection_id: ConnectionId, caller: Writer, db: DatabaseDep, settings: SettingsDep
) -> RedirectResponse:
    async with db.unit_of_work() as uow:
        url = await oauth_client.start_authorization(
            uow, caller.location_id, connection_id, oauth_client.redirect_uri(settings.base_url)
        )
    return RedirectResponse(url, status_code=302)


@router.post(
    "/{connectionId}/test",
    response_model=ConnectionTest,
    summary="Make a harmless call per scope and report which work",
)
async def test_connection(
    connection_id: ConnectionId, caller: Writer, db: DatabaseDep
) -> ConnectionTest:
    return await probes.check_connection(db, caller.location_id, connection_id)


@hooks.post(
    "/highlevel/{connectionId}",
    summary="Receive a remote HighLevel account's webhook (signed with x-ghl-signature)",
)
async def receive_highlevel(
    connection_id: ConnectionId,
    request: Request,
    db: DatabaseDep,
    signature: Annotated[str | None, Header(alias="x-ghl-signature", max_length=1024)] = None,
) -> dict[str, bool]:
    body = await request.body()
    async with db.unit_of_work() as uow:
        stored = await highlevel_hooks.receive(uow, connection_id, body, signature)
    return {"received": True, "stored": stored}
