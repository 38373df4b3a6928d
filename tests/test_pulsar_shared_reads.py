"""The shared subscription's fast paths with competing consumers must give exactly what the
general dispatch gives: the fused read of a consumer that is the only one available
(`ClientConsumer.fused_read_shared`), the fused read that finds nothing
(`ClientConsumer.fused_idle`), the send of a new entry to a consumer with room for one
(`SharedSubscription.fused_send`) and the pick's walk over one priority level
(`SharedSubscription.one_level_walk`, which tests each consumer's `avail` flag) and the idle
consumer's wait by `fetch_event`, not `fetch`'s generator (`ConsumerReplica.waits_by_event`),
and four of the tenth round: a consumer's place in the list (`SharedSubscription.placed`),
`dispatch_new`'s own walk (`SharedSubscription.fused_pick`), the out-of-order ack made in
`Subscription.ack` (`Subscription.fused_ack`) and the wait `take` leaves for the cycle
(`PulsarConsumer.take_waits`). Each is turned off alone, then all together, and every
output compared (`run_outputs`: the summary, time series, latency CDF, tables and trace), on
workloads with several consumers, unacked limits, receiver queues, priority levels, ties,
nacks, ack timeouts, consumer crashes and pauses and a broker crash (the cursor comes back from
its persisted ranges)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import sim
from sim.brokers.pulsar import client, subscription
from sim.brokers.pulsar.client import ClientConsumer
from sim.brokers.pulsar.runtime import PulsarConsumer
from sim.brokers.pulsar.subscription import BrokerConsumer, SharedSubscription
from sim.consumers import ConsumerReplica
from sim.scenario import Scenario
from tests.helpers import run_outputs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads

ROOT = Path(__file__).resolve().parent.parent

# (class, switch) of every fast path these tests turn off.
SWITCHES = [
    (ClientConsumer, "fused_read_shared"),
    (ClientConsumer, "fused_idle"),
    (SharedSubscription, "fused_send"),
    (SharedSubscription, "one_level_walk"),
    (ConsumerReplica, "waits_by_event"),
    (SharedSubscription, "placed"),
    (PulsarConsumer, "take_waits"),
    (subscription.Subscription, "fused_ack"),
    (SharedSubscription, "fused_pick"),
]


def _mm1(messages: int, consumers: int, **consumer: Any) -> dict[str, Any]:
    return workloads.mm1("pulsar", messages, consumers=consumers, consumer=consumer or None)


def _broker(data: dict[str, Any], **settings: Any) -> dict[str, Any]:
    data["broker"].update(settings)
    return data


def _tied(consumers: int) -> dict[str, Any]:
    """Constant arrivals and service times: events of many instants tie."""
    data = _mm1(600, consumers)
    data["producers"][0]["arrivals"] = "constant"
    data["consumers"][0]["service_time"] = float(consumers)
    return data


def _priorities() -> dict[str, Any]:
    """Two consumer groups on one shared subscription, at priority levels 0 and 1: the pick
    takes the general walk over the levels."""
    data = _mm1(2000, 3)
    first = data["consumers"][0]
    first["subscription"] = "work"
    second = dict(first, name="spare", replicas=2, priorityLevel=1)
    data["consumers"].append(second)
    return data


def _faults(data: dict[str, Any], *faults: dict[str, Any]) -> dict[str, Any]:
    data["faults"] = list(faults)
    return data


def _idle_crash() -> dict[str, Any]:
    """Consumers idle most of the time (short service times): a crash mostly interrupts the
    cycle's wait, and the restart comes while the others wait too."""
    return _faults(
        _mm1(1500, 4, service_time="exp(0.05s)"),
        {"target": "c0.1", "kind": "crash", "start": "300s", "end": "500s"},
        {"target": "c0.2", "kind": "crash", "start": "301s", "end": "320s"},
    )


