"""Activity counters: how many of each kind of thing happened in a location, per minute and
per hour, kept as the things happen so the dashboard's overview never counts a table.

A transaction counts what it does (`tally`: each event appended, each webhook attempt
recorded) and adds it to the counters in one statement just before it commits, so a count
commits with the thing counted. The counters are rings: a location's minutes are 60 slots
(the last hour) and its hours 168 (the last 7 days), each slot holding the bucket it counts;
a slot reused for a newer bucket starts again from zero. A location's counters are at most
(60 + 168) rows per kind, however long it has been running, and nothing has to prune them.

The same tallies of outcomes (webhook attempts, flow runs, emails) are counted per process
once their transaction commits (`OUTCOMES`, exported on /metrics): Prometheus sums those.
"""

from collections import Counter
from dataclasses import dataclass
from functools import cache, partial
from weakref import WeakKeyDictionary

from prometheus_client import Counter as PrometheusCounter
from sqlalchemy import BigInteger, Insert, Integer, String, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from contactflow.platform import event_types
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Base, UnitOfWork

# Every event appended, whatever its type (each type is counted under its own name too).
EVENTS = "events"
# Webhook attempts: a delivery that got through, and an attempt that failed.
DELIVERY_SUCCEEDED = "delivery.succeeded"
DELIVERY_FAILED = "delivery.failed"
# Kind -> (kind of work, outcome), for the per-process counter.
_OUTCOMES = {
    DELIVERY_SUCCEEDED: ("webhook_attempt", "succeeded"),
    DELIVERY_FAILED: ("webhook_attempt", "failed"),
    event_types.FLOW_RUN_SUCCEEDED: ("flow_run", "succeeded"),
    event_types.FLOW_RUN_FAILED: ("flow_run", "failed"),
    event_types.EMAIL_SENT: ("email", "sent"),
    event_types.EMAIL_FAILED: ("email", "failed"),
    event_types.EMAIL_BOUNCED: ("email", "bounced"),
}
# One per process; each app's metrics registry (platform/metrics.py) exports it.
OUTCOMES = PrometheusCounter(
    "contactflow_work_outcomes",
    "Webhook attempts, flow runs and emails finished by this process, by outcome.",
    ["kind", "outcome"],
    registry=None,
)
for _labels in _OUTCOMES.values():
    OUTCOMES.labels(*_labels)  # exported at 0 before the first one


@dataclass(frozen=True)
class Width:
    """A bucket's length and how many of them the ring keeps."""

    seconds: int
    slots: int


MINUTE = Width(60, 60)
HOUR = Width(3600, 7 * 24)
WIDTHS = (MINUTE, HOUR)


class ActivityCount(Base):
    __tablename__ = "activity_counts"

    location_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    width: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Seconds since the epoch // width: which minute or hour the slot counts now.
    bucket: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(BigInteger)


_pending: "WeakKeyDictionary[UnitOfWork, Counter[tuple[str, str]]]" = WeakKeyDictionary()


def tally(uow: UnitOfWork, location_id: str, kind: str, n: int = 1) -> None:
    """Count `n` of `kind` in the location, added to the counters as `uow` commits."""
    counts = _pending.get(uow)
    if counts is None:
        counts = _pending[uow] = Counter()
        uow.before_commit(lambda: _write(uow))
        uow.after_commit(lambda: _count_outcomes(counts))
        uow.gathers(lambda: partial(_restore, counts, counts.copy()))
    counts[(location_id, kind)] += n


def _restore(counts: "Counter[tuple[str, str]]", marked: "Counter[tuple[str, str]]") -> None:
    counts.clear()
    counts.update(marked)


def _count_outcomes(counts: "Counter[tuple[str, str]]") -> None:
    for (_location, kind), n in counts.items():
        labels = _OUTCOMES.get(kind)
        if labels is not None:
            OUTCOMES.labels(*labels).inc(n)


def current_bucket(width: Width) -> int:
    return int(utcnow().timestamp()) // width.seconds


async def _write(uow: UnitOfWork) -> None:
    counts = _pending.pop(uow, None)
    if not counts:
        return
    rows = []
    for width in WIDTHS:
        bucket = current_bucket(width)
        slot = bucket % width.slots
        rows += [
            {
                "location_id": location_id,
                "width": width.seconds,
                "kind": kind,
                "slot": slot,
                "bucket": bucket,
                "count": n,
            }
            for (location_id, kind), n in counts.items()
        ]
    # One order for every writer, so two transactions never wait on each other's rows crosswise.
    rows.sort(key=lambda row: (row["location_id"], row["width"], row["kind"], row["slot"]))
    await uow.session.execute(_upsert(uow.dialect), rows)


@cache
def _upsert(dialect_name: str) -> Insert:
    """The counters' upsert of one row, built once per dialect and run over all of a
    transaction's rows: a statement of its own `VALUES` list for each transaction was compiled
    anew every time, a third of a contact create's CPU."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = ActivityCount.__table__
    statement = dialect.insert(table)
    new, old = statement.excluded, table.c
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[old.location_id, old.width, old.kind, old.slot],
        set_={
            # The slot counts a newer bucket now: it starts again. A late writer's older
            # bucket (clocks a little apart) is already gone from the ring: dropped.
            "count": case(
                (old.bucket == new.bucket, old.count + new.count),
                (old.bucket < new.bucket, new.count),
                else_=old.count,
            ),
            "bucket": case((old.bucket < new.bucket, new.bucket), else_=old.bucket),
        },
    )
    return upsert


async def series(
    session: AsyncSession, location_id: str, width: Width, kinds: list[str], buckets: int
) -> dict[str, list[int]]:
    """Per kind, its counts in the last `buckets` buckets of `width`, oldest first (the last
    one is the current, unfinished, bucket)."""
    last = current_bucket(width)
    first = last - buckets + 1
    found = {kind: [0] * buckets for kind in kinds}
    rows = await session.execute(
        select(ActivityCount.kind, ActivityCount.bucket, ActivityCount.count).where(
            ActivityCount.location_id == location_id,
            ActivityCount.width == width.seconds,
            ActivityCount.kind.in_(kinds),
            ActivityCount.bucket.between(first, last),
        )
    )
    for kind, bucket, count in rows:
        found[kind][bucket - first] = count
    return found
