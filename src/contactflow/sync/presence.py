"""Whether any sync exists: every change of a contact, task, note or appointment wakes the
sync loops that read changes, and while the process knows of no sync they look for none.

The answer is read at most once a second per database (`PRESENCE_SECONDS`), and read again at
once after this process makes a sync. A sync made by another process is seen within a second:
its cursor starts where the log was when it was made, so the changes made meanwhile are read
then, at the loops' next wake-up or poll.
"""

import time
from weakref import WeakKeyDictionary

from sqlalchemy import select

from contactflow.platform.db import Database
from contactflow.sync.models import Sync

PRESENCE_SECONDS = 1.0
_ANY = select(Sync.id).limit(1)
# Per database: when its answer was read (monotonic seconds) and what it was.
_known: "WeakKeyDictionary[Database, tuple[float, bool]]" = WeakKeyDictionary()


async def syncs_exist(db: Database) -> bool:
    now = time.monotonic()
    known = _known.get(db)
    if known is not None and now - known[0] < PRESENCE_SECONDS:
        return known[1]
    found = await db.read(lambda connection: connection.scalar(_ANY) is not None)
    _known[db] = (now, found)
    return found


def sync_made() -> None:
    """A sync was committed in this process: every database's answer is read again."""
    _known.clear()
