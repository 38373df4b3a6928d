"""Retry policies on consumers (sim/consumers/retry.py), on every broker through its own
mechanism: every try counts (the first included), the waits between tries are the policy's
backoff, a spent message is dead-lettered where the system puts dead letters, and the summary
and the trace count it all."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.backoff import backoff_delay
from sim.brokers.pulsar.settings import DELAYED_DELIVERY_TICK
from sim.scenario import Scenario
from tests.test_broker_contract import ideal

BROKERS = sim.broker_types()

# Where each system keeps what a retry policy dead-lettered, as a time-series column: a
# RabbitMQ dead-letter queue, an SQS redrive queue, Kafka's dead-letter topic, a Redis stream.
DEAD_LETTERS = {
    "rabbitmq": "ready.jobs.dlq",
    "sqs": "ready.jobs-dlq",
    "kafka": "retained.jobs-dlt",
    "redis": "retained.jobs-dlq",
    "pulsar": "retained.jobs-c-DLQ",
}
# How early a system may hand out a retry that is not due yet: Pulsar's delayed delivery
# tracker releases messages due within delayedDeliveryTickTimeMillis (1 s by default).
EARLY = {"pulsar": DELAYED_DELIVERY_TICK}


def retrying(broker_type: str, retry: dict[str, Any], probability: float, **extra: Any) -> dict:
    """One producer at 5/s for 40 s into one source read by two replicas, failing each try
    with `probability`, with the retry policy `retry`; run for 120 s so retries finish."""
    data = ideal(broker_type, rate=5.0, service="10ms", consumers=2, duration=120.0, **extra)
    data["producers"][0]["stop"] = 40.0
    data["consumers"][0]["retry"] = retry
    data["faults"] = [{"target": "c", "kind": "error", "probability": probability}]
    return data


def tries(results: sim.Results) -> pd.DataFrame:
    table = results.tables["retry.attempts"]
    return table.sort_values(["message_id", "attempt"]).reset_index(drop=True)


@pytest.mark.parametrize("broker_type", BROKERS)
def test_every_try_fails_so_every_message_is_dead_lettered_after_its_attempts(
    broker_type: str,
) -> None:
    retry = {"attempts": 4, "backoff": "exponential", "initial": "1s", "multiplier": 2}
    results = sim.run(Scenario.from_dict(retrying(broker_type, retry, 1.0)), trace=True)
    s = results.summary
    produced = s["produced"]
    assert produced > 150
    assert s["processed"] == 0
    assert s["retries"] == 3 * produced  # attempts counts the first try: 4 tries, 3 retries
    assert s["retries_exhausted"] == produced
    assert s["dead_lettered"] == produced
    assert s["consumer_failures"] == 4 * produced
    assert results.conservation_gap() == 0
    # the dead letters are where the system keeps them
    assert results.timeseries[DEAD_LETTERS[broker_type]].iloc[-1] == produced
    # the trace has one row per failed try
    trace = results.trace
    assert trace is not None
    assert (trace["event"] == "failed").sum() == 4 * produced
    # each message was tried 4 times, numbered 1..4, the waits between tries the backoff
    table = tries(results)
    assert all(t == [1, 2, 3, 4] for t in table.groupby("message_id")["attempt"].apply(list))
    following = table.groupby("message_id")["start"].shift(-1)
    waited = (following - table["end"]).dropna()
    expected = table.loc[waited.index, "attempt"].map(
        lambda k: backoff_delay(k, 1.0, 2.0, 30.0, "none", 0.0)
    )
    assert (table.loc[waited.index, "next_delay"] == expected).all()
    # never before it is due (Pulsar: within its tick); a due retry is delivered at once
    early = EARLY.get(broker_type, 0.0)
    assert (waited >= expected - early - 1e-6).all()
    assert (waited <= expected + 0.1).all(), broker_type


@pytest.mark.parametrize("broker_type", BROKERS)
def test_a_message_retried_after_a_transient_failure_is_processed_once(broker_type: str) -> None:
    retry = {"attempts": 3, "backoff": "fixed", "initial": "500ms"}
    results = sim.run(Scenario.from_dict(retrying(broker_type, retry, 0.3)))
    s = results.summary
    assert results.conservation_gap() == 0
    assert s["backlog_at_end"] == 0
    assert s["processed"] + s["dead_lettered"] == s["produced"]
    assert s["retries_exhausted"] == s["dead_lettered"]
    # a message is dead-lettered only when all three tries failed: about 0.3^3 of them
    assert 0 < s["dead_lettered"] < 0.1 * s["produced"]
    assert s["duplicates"] == 0
    table = tries(results)
    finals = table.groupby("message_id").tail(1)
    # a message that failed once ends processed ("ok") or spent on its third try
    assert set(finals["outcome"]) <= {"ok", "error"}
    assert (finals.loc[finals["outcome"] == "error", "attempt"] == 3).all()
    failed_once = table["message_id"].nunique()
    assert (finals["outcome"] == "ok").sum() + s["retries_exhausted"] == failed_once
    assert s["retries"] == len(table) - failed_once  # every try after a message's first


@pytest.mark.parametrize("jitter", ["full", "equal"])
def test_jitter_draws_each_wait_inside_its_range(jitter: str) -> None:
    retry = {
        "attempts": 5,
        "backoff": "exponential",
        "initial": "1s",
        "multiplier": 2,
        "max_delay": "5s",
        "jitter": jitter,
    }
    results = sim.run(Scenario.from_dict(retrying("rabbitmq", retry, 1.0)))
    table = tries(results).dropna(subset=["next_delay"])
    cap = table["attempt"].map(lambda k: min(5.0, 2.0 ** (k - 1)))
    low = 0.0 if jitter == "full" else 0.5
    share = table["next_delay"] / cap
    assert (share >= low).all() and (share <= 1.0).all()
    # drawn, not fixed: spread over the range
    assert share.std() > 0.1
    assert abs(share.mean() - (low + 1.0) / 2) < 0.05


@pytest.mark.parametrize("broker_type", ["rabbitmq", "kafka", "redis"])
def test_blocking_retries_hold_the_message_and_retry_in_place(broker_type: str) -> None:
    retry = {"attempts": 3, "backoff": "fixed", "initial": "2s", "blocking": True}
    data = retrying(broker_type, retry, 1.0)
    data["consumers"][0]["replicas"] = 1
    if broker_type == "kafka":
        data["broker"]["topics"][0]["partitions"] = 1
    results = sim.run(Scenario.from_dict(data))
    s = results.summary
    table = tries(results)
    # one replica, each message held for its tries and waits: one message every ~4 s
    starts = table.loc[table["attempt"] == 1, "start"].to_numpy()
    gaps = np.diff(starts)
    assert gaps.min() >= 4.0 - 1e-6
    spent = s["retries_exhausted"]
    assert spent == s["dead_lettered"]
    assert len(starts) - 1 <= spent <= len(starts)  # the last one may still be in its tries
    assert s["backlog_at_end"] == s["produced"] - spent  # the rest still waits
    assert results.conservation_gap() == 0
    # no retry queue or topic: only the dead letters
    assert not any("retry" in c for c in results.timeseries.columns)


@pytest.mark.parametrize("broker_type", ["sqs", "pulsar"])
def test_a_broker_that_dead_letters_by_its_own_count_refuses_blocking_retries(
    broker_type: str,
) -> None:
    data = retrying(broker_type, {"attempts": 3, "blocking": True}, 0.5)
    with pytest.raises(sim.ScenarioError, match=r"consumers\[0\]\.retry\.blocking"):
        Scenario.from_dict(data)


def test_sqs_redrive_must_match_the_attempts() -> None:
    data = retrying("sqs", {"attempts": 3}, 0.5)
    data["broker"]["queues"] = [
        {"name": "jobs", "redrive": {"dead_letter_queue": "dlq", "max_receive_count": 5}},
        {"name": "dlq"},
    ]
    with pytest.raises(sim.ScenarioError, match=r"consumers\[0\]\.retry\.attempts: .*5 receives"):
        Scenario.from_dict(data)
    data["broker"]["queues"][0]["redrive"]["max_receive_count"] = 3
    results = sim.run(Scenario.from_dict(data))  # the queue's own redrive policy is used
    assert results.timeseries["ready.dlq"].iloc[-1] == results.summary["dead_lettered"] > 0


def test_one_attempt_means_no_retry() -> None:
    results = sim.run(Scenario.from_dict(retrying("rabbitmq", {"attempts": 1}, 0.2)))
    s = results.summary
    assert s.get("retries", 0) == 0
    assert s["dead_lettered"] == s["retries_exhausted"] > 0
    assert s["processed"] + s["dead_lettered"] == s["produced"]


def test_rabbitmq_counts_tries_from_x_death_and_waits_in_one_queue_per_retry() -> None:
    retry = {"attempts": 3, "backoff": "fixed", "initial": "3s"}
    results = sim.run(Scenario.from_dict(retrying("rabbitmq", retry, 1.0)))
    frame = results.timeseries
    assert {"ready.jobs.retry.1", "ready.jobs.retry.2", "ready.jobs.dlq"} <= set(frame.columns)
    assert "ready.jobs.retry.3" not in frame.columns
    # while the producer runs, each retry queue holds about rate x delay messages
    steady = frame[(frame["time"] > 15) & (frame["time"] < 40)]
    assert steady["ready.jobs.retry.1"].mean() == pytest.approx(5.0 * 3.0, rel=0.35)
    assert steady["ready.jobs.retry.2"].mean() == pytest.approx(5.0 * 3.0, rel=0.35)


def test_the_guarantee_section_does_not_mix_with_retries() -> None:
    data = retrying("rabbitmq", {"attempts": 3}, 0.5)
    data["consumers"][0]["guarantee"] = {"strategy": "at-least-once"}
    with pytest.raises(sim.ScenarioError, match="retry and calls are not run with a guarantee"):
        Scenario.from_dict(data)
