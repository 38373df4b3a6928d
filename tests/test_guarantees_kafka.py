"""Delivery guarantees on Kafka (sim/guarantees/kafka.py): commit before processing loses
records, commit after duplicates effects, and read-process-write transactions apply each effect
exactly once for a read_committed reader of their outputs (and not for a read_uncommitted one).
"""

from __future__ import annotations

from typing import Any

import pytest

import sim
from sim.scenario import Scenario, ScenarioError
from tests.helpers import ROOT

SEEDS = (21, 22, 23)
RATES = (0.005, 0.02)
POINTS = ["before-processing", "during-processing", "after-processing"]


def data(strategy: str, rate: float, **guarantee: Any) -> dict[str, Any]:
    """40 records/s for 20 s into 2 partitions; two replicas poll 10 at a time and drain by 60 s
    (a crashed member's partitions wait for its 1 s session timeout and a rebalance)."""
    return {
        "name": "kafka-guarantees",
        "duration": 60.0,
        "broker": {
            "type": "kafka",
            "group.initial.rebalance.delay.ms": 0,
            "topics": [{"name": "payments", "partitions": 2}],
        },
        "producers": [
            {"name": "checkout", "to": "payments", "rate": 40.0, "stop": 20.0, "keys": 50}
        ],
        "consumers": [
            {
                "name": "billing",
                "from": "payments",
                "replicas": 2,
                "service_time": "exp(2ms)",
                "max.poll.records": 10,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 1000,
                "guarantee": {
                    "strategy": strategy,
                    "crash_probability": rate,
                    "crash_point": POINTS,
                    "restart_after": "500ms",
                    **guarantee,
                },
            }
        ],
    }


def run(strategy: str, rate: float, seed: int, **guarantee: Any) -> dict[str, Any]:
    results = sim.run(Scenario.from_dict(data(strategy, rate, **guarantee)), seed=seed)
    summary = results.summary
    assert results.conservation_gap() == 0
    assert summary["backlog_at_end"] == 0
    outcomes = summary["effects_lost"] + summary["effects_once"] + summary["effects_duplicated"]
    assert outcomes == summary["produced"]
    return summary


@pytest.mark.parametrize("rate", RATES)
def test_commit_before_processing_loses_and_never_duplicates(rate: float) -> None:
    for seed in SEEDS:
        s = run("at-most-once", rate, seed, crash_point=POINTS[:2])  # before the effect
        assert s["crashes"] > 0
        assert s["effects_duplicated"] == 0
        # The batch's offsets were committed first: the record in hand and the rest of the
        # batch are never read again.
        assert s["effects_lost"] >= s["crashes"]
        assert s["effects_lost"] == s["lost"]


@pytest.mark.parametrize("rate", RATES)
def test_commit_after_processing_never_loses_and_reapplies_each_reprocessing(rate: float) -> None:
    for seed in SEEDS:
        # A crash after processing a record and before the commit replays it (and whatever
        # the batch held before it): every crash re-applies at least one effect.
        s = run("at-least-once", rate, seed, crash_point="after-processing")
        assert s["effects_lost"] == 0
        assert s["crashes"] > 0
        assert s["effects_duplicated"] >= 1
        assert s["effects_applied"] - s["produced"] >= s["crashes"]
        # Every processing applies the effect, so each replayed processing is one extra effect.
        assert s["effects_applied"] - s["produced"] == s["duplicates"]


@pytest.mark.parametrize("rate", RATES)
def test_transactions_with_read_committed_apply_every_effect_exactly_once(rate: float) -> None:
    for seed in SEEDS:
        s = run("kafka-transactions", rate, seed, **{"isolation.level": "read_committed"})
        assert s["effects_lost"] == s["effects_duplicated"] == 0
        assert s["effects_once"] == s["produced"]
        assert s["crashes"] > 0
        # Crashes after processing replayed records; their aborted outputs were never seen.
        t = run(
            "kafka-transactions",
            rate,
            seed,
            crash_point="after-processing",
            **{"isolation.level": "read_committed"},
        )
        assert t["effects_lost"] == t["effects_duplicated"] == 0
        assert t["duplicates"] >= t["crashes"] > 0
        assert t["kafka.transactions_aborted"] == t["crashes"]


