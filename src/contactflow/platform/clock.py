"""Time as the wire wants it: UTC, millisecond precision, ISO 8601 with Z."""

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    """Now, truncated to milliseconds so keyset cursors in epoch ms are exact."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes (SQLite returns them) are UTC by our storage rule."""
    zone = value.tzinfo
    if zone is UTC:
        return value
    if zone is None:
        # `combine` takes 0.1 us where `replace(tzinfo=...)` parses its keywords in 0.5: this
        # runs for every datetime read from SQLite.
        return datetime.combine(value, value.time(), UTC)
    return value.astimezone(UTC)


def naive_utc(value: datetime) -> datetime:
    """`value` in UTC without its zone, as SQLite stores it."""
    utc = as_utc(value)
    return datetime.combine(utc, utc.time())


@overload
def to_iso(value: datetime) -> str: ...
@overload
def to_iso(value: None) -> None: ...
@overload
def to_iso(value: datetime | None) -> str | None: ...
def to_iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_epoch_ms(value: datetime) -> int:
    return int(as_utc(value).timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)
