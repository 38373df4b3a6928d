"""The Pulsar producer's fused ideal path (`PartitionProducer.add_direct` and
`PersistentTopic.store_at_once`, speed) must give exactly what the general path gives (`add`,
an `Op`, `_arrive`, `write`, `_persisted`): the same summary, time series, latency CDF, tables
and trace, bit for bit; so must the consumer's fused read (`ClientConsumer._read_one`) against
the general one (`Subscription.flow`, `dispatch`, `send`, `_from_broker`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import simpy
import yaml
from simpy.events import URGENT

import sim
from sim.brokers.pulsar import client
from sim.brokers.pulsar.client import PartitionProducer
from sim.brokers.pulsar.storage import Entry
from sim.message import BareMessage, new_bare_message
from sim.scenario import Scenario
from tests.helpers import run_outputs
from tests.pulsar_helpers import Pulsar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

ROOT = Path(__file__).resolve().parent.parent


def _count_general(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the publishes that reach the broker by the general `_arrive` (the fused path
    makes none)."""
    calls = [0]
    general = PartitionProducer._arrive

    def counted(self: PartitionProducer, op: Any, epoch: int) -> None:
        calls[0] += 1
        general(self, op, epoch)

    monkeypatch.setattr(PartitionProducer, "_arrive", counted)
    return calls


