"""The broker contract, on every registered broker (`sim.broker_types()`): a broker that
registers is tested here at once.

(a) at its ideal settings (its spec's `IdealQueue`) it is the queue of queueing theory: M/M/1
    and M/M/c within 3% of the analytic mean time in system;
(b) it conserves messages, and Little's law holds: mean_backlog = throughput x latency_mean;
(c) it is deterministic, and the same seed gives every broker the same traffic: the same
    arrivals and the same service times (common random numbers);
(d) it takes every fault kind on its consumers, and crashes on its nodes;
(e) it runs every delivery-guarantee strategy with the invariants of tests/test_guarantees.py;
(f) it refuses another broker's fields with the one message shape;
(g) its ready / in_flight / backlog measures agree with the per-message trace.

What a broker cannot do, its spec says (`BrokerSpec.cannot`), and the test says so by
asserting the reason is given, never by skipping.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.brokers.registry import SPECS, spec_of
from sim.scenario import Scenario, ScenarioError

TYPES = sim.broker_types()
SOURCE = "jobs"


def ideal(
    broker_type: str,
    *,
    rate: float,
    service: str,
    consumers: int = 1,
    duration: float,
    warmup: float = 0.0,
    seed: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    """One Poisson producer into one source read by `consumers` competing replicas, at the
    broker's ideal settings."""
    spec = spec_of(broker_type)
    assert spec.ideal is not None, f"{broker_type}: its spec declares no ideal settings"
    queue = spec.ideal
    data: dict[str, Any] = {
        "name": f"contract_{broker_type}",
        "seed": seed,
        "duration": duration,
        "warmup": warmup + queue.warmup,
        "broker": queue.section(SOURCE, consumers),
        "producers": [{"name": "p", "to": SOURCE, "rate": rate, **queue.producer}],
        "consumers": [
            {
                "name": "c",
                "from": SOURCE,
                "replicas": consumers,
                "service_time": service,
                **queue.consumer,
            }
        ],
    }
    data.update(extra)
    return data


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean time in system of M/M/c (Erlang C)."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam) + 1 / mu


# ----- (a) queueing theory, (b) conservation and Little's law -----
@pytest.fixture(scope="module", params=TYPES)
def mm1(request: pytest.FixtureRequest) -> tuple[str, sim.Results]:
    """M/M/1 at rho 0.5 (lambda 10/s, mu 20/s): about 150,000 messages after the warm-up."""
    broker_type = request.param
    data = ideal(broker_type, rate=10.0, service="exp(50ms)", duration=15_100.0, warmup=100.0)
    return broker_type, sim.run(Scenario.from_dict(data))


def test_mm1_matches_theory(mm1: tuple[str, sim.Results]) -> None:
    broker_type, results = mm1
    theory = 1 / (20.0 - 10.0)
    measured = results.summary["latency_mean"]
    assert measured == pytest.approx(theory, rel=0.03), broker_type


def test_conservation_and_littles_law(mm1: tuple[str, sim.Results]) -> None:
    broker_type, results = mm1
    s = results.summary
    assert results.conservation_gap() == 0, broker_type
    assert s["lost"] == s["dropped"] == s["rejected"] == s["expired"] == 0
    # L = lambda W, over the same window and messages (docs/results.md: warm-up).
    assert s["mean_backlog"] == pytest.approx(s["throughput"] * s["latency_mean"], rel=0.02)
    assert s["max_backlog"] >= s["max_queue_depth"]


@pytest.mark.parametrize("broker_type", TYPES)
def test_mmc_matches_theory_or_the_spec_says_why_not(broker_type: str) -> None:
    spec = spec_of(broker_type)
    if "mmc" in spec.cannot:
        assert len(spec.cannot["mmc"]) > 20  # a reason, shown in the README's feature table
        return
    lam, mu, c = 18.0, 10.0, 3  # rho 0.6
    data = ideal(
        broker_type, rate=lam, service="exp(100ms)", consumers=c, duration=8_100.0, warmup=100.0
    )
    results = sim.run(Scenario.from_dict(data))
    assert results.summary["latency_mean"] == pytest.approx(erlang_c_wait(lam, mu, c), rel=0.03)


# ----- (c) determinism and common random numbers -----
def _short(broker_type: str, **extra: Any) -> dict[str, Any]:
    return ideal(broker_type, rate=5.0, service="exp(100ms)", duration=120.0, **extra)


def _service_times(results: sim.Results) -> np.ndarray:
    """Each processing's service time, from the trace of one FIFO consumer: it starts when
    the message was delivered or the previous one finished, whichever is later."""
    trace = results.trace
    assert trace is not None
    delivered = trace[trace["event"] == "delivered"].groupby("message_id")["time"].first()
    done = trace[trace["event"] == "processed"].set_index("message_id")["time"].sort_values()
    starts = np.maximum(delivered.reindex(done.index).to_numpy(), np.r_[0.0, done.to_numpy()[:-1]])
    return done.to_numpy() - starts


