"""Charts drawn on the server as SVG: counts that grow over time as lines, each with the
table of its figures beside it (what a screen reader reads)."""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime

WIDTH = 640
HEIGHT = 200
MARGIN = 32
COLORS = ("#1f5f8b", "#2e7d32", "#8e44ad", "#c0392b", "#b7791f")


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    points: str
    # The running total at the end of each period, as the table shows it.
    totals: list[int]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    margin: int
    top: int
    start: datetime
    ends: list[datetime]
    lines: list[Line]

    @property
    def baseline(self) -> int:
        return self.height - self.margin


def running_totals(
    series: dict[str, list[datetime]], start: datetime, end: datetime, periods: int = 24
) -> Chart:
    """Each series' running total at the end of `periods` equal periods from start to end."""
    span = max((end - start).total_seconds(), 1.0)
    ends = [
        datetime.fromtimestamp(start.timestamp() + span * (step + 1) / periods, start.tzinfo)
        for step in range(periods)
    ]
    ordered = {name: sorted(times) for name, times in series.items()}
    totals = {
        name: [bisect_right(times, moment) for moment in ends] for name, times in ordered.items()
    }
    top = max([1, *(values[-1] for values in totals.values())])
    inner_width = WIDTH - 2 * MARGIN
    inner_height = HEIGHT - 2 * MARGIN

    def point(step: int, value: int) -> str:
        x = MARGIN + inner_width * step / periods
        y = HEIGHT - MARGIN - inner_height * value / top
        return f"{x:.1f},{y:.1f}"

    lines = [
        Line(
            name=name,
            color=COLORS[index % len(COLORS)],
            points=" ".join(
                [point(0, 0), *(point(step + 1, value) for step, value in enumerate(values))]
            ),
            totals=values,
        )
        for index, (name, values) in enumerate(totals.items())
    ]
    return Chart(WIDTH, HEIGHT, MARGIN, top, start, ends, lines)
