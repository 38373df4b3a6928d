"""What a held message costs (issue 17: a 10,000,000-message backlog under 2 GB).

A backlog held at the broker (benchmarks/workloads.py `backlog`) must cost no more per
message than the objects each broker is designed to keep for it; benchmarks/bytes_by_site.py
shows where they go. The budgets below are those objects' sizes as tracemalloc counts them
(a Message of 18 slots 176 bytes, its id 28, its `produced_at` 24), plus 10% for the
containers' growth: a model that makes one more object a held message (a float for "never
expires", an int counter, a tuple per entry) goes over.
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest
import simpy

from sim.brokers.rabbitmq.broker import RabbitMQBroker
from sim.message import NEVER, Message

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bytes_by_site import measured_when_held

MESSAGE = 176 + 28 + 24  # the Message, its id, its produced_at (the clock's float)

# What each broker keeps for a held message besides the Message (tracemalloc's sizes).
HELD = {
    "rabbitmq": 8,  # a pointer in the queue's deque
    "sqs": 160 + 28 + 28 + 8 + 8 + 40,  # Entry, its seq, MessageId number, arrivals,
    # the visible heap's pointer, the entries dict's slot
    "redis": 64 + 28 + 48 + 3 * 8,  # the stream id tuple and its seq, the copies tuple, listpack
    "kafka": 104 + 28 + 48 + 8,  # Record, its offset, the copies tuple, the segment's list
    "pulsar": 128 + 96 + 64 + 48 + 2 * 28 + 2 * 8,  # Entry, Record, copies list, the
    # messages tuple, the entry's index and cumulative count, the entries and times lists
}


def _held_bytes(broker: str, messages: int) -> tuple[int, int]:
    """Traced bytes at the end of a held backlog of `messages`, and the backlog held."""
    return measured_when_held(broker, messages, lambda: tracemalloc.get_traced_memory()[0])


@pytest.mark.parametrize("broker", sorted(HELD))
def test_a_held_message_costs_only_what_the_broker_keeps_for_it(broker: str) -> None:
    small, held_small = _held_bytes(broker, 5_000)
    large, held_large = _held_bytes(broker, 15_000)
    per_message = (large - small) / (held_large - held_small)
    assert per_message <= 1.1 * (MESSAGE + HELD[broker]), f"{broker}: {per_message:.0f} B/msg"


def test_messages_share_one_infinity_and_copies_keep_it() -> None:
    first, second = Message(1, 0.0), Message(2, 0.5)
    assert first.expires_at is NEVER and second.expires_at is NEVER
    assert first.copy().expires_at is NEVER


def test_a_classic_queue_keeps_arrival_order_whatever_the_ids() -> None:
    """Arrival numbers reuse the message id when it is above the last one given: ids out of
    order still give increasing numbers, so requeued messages go back in arrival order."""
    broker = RabbitMQBroker(simpy.Environment())
    queue = broker.queue_declare("q", durable=True)
    ids = [5, 3, 4, 10, 7]
    for n in ids:
        broker.publish(Message(n, 0.0), "", "q")
    numbers = [m.seq for m in queue._fresh]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert queue._fresh[0].seq is queue._fresh[0].id  # no int of its own when in order
    taken = [queue.basic_get(), queue.basic_get(), queue.basic_get()]
    assert [m.id for m in taken if m is not None] == [5, 3, 4]
    for msg in reversed(taken):  # returned newest first: they still come back oldest first
        assert msg is not None
        queue._return(msg, closing=False)
    again = [queue.basic_get() for _ in ids]
    assert [m.id for m in again if m is not None] == ids
