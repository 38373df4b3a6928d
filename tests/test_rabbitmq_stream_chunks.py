"""Chunks in RabbitMQ streams (sim/brokers/rabbitmq/stream_writer.py, stream.py): which publishes
the writer puts in one chunk, and what chunks change for readers and retention.

Expectations come from the rules the model cites: osiris_writer:handle_batch/2 writes a batch
as one chunk; gen_batch_server's batch size starts at 32, doubles after a full batch (up to
8192) and halves after one that emptied the mailbox; before 4.0 rabbit_stream_queue reads whole
chunks while credit is positive, from 4.0 one entry per credit; osiris_log rolls segments
between chunks and deletes whole segments.
"""

from __future__ import annotations

from typing import Any

import simpy

from sim import Scenario, run
from sim.brokers.rabbitmq import Channel, CostModel, RabbitMQBroker
from sim.brokers.rabbitmq.stream import (
    CHUNK_HEADER_BYTES,
    ENTRY_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
    StreamQueue,
)
from sim.brokers.rabbitmq.stream_writer import MAX_BATCH_SIZE, MIN_BATCH_SIZE
from sim.message import Message

BODY = 100  # bytes per body
ENTRY = ENTRY_HEADER_BYTES + BODY  # one entry inside a chunk


class Reader:
    """A channel consuming the stream `s`: the offsets it was sent, when, and their tags."""

    def __init__(self, broker: RabbitMQBroker, name: str, offset: Any, prefetch: int = 1000):
        self.env = broker.env
        self.channel = Channel(broker, name)
        self.channel.basic_qos(prefetch_count=prefetch)
        self.offsets: list[int] = []
        self.times: list[float] = []
        self.tags: list[int] = []
        self.channel.basic_consume(
            "s", self.on_message, consumer_tag=name, arguments={"x-stream-offset": offset}
        )

    def on_message(self, channel: Channel, method: Any, msg: Message, body: Any) -> None:
        self.offsets.append(msg.headers["x-stream-offset"])
        self.times.append(self.env.now)
        self.tags.append(method.delivery_tag)


def _stream(
    cost: CostModel | None = None, version: str = "4.2", **arguments: Any
) -> tuple[Channel, StreamQueue]:
    broker = RabbitMQBroker(simpy.Environment(), cost=cost, version=version)
    publisher = Channel(broker, "publisher")  # no confirm mode: publishes do not wait
    publisher.queue_declare("s", durable=True, arguments={"x-queue-type": "stream", **arguments})
    stream = broker.queues["s"]
    assert isinstance(stream, StreamQueue)
    return publisher, stream


def _burst(publisher: Channel, count: int) -> None:
    for _ in range(count):
        publisher.basic_publish("", "s", b"x" * BODY)


def _chunk_sizes(stream: StreamQueue) -> list[int]:
    """Entries per chunk in the log, from each entry's chunk id (its chunk's first offset)."""
    sizes: list[int] = []
    chunk = None
    for entry in stream._log:
        if entry.chunk != chunk:
            chunk = entry.chunk
            sizes.append(0)
        sizes[-1] += 1
    return sizes


def test_a_burst_of_one_instant_is_one_chunk_with_one_header() -> None:
    publisher, stream = _stream()
    _burst(publisher, 20)
    assert stream.chunks == 1
    assert _chunk_sizes(stream) == [20]
    assert stream.bytes == SEGMENT_HEADER_BYTES + CHUNK_HEADER_BYTES + 20 * ENTRY


def test_publishes_at_different_instants_are_one_chunk_each() -> None:
    publisher, stream = _stream()
    env = stream.env
    for i in range(5):
        env.run(until=i + 1)
        _burst(publisher, 1)
    assert _chunk_sizes(stream) == [1] * 5
    assert stream.bytes == SEGMENT_HEADER_BYTES + 5 * (CHUNK_HEADER_BYTES + ENTRY)


def test_a_publisher_that_waits_for_each_confirm_writes_a_chunk_per_message() -> None:
    """A stream confirms once the chunk is written, so a blocking publisher's next message
    reaches an idle writer (what the recorded traces show for `last`)."""
    publisher, stream = _stream()
    publisher.confirm_delivery()
    _burst(publisher, 4)
    assert _chunk_sizes(stream) == [1, 1, 1, 1]