def test_same_seed_same_run_and_the_same_traffic_on_every_broker() -> None:
    runs = {}
    for broker_type in TYPES:
        scenario = Scenario.from_dict(_short(broker_type))
        first, again = sim.run(scenario, trace=True), sim.run(scenario, trace=True)
        assert first.summary == again.summary, broker_type
        pd.testing.assert_frame_equal(first.timeseries, again.timeseries)
        runs[broker_type] = first
    reference = next(iter(runs.values()))
    arrivals = reference.trace[reference.trace["event"] == "produced"]["time"].to_numpy()
    services = _service_times(reference)
    for broker_type, results in runs.items():
        produced = results.trace[results.trace["event"] == "produced"]["time"].to_numpy()
        np.testing.assert_array_equal(produced, arrivals, err_msg=broker_type)
        # The k-th processing draws the k-th service time, on every broker, even where the
        # first ones start later (Kafka's first rebalance waits a few seconds).
        mine = _service_times(results)
        n = min(len(mine), len(services))
        assert n > 400
        np.testing.assert_allclose(
            mine[:n], services[:n], rtol=1e-9, atol=1e-9, err_msg=broker_type
        )


# ----- (d) faults -----
@pytest.mark.parametrize("broker_type", TYPES)
@pytest.mark.parametrize("kind", ["crash", "down", "slow", "error"])
def test_every_fault_kind_on_consumers(broker_type: str, kind: str) -> None:
    fault: dict[str, Any] = {"target": "c.0", "kind": kind, "start": 40.0, "end": 70.0}
    if kind == "slow":
        fault["factor"] = 5.0
    if kind == "error":
        fault["probability"] = 0.5
    base = Scenario.from_dict(_short(broker_type, consumers=2))
    faulted = Scenario.from_dict(_short(broker_type, consumers=2, faults=[fault]))
    before, after = sim.run(base, trace=True), sim.run(faulted, trace=True)
    assert after.conservation_gap() == 0
    windows = after.events[after.events["component"] == "c.0"]["event"].tolist()
    assert windows == [f"{kind} start", f"{kind} end"]

    def busy(results: sim.Results) -> int:  # what c.0 finished while the fault lasted
        t = results.trace
        assert t is not None
        done = t[(t["event"] == "processed") & (t["component"] == "c.0")]
        return int(done["time"].between(40.0, 70.0).sum())

    if kind == "error":
        assert after.summary["consumer_failures"] > 0
    else:
        assert busy(after) < busy(before), (broker_type, kind)


@pytest.mark.parametrize("broker_type", TYPES)
def test_node_crashes_or_the_spec_says_why_not(broker_type: str) -> None:
    spec = spec_of(broker_type)
    data = _short(broker_type)
    nodes = list(spec.nodes(Scenario.from_dict(data).broker))
    if not nodes:
        assert len(spec.cannot["node crash"]) > 20
        return
    data["faults"] = [{"target": nodes[0], "kind": "crash", "start": 30.0, "end": 50.0}]
    results = sim.run(Scenario.from_dict(data))
    assert results.conservation_gap() == 0
    events = results.events[results.events["component"] == nodes[0]]
    assert events["event"].tolist() == ["crash start", "crash end"]


# ----- (e) delivery guarantees -----
def _guaranteed(broker_type: str, strategy: str, point: str | list[str], **more: Any) -> Scenario:
    data = ideal(broker_type, rate=100.0, service="exp(2ms)", duration=90.0)
    data["producers"][0]["stop"] = 40.0
    consumer = data["consumers"][0]
    consumer["guarantee"] = {
        "strategy": strategy,
        "crash_probability": 0.003,
        "crash_point": point,
        "restart_after": "50ms",
        **more,
    }
    return Scenario.from_dict(data)


def _outcomes(results: sim.Results) -> dict[str, int]:
    s = results.summary
    assert results.conservation_gap() == 0
    assert s["effects_lost"] + s["effects_once"] + s["effects_duplicated"] == s["produced"]
    assert s["crashes"] > 0
    return s


def _strategy_params() -> list[Any]:
    found = []
    for broker_type in TYPES:
        for strategy in sorted(SPECS[broker_type].strategies):
            found.append(pytest.param(broker_type, strategy, id=f"{broker_type}-{strategy}"))
    return found


@pytest.mark.parametrize(("broker_type", "strategy"), _strategy_params())
def test_every_strategy_keeps_its_invariant(broker_type: str, strategy: str) -> None:
    before = ["before-processing", "during-processing"]
    if strategy == "at-most-once":
        s = _outcomes(sim.run(_guaranteed(broker_type, strategy, [*before, "after-ack"])))
        assert s["effects_duplicated"] == 0 and s["effects_lost"] > 0
    elif strategy == "at-least-once":
        s = _outcomes(sim.run(_guaranteed(broker_type, strategy, [*before, "after-processing"])))
        assert s["effects_lost"] == 0 and s["effects_duplicated"] > 0
    else:  # idempotent, transactional, kafka-transactions: exactly once, inside the window
        point = "after-processing"
        s = _outcomes(sim.run(_guaranteed(broker_type, strategy, [*before, point])))
        assert s["effects_lost"] == 0 and s["effects_duplicated"] == 0
        assert s["effects_once"] == s["produced"]


