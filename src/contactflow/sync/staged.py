"""A remote CRM side inside the sync's transactions, which never wait on the remote account.

The engine (sync/pairs.py) reads and writes its CRM side as it goes. A remote account
cannot be called while the transaction holds the database (on SQLite, the only writer): so
inside it the CRM side answers from what was read before the transaction began, and where
it lacks something (a record, a match, a write) it says so by raising `RemoteNeeded`. The
pair is rolled back in its savepoint; after the commit, the calls it needs are made; the
next transaction takes the pair again, and now finds its answers. A write made is known by
what it wrote, so taking the pair again does not write it twice.

A record is created only after the remote was searched for it just before (a contact by its
email, then its phone; a task or a note among its contact's, by its values, unless linked):
a crash between the creation and the transaction that links it leaves a record the next
attempt finds and links, never a second one."""

import json
from dataclasses import dataclass, field
from typing import Literal

from contactflow.flows.connections.remote_client import RemoteFailed
from contactflow.sync.fields import Values
from contactflow.sync.remote import RemoteSide
from contactflow.sync.sides import Record, RemoteNeeded

WriteKind = Literal["create", "update", "delete"]
# Answers that refuse one pair's write; any other failure is the remote's, not the pair's.
_SYNC_WIDE = frozenset({401, 403, 408, 429})


def refused_write(error: RemoteFailed) -> bool:
    """Whether the remote refused one write (a 4xx of its own: an invalid value), not every
    call of the sync (out of reach, overloaded, its token refused)."""
    return error.status is not None and error.status < 500 and error.status not in _SYNC_WIDE


@dataclass(frozen=True)
class Write:
    kind: WriteKind
    record_id: str | None
    values: Values

    @property
    def key(self) -> str:
        return json.dumps([self.kind, self.record_id, self.values], sort_keys=True, default=str)


@dataclass
class StagedCrm:
    """The remote side as far as it was read and written before this transaction."""

    records: dict[str, Record | None] = field(default_factory=dict)
    matches: dict[tuple[str | None, str | None], Record | None] = field(default_factory=dict)
    # Writes made (the record each left; None for a delete) and refused (why), by their key.
    made: dict[str, Record | None] = field(default_factory=dict)
    refused: dict[str, RemoteFailed] = field(default_factory=dict)
    # What the pairs rolled back asked for.
    reads: set[str] = field(default_factory=set)
    lookups: set[tuple[str | None, str | None]] = field(default_factory=set)
    writes: dict[str, Write] = field(default_factory=dict)

    def know(self, record: Record) -> None:
        self.records[record.id] = record

    @property
    def wanting(self) -> bool:
        return bool(self.reads or self.lookups or self.writes)

    async def get(self, record_id: str) -> Record | None:
        if record_id in self.records:
            return self.records[record_id]
        self.reads.add(record_id)
        raise RemoteNeeded

    async def match(self, email: str | None, phone: str | None) -> Record | None:
        if email is None and phone is None:
            return None  # nothing to match by (a task, a note): no call
        if (email, phone) in self.matches:
            return self.matches[(email, phone)]
        self.lookups.add((email, phone))
        raise RemoteNeeded

    def _written(self, write: Write) -> Record | None:
        key = write.key
        if key in self.refused:
            refusal = self.refused[key]
            raise RemoteFailed(str(refusal), refusal.status)
        if key in self.made:
            return self.made[key]
        self.writes[key] = write
        raise RemoteNeeded

    async def create(self, values: Values) -> Record:
        made = self._written(Write("create", None, values))
        assert made is not None
        return made

    async def update(self, record_id: str, values: Values) -> Record:
        made = self._written(Write("update", record_id, values))
        assert made is not None
        return made

    async def delete(self, record_id: str) -> None:
        self._written(Write("delete", record_id, {}))

    async def call(self, remote: RemoteSide) -> None:
        """Make the calls the rolled-back pairs asked for, outside any transaction. A write
        the remote refuses (a 4xx of its own) fails that pair only; any other failure is
        raised: the whole batch waits for the remote."""
        for record_id in sorted(self.reads):
            self.records[record_id] = await remote.get(record_id)
        for email, phone in sorted(self.lookups, key=str):
            self.matches[(email, phone)] = await remote.match(email, phone)
        for key, write in self.writes.items():
            try:
                claimed = {record.id for record in self.made.values() if record is not None}
                made = await _write(remote, write, claimed)
            except RemoteFailed as error:
                if not refused_write(error):
                    raise
                self.refused[key] = error
                continue
            self.made[key] = made
            if made is not None:
                self.know(made)
        self.reads, self.lookups, self.writes = set(), set(), {}


async def _write(remote: RemoteSide, write: Write, claimed: set[str]) -> Record | None:
    """The write made; a create takes the record the remote holds already unless another
    write of this batch made or took it (two alike, made in one batch, are two)."""
    if write.kind == "delete":
        assert write.record_id is not None
        await remote.delete(write.record_id)
        return None
    if write.kind == "update":
        assert write.record_id is not None
        return await remote.update(write.record_id, write.values)
    found = await remote.existing(write.values)
    if found is not None and found.id not in claimed:
        return found
    return await remote.create(write.values)
