"""What the tests of syncs with a remote account share: a connection from the syncing
location to another location served over HTTP (another live server), and the remote's
contacts counted where they live."""

from typing import Any

import httpx
from sqlalchemy import func, select

from contactflow.contacts.models import Contact
from contactflow.platform.db import Database
from tests.mailsuite.helpers import json_of
from tests.support import Tenant

BOTH_SCOPES = ["contacts.readonly", "contacts.write"]


async def remote_connection(
    http: httpx.AsyncClient, base_url: str, remote: Tenant, **more: Any
) -> str:
    """A connection (an API key) of the caller's location to `remote`'s location."""
    body = {
        "name": "Remote account",
        "kind": "contacts",
        "auth": "apiKey",
        "baseUrl": base_url,
        "apiKey": remote.key,
        "locationId": remote.location_id,
        "scopes": BOTH_SCOPES,
        **more,
    }
    created = await http.post("/connections", json=body)
    assert created.status_code == 201, created.text
    return str(json_of(created)["connection"]["id"])


async def contact_count(db: Database, location_id: str) -> int:
    async with db.reader() as session:
        found = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.location_id == location_id)
        )
        return int(found or 0)