@pytest.mark.parametrize(
    "args",
    [
        {"messages": 3000},
        {"messages": 3000, "consumers": 3},
        {"messages": 1500, "sources": 3},
        {"messages": 2000, "bounded": True},
    ],
)
def test_direct_path_gives_what_the_general_path_gives(
    args: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_general(monkeypatch)
    direct = run_outputs(sim.run(Scenario.from_dict(workloads.mm1("pulsar", **args))))
    assert calls[0] == 0  # every publish took the fused path
    monkeypatch.setattr(PartitionProducer, "direct", False)
    general = run_outputs(sim.run(Scenario.from_dict(workloads.mm1("pulsar", **args))))
    assert calls[0] == json.loads(general["summary"])["produced"]  # no batching: an Op a message
    assert direct == general


@pytest.mark.parametrize(
    "name",
    [
        "pulsar_subscription_types.yaml",
        "pulsar_geo_replication.yaml",
        "pulsar_dlq.yaml",
        "pulsar_key_shared_join.yaml",
        "pulsar_backlog_quota.yaml",
    ],
)
def test_scenarios_give_the_same_both_ways_traced(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole scenarios (subscription types, geo replication, dead letters, key_shared joins,
    backlog quotas), traced (the copies are then made by `make_copy`), their producers not
    batching so that the fused path is taken: the same with it on and off."""
    data = yaml.safe_load((ROOT / "scenarios" / name).read_text())
    for producer in data["producers"]:
        producer["batchingEnabled"] = False
    data["duration"] = "120s"
    scenario = Scenario.from_dict(data)
    calls = _count_general(monkeypatch)

    def run() -> dict[str, dict[str, Any]]:
        variants = sim.run_variants(scenario, trace=True)
        return {variant: run_outputs(results) for variant, results in variants.items()}

    direct = run()
    fused = sum(json.loads(v["summary"])["produced"] for v in direct.values()) - calls[0]
    assert fused > 0  # some publishes took the fused path
    monkeypatch.setattr(PartitionProducer, "direct", False)
    assert run() == direct


def test_direct_path_is_not_taken_with_a_delay_or_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hop with a delay, or bookies that take time, keep the general path (the fused one
    assumes an instant hop and an add confirmed at once)."""
    calls = _count_general(monkeypatch)
    data = workloads.mm1("pulsar", 500)
    data["network"] = {"producer_to_broker": "1ms"}
    results = sim.run(Scenario.from_dict(data))
    assert calls[0] == results.summary["produced"] > 0
    calls[0] = 0
    data = workloads.mm1("pulsar", 500)
    data["broker"]["bookie_write_latency"] = "2ms"
    results = sim.run(Scenario.from_dict(data))
    assert calls[0] == results.summary["produced"] > 0


# ----- the consumer's fused read (`ClientConsumer._read_one`) -----


def _count_fused(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the reads the fused path made (it returns anything but `_GENERAL`)."""
    taken = [0]
    fused = client.ClientConsumer._read_one

    def counted(self: client.ClientConsumer, *args: Any) -> Any:
        got = fused(self, *args)
        if got is not client._GENERAL:
            taken[0] += 1
        return got

    monkeypatch.setattr(client.ClientConsumer, "_read_one", counted)
    return taken


def _tied(consumers: int, **consumer: Any) -> dict[str, Any]:
    """Constant arrivals and service times (events of many instants tie)."""
    data = workloads.mm1("pulsar", 400, consumers=consumers)
    data["producers"][0]["arrivals"] = "constant"
    data["consumers"][0]["service_time"] = 1.0
    data["consumers"][0].update(consumer)
    return data


def _limited(limit: int) -> dict[str, Any]:
    """M/M/1 with a broker limit on each consumer's unacked messages."""
    data = workloads.mm1("pulsar", 2000)
    data["broker"]["maxUnackedMessagesPerConsumer"] = limit
    return data


@pytest.mark.parametrize(
    ("data", "reads_fused"),
    [
        (workloads.mm1("pulsar", 3000), True),
        (workloads.mm1("pulsar", 3000, consumers=3), False),
        (workloads.mm1("pulsar", 1500, sources=3), True),
        (workloads.mm1("pulsar", 2000, bounded=True), True),
        (workloads.mm1("pulsar", 2000, consumer={"ackTimeoutMillis": 30_000}), True),
        (workloads.drain("pulsar", 2000), True),
        # Ties: read_at_once declines where another event is due at its instant.
        (_tied(1), False),
        (_tied(2), False),
        # An unacked limit (read_at_once is not taken there; the dispatch's own checks are).
        (_limited(1), False),
        (_limited(2), False),
    ],
)
@pytest.mark.parametrize("traced", [False, True])
def test_the_fused_read_gives_what_the_general_read_gives(
    data: dict[str, Any], reads_fused: bool, traced: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer's Flow, read, send and arrival in one step (`fused_read`) against the
    general read (`Subscription.flow`, `dispatch`, `send`, `_from_broker`): every output
    equal, traced or not, with one consumer or several, with ties, an ack timeout's tracker
    and a consumer's unacked limit; the producer's fused path on and off."""
    taken = _count_fused(monkeypatch)
    fused = run_outputs(sim.run(Scenario.from_dict(data), trace=traced))
    if reads_fused and not traced:
        assert taken[0] > 0  # the fused read was taken
    monkeypatch.setattr(client.ClientConsumer, "fused_read", False)
    taken[0] = 0
    assert run_outputs(sim.run(Scenario.from_dict(data), trace=traced)) == fused
    assert taken[0] == 0
    monkeypatch.setattr(PartitionProducer, "direct", False)
    assert run_outputs(sim.run(Scenario.from_dict(data), trace=traced)) == fused


@pytest.mark.parametrize(
    "name",
    [
        "pulsar_subscription_types.yaml",
        "pulsar_dlq.yaml",
        "pulsar_backlog_quota.yaml",
        "pulsar_geo_replication.yaml",
    ],
)
def test_scenarios_give_the_same_with_the_fused_read_and_without(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole scenarios, their consumers given no receiver queue and their acks not grouped
    (so that reads may be fused), their producers not batching, untraced: the same with the
    fused read on and off."""
    data = yaml.safe_load((ROOT / "scenarios" / name).read_text())
    for consumer in data["consumers"]:
        consumer["receiverQueueSize"] = 0
        consumer["acknowledgmentGroupTime"] = 0
    for producer in data["producers"]:
        producer["batchingEnabled"] = False  # (a zero receiver queue takes no batches)
    data["duration"] = "120s"
    scenario = Scenario.from_dict(data)

    def run() -> dict[str, dict[str, Any]]:
        return {v: run_outputs(r) for v, r in sim.run_variants(scenario).items()}

    fused = run()
    monkeypatch.setattr(client.ClientConsumer, "fused_read", False)
    assert run() == fused


def test_a_fused_read_behind_an_event_of_its_instant_makes_the_wake_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When an event of the same instant is due before the wake-up (here an urgent one,
    scheduled as the delivery is made), the fused read puts the delivery in the receiver
    queue and makes the wake-up with the event id it would have had: the run is the general
    read's, with the same urgent event scheduled as the broker sends the delivery."""
    made: list[int] = []

    def urgent_now(env: Any) -> None:
        event = simpy.Event(env)
        event._ok = True
        event._value = None
        env.schedule(event, URGENT)

    def new(cls: type) -> Any:  # `_read_one` makes its Delivery once it reads
        if cls is client.Delivery:
            made.append(1)
            urgent_now(sim_env[0])
        return object.__new__(cls)

    from_broker = client.PartitionConsumer._from_broker

    def delivery_with_an_urgent_event(self: Any, delivery: Any) -> None:
        urgent_now(self.core.env)
        from_broker(self, delivery)

    sim_env: list[Any] = []
    original_init = simpy.Environment.__init__

    def remember(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        sim_env[:] = [self]

    monkeypatch.setattr(simpy.Environment, "__init__", remember)
    monkeypatch.setattr(client, "_new", new)
    monkeypatch.setattr(client.PartitionConsumer, "_from_broker", delivery_with_an_urgent_event)
    data = workloads.mm1("pulsar", 1000)
    prepared = [0]
    read_one = client.ClientConsumer._read_one

    def counted(self: client.ClientConsumer, *args: Any) -> Any:
        before = len(made)
        got = read_one(self, *args)
        if got is None and len(made) > before:
            # Read (not a read that found nothing, which waits: `fused_idle`), then behind
            # the urgent event: the wake-up made.
            prepared[0] += 1
        return got

    monkeypatch.setattr(client.ClientConsumer, "_read_one", counted)
    fused = run_outputs(sim.run(Scenario.from_dict(data)))  # (untraced: the fused read's case)
    assert made and prepared[0] == len(made)
    monkeypatch.setattr(client.ClientConsumer, "fused_read", False)
    assert run_outputs(sim.run(Scenario.from_dict(data))) == fused


def test_the_fused_store_makes_the_entry_write_makes() -> None:
    """`store_at_once` makes its Entry slot by slot: every slot as `write` leaves it."""
    entries = []
    for fused in (True, False):
        p = Pulsar()
        p.client.subscribe("t", "s", "Shared")
        topic = p.topic()
        msgs = (BareMessage(1, 0.0, 10, "k"),)
        if fused:
            entry = topic.store_at_once(msgs, 10, "k", 0.0)
        else:
            stored: list[Any] = []
            assert topic.write(Entry(msgs, 10, "k", 0.0, topic.cluster.index), stored.append)
            (entry,) = stored
        assert entry is not None
        slots = {slot: getattr(entry, slot) for slot in Entry.__slots__}
        assert slots.pop("msgs") is msgs
        entries.append(slots)
    assert entries[0] == entries[1]


def test_new_bare_message_is_a_bare_message() -> None:
    """The producer's message factory sets every slot BareMessage's `__init__` sets."""
    for key in (None, "k"):
        made, built = new_bare_message(3, 1.5, 10, key), BareMessage(3, 1.5, 10, key)
        assert type(made) is BareMessage
        assert {s: getattr(made, s) for s in _slots(BareMessage)} == {
            s: getattr(built, s) for s in _slots(BareMessage)
        }


def _slots(cls: type) -> list[str]:
    return [s for c in cls.__mro__ for s in getattr(c, "__slots__", ())]
