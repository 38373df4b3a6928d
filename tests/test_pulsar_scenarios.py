"""The shipped Pulsar scenarios (scenarios/pulsar_*.yaml) run, conserve messages and show what
their descriptions claim; their charts are the Pulsar ones the catalog selects."""

from __future__ import annotations

import pytest

from sim.results import Results
from sim.viz.charts import demo_charts
from tests.helpers import ROOT
from tests.scenario_runs import scenario_runs

SCENARIOS = ROOT / "scenarios"


def runs(name: str) -> dict[str, Results]:
    return scenario_runs(name)  # simulated once: tests/scenario_runs.py


@pytest.mark.parametrize(
    "name",
    [
        "pulsar_subscription_types",
        "pulsar_key_shared_join",
        "pulsar_backlog_quota",
        "pulsar_dlq",
        "pulsar_geo_replication",
    ],
)
def test_every_pulsar_scenario_conserves_messages(name: str) -> None:
    for variant, results in runs(name).items():
        assert results.conservation_gap() == 0, variant
        assert results.summary["processed"] > 0, variant


def test_subscription_types_order_and_parallelism() -> None:
    found = runs("pulsar_subscription_types")
    order = {v: r.summary["pulsar.out_of_order"] for v, r in found.items()}
    assert order["exclusive"] == order["failover"] == order["key_shared"] == 0
    assert order["shared"] > 0  # round-robin spreads one key over consumers
    # One consumer (exclusive: it crashed for 30 s) falls behind; failover's standby takes
    # over within the failover delay; shared and key_shared spread the load.
    latency = {v: r.summary["latency_mean"] for v, r in found.items()}
    assert latency["exclusive"] > 10 * latency["failover"]
    assert latency["failover"] > latency["shared"]  # one active consumer against three
    assert found["shared"].summary["max_queue_depth"] < found["failover"].summary["max_queue_depth"]
    assert set(demo_charts(found)) >= {"hash_ranges", "ordering", "compare_subscription_backlog"}


def test_key_shared_join_drains_in_order_and_out_of_order_skips_the_wait() -> None:
    found = runs("pulsar_key_shared_join")
    in_order, relaxed = found["in-order"], found["out-of-order"]
    assert in_order.summary["pulsar.out_of_order"] == 0
    assert relaxed.summary["pulsar.out_of_order"] > 0
    held = in_order.timeseries["pulsar.draining.clicks/sessions"]
    assert held.max() > 100  # the stall: messages of moved hashes waiting for early.1
    assert relaxed.timeseries["pulsar.draining.clicks/sessions"].max() == 0
    table = in_order.tables["pulsar.hash_ranges"]
    assert set(table[table["time"] >= 60.0]["consumer"]) == {"early.0", "early.1", "late"}


def test_backlog_quota_policies_what_producers_see() -> None:
    found = runs("pulsar_backlog_quota")
    hold, exception, eviction = (
        found[k].summary
        for k in ("producer_request_hold", "producer_exception", "consumer_backlog_eviction")
    )
    assert hold["pulsar.failed_sends.TimeoutException"] == hold["rejected"] > 0
    assert exception["pulsar.failed_sends.ProducerBlockedQuotaExceededException"] > 0
    assert eviction["rejected"] == 0 and eviction["dropped"] > 0
    assert hold["dropped"] == exception["dropped"] == 0


def test_dlq_variants() -> None:
    found = runs("pulsar_dlq")
    dead, retry, none = (found[k].summary for k in ("dead-letter", "retry-topic", "no-policy"))
    assert dead["dead_lettered"] > 0 and none["dead_lettered"] == 0
    assert retry["pulsar.reconsumed_later"] > 0 and retry["dead_lettered"] > 0
    dlq = found["dead-letter"].timeseries["ready.work-worker-DLQ/parking-lot"]
    assert dlq.iloc[-1] == dead["dead_lettered"]  # parked on the DLQ's initial subscription


def test_geo_replication_duplicates_by_snapshot_interval() -> None:
    found = runs("pulsar_geo_replication")
    one, ten, off = (
        found[k].summary["duplicates"] for k in ("snapshot-1s", "snapshot-10s", "not-replicated")
    )
    assert 0 < one < ten < off
    for results in found.values():
        assert results.summary["lost"] == 0
        switched = results.events[results.events["event"] == "fails over to west"]
        assert len(switched) == 3  # the producer and both consumer replicas
