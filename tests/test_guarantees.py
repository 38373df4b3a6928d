"""Delivery guarantees on RabbitMQ (sim/guarantees/): what each consumer strategy does to the
side effects in the ledger, under crashes at each point of the cycle, lost acks, lost publishes
and duplicate publishes.

Expectations come from the strategies' definitions, checked as exact invariants where the
scenario makes them exact (one message in hand at a time, prefetch 1): a crash before the effect
under at-most-once loses exactly the message in hand; a crash after the effect under
at-least-once applies exactly that message once more; a dedup store catches exactly the
duplicates that arrive inside its window.
"""

from __future__ import annotations

from typing import Any

import pytest

import sim
from sim.guarantees import DedupStore, EffectLedger
from sim.scenario import Scenario, ScenarioError

SEEDS = (11, 12, 13)
RATES = (0.001, 0.01, 0.05)


def scenario(
    strategy: str,
    crash_probability: float = 0.0,
    crash_point: str | list[str] = "after-processing",
    producer: dict[str, Any] | None = None,
    consumer: dict[str, Any] | None = None,
    **guarantee: Any,
) -> Scenario:
    """200 payments/s for 30 s into one queue; one consumer (prefetch 1) drains it by 40 s."""
    data: dict[str, Any] = {
        "name": "guarantees",
        "duration": 40.0,
        "broker": {"type": "rabbitmq", "queues": [{"name": "payments", "durable": True}]},
        "producers": [
            {"name": "checkout", "to": "payments", "rate": 200.0, "stop": 30.0, **(producer or {})}
        ],
        "consumers": [
            {
                "name": "billing",
                "from": "payments",
                "prefetch": 1,
                "service_time": "exp(1ms)",
                "guarantee": {
                    "strategy": strategy,
                    "crash_probability": crash_probability,
                    "crash_point": crash_point,
                    "restart_after": "20ms",
                    **guarantee,
                },
                **(consumer or {}),
            }
        ],
    }
    return Scenario.from_dict(data)


def run(scenario: Scenario, seed: int) -> dict[str, Any]:
    results = sim.run(scenario, seed=seed)
    summary = results.summary
    assert results.conservation_gap() == 0
    assert summary["backlog_at_end"] == 0  # drained: every effect had its chance
    # The ledger accounts for every logical message exactly once.
    outcomes = summary["effects_lost"] + summary["effects_once"] + summary["effects_duplicated"]
    assert outcomes == summary["produced"]
    return summary


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("ack", ["manual", "auto"])
def test_at_most_once_loses_effects_and_never_duplicates(rate: float, ack: str) -> None:
    points = ["before-processing", "during-processing", "after-ack"]
    for seed in SEEDS:
        s = run(scenario("at-most-once", rate, points, consumer={"ack": ack}), seed)
        assert s["crashes"] > 0
        assert s["effects_duplicated"] == 0
        if ack == "manual":
            # Acked on receipt, one message in hand: each crash loses exactly that message.
            assert s["effects_lost"] == s["crashes"]
        else:
            # Auto-ack: the broker forgot everything it pushed; a crash loses all it held.
            assert s["effects_lost"] >= s["crashes"]
        assert s["effects_lost"] == s["lost"]  # nothing else lost them


@pytest.mark.parametrize("rate", RATES)
def test_at_most_once_after_its_effect_loses_nothing(rate: float) -> None:
    s = run(scenario("at-most-once", rate, "after-processing"), SEEDS[0])
    assert s["crashes"] > 0
    assert s["effects_lost"] == s["effects_duplicated"] == 0


@pytest.mark.parametrize("rate", RATES)
def test_at_least_once_never_loses_and_duplicates_each_crash_after_the_effect(rate: float) -> None:
    points = ["before-processing", "during-processing", "after-processing"]
    for seed in SEEDS:
        s = run(scenario("at-least-once", rate, points), seed)
        assert s["effects_lost"] == 0
        assert s["effects_duplicated"] > 0
        # Only a crash after the effect and before the ack applies a message again, and it
        # applies exactly the one message in hand once more.
        assert s["effects_applied"] - s["produced"] == s["crashes.after-processing"]
        assert s["redelivered"] >= s["crashes"]  # every crash returned a message to the queue


