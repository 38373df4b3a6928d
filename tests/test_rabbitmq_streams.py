"""RabbitMQ streams in the model (sim/brokers/rabbitmq/stream.py) beyond what the recorded traces
show (tests/conformance/test_rabbitmq_streams.py replays those): retention in whole segments,
offsets by time, copies per reader and conservation, readers after a crash, the 4.x settle rules,
and the scenario checks. Retention is not in the recordings (it depends on the broker's on-disk
encoding); its rules are osiris's (osiris_log.erl eval_max_bytes/2, eval_age/2)."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from sim import Scenario, run
from sim.brokers.rabbitmq import Channel, RabbitMQBroker
from sim.brokers.rabbitmq.errors import NotImplementedByQueue, PreconditionFailed
from sim.brokers.rabbitmq.stream import (
    CHUNK_HEADER_BYTES,
    ENTRY_HEADER_BYTES,
    RETENTION_EVAL_INTERVAL,
    SEGMENT_HEADER_BYTES,
    StreamQueue,
    parse_max_age,
)
from sim.errors import ScenarioError
from sim.message import Message

BODY = 100  # bytes per published body in these tests
ENTRY = CHUNK_HEADER_BYTES + ENTRY_HEADER_BYTES + BODY  # one single-message chunk on disk


class Reader:
    """A channel consuming a stream, recording (body, offset) of each delivery."""

    def __init__(self, broker: RabbitMQBroker, name: str, offset: Any, prefetch: int = 100):
        self.channel = Channel(broker, name)
        self.channel.basic_qos(prefetch_count=prefetch)
        self.got: list[tuple[Any, int]] = []
        self.tags: list[int] = []
        self.channel.basic_consume(
            "s", self.on_message, consumer_tag=name, arguments={"x-stream-offset": offset}
        )

    def on_message(self, channel: Channel, method: Any, msg: Message, body: Any) -> None:
        self.got.append((body, msg.headers["x-stream-offset"]))
        self.tags.append(method.delivery_tag)


def _stream(version: str = "4.2", **arguments: Any) -> tuple[simpy.Environment, Channel, Any]:
    env = simpy.Environment()
    broker = RabbitMQBroker(env, version=version)
    admin = Channel(broker, "admin")
    # In confirm mode the script waits for each confirm, which a stream sends once the
    # message's chunk is written: every publish here is a chunk of its own.
    admin.confirm_delivery()
    admin.queue_declare("s", durable=True, arguments={"x-queue-type": "stream", **arguments})
    return env, admin, broker


def _publish(admin: Channel, *bodies: str) -> None:
    for body in bodies:
        admin.basic_publish("", "s", body.ljust(BODY).encode())


def _bodies(reader: Reader) -> list[str]:
    return [body.decode().strip() for body, _ in reader.got]


# ----- retention -----


def test_max_bytes_deletes_whole_segments_from_the_front_and_keeps_the_newest() -> None:
    # Segments close at 3 entries (header + 3 * ENTRY reaches the size); retention keeps the
    # newest segment and the older ones that fit in what is left of two segments' bytes.
    segment = SEGMENT_HEADER_BYTES + 3 * ENTRY
    _env, admin, broker = _stream(
        **{"x-stream-max-segment-size-bytes": segment, "x-max-length-bytes": 2 * segment}
    )
    stream: StreamQueue = broker.queues["s"]
    _publish(admin, *(f"m{i}" for i in range(4)))  # the 4th opens segment 2: both fit
    assert (stream.first, stream.segment_count) == (0, 2)
    _publish(admin, *(f"m{i}" for i in range(4, 7)))  # m6 opens segment 3: the first goes
    assert (stream.first, stream.segment_count) == (3, 2)
    _publish(admin, "m7", "m8", "m9")  # m9 opens segment 4: segment 2 (m3-m5) goes, whole
    assert (stream.first, stream.segment_count, stream.length) == (6, 2, 4)
    late = Reader(broker, "late", "first")
    assert _bodies(late) == ["m6", "m7", "m8", "m9"]
    assert [offset for _, offset in late.got] == [6, 7, 8, 9]  # offsets never change


def test_the_segment_being_written_is_never_deleted_even_over_the_limit() -> None:
    _env, admin, broker = _stream(
        **{"x-stream-max-segment-size-bytes": 10**9, "x-max-length-bytes": ENTRY}
    )
    _publish(admin, *(f"m{i}" for i in range(50)))  # one segment, 50 times over the limit
    assert broker.queues["s"].length == 50  # retention only runs when a segment closes


def test_max_age_deletes_old_segments_at_the_next_roll_and_every_hour() -> None:
    segment = SEGMENT_HEADER_BYTES + 2 * ENTRY
    env, admin, broker = _stream(**{"x-stream-max-segment-size-bytes": segment, "x-max-age": "10m"})
    stream: StreamQueue = broker.queues["s"]
    _publish(admin, "m0", "m1")
    env.run(until=20 * 60)  # the first segment is 20 minutes old, but full and untouched
    _publish(admin, "m2")  # a roll: retention runs, the old segment goes
    assert (stream.first, stream.length) == (2, 1)
    _publish(admin, "m3")
    env.run(until=20 * 60 + 5)
    _publish(admin, "m4")  # another roll, the segment of m2, m3 is young: kept
    assert stream.first == 2
    # No more publishing: the hourly evaluation (osiris_retention) deletes it anyway.
    env.run(until=20 * 60 + 5 + RETENTION_EVAL_INTERVAL + 1)
    assert stream.first == 4 and stream.length == 1


def test_max_age_reads_rabbitmqs_units() -> None:
    assert parse_max_age("7D") == 7 * 86400
    assert parse_max_age("1Y") == 365 * 86400 and parse_max_age("2M") == 60 * 86400
    assert parse_max_age("90s") == 90 and parse_max_age("3h") == 3 * 3600
    for bad in ("0s", "10", "5w", "h", "-1h"):
        with pytest.raises(PreconditionFailed):
            parse_max_age(bad)


# ----- offsets by time -----


def test_a_timestamp_or_an_interval_starts_at_the_first_entry_written_then() -> None:
    env, admin, broker = _stream()
    for i in range(5):
        env.run(until=10 * (i + 1))
        _publish(admin, f"m{i}")  # m0 at 10 s, m1 at 20 s ... m4 at 50 s
    assert _bodies(Reader(broker, "t", ("timestamp", 25))) == ["m2", "m3", "m4"]
    assert _bodies(Reader(broker, "i", "30s")) == ["m1", "m2", "m3", "m4"]  # 50 s: from 20 s
    assert _bodies(Reader(broker, "late", ("timestamp", 99))) == []  # after everything


# ----- readers, copies and conservation in a run -----


def _scenario(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "stream",
        "duration": 30,
        "broker": {"type": "rabbitmq", "queues": [{"name": "log", "type": "stream"}]},
        "producers": [{"name": "p", "to": "log", "rate": 20, "arrivals": "constant"}],
        "consumers": [
            {
                "name": "readers",
                "from": "log",
                "replicas": 3,
                "prefetch": 5,
                "stream_offset": "first",
                "service_time": "5ms",
            }
        ],
    }
    for key, value in overrides.items():
        data[key] = value
    return data


def test_every_replica_reads_everything_and_each_read_is_a_copy() -> None:
    result = run(Scenario.from_dict(_scenario()))
    s = result.summary
    assert s["processed_by"] == {f"readers.{i}": s["produced"] for i in range(3)}
    assert s["copies"] == 2 * s["produced"]  # the first reader takes the message itself
    assert s["duplicates"] == 0 and result.conservation_gap() == 0
    assert result.timeseries["retained.log"].iloc[-1] == s["produced"]  # nothing removed


def test_a_crashed_reader_resumes_after_what_it_settled_and_rereads_what_it_held() -> None:
    data = _scenario(
        faults=[{"target": "readers.1", "kind": "crash", "start": 10, "end": 12}],
    )
    # 5 per second for 20 offered: every reader lags and holds its whole prefetch (5).
    data["consumers"][0]["service_time"] = "200ms"
    s = run(Scenario.from_dict(data)).summary
    # It goes on after its last settled offset, so what it held unsettled (the one in work
    # and its prefetch) is sent to it again; nothing is skipped or processed twice.
    assert s["lost"] == 0 and s["duplicates"] == 0
    assert 1 <= s["redelivered"] <= 5
    ahead = s["processed_by"]["readers.0"] - s["processed_by"]["readers.1"]
    assert 2 * 5 - 5 <= ahead <= 2 * 5 + 1  # the 2 s it was down, at 5 per second


def test_retention_ends_unread_copies_as_expired() -> None:
    data = _scenario()
    data["broker"]["queues"][0].update(max_length_bytes=20_000, max_segment_size_bytes=5_000)
    data["producers"][0]["message_size"] = 100
    data["consumers"][0].update(replicas=1, service_time="100ms")  # 10/s for 20/s: behind
    result = run(Scenario.from_dict(data))
    s = result.summary
    assert s["expired"] > 0 and result.conservation_gap() == 0
    assert s["processed"] + s["expired"] + s["backlog_at_end"] == s["produced"]
    assert result.timeseries["retained.log"].max() * (100 + 52) < 20_000 + 5_000 + 200


def test_a_consumer_that_starts_later_replays_from_first() -> None:
    data = _scenario()
    data["consumers"][0]["replicas"] = 1
    data["consumers"].append(
        {"name": "replay", "from": "log", "prefetch": 50, "stream_offset": "first", "start": 20}
    )
    s = run(Scenario.from_dict(data)).summary
    assert s["processed_by"]["replay"] == s["processed_by"]["readers"] == s["produced"]


def test_on_4x_a_failed_delivery_only_gives_credit_and_its_copy_is_dropped() -> None:
    data = _scenario()
    data["consumers"][0].update(replicas=1, nack_probability=0.2)
    result = run(Scenario.from_dict(data))
    s = result.summary
    assert s["dropped"] > 0 and s["redelivered"] == 0  # nothing comes back
    assert s["processed"] + s["dropped"] == s["produced"] and result.conservation_gap() == 0


def test_on_3_10_nack_on_a_stream_closes_the_channel() -> None:
    _env, admin, broker = _stream(version="3.10")
    _publish(admin, "m0", "m1")
    reader = Reader(broker, "r", "first", prefetch=1)
    with pytest.raises(NotImplementedByQueue):
        reader.channel.basic_nack(reader.tags[0])
    assert not reader.channel.is_open and broker.queues["s"].unacked == 0
    # 4.x: a nack is a settle like any other: the next entry comes, nothing is redelivered.
    _env, admin, broker = _stream(version="4.2")
    _publish(admin, "m0", "m1")
    reader = Reader(broker, "r", "first", prefetch=1)
    reader.channel.basic_nack(reader.tags[0], requeue=True)
    assert _bodies(reader) == ["m0", "m1"]


@pytest.mark.parametrize(
    ("consumer", "broker", "where"),
    [
        ({"prefetch": 0}, {}, "prefetch"),
        ({"ack": "auto"}, {}, "ack"),
        ({"nack_probability": 0.1}, {"version": "3.10"}, "nack_probability"),
    ],
)
def test_a_scenario_refuses_what_a_stream_refuses(
    consumer: dict[str, Any], broker: dict[str, Any], where: str
) -> None:
    data = _scenario()
    data["consumers"][0].update(consumer)
    data["broker"].update(broker)
    with pytest.raises(ScenarioError, match=where):
        Scenario.from_dict(data)


def test_stream_offset_needs_a_stream_and_streams_refuse_queue_arguments() -> None:
    data = _scenario()
    data["broker"]["queues"].append({"name": "q", "durable": True})
    data["consumers"][0]["from"] = "q"
    with pytest.raises(ScenarioError, match="not a stream"):
        Scenario.from_dict(data)
    data = _scenario()
    data["broker"]["queues"][0]["max_length"] = 10
    with pytest.raises(ScenarioError, match="not supported by stream queues"):
        Scenario.from_dict(data)


def test_the_stream_vs_queue_scenario_shows_shared_work_copies_and_a_replay() -> None:
    from sim import load_scenario
    from tests.helpers import ROOT

    result = run(load_scenario(ROOT / "scenarios" / "rabbitmq_stream_vs_queue.yaml"))
    s, by = result.summary, result.summary["processed_by"]
    produced = s["produced"]
    billing = [by[f"billing.{i}"] for i in range(3)]
    # The queue's work is shared (each order once; the last few are still in hand at the end);
    # every stream reader reads every order.
    assert produced - 3 * 10 <= sum(billing) <= produced and max(billing) < produced / 2
    assert all(produced - 50 <= by[f"analytics.{i}"] <= produced for i in range(3))
    # fraud-v2 starts after 2 min from `first`: what retention kept (6 MB of 1 KB entries),
    # then everything after it.
    replayed = by["fraud-v2"]
    assert produced / 2 < replayed < produced
    assert result.timeseries["retained.order-events"].max() * 1024 < 7 * 1024 * 1024
    assert result.conservation_gap() == 0 and s["lost"] == 0
