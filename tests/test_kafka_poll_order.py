"""The Kafka consumer's poll shortcuts (speed) keep the documented behaviour: a poll takes
the candidate partitions (the set bits of `_bits`) in turn from `sorted(assignment)[turn %
n]`, whichever branch picks them (one, two, a few or many candidates), and each assigned
partition has exactly one waiter of the consumer or is among those it watches again at its
next wait."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.brokers.kafka.consumer import KafkaConsumer
from sim.scenario import Scenario

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads


def test_polls_take_the_candidates_in_turn_order(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {"pairs": 0, "few": 0}
    poll = KafkaConsumer.poll

    def checked(self: KafkaConsumer, max_records: int | None = None) -> list[Any]:
        epoch_same = self.cluster.epoch == self._epoch
        order, turn = list(self._order), self._turn
        maybe = {tp for index, tp in enumerate(order) if self._bits >> index & 1}
        found = poll(self, max_records)
        if not order or not epoch_same or not found:
            return found
        start = turn % len(order)
        reference = [tp for tp in order[start:] + order[:start] if tp in maybe]
        taken: list[Any] = []
        for record in found:
            tp = (record.topic, record.partition)
            if tp not in taken:
                taken.append(tp)
        # The partitions read come in the reference's order (a subsequence of it).
        positions = [reference.index(tp) for tp in taken]
        assert positions == sorted(positions)
        if len(maybe) == 2 and len(taken) == 2:
            seen["pairs"] += 1
        elif len(taken) > 2:
            seen["few"] += 1
        return found

    monkeypatch.setattr(KafkaConsumer, "poll", checked)
    data = workloads.mm1("kafka", 4000, partitions=100, consumer={"max.poll.records": 5})
    sim.run(Scenario.from_dict(data))
    assert seen["pairs"] > 0  # polls of two candidates read both
    assert seen["few"] > 0


def test_each_assigned_partition_is_watched_once_or_to_be_watched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through rebalances (three consumers joining), at every wait: a partition holds at most
    one waiter of the consumer, and an assigned partition without one is in `_unwatched`."""
    checks = [0]
    wait = KafkaConsumer.wait

    def checked(self: KafkaConsumer, timeout: float | None = None) -> Any:
        event = wait(self, timeout)
        for tp in self._assignment:
            partition = self.cluster.partition(*tp)
            mine = [w for w in partition.waiters if getattr(w, "func", None).__self__ is self]
            assert len(mine) <= 1
            assert (len(mine) == 1) != (tp in self._unwatched)
            checks[0] += 1
        return event

    monkeypatch.setattr(KafkaConsumer, "wait", checked)
    sim.run(Scenario.from_dict(workloads.mm1("kafka", 1500, partitions=12, consumers=3)))
    assert checks[0] > 300
