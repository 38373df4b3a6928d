"""Charts: written as PNGs, titled, axes labelled with units."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg

import sim
from sim.viz import plot_latency_cdf, plot_queue_depth, plot_topology, write_charts
from tests.helpers import scenario_from


def test_charts_have_titles_units_and_captions(tmp_path: Path) -> None:
    results = sim.run(scenario_from(duration=300.0, warmup=30.0))
    for fig in (plot_queue_depth(results), plot_latency_cdf(results)):
        ax = fig.axes[0]
        assert ax.get_title().startswith("test:")
        assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel()  # a unit in brackets
        assert fig.texts, "a caption says what the chart shows"
    paths = write_charts(results, tmp_path, prefix="test_")
    assert sorted(p.name for p in paths) == [
        "test_latency_cdf.png",
        "test_queue_depth.png",
        "test_topology.png",
    ]
    for path in paths:
        image = mpimg.imread(path)
        assert 200 < image.shape[0] < 2000 and 400 < image.shape[1] < 2000


def test_topology_draws_every_part() -> None:
    results = sim.run(scenario_from(duration=10.0))
    fig = plot_topology(results.topology)
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"p", "q", "c"} <= labels