def test_a_large_burst_splits_as_gen_batch_server_grows_its_batch() -> None:
    publisher, stream = _stream()
    env = stream.env
    _burst(publisher, 100)
    # 32 fill the first batch (size 32 -> 64), 64 the second (-> 128), 4 are left: the
    # mailbox empties (-> 64).
    assert _chunk_sizes(stream) == [32, 64, 4]
    env.run(until=1)
    _burst(publisher, 100)
    # At 64: 64 fill it (-> 128), 36 are left.
    assert _chunk_sizes(stream)[3:] == [64, 36]


def test_no_chunk_holds_more_than_the_max_batch_size() -> None:
    publisher, stream = _stream()
    _burst(publisher, 40_000)
    doubling = []
    size = MIN_BATCH_SIZE
    while size < MAX_BATCH_SIZE:
        doubling.append(size)
        size *= 2
    rest = 40_000 - sum(doubling)
    full, left = divmod(rest, MAX_BATCH_SIZE)
    assert _chunk_sizes(stream) == doubling + [MAX_BATCH_SIZE] * full + [left]


def test_on_3_10_a_reader_is_sent_a_whole_chunk_past_its_prefetch_then_waits() -> None:
    publisher, stream = _stream(version="3.10")
    env = stream.env
    reader = Reader(stream.broker, "r", "first", prefetch=2)
    _burst(publisher, 10)  # one chunk
    assert reader.offsets == list(range(10))  # all of it, though the prefetch is 2
    env.run(until=1)
    _burst(publisher, 5)  # the next chunk: no credit (10 unacknowledged)
    assert reader.offsets == list(range(10))
    for tag in reader.tags[:8]:
        reader.channel.basic_ack(tag)
    assert len(reader.offsets) == 10  # 2 unacknowledged: still no credit left
    reader.channel.basic_ack(reader.tags[8])
    assert reader.offsets == list(range(15))  # credit 1: the whole next chunk


def test_on_3_10_a_reader_mid_chunk_gets_the_rest_of_it_as_it_is_written() -> None:
    """On the ideal broker a chunk grows entry by entry within its instant; a reader that began
    it is sent the rest, as it would be sent the whole chunk at once."""
    publisher, stream = _stream(version="3.10")
    reader = Reader(stream.broker, "r", "next", prefetch=1)
    _burst(publisher, 6)
    assert reader.offsets == list(range(6))


def test_from_4_0_a_reader_gets_one_entry_per_credit_and_goes_on_mid_chunk() -> None:
    for version in ("4.0", "4.2"):
        publisher, stream = _stream(version=version)
        reader = Reader(stream.broker, "r", "first", prefetch=2)
        _burst(publisher, 10)  # one chunk
        assert reader.offsets == [0, 1]
        reader.channel.basic_ack(reader.tags[0])
        assert reader.offsets == [0, 1, 2]  # the next entry of the same chunk
        reader.channel.basic_ack(reader.tags[2], multiple=True)
        assert reader.offsets == [0, 1, 2, 3, 4]


def test_last_starts_at_the_first_entry_of_the_last_chunk() -> None:
    publisher, stream = _stream()
    env = stream.env
    _burst(publisher, 5)
    env.run(until=1)
    _burst(publisher, 3)
    reader = Reader(stream.broker, "r", "last")
    assert reader.offsets == [5, 6, 7]


def test_a_timestamp_finds_the_first_chunk_written_at_or_after_it() -> None:
    publisher, stream = _stream()
    env = stream.env
    env.run(until=10)
    _burst(publisher, 3)  # offsets 0-2 at 10 s
    env.run(until=20)
    _burst(publisher, 2)  # 3-4 at 20 s
    assert Reader(stream.broker, "a", ("timestamp", 15)).offsets == [3, 4]
    assert Reader(stream.broker, "b", ("timestamp", 10)).offsets == list(range(5))