@pytest.mark.parametrize("rate", RATES)
def test_at_least_once_duplicates_when_the_ack_is_lost(rate: float) -> None:
    s = run(scenario("at-least-once", ack_loss_probability=rate), SEEDS[1])
    assert s["acks_lost"] > 0
    assert s["effects_lost"] == 0
    assert s["effects_applied"] - s["produced"] == s["acks_lost"]


@pytest.mark.parametrize("strategy", ["idempotent", "transactional"])
@pytest.mark.parametrize("rate", RATES)
def test_dedup_inside_its_window_applies_every_effect_exactly_once(
    strategy: str, rate: float
) -> None:
    # Every source of duplicates at once: crashes before and after the effect, lost acks, and
    # republished messages (a retry 2 s after a lost confirm, well inside the 10 min window).
    points = ["before-processing", "during-processing", "after-processing", "after-ack"]
    producer = {"confirm_loss_probability": rate, "retry_after": "2s"}
    for seed in SEEDS:
        s = run(
            scenario(
                strategy,
                rate,
                points,
                producer=producer,
                ack_loss_probability=rate,
                dedup_window="10min",
            ),
            seed,
        )
        assert s["effects_lost"] == s["effects_duplicated"] == 0
        assert s["effects_once"] == s["produced"]
        # The duplicates did arrive; the dedup store caught every one of them.
        assert s["duplicates"] > 0
        assert s["effects_suppressed"] > 0
        assert s["effects_applied"] == s["produced"]


def test_the_idempotent_consumers_gap_between_effect_and_record_duplicates() -> None:
    """A crash after the effect but before the dedup record: the redelivery finds no record and
    applies the effect again. The transactional inbox writes both at once and has no gap."""
    for seed in SEEDS:
        s = run(scenario("idempotent", 0.01, "after-effect"), seed)
        assert s["crashes"] > 0
        assert s["effects_applied"] - s["produced"] == s["crashes"]
        assert s["effects_lost"] == 0
        t = run(scenario("transactional", 0.01, "after-effect"), seed)
        assert t["effects_duplicated"] == t["effects_lost"] == 0
        assert t["effects_suppressed"] == t["crashes"] > 0


@pytest.mark.parametrize("strategy", ["idempotent", "transactional"])
def test_a_duplicate_arriving_after_the_dedup_window_is_applied_twice(strategy: str) -> None:
    """Republished copies come `retry_after` after their original: inside a 5 s window every
    one is caught, after it every one is applied a second time."""
    for retry_after, caught in (("2s", True), ("8s", False)):
        s = run(
            scenario(
                strategy,
                producer={"confirm_loss_probability": 0.02, "retry_after": retry_after},
                dedup_window="5s",
            ),
            SEEDS[0],
        )
        assert s["republished"] > 0
        extra = s["effects_applied"] - s["produced"]
        if caught:
            assert extra == 0
            assert s["effects_suppressed"] == s["republished"]
        else:
            assert extra == s["republished"]
            assert s["effects_duplicated"] > 0
            assert s["effects_suppressed"] == 0


def test_a_consumer_down_longer_than_the_window_reapplies_what_it_held() -> None:
    """The message in hand at a crash after its effect is redelivered when the consumer
    comes back: a restart inside the window is caught, one after it is applied again."""
    for restart_after, window in (("1s", "10s"), ("10s", "1s")):
        s = run(
            scenario(
                "idempotent",
                crash_on=[100],
                restart_after=restart_after,
                dedup_window=window,
            ),
            SEEDS[0],
        )
        assert s["crashes"] == 1
        expected_extra = 0 if window == "10s" else 1
        assert s["effects_applied"] - s["produced"] == expected_extra


