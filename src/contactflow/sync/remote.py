"""A remote HighLevel-compatible account's contacts as a sync's CRM side, over the HighLevel
v2 wire through the connection (`remote_client.call`: its auth, its rate budget, its backoff).

Every method is a call to the remote account, so the sync makes them outside its database
transactions (sync/staged.py says how); the records have the shape `WorkspaceContacts`
gives, so the engine cannot tell the two apart."""

from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from contactflow.flows.connections.remote_client import RemoteAccount, RemoteFailed, call
from contactflow.platform.clock import from_epoch_ms, to_epoch_ms
from contactflow.sync.fields import CRM_FIELDS, CRM_LISTS, Values
from contactflow.sync.sides import SYNC_SOURCE, Record, Side

Json = dict[str, Any]
# The most contacts one search answers (HighLevel's pageLimit).
PAGE_LIMIT = 100


class RemoteSide(Side, Protocol):
    """A remote account's records of one object, as the staged CRM side calls them."""

    async def existing(self, values: Values) -> Record | None:
        """A record the remote holds already that a write of `values` would make (a create
        made before a crash, not linked yet), else None."""
        ...


def instant(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_epoch_ms(int(value))
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def record_of(contact: Json) -> Record:
    """A remote contact as the wire gives it, as a Record."""
    values: Values = {name: contact.get(name) for name in CRM_FIELDS}
    for name in CRM_LISTS:
        values[name] = list(values[name] or [])
    contact_id = str(contact["id"])
    added = instant(contact["dateAdded"])
    updated = instant(contact.get("dateUpdated") or contact["dateAdded"])
    return Record(contact_id, values, updated, (added, contact_id))


class RemoteContacts:
    """The contacts of the connection's remote location."""

    def __init__(self, account: RemoteAccount) -> None:
        self.account = account

    def _located(self, body: Json) -> Json:
        location = self.account.auth.remote_location_id
        return {**body, "locationId": location} if location else body

    async def _search(
        self,
        filters: list[Json],
        *,
        limit: int = 1,
        after: tuple[datetime, str] | None = None,
    ) -> tuple[list[Record], int]:
        body: Json = {
            "pageLimit": limit,
            "filters": filters,
            "sort": [{"field": "dateAdded", "direction": "asc"}],
        }
        if after is not None:
            body["searchAfter"] = [to_epoch_ms(after[0]), after[1]]
        response = await call(self.account, "POST", "/contacts/search", json=self._located(body))
        answer = response.json()
        return [record_of(one) for one in answer.get("contacts", [])], int(answer.get("total", 0))

    async def get(self, record_id: str) -> Record | None:
        try:
            response = await call(self.account, "GET", f"/contacts/{quote(record_id, safe='')}")
        except RemoteFailed as error:
            if error.status == 404:
                return None
            raise
        return record_of(response.json()["contact"])

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        """The oldest contact with this email, else the oldest with this phone."""
        for field, value in (("email", email), ("phone", phone)):
            if value:
                found, _ = await self._search([{"field": field, "operator": "eq", "value": value}])
                if found:
                    return found[0]
        return None

    async def existing(self, values: Values) -> Record | None:
        email, phone = values.get("email"), values.get("phone")
        return await self.match(
            email if isinstance(email, str) else None, phone if isinstance(phone, str) else None
        )

    async def create(self, values: Values) -> Record:
        body = self._located({"source": SYNC_SOURCE, **values})
        response = await call(self.account, "POST", "/contacts/", json=body)
        return record_of(response.json()["contact"])

    async def update(self, record_id: str, values: Values) -> Record:
        path = f"/contacts/{quote(record_id, safe='')}"
        response = await call(self.account, "PUT", path, json=values)
        return record_of(response.json()["contact"])

    async def delete(self, record_id: str) -> None:
        try:
            await call(self.account, "DELETE", f"/contacts/{quote(record_id, safe='')}")
        except RemoteFailed as error:
            if error.status != 404:
                raise

    @staticmethod
    def _until(until: datetime) -> Json:
        return {"field": "dateAdded", "operator": "lte", "value": to_epoch_ms(until)}

    async def count(self, until: datetime) -> int:
        _, total = await self._search([self._until(until)])
        return total

    async def page(
        self, until: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[Record]:
        """The contacts added by `until`, in (date added, id) order, after `after`."""
        found, _ = await self._search(
            [self._until(until)], limit=min(limit, PAGE_LIMIT), after=after
        )
        return found

    async def every(self) -> dict[str, Record]:
        """Every contact, by id: page after page (in date added order, so that contacts added
        meanwhile come last) of the most one search answers, each a call within the
        connection's budget."""
        found: dict[str, Record] = {}
        after: tuple[datetime, str] | None = None
        while True:
            page, _ = await self._search([], limit=PAGE_LIMIT, after=after)
            found.update((record.id, record) for record in page)
            if len(page) < PAGE_LIMIT:
                return found
            after = page[-1].position