def test_every_broker_runs_the_generic_strategies() -> None:
    generic = {"at-most-once", "at-least-once", "idempotent", "transactional"}
    for broker_type in TYPES:
        assert generic <= SPECS[broker_type].strategies, broker_type


# ----- (f) foreign fields -----
@pytest.mark.parametrize("broker_type", TYPES)
def test_another_brokers_fields_are_refused_with_one_message_shape(broker_type: str) -> None:
    spec = spec_of(broker_type)
    for other in TYPES:
        if other == broker_type:
            continue
        for kind in ("producers", "consumers"):
            own = sorted(SPECS[other].own_fields(kind) - spec.own_fields(kind))
            if not own:
                continue
            model = SPECS[other].producer if kind == "producers" else SPECS[other].consumer
            field = model.model_fields[own[0]]
            key = field.alias or own[0]
            data = _short(broker_type)
            item = data[kind][0]
            item[key] = _sample_value(own[0], field)
            with pytest.raises(ScenarioError) as caught:
                Scenario.from_dict(data, "x.yaml")
            message = str(caught.value)
            pattern = (
                rf"x\.yaml: {kind}\[0\]\.{re.escape(key)}: not used by broker type "
                rf"'{broker_type}' \((it reads .+|.+|a setting of [a-z, ]+)\)$"
            )
            assert re.match(pattern, message), message


def _sample_value(name: str, field: Any) -> Any:
    """A valid value for a field (its default when it has a usable one)."""
    default = field.default
    if default is not None and not isinstance(default, list | dict):
        return default
    return {
        "group": "g",
        "message_group": "m",
        "routing_key": "k",
        "poison_header": "x",
        "partition": 0,
        "group_id": "g",
        "commit": "after-processing",
        "wait_time": 1.0,
        "claim_idle": 1.0,
        "ttl": 1.0,
        "priority": 1,
        "headers": {"a": 1},
    }.get(name, 1)


# ----- (g) measures against the trace -----
@pytest.mark.parametrize("broker_type", TYPES)
@pytest.mark.parametrize("ack", ["manual", "auto"])
def test_ready_in_flight_and_backlog_agree_with_the_trace(broker_type: str, ack: str) -> None:
    spec = spec_of(broker_type)
    data = ideal(broker_type, rate=20.0, service="exp(80ms)", consumers=2, duration=200.0)
    data["sample_interval"] = 1.0
    if ack == "auto":
        if "ack" not in spec.reads:
            return  # this broker acknowledges by commits (Kafka's auto-commit is its default)
        data["consumers"][0]["ack"] = "auto"
    results = sim.run(Scenario.from_dict(data), trace=True)
    frame = results.timeseries
    trace = results.trace
    assert trace is not None
    finished = trace[trace["event"].isin(["processed", "lost", "dropped", "expired", "rejected"])]
    finished = finished.drop_duplicates("message_id")
    produced = trace[trace["event"] == "produced"]
    serving = spec.ideal.warmup + 1.0  # before it, Kafka's group has no positions yet
    for _, row in frame.iterrows():
        now = row["time"]
        in_system = (produced["time"] <= now).sum() - (finished["time"] <= now).sum()
        assert row["backlog"] == in_system, (broker_type, now)
        ready = sum(row[c] for c in results.columns_of("ready"))
        in_flight = sum(row[c] for c in results.columns_of("in_flight"))
        if now >= serving:
            assert ready + in_flight == row["backlog"], (broker_type, now)
    assert (
        results.summary["max_queue_depth"] >= frame[results.columns_of("ready")].sum(axis=1).max()
    )


def test_latency_by_has_a_row_for_every_source_consumer_and_replica() -> None:
    for broker_type in TYPES:
        data = ideal(broker_type, rate=2.0, service="exp(100ms)", consumers=3, duration=60.0)
        data["consumers"].append({**data["consumers"][0], "name": "idle", "replicas": 1})
        data["consumers"][1]["service_time"] = "1h"  # takes one message and never finishes it
        results = sim.run(Scenario.from_dict(data))
        replicas = results.latency_by("replica")
        assert len(replicas) == 4
        counted = replicas["count"].sum()  # messages produced after the warm-up, processed
        assert 0 < counted <= results.summary["processed"]
        assert results.latency_by("consumer")["count"].sum() == counted
        assert results.latency_by("source")["count"].sum() == counted
        for name, row in replicas.iterrows():
            assert row["count"] <= results.summary["processed_by"].get(name, 0)
        assert list(results.latency_by("consumer").index) == ["c", "idle"]
        assert results.latency_by("consumer").loc["idle", "count"] == 0
        assert len(results.latency_by("source")) == len(results.columns_of("ready"))
