"""What a held message costs (issue 17: a 10,000,000-message backlog under 2 GB).

A backlog held at the broker (benchmarks/workloads.py `backlog`) must cost no more per
message than the objects each broker is designed to keep for it; benchmarks/bytes_by_site.py
shows where they go. The budgets below are those objects' sizes as tracemalloc counts them
(a scenario producer's BareMessage of 8 slots 96 bytes, RabbitMQ's LeanAmqpMessage of 12
slots 128, its id 28, its `produced_at` 24), plus 10% for the containers' growth: a model that makes
one more object a held message (a float for "never expires", an int counter, a tuple per
entry) goes over.
"""

from __future__ import annotations

import sys
import tracemalloc
from itertools import pairwise
from pathlib import Path

import pytest
import simpy

from sim.brokers.kafka.log import MSG_ONLY
from sim.brokers.rabbitmq.broker import RabbitMQBroker
from sim.message import (
    NEVER,
    AmqpMessage,
    BareMessage,
    LeanAmqpMessage,
    Message,
    amqp_message_class,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bytes_by_site import measured_when_held

# The message, its id, its produced_at (the clock's float): RabbitMQ's producers make an
# LeanAmqpMessage (12 slots: no keys, TTL, retries or services), the others a BareMessage (8).
AMQP_MESSAGE = 128 + 28 + 24
BARE_MESSAGE = 96 + 28 + 24
MESSAGE = {"rabbitmq": AMQP_MESSAGE}

# What each broker keeps for a held message besides the Message (tracemalloc's sizes).
HELD = {
    "rabbitmq": 8,  # a pointer in the queue's deque
    "sqs": 3 * 8,  # a fresh message has no Entry (its arrival and MessageId numbers are
    # the message's id): the fresh list's pointer, its sent time's, and arrivals' (the same
    # float as its produced_at)
    "redis": 8 + 8 + 1,  # a packed node: its id in the keys array, the values list's
    # pointer, its deleted flag in a bytearray (a one-group stream's entry is the message
    # itself, no copies tuple)
    "kafka": 8 + 1,  # a settled record (log.py, SettledRecord): the segment's list's
    # pointer to the message and its claims byte (no Record, no offset int: its place)
    "pulsar": 152 + 48 + 28 + 2 * 8,  # Entry (its own record; one group: no list of
    # copies), the messages tuple, the entry's index (its cumulative count is the next
    # entry's index and the message's id, one int), the entries and times lists
}


def _held_bytes(broker: str, messages: int) -> tuple[int, int]:
    """Traced bytes at the end of a held backlog of `messages`, and the backlog held."""
    return measured_when_held(broker, messages, lambda: tracemalloc.get_traced_memory()[0])


@pytest.mark.parametrize("broker", sorted(HELD))
def test_a_held_message_costs_only_what_the_broker_keeps_for_it(broker: str) -> None:
    small, held_small = _held_bytes(broker, 5_000)
    large, held_large = _held_bytes(broker, 15_000)
    per_message = (large - small) / (held_large - held_small)
    budget = MESSAGE.get(broker, BARE_MESSAGE) + HELD[broker]
    assert per_message <= 1.1 * budget, f"{broker}: {per_message:.0f} B/msg"


def test_lighter_messages_copy_what_they_hold_and_read_the_rest_as_a_full_one() -> None:
    full = Message(7, 1.5, 100, "k")
    bare = BareMessage(7, 1.5, 100, "k")
    bare.headers = {"a": 1}
    twin = bare.copy()
    assert type(twin) is BareMessage and twin.headers == {"a": 1}
    assert twin.headers is not bare.headers
    for name in ("kind", "body", "routing_key", "exchange", "priority", "persistent", "ttl"):
        assert getattr(bare, name) == getattr(full, name), name
    assert bare.expires_at is NEVER and bare.seq == 0 and not bare.redelivered
    with pytest.raises(AttributeError):
        bare.exchange = "x"  # not a slot: a broker that writes it names its own class
    assert amqp_message_class(0, False) is AmqpMessage
    fixed = amqp_message_class(-1, True)
    assert fixed is amqp_message_class(-1, True)  # one class a producer's constants
    msg = fixed(3, 0.0)
    msg.routing_key, msg.ttl = "rk", 2.0
    copy = msg.copy()
    assert type(copy) is fixed and (copy.priority, copy.persistent) == (-1, True)
    assert (copy.routing_key, copy.ttl, copy.id) == ("rk", 2.0, 3)
    with pytest.raises(AttributeError):
        msg.priority = 2
    lean = amqp_message_class(0, True, lean=True)(4, 0.0)
    assert isinstance(lean, LeanAmqpMessage) and lean.persistent and lean.key is None
    lean.exchange, lean.routing_key = "x", "rk"
    twin = lean.copy()
    assert type(twin) is type(lean) and (twin.exchange, twin.routing_key) == ("x", "rk")
    assert twin.ttl is None
    with pytest.raises(AttributeError):
        lean.ttl = 1.0  # a producer whose messages may get a TTL makes AmqpMessages


def test_a_kafka_record_read_by_one_group_keeps_only_the_shared_marker() -> None:
    from sim.brokers.kafka.log import PartitionLog

    log = PartitionLog(1e9, 1e9)
    (record,) = log.append([(BareMessage(1, 0.5), None, 10, False)], 0.5)
    assert record.timestamp == 0.5 and record.copy_in(0) is None
    record.copies = MSG_ONLY
    assert record.copy_in(0) is record.msg and record.copy_in(1) is None


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


def test_a_pulsar_entry_keeps_its_count_as_the_next_index_and_the_message_id() -> None:
    """A topic of one-message entries, every message of the run: an entry's cumulative count,
    the next entry's index and the message's id are one int object (equal values)."""
    from tests.pulsar_helpers import Pulsar

    p = Pulsar()
    p.client.subscribe("t", "s", "Shared")
    topic = p.topic()
    big = 10**6  # past the small ints Python shares anyway
    first = topic.store_at_once((BareMessage(big + 1, 0.0),), 0, None, 0.0)
    second = topic.store_at_once((BareMessage(big + 2, 0.0),), 0, None, 0.0)
    assert first is not None and second is not None
    assert (first.index, first.cum_count, second.index) == (0, 1, 1)
    assert first.cum_count is second.index
    topic.storage.ledger.next_entry = topic.storage.total_count = big + 2  # (ids from 1)
    third = topic.store_at_once((BareMessage(big + 3, 0.0),), 0, None, 0.0)
    assert third is not None and third.cum_count == big + 3
    assert third.cum_count is third.msgs[0].id is topic.storage.ledger.next_entry


def test_a_pulsar_entry_appended_to_storage_shares_its_ints_too() -> None:
    """`TopicStorage.append` (every entry past the fused path's bounds, e.g. beyond a ledger's
    50,000 entries while it is too young to roll): the same sharing."""
    from sim.brokers.pulsar.ledgers import LedgerConfig
    from sim.brokers.pulsar.storage import Entry, TopicStorage

    storage = TopicStorage(LedgerConfig(3, 0, 240, 2048), 0.0, 0.0)  # three entries a ledger
    big = 10**6
    storage.ledger.next_entry = storage.total_count = big  # (ids from 1, entries from 0)
    entries = []
    for i in range(5):
        entry = Entry((BareMessage(big + 1 + i, 0.0),), 0, None, 0.0, 0)
        storage.append(entry, float(i))
        entries.append(entry)
    for first, second in pairwise(entries):
        assert first.cum_count == second.index
        assert first.cum_count is second.index is first.msgs[0].id
    assert [e.index for e in entries] == list(range(big, big + 5))
