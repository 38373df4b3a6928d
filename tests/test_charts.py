"""Every chart `make demo` writes follows the chart rules (tests/chart_rules.py): a title,
numeric axes labelled with units, no text over text, at most 2,400 px wide, no nan. Each
scenario is run as the demo runs it and its demo charts are drawn (not saved): one test per
scenario, so `-n 2` spreads them over both cores.

The checker itself is tested first, on figures built to break each rule.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import pytest

from sim.results import Results
from sim.viz.charts import demo_charts
from sim.viz.style import new_figure, save
from tests.chart_rules import problems, saved_width
from tests.helpers import ROOT
from tests.scenario_runs import scenario_runs

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def demo_runs(path: Path) -> dict[str, Results]:
    """The scenario's runs as `mqsim demo` makes them: its own seed and duration, one run per
    variant ({"": Results} without variants); shared with the modules that test what the
    runs show (tests/scenario_runs.py)."""
    return scenario_runs(path.stem)


# ----- the checker fails on what breaks a rule -----


def _good() -> plt.Figure:
    fig, ax = new_figure()
    ax.plot([0, 1, 2], [0, 5, 2])
    ax.set_title("t")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("depth (messages)")
    return fig


def test_a_clean_chart_has_no_problems() -> None:
    fig = _good()
    assert problems(fig) == []
    plt.close(fig)


def test_the_checker_finds_a_missing_title_and_a_missing_unit() -> None:
    fig = _good()
    fig.axes[0].set_title("")
    fig.axes[0].set_ylabel("depth")
    found = problems(fig)
    plt.close(fig)
    assert "no title" in found
    assert any("gives no unit" in p for p in found)


def test_the_checker_finds_text_over_text_and_nan() -> None:
    fig = _good()
    ax = fig.axes[0]
    ax.text(1.0, 3.0, "a label printed here")
    ax.text(1.05, 3.05, "and another on top")
    ax.annotate("mean nan s", xy=(0.5, 1.0))
    found = problems(fig)
    plt.close(fig)
    assert any("overlaps" in p and "another on top" in p for p in found)
    assert any("nan" in p for p in found)


def test_the_checker_finds_a_legend_over_a_label_and_crowded_ticks() -> None:
    fig = _good()
    ax = fig.axes[0]
    ax.plot([0, 2], [1, 1], label="a long legend entry that sits where the label is")
    ax.text(0.05, 4.6, "a note in the corner")
    ax.legend(loc="upper left")
    ax.set_xticks([0, 0.02, 0.04], ["first long tick", "second long tick", "third"])
    found = problems(fig)
    plt.close(fig)
    assert any("legend" in p and "note in the corner" in p for p in found)
    assert any("first long tick" in p for p in found)


def test_the_checker_measures_the_width_the_chart_is_saved_at(tmp_path: Path) -> None:
    fig, ax = plt.subplots(figsize=(30, 3))  # wider than any chart may be
    ax.set_title("too wide")
    found = problems(fig)
    width = saved_width(fig)
    saved = mpimg.imread(save(fig, tmp_path / "wide.png"))
    assert abs(saved.shape[1] - width) <= 2
    assert any("px wide" in p for p in found)


# ----- every chart the demo writes -----


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_demo_chart_follows_the_rules(path: Path) -> None:
    charts = demo_charts(demo_runs(path))
    assert charts, "every scenario gets charts"
    found = []
    for name, draw in charts.items():
        fig = draw()
        found += [f"{path.stem}_{name}: {p}" for p in problems(fig)]
        plt.close(fig)
    assert not found, "\n".join(found)
