"""A consumer's place in its subscription's list (`BrokerConsumer.place`, read under
`SharedSubscription.placed` by the one-level walk, `dispatch_new`'s own walk and the client's
fused read instead of `handles.index`) and the shared subscription's out-of-order ack made in
`Subscription.ack` (`Subscription.fused_ack`, instead of `Cursor.ack`).

The place must be the consumer's index after every change of the list: consumers joining (the
list sorted by priority level), leaving, a broker's unload and the reconnects after it; the
fused ack must leave the cursor as `Cursor.ack` leaves it and answer what it answers. Whole
workloads and scenarios run both ways in tests/test_pulsar_shared_reads.py (both switches are
among its SWITCHES)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import sim
from sim.brokers.pulsar.client import ClientConsumer
from sim.brokers.pulsar.cursor import Cursor
from sim.brokers.pulsar.subscription import BrokerConsumer, SharedSubscription, Subscription
from sim.scenario import Scenario
from tests.test_pulsar_shared_reads import VARIANTS

ROOT = Path(__file__).resolve().parent.parent


class _Bare(SharedSubscription):
    """A shared subscription with nothing around it: the list's changes alone."""

    def __init__(self) -> None:  # no topic, no service: what add and remove read
        self.handles = []
        self.available = 0
        self.unacked = 0
        self.blocked = False
        self.cursor = Cursor()

    def dispatch(self) -> None:
        pass

    def dispatch_later(self) -> None:
        pass

    def consumer_left(self, handle: BrokerConsumer, entries: list[Any]) -> None:
        pass


def _placed(sub: Subscription) -> list[tuple[str, int]]:
    for index, handle in enumerate(sub.handles):
        assert handle.place == index, (handle.name, handle.place, index)
    return [(handle.name, handle.place) for handle in sub.handles]


def test_the_place_follows_joins_leaves_and_reconnects() -> None:
    sub = _Bare()
    made = {
        name: BrokerConsumer(None, name, priority, lambda _d: None)
        for name, priority in [("a", 1), ("b", 0), ("c", 1), ("d", 0)]
    }
    for handle in made.values():
        assert handle.place == -1  # in no list yet
        sub.add_consumer(handle)
        _placed(sub)
    # Sorted by priority level, in join order within a level.
    assert _placed(sub) == [("b", 0), ("d", 1), ("a", 2), ("c", 3)]
    sub.remove_consumer(made["d"])
    assert made["d"].place == -1
    assert _placed(sub) == [("b", 0), ("a", 1), ("c", 2)]
    sub.add_consumer(made["d"])  # it reconnects: back at its level's end
    assert _placed(sub) == [("b", 0), ("d", 1), ("a", 2), ("c", 3)]
    sub.remove_consumer(made["b"])
    sub.remove_consumer(made["c"])
    assert _placed(sub) == [("d", 0), ("a", 1)]
    late = BrokerConsumer(None, "e", 0, lambda _d: None)
    sub.add_consumer(late)
    assert _placed(sub) == [("d", 0), ("e", 1), ("a", 2)]
    sub.add_consumer(made["b"])
    assert _placed(sub) == [("d", 0), ("e", 1), ("b", 2), ("a", 3)]


@pytest.mark.parametrize(("label", "data"), VARIANTS, ids=[label for label, _ in VARIANTS])
def test_every_pick_and_fused_read_finds_each_place_its_index(
    label: str, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On every workload (crashes and restarts, a broker crash and the reconnects after it,
    priority levels), at every pick (by `next_consumer` or `dispatch_new`'s own walk) and
    every fused read each consumer's place is its index."""
    checks = 0
    next_consumer = SharedSubscription.next_consumer
    dispatch_new = SharedSubscription.dispatch_new
    read_one = ClientConsumer._read_one

    def check(sub: Subscription) -> None:
        nonlocal checks
        checks += 1
        for index, handle in enumerate(sub.handles):
            assert handle.place == index, label

    def picked(self: SharedSubscription) -> Any:
        check(self)
        return next_consumer(self)

    def read(self: ClientConsumer, partition: Any, sub: Any, *args: Any) -> Any:
        check(sub)
        return read_one(self, partition, sub, *args)

    def new_entry(self: SharedSubscription) -> None:
        check(self)
        dispatch_new(self)

    monkeypatch.setattr(SharedSubscription, "next_consumer", picked)
    monkeypatch.setattr(SharedSubscription, "dispatch_new", new_entry)
    monkeypatch.setattr(ClientConsumer, "_read_one", read)
    sim.run(Scenario.from_dict(data))
    assert checks > 0


def _state(cursor: Cursor) -> tuple[Any, ...]:
    return (
        cursor.mark_delete,
        cursor.read_position,
        dict(cursor._acked),
        list(cursor._starts),
        cursor._acked_above,
        cursor._acked_end,
    )


def _clone(cursor: Cursor) -> Cursor:
    copy = Cursor(cursor.mark_delete)
    copy.read_position = cursor.read_position
    copy._acked = dict(cursor._acked)
    copy._starts = list(cursor._starts)
    copy._acked_above = cursor._acked_above
    copy._acked_end = cursor._acked_end
    copy._redelivery = cursor._redelivery.copy()
    copy._replay = cursor._replay.copy()
    return copy


def _checked_acks(monkeypatch: pytest.MonkeyPatch, label: str) -> list[int]:
    """`Subscription.ack` patched to check, at every ack, that a copy of the cursor acked by
    `Cursor.ack` ends as the subscription's own cursor (the fused out-of-order ack, the
    in-order one, or `Cursor.ack` itself), an entry acked already included. Returns the
    counts [acks, acks out of order], filled as the run goes."""
    counts = [0, 0]
    ack = Subscription.ack

    def checked(self: Subscription, handle: Any, index: int) -> None:
        cursor = self.cursor
        copy = _clone(cursor)
        out_of_order = index != cursor.mark_delete + 1 or bool(cursor._acked)
        ack(self, handle, index)
        copy.ack(index)
        assert _state(cursor) == _state(copy), label
        counts[0] += 1
        counts[1] += out_of_order

    monkeypatch.setattr(Subscription, "ack", checked)
    return counts


@pytest.mark.parametrize(("label", "data"), VARIANTS, ids=[label for label, _ in VARIANTS])
def test_every_fused_ack_leaves_the_cursor_as_cursor_ack_does(
    label: str, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At every ack of every shared workload (see `_checked_acks`)."""
    counts = _checked_acks(monkeypatch, label)
    sim.run(Scenario.from_dict(data))
    acks, fused = counts
    assert acks > 0
    if label in ("5 consumers", "50 consumers"):
        assert fused > 0  # competing consumers ack out of order


def test_every_ack_of_every_subscription_type_leaves_the_cursor_as_cursor_ack_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exclusive, failover, shared and key_shared (the scenario's variants, a crash among
    them): every ack as `Cursor.ack` makes it."""
    data = yaml.safe_load((ROOT / "scenarios" / "pulsar_subscription_types.yaml").read_text())
    data["duration"] = "120s"
    counts = _checked_acks(monkeypatch, "subscription types")
    sim.run_variants(Scenario.from_dict(data))
    assert counts[0] > 0
