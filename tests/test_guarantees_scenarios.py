"""The delivery-guarantee scenario files: each shows what its description says, keeps
conservation, drains before its end, and gets its charts (effects, message timeline)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.viz import variant_charts
from sim.viz.charts import write_variant_charts
from tests.helpers import ROOT
from tests.scenario_runs import scenario_runs

SCENARIOS = ROOT / "scenarios"
FILES = ["exactly_once", "exactly_once_kafka", "dedup_window", "crash_redelivery"]


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, sim.Results]]:
    return {name: scenario_runs(name) for name in FILES}  # simulated once: tests/scenario_runs.py


def test_each_file_is_named_after_itself_conserves_and_drains(
    runs: dict[str, dict[str, sim.Results]],
) -> None:
    for name, variants in runs.items():
        assert sim.load_scenario(SCENARIOS / f"{name}.yaml").name == name
        for results in variants.values():
            s = results.summary
            assert results.conservation_gap() == 0
            assert s["backlog_at_end"] == 0  # stopped producing in time: the count is final
            assert s["effects_lost"] + s["effects_once"] + s["effects_duplicated"] == s["produced"]


def test_exactly_once_ranks_the_strategies(runs: dict[str, dict[str, sim.Results]]) -> None:
    s = {variant: r.summary for variant, r in runs["exactly_once"].items()}
    assert s["at-most-once"]["effects_lost"] > 0
    for strategy in ("at-least-once", "idempotent", "transactional"):
        assert s[strategy]["effects_lost"] == 0
    # Republished copies and redeliveries reach every strategy...
    assert all(v["republished"] > 0 and v["redelivered"] > 0 for v in s.values())
    # ...the plain at-least-once consumer applies them again, the transactional inbox never.
    assert s["at-least-once"]["effects_duplicated"] > 0
    assert s["transactional"]["effects_once"] == s["transactional"]["produced"]
    # The idempotent consumer re-applies only what crashed in its gap (effect done, id not
    # recorded yet): one message per such crash at most.
    idempotent = s["idempotent"]
    assert idempotent["effects_duplicated"] <= idempotent["crashes.after-effect"]
    assert idempotent["effects_duplicated"] < s["at-least-once"]["effects_duplicated"]
    # The dedup strategies pay two store round trips more per message.
    assert s["idempotent"]["latency_mean"] > s["at-least-once"]["latency_mean"]


def test_dedup_window_catches_early_duplicates_only(
    runs: dict[str, dict[str, sim.Results]],
) -> None:
    inside = runs["dedup_window"]["retry-inside-window"].summary
    after = runs["dedup_window"]["retry-after-window"].summary
    assert inside["republished"] == after["republished"] > 0  # the same confirms are lost
    assert inside["effects_duplicated"] == 0
    assert inside["effects_suppressed"] == inside["republished"]
    assert after["effects_duplicated"] > 0
    assert after["effects_applied"] - after["produced"] == after["republished"]


def test_crash_redelivery_shows_one_loss_one_duplicate_one_catch(
    runs: dict[str, dict[str, sim.Results]],
) -> None:
    """Payment 3 crashes once: during processing at most once (its ack already went: lost),
    after processing otherwise (redelivered: applied twice, or recognised)."""
    variants = runs["crash_redelivery"]
    for results in variants.values():
        journal = results.tables["guarantees.journal"]
        crashes = journal[journal["event"].str.startswith("crash")]
        assert crashes["message_id"].tolist() == [3]
    lost = variants["at-most-once"].summary
    assert (lost["effects_lost"], lost["effects_duplicated"]) == (1, 0)
    twice = variants["at-least-once"].tables["guarantees.journal"]
    applied = twice[twice["event"] == "effect applied"]
    assert applied.groupby("message_id").size().to_dict()[3] == 2
    caught = variants["idempotent"].tables["guarantees.journal"]
    assert caught.loc[caught["event"] == "effect suppressed", "message_id"].tolist() == [3]


def test_guarantee_charts_are_drawn(
    runs: dict[str, dict[str, sim.Results]], tmp_path: Path
) -> None:
    charts = variant_charts(runs["crash_redelivery"])
    assert {"effects", "message_timeline"} <= set(charts)
    assert "message_timeline" not in variant_charts(runs["exactly_once"])  # not traced
    written = write_variant_charts(runs["crash_redelivery"], tmp_path, "crash_redelivery_")
    names = {p.name for p in written}
    assert {"crash_redelivery_effects.png", "crash_redelivery_message_timeline.png"} <= names
    assert all(p.stat().st_size > 10_000 for p in written)