@pytest.mark.parametrize("rate", RATES)
def test_transactions_with_read_uncommitted_show_aborted_outputs(rate: float) -> None:
    for seed in SEEDS:
        s = run(
            "kafka-transactions",
            rate,
            seed,
            crash_point="after-processing",
            **{"isolation.level": "read_uncommitted"},
        )
        assert s["effects_lost"] == 0
        assert s["effects_duplicated"] >= 1
        # Every output written is seen, committed or aborted: one per processing.
        assert s["effects_applied"] == s["kafka.transactional_outputs"]


@pytest.mark.parametrize("strategy", ["idempotent", "transactional"])
def test_a_dedup_store_makes_kafka_redeliveries_harmless(strategy: str) -> None:
    for seed in SEEDS:
        s = run(strategy, 0.01, seed, dedup_window="10min")
        assert s["effects_lost"] == s["effects_duplicated"] == 0
        assert s["effects_suppressed"] == s["duplicates"] > 0


def test_the_same_seed_gives_the_same_run() -> None:
    scenario = Scenario.from_dict(data("kafka-transactions", 0.01))
    assert sim.run(scenario, seed=4).summary == sim.run(scenario, seed=4).summary


def test_kafka_exactly_once_scenario_shows_each_strategy() -> None:
    runs = sim.run_variants(ROOT / "scenarios" / "exactly_once_kafka.yaml")
    for results in runs.values():
        assert results.conservation_gap() == 0
        assert results.summary["backlog_at_end"] == 0
    assert runs["commit-before"].summary["effects_lost"] > 0
    assert runs["commit-after"].summary["effects_duplicated"] > 0
    assert runs["txn-read-uncommitted"].summary["effects_duplicated"] > 0
    committed = runs["txn-read-committed"].summary
    assert committed["effects_once"] == committed["produced"]


@pytest.mark.parametrize(
    ("broker_type", "change", "expected"),
    [
        (
            "rabbitmq",
            {"strategy": "kafka-transactions"},
            "consumers[0].guarantee.strategy: kafka-transactions is not run by broker type "
            "'rabbitmq'",
        ),
        (
            "kafka",
            {"strategy": "at-least-once", "isolation.level": "read_committed"},
            "consumers[0].guarantee: isolation.level applies to the kafka-transactions strategy",
        ),
        (
            "kafka",
            {"strategy": "at-least-once", "ack_loss_probability": 0.1},
            "consumers[0].guarantee.ack_loss_probability: a Kafka consumer commits offsets",
        ),
    ],
)
def test_bad_kafka_guarantees_are_one_line_errors(
    broker_type: str, change: dict[str, Any], expected: str
) -> None:
    scenario = data("at-least-once", 0.0)
    scenario["consumers"][0]["guarantee"] = change
    if broker_type == "rabbitmq":
        scenario["broker"] = {"type": "rabbitmq", "queues": [{"name": "payments", "durable": True}]}
        scenario["producers"] = [{"name": "checkout", "to": "payments", "rate": 1.0}]
        scenario["consumers"][0] = {"name": "billing", "from": "payments", "guarantee": change}
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(scenario, "x.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"x.yaml: {expected}"), message


def test_the_strategy_owns_the_commits() -> None:
    scenario = data("at-least-once", 0.0)
    scenario["consumers"][0]["enable.auto.commit"] = False
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(scenario, "x.yaml")
    assert str(caught.value) == (
        "x.yaml: consumers[0].enable.auto.commit: the guarantee's strategy decides when "
        "offsets are committed"
    )
