"""What the RabbitMQ model covers, per version, for the feature table (docs/features.md)."""

from __future__ import annotations

from sim.brokers.base import Feature

__all__ = ["FEATURES"]

_ALL = "3.10, 4.0-4.2"
_DOCS = "https://www.rabbitmq.com/docs"

FEATURES: tuple[Feature, ...] = (
    Feature(
        "Exchanges: direct, fanout, topic, headers; the default exchange",
        _ALL,
        "modelled",
        "recorded: shared/conformance/rabbitmq/routing.json (3.10.8)",
    ),
    Feature(
        "Classic queues: round-robin dispatch with prefetch, requeue in place, recover",
        _ALL,
        "modelled",
        "recorded: shared/conformance/rabbitmq/delivery_traces.json (3.10.8)",
    ),
    Feature(
        "Max length and bytes with drop-head, reject-publish, reject-publish-dlx",
        _ALL,
        "modelled",
        "recorded: delivery_traces.json section (c)",
    ),
    Feature(
        "TTL (queue and per message, at the head), dead-letter exchanges, x-death",
        _ALL,
        "modelled",
        "recorded: delivery_traces.json section (d); rabbit_dead_letter.erl",
        "4.x no longer reads x-death on republished messages (4.0 release notes): "
        "scenarios never republish",
    ),
    Feature(
        "Classic priority queues (x-max-priority)",
        _ALL,
        "modelled",
        "recorded: tests/data/rabbitmq_extra_traces.json",
    ),
    Feature(
        "Quorum queues: returns, x-delivery-count, x-delivery-limit, reject-publish",
        _ALL,
        "modelled",
        "recorded: delivery_traces.json (quorum, quorum_dl); rabbit_fifo.erl return_one",
    ),
    Feature(
        "Quorum queue default delivery limit 20 (-1: none)",
        "4.0-4.2",
        "modelled",
        "4.0.1 release notes; rabbit_quorum_queue.erl DEFAULT_DELIVERY_LIMIT",
        "3.10: no limit unless set",
    ),
    Feature(
        "Quorum queue message priorities (two levels)",
        "4.0-4.2",
        "not modelled",
        "rabbit_fifo_q.erl",
        "priorities on a quorum queue are ignored",
    ),
    Feature(
        "Classic queue mirroring (ha-mode policies)",
        "3.10 (removed in 4.0)",
        "not modelled",
        "4.0.1 release notes, 'Classic Queues is Now a Non-Replicated Queue Type'",
        "one node; classic queues have one replica in every version",
    ),
    Feature(
        "Streams: offsets first/last/next/offset/timestamp/interval, credit, x-stream-offset",
        _ALL,
        "modelled",
        "recorded: tests/data/rabbitmq_stream_traces.json (3.10.8); "
        "rabbit_stream_queue.erl parse_offset_arg",
        "one message per chunk",
    ),
    Feature(
        "Streams: retention by x-max-length-bytes and x-max-age in whole segments",
        _ALL,
        "modelled",
        "osiris_log.erl eval_max_bytes, eval_age, max_segment_size_reached",
        "chunk bytes: 48-byte header + 4 + body, not the AMQP 1.0 encoding",
    ),
    Feature(
        "Streams: basic.nack / basic.reject only give credit",
        "4.0-4.2",
        "modelled",
        "rabbit_stream_queue.erl settle/5",
        "3.10 closes the connection (NOT_IMPLEMENTED), recorded",
    ),
    Feature(
        "Stream protocol, server-side offset tracking, super streams, filtering",
        _ALL,
        "not modelled",
        f"{_DOCS}/streams",
        "AMQP 0-9-1 clients only; a consumer resumes after its last settled offset",
    ),
    Feature(
        "Publisher confirms, mandatory returns, durable queues and persistent messages",
        _ALL,
        "modelled",
        f"{_DOCS}/confirms; {_DOCS}/queues#durability",
    ),
    Feature(
        "RabbitMQ 4.3 (delivery limit on delivery-count, strict priorities, delayed retry, "
        "transient non-exclusive queues refused)",
        "4.3",
        "not modelled",
        "4.3.0 release notes",
        "broker.version stops at 4.2",
    ),
)
