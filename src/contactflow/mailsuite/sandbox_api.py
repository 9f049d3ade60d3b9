"""Routes of /mailsuite/v1/sandbox: the messages sandbox senders delivered, newest first, each
readable as a mail client shows it or as the raw bytes an SMTP server would have received."""

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from contactflow.mailsuite import sandbox
from contactflow.mailsuite.api_common import (
    PREFIX,
    CursorQuery,
    Limit,
    Reader,
    next_cursor,
    position,
)
from contactflow.mailsuite.mail_schemas import SandboxMessageDetail, SandboxMessageList
from contactflow.mailsuite.wire import sandbox_message_detail, sandbox_message_out
from contactflow.platform.api_support import ERROR_RESPONSES, DatabaseDep

router = APIRouter(prefix=f"{PREFIX}/sandbox", tags=["Mailsuite"], responses=ERROR_RESPONSES)
MessageId = Annotated[str, Path(alias="messageId", min_length=1, max_length=64)]


@router.get(
    "/messages",
    response_model=SandboxMessageList,
    summary="Messages delivered to the sandbox outbox, newest first",
)
async def list_messages(
    caller: Reader, db: DatabaseDep, limit: Limit = 20, cursor: CursorQuery = None
) -> SandboxMessageList:
    async with db.reader() as session:
        page = await sandbox.list_messages(
            session, caller.location_id, before=position(cursor), limit=limit
        )
        return SandboxMessageList(
            messages=[sandbox_message_out(row) for row in page.rows],
            next_cursor=next_cursor(page),
        )


@router.get(
    "/messages/{messageId}",
    response_model=SandboxMessageDetail,
    summary="A sandbox message: its headers, text and HTML",
)
async def get_message(
    message_id: MessageId, caller: Reader, db: DatabaseDep
) -> SandboxMessageDetail:
    async with db.reader() as session:
        row = await sandbox.find_message(session, caller.location_id, message_id)
    return sandbox_message_detail(row)


@router.get(
    "/messages/{messageId}/raw",
    response_class=Response,
    responses={
        200: {
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The message's MIME bytes, as an SMTP server would have received",
        }
    },
    summary="A sandbox message's raw MIME",
)
async def raw_message(message_id: MessageId, caller: Reader, db: DatabaseDep) -> Response:
    async with db.reader() as session:
        row = await sandbox.find_message(session, caller.location_id, message_id)
    return Response(content=row.raw, media_type="message/rfc822")
