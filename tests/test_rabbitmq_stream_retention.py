"""Stream retention over time: the measures a run keeps of it (bytes and segments sampled, one
row per retention evaluation) and the chart drawn from them.

Expectations come from osiris's rules as sim/brokers/rabbitmq/stream.py cites them (whole
segments deleted from the front when a new segment opens; by size, the newest segments that
fit in the limit), never from a previous run.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

import sim
from sim.brokers.rabbitmq.stream import CHUNK_HEADER_BYTES, ENTRY_HEADER_BYTES
from sim.results import Results
from sim.scenario import load_scenario
from sim.viz.catalog import chosen
from sim.viz.streams import plot_compare_stream_retention, plot_stream_retention
from tests.chart_rules import problems
from tests.helpers import ROOT
from tests.scenario_runs import scenario_runs

SEGMENT = 500_000  # the scenario's max_segment_size_bytes
LIMIT = 3_000_000  # its max_length_bytes
CHUNK = CHUNK_HEADER_BYTES + ENTRY_HEADER_BYTES + 1000  # a 1 KB message on disk


def _runs() -> dict[str, Results]:
    return scenario_runs("rabbitmq_stream_retention")  # simulated once: tests/scenario_runs.py


def test_size_retention_deletes_whole_segments_at_each_roll_and_keeps_at_most_the_limit() -> None:
    log = _runs()["by-size"].tables["rabbitmq.stream_retention"]
    assert len(log) >= 10  # a roll every ~5 s over 2 min
    deleted = log[log.segments_after < log.segments_before]
    assert not deleted.empty
    for row in log.itertuples():
        assert row.bytes_after <= LIMIT  # what is kept fits in the limit
        assert row.segments_after >= 1  # the segment being written always stays
    # every deletion removes whole full segments: a multiple of a full segment's bytes
    full = log.bytes_before.max() - log.bytes_after.min()
    for row in deleted.itertuples():
        gone = row.bytes_before - row.bytes_after
        segments_gone = row.segments_before - row.segments_after
        assert SEGMENT <= gone / segments_gone <= SEGMENT + CHUNK + 8
        assert gone <= full
    # between rolls the sampled bytes never run over the limit by more than the new segment
    frame = _runs()["by-size"].timeseries
    assert frame["rabbitmq.stream_bytes.clicks"].max() <= LIMIT + SEGMENT + CHUNK


def test_age_retention_keeps_about_the_age_worth_of_segments() -> None:
    """max_age 12 s at ~105 KB/s: a full segment of ~4.8 s is kept while its newest entry is
    younger than 12 s, so 2-3 full segments and the one being written stay."""
    log = _runs()["by-age"].tables["rabbitmq.stream_retention"]
    late = log[log.time > 30]
    assert not late.empty
    assert set(late.segments_after) <= {3, 4}
    size = _runs()["by-size"].tables["rabbitmq.stream_retention"]
    assert late.bytes_after.max() < size[size.time > 30].bytes_after.min()


def test_the_catalog_draws_stream_retention_when_a_segment_was_deleted() -> None:
    runs = _runs()
    assert "compare_stream_retention" in chosen(runs, "variants")
    assert "stream_retention" in chosen({"by-size": runs["by-size"]}, "run")
    # a stream retention never touched: nothing to see
    scenario = load_scenario(ROOT / "scenarios" / "rabbitmq_stream_retention.yaml")
    quiet = sim.run(scenario.override({"duration": "10s"}))  # 1 MB written: rolls only
    assert not quiet.tables["rabbitmq.stream_retention"].empty
    assert "stream_retention" not in chosen({"": quiet}, "run")


@pytest.mark.parametrize("draw", ["run", "variants"])
def test_the_retention_charts_follow_the_chart_rules(draw: str) -> None:
    runs = _runs()
    fig = (
        plot_stream_retention(runs["by-size"])
        if draw == "run"
        else (plot_compare_stream_retention(runs))
    )
    assert problems(fig) == []
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert "retained (MB)" in labels
    plt.close(fig)
