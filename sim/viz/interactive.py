"""Live sliders for a notebook: change a scenario value, the scenario runs again, its charts redraw.

    from sim.viz import interactive
    interactive("../scenarios/mm1.yaml", sliders={"producers.0.rate": (0.2, 0.95, 0.05)})

Each slider sets one scenario value by its dotted path (as `--set` does). The charts are the
catalog's (sim/viz/catalog.py), by name; they are shown as ordinary figures, each updated in
place when a slider moves, so a notebook run headless (nbmake) or saved shows the first
figure like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from sim.kernel import run
from sim.results import Results
from sim.scenario import Scenario, load_scenario
from sim.units import parse_duration, parse_rate
from sim.viz.charts import scenario_charts

__all__ = ["Interactive", "interactive"]

SliderSpec = Any  # (min, max[, step]), a list of choices, or an ipywidgets widget


def _value_at(raw: Any, path: str) -> Any:
    """The scenario's value at a dotted path (None where there is none)."""
    for part in path.split("."):
        if isinstance(raw, list) and part.isdigit() and int(part) < len(raw):
            raw = raw[int(part)]
        elif isinstance(raw, dict) and part in raw:
            raw = raw[part]
        else:
            return None
    return raw


def _number(value: Any) -> float | None:
    """A scenario value as a number: 30, "30s" (seconds), "50/s" (per second)."""
    for parse in (float, parse_duration, parse_rate):
        try:
            return float(parse(value))
        except (TypeError, ValueError):
            continue
    return None


def _slider(path: str, spec: SliderSpec, current: Any) -> Any:
    import ipywidgets as widgets

    if isinstance(spec, widgets.ValueWidget):
        return spec
    label = path.rsplit(".", 1)[-1] if path.count(".") else path
    style = {"description_width": "initial"}
    common = {"description": label, "continuous_update": False, "style": style}
    number = _number(current)
    if isinstance(spec, list):
        value = current if current in spec else number if number in spec else spec[0]
        return widgets.SelectionSlider(options=spec, value=value, **common)
    low, high, *rest = spec
    step = rest[0] if rest else None
    whole = all(isinstance(v, int) for v in (low, high, *rest))
    value = min(max(low if number is None else number, low), high)
    if whole:
        return widgets.IntSlider(min=low, max=high, step=step or 1, value=int(value), **common)
    step = step or (high - low) / 20
    return widgets.FloatSlider(min=low, max=high, step=step, value=value, **common)


class Interactive:
    """Sliders over scenario values, and the charts of the last run (see the module docstring).

    `results` is the last run's Results; `figures` its charts by name; `set(path=value...)`
    (or moving a slider) runs the scenario again with those values.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path,
        sliders: Mapping[str, SliderSpec],
        charts: Sequence[str] | None = None,
        duration: float | str | None = None,
        seed: int | None = None,
        variant: str | None = None,
    ) -> None:
        import ipywidgets as widgets

        loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        variants = loaded.variant_scenarios()
        if variants:
            loaded = variants[variant] if variant else next(iter(variants.values()))
        self.scenario = loaded
        self.duration = duration
        self.seed = seed
        self.charts = list(charts) if charts else None
        self.sliders = {
            path: _slider(path, spec, _value_at(loaded.raw, path)) for path, spec in sliders.items()
        }
        for slider in self.sliders.values():
            slider.observe(lambda _change: self.update(), names="value")
        self.controls = widgets.VBox(list(self.sliders.values()))
        self._handles: dict[str, Any] = {}
        self.figures: dict[str, Figure] = {}
        self.results: Results = self._run()

    def values(self) -> dict[str, Any]:
        return {path: slider.value for path, slider in self.sliders.items()}

    def _run(self) -> Results:
        changed = self.scenario.override(self.values())
        results = run(changed, seed=self.seed, duration=self.duration)
        drawers = scenario_charts(results)
        names = self.charts or list(drawers)[:1]
        for figure in self.figures.values():
            plt.close(figure)
        self.figures = {name: drawers[name]() for name in names if name in drawers}
        return results

    def set(self, **values: Any) -> Results:
        """Move sliders by path (dots as "__": producers__0__rate=5) and run again."""
        for key, value in values.items():
            self.sliders[key.replace("__", ".")].value = value  # observe() runs update()
        return self.results

    def update(self) -> None:
        self.results = self._run()
        for name, figure in self.figures.items():
            handle = self._handles.get(name)
            if handle is not None:
                handle.update(figure)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.controls)
        for name, figure in self.figures.items():
            self._handles[name] = display(figure, display_id=True)


def interactive(
    scenario: Scenario | str | Path,
    sliders: Mapping[str, SliderSpec],
    charts: Sequence[str] | None = None,
    duration: float | str | None = None,
    seed: int | None = None,
    variant: str | None = None,
) -> Interactive:
    """Sliders over `scenario`'s values (dotted path -> (min, max[, step]) or a list of
    choices) that run it again (for `duration`, on `seed`) and redraw `charts` (catalog chart
    names; default: its first chart). Show it as a notebook cell's last expression."""
    return Interactive(scenario, sliders, charts, duration, seed, variant)
