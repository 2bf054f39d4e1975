"""The benchmark runner's building blocks (no Django imports here)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    samples: list[float]
    unit: str = "ms"  # "ms", "s", "MB", "x", "/s" …
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """The 95th percentile (the largest sample while there are too few to say more)."""
        if len(self.samples) < 20:
            return max(self.samples)
        return statistics.quantiles(self.samples, n=20, method="inclusive")[18]


@dataclass
class Benchmark:
    name: str
    target: str  # the figure the issue names, e.g. "≤ 1 s"
    run: Callable[[], Result]
    group: str = ""
    budget: float | None = (
        None  # in the result's unit; the table marks a miss, the suite never fails on it
    )
    tags: list[str] = field(default_factory=list)
    budget_p95: float | None = None  # a second budget, on the 95th percentile
    # The name of the benchmark that measures the same thing in-process (test Client or a
    # service call): its median is shown beside this one when it ran in the same run.
    in_process: str = ""

    def within_budget(self, result: Result) -> bool | None:
        """Whether ``result`` meets the budgets (None when there is none)."""
        if self.budget is None and self.budget_p95 is None:
            return None
        ok = self.budget is None or result.median <= self.budget
        return ok and (self.budget_p95 is None or result.p95 <= self.budget_p95)


def time_call(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> list[float]:
    """Wall-clock milliseconds of ``fn`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def format_value(value: float, unit: str) -> str:
    if unit in {"ms", "s"}:
        return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    if unit == "x":
        return f"{value:.2f}×"
    return f"{value:,.1f} {unit}"


def render_table(rows: list[tuple[Benchmark, Result | Exception]]) -> str:
    header = ("group", "benchmark", "median", "p95", "min", "max", "n", "in-process", "target",
              "ok", "note")  # fmt: skip
    by_name = {bench.name: result for bench, result in rows}
    lines = [header]
    for bench, result in rows:
        if isinstance(result, Exception):
            lines.append(
                (
                    bench.group,
                    bench.name,
                    "error",
                    "",
                    "",
                    "",
                    "",
                    "",
                    bench.target,
                    "✗",
                    str(result)[:60],
                )  # fmt: skip
            )
            continue
        within = bench.within_budget(result)
        ok = "" if within is None else ("✓" if within else "✗")
        beside = ""
        if bench.in_process:
            other = by_name.get(bench.in_process)
            if isinstance(other, Result):
                beside = format_value(other.median, other.unit)
            else:
                beside = "not run" if other is None else "error"
        lines.append(
            (
                bench.group,
                bench.name,
                format_value(result.median, result.unit),
                format_value(result.p95, result.unit),
                format_value(min(result.samples), result.unit),
                format_value(max(result.samples), result.unit),
                str(len(result.samples)),
                beside,
                bench.target,
                ok,
                result.note,
            )
        )
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    out = []
    for index, row in enumerate(lines):
        out.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