def test_lost_publishes_and_lost_confirms_no_retry_loses_and_retry_duplicates() -> None:
    """The producer cannot tell a lost publish from a lost confirm: without retries the first
    loses messages, with retries the second duplicates them. The consumer is at least once and
    never crashes, so every difference comes from the publishing side."""
    losses = {"publish_loss_probability": 0.01, "confirm_loss_probability": 0.01}
    no_retry = run(scenario("at-least-once", producer=losses), SEEDS[0])
    assert no_retry["effects_lost"] == no_retry["publishes_lost"] > 0
    assert no_retry["effects_duplicated"] == 0
    retry = run(scenario("at-least-once", producer={**losses, "retry_after": "1s"}), SEEDS[0])
    assert retry["effects_lost"] == 0
    assert retry["effects_duplicated"] > 0
    # Every republish made up for a lost publish or duplicated a delivered one.
    assert retry["effects_applied"] - retry["produced"] == (
        retry["republished"] - retry["publishes_lost"]
    )
    assert retry["confirms_lost"] > 0


def test_same_seed_same_results() -> None:
    s = scenario(
        "idempotent", 0.02, ["during-processing", "after-effect"], ack_loss_probability=0.01
    )
    assert sim.run(s, seed=5).summary == sim.run(s, seed=5).summary


def test_the_strategy_does_not_change_arrivals_or_crash_draws() -> None:
    """Common random numbers: the same seed gives the same produced messages and the same
    crashes whatever the strategy, so strategies differ only by what they do with them."""
    a = sim.run(scenario("at-least-once", 0.01, "during-processing"), seed=3).summary
    b = sim.run(scenario("transactional", 0.01, "during-processing"), seed=3).summary
    assert a["produced"] == b["produced"]
    assert a["crashes"] == b["crashes"]


def test_the_summary_has_effect_keys_only_with_a_ledger() -> None:
    plain = Scenario.from_dict(
        {
            "name": "plain",
            "duration": 5.0,
            "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
            "producers": [{"name": "p", "to": "q", "rate": 10.0}],
            "consumers": [{"name": "c", "from": "q"}],
        }
    )
    results = sim.run(plain)
    assert not any(key.startswith("effects_") for key in results.summary)
    assert "guarantees.ledger" not in results.tables
    guarded = sim.run(scenario("at-least-once"), seed=1)
    assert "guarantees.journal" not in guarded.tables  # untraced: no per-message journal
    ledger = guarded.tables["guarantees.ledger"]
    assert ledger.set_index("applications")["messages"].to_dict() == {
        1: guarded.summary["produced"]
    }


# ----- the parts -----
def test_ledger_counts_applications_per_message_in_about_a_byte_each() -> None:
    ledger = EffectLedger()
    ids = list(ledger.issuing(iter(range(1, 100_001))))
    assert ids == list(range(1, 100_001))
    for i in range(1, 100_001, 2):
        ledger.apply(i)
    ledger.apply(3)
    ledger.apply(3)
    assert ledger.applications(3) == 3
    assert ledger.applications(2) == 0
    assert ledger.outcomes() == {
        "effects_lost": 50_000,
        "effects_once": 49_999,
        "effects_duplicated": 1,
    }
    assert len(ledger._counts) < 100_001 + (1 << 16) + 1  # one byte per id, plus a chunk


def test_dedup_store_forgets_ids_after_its_window() -> None:
    store = DedupStore(window=10.0)
    store.record(1, now=0.0)
    store.record(2, now=5.0)
    assert store.seen(1, now=9.9) and store.seen(2, now=9.9)
    assert not store.seen(1, now=10.0)  # its window is over
    assert store.seen(2, now=14.9)
    assert not store.seen(2, now=15.0)
    assert len(store) == 0 and store.forgotten == 2


