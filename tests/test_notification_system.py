"""scenarios/notification_system.yaml: what each design of a notification system does with the
same traffic (a breaking-news spike, a marketing campaign, a 5-minute SMS outage), as
notebooks/08_notification_system.ipynb tells it. Each test is one claim the notebook makes."""

from __future__ import annotations

from functools import cache

import pandas as pd
import pytest

import sim
from tests.helpers import ROOT
from tests.scenario_runs import scenario_runs

PATH = ROOT / "scenarios" / "notification_system.yaml"
DESIGNS = ["sync", "shared", "per_channel", "per_channel+retries", "kafka"]
QUEUED = DESIGNS[1:]


@cache
def scenario() -> sim.Scenario:
    return sim.load_scenario(PATH)


def run(design: str) -> sim.Results:
    return scenario_runs("notification_system")[design]  # simulated once: tests/scenario_runs.py


def outage() -> tuple[float, float]:
    fault = next(f for f in scenario().faults if f.kind == "down")
    return fault.first, fault.last


def kinds(design: str) -> pd.DataFrame:
    return run(design).tables["providers.kinds"].set_index(["provider", "kind"])


def on_time(design: str, provider: str, kind: str) -> float:
    row = kinds(design).loc[(provider, kind)]
    return float(row["within_sla"] / row["due"])


def test_the_variants_are_the_five_designs_on_the_same_traffic() -> None:
    assert list(scenario().variant_scenarios()) == DESIGNS
    produced = {d: run(d).summary["produced"] for d in DESIGNS}
    assert len(set(produced.values())) == 1, produced  # common random numbers
    for design in DESIGNS:
        assert run(design).conservation_gap() == 0, design


def test_the_synchronous_api_fails_its_callers_during_the_outage_the_queued_ones_do_not() -> None:
    start, end = outage()
    for design in DESIGNS:
        frame = run(design).timeseries
        during = frame.loc[(frame["time"] > start + 10) & (frame["time"] < end), "success_rate.api"]
        if design == "sync":
            assert during.mean() < 0.8
        else:
            assert during.min() == 1.0, design
    services = {d: run(d).tables["services"].set_index("service").loc["api"] for d in DESIGNS}
    assert services["sync"]["p99"] > 5.0  # held for the SMS provider's timeouts and retries
    for design in QUEUED:
        assert services[design]["p99"] < 0.1, design  # it publishes and answers
    s = run("sync").summary
    assert s["lost"] + s["rejected"] + s["expired"] > 0.05 * s["produced"]
    for design in QUEUED:
        s = run(design).summary
        assert s["lost"] == s["rejected"] == s["expired"] == 0, design


def test_one_shared_pool_lets_the_sms_outage_delay_every_channel() -> None:
    # push and e-mail do not depend on SMS; in one worker pool they wait behind its timeouts
    assert on_time("shared", "push", "order") < 0.85
    assert on_time("per_channel", "push", "order") == 1.0
    assert on_time("shared", "push", "news") < on_time("per_channel", "push", "news")


def test_priorities_put_otp_codes_before_the_campaign_in_the_sms_queue() -> None:
    assert (
        on_time("per_channel+retries", "sms", "otp") > on_time("per_channel", "sms", "otp") + 0.05
    )
    # the campaign is still delivered within its hour
    assert on_time("per_channel+retries", "sms", "campaign") == 1.0


def test_rate_limited_senders_keep_under_the_quota_an_unlimited_pool_is_throttled() -> None:
    throttled = {
        d: run(d).tables["providers"].set_index("provider").loc["sms", "throttled"] for d in DESIGNS
    }
    assert throttled["shared"] > 200  # 70 workers, no rate limit, a campaign over the quota
    assert throttled["per_channel"] < 0.01 * throttled["shared"]


def test_retries_without_idempotency_keys_send_duplicates_with_keys_none() -> None:
    table = {d: run(d).tables["providers"].set_index("provider") for d in DESIGNS}
    assert table["per_channel"]["duplicates"].sum() > 10  # e-mail timeouts, then resends
    assert table["shared"]["duplicates"].sum() > table["per_channel"]["duplicates"].sum()
    for design in ("per_channel+retries", "kafka"):
        assert table[design]["duplicates"].sum() == 0
        assert table[design]["deduplicated"].sum() > 10


@pytest.mark.parametrize(
    ("design", "column"),
    [("per_channel+retries", "ready.sms.dlq"), ("kafka", "retained.sms-dlt")],
)
def test_otp_codes_whose_tries_are_spent_go_to_the_dead_letters(design: str, column: str) -> None:
    results = run(design)
    s = results.summary
    assert s["retries"] > 0
    assert s["retries_exhausted"] == s["dead_lettered"] > 50
    assert results.timeseries[column].iloc[-1] <= s["dead_lettered"]
    assert results.timeseries[column].iloc[-1] > 0.5 * s["dead_lettered"]
    tries = results.tables["retry.attempts"]
    spent = tries[tries["next_delay"].isna() & (tries["outcome"] != "ok")]
    start, end = outage()
    assert spent["end"].between(start, end + 60).mean() > 0.95  # spent in the outage