def _variants() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("5 consumers", _mm1(2500, 5)),
        ("50 consumers", _mm1(1500, 50)),
        ("2 sources of 3", workloads.mm1("pulsar", 1500, sources=2, consumers=3)),
        ("receiver queue 1", _mm1(1500, 4, receiverQueueSize=1)),
        ("receiver queue 3", _mm1(1500, 4, receiverQueueSize=3)),
        ("unacked 1 a consumer", _broker(_mm1(1500, 3), maxUnackedMessagesPerConsumer=1)),
        ("unacked 2 a consumer", _broker(_mm1(1500, 3), maxUnackedMessagesPerConsumer=2)),
        (
            "unacked 3 a subscription",
            _broker(_mm1(1500, 4), maxUnackedMessagesPerSubscription=3),
        ),
        ("priority levels", _priorities()),
        ("ties, 3 consumers", _tied(3)),
        ("ack timeout", _mm1(1500, 4, ackTimeoutMillis=2000)),
        (
            "nacks",
            _faults(
                _mm1(1500, 4, negativeAckRedeliveryDelay=1500),
                {"target": "c0", "kind": "error", "probability": 0.1},
            ),
        ),
        (
            "a consumer crashes",
            _faults(
                _mm1(2000, 4),
                {"target": "c0.1", "kind": "crash", "start": "300s", "end": "500s"},
                {"target": "c0.2", "kind": "crash", "start": "700s"},
            ),
        ),
        ("a consumer crashes while idle", _idle_crash()),
        (
            "a consumer pauses",
            _faults(
                _mm1(1500, 3), {"target": "c0.0", "kind": "down", "start": "200s", "end": "400s"}
            ),
        ),
        (
            "the broker crashes",
            _faults(
                _mm1(2000, 4),
                {"target": "broker.0", "kind": "crash", "start": "400s", "end": "430s"},
            ),
        ),
    ]


VARIANTS = _variants()


def _run(data: dict[str, Any], traced: bool) -> dict[str, Any]:
    return run_outputs(sim.run(Scenario.from_dict(data), trace=traced))