def test_a_chunk_goes_whole_into_a_segment_and_retention_deletes_whole_segments() -> None:
    # A segment is full at 3 entries' worth, but a chunk of 5 goes whole into one segment:
    # every segment holds one chunk, over the limit.
    five = SEGMENT_HEADER_BYTES + CHUNK_HEADER_BYTES + 5 * ENTRY
    publisher, stream = _stream(
        **{
            "x-stream-max-segment-size-bytes": SEGMENT_HEADER_BYTES
            + CHUNK_HEADER_BYTES
            + 3 * ENTRY,
            # Just under two such segments: after each roll only the newest fits
            # (eval_max_bytes/2 counts the newest segment with its whole chunk).
            "x-max-length-bytes": 2 * five - 1,
        }
    )
    env = stream.env
    reader = Reader(stream.broker, "r", "first")
    for second in range(4):
        env.run(until=second + 1)
        _burst(publisher, 5)
    env.run(until=5)
    assert (stream.first, stream.segment_count, stream.bytes) == (15, 1, five)
    assert reader.offsets == list(range(20))  # it read each chunk before retention ran
    late = Reader(stream.broker, "late", "first")
    assert late.offsets == list(range(15, 20))


def test_with_a_writer_cost_publishes_arriving_while_it_works_share_the_next_chunk() -> None:
    # 5.5 ms per chunk, nothing per message; a publish every 2 ms from 0 to 18 ms.
    publisher, stream = _stream(CostModel(queue_rate=1e12, stream_chunk=0.0055))
    env = stream.env
    reader = Reader(stream.broker, "r", "first")

    def publish() -> Any:
        for _ in range(10):
            _burst(publisher, 1)
            yield env.timeout(0.002)

    env.process(publish())
    env.run(until=1)
    # The writer takes m0 at 0 and writes it at 5.5 ms; meanwhile the publishes of 2 and
    # 4 ms wait: the next chunk, at 11 ms; then those of 6, 8, 10 ms (16.5 ms), of 12, 14,
    # 16 ms (22 ms), and of 18 ms (27.5 ms).
    assert _chunk_sizes(stream) == [1, 2, 3, 3, 1]
    written = [0.0055, 0.011, 0.0165, 0.022, 0.0275]
    expected = [t for t, n in zip(written, [1, 2, 3, 3, 1], strict=True) for _ in range(n)]
    assert reader.offsets == list(range(10))
    assert all(abs(a - b) < 1e-9 for a, b in zip(reader.times, expected, strict=True))


def test_with_a_writer_cost_the_confirm_comes_when_the_chunk_is_written() -> None:
    _publisher, stream = _stream(CostModel(queue_rate=1000.0))  # 1 ms a message
    env = stream.env
    confirmed: list[float] = []
    for _ in range(3):
        msg = Message(next(stream.broker.message_ids), env.now, size=BODY)
        stream.broker.publish(msg, "", "s", on_confirm=lambda _c: confirmed.append(env.now))
    env.run(until=1)
    assert _chunk_sizes(stream) == [3]  # one instant, one batch: 3 ms of work
    assert confirmed == [0.003] * 3


def _load(rate: float) -> dict[str, Any]:
    return {
        "name": "chunks",
        "duration": 0.5,
        "seed": 3,
        "broker": {"type": "rabbitmq", "queues": [{"name": "s", "type": "stream"}], "cost": {}},
        "producers": [{"name": "p", "to": "s", "rate": rate}],
        "consumers": [{"name": "c", "from": "s", "prefetch": 100, "stream_offset": "first"}],
    }


def test_under_load_chunks_hold_many_messages_and_at_low_rates_one_each() -> None:
    """With the published cost model (20 us a message, 50,000 msg/s) a stream fed at 45,000
    msg/s keeps its writer 90% busy: publishes queue behind it and chunks grow; at 100 msg/s
    each publish finds it idle."""
    busy = run(Scenario.from_dict(_load(45_000))).tables["rabbitmq.streams"].iloc[0]
    idle = run(Scenario.from_dict(_load(100))).tables["rabbitmq.streams"].iloc[0]
    assert busy.entries / busy.chunks > 1.5
    assert idle.entries == idle.chunks
