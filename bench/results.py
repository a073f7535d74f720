"""What a benchmark reports: named figures, some with a target, printed as one markdown table."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One measured figure; ``target`` is shown as written and ``met`` says whether it holds."""

    benchmark: str
    metric: str
    value: float
    unit: str
    target: str | None = None
    met: bool | None = None

    @classmethod
    def at_least(cls, benchmark: str, metric: str, value: float, unit: str, floor: float) -> "Result":
        return cls(benchmark, metric, value, unit, f"≥ {_number(floor, unit)}", value >= floor)

    @classmethod
    def below(cls, benchmark: str, metric: str, value: float, unit: str, ceiling: float) -> "Result":
        return cls(benchmark, metric, value, unit, f"< {_number(ceiling, unit)}", value < ceiling)

    @property
    def shown(self) -> str:
        return _number(self.value, self.unit)


def _number(value: float, unit: str) -> str:
    if unit == "×":
        return f"{value:.2f}"
    if unit == "%":
        return f"{value:.0%}"
    if unit == "ms":
        return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if unit:
        return f"{value:,.0f} {unit}"
    return f"{value:,.0f}"


def markdown_table(results: Sequence[Result]) -> str:
    rows = [("Benchmark", "Metric", "Value", "Target", "Met"), ("---", "---", "---:", "---", "---")]
    for result in results:
        met = "" if result.met is None else ("yes" if result.met else "**no**")
        rows.append((result.benchmark, result.metric, result.shown, result.target or "", met))
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def missed(results: Sequence[Result]) -> list[Result]:
    return [result for result in results if result.met is False]
