"""Which charts a scenario's results get (sim/viz/catalog.py), and writing them as PNG files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from matplotlib.figure import Figure

from sim.results import Results
from sim.viz.catalog import chosen
from sim.viz.style import save

__all__ = [
    "demo_charts",
    "scenario_charts",
    "variant_charts",
    "write_charts",
    "write_demo_charts",
    "write_variant_charts",
]


def scenario_charts(results: Results) -> dict[str, Callable[[], Figure]]:
    """Chart name -> a function drawing it (drawn lazily, one figure open at a time)."""
    charts = chosen({results.variant or results.scenario_name: results}, "run")
    return {name: (lambda c=chart: c.draw(results)) for name, chart in charts.items()}


def variant_charts(runs: Mapping[str, Results]) -> dict[str, Callable[[], Figure]]:
    """The charts comparing a scenario's variants, on shared axes, by name."""
    return {
        name: (lambda c=chart: c.draw(runs)) for name, chart in chosen(runs, "variants").items()
    }


def write_charts(results: Results, folder: str | Path, prefix: str = "") -> list[Path]:
    """Draw every chart of `results` into `folder` as `<prefix><chart>.png`."""
    return [
        save(draw(), Path(folder) / f"{prefix}{name}.png")
        for name, draw in scenario_charts(results).items()
    ]


def write_variant_charts(
    runs: Mapping[str, Results], folder: str | Path, prefix: str = ""
) -> list[Path]:
    """The comparison charts of a scenario's variants, plus its topology drawing."""
    return [
        save(draw(), Path(folder) / f"{prefix}{name}.png")
        for name, draw in variant_charts(runs).items()
    ]


def demo_charts(runs: Mapping[str, Results]) -> dict[str, Callable[[], Figure]]:
    """The charts `mqsim demo` draws for a scenario's runs: {"": Results} for a scenario
    without variants gets the charts of its one run, else the variants' comparisons."""
    if list(runs) == [""]:
        return scenario_charts(runs[""])
    return variant_charts(runs)


def write_demo_charts(
    runs: Mapping[str, Results], folder: str | Path, prefix: str = ""
) -> list[Path]:
    """Write `demo_charts(runs)` into `folder` as `<prefix><chart>.png`."""
    return [
        save(draw(), Path(folder) / f"{prefix}{name}.png")
        for name, draw in demo_charts(runs).items()
    ]
