"""UTC as stored: naive values are UTC, zoned ones are converted, SQLite keeps them naive."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, insert, select

from contactflow.platform.clock import as_utc, naive_utc
from contactflow.platform.db import UTCDateTime

EASTERN = timezone(timedelta(hours=-5))
# 23:30 on the 31st in New York is 04:30 on the 1st in UTC: the date moves too.
LATE = datetime(2026, 12, 31, 23, 30, 15, 123456, EASTERN)
IN_UTC = datetime(2027, 1, 1, 4, 30, 15, 123456, UTC)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (datetime(2026, 5, 1, 12, 0, 0, 5000), datetime(2026, 5, 1, 12, 0, 0, 5000, UTC)),
        (IN_UTC, IN_UTC),
        (LATE, IN_UTC),
    ],
)
def test_as_utc_reads_naive_values_as_utc_and_converts_zoned_ones(
    given: datetime, expected: datetime
) -> None:
    converted = as_utc(given)
    assert converted == expected
    assert converted.tzinfo is UTC
    assert converted.isoformat() == expected.isoformat()


def test_naive_utc_drops_the_zone_after_converting() -> None:
    assert naive_utc(LATE) == datetime(2027, 1, 1, 4, 30, 15, 123456)
    assert naive_utc(LATE).tzinfo is None
    assert naive_utc(datetime(2026, 5, 1, 12)) == datetime(2026, 5, 1, 12)


def test_utc_datetimes_round_trip_through_sqlite_as_naive_utc_text() -> None:
    table = Table("stamps", MetaData(), Column("at", UTCDateTime()))
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(insert(table), [{"at": LATE}, {"at": datetime(2026, 5, 1, 12)}])
        stored = connection.exec_driver_sql("SELECT at FROM stamps").scalars().all()
        read = connection.scalars(select(table.c.at)).all()
    assert stored == ["2027-01-01 04:30:15.123456", "2026-05-01 12:00:00.000000"]
    assert read == [IN_UTC, datetime(2026, 5, 1, 12, tzinfo=UTC)]
    assert all(value.tzinfo is UTC for value in read)
