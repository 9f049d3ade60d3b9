"""Route of /sync/v1/syncs/{syncId}/links/{crmId}/history: a linked pair's recent history."""

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep
from contactflow.platform.errors import NotFound
from contactflow.sync import history
from contactflow.sync.api import Reader, SyncId
from contactflow.sync.models import SyncLink
from contactflow.sync.schemas import HistoryOut
from contactflow.sync.service import find_sync
from contactflow.sync.wire import change_out

router = APIRouter(prefix="/sync/v1/syncs/{syncId}/links", tags=["Sync"], responses=ERROR_RESPONSES)
CrmId = Annotated[str, Path(alias="crmId", min_length=1, max_length=64)]
LINK_NOT_FOUND = "Linked record not found"


@router.get(
    "/{crmId}/history",
    response_model=HistoryOut,
    summary="A linked pair's last changes carried by the sync, newest first",
)
async def pair_history(
    sync_id: SyncId, crm_id: CrmId, caller: Reader, db: DatabaseDep
) -> HistoryOut:
    async with db.reader() as session:
        sync = await find_sync(session, caller.location_id, sync_id)
        link = await session.scalar(
            select(SyncLink).where(SyncLink.sync_id == sync.id, SyncLink.crm_id == crm_id)
        )
        if link is None:
            raise NotFound(LINK_NOT_FOUND)
        changes = await history.of_pair(session, sync.id, crm_id)
        return HistoryOut(
            crm_id=link.crm_id,
            mailsuite_id=link.mailsuite_id,
            changes=[change_out(row) for row in changes],
        )
