"""Route of /sync/v1/syncs/{syncId}/records: the records behind each of a sync's counts
(linked, waiting, excluded, failing, openConflicts), a page at a time."""

from fastapi import APIRouter

from contactflow.mailsuite.api_common import Limit
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep
from contactflow.sync import statuses
from contactflow.sync.api import AfterId, Reader, SyncId
from contactflow.sync.models import RecordStatus
from contactflow.sync.schemas import SyncRecordList
from contactflow.sync.service import find_sync
from contactflow.sync.wire import names_of, record_out

router = APIRouter(
    prefix="/sync/v1/syncs/{syncId}/records", tags=["Sync"], responses=ERROR_RESPONSES
)


@router.get(
    "",
    response_model=SyncRecordList,
    summary="The records behind a sync's count, in id order: linked, waiting, excluded "
    "(this workspace's contacts only), failing, or conflict (its openConflicts)",
)
async def list_records(
    sync_id: SyncId,
    status: RecordStatus,
    caller: Reader,
    db: DatabaseDep,
    limit: Limit = 50,
    cursor: AfterId = None,
) -> SyncRecordList:
    async with db.reader() as session:
        sync = await find_sync(session, caller.location_id, sync_id)
        rows, after = await statuses.page(session, sync, status, after=cursor, limit=limit)
        names = await names_of(session, sync, rows)
        return SyncRecordList(
            records=[record_out(sync, status, row, names) for row in rows], next_cursor=after
        )
