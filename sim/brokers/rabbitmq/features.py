"""What the RabbitMQ model covers, per version, for the feature table (docs/features.md)."""

from __future__ import annotations

from sim.brokers.base import Feature

__all__ = ["FEATURES"]

_ALL = "3.10, 4.0-4.3"
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
        "basic.get of a message never returned: x-delivery-count 0 on 3.10 (recorded), "
        "no header on 4.x (rabbit_fifo_client.erl add_delivery_count_header/2)",
    ),
    Feature(
        "Quorum queue default delivery limit 20 (-1: none)",
        "4.0-4.3",
        "modelled",
        "4.0.1 release notes; rabbit_quorum_queue.erl DEFAULT_DELIVERY_LIMIT",
        "3.10: no limit unless set",
    ),
    Feature(
        "Quorum queue message priorities: two levels (above 4 high) at 2:1",
        "4.0-4.2",
        "modelled",
        f"{_DOCS}/quorum-queues#priorities; rabbit_fifo_q.erl (WEIGHT 2, next/1)",
        "3.10 ignores priorities",
    ),
    Feature(
        "Quorum queue message priorities: strict, 0-31, none is 4",
        "4.3",
        "modelled",
        "4.3.0 release notes; rabbit_fifo_pq.erl; rabbit_fifo.erl msg_priority/1",
    ),
    Feature(
        "Delivery limit on the delivery-count: basic.reject and closed channels count, "
        "basic.nack and basic.recover do not; x-acquired-count",
        "4.3",
        "modelled",
        "4.3.0 release notes; rabbit_channel.erl basic.nack/basic.reject; "
        "rabbit_fifo.erl incr_msg_headers/3",
        "consumer option fail_with: basic.nack | basic.reject",
    ),
    Feature(
        "Transient non-exclusive queues refused (deprecated feature transient_nonexcl_queues)",
        "4.3",
        "modelled",
        "4.3.0 release notes, 'Deprecated Features are Now Disabled by Default'",
        "broker option permit_transient_queues",
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
        "last and timestamps by chunk; on 3.10 a reader is sent whole chunks past its credit",
    ),
    Feature(
        "Streams: the writer writes the publishes waiting for it as one chunk",
        _ALL,
        "modelled",
        "osiris_writer.erl handle_batch/2; gen_batch_server.erl loop_batched/2 "
        "(batch size 32 doubling to 8192); rabbit_stream_queue.erl deliver0/4",
        "ideal broker: one instant's publishes share a chunk; with cost: a writer time "
        "per message and per chunk",
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
        "4.0-4.3",
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
        "Quorum queue delayed retry: x-delayed-retry-type all/failed/returned, -min, -max",
        "4.3",
        "modelled",
        "4.3.0 release notes; rabbit_fifo.erl should_delay0/4, calculate_ready_at/4; "
        "rabbit_quorum_queue.erl get_delayed_retry_config/1",
        "held min(min * delivery-count, max); off unless set; no policies",
    ),
    Feature(
        "Consumer timeout on the channel: 406 PRECONDITION_FAILED at a 60 s tick, all queue types",
        "3.10, 4.0-4.2",
        "modelled",
        "rabbit_channel.erl evaluate_consumer_timeout/1; deps/rabbit/Makefile "
        "consumer_timeout 1800000, channel_tick_interval 60000",
        "broker option consumer_timeout (ms); 4.x also the queue's consumer_timeout",
    ),
    Feature(
        "Consumer timeout in quorum queues: timed-out deliveries returned uncounted, "
        "basic.cancel; classic queues and streams never time out",
        "4.3",
        "modelled",
        "4.3.0 release notes; rabbit_fifo.erl evaluate_consumer_timeout; "
        "rabbit_channel.erl handle_queue_actions released",
        "x-consumer-timeout per queue; the consumer argument and consumer_disconnected_timeout "
        "are not modelled",
    ),
)
