"""sim.viz.interactive: sliders set scenario values, and moving one runs the scenario again."""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from sim.viz import interactive
from tests.helpers import ROOT, scenario_from


def test_moving_a_slider_runs_again_and_redraws() -> None:
    live = interactive(
        scenario_from(duration=200.0),
        sliders={"producers.0.rate": (0.5, 3.0, 0.5), "consumers.0.replicas": (1, 4)},
    )
    rate, replicas = live.sliders["producers.0.rate"], live.sliders["consumers.0.replicas"]
    assert isinstance(rate, widgets.FloatSlider) and isinstance(replicas, widgets.IntSlider)
    assert live.values() == {"producers.0.rate": 1.0, "consumers.0.replicas": 1}  # the file's
    assert list(live.figures) == ["queue_depth"]  # the catalog's first chart
    calm = live.results.summary
    first = live.figures["queue_depth"]
    rate.value = 3.0  # more than the consumer can take (about 2/s)
    busy = live.results.summary
    assert busy["produced"] > 2 * calm["produced"]
    assert busy["max_queue_depth"] > 5 * calm["max_queue_depth"]
    assert (
        isinstance(live.figures["queue_depth"], Figure) and live.figures["queue_depth"] is not first
    )
    live.set(consumers__0__replicas=4)
    assert live.results.summary["max_queue_depth"] < busy["max_queue_depth"]


def test_choices_and_a_variant_of_a_scenario_file() -> None:
    live = interactive(
        ROOT / "scenarios" / "coupling.yaml",
        variant="async",
        sliders={"faults.0.start": [10, 20, 30, 40]},
        charts=["timeline"],
        duration=60,
    )
    start = live.sliders["faults.0.start"]
    assert isinstance(start, widgets.SelectionSlider)
    assert start.value == 30  # the file says 30s
    assert live.scenario.variant == "async"
    assert live.results.duration == 60 and list(live.figures) == ["timeline"]
    before = live.results.events["time"].min()
    start.value = 10
    assert live.results.events["time"].min() == 10 < before