@pytest.mark.parametrize(("label", "data"), VARIANTS, ids=[label for label, _ in VARIANTS])
@pytest.mark.parametrize("traced", [False, True])
def test_the_shared_fast_paths_give_what_the_general_dispatch_gives(
    label: str, data: dict[str, Any], traced: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _run(data, traced)
    for owner, switch in SWITCHES:
        with monkeypatch.context() as patch:
            patch.setattr(owner, switch, False)
            assert _run(data, traced) == fast, f"{label}: {switch} off differs"
    for owner, switch in SWITCHES:
        monkeypatch.setattr(owner, switch, False)
    assert _run(data, traced) == fast, f"{label}: every switch off differs"


@pytest.mark.parametrize(
    "name",
    [
        "pulsar_subscription_types.yaml",
        "pulsar_dlq.yaml",
        "pulsar_backlog_quota.yaml",
        "pulsar_key_shared_join.yaml",
        "pulsar_geo_replication.yaml",
    ],
)
def test_scenarios_give_the_same_with_the_shared_fast_paths_and_without(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole scenarios (every variant), their consumers given no receiver queue and their
    acks not grouped so that reads may be fused, their producers not batching: the same with
    every switch on and with every switch off."""
    data = yaml.safe_load((ROOT / "scenarios" / name).read_text())
    for consumer in data["consumers"]:
        consumer["receiverQueueSize"] = 0
        consumer["acknowledgmentGroupTime"] = 0
    for producer in data["producers"]:
        producer["batchingEnabled"] = False
    data["duration"] = "120s"
    scenario = Scenario.from_dict(data)

    def run() -> dict[str, dict[str, Any]]:
        return {v: run_outputs(r) for v, r in sim.run_variants(scenario).items()}

    fast = run()
    for owner, switch in SWITCHES:
        monkeypatch.setattr(owner, switch, False)
    assert run() == fast


def test_the_fast_paths_are_taken_with_competing_consumers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 5 competing consumers on the ideal broker, most reads off a backlog are fused,
    most reads that find nothing too, and most new entries that find a consumer idle are
    sent without the general `send`; with the switches off, none is."""
    counts = {"read": 0, "idle": 0, "send": 0, "wait": 0}
    read_one = ClientConsumer._read_one
    general_send = subscription.Subscription.send
    take = PulsarConsumer.take

    def counted_take(self: PulsarConsumer) -> Any:
        self.take_wait = None
        got = take(self)
        if got is None and self.take_wait is not None:
            counts["wait"] += 1  # a wait left for the cycle (`take_waits`)
            # One not yet processed (a re-armed one is pending again): an event whose
            # callbacks ran would resume the cycle at once.
            assert self.take_wait.callbacks is not None
        return got

    def counted_read(self: ClientConsumer, partition: Any, sub: Any, *args: Any) -> Any:
        permits = partition.handle.permits
        got = read_one(self, partition, sub, *args)
        if got is not client._GENERAL and len(sub.handles) > 1:
            # A read that found nothing leaves the Flow's permit.
            counts["idle" if partition.handle.permits > permits else "read"] += 1
        return got

    def counted_send(self: Any, handle: BrokerConsumer, entry: Any) -> None:
        counts["send"] += 1
        general_send(self, handle, entry)

    monkeypatch.setattr(ClientConsumer, "_read_one", counted_read)
    monkeypatch.setattr(subscription.Subscription, "send", counted_send)
    monkeypatch.setattr(PulsarConsumer, "take", counted_take)
    data = _mm1(3000, 5)
    delivered = sim.run(Scenario.from_dict(data)).summary["delivered"]
    fused = dict(counts)
    assert fused["read"] > delivered // 10
    assert fused["idle"] > delivered // 10
    assert fused["send"] < delivered // 20  # every delivery but a few took a fused path
    assert fused["wait"] >= fused["idle"]  # each idle fused read: its wait left by `take`
    counts.update(read=0, idle=0, send=0, wait=0)
    for owner, switch in SWITCHES:
        monkeypatch.setattr(owner, switch, False)
    assert sim.run(Scenario.from_dict(data)).summary["delivered"] == delivered
    assert counts["read"] == counts["idle"] == counts["wait"] == 0
    assert counts["send"] == delivered  # every delivery by the general send


@pytest.mark.parametrize(("label", "data"), VARIANTS, ids=[label for label, _ in VARIANTS])
def test_every_pick_finds_the_avail_flags_as_permits_and_blocks_make_them(
    label: str, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-level walks test `avail` alone: at every pick, on every workload, each
    consumer's flag is `permits > 0 and not blocked`, and the subscription's `available`
    counts the flags set."""
    picks = 0
    next_consumer = SharedSubscription.next_consumer
    dispatch_new = SharedSubscription.dispatch_new

    def check(self: SharedSubscription) -> None:
        nonlocal picks
        picks += 1
        for handle in self.handles:
            assert handle.avail == (handle.permits > 0 and not handle.blocked), label
        assert self.available == sum(handle.avail for handle in self.handles), label

    def checked(self: SharedSubscription) -> Any:
        check(self)
        return next_consumer(self)

    def new_entry(self: SharedSubscription) -> None:  # its own walk (`fused_pick`)
        check(self)
        dispatch_new(self)

    monkeypatch.setattr(SharedSubscription, "next_consumer", checked)
    monkeypatch.setattr(SharedSubscription, "dispatch_new", new_entry)
    sim.run(Scenario.from_dict(data))
    assert picks > 0


def test_the_one_level_walk_picks_what_the_general_walk_picks() -> None:
    """`next_consumer` over one priority level by its slices against the general walk: the
    same consumer and round-robin index from every state of permits, blocks and index."""
    rng = random.Random(7)
    for _ in range(3000):
        count = rng.randint(1, 9)
        handles = []
        for i in range(count):
            handle = BrokerConsumer(None, f"c{i}", 0, lambda _d: None)
            handle.permits = rng.choice([0, 0, 1, 2])
            handle.blocked = rng.random() < 0.2
            handle.avail = handle.permits > 0 and not handle.blocked  # as `refresh` keeps it
            handle.place = i  # as `_number_handles` keeps it
            handles.append(handle)
        index = rng.randint(0, count + 1)
        picks = []
        for walk in (True, False):
            sub = SharedSubscription.__new__(SharedSubscription)
            sub.handles = handles
            sub.round_robin = index
            sub.available = sum(h.permits > 0 and not h.blocked for h in handles)
            SharedSubscription.one_level_walk = walk
            try:
                picked = sub.next_consumer()
            finally:
                SharedSubscription.one_level_walk = True
            picks.append((picked, sub.round_robin))
        assert picks[0] == picks[1]


def test_a_consumer_restarted_after_a_crash_in_its_wait_waits_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash that interrupts the cycle's wait on `fetch_event`'s event leaves `_fetched`
    set; `start` clears it, so the restarted cycle's first `fetch_event` is a wait, not the
    None that ends one (which would make it take again at once)."""
    seen: list[tuple[bool | None, bool]] = []
    start = PulsarConsumer.start
    # `_fetched` is set only when the cycle waits by `fetch_event` (not by `take`'s wait).
    monkeypatch.setattr(PulsarConsumer, "take_waits", False)

    def recorded(self: PulsarConsumer) -> None:
        before = getattr(self, "_fetched", None)
        start(self)
        seen.append((before, self._fetched))

    monkeypatch.setattr(PulsarConsumer, "start", recorded)
    sim.run(Scenario.from_dict(_idle_crash()))
    assert (True, False) in seen  # a restart after a crash in the wait, and it was cleared
    assert all(after is False for _before, after in seen)
