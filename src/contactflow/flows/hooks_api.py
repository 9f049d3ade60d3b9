"""The public hook URLs of flows with the incoming webhook trigger. No credential: the token
in the path is the authority (a wrong one is a 404), and a flow may also require a signed
body (401 when the signature is missing or wrong). While too many runs wait to run, every
call is refused with 503 and Retry-After (flows/backlog.py), before its body is read."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from contactflow.flows import hooks
from contactflow.flows.backlog import check_room
from contactflow.flows.schemas import HookAccepted
from contactflow.platform.api_support import (
    ERROR_RESPONSES,
    DatabaseDep,
    ErrorBody,
    SettingsDep,
)
from contactflow.platform.clock import utcnow

BACKED_UP = {
    "model": ErrorBody,
    "description": "Too many runs wait to run; retry after Retry-After",
    "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}
router = APIRouter(
    prefix="/hooks/flows",
    tags=["Flow hooks (public)"],
    responses={
        **{status: ERROR_RESPONSES[status] for status in (401, 404, 409, 413, 422)},
        503: BACKED_UP,
    },
)
PUBLIC: dict[str, Any] = {"security": []}
FlowId = Annotated[str, Path(alias="flowId", min_length=1, max_length=64)]
HookToken = Annotated[str, Path(min_length=1, max_length=128)]


@router.post(
    "/{flowId}/{token}",
    status_code=202,
    response_model=HookAccepted,
    summary="Start a run of the flow with the JSON body (headers and query as data)",
    openapi_extra=PUBLIC,
)
async def receive_hook(
    flow_id: FlowId, token: HookToken, request: Request, db: DatabaseDep, settings: SettingsDep
) -> HookAccepted:
    async with db.reader() as session:
        await check_room(session, utcnow(), settings.flow_backlog_limit)
    body = await request.body()
    async with db.unit_of_work() as uow:
        received = await hooks.receive(
            uow,
            flow_id,
            token,
            body,
            dict(request.headers),
            dict(request.query_params),
            utcnow(),
        )
        run_id = received.run.id if received.run is not None else None
        return HookAccepted(run_id=run_id, duplicate=received.duplicate)
