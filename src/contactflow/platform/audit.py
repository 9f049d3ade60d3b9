"""The audit log: who did what to which credential, from where, and what was refused."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, Database, UnitOfWork, UTCDateTime
from contactflow.platform.ids import new_id

CREDENTIAL_CREATED = "credential.created"
CREDENTIAL_ROTATED = "credential.rotated"
CREDENTIAL_REVOKED = "credential.revoked"
CREDENTIAL_CHANGED = "credential.changed"
CREDENTIAL_ALLOWLIST_CHANGED = "credential.allowlist_changed"
CREDENTIAL_NEW_IP = "credential.used_from_new_ip"
REFUSED_IP = "credential.refused_ip"
REFUSED_SCOPE = "credential.refused_scope"
REFRESH_TOKEN_REUSED = "oauth.refresh_token_reused"  # noqa: S105 - an action name
AUTHORIZATION_CODE_REUSED = "oauth.authorization_code_reused"
USER_INVITED = "user.invited"
USER_JOINED = "user.joined"
USER_ROLE_CHANGED = "user.role_changed"
# Every action the log records, for those who filter it.
ACTIONS = (
    CREDENTIAL_CREATED,
    CREDENTIAL_ROTATED,
    CREDENTIAL_REVOKED,
    CREDENTIAL_CHANGED,
    CREDENTIAL_ALLOWLIST_CHANGED,
    CREDENTIAL_NEW_IP,
    REFUSED_IP,
    REFUSED_SCOPE,
    REFRESH_TOKEN_REUSED,
    AUTHORIZATION_CODE_REUSED,
    USER_INVITED,
    USER_JOINED,
    USER_ROLE_CHANGED,
)


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    location_id: Mapped[str | None] = mapped_column(String(32))
    company_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    # "api_key:<id>", "oauth_client:<id>", "cli", ...: who acted or whose credential it was.
    actor: Mapped[str] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index(None, "location_id", "created_at", "id"),)


def record(
    uow: UnitOfWork,
    action: str,
    *,
    actor: str,
    location_id: str | None = None,
    company_id: str | None = None,
    ip: str | None = None,
    **detail: Any,
) -> AuditEntry:
    entry = AuditEntry(
        location_id=location_id,
        company_id=company_id,
        action=action,
        actor=actor,
        ip=ip,
        detail=detail,
        created_at=utcnow(),
    )
    uow.session.add(entry)
    return entry


async def record_now(db: Database, action: str, **fields: Any) -> None:
    """Record in a transaction of its own: for refusals, whose request writes nothing."""
    async with db.unit_of_work() as uow:
        record(uow, action, **fields)


async def entries(
    session: AsyncSession,
    location_id: str,
    *,
    limit: int,
    before: tuple[datetime, str] | None = None,
    action: str | None = None,
) -> list[AuditEntry]:
    """Newest first, keyset paged by (createdAt, id)."""
    query = select(AuditEntry).where(AuditEntry.location_id == location_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if before is not None:
        created, last_id = before
        query = query.where(
            (AuditEntry.created_at < created)
            | ((AuditEntry.created_at == created) & (AuditEntry.id < last_id))
        )
    order = (AuditEntry.created_at.desc(), AuditEntry.id.desc())
    return list(await session.scalars(query.order_by(*order).limit(limit)))