def test_the_stream_design_uses_retry_topics_and_splits_the_quota_by_weight() -> None:
    results = run("kafka")
    assert {"ready.sms-retry-0/sms_sender-retry-0", "ready.sms-marketing/sms_marketing"} <= set(
        results.timeseries.columns
    )
    latency = results.latency_by("consumer")
    # the campaign gets 20 of the 50 SMS a second: it takes longer than with a strict priority
    campaign = kinds("kafka").loc[("sms", "campaign")]
    assert campaign["p50"] > 2 * kinds("per_channel+retries").loc[("sms", "campaign"), "p50"]
    assert latency.loc["sms_sender", "p50"] < latency.loc["sms_marketing", "p50"]


# ----- the charts the demo draws for it -----


def all_runs() -> dict[str, sim.Results]:
    return {design: run(design) for design in DESIGNS}


def test_the_catalog_draws_the_notification_charts_in_place_of_the_generic_ones() -> None:
    from sim.viz.catalog import chosen

    charts = chosen(all_runs(), "variants")
    assert {"sla_attainment", "channel_latency", "channel_depth", "retry_timeline"} <= set(charts)
    assert "designs" in charts and "topology" not in charts  # five designs, one drawing each
    assert "compare_queue_depth" not in charts  # their queues are not the same ones
    assert "compare_latency_cdf" not in charts
    assert "outcomes" not in charts  # broker copies, not notifications


def test_the_sla_chart_shows_what_was_never_delivered() -> None:
    import matplotlib.pyplot as plt

    from sim.viz import plot_sla_attainment

    fig = plot_sla_attainment(all_runs())
    try:
        panel = next(ax for ax in fig.axes if ax.get_title(loc="left").startswith("sms: otp"))
        bars = panel.patches  # three segments per design, in design order
        assert len(bars) == 3 * len(DESIGNS)
        for i, design in enumerate(DESIGNS):
            within, late, missing = (bars[3 * i + k].get_width() for k in range(3))
            row = kinds(design).loc[("sms", "otp")]
            assert within + late + missing == pytest.approx(100.0)
            assert missing == pytest.approx(100 * (row["due"] - row["delivered"]) / row["due"])
            assert within == pytest.approx(100 * row["within_sla"] / row["due"])
    finally:
        plt.close(fig)


def test_the_latency_chart_ends_each_curve_at_the_share_delivered() -> None:
    import matplotlib.pyplot as plt

    from sim.viz import plot_channel_latency

    fig = plot_channel_latency(all_runs())
    try:
        panel = next(ax for ax in fig.axes if ax.get_title(loc="left") == "sms: otp")
        curves = [line for line in panel.get_lines() if len(line.get_xdata()) > 2]
        assert len(curves) == len(DESIGNS)
        for line, design in zip(curves, DESIGNS, strict=True):
            row = kinds(design).loc[("sms", "otp")]
            assert line.get_ydata()[-1] == pytest.approx(row["delivered"] / row["due"])
    finally:
        plt.close(fig)


def test_the_retry_timeline_follows_messages_that_first_failed_in_the_outage() -> None:
    from sim.viz.notifications import _picked

    start, end = outage()
    for design in ("per_channel+retries", "kafka"):
        results = run(design)
        tries = results.tables["retry.attempts"]
        picked = _picked(tries, results)
        assert len(picked) == 8
        for consumer, message in picked:
            mine = tries[(tries["consumer"] == consumer) & (tries["message_id"] == message)]
            assert start <= mine["start"].min() < end


def test_the_topology_shows_bindings_calls_by_kind_and_retry_policies() -> None:
    from sim.topology import build_topology

    variants = scenario().variant_scenarios()
    graph = build_topology(variants["per_channel+retries"])
    assert graph.edges["notifications", "sms"]["label"] == "otp, campaign"  # both binding keys
    retry = graph.nodes["retry:sms_sender"]
    assert retry["label"].startswith("retries: 5 tries")
    assert graph.has_edge("consumer:sms_sender", "service:sms")
    sync = build_topology(variants["sync"])
    assert sync.edges["service:api", "service:sms"]["label"] == "calls: otp, campaign"
    kafka = build_topology(variants["kafka"])
    assert kafka.edges["service:api", "sms-marketing"]["label"] == "publishes: campaign"


def test_a_scenario_whose_variants_share_their_parts_keeps_one_topology() -> None:
    from sim.viz.topology import crowded_union

    coupling = sim.load_scenario(ROOT / "scenarios" / "coupling.yaml").variant_scenarios()
    runs = {name: sim.run(v, duration=5.0) for name, v in coupling.items()}
    assert not crowded_union(runs)
    assert crowded_union(all_runs())
