"""Times of triggers without events, as pure functions: a cron schedule's next time in its
timezone, and the lead time of a record-relative trigger (`before: {hours: 2}`).

Cron expressions are read by cronsim (docs/adr/0007-cron-library.md): five fields, in the
schedule's IANA timezone, so `0 9 * * 1-5` is 09:00 in Paris in summer and in winter.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

DEFAULT_TIMEZONE = "UTC"
UNITS = ("days", "hours", "minutes")


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def schedule_problems(options: dict[str, Any], where: str = "trigger.options") -> list[str]:
    """Why a schedule's options cannot run, each naming its field; empty when they can."""
    problems = []
    cron = options.get("cron")
    if not isinstance(cron, str) or not cron.strip():
        problems.append(f"{where}.cron: required, a cron expression such as '0 9 * * 1-5'")
    elif len(cron.split()) != 5:
        problems.append(f"{where}.cron: five fields (minute hour day month weekday)")
    else:
        try:
            next(CronSim(cron, datetime.now(UTC)))
        except (CronSimError, StopIteration, ValueError) as error:
            problems.append(f"{where}.cron: not a cron expression ({error or 'never fires'})")
    if _zone(options.get("timezone", DEFAULT_TIMEZONE)) is None:
        problems.append(f"{where}.timezone: not an IANA timezone such as 'Europe/Paris'")
    return problems


def next_fire(options: dict[str, Any], after: datetime) -> datetime:
    """The schedule's first time strictly after `after`, in UTC (options already checked)."""
    zone = _zone(options.get("timezone", DEFAULT_TIMEZONE)) or UTC
    return next(CronSim(options["cron"], after.astimezone(zone))).astimezone(UTC)


def before_problems(options: dict[str, Any], where: str = "trigger.options") -> list[str]:
    before = options.get("before", {})
    if not isinstance(before, dict):
        return [f"{where}.before: an object of {', '.join(UNITS)}"]
    problems = []
    for unit, value in before.items():
        if unit not in UNITS:
            problems.append(f"{where}.before.{unit}: not one of {', '.join(UNITS)}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"{where}.before.{unit}: a number, 0 or more")
        elif value > 3650:
            problems.append(f"{where}.before.{unit}: at most 3650")
    return problems


def lead_time(options: dict[str, Any]) -> timedelta:
    """How long before the record's time the trigger fires (options already checked)."""
    before = options.get("before", {})
    return timedelta(**{unit: float(before.get(unit, 0)) for unit in UNITS})