# ----- bad input -----
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"guarantee": {"strategy": "at-least-once", "dedup_window": "1min"}},
            "consumers[0].guarantee: dedup_window applies to idempotent and transactional, "
            "not at-least-once",
        ),
        (
            {"guarantee": {"strategy": "exactly-once"}},
            "consumers[0].guarantee.strategy: expected 'at-most-once', 'at-least-once', "
            "'idempotent', 'transactional' or 'kafka-transactions'",
        ),
        (
            {"guarantee": {"strategy": "idempotent", "crash_point": "mid-ack"}},
            "consumers[0].guarantee.crash_point: unknown crash point 'mid-ack' (known: "
            "before-processing, during-processing, after-effect, after-processing, after-ack)",
        ),
        (
            {"guarantee": {"strategy": "idempotent", "crash_probability": 2}},
            "consumers[0].guarantee.crash_probability: ",
        ),
        (
            {"guarantee": {"strategy": "idempotent", "windows": 3}},
            "consumers[0].guarantee.windows: unknown key 'windows'",
        ),
        (
            {"ack": "auto", "guarantee": {"strategy": "idempotent"}},
            "consumers[0].ack: auto-ack acknowledges on delivery, which is at-most-once",
        ),
        (
            {"ack": "auto", "guarantee": {"strategy": "at-most-once", "ack_loss_probability": 0.1}},
            "consumers[0].guarantee.ack_loss_probability: an auto-ack consumer sends no acks",
        ),
    ],
)
def test_bad_guarantee_sections_are_one_line_errors(change: dict[str, Any], expected: str) -> None:
    data: dict[str, Any] = {
        "name": "bad",
        "duration": 5.0,
        "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
        "producers": [{"name": "p", "to": "q", "rate": 1.0}],
        "consumers": [{"name": "c", "from": "q", **change}],
    }
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data, "x.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"x.yaml: {expected}"), message


def test_producer_loss_probabilities_must_leave_room_for_success() -> None:
    data: dict[str, Any] = {
        "name": "bad",
        "duration": 5.0,
        "broker": {"type": "rabbitmq", "queues": [{"name": "q", "durable": True}]},
        "producers": [
            {
                "name": "p",
                "to": "q",
                "rate": 1.0,
                "publish_loss_probability": 0.6,
                "confirm_loss_probability": 0.6,
            }
        ],
    }
    with pytest.raises(ScenarioError, match="must not exceed 1"):
        Scenario.from_dict(data, "x.yaml")


def test_guaranteed_consumers_share_one_source() -> None:
    data: dict[str, Any] = {
        "name": "bad",
        "duration": 5.0,
        "broker": {
            "type": "rabbitmq",
            "queues": [{"name": "a", "durable": True}, {"name": "b", "durable": True}],
        },
        "consumers": [
            {"name": "x", "from": "a", "guarantee": {"strategy": "at-least-once"}},
            {"name": "y", "from": "b", "guarantee": {"strategy": "at-least-once"}},
        ],
    }
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data, "x.yaml")
    assert str(caught.value).startswith("x.yaml: consumers[1].from: consumers with a guarantee")


def test_a_lost_ack_on_receipt_returns_the_message_at_most_once() -> None:
    """At most once acks on receipt; if that ack is lost the connection drops before the
    broker forgot the message, so it is redelivered: nothing is lost or applied twice."""
    s = run(scenario("at-most-once", ack_loss_probability=0.01), SEEDS[0])
    assert s["acks_lost"] > 0
    assert s["redelivered"] >= s["acks_lost"]
    assert s["effects_once"] == s["produced"]


def test_fault_crashes_reach_a_guaranteed_consumer() -> None:
    """A `faults:` crash closes the same channel: at least once, the broker requeues what the
    consumer held and no effect is lost."""
    data = scenario("at-least-once").raw
    data["consumers"][0]["service_time"] = "exp(4ms)"
    data["faults"] = [{"target": "billing", "kind": "crash", "start": 10.0, "end": 12.0}]
    results = sim.run(Scenario.from_dict(data), seed=SEEDS[0])
    s = results.summary
    assert results.conservation_gap() == 0
    assert s["effects_lost"] == 0
    assert s["effects_once"] + s["effects_duplicated"] == s["produced"]
    assert list(results.events["event"]) == ["crash start", "crash end"]
