"""Which flows and syncs use a connection, and deleting one only when none does.

Apart from the service because it reads flow definitions, and the flow catalog itself calls
through connections.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.flows.connections import service
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import Flow, FlowVersion
from contactflow.flows.validation import named_connections
from contactflow.platform.db import UnitOfWork
from contactflow.platform.errors import Conflict
from contactflow.sync.models import Sync


async def published_flows_using(
    session: AsyncSession, location_id: str, connection_id: str
) -> list[str]:
    """The names of the location's flows whose running version names the connection."""
    rows = await session.execute(
        select(Flow.name, FlowVersion.definition)
        .join(FlowVersion, FlowVersion.id == Flow.published_version_id)
        .where(Flow.location_id == location_id)
        .order_by(Flow.name, Flow.id)
    )
    return [
        name
        for name, definition in rows
        if connection_id in named_connections(FlowDefinition.model_validate(definition)).values()
    ]


async def delete_connection(uow: UnitOfWork, location_id: str, connection_id: str) -> None:
    """Delete the connection; 409 naming the published flows or the sync that still use it."""
    await service.find_connection(uow.session, location_id, connection_id)
    users = await published_flows_using(uow.session, location_id, connection_id)
    if users:
        named = ", ".join(repr(name) for name in users)
        raise Conflict(f"The connection is used by published flows: {named}")
    syncing = await uow.session.scalar(select(Sync.name).where(Sync.connection_id == connection_id))
    if syncing is not None:
        raise Conflict(f"The connection is used by the sync {syncing!r}: delete the sync first")
    await service.delete_connection(uow, location_id, connection_id)
