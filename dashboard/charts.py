"""Charts drawn on the server as inline SVG: sparklines and the evaluation runs' chart.

No script and no style attribute (the pages' CSP allows neither): the functions here only
place points; the templates (`charts.html`) draw them, and the stylesheet colours them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Spark:
    """A sparkline: a polyline in a `width` x `height` box and its last point."""

    width: int
    height: int
    points: str
    last: tuple[float, float]
    label: str  # what a screen reader hears


def sparkline(
    values: Sequence[float | None],
    label: str,
    width: int = 120,
    height: int = 28,
    low: float | None = None,
    high: float | None = None,
) -> Spark | None:
    """A sparkline of the values (None: no value then, left out); None with no value at all."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if not known:
        return None
    bottom = min(v for _, v in known) if low is None else low
    top = max(v for _, v in known) if high is None else high
    span = top - bottom
    pad = 3.0
    steps = max(1, len(values) - 1)

    def place(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / steps if len(values) > 1 else 0.5)
        y = height / 2 if span <= 0 else pad + (height - 2 * pad) * (1 - (v - bottom) / span)
        return round(x, 1), round(y, 1)

    placed = [place(i, v) for i, v in known]
    return Spark(width, height, " ".join(f"{x},{y}" for x, y in placed), placed[-1], label)


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str  # the class the stylesheet colours it by
    points: str
    dots: list[Dot]


@dataclass(frozen=True, slots=True)
class Mark:
    """A run marked on the chart: `regression` or `baseline`."""

    x: float
    kind: str
    title: str


@dataclass(slots=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    series: list[Series] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One run, as the chart needs it."""

    run_id: int
    when: str
    metrics: dict[str, float]
    regression: bool
    baseline: bool


def run_chart(
    runs: Sequence[RunPoint], metrics: Sequence[str], width: int = 720, height: int = 260
) -> Chart:
    """Each metric's value per run (oldest left), on a 0..1 scale; regressions and baselines
    marked by a line through their run."""
    chart = Chart(width, height, left=40, top=12, right=width - 12, bottom=height - 36)
    inner_w, inner_h = chart.right - chart.left, chart.bottom - chart.top
    steps = max(1, len(runs) - 1)

    def x_of(i: int) -> float:
        return round(chart.left + inner_w * (i / steps if len(runs) > 1 else 0.5), 1)

    def y_of(v: float) -> float:
        return round(chart.bottom - inner_h * max(0.0, min(1.0, v)), 1)

    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        chart.y_ticks.append((y_of(tick), f"{tick:.2f}"))
    for number, name in enumerate(metrics):
        dots = [
            Dot(
                x_of(i),
                y_of(run.metrics[name]),
                f"run {run.run_id}: {name} {run.metrics[name]:.3f}",
            )
            for i, run in enumerate(runs)
            if name in run.metrics
        ]
        points = " ".join(f"{d.x},{d.y}" for d in dots)
        chart.series.append(Series(name, f"s{number}", points, dots))
    # At most about eight labels along the axis, whatever the number of runs.
    every = max(1, len(runs) // 8 + (1 if len(runs) % 8 else 0))
    for i, run in enumerate(runs):
        if i % every == 0 or i == len(runs) - 1:
            chart.x_labels.append((x_of(i), f"#{run.run_id}"))
        if run.regression:
            chart.marks.append(Mark(x_of(i), "regression", f"run {run.run_id} regressed"))
        if run.baseline:
            chart.marks.append(Mark(x_of(i), "baseline", f"run {run.run_id} is a baseline"))
    return chart
